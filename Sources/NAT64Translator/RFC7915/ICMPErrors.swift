// Translation of ICMP errors and the packets they carry.
//   ICMPv4 → ICMPv6: RFC 7915 §4.2–§4.3, rules T4.8–T4.12 (inner header translated with the same mapping, inner
//   TTL kept, inner ports through the same NAPT state, ≤ 1280 bytes, RFC 4884 lengths in 64-bit words).
//   ICMPv6 → ICMPv4: RFC 7915 §5.2–§5.3, rules T6.7–T6.10 (≤ 576 bytes, RFC 4884 lengths in 32-bit words),
//   with E1 (RFC 6791) for errors from IPv6 routers that have no IPv4 form.
// Errors are rare, so they are assembled in the translator's scratch arena and copied back into the packet
// buffer; no allocation either way. An error about an error is never translated.

extension Translator {
    /// T4.8–T4.12: an ICMPv4 error addressed to a pool4 address, about a packet the translator sent out.
    @usableFromInline
    mutating func translateICMPv4Error(_ packet: inout PacketBuffer, headerLength: Int, now: Nanoseconds) -> Verdict {
        let ip = packet.base + packet.start
        let icmp = ip + headerLength
        let icmpLength = packet.count - headerLength
        let type = icmp.u8(0)
        let code = icmp.u8(1)
        let rest = icmp.be32(4)
        let inner = icmp + 8
        let innerAvailable = icmpLength - 8
        guard innerAvailable >= IPv4Field.minimumHeaderLength, inner.u8(0) >> 4 == 4 else {
            return .drop(.untranslatableInner)
        }
        let innerHeaderLength = Int(inner.u8(0) & 0x0F) * 4
        guard innerHeaderLength >= IPv4Field.minimumHeaderLength, innerAvailable >= innerHeaderLength,
              inner.be16(IPv4Field.flagsFragmentOffset) & IPv4Field.offsetMask == 0
        else { return .drop(.untranslatableInner) }
        let innerTotal = Int(inner.be16(IPv4Field.totalLength))
        let innerProto = inner.u8(IPv4Field.proto)
        let innerSource4 = IPv4Address(inner.be32(IPv4Field.source))
        let innerDestination4 = IPv4Address(inner.be32(IPv4Field.destination))

        // RFC 4884 §4.1: a non-zero length (32-bit words) marks where an extension structure begins.
        var originalLength = innerAvailable
        var extensionLength = 0
        let words = Int(icmp.u8(5))
        if words > 0 && words * 4 >= innerHeaderLength && words * 4 < innerAvailable {
            originalLength = words * 4
            extensionLength = innerAvailable - originalLength
        }
        let innerL4 = inner + innerHeaderLength
        // Bytes past the inner packet's own length are RFC 4884 padding, not data.
        let innerL4Length = min(originalLength, max(innerTotal, innerHeaderLength)) - innerHeaderLength

        // T4.11: the inner packet went out from a pool4 address; its source port finds the IPv6 host.
        guard isStateless || poolSet.contains(innerSource4) else { return .drop(.untranslatableInner) }
        var portOffset = -1  // other protocols have no port (F2: 1:1 only)
        switch innerProto {
        case IPProtocolNumber.tcp, IPProtocolNumber.udp:
            guard innerL4Length >= 4 else { return .drop(.untranslatableInner) }
            portOffset = L4Field.sourcePort
        case IPProtocolNumber.icmp:
            guard innerL4Length >= 8, ICMPMapping.informational4to6(type: innerL4.u8(0)) != nil else {
                return .drop(.untranslatableInner)  // never an error about an error
            }
            portOffset = L4Field.icmpIdentifier
        default:
            break
        }
        // F3: a session when there is one, else the 1:1 mapping (siit, static map, pool, EAM); ports stay then.
        let innerPort = portOffset >= 0 ? innerL4.be16(portOffset) : 0
        let inside: Endpoint6
        if !isStateless, portOffset >= 0,
           let found = table.peekInbound(Endpoint4(address: innerSource4, port: innerPort, proto: innerProto)) {
            inside = found
        } else if let host = oneToOneIPv6(for: innerSource4) {
            inside = Endpoint6(address: host, port: innerPort, proto: innerProto)
        } else {
            return .drop(portOffset >= 0 && !isStateless ? .noState : .untranslatableInner)
        }
        let innerDestination6: IPv6Address
        if isStateless {
            guard let d = statelessIPv6(for: innerDestination4) else { return .drop(.untranslatableInner) }
            innerDestination6 = d
        } else {
            innerDestination6 = configuration.prefix.embed(innerDestination4)
        }
        guard let kind = ICMPMapping.error4to6(type: type, code: code, rest: rest, innerTotalLength: innerTotal,
                                               ipv6MTU: configuration.ipv6MTU, ipv4MTU: configuration.ipv4MTU)
        else { return .drop(.untranslatableICMP) }
        // F7: a source that may not be embedded (127.0.0.1, 0.0.0.0, …) is still translated, for
        // troubleshooting (§4.1), from the RFC 6791 IPv6 source.
        let outerSource4 = IPv4Address(ip.be32(IPv4Field.source))
        let source6 = (isStateless ? statelessIPv6(for: outerSource4)
            : configuration.addressPolicy.allows(outerSource4, under: configuration.prefix)
                ? configuration.prefix.embed(outerSource4) : nil)
            ?? configuration.rfc6791Source6(for: outerSource4)
        let destination6 = inside.address

        // Assemble: IPv6 + ICMPv6 header + inner IPv6 header + inner upper-layer bytes (+ extension).
        let out = arena.base + arena.scratch
        let inner6 = out + IPv6Field.headerLength + 8
        writeIPv6Header(inner6, payloadLength: max(0, innerTotal - innerHeaderLength),
                        nextHeader: innerProto == IPProtocolNumber.icmp ? IPProtocolNumber.icmpv6 : innerProto,
                        hopLimit: inner.u8(IPv4Field.ttl),
                        trafficClass: configuration.translatedTrafficClass(inner.u8(IPv4Field.tos)),
                        source: inside.address, destination: innerDestination6)
        let limit = 1280 - IPv6Field.headerLength - 8  // T4.11: the whole error fits the IPv6 minimum MTU
        let copied = min(innerL4Length, limit - IPv6Field.headerLength)
        (inner6 + IPv6Field.headerLength).copyMemory(from: innerL4, byteCount: copied)
        if portOffset >= 0 {
            rewriteInnerL4(inner6 + IPv6Field.headerLength, available: copied, proto: innerProto,
                           portOffset: portOffset, newPort: inside.port, toIPv6: true,
                           oldSum: InternetChecksum.sum32(innerSource4.value) &+ InternetChecksum.sum32(innerDestination4.value),
                           newSum: InternetChecksum.sum(inside.address) &+ InternetChecksum.sum(innerDestination6),
                           claimedLength: max(0, innerTotal - innerHeaderLength))
        }
        var body = IPv6Field.headerLength + copied
        var lengthWord: UInt8 = 0
        if extensionLength > 0 && (kind.type == 1 || kind.type == 3) {
            // T4.12: 64-bit words in ICMPv6.
            (body, lengthWord) = Translator.appendExtension(to: inner6, datagramLength: body, from: inner + originalLength,
                                                            extensionLength: extensionLength, wordSize: 8, limit: limit)
        }
        let icmp6 = out + IPv6Field.headerLength
        icmp6.setU8(0, kind.type)
        icmp6.setU8(1, kind.code)
        icmp6.setBE16(2, 0)
        icmp6.setBE32(4, kind.parameter)
        if lengthWord > 0 { icmp6.setU8(4, lengthWord) }
        let icmpLength6 = 8 + body
        let pseudo = InternetChecksum.pseudoHeaderSum(source: source6, destination: destination6,
                                                      nextHeader: IPProtocolNumber.icmpv6, length: icmpLength6)
        icmp6.setBE16(2, InternetChecksum.finish(InternetChecksum.sum(UnsafeRawPointer(icmp6), count: icmpLength6, initial: pseudo)))
        writeIPv6Header(out, payloadLength: icmpLength6, nextHeader: IPProtocolNumber.icmpv6,
                        hopLimit: ip.u8(IPv4Field.ttl) - 1,
                        trafficClass: configuration.translatedTrafficClass(ip.u8(IPv4Field.tos)),
                        source: source6, destination: destination6)
        return commitError(&packet, from: out, count: IPv6Field.headerLength + icmpLength6, toIPv6: true)
    }

