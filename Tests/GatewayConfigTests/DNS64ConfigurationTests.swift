import NAT64Translator
import Testing

@testable import GatewayConfig

/// The `[dns64]` keys of issue 5 (docs/dns64.md D2–D4, D7, D10, N1, N4): values, defaults and file:line errors.
struct DNS64ConfigurationTests {
    @Test func D2_D4_D7_N1_N4_everyKeyRead() throws {
        let config = try GatewayConfiguration.parse(minimal(plus: """
            [dns64]
            upstream = ["198.51.100.10"]
            prefix = ["2001:db8:64::/96", "2001:db8:100::/40"]
            exclude = ["::ffff:0:0/96", "2001:db8:dead::/48"]
            mapped = ["192.0.2.0/24"]
            break-dnssec = true
            synthesize-on-error = false
            cache-size = 0
            cache-min-ttl = 5
            cache-max-ttl = 600
            cache-max-negative-ttl = 60
            tcp-idle-timeout-ms = 2500
            tcp-connections-per-client = 4
            udp-sockets = 2
            upstream-ports = 128
            """), file: "t")
        let d = config.dns64
        #expect(d.prefixes == [NAT64Prefix("2001:db8:64::/96")!, NAT64Prefix("2001:db8:100::/40")!])
        #expect(d.exclude == [IPv6Prefix("::ffff:0:0/96")!, IPv6Prefix("2001:db8:dead::/48")!])
        #expect(d.mapped == [IPv4Prefix("192.0.2.0/24")!])
        #expect(d.breakDNSSEC && !d.synthesizeOnError)
        #expect(d.cacheSize == 0 && d.cacheMinTTL == 5 && d.cacheMaxTTL == 600 && d.cacheMaxNegativeTTL == 60)
        #expect(d.tcpIdleTimeoutMilliseconds == 2500 && d.tcpConnectionsPerClient == 4 && d.udpSockets == 2)
        #expect(d.upstreamPorts == 128)
        #expect(d.groups.isEmpty)
    }

    @Test func D4_N4_defaults() throws {
        let d = try GatewayConfiguration.parse(minimal(plus: "[dns64]\nupstream = [\"198.51.100.10\"]\n"), file: "t").dns64
        #expect(d.prefixes == [.wellKnown])  // translator.prefix
        #expect(d.exclude == [IPv6Prefix("::ffff:0:0/96")!] && d.mapped == nil)
        #expect(!d.breakDNSSEC && d.synthesizeOnError)
        #expect(d.cacheSize == 10_000 && d.cacheMaxTTL == 86_400 && d.cacheMaxNegativeTTL == 3600)
        #expect(d.tcpIdleTimeoutMilliseconds == 10_000 && d.tcpConnectionsPerClient == 16)
        #expect(d.udpSockets == Defaults.dnsUDPSockets && d.udpSockets >= 1)
        #expect(d.upstreamPorts == 64)
    }

    @Test func D13_D16_rd0AndDeadlineKeys() throws {
        let defaults = try GatewayConfiguration.parse(
            minimal(plus: "[dns64]\nupstream = [\"198.51.100.10\"]\ntimeout-ms = 1500\n"), file: "t").dns64
        #expect(defaults.rd0 == .cacheOnly)
        #expect(defaults.deadlineMilliseconds == 3000)  // twice timeout-ms
        let set = try GatewayConfiguration.parse(
            minimal(plus: "[dns64]\nupstream = [\"198.51.100.10\"]\nrd0 = \"recurse\"\ndeadline-ms = 2500\n"), file: "t")
            .dns64
        #expect(set.rd0 == .recurse && set.deadlineMilliseconds == 2500)
    }

