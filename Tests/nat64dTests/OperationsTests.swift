// The daemon's operations pieces that need no running gateway: sd_notify's message format and socket
// addresses (with a real datagram to a socket of our own), `ctl sessions` filters, `ctl <cmd> --help`, the
// "did you mean" of a mistyped command, and the start-up summary's pool4 port counts.
import Forwarding
import GatewayConfig
import Glibc
@testable import NAT64Translator
import Testing

@testable import nat64d

@Suite struct SystemdNotifyTests {
    @Test func messagesAreKeyValueLines() {
        #expect(SystemdNotifier.ready(status: "translating") == "READY=1\nSTATUS=translating\n")
        #expect(SystemdNotifier.reloading(monotonicMicroseconds: 1_234_567, status: "reloading x")
            == "RELOADING=1\nMONOTONIC_USEC=1234567\nSTATUS=reloading x\n")
        // A value cannot break the line format.
        #expect(SystemdNotifier.message([("STATUS", "a\nb")]) == "STATUS=a b\n")
    }

    @Test func socketAddresses() {
        #expect(SystemdNotifier.address("/run/systemd/notify") == Array("/run/systemd/notify".utf8))
        #expect(SystemdNotifier.address("@abstract") == [0] + Array("abstract".utf8))
        #expect(SystemdNotifier.address("relative") == nil)
        #expect(SystemdNotifier.address("") == nil)
        #expect(SystemdNotifier.address("/" + String(repeating: "x", count: 200)) == nil)
        #expect(SystemdNotifier(socket: nil).send("READY=1\n") == false)
    }

    /// A real datagram reaches a socket bound where $NOTIFY_SOCKET points, path and abstract alike.
    @Test(arguments: [false, true]) func aDatagramArrives(abstract: Bool) throws {
        let name = abstract ? "@nat64d-notify-test-\(getpid())" : "/tmp/nat64d-notify-test-\(getpid()).sock"
        let bytes = try #require(SystemdNotifier.address(name))
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        #expect(fd >= 0)
        defer {
            close(fd)
            if !abstract { unlink(name) }
        }
        var sa = sockaddr_un()
        sa.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &sa.sun_path) { $0.copyBytes(from: bytes) }
        let length = MemoryLayout<sa_family_t>.size + bytes.count + (abstract ? 0 : 1)
        let bound = withUnsafePointer(to: &sa) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(length)) }
        }
        #expect(bound == 0)
        #expect(SystemdNotifier(socket: name).send(SystemdNotifier.ready(status: "up")))
        var buffer = [UInt8](repeating: 0, count: 256)
        let n = recv(fd, &buffer, buffer.count, Int32(MSG_DONTWAIT))
        #expect(n > 0)
        #expect(String(decoding: buffer.prefix(max(0, n)), as: UTF8.self) == "READY=1\nSTATUS=up\n")
    }
}

@Suite struct SessionFilterTests {
    func binding(_ v6: String, _ port: UInt16, proto: UInt8, outside: UInt16, remote: String, remotePort: UInt16)
        -> Binding
    {
        Binding(inside: Endpoint6(address: IPv6Address(v6)!, port: port, proto: proto),
                outside: Endpoint4(address: IPv4Address("192.0.2.1")!, port: outside, proto: proto),
                remote: Endpoint4(address: IPv4Address(remote)!, port: remotePort, proto: proto),
                lastUsed: 5_000_000_000, created: 1_000_000_000, expires: 305_000_000_000,
                tcpState: proto == IPProtocolNumber.tcp ? .established : nil)
    }

    @Test func parsesEveryOptionAndRefusesBadValues() throws {
        let f = try SessionFilter.parse(.init(proto: "tcp", ipv6: "2001:db8:1::/64", ipv4: "198.51.100.10", port: 80,
                                              limit: 5)).get()
        #expect(f.proto == IPProtocolNumber.tcp && f.port == 80 && f.limit == 5)
        #expect(f.ipv6 == IPv6Prefix("2001:db8:1::/64"))
        #expect(try SessionFilter.parse(.init(ipv6: "2001:db8::2")).get().ipv6 == IPv6Prefix("2001:db8::2/128"))
        for bad: ControlRequest.Sessions in [.init(proto: "sctp"), .init(port: 70000), .init(limit: 0),
                                             .init(ipv4: "1.2.3"), .init(ipv6: "2001:db8::/129")] {
            #expect(throws: ControlError.self) { try SessionFilter.parse(bad).get() }
        }
    }

