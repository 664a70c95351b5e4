@testable import DNS64
import Forwarding
import Glibc
import NAT64Translator
import NIOCore
import NIOPosix
import Testing
@testable import nat64d

/// The `[metrics]` endpoint: counters mirrored into Prometheus text, and the HTTP listener serving them.
struct MetricsTests {
    static func snapshot(six: UInt64, four: UInt64, truncated: UInt64, sessions: Int, dnsQueries: Int?)
        -> MetricsSnapshot
    {
        var stats = ForwarderStats()
        stats.counters.translated6to4 = six
        stats.counters.translated4to6 = four
        for _ in 0..<truncated { stats.counters.count(.truncated) }
        stats.sessions = sessions
        var dns: DNS64Counters?
        if let dnsQueries {
            dns = DNS64Counters(
                queries: dnsQueries, synthesized: 1, local: 0, refused: 2, upstreamFailures: 0, formErr: 0, notImp: 0,
                badVersion: 0, overloadDrops: 0, cacheHits: 3, cacheMisses: 1, inFlightJoins: 0, upstreamQueries: 2,
                upstreamTCPRetries: 0, upstreamAnswers: 2, upstreamLatencyMicroseconds: 900,
                upstreamLatencyHistogram: [2, 0, 0, 0, 0], queriesByType: [28: dnsQueries], repliesByRcode: [0: 4, 5: 2],
                tcpConnections: 0, tcpConnectionsRefused: 0, upstreamMismatches: 0, upstreamSocketsOpened: 1)
        }
        return MetricsSnapshot(forwarder: stats, dns: dns, dnsCacheEntries: dns == nil ? nil : 7)
    }

    /// The value of the sample line `series` (name with its labels as Prometheus prints them).
    static func value(_ text: String, _ series: String) -> String? {
        text.split(separator: "\n").first { $0.hasPrefix(series + " ") }.map { String($0.dropFirst(series.count + 1)) }
    }

    @Test func countersMirrorSnapshotsAcrossScrapes() {
        let exporter = MetricsExporter()
        var text = String(decoding: exporter.render(Self.snapshot(six: 5, four: 3, truncated: 2, sessions: 4, dnsQueries: 6)), as: UTF8.self)
        #expect(text.contains("# TYPE nat64d_translated_packets_total counter"))
        #expect(Self.value(text, #"nat64d_translated_packets_total{direction="6to4"}"#) == "5")
        #expect(Self.value(text, #"nat64d_translated_packets_total{direction="4to6"}"#) == "3")
        #expect(Self.value(text, #"nat64d_dropped_packets_total{reason="truncated"}"#) == "2")
        #expect(Self.value(text, #"nat64d_dropped_packets_total{reason="no-state"}"#) == "0")
        #expect(text.contains("# TYPE nat64d_sessions gauge"))
        #expect(Self.value(text, "nat64d_sessions") == "4.0")
        #expect(Self.value(text, "nat64d_dns64_queries_total") == "6")
        #expect(Self.value(text, #"nat64d_dns64_queries_by_type_total{type="AAAA"}"#) == "6")
        #expect(Self.value(text, #"nat64d_dns64_replies_total{rcode="REFUSED"}"#) == "2")
        #expect(Self.value(text, "nat64d_dns64_cache_entries") == "7.0")
        // The next scrape raises each counter to the new total (not by it), and lowers the gauge.
        text = String(decoding: exporter.render(Self.snapshot(six: 9, four: 3, truncated: 2, sessions: 1, dnsQueries: 10)), as: UTF8.self)
        #expect(Self.value(text, #"nat64d_translated_packets_total{direction="6to4"}"#) == "9")
        #expect(Self.value(text, #"nat64d_translated_packets_total{direction="4to6"}"#) == "3")
        #expect(Self.value(text, "nat64d_sessions") == "1.0")
        #expect(Self.value(text, "nat64d_dns64_queries_total") == "10")
    }

    @Test func withoutDNS64NoDNSMetrics() {
        let text = String(decoding: MetricsExporter().render(Self.snapshot(six: 1, four: 1, truncated: 0, sessions: 0, dnsQueries: nil)), as: UTF8.self)
        #expect(Self.value(text, #"nat64d_translated_packets_total{direction="6to4"}"#) == "1")
        #expect(!text.contains("nat64d_dns64_"))
    }

