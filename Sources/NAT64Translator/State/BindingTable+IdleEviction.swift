// Early drop for pool4 ports (S11): when a pool4 address has no free port (or ICMP identifier) for a new UDP or
// ICMP flow, the flow may take the port of the longest-idle UDP/ICMP session that has been idle for at least
// `idleEvictionMinimum` (1 s: a DNS client retries after that), or 0.25 s for a session that never had an answer
// from the IPv4 side (spoofed sources never get one), the way the kernel's conntrack early drop prefers
// connections that were never replied to. Without it spoofed UDP from many sources uses up every port of an
// address, and every new UDP flow (DNS included) fails for the 5-minute UDP lifetime (RFC 6146 §3.5.1.1 says
// only that exhaustion may drop the packet; RFC 6888 REQ-4 asks that one subscriber not exhaust ports for the
// others, hence also the per-host port cap).
//
// Bounded work: the same wheel walk as the transitory early drop (`evictionSlotScan` slots, nearest deadline
// first, i.e. longest idle first for one protocol's lifetime), at most `idleEvictionEntryScan` sessions, and
// only when the port search has already failed: never O(table) per packet.

/// Why a session was evicted to admit a new flow (counted per reason).
public enum SessionEvictionReason: Int, CaseIterable, Sendable, CustomStringConvertible {
    /// A UDP session idle past the minimum gave up its pool4 port (S11).
    case idleUDP = 0
    /// An ICMP query session idle past the minimum gave up its pool4 identifier (S11).
    case idleICMP
    /// A TCP connection not yet finished (half-open or half-closed) was cut: early drop (S9, S11) found no
    /// finished one to take. Counted also in `transitoryEvictions`; a rising count says the host's limits
    /// are too small for its live connections.
    case openTCP

    public var description: String {
        switch self {
        case .idleUDP: "idle-udp"
        case .idleICMP: "idle-icmp"
        case .openTCP: "open-tcp"
        }
    }
}

/// Sessions evicted per `SessionEvictionReason` (fixed storage: a snapshot never allocates).
public struct SessionEvictionCounts: Sendable, Equatable {
    var idleUDP = 0
    var idleICMP = 0
    var openTCP = 0
    public init() {}
    public subscript(_ reason: SessionEvictionReason) -> Int {
        get {
            switch reason {
            case .idleUDP: idleUDP
            case .idleICMP: idleICMP
            case .openTCP: openTCP
            }
        }
        set {
            switch reason {
            case .idleUDP: idleUDP = newValue
            case .idleICMP: idleICMP = newValue
            case .openTCP: openTCP = newValue
            }
        }
    }
    /// The larger of each count (queues sharing one table report the same figures).
    public mutating func merge(_ other: SessionEvictionCounts) {
        for r in SessionEvictionReason.allCases { self[r] = max(self[r], other[r]) }
    }
}

extension BindingTable {
    /// A UDP or ICMP session idle at least this long may lose its port to a new flow when ports run out.
    public static let idleEvictionMinimum: Nanoseconds = 1_000_000_000
    /// One that never had an answer from the IPv4 side (spoofed sources never do) already after this long.
    public static let unrepliedEvictionMinimum: Nanoseconds = 250_000_000
    /// `SessionEntry.state` of a UDP/ICMP session until its first packet from the IPv4 side, and after it (the
    /// TCP values V6 INIT and ESTABLISHED, so the field needs no new meaning).
    static let unreplied = TCPState.v6Init.rawValue
    static let replied = TCPState.established.rawValue
    /// Sessions looked at in one search for an idle session.
    static let idleEvictionEntryScan = 128

    /// Sessions evicted so far, by reason.
    public var sessionEvictions: SessionEvictionCounts { meta.pointee.sessionEvictions }

    /// S11: frees the pool4 port of the longest-idle UDP (or ICMP) session that can give one to a new flow of
    /// `proto` whose IPv6 source port is `port`, and returns it. Candidates: the same protocol, idle at least
    /// `idleEvictionMinimum`, the only session of its BIB entry (so its port is freed with it), a port of the
    /// same RFC 6146 §3.5.1.1 range class, of a NAPT host (`requester` itself only while it keeps another
    /// session, since its host entry must outlive this).
    /// - Returns: the freed (pool4 address, port), nil when none was found within the bounded walk.
    func reclaimIdlePort(proto: UInt8, port: UInt16, requester: UInt32, now: Nanoseconds) -> (UInt32, UInt16)? {
        let reason: SessionEvictionReason
        switch proto {
        case IPProtocolNumber.udp: reason = .idleUDP
        case IPProtocolNumber.icmp: reason = .idleICMP
        default: return nil
        }
        let lifetime = timeouts.timeout(for: proto)
        // RFC 6146 §3.5.1.1: a source port above 1023 never gets a port below 1024.
        let lowest: UInt16 = proto == IPProtocolNumber.icmp || port < 1024 ? 0 : 1024
        var tick = meta.pointee.wheelTick == .min ? BindingTable.tick(now) : meta.pointee.wheelTick
        var examined = 0
        for _ in 0..<BindingTable.evictionSlotScan {
            var s = wheel[BindingTable.slot(ofTick: tick)]
            while s != BindingTable.none {
                guard examined < BindingTable.idleEvictionEntryScan else { return nil }
                examined += 1
                let e = sessions[Int(s)]
                let b = Int(e.bib)
                let minimum = e.state == BindingTable.unreplied
                    ? BindingTable.unrepliedEvictionMinimum : BindingTable.idleEvictionMinimum
                if e.proto == proto, now - (e.expiry - lifetime) >= minimum,
                   e.outsidePort >= lowest, bibs[b].sessionCount == 1, !isPinned(e.bib),  // S13 keeps its port
                   bibs[b].host != requester || hosts[Int(requester)].sessionCount > 1,
                   hosts[Int(bibs[b].host)].kind == HostKind.napt.rawValue {
                    let freed = (e.outside4, e.outsidePort)
                    removeSession(s, now: now, reason: .evicted)
                    meta.pointee.sessionEvictions[reason] += 1
                    return freed
                }
                s = e.wheelNext
            }
            tick &+= 1
        }
        return nil
    }
}
