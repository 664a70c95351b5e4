// The [ra.IFNAME] sections: the sample's commented example, defaults, and the errors with their lines and fixes.
import NAT64Translator
import RouterAdvertisement
import Testing

@testable import GatewayConfig

@Suite struct RAConfigTests {
    @Test func noSectionNoAdvertisements() throws {
        #expect(try GatewayConfiguration.parse(minimalConfig, file: "test.toml").ra.isEmpty)
    }

    /// An empty section: RFC 4861 defaults, RDNSS from [dns64], PREF64 = translator.prefix.
    @Test func emptySectionTakesTheDefaults() throws {
        let config = try GatewayConfiguration.parse(minimal(plus: "[ra.eth1]"), file: "test.toml")
        #expect(config.ra.count == 1)
        let ra = try #require(config.ra.first)
        #expect(ra.name == "eth1")
        #expect(ra.rdnssFromDNS64)
        #expect(ra.settings.pref64 == NAT64Prefix.wellKnown)
        #expect(ra.settings.maxInterval == 600)
        #expect(ra.settings.effectiveMinInterval == 198)
        #expect(ra.settings.effectiveRouterLifetime == 1800)
        #expect(ra.settings.mtu == nil)
        #expect(ra.settings.prefixes.isEmpty)
        #expect(ra.settings.effectivePref64Lifetime == 1800)
    }

    /// The commented example in config/nat64d.toml, uncommented, documents every key and gives its values.
    @Test func sampleExampleDocumentsEveryKeyAndParses() throws {
        let text = String(decoding: try ConfigFile.readAll(path: samplePath), as: UTF8.self)
        for key in ConfigReader.raKeys {
            #expect(text.contains("\n# \(key) = "), "key \(key) is shown")
            #expect(text.contains("\n# \(key): "), "key \(key) is explained")
        }
        let example = text.split(separator: "\n", omittingEmptySubsequences: false)
            .drop { !$0.hasPrefix("# [ra.") }
            .filter { line in
                // `# [ra.eth1]` and `# key = value`, not the explanations.
                let body = line.dropFirst(2)
                guard line.hasPrefix("# "), let key = body.split(separator: " ").first else { return false }
                return (line.hasPrefix("# [ra.") && line.hasSuffix("]")) || (body.dropFirst(key.count).hasPrefix(" = ") && key.allSatisfy {
                    $0.isLowercase || $0.isNumber || $0 == "-"
                })
            }
            .map { $0.dropFirst(2) }
            .joined(separator: "\n")
        let config = try GatewayConfiguration.parse(minimal(plus: example), file: "example.toml")
        let ra = try #require(config.ra.first)
        #expect(ra.name == "eth1")
        #expect(!ra.rdnssFromDNS64)
        #expect(ra.settings.rdnss == [IPv6Address("2001:db8:1::1")!])
        #expect(ra.settings.mtu == 1500)
        #expect(ra.settings.prefixes.map(\.prefix) == [IPv6Prefix("2001:db8:1::/64")!])
        #expect(ra.settings.dnssl == ["example.com"])
        #expect(ra.settings.pref64 == NAT64Prefix.wellKnown)
        #expect(ra.settings.preference == .medium)
        #expect(ra.settings.effectiveMinInterval == 198)
    }

    @Test func everyKeyIsRead() throws {
        let config = try GatewayConfiguration.parse(minimal(plus: """
            [ra.lan0]
            max-interval = 60
            min-interval = 20
            router-lifetime = 0
            router-preference = "high"
            hop-limit = 0
            mtu = 1400
            prefix-information = ["2001:db8:5::/64", "fd00:1::/64"]
            prefix-valid-lifetime = 3600
            prefix-preferred-lifetime = 1800
            rdnss = []
            dnssl = ["a.test", "b.test."]
            dnssl-lifetime = 0
            pref64 = "2001:db8:64::/96"
            pref64-lifetime = 601

            [ra.lan1]
            pref64 = "off"
            rdnss-lifetime = 4294967295
            """), file: "test.toml")
        #expect(config.ra.map(\.name) == ["lan0", "lan1"])
        let s = config.ra[0].settings
        #expect(s.maxInterval == 60 && s.effectiveMinInterval == 20 && s.effectiveRouterLifetime == 0)
        #expect(s.preference == .high && s.curHopLimit == 0 && s.mtu == 1400)
        #expect(s.prefixes.map(\.validLifetime) == [3600, 3600] && s.prefixes.map(\.preferredLifetime) == [1800, 1800])
        #expect(s.rdnss.isEmpty && !config.ra[0].rdnssFromDNS64)
        #expect(s.dnssl == ["a.test", "b.test."] && s.effectiveDNSSLLifetime == 0)
        #expect(s.pref64 == NAT64Prefix("2001:db8:64::/96") && s.effectivePref64Lifetime == 608)
        #expect(config.ra[1].settings.pref64 == nil)
        #expect(config.ra[1].settings.effectiveRDNSSLifetime == 4_294_967_295)
    }

    @Test func errorsNameTheLineAndTheFix() {
        expectConfigError(minimal(plus: "[ra.eth1]\nmax-interval = 100\nmin-interval = 90"), line: 10,
                          mentioning: ["ra.eth1.min-interval = 90 is too large", "75"])
        expectConfigError(minimal(plus: "[ra.eth1]\nmax-interval = 100\nrouter-lifetime = 50"), line: 10,
                          mentioning: ["router-lifetime = 50", "use 0", "at least 100"])
        expectConfigError(minimal(plus: "[ra.eth1]\nprefix-information = [\"2001:db8:1::/48\"]"), line: 9,
                          mentioning: ["/48", "SLAAC needs a /64"])
        expectConfigError(minimal(plus: "[ra.eth1]\npref64 = \"2001:db8::/80\""), line: 9, mentioning: ["ra.eth1.pref64"])
        expectConfigError(minimal(plus: "[ra.eth1]\nrdnss-lifetime = 10"), line: 9,
                          mentioning: ["below max-interval", "at least 600"])
        expectConfigError(minimal(plus: "[ra.eth1]\nmtu = 1000"), line: 9, mentioning: ["1280"])
        expectConfigError(minimal(plus: "[ra.eth1]\ndnssl = [\"bad name\"]"), line: 9, mentioning: ["not a domain name"])
        expectConfigError(minimal(plus: "[ra.eth1]\nrouter-preferance = \"high\""), line: 9,
                          mentioning: ["did you mean `router-preference`?"])
        expectConfigError(minimal(plus: "[ra.eth1]\nrouter-preference = \"highest\""), line: 9,
                          mentioning: ["low, medium or high"])
        expectConfigError(minimal(plus: "[ra.nat64]"), line: 8, mentioning: ["TUN device", "[ra.eth1]"])
        expectConfigError(minimal(plus: "[ra]\nmtu = 1500"), line: 9, mentioning: ["ra.mtu must be a section"])
        expectConfigError(minimal(plus: "[ra.eth1]\nprefix-preferred-lifetime = 100\nprefix-valid-lifetime = 50"),
                          line: 9, mentioning: ["above prefix-valid-lifetime"])
        // 8 names of 4 × 60-byte labels: about 1940 bytes of DNSSL.
        let label = String(repeating: "a", count: 60)
        let names = (0..<8).map { "\"\(label).\(label).\(label).\(label)\($0)\"" }.joined(separator: ", ")
        expectConfigError(minimal(plus: "[ra.eth1]\ndnssl = [\(names)]"), line: 8,
                          mentioning: ["1240 that fit one 1280-byte packet", "RFC 6980"])
    }
}
