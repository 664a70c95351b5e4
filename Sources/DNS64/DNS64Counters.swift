// Counters of the DNS64 service (rule N6 of docs/dns64.md): queries by type, replies by rcode, synthesized
// answers, cache hits and misses, upstream latency and failures, refused clients. Plain atomics for the hot
// ones, a lock for the per-type tables; read as one snapshot.
import Logging
import Synchronization

/// A snapshot of the server's counters. Each is monotonic from `DNS64Server.init`.
public struct DNS64Counters: Hashable, Sendable {
    /// Queries received (anything with a DNS header and QR=0, refused and malformed ones included).
    public var queries: Int
    /// Replies carrying synthesized AAAA records (D2) or a synthesized PTR CNAME (D8).
    public var synthesized: Int
    /// Queries answered from local data (ipv4only.arpa D9, partial ip6.arpa names D8).
    public var local: Int
    /// Queries refused because the client is not on the allow list (D10).
    public var refused: Int
    /// Upstream attempts that produced no usable answer (timeout or send error), per upstream tried (N3).
    public var upstreamFailures: Int
    /// Queries answered with FORMERR (N5).
    public var formErr: Int
    /// Queries answered with NOTIMP (N5).
    public var notImp: Int
    /// Queries answered with BADVERS (EDNS version above 0).
    public var badVersion: Int
    /// Queries dropped because `maxConcurrentQueries` were already in progress.
    public var overloadDrops: Int
    /// Queries answered from the cache (N4).
    public var cacheHits: Int
    /// Queries not in the cache (each either started an upstream resolution or joined one in flight).
    public var cacheMisses: Int
    /// Cache misses that joined an identical query already in flight instead of asking upstream (N4).
    public var inFlightJoins: Int
    /// Upstream queries sent (UDP and TCP attempts).
    public var upstreamQueries: Int
    /// Upstream answers that came back truncated and were asked again over TCP (N2).
    public var upstreamTCPRetries: Int
    /// Upstream answers received, and the sum of their latencies in microseconds (mean = sum / count).
    public var upstreamAnswers: Int
    /// See `upstreamAnswers`.
    public var upstreamLatencyMicroseconds: Int
    /// Upstream answers by latency: ≤1 ms, ≤10 ms, ≤100 ms, ≤1 s, more.
    public var upstreamLatencyHistogram: [Int]
    /// Queries by QTYPE (numeric), for queries that passed intake.
    public var queriesByType: [UInt16: Int]
    /// Replies sent by RCODE (header value).
    public var repliesByRcode: [UInt8: Int]
    /// TCP connections accepted and refused (N1 limits).
    public var tcpConnections: Int
    /// See `tcpConnections`.
    public var tcpConnectionsRefused: Int
    /// Datagrams on upstream sockets that matched no waiting query (wrong ID, QR or question: late answers to
    /// timed-out queries, or spoofing attempts), dropped (N3).
    public var upstreamMismatches: Int
    /// Upstream UDP sockets opened (each on a new random port; see `UpstreamSocketPool`).
    public var upstreamSocketsOpened: Int
    /// Queries answered SERVFAIL at the client deadline (D16).
    public var deadlineExpired: Int = 0
    /// RD=0 queries answered from the cache only, which held nothing for them (D13).
    public var cacheOnlyMisses: Int = 0
    /// TCP connections from clients outside the allow list, closed before taking a connection slot (D10).
    public var tcpConnectionsNotAllowed: Int = 0
    /// TCP connections closed because no whole message arrived in time (idle, or trickling bytes).
    public var tcpMessageTimeouts: Int = 0
    /// Failed accepts on the TCP listeners (file descriptors exhausted); accepting pauses a second each time.
    public var tcpAcceptErrors: Int = 0
    /// Failed receives on the UDP listeners (the thread backs off 1 → 100 ms while they repeat).
    public var udpReceiveErrors: Int = 0
    /// UDP replies the kernel would not take (socket buffer full, peer unreachable): dropped, as UDP may.
    public var udpSendErrors: Int = 0
}

