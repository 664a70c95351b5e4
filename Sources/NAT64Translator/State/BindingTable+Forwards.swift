// Port forwards: static BIB entries (conformance S13). RFC 6146 lets BIB entries be made by configuration as
// well as by IPv6 packets (§3: "statically configured"); Jool calls them static BIB entries, VPP the same.
// A forward binds one pool4 endpoint to one IPv6 endpoint for TCP or UDP, so IPv4 clients can open connections
// to an IPv6-only host on a shared pool4 address, and the host sees each client's own IPv4 address (embedded in
// the NAT64 prefix) instead of a proxy's.
//
// The entry is an ordinary BIB entry with `BIBFlags.pinned` set, so every existing path applies to it: the
// inbound path finds it like any mapping (§3.5.1.1 / §3.5.2.2: a BIB entry exists, so a session is made), the
// host's replies reuse it (S1 endpoint-independent mapping), and port allocation skips its port because the
// outside index holds it. What the flag changes:
// - the entry outlives its sessions (removeBIB keeps it; the host entry stays for it);
// - address-dependent filtering (S2) does not apply: the operator opened the port on purpose;
// - S11 early drop never takes its port;
// - port blocks (RFC 7422) do not count it: it is nobody's block's port.
// A reload replaces the list: removed forwards lose the flag (their open connections finish, no new one is let
// in, then the entry goes: createInbound checks `BIBFlags.forward` without `pinned`); added
// ones whose port a dynamic mapping holds wait, and `expire` retries them about once a second.

/// A port forward: pool4 `outside` ↔ IPv6 `inside`, for TCP or UDP (S13).
public struct PortForward: Sendable, Equatable, Hashable {
    /// 6 (TCP) or 17 (UDP).
    public var proto: UInt8
    /// The pool4 endpoint IPv4 clients connect to.
    public var outside: Endpoint4
    /// The IPv6 host's endpoint the connections reach.
    public var inside: Endpoint6

    /// The most forwards one table holds (its BIB slab keeps room for them).
    public static let maximumCount = 4096

    public init(proto: UInt8, outside: Endpoint4, inside: Endpoint6) {
        self.proto = proto
        self.outside = Endpoint4(address: outside.address, port: outside.port, proto: proto)
        self.inside = Endpoint6(address: inside.address, port: inside.port, proto: proto)
    }
}

/// Bits of `BIBEntry.flags`.
enum BIBFlags {
    /// S13: a configured forward; kept without sessions.
    static let pinned: UInt8 = 1
    /// S13: made by a forward (kept after the forward is removed): port blocks never counted it.
    static let forward: UInt8 = 2
}

/// What became of one configured forward (`BindingTable.forwardStatus`).
public struct PortForwardStatus: Sendable, Equatable {
    public var forward: PortForward
    /// Installed: the BIB entry exists and is pinned.
    public var active: Bool
    /// Sessions on the forward's entry now.
    public var sessions: Int

    public init(forward: PortForward, active: Bool, sessions: Int) {
        self.forward = forward
        self.active = active
        self.sessions = sessions
    }
}

extension BindingTable {
    /// S13: replaces the configured forwards. Entries of forwards no longer listed are unpinned (and go with
    /// their last session); new ones are installed, or wait while a dynamic mapping holds their port or their
    /// IPv6 endpoint. Call with `lock` held when several translators share the table.
    ///
    /// - Returns: how many forwards wait (0 when all are installed).
    @discardableResult
    public func setForwards(_ forwards: [PortForward], now: Nanoseconds) -> Int {
        let wanted = Array(forwards.prefix(PortForward.maximumCount))
        for old in meta.pointee.forwards where !wanted.contains(old) {
            guard let b = pinnedEntry(old) else { continue }
            bibs[Int(b)].flags &= ~BIBFlags.pinned
            if bibs[Int(b)].sessionCount == 0 { removeBIB(b, reason: .refused, now: now) }
        }
        meta.pointee.forwards = wanted
        return installForwards(now: now)
    }

    /// S13: installs the forwards that wait (from `expire`, and once after `setForwards`).
    @discardableResult
    func installForwards(now: Nanoseconds) -> Int {
        var waiting = 0
        for f in meta.pointee.forwards where pinnedEntry(f) == nil && !install(f, now: now) { waiting += 1 }
        meta.pointee.forwardsWaiting = waiting
        return waiting
    }

    /// Forwards configured but not installed (their port or IPv6 endpoint is busy), for the control interface.
    public var forwardsWaiting: Int { meta.pointee.forwardsWaiting }

    /// Each configured forward and whether it is installed.
    public func forwardStatus() -> [PortForwardStatus] {
        meta.pointee.forwards.map { f in
            let b = pinnedEntry(f)
            return PortForwardStatus(forward: f, active: b != nil,
                                     sessions: b.map { Int(bibs[Int($0)].sessionCount) } ?? 0)
        }
    }

    /// The entry of forward `f`, when it is installed: same endpoints on both sides, pinned.
    func pinnedEntry(_ f: PortForward) -> UInt32? {
        guard let b = findBIB(outside4: f.outside.address.value, port: f.outside.port, proto: f.proto) else { return nil }
        let e = bibs[Int(b)]
        guard e.inside == f.inside.address, e.insidePort == f.inside.port else { return nil }
        if e.flags & BIBFlags.pinned == 0 { bibs[Int(b)].flags |= BIBFlags.pinned }  // re-added after a removal
        return b
    }

    /// Makes the pinned entry of `f`; false while its pool4 port or its IPv6 endpoint has another mapping.
    private func install(_ f: PortForward, now: Nanoseconds) -> Bool {
        guard findBIB(outside4: f.outside.address.value, port: f.outside.port, proto: f.proto) == nil,
              findBIB(inside: f.inside.address, port: f.inside.port, proto: f.proto) == nil,
              meta.pointee.bibFree != BindingTable.none
        else { return false }
        guard case .success(let host) = hostForOutbound(f.inside.address, now: now) else { return false }
        guard hosts[Int(host)].kind == HostKind.napt.rawValue else {  // a map or EAM host has its own address
            releaseHostIfIdle(host)
            return false
        }
        _ = fileBIB(host: host, inside: f.inside.address, port: f.inside.port, outside4: f.outside.address.value,
                    outsidePort: f.outside.port, proto: f.proto, flags: BIBFlags.pinned | BIBFlags.forward, now: now)
        return true
    }

    /// Whether BIB entry `b` is a pinned forward (S13).
    @inline(__always)
    func isPinned(_ b: UInt32) -> Bool { bibs[Int(b)].flags & BIBFlags.pinned != 0 }
}

extension PortForward: CustomStringConvertible {
    /// As the configuration writes it: `tcp 192.0.2.1:2222 [2001:db8::10]:22`.
    public var description: String {
        "\(proto == IPProtocolNumber.udp ? "udp" : "tcp") \(outside.address):\(outside.port) [\(inside.address)]:\(inside.port)"
    }
}
