// `ctl stats --json`: the same counters as the text form and /metrics, as one JSON object for scripts.
//
//   {"translated-6to4": N, ..., "drops": {"no-state": N, ...}, "sessions": N,
//    "queues": [{"queue": 0, "packets": N, "batches": N, ...}], "dns64": {"queries": N, ...}}
import DNS64
import Forwarding
import Foundation
import NAT64Translator
import RouterAdvertisement

/// One packet thread's counters.
struct QueueReport: Codable, Equatable {
    var queue: Int
    var packets: UInt64
    var batches: UInt64
    var translated6to4: UInt64
    var translated4to6: UInt64
    var readErrors: UInt64
    var writeErrors: UInt64

    enum CodingKeys: String, CodingKey {
        case queue, packets, batches
        case translated6to4 = "translated-6to4", translated4to6 = "translated-4to6"
        case readErrors = "tun-read-errors", writeErrors = "tun-write-errors"
    }
}

/// Everything `ctl stats` shows.
struct StatsReport: Codable, Equatable {
    var translated6to4: UInt64
    var translated4to6: UInt64
    var icmpErrorsSent: UInt64
    var icmpErrorsRateLimited: UInt64
    var hairpinned: UInt64
    var dropsTotal: UInt64
    var drops: [String: UInt64]
    var sessions: Int
    var tunReadErrors: UInt64
    var tunWriteErrors: UInt64
    var tunBadOffloadHeaders: UInt64
    var tunTCPSuperPackets: UInt64
    var tunUDPSuperPackets: UInt64
    var tunUDPOffload: Bool
    var poolJournalEventsDropped: UInt64
    var tableLockContended: UInt64
    var sessionsEvictedTransitory: Int
    var sessionsEvicted: [String: Int]
    var queues: [QueueReport]
    var capture: Bool
    var dns64: [String: Int]?
    /// Router advertisement counters per interface (`[ra.IFNAME]`).
    var ra: [String: [String: Int]]?
    /// Port blocks, policy and mapping log counters (ControlCommands+Who.swift).
    var abuse: AbuseReport?
    /// Every sample of /metrics by series, from the same list (StatsSamples.swift).
    var metrics: [String: Int64]

    enum CodingKeys: String, CodingKey {
        case translated6to4 = "translated-6to4", translated4to6 = "translated-4to6"
        case icmpErrorsSent = "icmp-errors-sent", icmpErrorsRateLimited = "icmp-errors-rate-limited"
        case hairpinned, dropsTotal = "drops-total", drops, sessions
        case tunReadErrors = "tun-read-errors", tunWriteErrors = "tun-write-errors"
        case tunBadOffloadHeaders = "tun-bad-offload-headers"
        case tunTCPSuperPackets = "tun-tcp-super-packets", tunUDPSuperPackets = "tun-udp-super-packets"
        case tunUDPOffload = "tun-udp-offload"
        case poolJournalEventsDropped = "pool-journal-events-dropped", tableLockContended = "table-lock-contended"
        case sessionsEvictedTransitory = "sessions-evicted-transitory", sessionsEvicted = "sessions-evicted"
        case queues, capture, dns64, ra, abuse, metrics
    }

    init(total: ForwarderStats, queues: [ForwarderStats], capture: Bool, dns: DNS64Server?,
         ra: [RouterAdvertiser.Status] = []) {
        var snapshot = MetricsSnapshot(forwarder: total, queues: queues, dns: dns?.counters,
                                       dnsCacheEntries: dns?.cachedAnswers)
        snapshot.ra = ra
        self.init(snapshot, capture: capture)
    }

    /// The report of `snapshot`: the named counters the scripts read, and every /metrics sample.
    init(_ snapshot: MetricsSnapshot, capture: Bool) {
        let total = snapshot.forwarder
        let queues = snapshot.queues
        let ra = snapshot.ra
        let c = total.counters
        translated6to4 = c.translated6to4
        translated4to6 = c.translated4to6
        icmpErrorsSent = c.icmpErrorsSent
        icmpErrorsRateLimited = c.icmpErrorsRateLimited
        hairpinned = c.hairpinned
        dropsTotal = DropReason.allCases.reduce(0) { $0 &+ c.drops($1) }
        drops = Dictionary(uniqueKeysWithValues: DropReason.allCases.map { ("\($0)", c.drops($0)) })
        sessions = total.sessions
        tunReadErrors = total.readErrors
        tunWriteErrors = total.writeErrors
        tunBadOffloadHeaders = total.badOffloadHeaders
        tunTCPSuperPackets = total.device.tcpSuperPackets
        tunUDPSuperPackets = total.device.udpSuperPackets
        tunUDPOffload = total.device.udpOffload
        poolJournalEventsDropped = total.eventsDropped
        tableLockContended = total.tableLockContended
        sessionsEvictedTransitory = total.transitoryEvictions
        sessionsEvicted = Dictionary(uniqueKeysWithValues: SessionEvictionReason.allCases.map { ("\($0)", total.sessionEvictions[$0]) })
        self.queues = queues.enumerated().map { i, q in
            QueueReport(queue: i, packets: q.engine.packets, batches: q.engine.batches,
                        translated6to4: q.counters.translated6to4, translated4to6: q.counters.translated4to6,
                        readErrors: q.readErrors, writeErrors: q.writeErrors)
        }
        self.capture = capture
        if let counters = snapshot.dns {
            var fields = Dictionary(counters.fields.map { ($0.name, $0.value) }, uniquingKeysWith: { a, _ in a })
            fields["cache-entries"] = snapshot.dnsCacheEntries ?? 0
            dns64 = fields
        }
        if !ra.isEmpty {
            self.ra = Dictionary(ra.map { s in
                (s.name, Dictionary(s.counters.fields.map { ($0.name, $0.value) }, uniquingKeysWith: { a, _ in a }))
            }, uniquingKeysWith: { a, _ in a })
        }
        metrics = MetricsExporter.seriesValues(snapshot)
    }

    /// The report as one line of JSON with sorted keys.
    var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        guard let data = try? encoder.encode(self) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }
}
