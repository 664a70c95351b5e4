// RFC 6146 §3.5.1 and §3.5.2: per-packet session lookup and creation for UDP, TCP and ICMP query sessions,
// with endpoint-independent mapping (S1), the configured filtering (S2), the TCP state machine (S5), limits
// (S9) and the 1:1 modes (S10). The translation path calls `outbound` and `inbound` once per packet
// (RFC6146/FilteringAndUpdating.swift); an established flow costs one index probe and a deadline store.

/// The state's answer for an IPv6-side packet.
public enum OutboundDecision: Equatable, Sendable {
    /// Translate with this pool4 source endpoint.
    case mapped(Endpoint4)
    /// Do not translate; count `reason` (and for `.poolExhausted` answer ICMPv6 1/3, S3).
    case refused(DropReason)
}

/// The state's answer for an IPv4-side packet.
public enum InboundDecision: Equatable, Sendable {
    /// Translate towards this IPv6 endpoint.
    case mapped(Endpoint6)
    /// Do not translate; count `reason`.
    case refused(DropReason)
    /// An IPv4 SYN without a mapping (or filtered): hold it for simultaneous open (S6).
    case holdSYN
}

extension BindingTable {
    // MARK: Hashes of the six keys

    @inlinable @inline(__always)
    func sessionInsideHash(_ a: IPv6Address, _ port: UInt16, _ remote4: UInt32, _ remotePort: UInt16, _ proto: UInt8) -> UInt32 {
        hasher.hash(a.high ^ UInt64(proto), a.low, UInt64(remote4) << 32 | UInt64(port) << 16 | UInt64(remotePort))
    }

    @inlinable @inline(__always)
    func sessionOutsideHash(_ o4: UInt32, _ port: UInt16, _ remote4: UInt32, _ remotePort: UInt16, _ proto: UInt8) -> UInt32 {
        hasher.hash(UInt64(o4) << 32 | UInt64(port) << 16 | UInt64(remotePort), UInt64(remote4) | UInt64(proto) << 32, 0x5E55)
    }

    @inlinable @inline(__always)
    func bibInsideHash(_ a: IPv6Address, _ port: UInt16, _ proto: UInt8) -> UInt32 {
        hasher.hash(a.high, a.low, UInt64(port) | UInt64(proto) << 16 | 0xB1B << 32)
    }

    @inlinable @inline(__always)
    func bibOutsideHash(_ o4: UInt32, _ port: UInt16, _ proto: UInt8) -> UInt32 {
        hasher.hash(UInt64(o4) << 32 | UInt64(port) << 16 | UInt64(proto), 0xB1B0, 1)
    }

    @inlinable @inline(__always)
    func hostHash(_ a: IPv6Address) -> UInt32 { hasher.hash(a.high, a.low, 0x4057) }

    @inlinable @inline(__always)
    func hostOutsideHash(_ o4: UInt32) -> UInt32 { hasher.hash(UInt64(o4), 0x4057_0004, 2) }

    // MARK: Finding entries

    func findBIB(inside a: IPv6Address, port: UInt16, proto: UInt8) -> UInt32? {
        bibByInside.find(hash: bibInsideHash(a, port, proto)) { b in
            let e = bibs[Int(b)]
            return e.insidePort == port && e.proto == proto && e.inside == a
        }
    }

    func findBIB(outside4: UInt32, port: UInt16, proto: UInt8) -> UInt32? {
        bibByOutside.find(hash: bibOutsideHash(outside4, port, proto)) { b in
            let e = bibs[Int(b)]
            return e.outsidePort == port && e.proto == proto && e.outside4 == outside4
        }
    }

    func findHost(_ a: IPv6Address) -> UInt32? {
        hostsByAddress.find(hash: hostHash(a)) { hosts[Int($0)].address == a }
    }

    func findHost(outside4: UInt32) -> UInt32? {
        hostsByOutside.find(hash: hostOutsideHash(outside4)) { hosts[Int($0)].outside4 == outside4 }
    }

    // MARK: The per-packet entry points

