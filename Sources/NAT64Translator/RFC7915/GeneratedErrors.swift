// ICMP errors the translator itself originates (conformance E2: sourced from the gateway's own addresses).
// Size limits: an ICMPv6 error never exceeds the IPv6 minimum MTU, 1280 bytes (RFC 4443 §2.4(c)); an ICMPv4
// error never exceeds 576 bytes (RFC 1812 §4.3.2.3).

extension Translator {
    /// Writes into `reply` an ICMPv6 error (type/code, 32-bit parameter) about the IPv6 packet in `packet`,
    /// addressed to its source.
    @usableFromInline
    func buildICMPv6Error(for packet: borrowing PacketBuffer, into reply: inout PacketBuffer,
                          type: UInt8, code: UInt8, parameter: UInt32) {
        let original = packet.base + packet.start
        let quoted = min(packet.count, 1280 - IPv6Field.headerLength - 8)
        let out = reply.base + PacketBuffer.headroom
        let payloadLength = 8 + quoted
        let destination = original.ipv6(IPv6Field.source)
        out.setBE32(IPv6Field.versionClassFlow, 6 << 28)
        out.setBE16(IPv6Field.payloadLength, UInt16(payloadLength))
        out.setU8(IPv6Field.nextHeader, IPProtocolNumber.icmpv6)
        out.setU8(IPv6Field.hopLimit, 64)
        out.setIPv6(IPv6Field.source, configuration.gatewayIPv6)
        out.setIPv6(IPv6Field.destination, destination)
        let icmp = out + IPv6Field.headerLength
        icmp.setU8(0, type)
        icmp.setU8(1, code)
        icmp.setBE16(2, 0)
        icmp.setBE32(4, parameter)
        (icmp + 8).copyMemory(from: original, byteCount: quoted)
        let pseudo = InternetChecksum.pseudoHeaderSum(source: configuration.gatewayIPv6, destination: destination,
                                                      nextHeader: IPProtocolNumber.icmpv6, length: payloadLength)
        icmp.setBE16(2, InternetChecksum.finish(InternetChecksum.sum(UnsafeRawPointer(icmp), count: payloadLength, initial: pseudo)))
        reply.received(length: IPv6Field.headerLength + payloadLength)
    }

    /// Writes into `reply` an ICMPv4 error (type/code, 32-bit rest-of-header) about the IPv4 packet in
    /// `packet`, addressed to its source.
    @usableFromInline
    mutating func buildICMPv4Error(for packet: borrowing PacketBuffer, into reply: inout PacketBuffer,
                                   type: UInt8, code: UInt8, parameter: UInt32) {
        let original = packet.base + packet.start
        let quoted = min(packet.count, 576 - IPv4Field.minimumHeaderLength - 8)
        let out = reply.base + PacketBuffer.headroom
        let total = IPv4Field.minimumHeaderLength + 8 + quoted
        out.setU8(IPv4Field.versionIHL, 0x45)
        out.setU8(IPv4Field.tos, 0)
        out.setBE16(IPv4Field.totalLength, UInt16(total))
        out.setBE16(IPv4Field.identification, UInt16(truncatingIfNeeded: random.next()))
        out.setBE16(IPv4Field.flagsFragmentOffset, 0)
        out.setU8(IPv4Field.ttl, 64)
        out.setU8(IPv4Field.proto, IPProtocolNumber.icmp)
        out.setBE16(IPv4Field.checksum, 0)
        out.setBE32(IPv4Field.source, configuration.gatewayIPv4.value)
        out.setBE32(IPv4Field.destination, original.be32(IPv4Field.source))
        out.setBE16(IPv4Field.checksum,
                    InternetChecksum.finish(InternetChecksum.sum(UnsafeRawPointer(out), count: IPv4Field.minimumHeaderLength)))
        let icmp = out + IPv4Field.minimumHeaderLength
        icmp.setU8(0, type)
        icmp.setU8(1, code)
        icmp.setBE16(2, 0)
        icmp.setBE32(4, parameter)
        (icmp + 8).copyMemory(from: original, byteCount: quoted)
        icmp.setBE16(2, InternetChecksum.finish(InternetChecksum.sum(UnsafeRawPointer(icmp), count: 8 + quoted)))
        reply.received(length: total)
    }
}
