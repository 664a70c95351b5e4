// RFC 6146 §3.8 hairpinning (conformance S7): an IPv6 host sending to prefix::(pool4 address) reaches the
// IPv6 host behind that pool4 endpoint. The packet is translated 6→4 as usual (so the sender gets its own
// pool4 mapping, which becomes the source the receiver sees), then, because its IPv4 destination is one of our
// own addresses, translated 4→6 through the receiver's mapping in the same buffer. Nothing leaves the box.
// In `siit` mode the same happens for EAM addresses (F4), and either way the packet loses one hop (F11).

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
        if isStateless {
            // F4 (RFC 7757 §4.2–4.3): the IPv4 form of another IPv6 host, through its EAM entry.
            // Only when the IPv6 destination was its prefix form: an address of the entry's own IPv6 prefix
            // is translated to IPv4 and leaves (the CLAT's replies, for one).
            guard eamHairpin, eamTable.entry(forIPv4: IPv4Address(destination)) != nil else { return verdict }
        } else {
            guard table.ownedIPv4Range.contains(destination), poolSet.contains(IPv4Address(destination)) else {
                return verdict
            }
        }
        counters.hairpinned &+= 1
        // F11: one pass through the translator is one hop: give back the TTL the 6→4 step took (it is at
        // least 1 there, so this never exceeds the original hop limit).
        ip.setU8(IPv4Field.ttl, ip.u8(IPv4Field.ttl) &+ 1)
        ip.setBE16(IPv4Field.checksum, 0)
        ip.setBE16(IPv4Field.checksum, InternetChecksum.finish(
            InternetChecksum.sum(UnsafeRawPointer(ip), count: IPv4Field.minimumHeaderLength)))
        return translate4to6(&packet, reply: &reply, now: now)
    }
}