    /// T6.7–T6.10: an ICMPv6 error addressed to an address under the prefix, about a packet the translator
    /// delivered to an IPv6 host.
    @usableFromInline
    mutating func translateICMPv6Error(_ packet: inout PacketBuffer, layout: IPv6Layout, destination4: IPv4Address,
                                       now: Nanoseconds) -> Verdict {
        let ip = packet.base + packet.start
        let icmp = ip + layout.upperOffset
        let icmpLength = packet.count - layout.upperOffset
        let type = icmp.u8(0)
        let code = icmp.u8(1)
        let rest = icmp.be32(4)
        let inner = icmp + 8
        let innerAvailable = icmpLength - 8
        guard innerAvailable >= IPv6Field.headerLength, inner.u8(0) >> 4 == 6 else {
            return .drop(.untranslatableInner)
        }
        // RFC 4884 §4.1 for ICMPv6: the length is in 64-bit words, at byte 4.
        var originalLength = innerAvailable
        var extensionLength = 0
        if type == 1 || type == 3 {
            let words = Int(icmp.u8(4))
            if words > 0 && words * 8 >= IPv6Field.headerLength && words * 8 < innerAvailable {
                originalLength = words * 8
                extensionLength = innerAvailable - originalLength
            }
        }
        let innerLayout: IPv6Layout
        switch IPv6Layout.walk(inner, length: originalLength) {
        case .layout(let l) where l.fragment?.isFirst ?? true: innerLayout = l
        default: return .drop(.untranslatableInner)
        }
        let innerSource6 = inner.ipv6(IPv6Field.source)
        let innerDestination6 = inner.ipv6(IPv6Field.destination)
        let innerProto = innerLayout.proto
        let innerL4 = inner + innerLayout.upperOffset
        let innerL4Length = min(originalLength, IPv6Field.headerLength + Int(inner.be16(IPv6Field.payloadLength)))
            - innerLayout.upperOffset
        guard innerL4Length >= 0 else { return .drop(.untranslatableInner) }
        let claimedL4Length = max(0, Int(inner.be16(IPv6Field.payloadLength)) + IPv6Field.headerLength - innerLayout.upperOffset)

        // T6.10: the inner packet went to the IPv6 host; its destination port finds the mapping.
        var portOffset = -1  // other protocols have no port (F2: 1:1 only)
        var proto4 = innerProto
        switch innerProto {
        case IPProtocolNumber.tcp, IPProtocolNumber.udp:
            guard innerL4Length >= 4 else { return .drop(.untranslatableInner) }
            portOffset = L4Field.destinationPort
        case IPProtocolNumber.icmpv6:
            guard innerL4Length >= 8, ICMPMapping.informational6to4(type: innerL4.u8(0)) != nil else {
                return .drop(.untranslatableInner)  // never an error about an error
            }
            portOffset = L4Field.icmpIdentifier
            proto4 = IPProtocolNumber.icmp
        default:
            break
        }
        let innerSource4: IPv4Address
        if isStateless {
            guard let s = statelessIPv4(for: innerSource6) else { return .drop(.untranslatableInner) }
            innerSource4 = s
        } else {
            guard case .success(let s) = configuration.prefix.extract(innerSource6) else {
                return .drop(.untranslatableInner)
            }
            innerSource4 = s
        }
        // F3: a session when there is one, else the 1:1 mapping (siit, static map, pool, EAM); ports stay then.
        let innerPort = portOffset >= 0 ? innerL4.be16(portOffset) : 0
        let outside: Endpoint4
        var fromSession = false
        if !isStateless, portOffset >= 0,
           let found = table.peekOutbound(Endpoint6(address: innerDestination6, port: innerPort, proto: proto4)) {
            outside = found
            fromSession = true
        } else if let address = oneToOneIPv4(for: innerDestination6) {
            outside = Endpoint4(address: address, port: innerPort, proto: proto4)
        } else {
            return .drop(portOffset >= 0 && !isStateless ? .noState : .untranslatableInner)
        }
        guard let kind = ICMPMapping.error6to4(type: type, code: code, rest: rest, ipv4MTU: configuration.ipv4MTU,
                                               ipv6MTU: configuration.ipv6MTU)
        else { return .drop(.untranslatableICMP) }

        // F12: an error about a session comes from the session's pool4 address (RFC 6146 §3.6). Without a
        // session: the host itself speaks with its mapped address, a node with a 1:1 form with that one, and
        // any other IPv6 node, which has no IPv4 form, from the RFC 6791 pool (E1).
        let outerSource6 = ip.ipv6(IPv6Field.source)
        let source4 = fromSession || outerSource6 == innerDestination6 ? outside.address
            : oneToOneIPv4(for: outerSource6) ?? configuration.rfc6791Source4(for: outerSource6)

        let out = arena.base + arena.scratch
        let inner4 = out + IPv4Field.minimumHeaderLength + 8
        let limit = 576 - IPv4Field.minimumHeaderLength - 8  // T6.10: the whole error fits 576 bytes
        let copied = min(innerL4Length, limit - IPv4Field.minimumHeaderLength)
        // F5: the inner header is translated as the packet itself was (T6.4): DF above 1260 bytes without a
        // Fragment header; with one, DF clear, MF and the ID from it (F6).
        let innerTotal4 = min(0xFFFF, IPv4Field.minimumHeaderLength + claimedL4Length)
        let innerFlags: UInt16 = innerLayout.fragment.map { $0.more ? IPv4Field.moreFragments : 0 }
            ?? (innerTotal4 > 1260 ? IPv4Field.dontFragment : 0)
        writeIPv4Header(inner4, totalLength: innerTotal4,
                        identification: UInt16(truncatingIfNeeded: innerLayout.fragment?.identification ?? 0),
                        flags: innerFlags, ttl: inner.u8(IPv6Field.hopLimit), proto: proto4,
                        tos: configuration.translatedTrafficClass(UInt8(truncatingIfNeeded: inner.be32(IPv6Field.versionClassFlow) >> 20)),
                        source: innerSource4.value, destination: outside.address.value)
        (inner4 + IPv4Field.minimumHeaderLength).copyMemory(from: innerL4, byteCount: copied)
        if portOffset >= 0 {
            rewriteInnerL4(inner4 + IPv4Field.minimumHeaderLength, available: copied, proto: proto4,
                           portOffset: portOffset, newPort: outside.port, toIPv6: false,
                           oldSum: InternetChecksum.sum(innerSource6) &+ InternetChecksum.sum(innerDestination6),
                           newSum: InternetChecksum.sum32(innerSource4.value) &+ InternetChecksum.sum32(outside.address.value),
                           claimedLength: claimedL4Length)
        }
        var body = IPv4Field.minimumHeaderLength + copied
        var lengthByte: UInt8 = 0
        if extensionLength > 0 && (kind.type == 3 || kind.type == 11 || kind.type == 12) {
            // RFC 4884: 32-bit words in ICMPv4.
            (body, lengthByte) = Translator.appendExtension(to: inner4, datagramLength: body, from: inner + originalLength,
                                                            extensionLength: extensionLength, wordSize: 4, limit: limit)
        }
        let icmp4 = out + IPv4Field.minimumHeaderLength
        icmp4.setU8(0, kind.type)
        icmp4.setU8(1, kind.code)
        icmp4.setBE16(2, 0)
        icmp4.setBE32(4, kind.parameter)
        if lengthByte > 0 { icmp4.setU8(5, lengthByte) }
        icmp4.setBE16(2, InternetChecksum.finish(InternetChecksum.sum(UnsafeRawPointer(icmp4), count: 8 + body)))
        // F6: an error with a Fragment header takes its ID from it, like any packet (§5.1.1).
        writeIPv4Header(out, totalLength: IPv4Field.minimumHeaderLength + 8 + body,
                        identification: layout.fragment.map { UInt16(truncatingIfNeeded: $0.identification) }
                            ?? UInt16(truncatingIfNeeded: random.next()),
                        flags: 0, ttl: ip.u8(IPv6Field.hopLimit) - 1, proto: IPProtocolNumber.icmp,
                        tos: configuration.translatedTrafficClass(UInt8(truncatingIfNeeded: ip.be32(IPv6Field.versionClassFlow) >> 20)),
                        source: source4.value, destination: destination4.value)
        return commitError(&packet, from: out, count: IPv4Field.minimumHeaderLength + 8 + body, toIPv6: false)
    }

