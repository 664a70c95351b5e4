// RFC 7915 §5 (IPv6 → IPv4) with RFC 6146 §3.5/§3.6 for the outbound mapping.
// Rules: T6.1 header, T6.2 hop limit, T6.4 DF/ID, T6.6 echo, conformance A1 (prefix extraction).
// First slice: TCP, UDP and ICMPv6 echo without extension headers; the rest is counted and dropped.

extension Translator {
    @usableFromInline
    mutating func translate6to4(_ packet: inout PacketBuffer, reply: inout PacketBuffer, now: Nanoseconds) -> Verdict {
        let ip = packet.base + packet.start
        guard packet.count >= IPv6Field.headerLength else { return .drop(.truncated) }
        let payloadLength = Int(ip.be16(IPv6Field.payloadLength))
        guard payloadLength > 0 else { return .drop(.badHeader) }  // jumbograms are not translatable
        guard IPv6Field.headerLength + payloadLength <= packet.count else { return .drop(.truncated) }
        packet.count = IPv6Field.headerLength + payloadLength  // ignore trailing bytes beyond the IPv6 length

        let source = ip.ipv6(IPv6Field.source)
        let destination = ip.ipv6(IPv6Field.destination)
        let nextHeader = ip.u8(IPv6Field.nextHeader)
        let hopLimit = ip.u8(IPv6Field.hopLimit)
        let trafficClass = UInt8(truncatingIfNeeded: ip.be32(IPv6Field.versionClassFlow) >> 20)

        // The kernel writes its own neighbour discovery and MLD into the TUN; they are not for us.
        if destination.high >> 56 == 0xFF || source.high >> 54 == 0x3FA || source == .unspecified {
            return .drop(.localTraffic)
        }
        // A1: destination must be a well-formed address under the prefix.
        let destination4: IPv4Address
        switch configuration.prefix.extract(destination) {
        case .success(let a): destination4 = a
        case .failure: return .drop(.notInPrefix)
        }

        // T6.2: a packet whose hop limit would reach zero gets Time Exceeded from the gateway (E2).
        if hopLimit <= 1 {
            buildICMPv6Error(for: packet, into: &reply, type: 3, code: 0, parameter: 0)
            return .icmpError(.hopLimitExceeded)
        }

        let l4 = ip + IPv6Field.headerLength
        let proto: UInt8
        let idOffset: Int
        switch nextHeader {
        case IPProtocolNumber.tcp:
            guard payloadLength >= L4Field.tcpMinimumHeaderLength else { return .drop(.truncated) }
            proto = IPProtocolNumber.tcp
            idOffset = L4Field.sourcePort
        case IPProtocolNumber.udp:
            guard payloadLength >= L4Field.udpHeaderLength else { return .drop(.truncated) }
            if l4.be16(L4Field.udpChecksum) == 0, case .complete = packet.offload.checksum {
                return .drop(.zeroUDPChecksum)
            }
            proto = IPProtocolNumber.udp
            idOffset = L4Field.sourcePort
        case IPProtocolNumber.icmpv6:
            guard payloadLength >= L4Field.icmpHeaderLength else { return .drop(.truncated) }
            let type = l4.u8(L4Field.icmpType)
            // T6.6: only echo request/reply are informational messages we translate.
            guard type == 128 || type == 129 else { return .drop(.unknownICMPType) }
            proto = IPProtocolNumber.icmp
            idOffset = L4Field.icmpIdentifier
        case IPProtocolNumber.fragment:
            return .drop(.fragment)
        case IPProtocolNumber.hopByHop, IPProtocolNumber.routing, IPProtocolNumber.destinationOptions:
            return .drop(.extensionHeader)
        default:
            // T6.13: NAPT cannot translate other protocols.
            return .drop(.unknownL4)
        }

        let totalLength = IPv4Field.minimumHeaderLength + payloadLength
        guard totalLength <= 0xFFFF else { return .drop(.tooBig) }

        // RFC 6146 §3.5: find or create the session (RFC6146/FilteringAndUpdating.swift).
        let oldPort = l4.be16(idOffset)
        let outside: Endpoint4
        switch filterAndUpdateOutbound(packet, reply: &reply, source: source, destination4: destination4, proto: proto,
                                       l4: l4, now: now) {
        case .proceed(let e): outside = e
        case .stop(let verdict): return verdict
        }
        let source4 = outside.address.value

        // L4 checksum: swap the IPv6 pseudo-header for the IPv4 one and account for the port rewrite.
        let old6 = InternetChecksum.sum(source) &+ InternetChecksum.sum(destination)
        let new4 = InternetChecksum.sum32(source4) &+ InternetChecksum.sum32(destination4.value)
        switch proto {
        case IPProtocolNumber.icmp:
            // ICMPv4 has no pseudo-header (T6.6): remove the IPv6 one, and the type change 128→8 / 129→0.
            let oldType = l4.u8(L4Field.icmpType)
            let newType: UInt8 = oldType == 128 ? 8 : 0
            let code = l4.u8(L4Field.icmpCode)
            let removed = InternetChecksum.pseudoHeaderSum(source: source, destination: destination,
                                                           nextHeader: IPProtocolNumber.icmpv6, length: payloadLength)
                &+ UInt64(UInt16(oldType) << 8 | UInt16(code)) &+ UInt64(oldPort)
            let added = UInt64(UInt16(newType) << 8 | UInt16(code)) &+ UInt64(outside.port)
            l4.setU8(L4Field.icmpType, newType)
            l4.setBE16(idOffset, outside.port)
            switch packet.offload.checksum {
            case .complete:
                l4.setBE16(L4Field.icmpChecksum,
                           InternetChecksum.adjust(l4.be16(L4Field.icmpChecksum), removing: removed, adding: added))
            case .partial:
                // Finish the checksum now: ICMPv4 has no pseudo-header, so there is nothing left to offload.
                l4.setBE16(L4Field.icmpChecksum, 0)
                l4.setBE16(L4Field.icmpChecksum,
                           InternetChecksum.finish(InternetChecksum.sum(UnsafeRawPointer(l4), count: payloadLength)))
                packet.offload.checksum = .complete
            }
        default:
            let checksumOffset = proto == IPProtocolNumber.tcp ? L4Field.tcpChecksum : L4Field.udpChecksum
            let field = l4.be16(checksumOffset)
            var updated: UInt16
            switch packet.offload.checksum {
            case .complete:
                updated = InternetChecksum.adjust(field, removing: old6 &+ UInt64(oldPort),
                                                  adding: new4 &+ UInt64(outside.port))
                if proto == IPProtocolNumber.udp && updated == 0 { updated = 0xFFFF }  // T4.14: never 0 for UDP
            case .partial(let start, let offset):
                // Only the pseudo-header is in the field; the port is covered when the checksum is finished.
                updated = InternetChecksum.adjustPartial(field, removing: old6, adding: new4)
                packet.offload.checksum = .partial(start: start - 20, offset: offset)
            }
            l4.setBE16(checksumOffset, updated)
            l4.setBE16(idOffset, outside.port)
        }

        // T6.1 / T6.4: build the IPv4 header in the last 20 bytes of the old IPv6 header.
        let v4 = ip + (IPv6Field.headerLength - IPv4Field.minimumHeaderLength)
        v4.setU8(IPv4Field.versionIHL, 0x45)
        v4.setU8(IPv4Field.tos, trafficClass)
        v4.setBE16(IPv4Field.totalLength, UInt16(totalLength))
        v4.setBE16(IPv4Field.identification, UInt16(truncatingIfNeeded: random.next()))
        v4.setBE16(IPv4Field.flagsFragmentOffset, totalLength > 1260 ? IPv4Field.dontFragment : 0)
        v4.setU8(IPv4Field.ttl, hopLimit - 1)
        v4.setU8(IPv4Field.proto, proto)
        v4.setBE16(IPv4Field.checksum, 0)
        v4.setBE32(IPv4Field.source, source4)
        v4.setBE32(IPv4Field.destination, destination4.value)
        v4.setBE16(IPv4Field.checksum,
                   InternetChecksum.finish(InternetChecksum.sum(UnsafeRawPointer(v4), count: IPv4Field.minimumHeaderLength)))

        packet.start += IPv6Field.headerLength - IPv4Field.minimumHeaderLength
        packet.count = totalLength
        if packet.offload.segmentation == .tcp6 { packet.offload.segmentation = .tcp4 }
        if packet.offload.headerLength > 0 { packet.offload.headerLength -= 20 }
        counters.translated6to4 &+= 1
        return .translated
    }
}
