// `ctl dns64 cache [--flush] [--json]`: the answers the DNS64 holds, in total and per shard; `--flush` empties
// the cache first and says how many entries went (queries in flight still store their answers afterwards).
import DNS64

struct DNS64CacheReport: Codable, Equatable {
    /// Entries now (after a flush: what arrived since).
    var entries: Int
    /// Entries in each shard of the cache, in shard order.
    var shards: [Int]
    /// Entries a `--flush` removed; absent without `--flush`.
    var flushed: Int?

    /// The report of `dns`, flushing it first when `flush`.
    init(_ dns: DNS64Server, flush: Bool) {
        flushed = flush ? dns.flushCache() : nil
        shards = dns.cachedAnswersPerShard
        entries = shards.reduce(0, +)
    }

    var lines: [String] {
        (flushed.map { ["flushed \($0)"] } ?? []) + ["entries \(entries)", "shards \(shards.count)"]
            + (shards.count > 1 ? ["per-shard " + shards.map(String.init).joined(separator: " ")] : [])
    }

    static func reply(_ dns: DNS64Server?, flush: Bool, json: Bool) -> ControlReply {
        guard let dns else { return .failure(ControlError("the DNS64 is not running ([dns64] is absent or enabled = false)")) }
        let report = DNS64CacheReport(dns, flush: flush)
        return json ? .json(report) : .text(report.lines)
    }
}