    /// An IPv6-side packet of flow (source, port) → (remote, remotePort): finds its session or creates it
    /// (RFC 6146 §3.5.1 for UDP/ICMP, §3.5.2 for TCP), and refreshes its lifetime (S4).
    ///
    /// - Parameters:
    ///   - proto: 6, 17, or 1 for ICMP query sessions (the id is `port`; `remotePort` is 0).
    ///   - flags: the TCP flags (ignored for UDP and ICMP).
    /// - Returns: the pool4 source endpoint, or why the packet must not be translated.
    public func outbound(source: IPv6Address, port: UInt16, remote: IPv4Address, remotePort: UInt16, proto: UInt8,
                         flags: TCPFlags, now: Nanoseconds) -> OutboundDecision {
        let hash = sessionInsideHash(source, port, remote.value, remotePort, proto)
        if let s = findSession(inside: source, port: port, remote: remote, remotePort: remotePort, proto: proto,
                               hash: hash) {
            let i = Int(s)
            if sessions[i].expiry > now || ageExpired(s, now: now) {
                if proto == IPProtocolNumber.tcp {
                    let step = TCPStateMachine.onIPv6(TCPState(rawValue: sessions[i].state) ?? .closed, flags: flags)
                    apply(step, to: i, now: now)
                } else {
                    sessions[i].expiry = now &+ timeouts.timeout(for: proto)
                }
                return .mapped(Endpoint4(address: IPv4Address(sessions[i].outside4), port: sessions[i].outsidePort, proto: proto))
            }
        }
        return createOutbound(source: source, port: port, remote: remote.value, remotePort: remotePort, proto: proto,
                              flags: flags, hash: hash, now: now)
    }

    /// An IPv4-side packet (remote, remotePort) → (pool4 destination, port): finds its session or, as the
    /// filtering policy allows (S2), creates one on an existing BIB entry; refreshes its lifetime (S4).
    ///
    /// - Returns: the IPv6 destination endpoint; `.holdSYN` for a TCP SYN with no mapping or filtered (S6);
    ///   otherwise why it is dropped (`.noState`, `.filtered`, `.synExpected`, a limit).
    public func inbound(destination: IPv4Address, port: UInt16, remote: IPv4Address, remotePort: UInt16, proto: UInt8,
                        flags: TCPFlags, now: Nanoseconds) -> InboundDecision {
        let hash = sessionOutsideHash(destination.value, port, remote.value, remotePort, proto)
        if let s = sessionsByOutside.find(hash: hash, { s in
            let e = sessions[Int(s)]
            return e.outsidePort == port && e.remotePort == remotePort && e.remote4 == remote.value
                && e.proto == proto && e.outside4 == destination.value
        }) {
            let i = Int(s)
            if sessions[i].expiry > now || ageExpired(s, now: now) {
                if proto == IPProtocolNumber.tcp {
                    let step = TCPStateMachine.onIPv4(TCPState(rawValue: sessions[i].state) ?? .closed, flags: flags)
                    apply(step, to: i, now: now)
                } else {
                    sessions[i].expiry = now &+ timeouts.timeout(for: proto)
                    sessions[i].state = BindingTable.replied  // S11: answered from the IPv4 side
                }
                return .mapped(Endpoint6(address: sessions[i].inside, port: sessions[i].insidePort, proto: proto))
            }
        }
        return createInbound(destination: destination.value, port: port, remote: remote.value, remotePort: remotePort,
                             proto: proto, flags: flags, hash: hash, now: now)
    }

    /// The session of an IPv6-side five-tuple (no side effects, no expiry check).
    @inline(__always)
    func findSession(inside source: IPv6Address, port: UInt16, remote: IPv4Address, remotePort: UInt16, proto: UInt8,
                     hash: UInt32? = nil) -> UInt32? {
        sessionsByInside.find(hash: hash ?? sessionInsideHash(source, port, remote.value, remotePort, proto)) { s in
            let e = sessions[Int(s)]
            return e.insidePort == port && e.remotePort == remotePort && e.remote4 == remote.value
                && e.proto == proto && e.inside == source
        }
    }

    /// Whether the table holds this session now, with this pool4 endpoint, and (TCP) in ESTABLISHED (no side
    /// effects). The fast path asks it, under `lock`, before it copies a session into the kernel: a session
    /// that ended meanwhile (whose pool4 port may already serve another flow) or a TCP connection already
    /// closing is never offloaded.
    public func holdsEstablishedSession(inside source: IPv6Address, port: UInt16, remote: IPv4Address,
                                        remotePort: UInt16, proto: UInt8, outside: IPv4Address,
                                        outsidePort: UInt16) -> Bool {
        guard let s = findSession(inside: source, port: port, remote: remote, remotePort: remotePort, proto: proto),
              sessions[Int(s)].outside4 == outside.value, sessions[Int(s)].outsidePort == outsidePort
        else { return false }
        return proto != IPProtocolNumber.tcp || sessions[Int(s)].state == TCPState.established.rawValue
    }

