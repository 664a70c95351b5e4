// pool4 port allocation (RFC 6146 §3.5.1.1 with RFC 6056 §3.3.1 and RFC 4787 REQ-2/REQ-3, conformance S3) and
// IPv6 hosts: per-host session counts (S9) and their own IPv4 address in the 1:1 modes (S10: dynamic pool
// with least-recently-used reuse, static maps, EAM per RFC 7757), with snapshot/restore for persistence.

extension DropReason: Error {}

/// A 1:1 pool assignment, as persisted by the daemon across restarts (S10).
public struct PoolAssignment: Sendable, Equatable {
    public var inside: IPv6Address
    public var outside: IPv4Address
    /// Last use (monotonic time of this run); only the order matters across restarts.
    public var lastUsed: Nanoseconds
    public init(inside: IPv6Address, outside: IPv4Address, lastUsed: Nanoseconds) {
        self.inside = inside
        self.outside = outside
        self.lastUsed = lastUsed
    }
}

extension BindingTable {
    // MARK: Port allocation (S3)

    /// Chooses a free pool4 (address, port) for a new BIB entry of (inside, port, proto).
    ///
    /// RFC 4787 REQ-2 ("paired" pooling): the address is picked by a keyed hash of the IPv6 address, so one
    /// host keeps one pool4 address while it has ports there; other addresses are tried only when that one is
    /// full. RFC 4787 REQ-3 / RFC 6146 §3.5.1.1: a port in 1–1023 is mapped into 1–1023 first, then 1024–65535;
    /// a port in 1024–65535 only into 1024–65535; ICMP identifiers use the address's whole range. Within a
    /// range the start is random (RFC 6056 §3.3.1, Algorithm 1) followed by a linear search, and the whole
    /// search is bounded by `maximumProbes` index lookups (then: exhausted, ICMPv6 1/3).
    func allocatePort(for inside: IPv6Address, port: UInt16, proto: UInt8) -> (UInt32, UInt16)? {
        guard !pool.isEmpty else { return nil }
        var probesLeft = maximumProbes
        let first = Int(hostHash(inside) % UInt32(pool.count))
        // Range classes in order of preference (a fixed pair, so nothing is allocated).
        let classes: (ClosedRange<UInt16>, ClosedRange<UInt16>?)
        if proto == IPProtocolNumber.icmp {
            classes = (0...65535, nil)
        } else if port < 1024 {
            classes = (1...1023, 1024...65535)
        } else {
            classes = (1024...65535, nil)
        }
        for c in 0..<2 {
            guard let rangeClass = c == 0 ? classes.0 : classes.1 else { break }
            for k in 0..<pool.count {
                let entry = pool[(first + k) % pool.count]
                let lo = max(rangeClass.lowerBound, entry.ports.lowerBound)
                let hi = min(rangeClass.upperBound, entry.ports.upperBound)
                guard lo <= hi else { continue }
                let width = UInt32(hi - lo) + 1
                var candidate = UInt32(lo) + UInt32(truncatingIfNeeded: meta.pointee.random.next() % UInt64(width))
                for _ in 0..<min(Int(width), probesLeft) {
                    if findBIB(outside4: entry.address.value, port: UInt16(candidate), proto: proto) == nil {
                        return (entry.address.value, UInt16(candidate))
                    }
                    candidate = candidate == UInt32(hi) ? UInt32(lo) : candidate + 1
                }
                probesLeft -= min(Int(width), probesLeft)
                if probesLeft == 0 { return nil }
            }
        }
        return nil
    }

    // MARK: Hosts (S9 per-host limit, S10 1:1 modes)

    /// The host entry for an IPv6 source, creating it (and its 1:1 address) if needed.
    func hostForOutbound(_ address: IPv6Address, now: Nanoseconds) -> Result<UInt32, DropReason> {
        if let h = findHost(address) {
            hosts[Int(h)].lastUsed = now
            return .success(h)
        }
        if let eam = configuration.longestEAM(forIPv6: address), let v4 = eam.map(address) {
            guard let h = makeHost(address, outside4: v4.value, kind: .eam, now: now) else { return .failure(.hostSessionLimit) }
            return .success(h)
        }
        switch configuration.mode {
        case .napt, .siit:  // siit never reaches the table (Stateless/)
            guard let h = makeHost(address, outside4: 0, kind: .napt, now: now) else { return .failure(.hostSessionLimit) }
            return .success(h)
        case .pool:
            guard let index = freePoolAddress() else { return .failure(.poolExhausted) }
            guard let h = makeHost(address, outside4: pool[index].address.value, kind: .pool, now: now) else {
                return .failure(.hostSessionLimit)
            }
            poolOwner[index] = h
            onPoolAssignment?(PoolAssignment(inside: address, outside: pool[index].address, lastUsed: now))
            return .success(h)
        }
    }

