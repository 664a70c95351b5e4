// The Prometheus view of the daemon's counters: what `nat64d ctl stats` prints, as metrics (swift-prometheus
// renders the text exposition format). The packet thread and the DNS64 keep their own plain counters (no
// metrics calls on the packet path); each scrape reads their latest snapshots and brings the registry's
// counters up to them, so a scrape costs nothing between scrapes.
import DNS64
import FastPath
import Forwarding
import InboundProxy
import NAT64Translator
import Prometheus
import RouterAdvertisement
import Synchronization

/// The counters of one moment, as the packet thread and the DNS64 report them.
struct MetricsSnapshot: Sendable {
    var forwarder: ForwarderStats
    /// Each packet thread's counters, in queue order (empty: not reported per queue).
    var queues: [ForwarderStats] = []
    /// The metrics listener's own counters (set by the listener when it serves a scrape).
    var listener: (refused: Int, timedOut: Int, oversized: Int, acceptErrors: Int)?
    /// Failed writes of the pool-assignment journal (mode pool with a state-dir), when it runs.
    var journalWriteFailures: UInt64?
    var dns: DNS64Counters?
    var dnsCacheEntries: Int?
    /// The router advertisement interfaces (MetricsExporter+RA.swift).
    var ra: [RouterAdvertiser.Status] = []
    /// The inbound proxy's status, when it runs (`proxySamples`, ProxyMetrics.swift).
    var proxy: ProxyStatus? = nil
    /// The control socket server's counters (`controlSamples`, StatsSamples.swift).
    var control: ControlCounts? = nil
    /// The in-kernel fast path, when `[fast-path]` runs (FastPathMetrics.swift).
    var fastPath: FastPathStatus? = nil
}

/// Mirrors snapshots into a `PrometheusCollectorRegistry` and renders it.
final class MetricsExporter: Sendable {
    private let registry = PrometheusCollectorRegistry()
    /// What each counter (by name and labels) has been raised to so far.
    private let mirrored = Mutex<[String: Int64]>([:])

    /// The exposition text for `snapshot` (content type `text/plain; version=0.0.4`).
    func render(_ snapshot: MetricsSnapshot) -> [UInt8] {
        mirrored.withLock { last in
            for sample in Self.samples(snapshot) {
                let key = sample.name + "|" + sample.labels.map { "\($0)=\($1)" }.joined(separator: ",")
                let descriptor = MetricNameDescriptor(metricName: sample.name, unitName: "", helpText: sample.help)
                switch sample.kind {
                case .gauge:
                    registry.makeGauge(descriptor: descriptor, labels: sample.labels).set(sample.value)
                case .counter:
                    let counter = registry.makeCounter(descriptor: descriptor, labels: sample.labels)
                    let before = last[key] ?? 0
                    if sample.value < before {
                        counter.reset()  // the source restarted (cannot happen within one daemon run)
                        counter.increment(by: sample.value)
                    } else if sample.value > before {
                        counter.increment(by: sample.value - before)
                    }
                    last[key] = sample.value
                }
            }
        }
        return registry.emitToBuffer()
    }

    struct Sample: Sendable {
        enum Kind { case counter, gauge }
        var kind: Kind
        var name: String
        var labels: [(String, String)]
        var value: Int64
        var help: String

        /// A counter sample (the one constructor every list of samples uses).
        static func counter(_ name: String, _ value: some BinaryInteger, _ help: String,
                            _ labels: [(String, String)] = []) -> Sample {
            Sample(kind: .counter, name: name, labels: labels, value: Int64(clamping: value), help: help)
        }

        /// A gauge sample.
        static func gauge(_ name: String, _ value: some BinaryInteger, _ help: String,
                          _ labels: [(String, String)] = []) -> Sample {
            Sample(kind: .gauge, name: name, labels: labels, value: Int64(clamping: value), help: help)
        }
    }