    /// Data packets of this session crossed the in-kernel fast path instead of the translator: refresh the
    /// session as such a packet would have (S4: the lifetime; S5: an ACK-only segment's transition; S11: a UDP
    /// or ICMP session answered from the IPv4 side). Never creates state.
    ///
    /// - Parameter fromIPv4: the packets came from the IPv4 side (else from the IPv6 host).
    /// - Returns: false when the session is gone (the caller's copy of it is stale).
    public func refreshCarried(inside source: IPv6Address, port: UInt16, remote: IPv4Address, remotePort: UInt16,
                               proto: UInt8, fromIPv4: Bool, now: Nanoseconds) -> Bool {
        guard let s = findSession(inside: source, port: port, remote: remote, remotePort: remotePort, proto: proto)
        else { return false }
        let i = Int(s)
        guard sessions[i].expiry > now || ageExpired(s, now: now) else { return false }
        if proto == IPProtocolNumber.tcp {
            let state = TCPState(rawValue: sessions[i].state) ?? .closed
            let step = fromIPv4 ? TCPStateMachine.onIPv4(state, flags: .ack) : TCPStateMachine.onIPv6(state, flags: .ack)
            apply(step, to: i, now: now)
        } else {
            sessions[i].expiry = now &+ timeouts.timeout(for: proto)
            if fromIPv4 { sessions[i].state = BindingTable.replied }
        }
        return true
    }

    /// Applies a TCP transition to session `i` (S5).
    @inline(__always)
    func apply(_ step: TCPStateMachine.Step, to i: Int, now: Nanoseconds) {
        sessions[i].state = step.state.rawValue
        if let lifetime = timeouts.timeout(for: step.lifetime) { sessions[i].expiry = now &+ lifetime }
    }

    // MARK: Creating state (first packet of a flow: off the established-flow fast path)

    @usableFromInline
    func createOutbound(source: IPv6Address, port: UInt16, remote: UInt32, remotePort: UInt16, proto: UInt8,
                        flags: TCPFlags, hash: UInt32, now: Nanoseconds, evictions: Int = 0) -> OutboundDecision {
        // RFC 6146 §3.5.2.2: in CLOSED only a SYN opens a TCP session; anything else is dropped.
        if proto == IPProtocolNumber.tcp && !flags.contains(.syn) { return .refused(.synExpected) }
        if meta.pointee.sessionCount >= capacity && !evictTransitorySession(now: now) { return .refused(.sessionLimit) }
        var bib = findBIB(inside: source, port: port, proto: proto)
        if bib == nil {
            let host: UInt32
            switch hostForOutbound(source, now: now) {
            case .success(let h): host = h
            case .failure(let reason): return .refused(reason)
            }
            if hosts[Int(host)].sessionCount >= UInt32(meta.pointee.sessionsPerHost) {
                // S9: room among the host's own closing or half-open sessions; the eviction may release the
                // host entry itself, so start over (once: the host is below its limit now).
                guard evictTransitorySession(now: now, host: host) else { return .refused(.hostSessionLimit) }
                return createOutbound(source: source, port: port, remote: remote, remotePort: remotePort,
                                      proto: proto, flags: flags, hash: hash, now: now, evictions: evictions + 1)
            }
            if let policy, let refusal = policy.check(host: host, address: source, proto: proto, port: remotePort, now: now) {
                releaseHostIfIdle(host)
                return .refused(refusal)
            }
            // S11: RFC 6888 REQ-4, one host may not hold more than its share of pool4 ports. As for S9, a host at
            // its cap first makes room among its own closing or half-open TCP sessions: each closed connection
            // keeps its port for TCP_TRANS (4 minutes), so a client opening short connections would otherwise be
            // held to `portsPerHost` connections per 4 minutes. An evicted session frees its port only when it
            // was its mapping's last, so a few tries may be needed; bounded, then refused.
            if hosts[Int(host)].kind == HostKind.napt.rawValue && Int(hosts[Int(host)].bibCount) >= meta.pointee.portsPerHost {
                if evictions < BindingTable.maxEvictionsPerNewFlow, evictTransitorySession(now: now, host: host) {
                    return createOutbound(source: source, port: port, remote: remote, remotePort: remotePort,
                                          proto: proto, flags: flags, hash: hash, now: now, evictions: evictions + 1)
                }
                releaseHostIfIdle(host)
                return .refused(.hostPortLimit)
            }
            guard let made = makeBIB(host: host, inside: source, port: port, proto: proto, now: now) else {
                releaseHostIfIdle(host)
                return .refused(.poolExhausted)
            }
            bib = made
        } else if hosts[Int(bibs[Int(bib!)].host)].sessionCount >= UInt32(meta.pointee.sessionsPerHost) {
            let host = bibs[Int(bib!)].host
            guard evictTransitorySession(now: now, host: host) else { return .refused(.hostSessionLimit) }
            // The eviction may have taken this BIB entry's last session, and the entry with it: start over.
            return createOutbound(source: source, port: port, remote: remote, remotePort: remotePort,
                                  proto: proto, flags: flags, hash: hash, now: now, evictions: evictions + 1)
        } else if let policy, let refusal = policy.check(host: bibs[Int(bib!)].host, address: source, proto: proto,
                                                          port: remotePort, now: now) {
            return .refused(refusal)
        }
        let b = Int(bib!)
        // TCP: V6 INIT (RFC 6146 §3.5.2.2). UDP/ICMP: the same value marks "no reply yet" (S11 early drop).
        let state = TCPState.v6Init
        let lifetime = proto == IPProtocolNumber.tcp ? timeouts.tcpTransitory : timeouts.timeout(for: proto)
        let o4 = bibs[b].outside4
        let oport = bibs[b].outsidePort
        _ = makeSession(bib: UInt32(b), remote: remote, remotePort: remotePort, insideHash: hash,
                        outsideHash: sessionOutsideHash(o4, oport, remote, remotePort, proto), state: state,
                        expiry: now &+ lifetime, now: now)
        if proto == IPProtocolNumber.tcp {
            // S6: an outbound SYN for a connection whose IPv4 SYN is held ends the hold silently.
            heldSYNs.discard(outside4: o4, port: oport, remote4: remote, remotePort: remotePort)
        }
        return .mapped(Endpoint4(address: IPv4Address(o4), port: oport, proto: proto))
    }

