// Session expiry (RFC 6146 §3.5.1, §3.5.2.2, §4 lifetimes; conformance S4) by a hashed timer wheel.
//
// 4096 one-second slots, each an intrusive doubly linked list of sessions, oldest filed first (links live in
// the entries; `wheel` holds each slot's head, then each slot's tail). A session is filed in the slot of
// (deadline tick + 1). The packet path never moves a session: it only stores a later deadline. When the
// wheel reaches a slot it looks at each session there once: past its deadline → the expiry transition (TCP
// ESTABLISHED → TRANS, S5) or deletion; otherwise it is re-filed under its current deadline. Deadlines
// beyond the 68-minute horizon simply come round again. A session therefore costs O(1) per timeout period,
// and `expire(now:budget:)` does a bounded amount of work per call: never a full scan.

extension BindingTable {
    /// Slots in the timer wheel (a power of two).
    @usableFromInline static let wheelSize = 4096
    /// Width of one slot.
    @usableFromInline static let tickNanoseconds: Nanoseconds = 1_000_000_000

    @inlinable @inline(__always)
    static func tick(_ t: Nanoseconds) -> Int64 {
        t >= 0 ? t / tickNanoseconds : (t - tickNanoseconds + 1) / tickNanoseconds
    }

    @inlinable @inline(__always)
    static func slot(ofTick tick: Int64) -> Int { Int(UInt64(bitPattern: tick) & UInt64(wheelSize - 1)) }

    /// Files session `s` under its deadline.
    func link(_ s: UInt32) {
        let slot = BindingTable.slot(ofTick: BindingTable.tick(sessions[Int(s)].expiry) &+ 1)
        link(s, slot: slot)
    }

    /// The last session of a slot's list (the second half of `wheel` holds the tails).
    @inline(__always) private func tail(_ slot: Int) -> UInt32 { wheel[BindingTable.wheelSize + slot] }
    @inline(__always) private func setTail(_ slot: Int, _ s: UInt32) { wheel[BindingTable.wheelSize + slot] = s }

    /// Appends `s` to the slot's list: a slot lists its sessions oldest first, so early drop (which takes the
    /// first candidate it meets) takes the longest-filed one.
    private func link(_ s: UInt32, slot: Int) {
        let last = tail(slot)
        sessions[Int(s)].wheelSlot = UInt16(slot)
        sessions[Int(s)].wheelPrev = last
        sessions[Int(s)].wheelNext = BindingTable.none
        if last != BindingTable.none { sessions[Int(last)].wheelNext = s } else { wheel[slot] = s }
        setTail(slot, s)
    }

    func unlink(_ s: UInt32) {
        let i = Int(s)
        let slot = Int(sessions[i].wheelSlot)
        let next = sessions[i].wheelNext
        let prev = sessions[i].wheelPrev
        if prev != BindingTable.none {
            sessions[Int(prev)].wheelNext = next
        } else if wheel[slot] == s {
            wheel[slot] = next
        }
        if next != BindingTable.none {
            sessions[Int(next)].wheelPrev = prev
        } else if tail(slot) == s {
            setTail(slot, prev)
        }
        sessions[i].wheelNext = BindingTable.none
        sessions[i].wheelPrev = BindingTable.none
    }

    /// The deadline of a session found on the packet path has passed (the wheel has not reached it yet): apply
    /// the expiry now, so a dead session is never used (S4).
    /// - Returns: true when the session lives on (TCP ESTABLISHED → TRANS), false when it was deleted.
    @usableFromInline
    func ageExpired(_ s: UInt32, now: Nanoseconds) -> Bool {
        let i = Int(s)
        if sessions[i].proto == IPProtocolNumber.tcp,
           let step = TCPStateMachine.onExpiry(TCPState(rawValue: sessions[i].state) ?? .closed) {
            apply(step, to: i, now: now)
            return true
        }
        removeSession(s, now: now)
        return false
    }