extension DNS64Counters {
    /// Every counter as `(name, value)`, in a fixed order (N6): the totals, then `by-type.NAME`,
    /// `by-rcode.NAME` and `upstream-latency.BUCKET` entries. What `nat64d ctl stats` prints as `dns64.NAME`.
    public var fields: [(name: String, value: Int)] {
        let meanLatency = upstreamAnswers > 0 ? upstreamLatencyMicroseconds / upstreamAnswers : 0
        var list: [(String, Int)] = [
            ("queries", queries), ("synthesized", synthesized), ("local", local), ("refused", refused),
            ("cache-hits", cacheHits), ("cache-misses", cacheMisses), ("in-flight-joins", inFlightJoins),
            ("upstream-queries", upstreamQueries), ("upstream-answers", upstreamAnswers),
            ("upstream-failures", upstreamFailures), ("upstream-tcp-retries", upstreamTCPRetries),
            ("upstream-mismatches", upstreamMismatches), ("upstream-sockets-opened", upstreamSocketsOpened),
            ("upstream-mean-latency-us", meanLatency), ("formerr", formErr), ("notimp", notImp),
            ("badvers", badVersion), ("overload-drops", overloadDrops), ("tcp-connections", tcpConnections),
            ("tcp-connections-refused", tcpConnectionsRefused),
            ("deadline-expired", deadlineExpired), ("cache-only-misses", cacheOnlyMisses),
            ("tcp-connections-not-allowed", tcpConnectionsNotAllowed), ("tcp-message-timeouts", tcpMessageTimeouts),
            ("tcp-accept-errors", tcpAcceptErrors), ("udp-receive-errors", udpReceiveErrors),
            ("udp-send-errors", udpSendErrors),
        ]
        list += queriesByType.sorted { $0.key < $1.key }.map { ("by-type.\(DNSRecordType(rawValue: $0.key))", $0.value) }
        list += repliesByRcode.sorted { $0.key < $1.key }.map { ("by-rcode.\(DNSRcode(rawValue: $0.key))", $0.value) }
        let buckets = ["le-1ms", "le-10ms", "le-100ms", "le-1s", "gt-1s"]
        list += zip(buckets, upstreamLatencyHistogram).map { ("upstream-latency.\($0)", $1) }
        return list
    }

    /// The counters as log metadata (N6), e.g. for a summary when the server stops. Types and rcodes are
    /// written as `NAME=count` lists.
    public var metadata: Logger.Metadata {
        var metadata: Logger.Metadata = [:]
        for (name, value) in fields where !name.contains(".") { metadata[name] = "\(value)" }
        let types = queriesByType.sorted { $0.key < $1.key }
            .map { "\(DNSRecordType(rawValue: $0.key))=\($0.value)" }.joined(separator: ",")
        let rcodes = repliesByRcode.sorted { $0.key < $1.key }
            .map { "\(DNSRcode(rawValue: $0.key))=\($0.value)" }.joined(separator: ",")
        metadata["by-type"] = "\(types)"
        metadata["by-rcode"] = "\(rcodes)"
        return metadata
    }
}

/// The live counters behind `DNS64Counters`.
final class CounterStore: Sendable {
    let queries = Atomic<Int>(0)
    let synthesized = Atomic<Int>(0)
    let local = Atomic<Int>(0)
    let refused = Atomic<Int>(0)
    let upstreamFailures = Atomic<Int>(0)
    let formErr = Atomic<Int>(0)
    let notImp = Atomic<Int>(0)
    let badVersion = Atomic<Int>(0)
    let overloadDrops = Atomic<Int>(0)
    let cacheHits = Atomic<Int>(0)
    let cacheMisses = Atomic<Int>(0)
    let inFlightJoins = Atomic<Int>(0)
    let upstreamQueries = Atomic<Int>(0)
    let upstreamTCPRetries = Atomic<Int>(0)
    let upstreamAnswers = Atomic<Int>(0)
    let upstreamLatency = Atomic<Int>(0)
    let tcpConnections = Atomic<Int>(0)
    let tcpConnectionsRefused = Atomic<Int>(0)
    let upstreamMismatches = Atomic<Int>(0)
    let upstreamSocketsOpened = Atomic<Int>(0)
    let deadlineExpired = Atomic<Int>(0)
    let cacheOnlyMisses = Atomic<Int>(0)
    let tcpConnectionsNotAllowed = Atomic<Int>(0)
    let tcpMessageTimeouts = Atomic<Int>(0)
    let udpReceiveErrors = Atomic<Int>(0)
    let udpSendErrors = Atomic<Int>(0)
    private let histogram = Mutex<[Int]>([0, 0, 0, 0, 0])
    /// Queries by QTYPE: 0…255 in their own slot, every larger type in slot 256 (counted exactly in `rareTypes`).
    private let byType: [257 of Atomic<Int>] = InlineArray { _ in Atomic(0) }
    private let rareTypes = Mutex<[UInt16: Int]>([:])
    /// Replies by RCODE (the header's 4 bits).
    private let byRcode: [16 of Atomic<Int>] = InlineArray { _ in Atomic(0) }
    /// Queries in progress (not a counter: goes up and down).
    let inFlight = Atomic<Int>(0)

