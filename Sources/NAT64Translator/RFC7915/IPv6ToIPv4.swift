// RFC 7915 §5 (IPv6 → IPv4) with RFC 6146 §3.5/§3.6 for the outbound mapping, or the stateless mapping of
// Stateless/ in `siit` mode and for 1:1 hosts.
// Rules: T6.1 header, T6.2 hop limit, T6.3 routing header, T6.4 DF/ID/fragments, T6.5 Packet Too Big,
// T6.6 informational ICMPv6, T6.11 fragmented ICMPv6, T6.12 default error, T6.13 other protocols;
// A1–A3 address checks; F1, F2 stateless; F8 empty payload; F10 extension after fragment; F14 traffic class;
// F15–F19 malformed input (MalformedInput.swift).
// ICMPv6 errors continue in ICMPErrors.swift.

extension Translator {
    @usableFromInline
    mutating func translate6to4(_ packet: inout PacketBuffer, reply: inout PacketBuffer, now: Nanoseconds) -> Verdict {
        let ip = packet.base + packet.start
        eamHairpin = false
        guard packet.count >= IPv6Field.headerLength else { return .drop(.truncated) }
        let payloadLength = Int(ip.be16(IPv6Field.payloadLength))
        // F8: Payload Length 0 is an empty payload (No Next Header); only with a Hop-by-Hop header, which then
        // carries a Jumbo Payload option (RFC 2675 §3), is it a jumbogram, which IPv4 cannot carry.
        if payloadLength == 0 && ip.u8(IPv6Field.nextHeader) == IPProtocolNumber.hopByHop { return .drop(.badHeader) }
        guard IPv6Field.headerLength + payloadLength <= packet.count else { return .drop(.truncated) }
        packet.count = IPv6Field.headerLength + payloadLength  // ignore trailing bytes beyond the IPv6 length

        let source = ip.ipv6(IPv6Field.source)
        let destination = ip.ipv6(IPv6Field.destination)
        let hopLimit = ip.u8(IPv6Field.hopLimit)
        let trafficClass = configuration.translatedTrafficClass(UInt8(truncatingIfNeeded: ip.be32(IPv6Field.versionClassFlow) >> 20))

        // The kernel writes its own neighbour discovery and MLD into the TUN; they are not for us.
        if destination.high >> 56 == 0xFF || source.high >> 54 == 0x3FA || source == .unspecified {
            return .drop(.localTraffic)
        }
        // F18: an IPv4-mapped address is never on the wire; no ICMP error goes back to a spoofed one.
        if MalformedInput.isIPv4Mapped(source) || MalformedInput.isIPv4Mapped(destination) {
            return .drop(.mappedAddress)
        }

        // T6.3 / T6.4: the extension header chain.
        let layout: IPv6Layout
        switch IPv6Layout.walk(ip, length: packet.count) {
        case .layout(let l): layout = l
        case .drop(.extensionAfterFragment):
            // F10: dropped with the T6.12 error (administratively prohibited).
            return generateICMPv6Error(for: packet, into: &reply, type: 1, code: 1, parameter: 0,
                                       reason: .extensionAfterFragment, now: now)
        case .drop(let reason): return .drop(reason)
        case .parameterProblem(let pointer, let reason):
            return generateICMPv6Error(for: packet, into: &reply, type: 4, code: 0, parameter: pointer,
                                       reason: reason, now: now)
        }
        // F17: a fragment ending past the largest reassembled Payload Length (65,535) is never forwarded.
        if let f = layout.fragment,
           !MalformedInput.fragmentFits(unfragmentable: layout.upperOffset - IPv6Field.headerLength - 8,
                                        offset: f.offset, length: packet.count - layout.upperOffset) {
            return .drop(.fragmentTooFar)
        }
        if isStateless && destination == configuration.gatewayIPv6 {
            return answerEcho6(&packet, layout: layout)
        }

        let l4 = ip + layout.upperOffset
        let l4Length = packet.count - layout.upperOffset
        let isFirst = layout.fragment?.isFirst ?? true
        let isICMPError = layout.proto == IPProtocolNumber.icmpv6 && isFirst && l4Length >= 1
            && ICMPMapping.isError6(l4.u8(L4Field.icmpType))

        // A1: the destination is a well-formed address under the prefix (F1: or an EAM entry); A2/A3: and may
        // be translated. T6.12: administratively prohibited otherwise (never about an ICMP error).
        var destination4 = IPv4Address(0)
        var unmapped: DropReason?
        if isStateless {
            if let d = statelessIPv4(for: destination) {
                destination4 = d
                if d == configuration.gatewayIPv4 { unmapped = .forbiddenAddress }  // A3: our own address
                // F4: the prefix form of an EAM address goes back to that entry's IPv6 host.
                eamHairpin = configuration.prefix.contains(destination) && eamTable.entry(forIPv4: d) != nil
            } else if configuration.prefix.contains(destination) {
                unmapped = .forbiddenAddress
            } else {
                return .drop(.notInPrefix)
            }
        } else {
            switch configuration.prefix.extract(destination) {
            case .success(let a): destination4 = a
            case .failure: return .drop(.notInPrefix)
            }
            if !configuration.addressPolicy.allows(destination4, under: configuration.prefix)
                || destination4 == configuration.gatewayIPv4 { unmapped = .forbiddenAddress }
        }
        if AddressPolicy.isForbidden(source) { return .drop(.forbiddenAddress) }
        // F1: in siit mode the source needs an IPv4 form too.
        let stateless4 = isStateless ? statelessIPv4(for: source) : nil
        if isStateless && stateless4 == nil && !isICMPError && unmapped == nil { unmapped = .notInPrefix }
        if let reason = unmapped {
            if isICMPError { return .drop(reason) }
            return generateICMPv6Error(for: packet, into: &reply, type: 1, code: 1, parameter: 0, reason: reason, now: now)
        }

        // T6.2: a packet whose hop limit would reach zero gets Time Exceeded from the gateway (E2), except
        // an ICMP error (never an error about an error).
        if hopLimit <= 1 {
            if isICMPError { return .drop(.hopLimitExceeded) }
            return generateICMPv6Error(for: packet, into: &reply, type: 3, code: 0, parameter: 0,
                                       reason: .hopLimitExceeded, now: now)
        }

        var proto: UInt8
        var idOffset = L4Field.sourcePort
        /// F2: the source's 1:1 address when the packet passes without a session (other protocols).
        var oneToOne = stateless4
        switch layout.proto {
        case IPProtocolNumber.tcp:
            if isFirst {
                guard l4Length >= L4Field.tcpMinimumHeaderLength else { return .drop(.truncated) }
                // F16: Data Offset < 5 (or a header longer than the packet).
                guard MalformedInput.tcpDataOffsetValid(l4, l4Length: l4Length, fragmented: layout.fragment?.more ?? false)
                else { return .drop(.tcpDataOffset) }
            }
            proto = IPProtocolNumber.tcp
        case IPProtocolNumber.udp:
            if isFirst {
                guard l4Length >= L4Field.udpHeaderLength else { return .drop(.truncated) }
                // F15: the Length field agrees with the packet (super-packets and first fragments: its range).
                guard MalformedInput.udpLengthMatches(l4, l4Length: l4Length, fragmented: layout.fragment?.more ?? false,
                                                      offload: packet.offload)
                else { return .drop(.udpLengthMismatch) }
                if l4.be16(L4Field.udpChecksum) == 0, case .complete = packet.offload.checksum {
                    return .drop(.zeroUDPChecksum)  // RFC 8200 §8.1: mandatory in IPv6
                }
            }
            proto = IPProtocolNumber.udp
        case IPProtocolNumber.icmpv6:
            // T6.11: the checksum covers the whole message (and a pseudo-header): reassemble, then translate;
            // a stateless translator cannot (F1), so it drops and counts.
            if let f = layout.fragment, f.offset != 0 || f.more {
                if isStateless { return .drop(.fragmentedICMP) }
                let key = ICMPReassembly.Key(source: source, destination: destination, identification: f.identification,
                                             version: 6)
                switch reassembly.add(&packet, key: key, headerLength: IPv6Field.headerLength,
                                      payloadOffset: layout.upperOffset, offset: f.offset, more: f.more,
                                      upperProtocol: IPProtocolNumber.icmpv6, now: now) {
                case .held: return .drop(.fragmentHeld)
                case .heldEvicting:
                    counters.count(.fragmentEvicted)  // S12: another source's older datagram made room
                    return .drop(.fragmentHeld)
                case .refused(let reason): return .drop(reason)
                case .complete: return translate6to4(&packet, reply: &reply, now: now)
                }
            }
            guard l4Length >= L4Field.icmpHeaderLength else { return .drop(.truncated) }
            if isICMPError {
                return translateICMPv6Error(&packet, layout: layout, destination4: destination4, now: now)
            }
            // T6.6: only echo request/reply are informational messages we translate.
            guard ICMPMapping.informational6to4(type: l4.u8(L4Field.icmpType)) != nil else {
                return .drop(.unknownICMPType)
            }
            proto = IPProtocolNumber.icmp
            idOffset = L4Field.icmpIdentifier
        case IPProtocolNumber.icmp:
            // F19: ICMPv4 inside IPv6 would come out as a real ICMPv4 message that no rule of §5.2 checked.
            return .drop(.wrongFamilyICMP)
        default:
            // F2: 1:1 translation passes every protocol, payload copied (§5.5). T6.13: NAPT cannot: Parameter
            // Problem pointing at the next header.
            if oneToOne == nil { oneToOne = table.oneToOneAddress(for: source) }
            guard oneToOne != nil else {
                return generateICMPv6Error(for: packet, into: &reply, type: 4, code: 1,
                                           parameter: UInt32(layout.protoFieldOffset), reason: .unknownL4, now: now)
            }
            proto = layout.proto
        }

        let totalLength = IPv4Field.minimumHeaderLength + l4Length
        guard totalLength <= 0xFFFF else { return .drop(.tooBig) }

        // T6.4: DF only for unfragmented packets over 1260 bytes; T6.5: too big for the IPv4 link → PTB.
        let dontFragment = layout.fragment == nil && totalLength > 1260
        if dontFragment && packet.offload.segmentation == .none && totalLength > configuration.ipv4MTU {
            return generateICMPv6Error(for: packet, into: &reply, type: 2, code: 0,
                                       parameter: UInt32(max(1280, configuration.ipv4MTU + 20)),
                                       reason: .packetTooBig, now: now)
        }

        let source4: IPv4Address
        if let address = oneToOne {
            // F1 / F2: no session; ports stay, only the pseudo-header changes.
            source4 = address
            if isFirst && (proto == IPProtocolNumber.tcp || proto == IPProtocolNumber.udp || proto == IPProtocolNumber.icmp) {
                let port = l4.be16(idOffset)
                rewriteL4Outbound(l4: l4, l4Length: l4Length, proto: proto, idOffset: idOffset, oldPort: port,
                                  newPort: port, source6: source, destination6: destination, source4: source4,
                                  destination4: destination4, offload: &packet.offload,
                                  headerShrink: layout.upperOffset - IPv4Field.minimumHeaderLength)
            }
        } else if isFirst {
            // RFC 6146 §3.5: find or create the session (RFC6146/FilteringAndUpdating.swift), then rewrite L4.
            let oldPort = l4.be16(idOffset)
            let outside: Endpoint4
            switch filterAndUpdateOutbound(packet, reply: &reply, source: source, destination4: destination4,
                                           proto: proto, l4: l4, now: now) {
            case .proceed(let e): outside = e
            case .stop(let verdict): return verdict
            }
            source4 = outside.address
            rewriteL4Outbound(l4: l4, l4Length: l4Length, proto: proto, idOffset: idOffset, oldPort: oldPort,
                              newPort: outside.port, source6: source, destination6: destination,
                              source4: source4, destination4: destination4, offload: &packet.offload,
                              headerShrink: layout.upperOffset - IPv4Field.minimumHeaderLength)
        } else {
            // A later fragment carries no ports: the host's paired pool4 address keeps it with its datagram.
            guard let address = table.outsideAddress(for: source) else { return .drop(.noState) }
            source4 = address
        }

        // T6.1 / T6.4: the IPv4 header goes in the last 20 bytes before the upper layer.
        let flags: UInt16
        let identification: UInt16
        if let f = layout.fragment {
            flags = (f.more ? IPv4Field.moreFragments : 0) | UInt16(f.offset >> 3)
            identification = UInt16(truncatingIfNeeded: f.identification)
        } else {
            flags = dontFragment ? IPv4Field.dontFragment : 0
            identification = UInt16(truncatingIfNeeded: random.next())
        }
        let v4 = l4 - IPv4Field.minimumHeaderLength
        writeIPv4Header(v4, totalLength: totalLength, identification: identification, flags: flags,
                        ttl: hopLimit - 1, proto: proto, tos: trafficClass, source: source4.value,
                        destination: destination4.value)

        packet.start += layout.upperOffset - IPv4Field.minimumHeaderLength
        packet.count = totalLength
        if packet.offload.segmentation == .tcp6 { packet.offload.segmentation = .tcp4 }
        if packet.offload.headerLength > 0 {
            packet.offload.headerLength -= layout.upperOffset - IPv4Field.minimumHeaderLength
        }
        counters.translated6to4 &+= 1
        return .translated
    }