    /// Advances the wheel to `now`, expiring sessions whose deadline has passed; call from a timer (about once
    /// a second), never per packet.
    ///
    /// - Parameters:
    ///   - now: the current time.
    ///   - budget: most sessions to look at in this call; the wheel resumes where it stopped.
    /// - Returns: the number of sessions deleted.
    @discardableResult
    public func expire(now: Nanoseconds, budget: Int = 4096) -> Int {
        let nowTick = BindingTable.tick(now)
        var tick = meta.pointee.wheelTick
        // After a long pause, one revolution visits every slot, and every session is checked against `now`.
        if tick == .min || nowTick - tick >= Int64(BindingTable.wheelSize) {
            tick = nowTick - Int64(BindingTable.wheelSize) + 1
        }
        var removed = 0
        var examined = 0
        while tick <= nowTick {
            let slot = BindingTable.slot(ofTick: tick)
            // Sessions re-filed into this same slot (deadline a whole revolution away) wait in `deferred` so
            // this pass does not see them again.
            var deferredHead = BindingTable.none
            var deferredTail = BindingTable.none
            var exhausted = false
            while wheel[slot] != BindingTable.none {
                if examined >= budget {
                    exhausted = true
                    break
                }
                examined += 1
                let s = wheel[slot]
                unlink(s)
                let i = Int(s)
                if sessions[i].expiry <= now {
                    if sessions[i].proto == IPProtocolNumber.tcp,
                       let step = TCPStateMachine.onExpiry(TCPState(rawValue: sessions[i].state) ?? .closed) {
                        apply(step, to: i, now: now)
                    } else {
                        removeSession(s, linked: false, now: now)
                        removed += 1
                        continue
                    }
                }
                let target = BindingTable.slot(ofTick: BindingTable.tick(sessions[i].expiry) &+ 1)
                if target == slot {
                    sessions[i].wheelSlot = UInt16(slot)
                    sessions[i].wheelNext = BindingTable.none
                    sessions[i].wheelPrev = deferredTail
                    if deferredTail != BindingTable.none { sessions[Int(deferredTail)].wheelNext = s } else { deferredHead = s }
                    deferredTail = s
                } else {
                    link(s, slot: target)
                }
            }
            if deferredHead != BindingTable.none {
                // Normally they stay in this slot (for the next revolution). When the budget ran out, this slot
                // is visited again next call, so they move one slot on instead, to be re-filed from there
                // rather than starve the sessions still waiting here.
                let home = exhausted ? (slot + 1) & (BindingTable.wheelSize - 1) : slot
                if exhausted {
                    var d = deferredHead
                    while d != BindingTable.none {
                        sessions[Int(d)].wheelSlot = UInt16(home)
                        d = sessions[Int(d)].wheelNext
                    }
                }
                let rest = wheel[home]
                sessions[Int(deferredTail)].wheelNext = rest
                if rest != BindingTable.none {
                    sessions[Int(rest)].wheelPrev = deferredTail
                } else {
                    setTail(home, deferredTail)
                }
                wheel[home] = deferredHead
            }
            if exhausted { break }
            tick += 1
        }
        meta.pointee.wheelTick = tick
        releaseIdleBlocks(now: now)  // port blocks whose hold time has passed
        if meta.pointee.forwardsWaiting > 0 { installForwards(now: now) }  // S13: their ports may be free now
        return removed
    }
}

// MARK: Early drop (S9 under attack)

extension BindingTable {
    /// Slots of the wheel searched, nearest deadline first, for a session to evict.
    static let evictionSlotScan = 512
    /// Sessions looked at in one search.
    static let evictionEntryScan = 64
    /// Transitory sessions a new flow may evict to get under its host's limits (S9 sessions, S11 ports).
    static let maxEvictionsPerNewFlow = 8

    /// Transitory TCP sessions evicted so far to admit new flows into a full table.
    public var transitoryEvictions: Int { meta.pointee.transitoryEvictions }

    /// When the table is full, a new flow may take the place of a transitory TCP session (half-open: V4 INIT,
    /// V6 INIT; or closing: FIN received, TRANS), as the kernel's conntrack early drop does. Without it a burst
    /// of spoofed SYNs fills the table with half-open sessions and locks every new flow out for the 4-minute
    /// transitory lifetime; established sessions and UDP/ICMP sessions are never evicted for this. Bounded
    /// work: `evictionSlotScan` slots, `evictionEntryScan` sessions, nearest wheel slot first.
    ///
    /// Candidates are met oldest filed first (nearest slot first, each slot in filing order), and finished
    /// sessions go first (both FINs seen, or reset or idled out: TRANS), then the others. A session is filed
    /// by its deadline when it is made and the packet path never moves it, so under a client opening
    /// connections faster than one slot's width the nearest slot also holds its newest sessions, whose SYN is
    /// still on its way, and the connections that closed a moment ago, whose last ACK is: taking the first
    /// transitory session met cut those (a SYN-ACK met no state and the client sent its SYN again a second
    /// later; a FIN went unanswered and was sent again and again).
    ///
    /// With `host`, only that host's own sessions are candidates: a host at its session limit (S9) makes room
    /// among its closing and half-open sessions (one busy client opening short connections would otherwise be
    /// locked out by its own closed connections for TCP_TRANS).
    /// - Returns: true when a session was evicted (the caller may create its own).
    func evictTransitorySession(now: Nanoseconds, host: UInt32? = nil) -> Bool {
        var tick = meta.pointee.wheelTick == .min ? BindingTable.tick(now) : meta.pointee.wheelTick
        var examined = 0
        var victim = BindingTable.none  // a finished session, else the first half-open or half-closed one
        var finished = false
        scan: for _ in 0..<BindingTable.evictionSlotScan {
            var s = wheel[BindingTable.slot(ofTick: tick)]
            while s != BindingTable.none && examined < BindingTable.evictionEntryScan {
                examined += 1
                let e = sessions[Int(s)]
                if e.proto == IPProtocolNumber.tcp, let state = TCPState(rawValue: e.state), state.isTransitory,
                   host == nil || bibs[Int(e.bib)].host == host! {
                    if state.isFinished {
                        victim = s
                        finished = true
                        break scan
                    }
                    if victim == BindingTable.none { victim = s }
                }
                s = e.wheelNext
            }
            if examined >= BindingTable.evictionEntryScan { break }
            tick &+= 1
        }
        guard victim != BindingTable.none else { return false }
        removeSession(victim, now: now, reason: .evicted)
        meta.pointee.transitoryEvictions += 1
        if !finished { meta.pointee.sessionEvictions[.openTCP] += 1 }
        return true
    }
}

extension TCPState {
    /// Half-open or closing: the states that live out the transitory lifetime (or the 6 s V4 INIT).
    public var isTransitory: Bool {
        switch self {
        case .v4Init, .v6Init, .v4FinReceived, .v6FinReceived, .v4FinV6FinReceived, .transitory: true
        case .closed, .established: false
        }
    }

    /// Both sides are done: both FINs seen, or reset or idled out (TRANS). Only a last ACK may still be on its
    /// way; the first choice for early drop.
    public var isFinished: Bool { self == .v4FinV6FinReceived || self == .transitory }
}