    @usableFromInline
    func createInbound(destination: UInt32, port: UInt16, remote: UInt32, remotePort: UInt16, proto: UInt8,
                       flags: TCPFlags, hash: UInt32, now: Nanoseconds) -> InboundDecision {
        let isTCP = proto == IPProtocolNumber.tcp
        let isSYN = isTCP && flags.contains(.syn) && !flags.contains(.ack)
        var bib = findBIB(outside4: destination, port: port, proto: proto)
        if bib == nil, let host = hostForInbound(destination, now: now) {
            // 1:1 modes (S10): the host's address is bound by configuration, so any port may be reached.
            if meta.pointee.sessionCount >= capacity && !evictTransitorySession(now: now) {
                return .refused(.sessionLimit)
            }
            bib = makeBIB(host: host, inside: hosts[Int(host)].address, port: port, proto: proto, now: now)
        }
        guard let b = bib else { return isSYN ? .holdSYN : .refused(.noState) }
        // S13: a removed forward's entry keeps its connections, not new ones (as if it were gone already).
        if bibs[Int(b)].flags & (BIBFlags.forward | BIBFlags.pinned) == BIBFlags.forward {
            return isSYN ? .holdSYN : .refused(.noState)
        }
        // S2, except for a port forward (S13): its port was opened to every IPv4 host on purpose.
        if configuration.filtering == .addressDependent && !isPinned(b) && !bibHasSession(b, toRemote: remote) {
            if Int(bibs[Int(b)].sessionCount) == 0 { removeBIB(b, reason: .refused, now: now) }
            return isSYN ? .holdSYN : .refused(.filtered)
        }
        if isTCP && !isSYN {
            if bibs[Int(b)].sessionCount == 0 { removeBIB(b, reason: .refused, now: now) }
            return .refused(.synExpected)
        }
        let host = Int(bibs[Int(b)].host)
        if meta.pointee.sessionCount >= capacity && !isTCP { _ = evictTransitorySession(now: now) }
        if meta.pointee.sessionCount >= capacity || hosts[host].sessionCount >= UInt32(meta.pointee.sessionsPerHost) {
            let reason: DropReason = meta.pointee.sessionCount >= capacity ? .sessionLimit : .hostSessionLimit
            if bibs[Int(b)].sessionCount == 0 { removeBIB(b, reason: .refused, now: now) }
            return .refused(reason)
        }
        let e = bibs[Int(b)]
        let state: TCPState = isTCP ? .v4Init : .established
        let lifetime = isTCP ? timeouts.incomingSYN : timeouts.timeout(for: proto)
        _ = makeSession(bib: b, remote: remote, remotePort: remotePort,
                        insideHash: sessionInsideHash(e.inside, e.insidePort, remote, remotePort, proto),
                        outsideHash: hash, state: state, expiry: now &+ lifetime, now: now)
        return .mapped(Endpoint6(address: e.inside, port: e.insidePort, proto: proto))
    }

