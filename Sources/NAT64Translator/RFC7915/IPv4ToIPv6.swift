// RFC 7915 §4 (IPv4 → IPv6) with RFC 6146 §3.5 for the inbound lookup.
// Rules: T4.1 header, T4.2 TTL, T4.3 options not translated, T4.7 echo, T4.13 UDP zero checksum,
// T4.14 checksum adjustment, S2 endpoint-independent filtering, S6 no mapping.
// First slice: unfragmented TCP, UDP and ICMP echo; the rest is counted and dropped.

extension Translator {
    @usableFromInline
    mutating func translate4to6(_ packet: inout PacketBuffer, reply: inout PacketBuffer, now: Nanoseconds) -> Verdict {
        let ip = packet.base + packet.start
        guard packet.count >= IPv4Field.minimumHeaderLength else { return .drop(.truncated) }
        let headerLength = Int(ip.u8(IPv4Field.versionIHL) & 0x0F) * 4
        guard headerLength >= IPv4Field.minimumHeaderLength else { return .drop(.badHeader) }
        let totalLength = Int(ip.be16(IPv4Field.totalLength))
        guard totalLength >= headerLength else { return .drop(.badHeader) }
        guard totalLength <= packet.count else { return .drop(.truncated) }
        packet.count = totalLength
        guard InternetChecksum.fold(InternetChecksum.sum(UnsafeRawPointer(ip), count: headerLength)) == 0xFFFF else {
            return .drop(.badIPv4Checksum)
        }

        let flagsOffset = ip.be16(IPv4Field.flagsFragmentOffset)
        let ttl = ip.u8(IPv4Field.ttl)
        let proto = ip.u8(IPv4Field.proto)
        let tos = ip.u8(IPv4Field.tos)
        let source4 = IPv4Address(ip.be32(IPv4Field.source))
        let destination4 = IPv4Address(ip.be32(IPv4Field.destination))

        guard poolSet.contains(destination4) else { return .drop(.notInPool) }
        if flagsOffset & (IPv4Field.moreFragments | IPv4Field.offsetMask) != 0 { return .drop(.fragment) }

        // T4.2: TTL would expire here: Time Exceeded from the gateway's own address (E2).
        if ttl <= 1 {
            buildICMPv4Error(for: packet, into: &reply, type: 11, code: 0, parameter: 0)
            return .icmpError(.hopLimitExceeded)
        }

        let l4 = ip + headerLength
        let l4Length = totalLength - headerLength
        let idOffset: Int
        switch proto {
        case IPProtocolNumber.tcp:
            guard l4Length >= L4Field.tcpMinimumHeaderLength else { return .drop(.truncated) }
            idOffset = L4Field.destinationPort
        case IPProtocolNumber.udp:
            guard l4Length >= L4Field.udpHeaderLength else { return .drop(.truncated) }
            idOffset = L4Field.destinationPort
        case IPProtocolNumber.icmp:
            guard l4Length >= L4Field.icmpHeaderLength else { return .drop(.truncated) }
            let type = l4.u8(L4Field.icmpType)
            // T4.7: echo request/reply only; errors arrive with the conformance work.
            guard type == 8 || type == 0 else { return .drop(.unknownICMPType) }
            idOffset = L4Field.icmpIdentifier
        default:
            return .drop(.unknownL4)
        }

        // RFC 6146 §3.5.1/§3.5.2: endpoint-independent filtering; no mapping → drop (S6).
        let oldPort = l4.be16(idOffset)
        let inside: Endpoint6
        switch filterAndUpdateInbound(packet, source4: source4, destination4: destination4, proto: proto, l4: l4, now: now) {
        case .proceed(let e): inside = e  // RFC 6146 §3.5 (RFC6146/FilteringAndUpdating.swift)
        case .stop(let verdict): return verdict
        }
        let source6 = configuration.prefix.embed(source4)
        let destination6 = inside.address

        let newStart = packet.start + headerLength - IPv6Field.headerLength
        guard newStart >= 0 else { return .drop(.tooBig) }

        let old4 = InternetChecksum.sum32(source4.value) &+ InternetChecksum.sum32(destination4.value)
        let new6 = InternetChecksum.sum(source6) &+ InternetChecksum.sum(destination6)
        let nextHeader: UInt8
        switch proto {
        case IPProtocolNumber.icmp:
            nextHeader = IPProtocolNumber.icmpv6
            let oldType = l4.u8(L4Field.icmpType)
            let newType: UInt8 = oldType == 8 ? 128 : 129
            let code = l4.u8(L4Field.icmpCode)
            l4.setU8(L4Field.icmpType, newType)
            l4.setBE16(idOffset, inside.port)
            // ICMPv6 adds the pseudo-header (T4.7 with RFC 4443 §2.3).
            let pseudo = InternetChecksum.pseudoHeaderSum(source: source6, destination: destination6,
                                                          nextHeader: IPProtocolNumber.icmpv6, length: l4Length)
            switch packet.offload.checksum {
            case .complete:
                let removed = UInt64(UInt16(oldType) << 8 | UInt16(code)) &+ UInt64(oldPort)
                let added = pseudo &+ UInt64(UInt16(newType) << 8 | UInt16(code)) &+ UInt64(inside.port)
                l4.setBE16(L4Field.icmpChecksum,
                           InternetChecksum.adjust(l4.be16(L4Field.icmpChecksum), removing: removed, adding: added))
            case .partial:
                l4.setBE16(L4Field.icmpChecksum, 0)
                l4.setBE16(L4Field.icmpChecksum,
                           InternetChecksum.finish(InternetChecksum.sum(UnsafeRawPointer(l4), count: l4Length, initial: pseudo)))
                packet.offload.checksum = .complete
            }
        default:
            nextHeader = proto
            let checksumOffset = proto == IPProtocolNumber.tcp ? L4Field.tcpChecksum : L4Field.udpChecksum
            let field = l4.be16(checksumOffset)
            l4.setBE16(idOffset, inside.port)
            if proto == IPProtocolNumber.udp && field == 0 {
                // T4.13: IPv4 UDP without checksum (unfragmented here): compute it, IPv6 requires one.
                let pseudo = InternetChecksum.pseudoHeaderSum(source: source6, destination: destination6,
                                                              nextHeader: IPProtocolNumber.udp, length: l4Length)
                var full = InternetChecksum.finish(InternetChecksum.sum(UnsafeRawPointer(l4), count: l4Length, initial: pseudo))
                if full == 0 { full = 0xFFFF }
                l4.setBE16(checksumOffset, full)
                packet.offload.checksum = .complete
            } else {
                switch packet.offload.checksum {
                case .complete:
                    // T4.14: incremental (RFC 1624): an incoming error stays an error.
                    var updated = InternetChecksum.adjust(field, removing: old4 &+ UInt64(oldPort),
                                                          adding: new6 &+ UInt64(inside.port))
                    if proto == IPProtocolNumber.udp && updated == 0 { updated = 0xFFFF }
                    l4.setBE16(checksumOffset, updated)
                case .partial(let start, let offset):
                    l4.setBE16(checksumOffset, InternetChecksum.adjustPartial(field, removing: old4, adding: new6))
                    packet.offload.checksum = .partial(start: start + IPv6Field.headerLength - headerLength, offset: offset)
                }
            }
        }

        // T4.1 / T4.3: the IPv6 header replaces the IPv4 header and its options, ending where they ended.
        let v6 = packet.base + newStart
        v6.setBE32(IPv6Field.versionClassFlow, 6 << 28 | UInt32(tos) << 20)
        v6.setBE16(IPv6Field.payloadLength, UInt16(l4Length))
        v6.setU8(IPv6Field.nextHeader, nextHeader)
        v6.setU8(IPv6Field.hopLimit, ttl - 1)
        v6.setIPv6(IPv6Field.source, source6)
        v6.setIPv6(IPv6Field.destination, destination6)

        packet.start = newStart
        packet.count = IPv6Field.headerLength + l4Length
        if packet.offload.segmentation == .tcp4 { packet.offload.segmentation = .tcp6 }
        if packet.offload.headerLength > 0 { packet.offload.headerLength += IPv6Field.headerLength - headerLength }
        counters.translated4to6 &+= 1
        return .translated
    }
}
