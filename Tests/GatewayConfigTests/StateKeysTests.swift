// The [translator] keys for the RFC 6146 state: pool4 port ranges (S3), mode and maps (S10), filtering (S2),
// limits (S6, S9), state-dir.
import NAT64Translator
import Testing

@testable import GatewayConfig

@Suite struct StateKeysTests {
    @Test("S3 S2 S9 S10: state keys parse into the core's StateConfiguration")
    func stateKeys() throws {
        let text = """
            [translator]
            prefix = "64:ff9b::/96"
            pool4 = ["192.0.2.1 1024-2047", "192.0.2.4/31"]
            mode = "pool"
            filtering = "address-dependent"
            map = ["2001:db8:1::50 198.51.100.50"]
            eam = ["2001:db8:2::/120 203.0.113.0/24"]
            max-sessions-per-host = 10
            max-held-syns = 0
            state-dir = "/var/lib/nat64d"

            [gateway]
            ipv4 = "198.51.100.1"
            ipv6 = "2001:db8:1::1"
            """
        let t = try GatewayConfiguration.parse(text, file: "t.toml").translator
        #expect(t.pool4Addresses == [IPv4Address(192, 0, 2, 1), IPv4Address(192, 0, 2, 4), IPv4Address(192, 0, 2, 5)])
        let s = t.stateConfiguration
        #expect(s.mode == .pool && s.filtering == .addressDependent)
        #expect(s.portRanges == [Pool4Entry(address: IPv4Address(192, 0, 2, 1), ports: 1024...2047),
                                 Pool4Entry(address: IPv4Address(192, 0, 2, 4)), Pool4Entry(address: IPv4Address(192, 0, 2, 5))])
        #expect(s.staticMappings == [StaticMapping(inside: IPv6Address("2001:db8:1::50")!, outside: IPv4Address(198, 51, 100, 50))])
        #expect(s.eam.count == 1 && s.limits.sessionsPerHost == 10 && s.limits.heldSYNs == 0)
        #expect(t.stateDirectory == "/var/lib/nat64d")
    }

    @Test("S3 S10: defaults, and bad values point at their line with a fix")
    func defaultsAndErrors() throws {
        let t = try GatewayConfiguration.parse(minimalConfig, file: "t.toml").translator
        #expect(t.mode == .napt && t.filtering == .endpointIndependent && t.pool4Ports == [1...65535])
        #expect(t.maxSessionsPerHost == 4096 && t.maxHeldSYNs == 256 && t.stateDirectory == nil)
        func bad(_ key: String, _ words: [String]) {
            let text = minimalConfig.replacingFirst("pool4 = [\"192.0.2.1\"]", with: "pool4 = [\"192.0.2.1\"]\n" + key)
            expectConfigError(text, line: 4, mentioning: words)
        }
        bad("mode = \"nat\"", ["translator.mode", "napt, pool"])
        bad("filtering = \"full-cone\"", ["endpoint-independent"])
        bad("map = [\"2001:db8::5\"]", ["IPV6 IPV4"])
        bad("eam = [\"2001:db8:2::/112 203.0.113.0/24\"]", ["host bits", "RFC 7757"])
        bad("state-dir = \"var/lib\"", ["absolute"])
        bad("max-held-syns = 70000", ["max-held-syns"])
        expectConfigError(minimalConfig.replacingFirst("\"192.0.2.1\"", with: "\"192.0.2.1 2000-1000\""), line: 3,
                          mentioning: ["LOW-HIGH"])
    }
}

extension String {
    func replacingFirst(_ target: String, with replacement: String) -> String {
        let parts = split(separator: target, maxSplits: 1, omittingEmptySubsequences: false)
        return parts.count == 2 ? parts[0] + replacement + parts[1] : self
    }
}