    /// S2 address-dependent filtering: does BIB entry `b` have a session with IPv4 host `remote` (any port)?
    /// Walks the entry's session list, bounded by the per-host session limit.
    func bibHasSession(_ b: UInt32, toRemote remote: UInt32) -> Bool {
        var s = bibs[Int(b)].sessionHead
        while s != BindingTable.none {
            if sessions[Int(s)].remote4 == remote { return true }
            s = sessions[Int(s)].bibNext
        }
        return false
    }

    /// Creates a session on BIB entry `bib` and files it in both indexes and the timer wheel.
    func makeSession(bib: UInt32, remote: UInt32, remotePort: UInt16, insideHash: UInt32, outsideHash: UInt32,
                     state: TCPState, expiry: Nanoseconds, now: Nanoseconds) -> UInt32 {
        let s = meta.pointee.sessionFree
        precondition(s != BindingTable.none, "session slab exhausted below the limit")
        meta.pointee.sessionFree = sessions[Int(s)].bibNext
        let b = bibs[Int(bib)]
        let head = b.sessionHead
        sessions[Int(s)] = SessionEntry(
            inside: b.inside, expiry: expiry, created: now, remote4: remote, outside4: b.outside4,
            insidePort: b.insidePort, remotePort: remotePort, outsidePort: b.outsidePort, wheelSlot: 0, proto: b.proto,
            state: state.rawValue, bib: bib, bibNext: head, bibPrev: BindingTable.none, wheelNext: BindingTable.none,
            wheelPrev: BindingTable.none, insideHash: insideHash, outsideHash: outsideHash)
        if head != BindingTable.none { sessions[Int(head)].bibPrev = s }
        bibs[Int(bib)].sessionHead = s
        bibs[Int(bib)].sessionCount += 1
        hosts[Int(b.host)].sessionCount += 1
        hosts[Int(b.host)].lastUsed = now
        sessionsByInside.insert(hash: insideHash, slot: s)
        sessionsByOutside.insert(hash: outsideHash, slot: s)
        link(s)
        meta.pointee.sessionCount += 1
        if let hook = onMappingEvent {
            hook(MappingEvent(kind: .sessionCreated, time: now, proto: b.proto, inside: b.inside, insidePort: b.insidePort,
                              outside: IPv4Address(b.outside4), outsidePort: b.outsidePort,
                              remote: IPv4Address(remote), remotePort: remotePort))
        }
        return s
    }

    /// Deletes session `s` (already unlinked from the wheel when `linked` is false); its BIB entry goes with
    /// its last session, and a NAPT or EAM host with its last BIB entry.
    func removeSession(_ s: UInt32, linked: Bool = true, now: Nanoseconds, reason: MappingEvent.Reason = .expired) {
        let i = Int(s)
        if linked { unlink(s) }
        if let hook = onMappingEvent {
            let e = sessions[i]
            hook(MappingEvent(kind: .sessionDeleted, time: now, proto: e.proto, inside: e.inside, insidePort: e.insidePort,
                              outside: IPv4Address(e.outside4), outsidePort: e.outsidePort,
                              remote: IPv4Address(e.remote4), remotePort: e.remotePort, reason: reason))
        }
        sessionsByInside.remove(hash: sessions[i].insideHash, slot: s) { sessions[Int($0)].insideHash }
        sessionsByOutside.remove(hash: sessions[i].outsideHash, slot: s) { sessions[Int($0)].outsideHash }
        let b = sessions[i].bib
        let next = sessions[i].bibNext
        let prev = sessions[i].bibPrev
        if prev != BindingTable.none { sessions[Int(prev)].bibNext = next } else { bibs[Int(b)].sessionHead = next }
        if next != BindingTable.none { sessions[Int(next)].bibPrev = prev }
        bibs[Int(b)].sessionCount -= 1
        let host = Int(bibs[Int(b)].host)
        hosts[host].sessionCount -= 1
        sessions[i] = .empty
        sessions[i].bibNext = meta.pointee.sessionFree
        meta.pointee.sessionFree = s
        meta.pointee.sessionCount -= 1
        if bibs[Int(b)].sessionCount == 0 { removeBIB(b, reason: reason, now: now) }
    }