    /// T6.6 / T4.14 for the outbound L4 header: swaps the IPv6 pseudo-header for the IPv4 one, applies the
    /// port (or echo identifier) rewrite, and turns ICMPv6 echo into ICMP echo. Incremental: a wrong
    /// checksum stays wrong.
    @usableFromInline
    func rewriteL4Outbound(l4: UnsafeMutableRawPointer, l4Length: Int, proto: UInt8, idOffset: Int, oldPort: UInt16,
                           newPort: UInt16, source6: IPv6Address, destination6: IPv6Address,
                           source4: IPv4Address, destination4: IPv4Address, offload: inout OffloadInfo,
                           headerShrink: Int) {
        let old6 = InternetChecksum.sum(source6) &+ InternetChecksum.sum(destination6)
        let new4 = InternetChecksum.sum32(source4.value) &+ InternetChecksum.sum32(destination4.value)
        if proto == IPProtocolNumber.icmp {
            // ICMPv4 has no pseudo-header: remove the IPv6 one, and the type change 128→8 / 129→0.
            let oldType = l4.u8(L4Field.icmpType)
            let newType = ICMPMapping.informational6to4(type: oldType) ?? 0
            let code = l4.u8(L4Field.icmpCode)
            let removed = InternetChecksum.pseudoHeaderSum(source: source6, destination: destination6,
                                                           nextHeader: IPProtocolNumber.icmpv6, length: l4Length)
                &+ UInt64(UInt16(oldType) << 8 | UInt16(code)) &+ UInt64(oldPort)
            let added = UInt64(UInt16(newType) << 8 | UInt16(code)) &+ UInt64(newPort)
            l4.setU8(L4Field.icmpType, newType)
            l4.setBE16(idOffset, newPort)
            switch offload.checksum {
            case .complete:
                l4.setBE16(L4Field.icmpChecksum,
                           InternetChecksum.adjust(l4.be16(L4Field.icmpChecksum), removing: removed, adding: added))
            case .partial:
                // Finish it now: ICMPv4 has no pseudo-header, so nothing is left to offload.
                l4.setBE16(L4Field.icmpChecksum, 0)
                l4.setBE16(L4Field.icmpChecksum,
                           InternetChecksum.finish(InternetChecksum.sum(UnsafeRawPointer(l4), count: l4Length)))
                offload.checksum = .complete
            }
            return
        }
        let checksumOffset = proto == IPProtocolNumber.tcp ? L4Field.tcpChecksum : L4Field.udpChecksum
        let field = l4.be16(checksumOffset)
        var updated: UInt16
        switch offload.checksum {
        case .complete:
            updated = InternetChecksum.adjust(field, removing: old6 &+ UInt64(oldPort), adding: new4 &+ UInt64(newPort))
            if proto == IPProtocolNumber.udp && updated == 0 { updated = 0xFFFF }  // T4.14: never 0 for UDP
        case .partial(let start, let offset):
            // Only the pseudo-header is in the field; the port is covered when the checksum is finished.
            updated = InternetChecksum.adjustPartial(field, removing: old6, adding: new4)
            offload.checksum = .partial(start: start - headerShrink, offset: offset)
        }
        l4.setBE16(checksumOffset, updated)
        l4.setBE16(idOffset, newPort)
    }
}
