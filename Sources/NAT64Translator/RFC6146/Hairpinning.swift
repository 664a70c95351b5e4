// RFC 6146 §3.8 hairpinning (conformance S7): an IPv6 host sending to prefix::(pool4 address) reaches the
// IPv6 host behind that pool4 endpoint. The packet is translated 6→4 as usual (so the sender gets its own
// pool4 mapping, which becomes the source the receiver sees), then, because its IPv4 destination is one of our
// own addresses, translated 4→6 through the receiver's mapping in the same buffer. Nothing leaves the box.

extension Translator {
    /// After a 6→4 translation: if the IPv4 destination is one of ours, run the packet back through 4→6.
    ///
    /// - Parameters:
    ///   - verdict: the 6→4 verdict.
    ///   - packet: the translated IPv4 packet (rewritten again in place when hairpinned).
    ///   - reply: scratch for an ICMP error.
    ///   - now: the current time.
    /// - Returns: `verdict` unchanged, or the 4→6 verdict of the hairpinned packet.
    @inlinable
    mutating func hairpinIfNeeded(_ verdict: Verdict, _ packet: inout PacketBuffer, reply: inout PacketBuffer,
                                  now: Nanoseconds) -> Verdict {
        guard case .translated = verdict, packet.count >= IPv4Field.minimumHeaderLength else { return verdict }
        let ip = packet.base + packet.start
        guard ip.u8(IPv4Field.versionIHL) >> 4 == 4 else { return verdict }
        let destination = ip.be32(IPv4Field.destination)
        guard table.ownedIPv4Range.contains(destination), poolSet.contains(IPv4Address(destination)) else {
            return verdict
        }
        counters.hairpinned &+= 1
        return translate4to6(&packet, reply: &reply, now: now)
    }
}