    /// Creates a BIB entry for (inside, port, proto) on `host`: port-preserving on the host's own address in
    /// the 1:1 modes, otherwise a pool4 port by RFC 6056-style allocation (S3). Nil when no port is free.
    func makeBIB(host: UInt32, inside: IPv6Address, port: UInt16, proto: UInt8, now: Nanoseconds) -> UInt32? {
        guard meta.pointee.bibFree != BindingTable.none else { return nil }
        let o4: UInt32
        let oport: UInt16
        if hosts[Int(host)].kind != HostKind.napt.rawValue {
            o4 = hosts[Int(host)].outside4
            oport = port
            if findBIB(outside4: o4, port: oport, proto: proto) != nil { return nil }
        } else if let blocks = portBlocks {
            guard let (a, p) = allocateInBlocks(blocks, host: host, proto: proto, now: now) else { return nil }
            o4 = a
            oport = p
        } else {
            // S11: no free port: the longest-idle UDP/ICMP session past the minimum age gives up its own.
            guard let (a, p) = allocatePort(for: inside, port: port, proto: proto)
                ?? reclaimIdlePort(proto: proto, port: port, requester: host, now: now) else { return nil }
            o4 = a
            oport = p
        }
        return fileBIB(host: host, inside: inside, port: port, outside4: o4, outsidePort: oport, proto: proto,
                       flags: 0, now: now)
    }

    /// Takes a free BIB slot for (inside, port) ↔ (outside4, outsidePort) and files it in both indexes; a NAPT
    /// host counts it (S11), and its port block too unless it is a port forward's (S13). The caller has checked
    /// that a slot is free and that neither endpoint is mapped.
    func fileBIB(host: UInt32, inside: IPv6Address, port: UInt16, outside4 o4: UInt32, outsidePort oport: UInt16,
                 proto: UInt8, flags: UInt8, now: Nanoseconds) -> UInt32 {
        let b = meta.pointee.bibFree
        meta.pointee.bibFree = bibs[Int(b)].sessionHead
        let ih = bibInsideHash(inside, port, proto)
        let oh = bibOutsideHash(o4, oport, proto)
        bibs[Int(b)] = BIBEntry(inside: inside, outside4: o4, insidePort: port, outsidePort: oport, proto: proto,
                                flags: flags, host: host, sessionHead: BindingTable.none, sessionCount: 0,
                                insideHash: ih, outsideHash: oh)
        bibByInside.insert(hash: ih, slot: b)
        bibByOutside.insert(hash: oh, slot: b)
        meta.pointee.bibCount += 1
        if hosts[Int(host)].kind == HostKind.napt.rawValue {
            if flags & BIBFlags.forward == 0 { blockGained(o4, oport) }
            hosts[Int(host)].bibCount &+= 1  // keeps the host entry while it has entries (releaseHostIfIdle)
        }
        if let hook = onMappingEvent {
            hook(MappingEvent(kind: .bibCreated, time: now, proto: proto, inside: inside, insidePort: port,
                              outside: IPv4Address(o4), outsidePort: oport))
        }
        return b
    }

    func removeBIB(_ b: UInt32, reason: MappingEvent.Reason, now: Nanoseconds) {
        let i = Int(b)
        if isPinned(b) { return }  // S13: a port forward outlives its sessions
        if let hook = onMappingEvent {
            let e = bibs[i]
            hook(MappingEvent(kind: .bibDeleted, time: now, proto: e.proto, inside: e.inside, insidePort: e.insidePort,
                              outside: IPv4Address(e.outside4), outsidePort: e.outsidePort, reason: reason))
        }
        if hosts[Int(bibs[i].host)].kind == HostKind.napt.rawValue {
            if bibs[i].flags & BIBFlags.forward == 0 { blockLost(bibs[i].outside4, bibs[i].outsidePort, now: now) }
            hosts[Int(bibs[i].host)].bibCount &-= 1
        }
        bibByInside.remove(hash: bibs[i].insideHash, slot: b) { bibs[Int($0)].insideHash }
        bibByOutside.remove(hash: bibs[i].outsideHash, slot: b) { bibs[Int($0)].outsideHash }
        let host = bibs[i].host
        bibs[i] = .empty
        bibs[i].sessionHead = meta.pointee.bibFree
        meta.pointee.bibFree = b
        meta.pointee.bibCount -= 1
        releaseHostIfIdle(host)
    }
}
