// RFC 6146 §3.5.2.2 (conformance S6): an IPv4-initiated SYN with no mapping is held for TCP_INCOMING_SYN (6 s)
// in case the IPv6 host opens the same connection (simultaneous open). If that happens, the held SYN is
// dropped silently (`BindingTable.createOutbound`); otherwise the NAT64 answers ICMPv4 Destination
// Unreachable, Port Unreachable (type 3, code 3) quoting it. This file is the second half: the timer side.

extension Translator {
    /// Builds the ICMPv4 3/3 for the next held SYN whose hold time has run out. Call from the timer (after
    /// `expire`) until it returns false, sending `reply` each time it returns true.
    ///
    /// - Parameters:
    ///   - now: the current time.
    ///   - reply: receives the ICMPv4 error, addressed to the SYN's sender from `gatewayIPv4` (E2).
    /// - Returns: true when `reply` holds an error to send.
    public mutating func heldSYNError(now: Nanoseconds, into reply: inout PacketBuffer) -> Bool {
        guard table.heldSYNs.count > 0 else { return false }
        // Timer path, at most once per held SYN: a small scratch buffer is fine here.
        var held = PacketBuffer(capacity: PacketBuffer.headroom + table.heldSYNs.slotBytes)
        while true {
            let area = held.readArea
            let popped = table.lock.withLock {
                table.heldSYNs.popExpired(now: now, into: area.pointer, capacity: area.count)
            }
            guard let (_, length) = popped else {
                return false
            }
            held.received(length: length)
            // E3 and E4 apply: a suppressed error moves on to the next expired SYN. E4's bucket is in the
            // shared table, so the lock is held while it is taken.
            table.lock.lock()
            let verdict = generateICMPv4Error(for: held, into: &reply, type: 3, code: 3, parameter: 0,
                                              reason: .noState, now: now)
            table.lock.unlock()
            if case .icmpError = verdict {
                counters.icmpErrorsSent &+= 1
                return true
            }
        }
    }
}