    /// One HTTP/1.1 request over a plain socket; returns the whole response (the server closes after it).
    static func http(_ port: Int, _ request: String) throws -> String {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        try #require(connected == 0)
        _ = request.withCString { send(fd, $0, strlen($0), 0) }
        var response: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = recv(fd, &chunk, chunk.count, 0)
            if n <= 0 { break }
            response += chunk[0..<n]
        }
        return String(decoding: response, as: UTF8.self)
    }

    @Test func serverAnswersMetricsOnlyAndClosesEachConnection() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let server = try await MetricsServer(
            address: try SocketAddress(ipAddress: "127.0.0.1", port: 0), group: group, exporter: MetricsExporter()
        ) {
            Self.snapshot(six: 42, four: 0, truncated: 0, sessions: 0, dnsQueries: nil)
        }
        let port = try #require(server.localAddress?.port)
        let ok = try Self.http(port, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(ok.hasPrefix("HTTP/1.1 200 OK"))
        #expect(ok.lowercased().contains("content-type: text/plain; version=0.0.4"))
        #expect(ok.contains(#"nat64d_translated_packets_total{direction="6to4"} 42"#))
        #expect(try Self.http(port, "GET /other HTTP/1.1\r\nHost: x\r\n\r\n").hasPrefix("HTTP/1.1 404 Not Found"))
        let post = try Self.http(port, "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
        #expect(post.hasPrefix("HTTP/1.1 405 Method Not Allowed"))
        await server.stop()
        try await group.shutdownGracefully()
    }

    /// A plain connected socket that sends nothing (an idle or slow-loris client).
    static func idleConnection(_ port: Int) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        var timeout = timeval(tv_sec: 30, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        try #require(connected == 0)
        return fd
    }

    /// Blocks until the server closes `fd` (recv returns 0); false on a receive timeout.
    static func closedByServer(_ fd: Int32) -> Bool {
        var byte: UInt8 = 0
        return recv(fd, &byte, 1, 0) == 0
    }

    /// Beyond the cap a new connection takes the oldest one's place (closed and counted); the others are cut off
    /// at the request deadline even if they trickle bytes; a scrape works afterwards and reports the counters.
    @Test(.timeLimit(.minutes(1))) func listenerCapsConnectionsAndCutsSlowClients() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let server = try await MetricsServer(
            address: try SocketAddress(ipAddress: "127.0.0.1", port: 0), group: group, exporter: MetricsExporter(),
            maxConnections: 2, deadline: .seconds(1)
        ) {
            Self.snapshot(six: 1, four: 0, truncated: 0, sessions: 0, dnsQueries: nil)
        }
        let port = try #require(server.localAddress?.port)
        let a = try Self.idleConnection(port), b = try Self.idleConnection(port)
        defer { close(a); close(b) }
        // Wait until both are counted open before the third one arrives.
        while server.counters.open.load(ordering: .relaxed) < 2 { try await Task.sleep(for: .milliseconds(10)) }
        let c = try Self.idleConnection(port)
        defer { close(c) }
        #expect(Self.closedByServer(a), "over the cap: the oldest connection makes room")
        #expect(server.counters.refused.load(ordering: .relaxed) == 1)
        _ = "G".withCString { send(b, $0, 1, 0) }  // a slow client's first byte does not buy more time
        #expect(Self.closedByServer(b) && Self.closedByServer(c), "cut off at the request deadline")
        #expect(server.counters.timedOut.load(ordering: .relaxed) == 2)
        while server.counters.open.load(ordering: .relaxed) > 0 { try await Task.sleep(for: .milliseconds(10)) }
        let ok = try Self.http(port, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(ok.hasPrefix("HTTP/1.1 200 OK"))
        #expect(ok.contains("nat64d_metrics_connections_refused_total 1"))
        #expect(ok.contains("nat64d_metrics_connections_timed_out_total 2"))
        await server.stop()
        try await group.shutdownGracefully()
    }
}

/// `ctl stats --json` and /metrics show the same counters: every sample line of the exposition text is in the
/// stats report's "metrics" under the same series, with the same value.
@Suite struct StatsMatchMetricsTests {
    @Test func everyMetricsSampleIsInCtlStatsWithTheSameValue() throws {
        var snapshot = MetricsTests.snapshot(six: 5, four: 3, truncated: 2, sessions: 4, dnsQueries: 6)
        snapshot.forwarder.counters.icmpErrorsRateLimited = 49
        snapshot.forwarder.counters.icmpErrorsSent = 11
        snapshot.forwarder.transitoryEvictions = 3
        snapshot.queues = [snapshot.forwarder, snapshot.forwarder]
        snapshot.ra = [RouterAdvertisementControlTests.status()]
        snapshot.listener = (1, 2, 3, 5)
        snapshot.journalWriteFailures = 6
        snapshot.control = ControlCounts(accepted: 9, refused: 1, timedOut: 2, oversized: 3, malformed: 4)
        let text = String(decoding: MetricsExporter().render(snapshot), as: UTF8.self)
        let report = StatsReport(snapshot, capture: false)
        var seen = 0
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let cut = try #require(line.lastIndex(of: " "))
            let series = String(line[..<cut])
            let value = try #require(Double(line[line.index(after: cut)...]))
            let stats = try #require(report.metrics[series], "\(series) is on /metrics but not in ctl stats")
            #expect(Double(stats) == value, "\(series)")
            seen += 1
        }
        #expect(seen == report.metrics.count, "and nothing in ctl stats' metrics that /metrics lacks")
        // The text form lists the same samples, one a line, without the nat64d_ prefix.
        let lines = MetricsExporter.textLines(snapshot)
        #expect(lines.count == report.metrics.count)
        for line in lines {
            let parts = line.split(separator: " ", omittingEmptySubsequences: true)
            #expect(parts.count == 2 && report.metrics["nat64d_" + parts[0]] == Int64(parts[1]), "\(line)")
        }
        #expect(report.metrics["nat64d_icmp_errors_rate_limited_total"] == 49)
        #expect(report.metrics["nat64d_control_connections_refused_total"] == 1)
        // The named keys the scripts read agree with the samples.
        #expect(Int64(report.icmpErrorsRateLimited) == report.metrics["nat64d_icmp_errors_rate_limited_total"])
        #expect(Int64(report.drops["truncated"] ?? 0) == report.metrics[#"nat64d_dropped_packets_total{reason="truncated"}"#])
        #expect(Int64(report.sessions) == report.metrics["nat64d_sessions"])
    }
}
