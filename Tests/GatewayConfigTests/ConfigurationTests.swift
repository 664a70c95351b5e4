import NAT64Translator
import Testing

@testable import GatewayConfig

/// The smallest valid configuration: the four required keys. Lines: [translator] 1, prefix 2, pool4 3,
/// [gateway] 5, ipv4 6, ipv6 7.
let minimalConfig = """
    [translator]
    prefix = "64:ff9b::/96"
    pool4 = ["192.0.2.1"]

    [gateway]
    ipv4 = "198.51.100.1"
    ipv6 = "2001:db8:1::1"
    """

/// The minimal config with `extra` appended (it starts on line 8).
func minimal(plus extra: String) -> String {
    minimalConfig + "\n" + extra
}

/// The error `parse` throws for `text`; records an issue and returns nil when it parses.
func configError(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) -> ConfigError? {
    do {
        let config = try GatewayConfiguration.parse(text, file: "test.toml")
        Issue.record("expected an error, got \(config)", sourceLocation: sourceLocation)
        return nil
    } catch {
        return error
    }
}

/// Checks that `text` fails with an error on `line` whose message contains each of `words`.
func expectConfigError(
    _ text: String, line: Int, mentioning words: [String], sourceLocation: SourceLocation = #_sourceLocation
) {
    guard let error = configError(text, sourceLocation: sourceLocation) else { return }
    #expect(error.line == line, "\(error)", sourceLocation: sourceLocation)
    for word in words {
        #expect(error.message.contains(word), "\(error)", sourceLocation: sourceLocation)
    }
}

@Suite struct ConfigurationTests {
    // MARK: Defaults and full parse