    @Test func filtersDeduplicatesAndLimits() throws {
        let a = binding("2001:db8:1::2", 40000, proto: IPProtocolNumber.tcp, outside: 2000, remote: "198.51.100.10",
                        remotePort: 80)
        let b = binding("2001:db8:1::3", 40001, proto: IPProtocolNumber.udp, outside: 2001, remote: "198.51.100.11",
                        remotePort: 53)
        var f = SessionFilter()
        // Two queues sharing one table report every session twice.
        var r = f.report([a, b, a, b], now: 10_000_000_000)
        #expect(r.total == 2 && r.matched == 2)
        #expect(r.sessions[0] == SessionReport(a, now: 10_000_000_000))
        #expect(r.sessions[0].tcpState == "ESTABLISHED")
        #expect(r.sessions[0].ageSeconds == 9 && r.sessions[0].idleSeconds == 5 && r.sessions[0].expiresInSeconds == 295)
        f.proto = IPProtocolNumber.udp
        r = f.report([a, b], now: 10_000_000_000)
        #expect(r.sessions.map(\.ipv6Port) == [40001])
        f = SessionFilter()
        f.port = 80
        #expect(f.report([a, b], now: 0).matched == 1)
        f = SessionFilter()
        f.ipv4 = IPv4Address("198.51.100.11")
        #expect(f.report([a, b], now: 0).sessions.map(\.remote) == ["198.51.100.11"])
        f = SessionFilter()
        f.limit = 1
        r = f.report([a, b], now: 0)
        #expect(r.sessions.count == 1 && r.matched == 2)
    }
}

@Suite struct CtlTextTests {
    @Test func aMistypedCommandGetsASuggestion() {
        let names = CtlCommand.configuration.subcommands.compactMap { $0.configuration.commandName }
        #expect(Suggestion.closest(to: "stat", among: names) == "stats")
        #expect(Suggestion.closest(to: "relaod", among: names) == "reload")
    }

    @Test func helpForOneCommand() {
        let stats = CtlCommand.helpMessage(for: CtlStats.self)
        #expect(stats.contains("Translator counters"))
        #expect(stats.contains("--json"))
        #expect(!stats.contains("capture stop"))
        #expect(CtlCommand.helpMessage(for: CtlReload.self).contains("Re-read the configuration file"))
    }

    @Test func pool4PortCounts() throws {
        let c = try GatewayConfiguration.parse("""
            [translator]
            prefix = "2001:db8:64::/96"
            pool4 = ["192.0.2.1", "203.0.113.0/28 1024-65535"]
            [gateway]
            ipv4 = "198.51.100.1"
            ipv6 = "2001:db8:1::1"
            """, file: "t.toml")
        #expect(StartupSummary.pool4(c.translator) == "192.0.2.1/32 (65535 ports), 203.0.113.0/28 (1032192 ports)")
    }

    @Test func theSummaryCountsPortForwards() throws {
        let text = """
            [translator]
            prefix = "2001:db8:64::/96"
            pool4 = ["192.0.2.1"]
            forward = ["tcp 192.0.2.1:2201 [2001:db8:a::10]:22", "udp 192.0.2.1:53 [2001:db8:a::10]:53"]
            [gateway]
            ipv4 = "198.51.100.1"
            ipv6 = "2001:db8:1::1"
            """
        func summary(_ t: String) throws -> [String: String] {
            let c = try GatewayConfiguration.parse(t, file: "t.toml")
            return StartupSummary.metadata(c, configPath: "t.toml", queues: 1, offload: true, udpOffload: true,
                                           controlSocket: "/run/nat64d.sock").mapValues { "\($0)" }
        }
        #expect(try summary(text)["forwards"] == "2")
        #expect(try summary(text.replacingOccurrences(of: "forward = ", with: "# forward = "))["forwards"] == nil)
    }
}

