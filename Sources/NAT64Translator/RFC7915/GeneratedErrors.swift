// ICMP errors the translator itself originates (E2: sourced from the gateway's own addresses; E3: rate-limited
// per destination; E4: and in total). Size limits: an ICMPv6 error never exceeds 1280 bytes (RFC 4443 §2.4(c));
// an ICMPv4 error never exceeds 576 bytes (RFC 1812 §4.3.2.3).

extension Translator {
    /// Sends (into `reply`) an ICMPv6 error about the IPv6 packet in `packet`, subject to the rate limit.
    /// - Returns: `.icmpError(reason)`, or `.drop(reason)` when the rate limit suppressed the error.
    @usableFromInline
    mutating func generateICMPv6Error(for packet: borrowing PacketBuffer, into reply: inout PacketBuffer,
                                      type: UInt8, code: UInt8, parameter: UInt32, reason: DropReason,
                                      now: Nanoseconds) -> Verdict {
        let original = packet.base + packet.start
        let destination = original.ipv6(IPv6Field.source)
        // E3 per destination, then E4 in total.
        guard rateLimiter.allow(key: destination.high ^ destination.low, now: now), table.allowGeneratedError(now: now) else {
            counters.icmpErrorsRateLimited &+= 1
            return .drop(reason)
        }
        let quoted = min(packet.count, 1280 - IPv6Field.headerLength - 8)
        let out = reply.base + PacketBuffer.headroom
        let payloadLength = 8 + quoted
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
        return .icmpError(reason)
    }

    /// Sends (into `reply`) an ICMPv4 error about the IPv4 packet in `packet`, subject to the rate limit.
    @usableFromInline
    mutating func generateICMPv4Error(for packet: borrowing PacketBuffer, into reply: inout PacketBuffer,
                                      type: UInt8, code: UInt8, parameter: UInt32, reason: DropReason,
                                      now: Nanoseconds) -> Verdict {
        let original = packet.base + packet.start
        let destination = original.be32(IPv4Field.source)
        guard rateLimiter.allow(key: UInt64(destination), now: now), table.allowGeneratedError(now: now) else {
            counters.icmpErrorsRateLimited &+= 1
            return .drop(reason)
        }
        let quoted = min(packet.count, 576 - IPv4Field.minimumHeaderLength - 8)
        let out = reply.base + PacketBuffer.headroom
        let total = IPv4Field.minimumHeaderLength + 8 + quoted
        writeIPv4Header(out, totalLength: total, identification: UInt16(truncatingIfNeeded: random.next()),
                        flags: 0, ttl: 64, proto: IPProtocolNumber.icmp, tos: 0,
                        source: configuration.gatewayIPv4.value, destination: destination)
        let icmp = out + IPv4Field.minimumHeaderLength
        icmp.setU8(0, type)
        icmp.setU8(1, code)
        icmp.setBE16(2, 0)
        icmp.setBE32(4, parameter)
        (icmp + 8).copyMemory(from: original, byteCount: quoted)
        icmp.setBE16(2, InternetChecksum.finish(InternetChecksum.sum(UnsafeRawPointer(icmp), count: 8 + quoted)))
        reply.received(length: total)
        return .icmpError(reason)
    }
}

/// Writes a 20-byte IPv4 header (no options) with its checksum.
@inlinable
func writeIPv4Header(_ p: UnsafeMutableRawPointer, totalLength: Int, identification: UInt16, flags: UInt16,
                     ttl: UInt8, proto: UInt8, tos: UInt8, source: UInt32, destination: UInt32) {
    p.setU8(IPv4Field.versionIHL, 0x45)
    p.setU8(IPv4Field.tos, tos)
    p.setBE16(IPv4Field.totalLength, UInt16(totalLength))
    p.setBE16(IPv4Field.identification, identification)
    p.setBE16(IPv4Field.flagsFragmentOffset, flags)
    p.setU8(IPv4Field.ttl, ttl)
    p.setU8(IPv4Field.proto, proto)
    p.setBE16(IPv4Field.checksum, 0)
    p.setBE32(IPv4Field.source, source)
    p.setBE32(IPv4Field.destination, destination)
    p.setBE16(IPv4Field.checksum,
              InternetChecksum.finish(InternetChecksum.sum(UnsafeRawPointer(p), count: IPv4Field.minimumHeaderLength)))
}

/// Writes a 40-byte IPv6 header.
@inlinable
func writeIPv6Header(_ p: UnsafeMutableRawPointer, payloadLength: Int, nextHeader: UInt8, hopLimit: UInt8,
                     trafficClass: UInt8, source: IPv6Address, destination: IPv6Address) {
    p.setBE32(IPv6Field.versionClassFlow, 6 << 28 | UInt32(trafficClass) << 20)
    p.setBE16(IPv6Field.payloadLength, UInt16(payloadLength))
    p.setU8(IPv6Field.nextHeader, nextHeader)
    p.setU8(IPv6Field.hopLimit, hopLimit)
    p.setIPv6(IPv6Field.source, source)
    p.setIPv6(IPv6Field.destination, destination)
}
