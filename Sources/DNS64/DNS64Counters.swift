// Counters of the DNS64 service (rule N6, first slice): plain atomics, read as one snapshot.
import Synchronization

/// A snapshot of the server's counters. Each is monotonic from `DNS64Server.init`.
public struct DNS64Counters: Hashable, Sendable {
    /// Queries received (anything with a DNS header and QR=0, refused and malformed ones included).
    public var queries: Int
    /// Replies carrying synthesized AAAA records (D2).
    public var synthesized: Int
    /// Queries refused because the client is not on the allow list (D10).
    public var refused: Int
    /// Upstream attempts that produced no usable answer (timeout or send error), per upstream tried (N3).
    public var upstreamFailures: Int
    /// Queries answered with FORMERR (N5).
    public var formErr: Int
    /// Queries answered with NOTIMP (N5).
    public var notImp: Int
    /// Queries dropped because `maxConcurrentQueries` were already in progress.
    public var overloadDrops: Int
}

/// The live counters behind `DNS64Counters`.
final class CounterStore: Sendable {
    let queries = Atomic<Int>(0)
    let synthesized = Atomic<Int>(0)
    let refused = Atomic<Int>(0)
    let upstreamFailures = Atomic<Int>(0)
    let formErr = Atomic<Int>(0)
    let notImp = Atomic<Int>(0)
    let overloadDrops = Atomic<Int>(0)
    /// Queries in progress (not a counter: goes up and down).
    let inFlight = Atomic<Int>(0)

    func count(_ reply: DNSReply.Outcome) {
        switch reply {
        case .synthesized: synthesized.add(1, ordering: .relaxed)
        case .refused: refused.add(1, ordering: .relaxed)
        case .formErr: formErr.add(1, ordering: .relaxed)
        case .notImp: notImp.add(1, ordering: .relaxed)
        case .relayed, .filtered, .upstreamFailure: break
        }
    }

    var snapshot: DNS64Counters {
        DNS64Counters(
            queries: queries.load(ordering: .relaxed), synthesized: synthesized.load(ordering: .relaxed),
            refused: refused.load(ordering: .relaxed), upstreamFailures: upstreamFailures.load(ordering: .relaxed),
            formErr: formErr.load(ordering: .relaxed), notImp: notImp.load(ordering: .relaxed),
            overloadDrops: overloadDrops.load(ordering: .relaxed))
    }
}