@Suite struct Pool4AndBIBReportTests {
    func binding(_ v6: String, _ port: UInt16, outside: UInt16, remotePort: UInt16, proto: UInt8 = IPProtocolNumber.tcp)
        -> Binding
    {
        Binding(inside: Endpoint6(address: IPv6Address(v6)!, port: port, proto: proto),
                outside: Endpoint4(address: IPv4Address("192.0.2.1")!, port: outside, proto: proto),
                remote: Endpoint4(address: IPv4Address("198.51.100.10")!, port: remotePort, proto: proto),
                lastUsed: 0, created: 0, expires: 0, tcpState: nil)
    }

    @Test func portsUsedAndFreePerAddressAndProtocol() throws {
        let c = try GatewayConfiguration.parse("""
            [translator]
            prefix = "2001:db8:64::/96"
            pool4 = ["192.0.2.0/31 1024-2047"]
            [gateway]
            ipv4 = "198.51.100.1"
            ipv6 = "2001:db8:1::1"
            """, file: "t.toml")
        // Two sessions of one mapping use one port; a UDP session another.
        let bindings = [binding("2001:db8:1::2", 40000, outside: 1500, remotePort: 80),
                        binding("2001:db8:1::2", 40000, outside: 1500, remotePort: 443),
                        binding("2001:db8:1::3", 40001, outside: 1600, remotePort: 53, proto: IPProtocolNumber.udp)]
        let r = Pool4Report(translator: c.translator, bindings: bindings, exhaustionDrops: 7)
        #expect(r.addresses.map(\.address) == ["192.0.2.0", "192.0.2.1"])
        #expect(r.addresses[1].used == ["tcp": 1, "udp": 1, "icmp": 0])
        #expect(r.addresses[1].free["tcp"] == 1023 && r.addresses[0].free["tcp"] == 1024)
        #expect(r.addresses[0].ports == "1024-2047" && r.exhaustionDrops == 7)

        let bib = BIBReport(bindings: bindings + bindings, limit: 10)
        #expect(bib.total == 2)
        #expect(bib.entries.map(\.sessions) == [2, 1])
        #expect(BIBReport(bindings: bindings, limit: 1).entries.count == 1)
    }
}

@Suite struct StartupTextTests {
    @Test func utcTimes() {
        #expect(utcText(0) == "1970-01-01T00:00:00Z")
        #expect(utcText(1_796_102_376) == "2026-12-01T05:19:36Z")
    }

    @Test func dns64BindErrorsNameTheKeyAndTheFix() {
        let reason = DNS64ListenError.systemText("bind(descriptor:ptr:bytes:): Address already in use (errno: 98)")
        #expect(reason == "Address already in use (errno: 98)")
        let e = DNS64ListenError(address: "[2001:db8:1::1]:53", reason: reason)
        #expect(e.description.hasPrefix("dns64.listen [2001:db8:1::1]:53: cannot listen: Address already in use"))
        #expect(e.description.contains("pick another address in dns64.listen"))
    }
}

/// A reload keeps the DNS64's cached answers unless the change alters what a query is answered with.
@Suite struct ReloadDNS64CacheTests {
    func dns64() throws -> GatewayConfiguration.DNS64 { try sampleConfiguration().dns64 }

    @Test func listenersTimeoutsAndTheAllowListKeepTheCache() throws {
        let old = try dns64()
        var new = old
        new.timeoutMilliseconds += 500
        new.tcpIdleTimeoutMilliseconds += 1000
        new.allow = []
        new.listen = []
        new.deadlineMilliseconds += 1
        #expect(GatewayReloader.cacheFlushReasons(old, new) == [])
    }

    @Test func whatChangesAnswersFlushesTheCacheAndIsNamed() throws {
        let old = try dns64()
        var new = old
        new.upstreams = []
        new.synthesizeOnError.toggle()
        new.cacheMaxTTL = 60
        #expect(GatewayReloader.cacheFlushReasons(old, new)
            == ["dns64.upstream", "dns64.synthesize-on-error", "dns64.cache-max-ttl"])
        new = old
        new.prefixes = [NAT64Prefix("64:ff9b::/96")!]
        #expect(GatewayReloader.cacheFlushReasons(old, new) == ["dns64.prefix"])
    }
}