    /// Rewrites the (possibly truncated) upper-layer header of an inner packet: the mapped port or echo
    /// identifier, the echo type, and — when the checksum field is inside the quoted bytes — the checksum,
    /// incrementally (T4.11 / T6.10: "inner L4 checksum adjusted").
    @usableFromInline
    func rewriteInnerL4(_ l4: UnsafeMutableRawPointer, available: Int, proto: UInt8, portOffset: Int, newPort: UInt16,
                        toIPv6: Bool, oldSum: UInt64, newSum: UInt64, claimedLength: Int) {
        let oldPort = l4.be16(portOffset)
        l4.setBE16(portOffset, newPort)
        switch proto {
        case IPProtocolNumber.tcp, IPProtocolNumber.udp:
            let checksumOffset = proto == IPProtocolNumber.tcp ? L4Field.tcpChecksum : L4Field.udpChecksum
            guard available >= checksumOffset + 2 else { return }
            let field = l4.be16(checksumOffset)
            if proto == IPProtocolNumber.udp && field == 0 { return }  // a quoted "no checksum" stays so
            var updated = InternetChecksum.adjust(field, removing: oldSum &+ UInt64(oldPort), adding: newSum &+ UInt64(newPort))
            if proto == IPProtocolNumber.udp && updated == 0 { updated = 0xFFFF }
            l4.setBE16(checksumOffset, updated)
        default:  // ICMP / ICMPv6 echo
            let oldType = l4.u8(0)
            let code = l4.u8(1)
            let newType = toIPv6 ? (ICMPMapping.informational4to6(type: oldType) ?? 129)
                : (ICMPMapping.informational6to4(type: oldType) ?? 0)
            l4.setU8(0, newType)
            let pseudo: UInt64
            if toIPv6 {
                pseudo = newSum &+ InternetChecksum.sum32(UInt32(truncatingIfNeeded: claimedLength)) &+ UInt64(IPProtocolNumber.icmpv6)
            } else {
                pseudo = oldSum &+ InternetChecksum.sum32(UInt32(truncatingIfNeeded: claimedLength)) &+ UInt64(IPProtocolNumber.icmpv6)
            }
            let oldWords = UInt64(UInt16(oldType) << 8 | UInt16(code)) &+ UInt64(oldPort)
            let newWords = UInt64(UInt16(newType) << 8 | UInt16(code)) &+ UInt64(newPort)
            let field = l4.be16(L4Field.icmpChecksum)
            l4.setBE16(L4Field.icmpChecksum, toIPv6
                ? InternetChecksum.adjust(field, removing: oldWords, adding: newWords &+ pseudo)
                : InternetChecksum.adjust(field, removing: oldWords &+ pseudo, adding: newWords))
        }
    }