    @Test func minimalConfigGetsEveryDefault() throws {
        let config = try GatewayConfiguration.parse(minimalConfig, file: "test.toml")
        #expect(config.tun == .init(name: "nat64", mtu: 1500))
        #expect(config.translator.prefix == NAT64Prefix.wellKnown)
        #expect(config.translator.pool4 == [IPv4Prefix("192.0.2.1/32")!])
        #expect(config.translator.udpTimeout == 300)
        #expect(config.translator.tcpEstablishedTimeout == 7440)
        #expect(config.translator.tcpTransitoryTimeout == 240)
        #expect(config.translator.icmpTimeout == 60)
        #expect(config.translator.maxSessions == 65536)
        #expect(config.gateway == .init(ipv4: IPv4Address(198, 51, 100, 1), ipv6: IPv6Address("2001:db8:1::1")!))
        #expect(config.dns64.enabled == false, "no [dns64] section means no DNS64")
        #expect(config.dns64.listen == [.init(host: .v6(.loopback), port: 53),
                                        .init(host: .v4(IPv4Address(127, 0, 0, 1)), port: 53)])
        #expect(config.dns64.upstreams == [])
        #expect(config.dns64.allow == [.v6(IPv6Prefix("::1/128")!), .v4(IPv4Prefix("127.0.0.0/8")!)])
        #expect(config.dns64.prefix == config.translator.prefix)
        #expect(config.dns64.timeoutMilliseconds == 2000)
        #expect(config.log.level == "info")
    }

    @Test func everyKeySet() throws {
        let config = try GatewayConfiguration.parse("""
            [tun]
            name = "nat64-0"
            mtu = 9000
            [translator]
            prefix = "2001:db8:64::/64"
            pool4 = ["192.0.2.0/24", "203.0.113.7"]
            udp-timeout = 120
            tcp-established-timeout = 8000
            tcp-transitory-timeout = 300
            icmp-timeout = 1
            max-sessions = 16_000_000
            [gateway]
            ipv4 = "198.51.100.1"
            ipv6 = "2001:db8:1::1"
            [dns64]
            listen = ["[2001:db8:1::1]:5353", "127.0.0.1", "[::1]"]
            upstream = ["198.51.100.10:53", "[2001:db8::53]"]
            allow = ["2001:db8:1::/64", "10.0.0.0/8", "192.0.2.9"]
            prefix = "64:ff9b::/96"
            timeout-ms = 100
            [log]
            level = "debug"
            """, file: "full.toml")
        #expect(config.tun == .init(name: "nat64-0", mtu: 9000))
        #expect(config.translator == .init(
            prefix: NAT64Prefix("2001:db8:64::/64")!, pool4: [IPv4Prefix("192.0.2.0/24")!, IPv4Prefix("203.0.113.7/32")!],
            udpTimeout: 120, tcpEstablishedTimeout: 8000, tcpTransitoryTimeout: 300, icmpTimeout: 1,
            maxSessions: 16_000_000, pool4Ports: [1...65535, 1...65535]))
        #expect(config.dns64.enabled, "a [dns64] section without `enabled` turns DNS64 on")
        #expect(config.dns64.listen == [.init(host: .v6(IPv6Address("2001:db8:1::1")!), port: 5353),
                                        .init(host: .v4(IPv4Address(127, 0, 0, 1)), port: 53),
                                        .init(host: .v6(.loopback), port: 53)])
        #expect(config.dns64.upstreams == [.init(host: .v4(IPv4Address(198, 51, 100, 10)), port: 53),
                                           .init(host: .v6(IPv6Address("2001:db8::53")!), port: 53)])
        #expect(config.dns64.allow == [.v6(IPv6Prefix("2001:db8:1::/64")!), .v4(IPv4Prefix("10.0.0.0/8")!),
                                       .v4(IPv4Prefix("192.0.2.9/32")!)])
        #expect(config.dns64.prefix == NAT64Prefix.wellKnown)
        #expect(config.dns64.timeoutMilliseconds == 100)
        #expect(config.log.level == "debug")
        #expect(config.translator.pool4Addresses.count == 257)
        #expect(config.translator.pool4Addresses.last == IPv4Address(203, 0, 113, 7))
    }

    @Test func disabledDNS64NeedsNoUpstream() throws {
        let config = try GatewayConfiguration.parse(minimal(plus: "[dns64]\nenabled = false\n"), file: "t")
        #expect(config.dns64.enabled == false)
    }

    // MARK: The error format

    @Test func descriptionIsFileLineMessage() throws {
        let error = try #require(configError(
            "[translator]\nprefix = \"2001:db8::/80\"\npool4 = [\"192.0.2.1\"]\n[gateway]\nipv4 = \"198.51.100.1\"\nipv6 = \"2001:db8:1::1\"\n"
        ))
        #expect(error.description
            == #"test.toml:2: translator.prefix "2001:db8::/80" has length 80; use one of /32, /40, /48, /56, /64, /96 (RFC 6052)"#)
        #expect(error.code == .invalidValue)
    }

    @Test func firstErrorByLineIsThrownAndDiagnoseListsAll() throws {
        let text = minimal(plus: "[tun]\nmtu = 100\nname = \"this-name-is-far-too-long\"\n[log]\nlevel = \"loud\"\n")
        let error = try #require(configError(text))
        #expect(error.line == 9)
        let all = GatewayConfiguration.diagnose(text, file: "test.toml")
        #expect(all.map(\.line) == [9, 10, 12])
        #expect(all.first == error)
        #expect(GatewayConfiguration.diagnose(minimalConfig, file: "test.toml").isEmpty)
    }

    @Test func syntaxErrorsBecomeConfigErrors() throws {
        let error = try #require(configError("[tun]\nname = \"nat64\nmtu = 1500\n"))
        #expect(error.line == 2)
        #expect(error.code == .syntax)
        #expect(error.description.hasPrefix("test.toml:2: unterminated string"))
        let unsupported = try #require(configError("[tun]\nmtu = 1500.0\n"))
        #expect(unsupported.code == .unsupportedSyntax)
    }

    // MARK: Required keys

    @Test func missingRequiredKeyPointsAtItsSection() throws {
        let text = "[translator]\npool4 = [\"192.0.2.1\"]\n\n[gateway]\nipv4 = \"198.51.100.1\"\nipv6 = \"2001:db8:1::1\"\n"
        let error = try #require(configError(text))
        #expect(error.line == 1)
        #expect(error.code == .missingKey)
        #expect(error.message.contains("translator.prefix"))
        #expect(error.message.contains(#"prefix = "64:ff9b::/96""#), "the message says what to add")

        let noIPv6 = try #require(configError("# header\n" + minimalConfig.replacingLines(containing: "ipv6", with: "")))
        #expect(noIPv6.line == 6, "the [gateway] header line")
        #expect(noIPv6.message.contains("gateway.ipv6"))
    }

    @Test func missingSectionPointsAtLineOne() throws {
        let error = try #require(configError("\n\n[translator]\nprefix = \"64:ff9b::/96\"\npool4 = [\"192.0.2.1\"]\n"))
        #expect(error.line == 1)
        #expect(error.message.contains("gateway.ipv4"))
        #expect(error.message.contains("no [gateway] section"))
        #expect(GatewayConfiguration.diagnose("", file: "t").map(\.code) == Array(repeating: .missingKey, count: 4))
    }

    @Test func enabledDNS64NeedsAnUpstream() throws {
        let error = try #require(configError(minimal(plus: "[dns64]\nallow = [\"::1\"]\n")))
        #expect(error.line == 8)
        #expect(error.message.contains("dns64.upstream"))
        #expect(error.message.contains("enabled = false"))
        let empty = try #require(configError(minimal(plus: "[dns64]\nenabled = true\nupstream = []\n")))
        #expect(empty.line == 10)
    }

    // MARK: Unknown keys

    @Test func unknownKeySuggestsTheClosestKnownKey() throws {
        let error = try #require(configError(minimal(plus: "[translator.x]\n").replacingLines(
            containing: "pool4", with: "pool4 = [\"192.0.2.1\"]\nudp_timeout = 300")))
        #expect(error.line == 4)
        #expect(error.code == .unknownKey)
        #expect(error.message.contains("translator.udp_timeout"))
        #expect(error.message.contains("did you mean `udp-timeout`?"))
    }

    @Test func unknownKeyWithoutCloseMatchListsValidKeys() throws {
        let error = try #require(configError(minimal(plus: "[tun]\ncolour = \"blue\"\n")))
        #expect(error.line == 9)
        #expect(error.message.contains("valid keys in [tun]: name, mtu"))
    }

    @Test func unknownSectionSuggestsTheClosestSection() throws {
        let error = try #require(configError(minimal(plus: "[dns]\nenabled = false\n")))
        #expect(error.line == 8)
        #expect(error.message.contains("unknown section [dns]; did you mean `dns64`?"))
        let sub = try #require(configError(minimal(plus: "[tun.extra]\n")))
        #expect(sub.message.contains("unknown section [tun.extra]"))
    }

    @Test func topLevelKeyIsSentToItsSection() throws {
        let error = try #require(configError("mtu = 1400\n" + minimalConfig))
        #expect(error.line == 1)
        #expect(error.message.contains("move it under the [tun] header"))
    }

    @Test func sectionThatIsNotATable() throws {
        let error = try #require(configError("log = \"debug\"\n" + minimalConfig))
        #expect(error.line == 1)
        #expect(error.code == .wrongType)
        #expect(error.message.contains("[log]"))
    }

    // MARK: Value checks, each with its line and key

    @Test(arguments: [
        ("[tun]\nmtu = 1279", "tun.mtu", "at least 1280"),
        ("[tun]\nmtu = 65536", "tun.mtu", "at most 65535"),
        ("[tun]\nname = \"\"", "tun.name", "1 to 15"),
        ("[tun]\nname = \"sixteen-chars-xx\"", "tun.name", "1 to 15"),
        ("[tun]\nname = \"nat 64\"", "tun.name", "A-Z a-z 0-9"),
        ("[tun]\nname = \"..\"", "tun.name", "not a valid interface name"),
        ("[dns64]\nupstream = [\"192.0.2.53\"]\ntimeout-ms = 99", "dns64.timeout-ms", "at least 100"),
        ("[dns64]\nupstream = [\"192.0.2.53\"]\ntimeout-ms = 30001", "dns64.timeout-ms", "at most 30000"),
        ("[dns64]\nenabled = \"yes\"", "dns64.enabled", "must be a boolean"),
        ("[dns64]\nupstream = \"192.0.2.53\"", "dns64.upstream", #"upstream = ["192.0.2.53"]"#),
        ("[dns64]\nupstream = [53]", "dns64.upstream", "entries must be strings"),
        ("[dns64]\nupstream = [\"dns.example:53\"]", "dns64.upstream", "host names are not allowed"),
        ("[dns64]\nupstream = [\"2001:db8::53\"]", "dns64.upstream", #""[2001:db8::53]:53""#),
        ("[dns64]\nupstream = [\"192.0.2.53:0\"]", "dns64.upstream", "port from 1 to 65535"),
        ("[dns64]\nupstream = [\"[2001:db8::53\"]", "dns64.upstream", "without `]`"),
        ("[dns64]\nupstream = [\"[192.0.2.1]:53\"]", "dns64.upstream", "not an IPv6 address"),
        ("[dns64]\nupstream = [\"192.0.2.53\"]\nlisten = [\"[::1]53\"]", "dns64.listen", "text after `]`"),
        ("[dns64]\nupstream = [\"192.0.2.53\"]\nallow = [\"10.0.0.1/8\"]", "dns64.allow", #"did you mean "10.0.0.0/8"?"#),
        ("[dns64]\nupstream = [\"192.0.2.53\"]\nallow = [\"2001:db8::/129\"]", "dns64.allow", "0 to 128"),
        ("[dns64]\nupstream = [\"192.0.2.53\"]\nprefix = \"64:ff9b::/100\"", "dns64.prefix", "has length 100"),
        ("[log]\nlevel = \"warn\"", "log.level", #"did you mean "warning"?"#),
        ("[log]\nlevel = 3", "log.level", "must be a string"),
    ])
    func invalidValueNamesKeyAndLine(_ section: String, _ key: String, _ fix: String) {
        // The snippet starts on line 8 and the error is on its last line.
        let lastLine = 7 + section.split(separator: "\n", omittingEmptySubsequences: false).count
        expectConfigError(minimal(plus: section), line: lastLine, mentioning: [key, fix])
    }

    @Test(arguments: [
        ("prefix = \"2001:db8::/80\"", "has length 80"),
        ("prefix = \"64:ff9b::\"", "has no length"),
        ("prefix = \"64:ff9b::1/96\"", "bits set after /96"),
        ("prefix = \"2001:db8:0:0:ff00::/96\"", "u-octet"),
        ("prefix = \"not-an-address/96\"", "not an IPv6 address"),
        ("prefix = 64", "must be a string"),
        ("pool4 = []", "at least one"),
        ("pool4 = [\"10.0.0.0/8\"]", "/16 or longer"),
        ("pool4 = [\"192.0.2.1/24\"]", #"did you mean "192.0.2.0/24"?"#),
        ("pool4 = [\"224.0.0.1\"]", "multicast"),
        ("pool4 = [\"192.0.2.300\"]", "not an IPv4 address"),
        ("pool4 = \"192.0.2.1\"", "put it in brackets"),
        ("pool4 = [\"192.0.2.0/24\", \"192.0.2.7\"]", "overlaps \"192.0.2.0/24\""),
        ("udp-timeout = 119", "at least 120 seconds (RFC 6146"),
        ("tcp-established-timeout = 7439", "at least 7440"),
        ("tcp-transitory-timeout = 239", "at least 240"),
        ("icmp-timeout = 0", "at least 1"),
        ("max-sessions = 0", "at least 1"),
        ("max-sessions = 16000001", "at most 16000000"),
        ("udp-timeout = \"300\"", "remove the quotes: udp-timeout = 300"),
        ("udp-timeout = true", "must be an integer"),
    ])
    func invalidTranslatorValue(_ line: String, _ fix: String) {
        // prefix and pool4 replace their own line (2 and 3); other keys go on a new line 3 after the prefix.
        let key = String(line.prefix { $0 != " " })
        let text = switch key {
        case "prefix", "pool4": minimalConfig.replacingLines(containing: key, with: line)
        default: minimalConfig.replacingLines(containing: "prefix", with: "prefix = \"64:ff9b::/96\"\n" + line)
        }
        expectConfigError(text, line: key == "prefix" ? 2 : 3, mentioning: ["translator.\(key)", fix])
    }

    @Test(arguments: [
        ("ipv4 = \"198.51.100.1/32\"", "gateway.ipv4", "is a prefix"),
        ("ipv4 = \"127.0.0.1\"", "gateway.ipv4", "loopback"),
        ("ipv4 = \"0.1.2.3\"", "gateway.ipv4", "0.0.0.0/8"),
        ("ipv4 = \"2001:db8::1\"", "gateway.ipv4", "not an IPv4 address"),
        ("ipv6 = \"ff02::1\"", "gateway.ipv6", "not a unicast address"),
        ("ipv6 = \"::\"", "gateway.ipv6", "not a unicast address"),
        ("ipv6 = \"198.51.100.1\"", "gateway.ipv6", "not an IPv6 address"),
    ])
    func invalidGatewayAddress(_ line: String, _ key: String, _ fix: String) {
        let name = String(line.prefix { $0 != " " })
        expectConfigError(minimalConfig.replacingLines(containing: name, with: line), line: name == "ipv4" ? 6 : 7,
                          mentioning: [key, fix])
    }

    // MARK: Cross-checks

    @Test func pool4MustNotHoldTheGatewayIPv4() throws {
        let text = minimalConfig.replacingLines(containing: "pool4", with: "pool4 = [\n  \"203.0.113.0/24\",\n  \"198.51.100.0/24\",\n]")
        let error = try #require(configError(text))
        #expect(error.code == .conflict)
        #expect(error.line == 9, "the gateway.ipv4 line")
        #expect(error.message.contains("gateway.ipv4 198.51.100.1"))
        #expect(error.message.contains("\"198.51.100.0/24\" (line 5)"))
    }

    @Test func prefixMustNotHoldTheGatewayIPv6() throws {
        let text = minimalConfig.replacingLines(containing: "prefix", with: "prefix = \"2001:db8::/32\"")
        let error = try #require(configError(text))
        #expect(error.code == .conflict)
        #expect(error.line == 7)
        #expect(error.message.contains("gateway.ipv6 2001:db8:1::1 is inside translator.prefix 2001:db8::/32 (line 2)"))
    }

    @Test func entriesOfAnArrayReportTheirOwnLines() throws {
        let error = try #require(configError(minimal(plus: """
            [dns64]
            upstream = [
                "198.51.100.10",
                "198.51.100.11:99999",
            ]
            """)))
        #expect(error.line == 11)
        #expect(error.message.contains("dns64.upstream entry \"198.51.100.11:99999\""))
    }

    @Test func controlCharactersInValuesAreEscapedInMessages() throws {
        let error = try #require(configError(minimal(plus: "[tun]\nname = \"a\\nb\"\n")))
        #expect(error.message.contains(#""a\nb""#))
        #expect(!error.description.contains("\n"))
    }

    // MARK: Helpers

    @Test func suggestions() {
        #expect(Suggestion.closest(to: "udp_timeout", among: ["udp-timeout", "icmp-timeout"]) == "udp-timeout")
        #expect(Suggestion.closest(to: "MTU", among: ["name", "mtu"]) == "mtu")
        #expect(Suggestion.closest(to: "timeout", among: ["enabled", "timeout-ms"]) == "timeout-ms")
        #expect(Suggestion.closest(to: "foo", among: ["tun", "log"]) == nil)
        #expect(Suggestion.editDistance(Array("kitten".utf8), Array("sitting".utf8)) == 3)
    }
}

extension String {
    /// The text with each line containing `needle` replaced by `replacement` (which may hold several lines).
    func replacingLines(containing needle: String, with replacement: String) -> String {
        split(separator: "\n", omittingEmptySubsequences: false)
            .map { $0.contains(needle) ? replacement : String($0) }
            .joined(separator: "\n")
    }
}

@Suite struct TranslationSectionTests {
    let base = """
        [translator]
        prefix = "2001:db8:64::/96"
        pool4 = ["192.0.2.1"]
        [gateway]
        ipv4 = "198.51.100.1"
        ipv6 = "2001:db8:1::1"
        """

    @Test("[translation] defaults when absent")
    func defaults() throws {
        let c = try GatewayConfiguration.parse(base, file: "t.toml")
        #expect(c.translation == GatewayConfiguration.Translation())
        #expect(c.translation.minimumIPv6MTU == 1280 && c.translation.icmpErrorRate == 100)
    }

    @Test("[translation] values are read and checked with file:line errors")
    func values() throws {
        let c = try GatewayConfiguration.parse(base + """

            [translation]
            ipv4-mtu = 1400
            ipv6-mtu = 9000
            min-ipv6-mtu = 1500
            icmp-error-rate = 0
            strict-well-known-prefix = false
            rfc6791-source = "203.0.113.9"
            """, file: "t.toml")
        #expect(c.translation.ipv4MTU == 1400 && c.translation.ipv6MTU == 9000 && c.translation.minimumIPv6MTU == 1500)
        #expect(c.translation.icmpErrorRate == 0 && !c.translation.strictWellKnownPrefix)
        #expect(c.translation.rfc6791Source == IPv4Address("203.0.113.9"))
        do {
            _ = try GatewayConfiguration.parse(base + "\n[translation]\nipv6-mtu = 1000\n", file: "t.toml")
            Issue.record("accepted ipv6-mtu 1000")
        } catch {
            #expect(error.description.hasPrefix("t.toml:8: translation.ipv6-mtu = 1000 is too small; use at least 1280"))
        }
        do {
            _ = try GatewayConfiguration.parse(base + "\n[translation]\nmin-ipv6-mtu = 1400\nipv6-mtu = 1300\n", file: "t.toml")
            Issue.record("accepted min-ipv6-mtu > ipv6-mtu")
        } catch {
            #expect(error.description.hasPrefix("t.toml:8: translation.min-ipv6-mtu = 1400 is larger than"))
        }
    }
}

@Suite struct EAMOverlapTests {
    let base = """
        [translator]
        prefix = "2001:db8:64::/96"
        pool4 = ["192.0.2.1"]
        eam = ["2001:db8:2::/120 203.0.113.0/24", "2001:db8:2::/124 198.51.100.16/28"]
        [gateway]
        ipv4 = "198.51.100.1"
        ipv6 = "2001:db8:1::1"
        """

    @Test("A4: overlapping EAM entries are a config error naming both lines, unless eam-allow-overlap = true")
    func A4_overlapRefusedUnlessForced() throws {
        do {
            _ = try GatewayConfiguration.parse(base, file: "e.toml")
            Issue.record("accepted overlapping EAM entries")
        } catch {
            #expect(error.description.hasPrefix("e.toml:4: translator.eam entry \"2001:db8:2::/124 198.51.100.16/28\" overlaps"))
        }
        let forced = base.replacing("[gateway]", with: "eam-allow-overlap = true\n[gateway]")
        let c = try GatewayConfiguration.parse(forced, file: "e.toml")
        #expect(c.translator.eam.count == 2)
    }
}
