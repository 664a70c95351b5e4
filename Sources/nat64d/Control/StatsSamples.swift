// One source of counter names for `ctl stats` and /metrics: both read a `MetricsSnapshot`, and both take their
// samples from `MetricsExporter.samples` — /metrics renders them as Prometheus text, `ctl stats --json` lists
// them under "metrics" by series (`nat64d_dropped_packets_total{reason="no-state"}`), so a counter cannot be
// in one and missing (or different) in the other. The snapshot is made the same way for both here.
import Forwarding
import InboundProxy
import RouterAdvertisement
import Synchronization

/// The control server's counters at one moment.
struct ControlCounts: Sendable, Equatable {
    var accepted: Int
    var refused: Int
    var timedOut: Int
    var oversized: Int
    var malformed: Int
    var acceptErrors = 0

    init(accepted: Int = 0, refused: Int = 0, timedOut: Int = 0, oversized: Int = 0, malformed: Int = 0) {
        self.accepted = accepted
        self.refused = refused
        self.timedOut = timedOut
        self.oversized = oversized
        self.malformed = malformed
    }

    init(_ c: ControlServerCounters) {
        self.init(accepted: c.accepted.load(ordering: .relaxed), refused: c.refused.load(ordering: .relaxed),
                  timedOut: c.timedOut.load(ordering: .relaxed), oversized: c.oversized.load(ordering: .relaxed),
                  malformed: c.malformed.load(ordering: .relaxed))
        acceptErrors = c.acceptErrors.count
    }
}

extension MetricsExporter {
    static func controlSamples(_ c: ControlCounts) -> [Sample] {
        return [
            Sample.counter("nat64d_control_connections_total", c.accepted, "Control socket connections served."),
            Sample.counter("nat64d_control_connections_refused_total", c.refused,
                    "Control socket connections refused at the connection cap."),
            Sample.counter("nat64d_control_connections_timed_out_total", c.timedOut,
                    "Control socket connections closed before a whole request arrived."),
            Sample.counter("nat64d_control_requests_oversized_total", c.oversized, "Control requests over the size limit."),
            Sample.counter("nat64d_control_requests_malformed_total", c.malformed, "Control requests that were not JSON requests."),
            Sample.counter("nat64d_control_accept_errors_total", c.acceptErrors,
                    "Failed accepts on the control socket (file descriptors exhausted)."),
        ]
    }

    /// `name{label="value",...}`, as the exposition text writes a series.
    static func series(_ s: Sample) -> String {
        s.labels.isEmpty ? s.name : s.name + "{" + s.labels.map { "\($0.0)=\"\($0.1)\"" }.joined(separator: ",") + "}"
    }

    /// `ctl stats` as text: each sample's series without the `nat64d_` prefix, then its value, in columns.
    static func textLines(_ snapshot: MetricsSnapshot) -> [String] {
        let rows = samples(snapshot).map { (String(series($0).dropFirst("nat64d_".count)), "\($0.value)") }
        let width = rows.map(\.0.count).max() ?? 0
        return rows.map { $0.0 + String(repeating: " ", count: width - $0.0.count + 2) + $0.1 }
    }

    /// Every sample of `snapshot` by series: what `ctl stats --json` shows under "metrics".
    static func seriesValues(_ snapshot: MetricsSnapshot) -> [String: Int64] {
        Dictionary(samples(snapshot).map { (series($0), $0.value) }, uniquingKeysWith: { a, _ in a })
    }
}

extension MetricsSnapshot {
    /// The snapshot both `ctl stats` and /metrics show: the packet threads' counters (total and per queue), the
    /// DNS64, router advertisements, proxy and the control and metrics servers' own counters.
    static func current(total: ForwarderStats, queues: [ForwarderStats], state: GatewayState,
                        ra: RouterAdvertiser?, proxy: ProxyServer?) -> MetricsSnapshot {
        let dns = state.dns
        var s = MetricsSnapshot(forwarder: total, queues: queues, dns: dns?.counters, dnsCacheEntries: dns?.cachedAnswers)
        s.ra = ra?.status() ?? []
        s.proxy = proxy?.status()
        s.control = state.controlCounters.map(ControlCounts.init)
        s.fastPath = state.fastPath?.status
        if let l = state.metricsCounters {
            s.listener = (l.refused.load(ordering: .relaxed), l.timedOut.load(ordering: .relaxed),
                          l.oversized.load(ordering: .relaxed), l.acceptErrors.count)
        }
        if let journal = state.journal {
            s.journalWriteFailures = journal.writeFailures.load(ordering: .relaxed)
        }
        return s
    }
}