    /// Counts one reply by what it is and its rcode.
    func count(_ outcome: DNSReply.Outcome, bytes: [UInt8]) {
        switch outcome {
        case .synthesized: synthesized.add(1, ordering: .relaxed)
        case .local: local.add(1, ordering: .relaxed)
        case .refused: refused.add(1, ordering: .relaxed)
        case .formErr: formErr.add(1, ordering: .relaxed)
        case .notImp: notImp.add(1, ordering: .relaxed)
        case .badVersion: badVersion.add(1, ordering: .relaxed)
        case .deadline: deadlineExpired.add(1, ordering: .relaxed)
        case .cacheOnlyMiss: cacheOnlyMisses.add(1, ordering: .relaxed)
        case .relayed, .filtered, .upstreamFailure: break
        }
        if bytes.count >= DNSHeader.length {
            byRcode[Int(bytes[3] & 0x0F)].add(1, ordering: .relaxed)
        }
    }

    /// Counts one accepted query by type.
    func countQuery(type: DNSRecordType) {
        if type.rawValue < 256 {
            byType[Int(type.rawValue)].add(1, ordering: .relaxed)
        } else {
            rareTypes.withLock { $0[type.rawValue, default: 0] += 1 }
        }
    }

    /// Records one upstream answer's latency.
    func upstreamAnswered(after nanoseconds: UInt64) {
        let micros = Int(nanoseconds / 1000)
        upstreamAnswers.add(1, ordering: .relaxed)
        upstreamLatency.add(micros, ordering: .relaxed)
        let bucket = micros <= 1000 ? 0 : micros <= 10_000 ? 1 : micros <= 100_000 ? 2 : micros <= 1_000_000 ? 3 : 4
        histogram.withLock { $0[bucket] += 1 }
    }

    var snapshot: DNS64Counters {
        var types = rareTypes.withLock { $0 }
        for i in 0..<256 {
            let n = byType[i].load(ordering: .relaxed)
            if n > 0 { types[UInt16(i)] = n }
        }
        var rcodes: [UInt8: Int] = [:]
        for i in 0..<16 {
            let n = byRcode[i].load(ordering: .relaxed)
            if n > 0 { rcodes[UInt8(i)] = n }
        }
        return DNS64Counters(
            queries: queries.load(ordering: .relaxed), synthesized: synthesized.load(ordering: .relaxed),
            local: local.load(ordering: .relaxed), refused: refused.load(ordering: .relaxed),
            upstreamFailures: upstreamFailures.load(ordering: .relaxed), formErr: formErr.load(ordering: .relaxed),
            notImp: notImp.load(ordering: .relaxed), badVersion: badVersion.load(ordering: .relaxed),
            overloadDrops: overloadDrops.load(ordering: .relaxed), cacheHits: cacheHits.load(ordering: .relaxed),
            cacheMisses: cacheMisses.load(ordering: .relaxed), inFlightJoins: inFlightJoins.load(ordering: .relaxed),
            upstreamQueries: upstreamQueries.load(ordering: .relaxed),
            upstreamTCPRetries: upstreamTCPRetries.load(ordering: .relaxed),
            upstreamAnswers: upstreamAnswers.load(ordering: .relaxed),
            upstreamLatencyMicroseconds: upstreamLatency.load(ordering: .relaxed),
            upstreamLatencyHistogram: histogram.withLock { $0 }, queriesByType: types, repliesByRcode: rcodes,
            tcpConnections: tcpConnections.load(ordering: .relaxed),
            tcpConnectionsRefused: tcpConnectionsRefused.load(ordering: .relaxed),
            upstreamMismatches: upstreamMismatches.load(ordering: .relaxed),
            upstreamSocketsOpened: upstreamSocketsOpened.load(ordering: .relaxed),
            deadlineExpired: deadlineExpired.load(ordering: .relaxed),
            cacheOnlyMisses: cacheOnlyMisses.load(ordering: .relaxed),
            tcpConnectionsNotAllowed: tcpConnectionsNotAllowed.load(ordering: .relaxed),
            tcpMessageTimeouts: tcpMessageTimeouts.load(ordering: .relaxed),
            udpReceiveErrors: udpReceiveErrors.load(ordering: .relaxed),
            udpSendErrors: udpSendErrors.load(ordering: .relaxed))
    }
}