    @Test func D10_clientGroups() throws {
        let config = try GatewayConfiguration.parse(minimal(plus: """
            [dns64]
            upstream = ["198.51.100.10"]
            prefix = "2001:db8:64::/96"
            [dns64.groups.lab]
            clients = ["2001:db8:1:8::/64"]
            prefix = "2001:db8:6400::/40"
            [dns64.groups.plain]
            clients = ["2001:db8:1:9::/64", "192.0.2.0/24"]
            synthesis = false
            """), file: "t")
        #expect(config.dns64.groups == [
            .init(name: "lab", clients: [.v6(IPv6Prefix("2001:db8:1:8::/64")!)],
                  prefixes: [NAT64Prefix("2001:db8:6400::/40")!], synthesis: true),
            .init(name: "plain", clients: [.v6(IPv6Prefix("2001:db8:1:9::/64")!), .v4(IPv4Prefix("192.0.2.0/24")!)],
                  prefixes: [NAT64Prefix("2001:db8:64::/96")!], synthesis: false),
        ])
    }

    /// Each snippet starts on line 8; the error is on the line given (relative to the snippet's first line).
    @Test(arguments: [
        ("[dns64]\nupstream = [\"192.0.2.53\"]\nprefix = []", 2, "dns64.prefix", "is empty"),
        ("[dns64]\nupstream = [\"192.0.2.53\"]\nprefix = [\"64:ff9b::/96\",\n \"64:ff9b::/96\"]", 3, "twice", "line 10"),
        ("[dns64]\nupstream = [\"192.0.2.53\"]\nprefix = [\"2001:db8::/80\"]", 2, "dns64.prefix", "has length 80"),
        ("[dns64]\nupstream = [\"192.0.2.53\"]\nexclude = [\"::ffff:0:0/96\", \"10.0.0.0/8\"]", 2, "dns64.exclude", "IPv6"),
        ("[dns64]\nupstream = [\"192.0.2.53\"]\nmapped = [\"192.0.2.1/16\"]", 2, "dns64.mapped", "192.0.0.0/16"),
        ("[dns64]\nupstream = [\"192.0.2.53\"]\nbreak-dnssec = 1", 2, "dns64.break-dnssec", "must be a boolean"),
        ("[dns64]\nupstream = [\"192.0.2.53\"]\ncache-size = -1", 2, "dns64.cache-size", "at least 0"),
        ("[dns64]\nupstream = [\"192.0.2.53\"]\ncache-max-ttl = 604801", 2, "dns64.cache-max-ttl", "at most 604800"),
        ("[dns64]\nupstream = [\"192.0.2.53\"]\ncache-min-ttl = 700\ncache-max-ttl = 600", 2, "cache-min-ttl", "above"),
        ("[dns64]\nupstream = [\"192.0.2.53\"]\ntcp-idle-timeout-ms = 50", 2, "dns64.tcp-idle-timeout-ms", "at least 100"),
        ("[dns64]\nupstream = [\"192.0.2.53\"]\nudp-sockets = 65", 2, "dns64.udp-sockets", "at most 64"),
        ("[dns64]\nupstream = [\"192.0.2.53\"]\nrd0 = \"never\"", 2, "dns64.rd0", "is not one of"),
        ("[dns64]\nupstream = [\"192.0.2.53\"]\ndeadline-ms = 50", 2, "dns64.deadline-ms", "at least 100"),
        ("[dns64]\nupstream = [\"192.0.2.53\"]\nupstream-ports = 0", 2, "dns64.upstream-ports", "at least 1"),
        ("[dns64]\nupstream = [\"192.0.2.53\"]\nbreak-dnsec = true", 2, "break-dnsec", "did you mean `break-dnssec`?"),
        ("[dns64]\nupstream = [\"192.0.2.53\"]\n[dns64.groups.x]\nprefix = \"64:ff9b::/96\"", 2, "dns64.groups.x.clients", "add the line"),
        ("[dns64]\nupstream = [\"192.0.2.53\"]\n[dns64.groups.x]\nclients = [\"::1\"]\nsynth = false", 4, "dns64.groups.x.synth", "synthesis"),
        ("[dns64]\nupstream = [\"192.0.2.53\"]\n[dns64.groups.x]\nclients = [\"::1/200\"]", 3, "dns64.groups.x.clients", "0 to 128"),
        ("[dns64]\nupstream = [\"192.0.2.53\"]\ngroups = 3", 2, "dns64.groups", "[dns64.groups.NAME]"),
    ])
    func D10_N4_invalidValueNamesKeyAndLine(_ snippet: String, _ line: Int, _ key: String, _ fix: String) throws {
        let error = try #require(configError(minimal(plus: snippet)))
        #expect(error.line == 8 + line, "\(error)")
        #expect(error.message.contains(key), "\(error)")
        #expect(error.message.contains(fix), "\(error)")
    }
}