    /// RFC 4884 §4 (T4.12): pads the translated original datagram at `datagram` to at least 128 bytes and a whole
    /// number of `wordSize`-byte words, then appends the extension structure whole. F13 (§4.2, §5.2): when the
    /// error would exceed `limit`, the original datagram is truncated instead (to whole words, never below
    /// 128 bytes); only an extension too large for even that is left out, with no padding.
    /// - Returns: the new body length and the length field (in words; 0 when the extension was left out).
    @usableFromInline
    static func appendExtension(to datagram: UnsafeMutableRawPointer, datagramLength: Int,
                                from extensionStart: UnsafeMutableRawPointer, extensionLength: Int, wordSize: Int,
                                limit: Int) -> (Int, UInt8) {
        let room = (limit - extensionLength) / wordSize * wordSize
        guard room >= 128 else { return (datagramLength, 0) }
        let padded = min(room, max(128, (datagramLength + wordSize - 1) / wordSize * wordSize))
        if padded > datagramLength {
            (datagram + datagramLength).initializeMemory(as: UInt8.self, repeating: 0, count: padded - datagramLength)
        }
        (datagram + padded).copyMemory(from: extensionStart, byteCount: extensionLength)
        return (padded + extensionLength, UInt8(padded / wordSize))
    }

    /// Copies an assembled error from the arena into the packet buffer as the translated packet.
    @usableFromInline
    mutating func commitError(_ packet: inout PacketBuffer, from out: UnsafeMutableRawPointer, count: Int,
                              toIPv6: Bool) -> Verdict {
        guard PacketBuffer.headroom + count <= packet.capacity else { return .drop(.tooBig) }
        (packet.base + PacketBuffer.headroom).copyMemory(from: out, byteCount: count)
        packet.start = PacketBuffer.headroom
        packet.count = count
        packet.offload = .plain
        counters.icmpErrorsTranslated &+= 1
        if toIPv6 { counters.translated4to6 &+= 1 } else { counters.translated6to4 &+= 1 }
        return .translated
    }
}