    /// The 1:1 host owning IPv4 address `o4` (static map, current pool assignment, or EAM), if any.
    func hostForInbound(_ o4: UInt32, now: Nanoseconds) -> UInt32? {
        if let h = findHost(outside4: o4) { return h }
        // A4: the longest IPv4 prefix wins (RFC 7757 §3.2).
        if let eam = configuration.longestEAM(forIPv4: IPv4Address(o4)), let v6 = eam.map(IPv4Address(o4)) {
            return findHost(v6) ?? makeHost(v6, outside4: o4, kind: .eam, now: now)
        }
        return nil
    }

    /// A pool index free for a new 1:1 assignment: an unowned address, else the least-recently-used one whose
    /// host has no sessions (its assignment is dropped). O(pool size), only when a new host arrives.
    func freePoolAddress() -> Int? {
        var lru: Int?
        var oldest = Nanoseconds.max
        for i in 0..<pool.count {
            let owner = poolOwner[i]
            if owner == BindingTable.none {
                if findHost(outside4: pool[i].address.value) == nil { return i }  // not statically mapped
                continue
            }
            let h = hosts[Int(owner)]
            if h.sessionCount == 0 && h.lastUsed < oldest {
                oldest = h.lastUsed
                lru = i
            }
        }
        guard let i = lru else { return nil }
        removeHost(poolOwner[i])
        poolOwner[i] = BindingTable.none
        return i
    }

    /// Creates a host entry; nil when the host table is full (S9).
    @discardableResult
    func makeHost(_ address: IPv6Address, outside4: UInt32, kind: HostKind, now: Nanoseconds) -> UInt32? {
        let h = meta.pointee.hostFree
        guard h != BindingTable.none else { return nil }
        meta.pointee.hostFree = hosts[Int(h)].nextFree
        let hash = hostHash(address)
        let oh = hostOutsideHash(outside4)
        hosts[Int(h)] = HostEntry(address: address, lastUsed: now, outside4: outside4, sessionCount: 0, hash: hash,
                                  outsideHash: oh, nextFree: BindingTable.none, kind: kind.rawValue)
        hostsByAddress.insert(hash: hash, slot: h)
        policy?.reset(host: h)
        if kind != .napt { hostsByOutside.insert(hash: oh, slot: h) }
        meta.pointee.hostCount += 1
        return h
    }

    /// Drops a NAPT or EAM host once it has no sessions; pool and static hosts keep their address.
    func releaseHostIfIdle(_ h: UInt32) {
        let kind = hosts[Int(h)].kind
        guard hosts[Int(h)].sessionCount == 0,
              kind == HostKind.napt.rawValue || kind == HostKind.eam.rawValue,
              hosts[Int(h)].bibCount == 0,  // S13: a port forward's entry lives without sessions
              !hostHoldsBlocks(h)  // a host keeps its port blocks through their hold time
        else { return }
        // Other than a forward's, a BIB entry without sessions exists only between `makeBIB` and `makeSession`,
        // so a host without sessions or forwards has no BIB entries left.
        removeHost(h)
    }

    func removeHost(_ h: UInt32) {
        let i = Int(h)
        hostsByAddress.remove(hash: hosts[i].hash, slot: h) { hosts[Int($0)].hash }
        if hosts[i].kind != HostKind.napt.rawValue {
            hostsByOutside.remove(hash: hosts[i].outsideHash, slot: h) { hosts[Int($0)].outsideHash }
        }
        hosts[i] = .empty
        hosts[i].nextFree = meta.pointee.hostFree
        meta.pointee.hostFree = h
        meta.pointee.hostCount -= 1
    }

    // MARK: Persistence (S10): the daemon writes these; the core does no I/O

    /// The current dynamic pool assignments, least recently used first.
    public func poolAssignments() -> [PoolAssignment] {
        var out: [PoolAssignment] = []
        for i in 0..<pool.count where poolOwner[i] != BindingTable.none {
            let h = hosts[Int(poolOwner[i])]
            out.append(PoolAssignment(inside: h.address, outside: IPv4Address(h.outside4), lastUsed: h.lastUsed))
        }
        return out.sorted { $0.lastUsed < $1.lastUsed }
    }

    /// Restores saved assignments (least recently used first) before traffic starts. Entries whose address is
    /// no longer in pool4, or whose host or address is already taken, are skipped.
    ///
    /// - Parameters:
    ///   - assignments: as returned by `poolAssignments()` in an earlier run.
    ///   - now: the current time; restored entries keep their order just before it.
    /// - Returns: how many were restored.
    @discardableResult
    public func restore(_ assignments: [PoolAssignment], now: Nanoseconds) -> Int {
        guard configuration.mode == .pool else { return 0 }
        var restored = 0
        for (rank, a) in assignments.enumerated() {
            guard let index = pool.firstIndex(where: { $0.address == a.outside }), poolOwner[index] == BindingTable.none,
                  findHost(a.inside) == nil, findHost(outside4: a.outside.value) == nil,
                  let h = makeHost(a.inside, outside4: a.outside.value, kind: .pool,
                                   now: now - Nanoseconds(assignments.count - rank))
            else { continue }
            poolOwner[index] = h
            restored += 1
        }
        return restored
    }
}
