// RFC 7915 §4 (IPv4 → IPv6) with RFC 6146 §3.5 for the inbound lookup, or the stateless mapping of Stateless/
// in `siit` mode and for 1:1 hosts.
// Rules: T4.1 header, T4.2 TTL, T4.3 options / source routes, T4.4 Fragment header, T4.5 fragmentation to the
// minimum IPv6 MTU, T4.6 Fragmentation Needed, T4.7 informational ICMP, T4.13 UDP zero checksum, T4.14
// checksums, T4.15 default error; S2 endpoint-independent filtering, S6 no mapping; A2/A3; F1, F2 stateless;
// F9 DF fragments; F14 options; F15–F19 malformed input (MalformedInput.swift). ICMPv4 errors continue in
// ICMPErrors.swift.

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
        let tos = configuration.translatedTrafficClass(ip.u8(IPv4Field.tos))
        let identification = ip.be16(IPv4Field.identification)
        let source4 = IPv4Address(ip.be32(IPv4Field.source))
        let destination4 = IPv4Address(ip.be32(IPv4Field.destination))
        let moreFragments = flagsOffset & IPv4Field.moreFragments != 0
        let fragmentOffset = Int(flagsOffset & IPv4Field.offsetMask) * 8
        let isFragment = moreFragments || fragmentOffset != 0
        let dontFragment = flagsOffset & IPv4Field.dontFragment != 0
        // F17: a fragment ending past the largest IPv4 Total Length (65,535) is never forwarded.
        if isFragment && !MalformedInput.fragmentFits(unfragmentable: headerLength, offset: fragmentOffset,
                                                      length: totalLength - headerLength) {
            return .drop(.fragmentTooFar)
        }

        if isStateless {
            if destination4 == configuration.gatewayIPv4 { return answerEcho4(&packet, headerLength: headerLength) }
        } else {
            guard poolSet.contains(destination4) else { return .drop(.notInPool) }
        }
        let l4 = ip + headerLength
        let l4Length = totalLength - headerLength
        let isFirst = fragmentOffset == 0
        let isICMPError = proto == IPProtocolNumber.icmp && isFirst && l4Length >= 1
            && ICMPMapping.isError4(l4.u8(L4Field.icmpType))
        // A2 / A3: the source must be embeddable (F1: or have an EAM entry). F7: an ICMP error is translated
        // whatever its source (ICMPErrors.swift picks an RFC 6791 source for it).
        var source6 = IPv6Address.unspecified
        if !isICMPError {
            if isStateless {
                guard let s = statelessIPv6(for: source4) else { return .drop(.forbiddenAddress) }
                source6 = s
            } else {
                guard configuration.addressPolicy.allows(source4, under: configuration.prefix) else {
                    return .drop(.forbiddenAddress)
                }
                source6 = configuration.prefix.embed(source4)
            }
        }

        // T4.3: options are not translated; an unexpired LSRR/SSRR means the packet is not ours to deliver.
        if headerLength > IPv4Field.minimumHeaderLength {
            switch Translator.scanOptions(ip, headerLength: headerLength) {
            case .fine: break
            case .malformed: return .drop(.badHeader)
            case .sourceRoute:
                return generateICMPv4Error(for: packet, into: &reply, type: 3, code: 5, parameter: 0,
                                           reason: .sourceRoute, now: now)
            }
        }

        // T4.2: TTL would expire here: Time Exceeded from the gateway's own address (E2), never about an error.
        if ttl <= 1 {
            if isICMPError { return .drop(.hopLimitExceeded) }
            return generateICMPv4Error(for: packet, into: &reply, type: 11, code: 0, parameter: 0,
                                       reason: .hopLimitExceeded, now: now)
        }

        var idOffset = L4Field.destinationPort
        /// F1 / F2: the destination's 1:1 IPv6 address when the packet passes without a session.
        var oneToOne: IPv6Address?
        if isStateless && !isICMPError {
            guard let d = statelessIPv6(for: destination4) else {
                // F1 / T4.15: no IPv6 form; an A3 address (broadcast, multicast…) gets no answer.
                if AddressPolicy.isForbidden(destination4) { return .drop(.forbiddenAddress) }
                return generateICMPv4Error(for: packet, into: &reply, type: 3, code: 13, parameter: 0,
                                           reason: .forbiddenAddress, now: now)
            }
            oneToOne = d
        }
        switch proto {
        case IPProtocolNumber.tcp:
            if isFirst {
                guard l4Length >= L4Field.tcpMinimumHeaderLength else { return .drop(.truncated) }
                // F16: Data Offset < 5 (or a header longer than the packet).
                guard MalformedInput.tcpDataOffsetValid(l4, l4Length: l4Length, fragmented: moreFragments)
                else { return .drop(.tcpDataOffset) }
            }
        case IPProtocolNumber.udp:
            if isFirst {
                guard l4Length >= L4Field.udpHeaderLength else { return .drop(.truncated) }
                // F15: the Length field agrees with the packet (super-packets and first fragments: its range).
                guard MalformedInput.udpLengthMatches(l4, l4Length: l4Length, fragmented: moreFragments,
                                                      offload: packet.offload)
                else { return .drop(.udpLengthMismatch) }
                // T4.13 / F14: a fragmented datagram without checksum cannot get one computed here, and an
                // unfragmented one may be configured out: both are answered with ICMPv4 3/13 (§4.4).
                if l4.be16(L4Field.udpChecksum) == 0 && (isFragment || configuration.stateless.udpZeroChecksum == .drop) {
                    return generateICMPv4Error(for: packet, into: &reply, type: 3, code: 13, parameter: 0,
                                               reason: isFragment ? .fragmentedZeroChecksum : .zeroUDPChecksum, now: now)
                }
            }
        case IPProtocolNumber.icmp:
            if isFragment {
                // The ICMP checksum covers the whole message: reassemble, then translate (as T6.11); a
                // stateless translator cannot (F1), so it drops and counts.
                if isStateless { return .drop(.fragmentedICMP) }
                let key = ICMPReassembly.Key(source: IPv6Address(high: 0, low: UInt64(source4.value)),
                                             destination: IPv6Address(high: 0, low: UInt64(destination4.value)),
                                             identification: UInt32(identification) | UInt32(proto) << 16, version: 4)
                switch reassembly.add(&packet, key: key, headerLength: headerLength, payloadOffset: headerLength,
                                      offset: fragmentOffset, more: moreFragments, upperProtocol: proto, now: now) {
                case .held: return .drop(.fragmentHeld)
                case .heldEvicting:
                    counters.count(.fragmentEvicted)  // S12: another source's older datagram made room
                    return .drop(.fragmentHeld)
                case .refused(let reason): return .drop(reason)
                case .complete: return translate4to6(&packet, reply: &reply, now: now)
                }
            }
            guard l4Length >= L4Field.icmpHeaderLength else { return .drop(.truncated) }
            if isICMPError { return translateICMPv4Error(&packet, headerLength: headerLength, now: now) }
            // T4.7: echo request/reply only; timestamp, info, address mask, router messages, redirect,
            // source quench and unknown types are dropped.
            guard ICMPMapping.informational4to6(type: l4.u8(L4Field.icmpType)) != nil else {
                return .drop(.unknownICMPType)
            }
            idOffset = L4Field.icmpIdentifier
        case IPProtocolNumber.icmpv6:
            // F19: ICMPv6 inside IPv4 would come out as a real ICMPv6 message that no rule of §4.2 checked.
            return .drop(.wrongFamilyICMP)
        default:
            // F2: 1:1 translation passes every protocol, payload copied (§4.5). T4.15: NAPT cannot, and says
            // so: communication administratively prohibited.
            if oneToOne == nil { oneToOne = table.oneToOneHost(for: destination4) }
            guard oneToOne != nil else {
                return generateICMPv4Error(for: packet, into: &reply, type: 3, code: 13, parameter: 0,
                                           reason: .unknownL4, now: now)
            }
        }
        let carriesPorts = proto == IPProtocolNumber.tcp || proto == IPProtocolNumber.udp || proto == IPProtocolNumber.icmp

        // RFC 6146 §3.5.1/§3.5.2: endpoint-independent filtering; no mapping → drop (S6).
        let inside: Endpoint6
        let fragmentKey = FragmentKey(source: source4, destination: destination4, identification: identification, proto: proto)
        if let address = oneToOne {
            // F1 / F2: no session, the port stays.
            inside = Endpoint6(address: address, port: isFirst && carriesPorts ? l4.be16(idOffset) : 0, proto: proto)
        } else if isFirst {
            switch filterAndUpdateInbound(packet, source4: source4, destination4: destination4, proto: proto, l4: l4,
                                          now: now) {
            case .proceed(let e): inside = e  // RFC 6146 §3.5 (RFC6146/FilteringAndUpdating.swift)
            case .stop(let verdict): return verdict
            }
            if moreFragments {
                fragments4.remember(FragmentTracker.key(source: source4, destination: destination4,
                                                        identification: identification),
                                    proto: proto, inside: inside, now: now)
            }
        } else {
            // A later fragment: its first fragment told where the datagram goes. S8: one that arrives before
            // the first is held (bounded, 2 s) and translated when the first comes.
            guard let found = fragments4.find(FragmentTracker.key(source: source4, destination: destination4,
                                                                  identification: identification),
                                              proto: proto, now: now)
            else {
                switch arena.heldFragments.hold(UnsafeRawBufferPointer(packet.packet), key: fragmentKey,
                                                source: IPv6Address(high: 0, low: UInt64(source4.value)), now: now) {
                case .held, .duplicate: return .drop(.fragmentHeld)
                case .evicted:
                    counters.count(.fragmentEvicted)  // S12: another source's oldest fragment made room
                    return .drop(.fragmentHeld)
                case .full, .sourceLimit, .tooLarge: return .drop(.heldPacketLimit)
                }
            }
            inside = found
        }

        // T4.4 / T4.5: a Fragment header when the packet is a fragment or is about to be fragmented; F9: a
        // fragment's own Fragment header counts against the minimum MTU too.
        let ownFragmentHeader = isFragment ? 8 : 0
        let needsSplit = !dontFragment && packet.offload.segmentation == .none
            && IPv6Field.headerLength + ownFragmentHeader + l4Length > configuration.minimumIPv6MTU
        let fragmentHeader = isFragment || needsSplit
        let ipv6HeaderLength = IPv6Field.headerLength + (fragmentHeader ? 8 : 0)
        // T4.6 / F9: DF set, fragment or not, and too big for the IPv6 link → Fragmentation Needed with the
        // largest IPv4 packet that fits (IPv6 MTU − 20, − 8 more for a fragment).
        if dontFragment && packet.offload.segmentation == .none && ipv6HeaderLength + l4Length > configuration.ipv6MTU {
            return generateICMPv4Error(for: packet, into: &reply, type: 3, code: 4,
                                       parameter: UInt32(configuration.ipv6MTU - 20 - ownFragmentHeader),
                                       reason: .packetTooBig, now: now)
        }
        let newStart = packet.start + headerLength - ipv6HeaderLength
        guard newStart >= 0, IPv6Field.headerLength + 8 + l4Length <= 0xFFFF + IPv6Field.headerLength else {
            return .drop(.tooBig)
        }

        let destination6 = inside.address
        let nextHeader = proto == IPProtocolNumber.icmp ? IPProtocolNumber.icmpv6 : proto
        if isFirst && carriesPorts {
            rewriteL4Inbound(l4: l4, l4Length: l4Length, proto: proto, idOffset: idOffset, newPort: inside.port,
                             source4: source4, destination4: destination4, source6: source6,
                             destination6: destination6, offload: &packet.offload,
                             headerGrowth: ipv6HeaderLength - headerLength)
        }

        // T4.1 / T4.3: the IPv6 header (and Fragment header) replace the IPv4 header and its options.
        let v6 = packet.base + newStart
        writeIPv6Header(v6, payloadLength: l4Length + (fragmentHeader ? 8 : 0),
                        nextHeader: fragmentHeader ? IPProtocolNumber.fragment : nextHeader, hopLimit: ttl - 1,
                        trafficClass: tos, source: source6, destination: destination6)
        if fragmentHeader {
            let f = v6 + IPv6Field.headerLength
            f.setU8(0, nextHeader)
            f.setU8(1, 0)
            f.setBE16(2, UInt16(fragmentOffset) | (moreFragments ? 1 : 0))
            f.setBE32(4, UInt32(identification))
        }
        packet.start = newStart
        packet.count = ipv6HeaderLength + l4Length
        if packet.offload.segmentation == .tcp4 { packet.offload.segmentation = .tcp6 }
        if packet.offload.headerLength > 0 { packet.offload.headerLength += ipv6HeaderLength - headerLength }
        counters.translated4to6 &+= 1
        var verdict = Verdict.translated
        if needsSplit {
            if case .partial(let start, let offset) = packet.offload.checksum {
                // Fragments cannot carry an unfinished checksum: finish it over the whole datagram first.
                let p = packet.base + packet.start
                let field = p + start + offset
                let pseudoSum = UInt64(UInt16(bigEndian: field.loadUnaligned(as: UInt16.self)))
                field.storeBytes(of: UInt16(0), as: UInt16.self)
                var sum = InternetChecksum.finish(InternetChecksum.sum(UnsafeRawPointer(p + start),
                                                                       count: packet.count - start, initial: pseudoSum))
                if sum == 0 && proto == IPProtocolNumber.udp { sum = 0xFFFF }
                field.storeBytes(of: sum.bigEndian, as: UInt16.self)
                packet.offload.checksum = .complete
            }
            verdict = splitIntoFragments(packet)
        }
        if isFirst && moreFragments && arena.heldFragments.count > 0 {
            return releaseHeldFragments(fragmentKey, after: verdict, packet: packet, reply: &reply, now: now)
        }
        return verdict
    }

    /// S8: the first fragment of a datagram was translated (`first`); the later fragments held for it are
    /// translated now, and everything goes out together as one `.translatedFragments` list in the arena.
    @usableFromInline
    mutating func releaseHeldFragments(_ key: FragmentKey, after first: Verdict, packet: borrowing PacketBuffer,
                                       reply: inout PacketBuffer, now: Nanoseconds) -> Verdict {
        switch first {
        case .translated:
            arena.count = 0
            arena.used = 0
            arena.append(UnsafeRawBufferPointer(start: packet.base + packet.start, count: packet.count))
        case .translatedFragments: break  // already in the arena
        default: return first
        }
        arena.appending = true
        defer { arena.appending = false }
        arena.heldFragments.release(key) { bytes in
            let scratch = arena.releasePacket
            scratch.buffer.load(bytes)
            let result = translate4to6(&scratch.buffer, reply: &reply, now: now)
            switch result {
            case .translated:
                arena.append(UnsafeRawBufferPointer(start: scratch.buffer.base + scratch.buffer.start,
                                                    count: scratch.buffer.count))
            case .translatedFragments: break  // appended by the split
            case .drop(let reason), .icmpError(let reason): counters.count(reason)
            }
        }
        return .translatedFragments(arena.count)
    }

    /// T4.5: cuts the translated IPv6 packet (which already carries a Fragment header) into fragments of at
    /// most `minimumIPv6MTU` bytes in the arena. Offsets continue from the packet's own fragment offset; the
    /// last piece keeps the packet's M flag.
    @usableFromInline
    mutating func splitIntoFragments(_ packet: borrowing PacketBuffer) -> Verdict {
        let ip = packet.base + packet.start
        let headers = IPv6Field.headerLength + 8
        let data = packet.count - headers
        let fragmentWord = ip.be16(IPv6Field.headerLength + 2)
        let baseOffset = Int(fragmentWord & 0xFFF8)
        let lastMore = fragmentWord & 1
        let chunk = (configuration.minimumIPv6MTU - headers) & ~7
        var written = 0
        var position = arena.appending ? arena.used : 0
        var index = arena.appending ? arena.count : 0
        while written < data {
            guard index < OutputArena.maximumFragments, position + headers + chunk <= arena.scratch else {
                return .drop(.tooBig)
            }
            let size = min(chunk, data - written)
            let out = arena.base + position
            out.copyMemory(from: ip, byteCount: headers)
            (out + headers).copyMemory(from: ip + headers + written, byteCount: size)
            out.setBE16(IPv6Field.payloadLength, UInt16(8 + size))
            let isLast = written + size == data
            out.setBE16(IPv6Field.headerLength + 2, UInt16(baseOffset + written) | (isLast ? lastMore : 1))
            arena.starts[index] = position
            arena.lengths[index] = headers + size
            position += (headers + size + 15) & ~15
            written += size
            index += 1
        }
        counters.fragmentsEmitted &+= UInt64(index - (arena.appending ? arena.count : 0))
        arena.count = index
        arena.used = position
        return .translatedFragments(index)
    }

    /// Result of looking through IPv4 options (T4.3).
    @usableFromInline
    enum OptionScan { case fine, malformed, sourceRoute }

    /// Walks the options of an IPv4 header: malformed lengths, and unexpired LSRR (131) / SSRR (137) options
    /// (pointer ≤ length means addresses remain).
    @usableFromInline
    static func scanOptions(_ ip: UnsafeMutableRawPointer, headerLength: Int) -> OptionScan {
        var i = IPv4Field.minimumHeaderLength
        while i < headerLength {
            let type = ip.u8(i)
            if type == 0 { break }  // end of option list
            if type == 1 { i += 1; continue }  // no-operation
            guard i + 1 < headerLength else { return .malformed }
            let length = Int(ip.u8(i + 1))
            guard length >= 2, i + length <= headerLength else { return .malformed }
            if type == 131 || type == 137 {
                guard length >= 3 else { return .malformed }
                if Int(ip.u8(i + 2)) <= length { return .sourceRoute }
            }
            i += length
        }
        return .fine
    }

    /// T4.7 / T4.13 / T4.14 for the inbound L4 header: swaps the IPv4 pseudo-header for the IPv6 one, applies
    /// the port (or echo identifier) rewrite, turns ICMP echo into ICMPv6 echo, and computes a missing UDP
    /// checksum of an unfragmented datagram.
    @usableFromInline
    func rewriteL4Inbound(l4: UnsafeMutableRawPointer, l4Length: Int, proto: UInt8, idOffset: Int, newPort: UInt16,
                          source4: IPv4Address, destination4: IPv4Address, source6: IPv6Address,
                          destination6: IPv6Address, offload: inout OffloadInfo, headerGrowth: Int) {
        let oldPort = l4.be16(idOffset)
        let old4 = InternetChecksum.sum32(source4.value) &+ InternetChecksum.sum32(destination4.value)
        let new6 = InternetChecksum.sum(source6) &+ InternetChecksum.sum(destination6)
        if proto == IPProtocolNumber.icmp {
            let oldType = l4.u8(L4Field.icmpType)
            let newType = ICMPMapping.informational4to6(type: oldType) ?? 129
            let code = l4.u8(L4Field.icmpCode)
            l4.setU8(L4Field.icmpType, newType)
            l4.setBE16(idOffset, newPort)
            // ICMPv6 adds the pseudo-header (RFC 4443 §2.3).
            let pseudo = InternetChecksum.pseudoHeaderSum(source: source6, destination: destination6,
                                                          nextHeader: IPProtocolNumber.icmpv6, length: l4Length)
            switch offload.checksum {
            case .complete:
                let removed = UInt64(UInt16(oldType) << 8 | UInt16(code)) &+ UInt64(oldPort)
                let added = pseudo &+ UInt64(UInt16(newType) << 8 | UInt16(code)) &+ UInt64(newPort)
                l4.setBE16(L4Field.icmpChecksum,
                           InternetChecksum.adjust(l4.be16(L4Field.icmpChecksum), removing: removed, adding: added))
            case .partial:
                l4.setBE16(L4Field.icmpChecksum, 0)
                l4.setBE16(L4Field.icmpChecksum,
                           InternetChecksum.finish(InternetChecksum.sum(UnsafeRawPointer(l4), count: l4Length, initial: pseudo)))
                offload.checksum = .complete
            }
            return
        }
        let checksumOffset = proto == IPProtocolNumber.tcp ? L4Field.tcpChecksum : L4Field.udpChecksum
        let field = l4.be16(checksumOffset)
        l4.setBE16(idOffset, newPort)
        if proto == IPProtocolNumber.udp && field == 0 {
            // T4.13: IPv4 UDP without checksum (unfragmented, checked by the caller): IPv6 requires one.
            let pseudo = InternetChecksum.pseudoHeaderSum(source: source6, destination: destination6,
                                                          nextHeader: IPProtocolNumber.udp, length: l4Length)
            var full = InternetChecksum.finish(InternetChecksum.sum(UnsafeRawPointer(l4), count: l4Length, initial: pseudo))
            if full == 0 { full = 0xFFFF }
            l4.setBE16(checksumOffset, full)
            offload.checksum = .complete
            return
        }
        switch offload.checksum {
        case .complete:
            // T4.14: incremental (RFC 1624): an incoming error stays an error.
            var updated = InternetChecksum.adjust(field, removing: old4 &+ UInt64(oldPort), adding: new6 &+ UInt64(newPort))
            if proto == IPProtocolNumber.udp && updated == 0 { updated = 0xFFFF }
            l4.setBE16(checksumOffset, updated)
        case .partial(let start, let offset):
            l4.setBE16(checksumOffset, InternetChecksum.adjustPartial(field, removing: old4, adding: new6))
            offload.checksum = .partial(start: start + headerGrowth, offset: offset)
        }
    }
}