    /// Every metric of a snapshot. Names follow the Prometheus conventions: `nat64d_` prefix, `_total` on
    /// counters, one metric with a label where `ctl stats` has a family (`drops.REASON` → `reason`).
    static func samples(_ s: MetricsSnapshot) -> [Sample] {
        let c = s.forwarder.counters
        var list: [Sample] = [
            Sample.counter("nat64d_translated_packets_total", c.translated6to4, "Packets translated, by direction.",
                    [("direction", "6to4")]),
            Sample.counter("nat64d_translated_packets_total", c.translated4to6, "Packets translated, by direction.",
                    [("direction", "4to6")]),
            Sample.counter("nat64d_icmp_errors_sent_total", c.icmpErrorsSent, "ICMP errors the gateway generated."),
            Sample.counter("nat64d_icmp_errors_rate_limited_total", c.icmpErrorsRateLimited,
                    "Generated ICMP errors suppressed by the per-destination or the total rate limit."),
            Sample.counter("nat64d_icmp_errors_translated_total", c.icmpErrorsTranslated,
                    "ICMP errors translated from one family to the other."),
            Sample.counter("nat64d_hairpinned_packets_total", c.hairpinned, "Packets between two IPv6 hosts through pool4."),
            Sample.counter("nat64d_fragments_emitted_total", c.fragmentsEmitted, "IPv6 fragments made from IPv4 packets."),
            Sample.counter("nat64d_tun_read_errors_total", s.forwarder.readErrors, "Failed reads from the TUN device."),
            Sample.counter("nat64d_tun_write_errors_total", s.forwarder.writeErrors, "Failed writes to the TUN device."),
            Sample.counter("nat64d_tun_bad_offload_headers_total", s.forwarder.badOffloadHeaders,
                    "Packets whose virtio-net header did not describe them."),
            Sample(kind: .gauge, name: "nat64d_sessions", labels: [], value: Int64(s.forwarder.sessions),
                   help: "Mappings in the state table."),
            Sample(kind: .gauge, name: "nat64d_forwards", labels: [("state", "active")],
                   value: Int64(s.forwarder.forwards - s.forwarder.forwardsWaiting),
                   help: "Port forwards (translator.forward): active, or waiting while a dynamic mapping holds the port."),
            Sample(kind: .gauge, name: "nat64d_forwards", labels: [("state", "waiting")],
                   value: Int64(s.forwarder.forwardsWaiting),
                   help: "Port forwards (translator.forward): active, or waiting while a dynamic mapping holds the port."),
        ]
        list.append(Sample.counter("nat64d_tun_super_packets_total", s.forwarder.device.tcpSuperPackets,
                            "GSO super-packets read from the TUN, by protocol.", [("proto", "tcp")]))
        list.append(Sample.counter("nat64d_tun_super_packets_total", s.forwarder.device.udpSuperPackets,
                            "GSO super-packets read from the TUN, by protocol.", [("proto", "udp")]))
        if let l = s.listener {
            list.append(Sample.counter("nat64d_metrics_connections_refused_total", l.refused,
                                "Metrics connections closed to make room for a newer one (too many open)."))
            list.append(Sample.counter("nat64d_metrics_connections_timed_out_total", l.timedOut,
                                "Metrics connections cut off at the request deadline."))
            list.append(Sample.counter("nat64d_metrics_requests_oversized_total", l.oversized,
                                "Metrics requests closed for a body over the limit."))
            list.append(Sample.counter("nat64d_metrics_accept_errors_total", l.acceptErrors,
                                "Failed accepts on the metrics listener (file descriptors exhausted)."))
        }
        list.append(Sample.counter("nat64d_sessions_evicted_transitory_total", s.forwarder.transitoryEvictions,
                            "Half-open or closing TCP sessions evicted to admit new flows into a full table."))
        list.append(Sample.counter("nat64d_table_lock_contended_total", s.forwarder.tableLockContended,
                            "Acquisitions of the shared state table's lock that had to wait for another queue."))
        list.append(Sample.counter("nat64d_pool_journal_events_dropped_total", s.forwarder.eventsDropped,
                            "Pool assignments not persisted because the journal's event ring was full."))
        if let failures = s.journalWriteFailures {
            list.append(Sample.counter("nat64d_pool_journal_write_failures_total", failures,
                                "Writes of the pool-assignment journal that failed (state-dir unwritable or full)."))
        }
        for (i, q) in s.queues.enumerated() {
            list.append(Sample.counter("nat64d_queue_packets_total", q.engine.packets,
                                "Packets read from the TUN, by queue (packet thread).", [("queue", "\(i)")]))
        }
        for reason in SessionEvictionReason.allCases {
            list.append(Sample.counter("nat64d_sessions_evicted_total", s.forwarder.sessionEvictions[reason],
                                "Sessions evicted to admit a new flow, by reason.",
                                [("reason", "\(reason)")]))
        }
        for reason in DropReason.allCases {
            list.append(Sample.counter("nat64d_dropped_packets_total", c.drops(reason), "Packets dropped, by reason.",
                                [("reason", "\(reason)")]))
        }
        list += raSamples(s.ra)
        list += abuseSamples(s.forwarder)  // ControlCommands+Who.swift
        if let p = s.proxy { list += proxySamples(p) }
        if let control = s.control { list += controlSamples(control) }
        if let f = s.fastPath { list += fastPathSamples(f) }
        guard let d = s.dns else { return list }
        // (name, value, help) of each DNS64 counter.
        let dnsCounters: [(String, Int, String)] = [
            ("nat64d_dns64_queries_total", d.queries, "DNS queries received."),
            ("nat64d_dns64_synthesized_total", d.synthesized, "Replies with synthesized AAAA or PTR records."),
            ("nat64d_dns64_local_answers_total", d.local, "Queries answered from local data (ipv4only.arpa)."),
            ("nat64d_dns64_refused_total", d.refused, "Queries refused: client not allowed."),
            ("nat64d_dns64_cache_hits_total", d.cacheHits, "Queries answered from the cache."),
            ("nat64d_dns64_cache_misses_total", d.cacheMisses, "Queries not in the cache."),
            ("nat64d_dns64_inflight_joins_total", d.inFlightJoins,
             "Cache misses that joined an identical query in flight."),
            ("nat64d_dns64_upstream_queries_total", d.upstreamQueries, "Queries sent upstream (UDP and TCP)."),
            ("nat64d_dns64_upstream_answers_total", d.upstreamAnswers, "Upstream answers received."),
            ("nat64d_dns64_upstream_latency_microseconds_total", d.upstreamLatencyMicroseconds,
             "Sum of upstream answer latencies; divide by nat64d_dns64_upstream_answers_total."),
            ("nat64d_dns64_upstream_failures_total", d.upstreamFailures, "Upstream attempts without an answer."),
            ("nat64d_dns64_upstream_tcp_retries_total", d.upstreamTCPRetries,
             "Truncated upstream answers asked again over TCP."),
            ("nat64d_dns64_upstream_mismatches_total", d.upstreamMismatches,
             "Upstream datagrams matching no query (late or spoofed), dropped."),
            ("nat64d_dns64_overload_drops_total", d.overloadDrops, "Queries dropped at the concurrency limit."),
            ("nat64d_dns64_tcp_connections_total", d.tcpConnections, "TCP connections accepted."),
            ("nat64d_dns64_tcp_connections_refused_total", d.tcpConnectionsRefused,
             "TCP connections refused at the limits."),
            ("nat64d_dns64_deadline_expired_total", d.deadlineExpired, "Queries answered SERVFAIL at the deadline."),
            ("nat64d_dns64_cache_only_misses_total", d.cacheOnlyMisses, "RD=0 queries the cache had no answer for."),
        ]
        list += dnsCounters.map { Sample.counter($0.0, $0.1, $0.2) }
        for (type, n) in d.queriesByType.sorted(by: { $0.key < $1.key }) {
            list.append(Sample.counter("nat64d_dns64_queries_by_type_total", n, "Queries by type.",
                                [("type", "\(DNSRecordType(rawValue: type))")]))
        }
        for (rcode, n) in d.repliesByRcode.sorted(by: { $0.key < $1.key }) {
            list.append(Sample.counter("nat64d_dns64_replies_total", n, "Replies by rcode.",
                                [("rcode", "\(DNSRcode(rawValue: rcode))")]))
        }
        if let entries = s.dnsCacheEntries {
            list.append(Sample(kind: .gauge, name: "nat64d_dns64_cache_entries", labels: [], value: Int64(entries),
                               help: "Answers in the DNS64 cache."))
        }
        return list
    }
}
