// `translator.forward` (S13): port forwards by translation. Entries are read with their protocol and both
// endpoints, checked against mode, pool4, the prefix, maps and EAM, and duplicates; mistakes name their line.
import GatewayConfig
import NAT64Translator
import Testing

/// A config whose `[translator]` section ends with `extra` (line 5 onward).
private func translator(_ extra: String) -> String {
    """
    [translator]
    prefix = "64:ff9b::/96"
    pool4 = ["192.0.2.1", "203.0.113.0/30 1024-65535"]
    map = ["2001:db8:1::50 192.0.2.50"]
    \(extra)

    [gateway]
    ipv4 = "198.51.100.1"
    ipv6 = "2001:db8:1::1"
    """
}

@Suite struct ForwardConfigTests {
    @Test func S13_entriesAreRead() throws {
        let config = try GatewayConfiguration.parse(translator("""
            forward = ["tcp 192.0.2.1:2222 [2001:db8:a::10]:22", "UDP 203.0.113.2:53 [2001:db8:a::10]:53"]
            """), file: "test.toml")
        let ssh = PortForward(proto: 6, outside: Endpoint4(address: IPv4Address("192.0.2.1")!, port: 2222, proto: 6),
                              inside: Endpoint6(address: IPv6Address("2001:db8:a::10")!, port: 22, proto: 6))
        let dns = PortForward(proto: 17, outside: Endpoint4(address: IPv4Address("203.0.113.2")!, port: 53, proto: 17),
                              inside: Endpoint6(address: IPv6Address("2001:db8:a::10")!, port: 53, proto: 17))
        #expect(config.translator.forwards == [ssh, dns])
        #expect(config.translator.stateConfiguration.forwards == [ssh, dns])
        #expect(ssh.description == "tcp 192.0.2.1:2222 [2001:db8:a::10]:22")
        // Absent: none. The same port of the other protocol is another forward.
        #expect(try GatewayConfiguration.parse(translator(""), file: "t.toml").translator.forwards.isEmpty)
        #expect(try GatewayConfiguration.parse(translator("""
            forward = ["tcp 192.0.2.1:53 [2001:db8:a::10]:53", "udp 192.0.2.1:53 [2001:db8:a::10]:53"]
            """), file: "t.toml").translator.forwards.count == 2)
    }

    @Test func S13_aReloadAppliesForwardsLive() throws {
        let before = try GatewayConfiguration.parse(translator(""), file: "t.toml")
        let after = try GatewayConfiguration.parse(translator("forward = [\"tcp 192.0.2.1:2222 [2001:db8:a::10]:22\"]"),
                                                   file: "t.toml")
        let plan = GatewayConfiguration.reloadPlan(running: before, file: after)
        #expect(plan.live == ["translator.forward"] && !plan.kept.contains("translator.forward"))
        #expect(plan.effective.translator.forwards == after.translator.forwards)
    }

    @Test func S13_mistakesNameTheLineAndTheFix() {
        expectConfigError(translator("forward = [\"tcp 192.0.2.1:2222\"]"), line: 5, mentioning: ["PROTO IPV4:PORT [IPV6]:PORT"])
        expectConfigError(translator("forward = [\"sctp 192.0.2.1:2222 [2001:db8:a::10]:22\"]"), line: 5,
                          mentioning: ["sctp", "tcp or udp"])
        expectConfigError(translator("forward = [\"tcp 192.0.2.1 [2001:db8:a::10]:22\"]"), line: 5,
                          mentioning: ["no port", "IPv4"])
        expectConfigError(translator("forward = [\"tcp 192.0.2.1:2222 [2001:db8:a::10]\"]"), line: 5,
                          mentioning: ["no port", "IPv6"])
        expectConfigError(translator("forward = [\"tcp [2001:db8:a::10]:22 192.0.2.1:2222\"]"), line: 5,
                          mentioning: ["comes first"])
        expectConfigError(translator("forward = [\"tcp 192.0.2.9:2222 [2001:db8:a::10]:22\"]"), line: 5,
                          mentioning: ["192.0.2.9", "not a pool4 address"])
        expectConfigError(translator("forward = [\"tcp 192.0.2.1:2222 [64:ff9b::1]:22\"]"), line: 5,
                          mentioning: ["inside translator.prefix"])
        expectConfigError(translator("forward = [\"tcp 192.0.2.1:2222 [2001:db8:1::50]:22\"]"), line: 5,
                          mentioning: ["translator.map", "remove the forward"])
        expectConfigError(translator("""
            forward = [
                "tcp 192.0.2.1:2222 [2001:db8:a::10]:22",
                "tcp 192.0.2.1:2222 [2001:db8:a::11]:22",
            ]
            """), line: 7, mentioning: ["same TCP port 192.0.2.1:2222", "line 6"])
        expectConfigError(translator("""
            forward = [
                "tcp 192.0.2.1:2222 [2001:db8:a::10]:22",
                "tcp 192.0.2.1:2223 [2001:db8:a::10]:22",
            ]
            """), line: 7, mentioning: ["same TCP port [2001:db8:a::10]:22", "line 6"])
        expectConfigError(translator("mode = \"pool\"\nforward = [\"tcp 192.0.2.1:2222 [2001:db8:a::10]:22\"]"), line: 6,
                          mentioning: ["mode = \"napt\""])
    }
}
