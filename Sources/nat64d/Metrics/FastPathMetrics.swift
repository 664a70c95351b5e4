// The in-kernel fast path's counters ([fast-path]), for /metrics and `ctl stats` alike.
import FastPath

extension MetricsExporter {
    static func fastPathSamples(_ f: FastPathStatus) -> [Sample] {
        [
            Sample.gauge("nat64d_fastpath_enabled", f.enabled ? 1 : 0,
                         "1 while the kernel program translates (0: a capture is running)."),
            Sample.gauge("nat64d_fastpath_flows", f.flows, "Sessions whose data packets the kernel translates now."),
            Sample.counter("nat64d_fastpath_packets_total", f.packets6to4,
                           "Segments the kernel program translated, by direction.", [("direction", "6to4")]),
            Sample.counter("nat64d_fastpath_packets_total", f.packets4to6,
                           "Segments the kernel program translated, by direction.", [("direction", "4to6")]),
            Sample.counter("nat64d_fastpath_bytes_total", f.bytes6to4,
                           "Bytes (IP headers included) the kernel program translated, by direction.",
                           [("direction", "6to4")]),
            Sample.counter("nat64d_fastpath_bytes_total", f.bytes4to6,
                           "Bytes (IP headers included) the kernel program translated, by direction.",
                           [("direction", "4to6")]),
            Sample.counter("nat64d_fastpath_passed_packets_total", f.passed,
                           "Packets of offloaded flows the program left to the TUN (SYN, FIN, RST, size, route)."),
            Sample.counter("nat64d_fastpath_offloaded_total", f.offloaded, "Sessions copied into the kernel's tables."),
            Sample.counter("nat64d_fastpath_withdrawn_total", f.withdrawn, "Sessions taken out of the kernel's tables."),
            Sample.counter("nat64d_fastpath_map_full_total", f.mapFull,
                           "Sessions left on the TUN because the kernel's tables were full (max-flows)."),
            Sample.counter("nat64d_fastpath_events_dropped_total", f.eventsDropped,
                           "New sessions lost to a full ring or wait queue (left on the TUN)."),
            Sample.counter("nat64d_fastpath_refreshes_total", f.refreshes,
                           "Session lifetimes refreshed from the kernel program's stamps."),
        ] + spliceSamples(f.splice)
    }

    /// Proxied connections the kernel carries (`[proxy] offload`, FastPath+Splice.swift).
    static func spliceSamples(_ s: SpliceStatus) -> [Sample] {
        let states = "Proxied connections spliced in the kernel now, by state (pending: the proxy's sockets still finish)."
        let events = "Proxied connections handed to the kernel, by event (full: no slot, left on the relay)."
        let packets = "Segments of spliced proxy connections the kernel program carried, by direction."
        let bytes = "Bytes (IP headers included) of spliced proxy connections the kernel program carried, by direction."
        return [
            Sample.gauge("nat64d_fastpath_splices", s.active - s.pending, states, [("state", "carried")]),
            Sample.gauge("nat64d_fastpath_splices", s.pending, states, [("state", "pending")]),
            Sample.counter("nat64d_fastpath_splice_events_total", s.begun, events, [("event", "begun")]),
            Sample.counter("nat64d_fastpath_splice_events_total", s.completed, events, [("event", "completed")]),
            Sample.counter("nat64d_fastpath_splice_events_total", s.abandoned, events, [("event", "abandoned")]),
            Sample.counter("nat64d_fastpath_splice_events_total", s.ended, events, [("event", "ended")]),
            Sample.counter("nat64d_fastpath_splice_events_total", s.full, events, [("event", "full")]),
            Sample.counter("nat64d_fastpath_splice_packets_total", s.packetsToBackend, packets, [("direction", "to-backend")]),
            Sample.counter("nat64d_fastpath_splice_packets_total", s.packetsToClient, packets, [("direction", "to-client")]),
            Sample.counter("nat64d_fastpath_splice_bytes_total", s.bytesToBackend, bytes, [("direction", "to-backend")]),
            Sample.counter("nat64d_fastpath_splice_bytes_total", s.bytesToClient, bytes, [("direction", "to-client")]),
            Sample.counter("nat64d_fastpath_splice_dropped_total", s.dropped,
                           "Segments of spliced proxy connections the kernel program could not carry (too big, no route)."),
        ]
    }
}
