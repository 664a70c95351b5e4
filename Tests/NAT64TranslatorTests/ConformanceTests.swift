// Conformance tests named after the rule IDs of docs/conformance.md (sections A–D). Input and expected packets
// come from the independent builder in Support/PacketBuilder.swift.
import NAT64Translator
import PacketTestSupport
import Testing

let gateway4 = IPv4Address("198.51.100.1")!
let gateway6 = IPv6Address("2001:db8:1::1")!

func translator(_ adjust: (inout TranslatorConfiguration) -> Void = { _ in }) -> Translator {
    var c = TranslatorConfiguration(prefix: prefix, pool4: [pool], gatewayIPv4: gateway4, gatewayIPv6: gateway6,
                                    maxSessions: 1024, seed: 11)
    adjust(&c)
    return Translator(configuration: c)
}

/// Creates a UDP (or TCP/ICMP) mapping for client:port and returns the pool4 port.
/// The modes the T and A rules are checked in: NAPT, and `siit` with an EAM entry client ↔ pool standing in for
/// the client's pool4 mapping (ports then stay as they are, and `establish` returns the port it was given).
let conformanceModes: [TranslationMode] = [.napt, .siit]

func translator(_ mode: TranslationMode, _ adjust: (inout TranslatorConfiguration) -> Void = { _ in }) -> Translator {
    translator { c in
        if mode == .siit {
            c.state = StateConfiguration(mode: .siit, eam: [EAMEntry(inside: IPv6Prefix(client, length: 128),
                                                                     outside: IPv4Prefix(pool, length: 32))!])
        }
        adjust(&c)
    }
}

func establish(_ t: inout Translator, port: UInt16 = 40000, l4: L4? = nil) -> UInt16 {
    let (v, out) = run(&t, buildIPv6(src: client, dst: server6, l4: l4 ?? .udp(src: port, dst: 53, payload: [1])))
    precondition(v == .translated)
    let p = Parsed(bytes: out)
    return p.proto == 1 ? p.u16(p.l4Offset + 4) : p.srcPort
}

@Suite struct ConformanceA {
    @Test("A2: the well-known prefix refuses non-global IPv4; 64:ff9b:1::/48 and strict=false allow it", arguments: conformanceModes)
    func A2_wellKnownPrefixRestrictions(mode: TranslationMode) {
        let wkp = NAT64Prefix.wellKnown
        var t = translator(mode) { $0.prefix = wkp }
        let privateDst = wkp.embed(IPv4Address("192.168.1.1")!)
        let (v, reply) = run(&t, buildIPv6(src: client, dst: privateDst, l4: .udp(src: 1, dst: 2, payload: [])))
        #expect(v == .icmpError(.forbiddenAddress))
        #expect(Parsed(bytes: reply).l4[0] == 1 && Parsed(bytes: reply).l4[1] == 1)  // T6.12: 1/1
        let globalDst = wkp.embed(IPv4Address("8.8.8.8")!)
        #expect(run(&t, buildIPv6(src: client, dst: globalDst, l4: .udp(src: 1, dst: 2, payload: []))).0 == .translated)
        // IPv4 side: a private source cannot be embedded under the WKP.
        let fromPrivate = buildIPv4(src: IPv4Address("10.1.1.1")!, dst: pool, l4: .udp(src: 53, dst: 1024, payload: []))
        #expect(run(&t, fromPrivate).0 == .drop(.forbiddenAddress))
        var lenient = translator(mode) { $0.prefix = wkp; $0.addressPolicy = AddressPolicy(strictWellKnownPrefix: false) }
        #expect(run(&lenient, buildIPv6(src: client, dst: privateDst, l4: .udp(src: 1, dst: 2, payload: []))).0 == .translated)
        let local = NAT64Prefix("64:ff9b:1::/48")!
        var localUse = translator(mode) { $0.prefix = local }
        #expect(run(&localUse, buildIPv6(src: client, dst: local.embed(IPv4Address("10.0.0.1")!),
                                         l4: .udp(src: 1, dst: 2, payload: []))).0 == .translated)
        #expect(AddressPolicy.isNonGlobal(IPv4Address("100.64.0.1")!))
        #expect(AddressPolicy.isNonGlobal(IPv4Address("172.16.5.5")!))
        #expect(!AddressPolicy.isNonGlobal(IPv4Address("1.1.1.1")!))
    }

    @Test("A3: loopback, link-local, multicast, broadcast and unspecified are never translated", arguments: conformanceModes)
    func A3_neverTranslated(mode: TranslationMode) {
        var t = translator(mode)
        for bad in ["127.0.0.1", "0.1.2.3", "169.254.1.1", "224.0.0.5", "255.255.255.255"] {
            let dst = prefix.embed(IPv4Address(bad)!)
            let v = run(&t, buildIPv6(src: client, dst: dst, l4: .udp(src: 1, dst: 2, payload: []))).0
            #expect(v == .icmpError(.forbiddenAddress), "\(bad)")
        }
        // IPv4 sources that cannot be embedded.
        let port = establish(&t)
        for bad in ["127.0.0.1", "0.0.0.1", "169.254.9.9", "224.1.1.1"] {
            let v = run(&t, buildIPv4(src: IPv4Address(bad)!, dst: pool, l4: .udp(src: 53, dst: port, payload: []))).0
            #expect(v == .drop(.forbiddenAddress), "\(bad)")
        }
        // IPv6 sources ::1 and link-local / multicast destinations.
        #expect(run(&t, buildIPv6(src: .loopback, dst: server6, l4: .udp(src: 1, dst: 2, payload: []))).0 == .drop(.forbiddenAddress))
        #expect(run(&t, buildIPv6(src: IPv6Address("fe80::5")!, dst: server6, l4: .udp(src: 1, dst: 2, payload: []))).0 == .drop(.localTraffic))
        // The gateway's own IPv4 address is not a destination.
        #expect(run(&t, buildIPv6(src: client, dst: prefix.embed(gateway4), l4: .udp(src: 1, dst: 2, payload: []))).0 == .icmpError(.forbiddenAddress))
    }
}

@Suite struct ConformanceIPv4ToIPv6 {
    @Test("T4.1: version, traffic class, flow label 0, payload length, next header 58 for ICMP", arguments: conformanceModes)
    func T4_1_header(mode: TranslationMode) {
        var t = translator(mode)
        let id = establish(&t, l4: .echo(request: true, id: 99, seq: 1, payload: [1, 2]))
        let (v, out) = run(&t, buildIPv4(src: server4, dst: pool, ttl: 30, tos: 0xA0, l4: .echo(request: false, id: id, seq: 1, payload: [1, 2])))
        #expect(v == .translated)
        let p = Parsed(bytes: out)
        #expect(p.version == 6)
        #expect(out[0] & 0x0F == 0x0A && out[1] == 0x00)  // traffic class 0xA0, flow label 0
        #expect(out[2] == 0 && out[3] == 0)
        #expect(Int(p.u16(4)) == out.count - 40)
        #expect(p.proto == 58)
        #expect(out[7] == 29)
        #expect(p.l4ChecksumValid)
    }

    @Test("T4.3: options are not translated; an unexpired source route gets ICMPv4 3/5; an expired one passes", arguments: conformanceModes)
    func T4_3_options(mode: TranslationMode) {
        var t = translator(mode)
        let port = establish(&t)
        // Record Route (7) + NOP + NOP: the IPv6 packet starts right after the options.
        let rr: [UInt8] = [7, 7, 4, 0, 0, 0, 0, 1]
        let udp = L4.udp(src: 53, dst: port, payload: [7, 7, 7])
        let plain = buildIPv4(src: server4, dst: pool, l4: udp)
        let (l4bytes, _) = udp.bytes(v6: false)
        var withOptions = buildIPv4Raw(src: server4, dst: pool, options: rr, proto: 17, payload: Array(plain[20...]))
        let (v, out) = run(&t, withOptions)
        #expect(v == .translated)
        #expect(out.count == 40 + l4bytes.count)
        #expect(Parsed(bytes: out).l4ChecksumValid)
        // LSRR with pointer 4 ≤ length 7: unexpired.
        let lsrr: [UInt8] = [131, 7, 4, 192, 0, 2, 99, 1]
        withOptions = buildIPv4Raw(src: server4, dst: pool, options: lsrr, proto: 17, payload: Array(plain[20...]))
        let (v2, reply) = run(&t, withOptions)
        #expect(v2 == .icmpError(.sourceRoute))
        let r = Parsed(bytes: reply)
        #expect(r.l4[0] == 3 && r.l4[1] == 5)
        #expect(r.src4 == gateway4 && r.dst4 == server4)  // E2
        // Expired (pointer 8 > length 7): translated.
        let expired: [UInt8] = [131, 7, 8, 192, 0, 2, 99, 1]
        #expect(run(&t, buildIPv4Raw(src: server4, dst: pool, options: expired, proto: 17, payload: Array(plain[20...]))).0 == .translated)
    }

    @Test("T4.4: fragments get a Fragment header (M, offset, ID); unfragmented packets get none (no atomic fragments)", arguments: conformanceModes)
    func T4_4_fragmentHeader(mode: TranslationMode) {
        var t = translator(mode)
        let port = establish(&t)
        let full = buildIPv4(src: server4, dst: pool, l4: .udp(src: 53, dst: port, payload: Array(repeating: 5, count: 64)))
        let l4 = Array(full[20...])
        let first = buildIPv4Raw(src: server4, dst: pool, id: 0xBEEF, flags: 0x2000, proto: 17, payload: Array(l4[0..<32]))
        let second = buildIPv4Raw(src: server4, dst: pool, id: 0xBEEF, flags: 4, proto: 17, payload: Array(l4[32...]))
        let (v1, o1) = run(&t, first)
        #expect(v1 == .translated)
        #expect(o1[6] == 44)  // next header: Fragment
        #expect(o1[40] == 17 && Parsed(bytes: o1).u16(42) == 0x0001)  // offset 0, M=1
        #expect(Parsed(bytes: o1).u32(44) == 0xBEEF)
        #expect(Parsed(bytes: o1).dst6 == client)
        #expect(Parsed(bytes: o1).u16(48 + 2) == 40000)  // destination port mapped back
        let (v2, o2) = run(&t, second)
        #expect(v2 == .translated)
        #expect(Parsed(bytes: o2).dst6 == client)
        #expect(Parsed(bytes: o2).u16(42) == 32)  // offset 32 bytes, M=0
        // Reassembled payload verifies against the IPv6 pseudo-header.
        let reassembled = Array(o1[48...]) + Array(o2[48...])
        let pseudo = Array(o1[8..<40]) + be32(UInt32(reassembled.count)) + [0, 0, 0, 17]
        #expect(referenceChecksum(pseudo + reassembled) == 0)
        // A non-first fragment whose first fragment was never seen cannot be placed.
        let orphan = buildIPv4Raw(src: server4, dst: pool, id: 0x1111, flags: 4, proto: 17, payload: [1, 2, 3, 4])
        // S8: held until its first fragment comes; F1: siit needs no first fragment.
        #expect(run(&t, orphan).0 == (mode == .siit ? .translated : .drop(.fragmentHeld)))
        // Unfragmented: no Fragment header.
        #expect(run(&t, full).1[6] == 17)
    }

    @Test("T4.5: DF=0 and larger than 1280 → IPv6 fragments of at most 1280 bytes that reassemble correctly", arguments: conformanceModes)
    func T4_5_fragmentation(mode: TranslationMode) {
        var t = translator(mode)
        let port = establish(&t)
        let payload = (0..<3000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        let pkt = buildIPv4(src: server4, dst: pool, id: 0x7777, flags: 0, l4: .udp(src: 53, dst: port, payload: payload))
        var p = PacketBuffer(capacity: 8192)
        var r = PacketBuffer(capacity: 4096)
        p.load(pkt)
        let v = t.translate(&p, reply: &r, now: 0)
        guard case .translatedFragments(let n) = v else { Issue.record("expected fragments, got \(v)"); return }
        #expect(n == 3)
        var data: [UInt8] = []
        var expectedOffset = 0
        for i in 0..<n {
            let f = Array(t.fragment(at: i))
            #expect(f.count <= 1280)
            let parsed = Parsed(bytes: f)
            #expect(parsed.version == 6 && f[6] == 44)
            #expect(Int(parsed.u16(4)) == f.count - 40)
            let word = parsed.u16(42)
            #expect(Int(word & 0xFFF8) == expectedOffset)
            #expect((word & 1 == 1) == (i < n - 1))
            #expect(parsed.u32(44) == 0x7777)
            #expect(f.count - 48 <= 1232)
            data += f[48...]
            expectedOffset += f.count - 48
        }
        #expect(data.count == 8 + 3000)
        #expect(Array(data[8...]) == payload)
        let first = Array(t.fragment(at: 0))
        let pseudo = Array(first[8..<40]) + be32(UInt32(data.count)) + [0, 0, 0, 17]
        #expect(referenceChecksum(pseudo + data) == 0)
        #expect(t.counters.fragmentsEmitted == 3)
    }

    @Test("T4.6: DF=1 and too big for the IPv6 next hop → ICMPv4 3/4 with MTU = IPv6 MTU − 20", arguments: conformanceModes)
    func T4_6_fragmentationNeeded(mode: TranslationMode) {
        var t = translator(mode) { $0.ipv6MTU = 1500 }
        let port = establish(&t)
        let pkt = buildIPv4(src: server4, dst: pool, flags: 0x4000, l4: .udp(src: 53, dst: port, payload: Array(repeating: 1, count: 1472)))
        let (v, reply) = run(&t, pkt)
        #expect(v == .icmpError(.packetTooBig))
        let r = Parsed(bytes: reply)
        #expect(r.l4[0] == 3 && r.l4[1] == 4)
        #expect(r.u16(r.l4Offset + 6) == 1480)
        #expect(r.l4ChecksumValid && r.ipv4HeaderChecksumValid)
    }

    @Test("T4.7: ICMPv4 informational other than echo is dropped", arguments: conformanceModes)
    func T4_7_informational(mode: TranslationMode) {
        var t = translator(mode)
        _ = establish(&t, l4: .echo(request: true, id: 5, seq: 1, payload: []))
        for type: UInt8 in [13, 14, 15, 16, 17, 18, 9, 10, 5, 4, 42] {
            let pkt = buildIPv4Raw(src: server4, dst: pool, proto: 1, payload: icmp4(type: type, code: 0, rest: 0, body: []))
            #expect(run(&t, pkt).0 == .drop(.unknownICMPType), "type \(type)")
        }
    }

    /// An ICMPv4 error from `router` about the translated UDP packet pool:port → server.
    func icmp4Error(type: UInt8, code: UInt8, rest: UInt32 = 0, port: UInt16, innerPayload: [UInt8] = [1, 2, 3, 4],
                    router: IPv4Address = IPv4Address("203.0.113.1")!, extensionBytes: [UInt8]? = nil) -> [UInt8] {
        let inner = buildIPv4(src: pool, dst: server4, ttl: 1, l4: .udp(src: port, dst: 53, payload: innerPayload))
        var body = inner
        var r = rest
        if let ext = extensionBytes {
            body = inner + Array(repeating: 0, count: max(0, 128 - inner.count)) + ext
            r = r & 0xFF00_FFFF | UInt32(max(128, inner.count) / 4) << 16
        }
        return buildIPv4Raw(src: router, dst: pool, proto: 1, payload: icmp4(type: type, code: code, rest: r, body: body))
    }

    @Test("T4.8: Destination Unreachable codes map to ICMPv6 per the table", arguments: conformanceModes)
    func T4_8_destinationUnreachable(mode: TranslationMode) {
        let table: [(UInt8, (UInt8, UInt8)?)] = [
            (0, (1, 0)), (1, (1, 0)), (2, (4, 1)), (3, (1, 4)), (5, (1, 0)), (6, (1, 0)), (7, (1, 0)), (8, (1, 0)),
            (9, (1, 1)), (10, (1, 1)), (11, (1, 0)), (12, (1, 0)), (13, (1, 1)), (14, nil), (15, (1, 1)), (99, nil),
        ]
        for (code, expected) in table {
            var t = translator(mode)
            let port = establish(&t)
            let (v, out) = run(&t, icmp4Error(type: 3, code: code, port: port))
            if let (ty, co) = expected {
                #expect(v == .translated, "code \(code)")
                let p = Parsed(bytes: out)
                #expect(p.l4[0] == ty && p.l4[1] == co, "code \(code)")
                if code == 2 { #expect(p.u32(44) == 6) }  // pointer to next header
                #expect(p.l4ChecksumValid)
            } else {
                #expect(v == .drop(.untranslatableICMP), "code \(code)")
            }
        }
    }

    @Test("T4.9: Fragmentation Needed → Packet Too Big with the min() rule, plateaus, and a 1280 floor", arguments: conformanceModes)
    func T4_9_packetTooBig(mode: TranslationMode) {
        #expect(ICMPMapping.packetTooBigMTU4to6(advertised: 1400, innerTotalLength: 1500, ipv6MTU: 1500, ipv4MTU: 1500) == 1420)
        #expect(ICMPMapping.packetTooBigMTU4to6(advertised: 1490, innerTotalLength: 1500, ipv6MTU: 1500, ipv4MTU: 1500) == 1500)
        #expect(ICMPMapping.packetTooBigMTU4to6(advertised: 1490, innerTotalLength: 1500, ipv6MTU: 9000, ipv4MTU: 1400) == 1420)
        #expect(ICMPMapping.packetTooBigMTU4to6(advertised: 0, innerTotalLength: 1500, ipv6MTU: 9000, ipv4MTU: 9000) == 1512)
        #expect(ICMPMapping.packetTooBigMTU4to6(advertised: 0, innerTotalLength: 4000, ipv6MTU: 9000, ipv4MTU: 9000) == 2022)
        #expect(ICMPMapping.packetTooBigMTU4to6(advertised: 576, innerTotalLength: 1500, ipv6MTU: 1500, ipv4MTU: 1500) == 1280)
        var t = translator(mode)
        let port = establish(&t)
        let (v, out) = run(&t, icmp4Error(type: 3, code: 4, rest: 1400, port: port))
        #expect(v == .translated)
        let p = Parsed(bytes: out)
        #expect(p.l4[0] == 2 && p.l4[1] == 0 && p.u32(44) == 1420)
    }

    @Test("T4.10: Time Exceeded keeps its code; Parameter Problem pointers map per the table, others drop", arguments: conformanceModes)
    func T4_10_timeExceededAndParameterProblem(mode: TranslationMode) {
        var t = translator(mode)
        let port = establish(&t)
        for code: UInt8 in [0, 1] {
            let p = Parsed(bytes: run(&t, icmp4Error(type: 11, code: code, port: port)).1)
            #expect(p.l4[0] == 3 && p.l4[1] == code)
        }
        let pointers: [(UInt8, UInt8?)] = [(0, 0), (1, 1), (2, 4), (3, 4), (8, 7), (9, 6), (12, 8), (15, 8), (16, 24),
                                           (19, 24), (4, nil), (5, nil), (6, nil), (7, nil), (10, nil), (11, nil)]
        for (ptr, expected) in pointers {
            let (v, out) = run(&t, icmp4Error(type: 12, code: 0, rest: UInt32(ptr) << 24, port: port))
            if let e = expected {
                let p = Parsed(bytes: out)
                #expect(v == .translated && p.l4[0] == 4 && p.l4[1] == 0 && p.u32(44) == UInt32(e), "pointer \(ptr)")
            } else {
                #expect(v == .drop(.untranslatableICMP), "pointer \(ptr)")
            }
        }
        #expect(run(&t, icmp4Error(type: 12, code: 1, port: port)).0 == .drop(.untranslatableICMP))
        #expect(run(&t, icmp4Error(type: 12, code: 2, rest: 9 << 24, port: port)).0 == .translated)
    }

    @Test("T4.11: the inner packet is translated with the same mapping, TTL kept, checksums right, ≤ 1280 bytes", arguments: conformanceModes)
    func T4_11_innerPacket(mode: TranslationMode) {
        var t = translator(mode)
        let port = establish(&t, port: 40123)
        let router = IPv4Address("203.0.113.1")!
        let (v, out) = run(&t, icmp4Error(type: 11, code: 0, port: port, router: router))
        #expect(v == .translated)
        let p = Parsed(bytes: out)
        #expect(p.src6 == prefix.embed(router))
        #expect(p.dst6 == client)
        #expect(p.l4ChecksumValid)
        let inner = Parsed(bytes: Array(out[48...]))
        #expect(inner.version == 6)
        #expect(inner.src6 == client && inner.dst6 == server6)
        #expect(inner.bytes[7] == 1)  // inner hop limit = inner TTL, not decremented
        #expect(inner.srcPort == 40123)
        #expect(inner.l4ChecksumValid)  // the whole inner datagram is quoted, so its checksum must verify
        // A large inner packet is cut so the error fits 1280 bytes.
        let big = run(&t, icmp4Error(type: 11, code: 0, port: port, innerPayload: Array(repeating: 3, count: 1400))).1
        #expect(big.count == 1280)
        #expect(Parsed(bytes: big).l4ChecksumValid)
        // Never an error about an error; no mapping → dropped.
        let nested = buildIPv4Raw(src: router, dst: pool, proto: 1, payload: icmp4(type: 3, code: 1, rest: 0,
            body: buildIPv4Raw(src: pool, dst: server4, proto: 1, payload: icmp4(type: 3, code: 3, rest: 0, body: []))))
        #expect(run(&t, nested).0 == .drop(.untranslatableInner))
        #expect(run(&t, icmp4Error(type: 11, code: 0, port: 1)).0 == (mode == .siit ? .translated : .drop(.noState)))  // F3
    }

    @Test("T4.12: RFC 4884 extension: length in 64-bit words, original datagram padded to 128 bytes, extension kept", arguments: conformanceModes)
    func T4_12_extensions(mode: TranslationMode) {
        var t = translator(mode)
        let port = establish(&t)
        let ext: [UInt8] = [0x20, 0, 0, 0, 0, 8, 1, 1, 0xAA, 0xBB, 0xCC, 0xDD]
        let (v, out) = run(&t, icmp4Error(type: 11, code: 0, port: port, extensionBytes: ext))
        #expect(v == .translated)
        let p = Parsed(bytes: out)
        #expect(out[44] == 128 / 8)  // length field of ICMPv6 Time Exceeded
        #expect(Array(out[(48 + 128)...]) == ext)
        #expect(p.l4ChecksumValid)
    }

    @Test("T4.13: fragmented IPv4 UDP with zero checksum is dropped, counted and answered with 3/13 (F14)", arguments: conformanceModes)
    func T4_13_fragmentedZeroChecksum(mode: TranslationMode) {
        var t = translator(mode)
        let port = establish(&t)
        let udp = be16(53) + be16(port) + be16(40) + [0, 0] + Array(repeating: 1, count: 24)
        let frag = buildIPv4Raw(src: server4, dst: pool, flags: 0x2000, proto: 17, payload: udp)
        #expect(run(&t, frag).0 == .icmpError(.fragmentedZeroChecksum))
        #expect(t.counters.drops(.fragmentedZeroChecksum) == 1)
    }

    @Test("T4.15: an untranslatable protocol gets ICMPv4 3/13")
    func T4_15_defaultError() {
        var t = translator()
        let gre = buildIPv4Raw(src: server4, dst: pool, proto: 47, payload: [0, 0, 8, 0])
        let (v, reply) = run(&t, gre)
        #expect(v == .icmpError(.unknownL4))
        let r = Parsed(bytes: reply)
        #expect(r.l4[0] == 3 && r.l4[1] == 13)
    }
}

@Suite struct ConformanceIPv6ToIPv4 {
    @Test("T6.1: extension headers removed, total length and protocol from the upper layer, header checksum", arguments: conformanceModes)
    func T6_1_extensionHeadersRemoved(mode: TranslationMode) {
        var t = translator(mode)
        let udp = L4.udp(src: 4000, dst: 53, payload: [1, 2, 3])
        let plain = buildIPv6(src: client, dst: server6, l4: udp)
        let hbh: [UInt8] = [0, 1, 4, 0, 0, 0, 0]  // len 0 (8 bytes), PadN
        let dest: [UInt8] = [0, 1, 4, 0, 0, 0, 0]
        let pkt = buildIPv6Raw(src: client, dst: server6, chain: [(0, hbh), (60, dest)], upperProto: 17, payload: Array(plain[40...]))
        let (v, out) = run(&t, pkt)
        #expect(v == .translated)
        let p = Parsed(bytes: out)
        #expect(p.proto == 17)
        #expect(Int(p.u16(2)) == 20 + plain.count - 40)
        #expect(p.ipv4HeaderChecksumValid && p.l4ChecksumValid)
    }

    @Test("T6.3: Routing header with segments left ≠ 0 → ICMPv6 4/0 pointing at the field; 0 is skipped", arguments: conformanceModes)
    func T6_3_routingHeader(mode: TranslationMode) {
        var t = translator(mode)
        let plain = buildIPv6(src: client, dst: server6, l4: .udp(src: 4000, dst: 53, payload: [1]))
        let routing: [UInt8] = [0, 0, 1, 0, 0, 0, 0]  // type 0, segments left 1
        let (v, reply) = run(&t, buildIPv6Raw(src: client, dst: server6, chain: [(43, routing)], upperProto: 17, payload: Array(plain[40...])))
        #expect(v == .icmpError(.segmentsLeft))
        let r = Parsed(bytes: reply)
        #expect(r.l4[0] == 4 && r.l4[1] == 0 && r.u32(44) == 43)
        let spent: [UInt8] = [0, 0, 0, 0, 0, 0, 0]
        #expect(run(&t, buildIPv6Raw(src: client, dst: server6, chain: [(43, spent)], upperProto: 17, payload: Array(plain[40...]))).0 == .translated)
    }

    @Test("T6.4: Fragment header → DF=0, MF=M, offset, ID low bits; extension after fragment or two fragments drop", arguments: conformanceModes)
    func T6_4_fragments(mode: TranslationMode) {
        var t = translator(mode)
        let whole = buildIPv6(src: client, dst: server6, l4: .udp(src: 4000, dst: 53, payload: Array(repeating: 9, count: 40)))
        let l4 = Array(whole[40...])
        let first = buildIPv6Raw(src: client, dst: server6, chain: [(44, fragmentHeader(offset: 0, more: true, id: 0xABCD1234))],
                                 upperProto: 17, payload: Array(l4[0..<24]))
        let second = buildIPv6Raw(src: client, dst: server6, chain: [(44, fragmentHeader(offset: 24, more: false, id: 0xABCD1234))],
                                  upperProto: 17, payload: Array(l4[24...]))
        let (v1, o1) = run(&t, first)
        #expect(v1 == .translated)
        let p1 = Parsed(bytes: o1)
        #expect(p1.u16(6) == 0x2000)  // MF, offset 0, DF clear
        #expect(p1.u16(4) == 0x1234)
        let (v2, o2) = run(&t, second)
        #expect(v2 == .translated)
        let p2 = Parsed(bytes: o2)
        #expect(p2.u16(6) == 3)  // offset 24/8
        #expect(p2.src4 == p1.src4 && p2.dst4 == server4)
        let reassembled = Array(o1[20...]) + Array(o2[20...])
        let pseudo = Array(o1[12..<20]) + [0, 17] + be16(UInt16(reassembled.count))
        #expect(referenceChecksum(pseudo + reassembled) == 0)
        let bad1 = buildIPv6Raw(src: client, dst: server6, chain: [(44, fragmentHeader(offset: 0, more: true, id: 1)), (60, [0, 1, 4, 0, 0, 0, 0])],
                                upperProto: 17, payload: Array(l4[0..<16]))
        #expect(run(&t, bad1).0 == .icmpError(.extensionAfterFragment))  // F10: with the T6.12 error
        let bad2 = buildIPv6Raw(src: client, dst: server6, chain: [(44, fragmentHeader(offset: 0, more: true, id: 1)), (44, fragmentHeader(offset: 0, more: true, id: 1))],
                                upperProto: 17, payload: Array(l4[0..<16]))
        #expect(run(&t, bad2).0 == .icmpError(.extensionAfterFragment))
    }

    @Test("T6.5: DF=1 and too big for the IPv4 next hop → Packet Too Big with MTU = IPv4 MTU + 20", arguments: conformanceModes)
    func T6_5_packetTooBig(mode: TranslationMode) {
        var t = translator(mode) { $0.ipv4MTU = 1400 }
        let (v, reply) = run(&t, buildIPv6(src: client, dst: server6, l4: .udp(src: 1, dst: 2, payload: Array(repeating: 0, count: 1420))))
        #expect(v == .icmpError(.packetTooBig))
        let r = Parsed(bytes: reply)
        #expect(r.l4[0] == 2 && r.l4[1] == 0 && r.u32(44) == 1420)
        #expect(r.l4ChecksumValid)
        // Never below 1280.
        var small = translator(mode) { $0.ipv4MTU = 1000 }
        let r2 = Parsed(bytes: run(&small, buildIPv6(src: client, dst: server6, l4: .udp(src: 1, dst: 2, payload: Array(repeating: 0, count: 1300)))).1)
        #expect(r2.u32(44) == 1280)
    }

    @Test("T6.6: MLD, neighbour discovery and unknown ICMPv6 informational types are dropped", arguments: conformanceModes)
    func T6_6_informationalDrops(mode: TranslationMode) {
        var t = translator(mode)
        for type: UInt8 in [130, 131, 133, 134, 135, 136, 137, 138, 139, 200] {
            let pkt = buildIPv6Raw(src: client, dst: server6, upperProto: 58,
                                   payload: icmp6(src: client, dst: server6, type: type, code: 0, rest: 0, body: []))
            #expect(run(&t, pkt).0 == .drop(.unknownICMPType), "type \(type)")
        }
    }

    /// An ICMPv6 error from `from` about the packet server → client:port the translator delivered.
    func icmp6Error(type: UInt8, code: UInt8, rest: UInt32 = 0, port: UInt16, from: IPv6Address = client,
                    innerPayload: [UInt8] = [1, 2, 3, 4], extensionBytes: [UInt8]? = nil) -> [UInt8] {
        let inner = buildIPv6(src: server6, dst: client, hopLimit: 50, l4: .udp(src: 53, dst: port, payload: innerPayload))
        var body = inner
        var r = rest
        if let ext = extensionBytes {
            body = inner + Array(repeating: 0, count: max(0, 128 - inner.count)) + ext
            r = UInt32(max(128, inner.count) / 8) << 24
        }
        return buildIPv6Raw(src: from, dst: server6, upperProto: 58,
                            payload: icmp6(src: from, dst: server6, type: type, code: code, rest: r, body: body))
    }

    @Test("T6.7: Destination Unreachable codes map per the table", arguments: conformanceModes)
    func T6_7_destinationUnreachable(mode: TranslationMode) {
        let table: [(UInt8, (UInt8, UInt8)?)] = [(0, (3, 1)), (1, (3, 10)), (2, (3, 1)), (3, (3, 1)), (4, (3, 3)), (5, nil), (6, nil)]
        for (code, expected) in table {
            var t = translator(mode)
            _ = establish(&t, port: 40000)
            let (v, out) = run(&t, icmp6Error(type: 1, code: code, port: 40000))
            if let (ty, co) = expected {
                #expect(v == .translated, "code \(code)")
                let p = Parsed(bytes: out)
                #expect(p.l4[0] == ty && p.l4[1] == co)
                #expect(p.l4ChecksumValid && p.ipv4HeaderChecksumValid)
            } else {
                #expect(v == .drop(.untranslatableICMP), "code \(code)")
            }
        }
    }

    @Test("T6.8: Packet Too Big → Fragmentation Needed with MTU = min(advertised − 20, IPv4 MTU, IPv6 MTU − 20)", arguments: conformanceModes)
    func T6_8_packetTooBig(mode: TranslationMode) {
        var t = translator(mode) { $0.ipv4MTU = 1500; $0.ipv6MTU = 1500 }
        _ = establish(&t)
        let (v, out) = run(&t, icmp6Error(type: 2, code: 0, rest: 1400, port: 40000))
        #expect(v == .translated)
        let p = Parsed(bytes: out)
        #expect(p.l4[0] == 3 && p.l4[1] == 4 && p.u16(26) == 1380)
        let big = Parsed(bytes: run(&t, icmp6Error(type: 2, code: 0, rest: 9000, port: 40000)).1)
        #expect(big.u16(26) == 1480)
    }

    @Test("T6.9: Time Exceeded keeps its code; Parameter Problem pointer table; 4/1 → 3/2; 4/2 drops", arguments: conformanceModes)
    func T6_9_timeExceededAndParameterProblem(mode: TranslationMode) {
        var t = translator(mode)
        _ = establish(&t)
        #expect(Parsed(bytes: run(&t, icmp6Error(type: 3, code: 1, port: 40000)).1).l4[0...1] == [11, 1])
        let pointers: [(UInt32, UInt8?)] = [(0, 0), (1, 1), (4, 2), (5, 2), (6, 9), (7, 8), (8, 12), (23, 12), (24, 16),
                                            (39, 16), (2, nil), (3, nil), (40, nil), (300, nil)]
        for (ptr, expected) in pointers {
            let (v, out) = run(&t, icmp6Error(type: 4, code: 0, rest: ptr, port: 40000))
            if let e = expected {
                let p = Parsed(bytes: out)
                #expect(v == .translated && p.l4[0] == 12 && p.bytes[24] == e, "pointer \(ptr)")
            } else {
                #expect(v == .drop(.untranslatableICMP), "pointer \(ptr)")
            }
        }
        #expect(Parsed(bytes: run(&t, icmp6Error(type: 4, code: 1, port: 40000)).1).l4[0...1] == [3, 2])
        #expect(run(&t, icmp6Error(type: 4, code: 2, port: 40000)).0 == .drop(.untranslatableICMP))
    }

    @Test("T6.10: inner packet translated through the mapping, ICMPv4 ≤ 576 bytes, checksum without pseudo-header", arguments: conformanceModes)
    func T6_10_innerPacket(mode: TranslationMode) {
        var t = translator(mode)
        let mapped = establish(&t, port: 40500)
        let (v, out) = run(&t, icmp6Error(type: 1, code: 4, port: 40500))
        #expect(v == .translated)
        let p = Parsed(bytes: out)
        #expect(p.src4 == pool && p.dst4 == server4)  // the host itself → its mapped address
        let inner = Parsed(bytes: Array(out[28...]))
        #expect(inner.version == 4 && inner.src4 == server4 && inner.dst4 == pool)
        #expect(inner.dstPort == mapped)
        #expect(inner.bytes[8] == 50)  // inner TTL = inner hop limit
        #expect(inner.ipv4HeaderChecksumValid && inner.l4ChecksumValid)
        let big = run(&t, icmp6Error(type: 1, code: 4, port: 40500, innerPayload: Array(repeating: 1, count: 1200))).1
        #expect(big.count == 576)
        #expect(Parsed(bytes: big).l4ChecksumValid)
        // RFC 4884 in this direction: 32-bit words, padded to 128.
        let ext: [UInt8] = [0x20, 0, 0, 0, 0, 8, 1, 1, 1, 2, 3, 4]
        let withExt = run(&t, icmp6Error(type: 3, code: 0, port: 40500, extensionBytes: ext)).1
        #expect(withExt[25] == 128 / 4)
        #expect(Array(withExt[(28 + 128)...]) == ext)
    }

    @Test("T6.11: fragmented ICMPv6 is reassembled (stateful mode) and translated whole, DF=0; overlaps discard it")
    func T6_11_fragmentedICMPv6() {
        var t = translator()
        let payload = (0..<2000).map { UInt8(truncatingIfNeeded: $0 &* 13) }
        let echo = icmp6(src: client, dst: server6, type: 128, code: 0, rest: 0x0042_0001, body: payload)
        let first = buildIPv6Raw(src: client, dst: server6, chain: [(44, fragmentHeader(offset: 0, more: true, id: 0x5151))],
                                 upperProto: 58, payload: Array(echo[0..<1232]))
        let second = buildIPv6Raw(src: client, dst: server6, chain: [(44, fragmentHeader(offset: 1232, more: false, id: 0x5151))],
                                  upperProto: 58, payload: Array(echo[1232...]))
        // Out of order on purpose: the last fragment first.
        #expect(run(&t, second).0 == .drop(.fragmentHeld))
        let (v, out) = run(&t, first)
        #expect(v == .translated)
        let p = Parsed(bytes: out)
        #expect(p.version == 4 && p.proto == 1)
        #expect(Int(p.u16(2)) == 20 + echo.count)
        #expect(p.u16(6) == 0)  // DF=0 (it was fragmented), MF=0, offset 0
        #expect(p.u16(4) == 0x5151)
        #expect(p.l4[0] == 8 && Array(p.l4[8...]) == payload)
        #expect(p.l4ChecksumValid && p.ipv4HeaderChecksumValid)
        // Overlapping fragments: the datagram is discarded.
        let a = buildIPv6Raw(src: client, dst: server6, chain: [(44, fragmentHeader(offset: 0, more: true, id: 7))],
                             upperProto: 58, payload: Array(echo[0..<64]))
        let b = buildIPv6Raw(src: client, dst: server6, chain: [(44, fragmentHeader(offset: 56, more: false, id: 7))],
                             upperProto: 58, payload: Array(echo[56..<100]))
        #expect(run(&t, a).0 == .drop(.fragmentHeld))
        #expect(run(&t, b).0 == .drop(.fragmentOverlap))
    }

    @Test("T6.11 (IPv4 side): a fragmented ICMP echo reply is reassembled, translated and re-fragmented to 1280 (T4.5)")
    func T6_11_fragmentedICMPv4() {
        var t = translator()
        let id = establish(&t, l4: .echo(request: true, id: 31, seq: 1, payload: []))
        let payload = (0..<3000).map { UInt8(truncatingIfNeeded: $0 &* 3) }
        let reply = icmp4(type: 0, code: 0, rest: UInt32(id) << 16 | 1, body: payload)
        let f1 = buildIPv4Raw(src: server4, dst: pool, id: 0x0BAD, flags: 0x2000, proto: 1, payload: Array(reply[0..<1480]))
        let f2 = buildIPv4Raw(src: server4, dst: pool, id: 0x0BAD, flags: 0x2000 | 185, proto: 1, payload: Array(reply[1480..<2960]))
        let f3 = buildIPv4Raw(src: server4, dst: pool, id: 0x0BAD, flags: 370, proto: 1, payload: Array(reply[2960...]))
        #expect(run(&t, f1).0 == .drop(.fragmentHeld))
        #expect(run(&t, f3).0 == .drop(.fragmentHeld))
        var p = PacketBuffer(capacity: 70_000)
        var r = PacketBuffer(capacity: 4096)
        p.load(f2)
        guard case .translatedFragments(let n) = t.translate(&p, reply: &r, now: 0) else {
            Issue.record("expected IPv6 fragments")
            return
        }
        var data: [UInt8] = []
        for i in 0..<n {
            let f = Array(t.fragment(at: i))
            #expect(f.count <= 1280)
            data += f[48...]
        }
        #expect(data.count == reply.count)
        #expect(data[0] == 129 && Array(data[8...]) == payload)
        let first = Array(t.fragment(at: 0))
        let pseudo = Array(first[8..<40]) + be32(UInt32(data.count)) + [0, 0, 0, 58]
        #expect(referenceChecksum(pseudo + data) == 0)
    }

    @Test("T6.13: other protocols in NAPT mode → ICMPv6 4/1 pointing at the next header field")
    func T6_13_otherProtocols() {
        var t = translator()
        let (v, reply) = run(&t, buildIPv6Raw(src: client, dst: server6, upperProto: 47, payload: [0, 0, 8, 0]))
        #expect(v == .icmpError(.unknownL4))
        let r = Parsed(bytes: reply)
        #expect(r.l4[0] == 4 && r.l4[1] == 1 && r.u32(44) == 6)
    }
}

@Suite struct ConformanceErrorSources {
    @Test("E1: an ICMPv6 error from an IPv6 router without state is sourced from the RFC 6791 address (default: gateway IPv4)")
    func E1_rfc6791Source() {
        // A static 1:1 host has no session (F3), so the router's error has no pool4 address to borrow (F12).
        let router = IPv6Address("2001:db8:1::fe")!
        let host = StateConfiguration(staticMappings: [StaticMapping(inside: client, outside: IPv4Address("192.0.2.50")!)])
        var t = translator { $0.state = host }
        let out = run(&t, ConformanceIPv6ToIPv4().icmp6Error(type: 3, code: 0, port: 40000, from: router)).1
        #expect(Parsed(bytes: out).src4 == gateway4)
        var custom = translator { $0.state = host; $0.rfc6791Source = IPv4Address("203.0.113.99")! }
        let out2 = run(&custom, ConformanceIPv6ToIPv4().icmp6Error(type: 3, code: 0, port: 40000, from: router)).1
        #expect(Parsed(bytes: out2).src4 == IPv4Address("203.0.113.99")!)
        // A pool: one address per router, inside the pool.
        var pooled = translator { $0.state = host; $0.stateless.rfc6791Pool4 = IPv4Prefix("203.0.113.96/30")! }
        let out3 = Parsed(bytes: run(&pooled, ConformanceIPv6ToIPv4().icmp6Error(type: 3, code: 0, port: 40000, from: router)).1)
        #expect(IPv4Prefix("203.0.113.96/30")!.contains(out3.src4) && out3.l4ChecksumValid)
    }

    @Test("E2: errors the gateway generates come from its own addresses")
    func E2_ownAddresses() {
        var t = translator()
        let r6 = Parsed(bytes: run(&t, buildIPv6(src: client, dst: server6, hopLimit: 1, l4: .udp(src: 1, dst: 2, payload: []))).1)
        #expect(r6.src6 == gateway6)
        let r4 = Parsed(bytes: run(&t, buildIPv4(src: server4, dst: pool, ttl: 1, l4: .udp(src: 1, dst: 2, payload: []))).1)
        #expect(r4.src4 == gateway4)
    }

    @Test("E3: generated errors are rate-limited per destination; other destinations are unaffected")
    func E3_rateLimit() {
        var t = translator { $0.icmpErrorsPerSecond = 10 }
        let expired = buildIPv6(src: client, dst: server6, hopLimit: 1, l4: .udp(src: 1, dst: 2, payload: []))
        var sent = 0
        for _ in 0..<50 where run(&t, expired, now: 1_000).0 == .icmpError(.hopLimitExceeded) { sent += 1 }
        #expect(sent == 10)
        #expect(t.counters.icmpErrorsRateLimited == 40)
        let other = buildIPv6(src: IPv6Address("2001:db8:1::77")!, dst: server6, hopLimit: 1, l4: .udp(src: 1, dst: 2, payload: []))
        #expect(run(&t, other, now: 1_000).0 == .icmpError(.hopLimitExceeded))
        // Tokens come back with time.
        #expect(run(&t, expired, now: 1_000 + 200_000_000).0 == .icmpError(.hopLimitExceeded))
    }
}

@Suite struct ConformanceEAM {
    @Test("A4: EAM prefix pairs (RFC 7757): longest match wins in both directions, no port rewriting",
          arguments: conformanceModes)
    func A4_explicitAddressMappings(mode: TranslationMode) throws {
        let wide = try #require(EAMEntry(inside: IPv6Prefix("2001:db8:2::/120")!, outside: IPv4Prefix("203.0.113.0/24")!))
        let narrow = try #require(EAMEntry(inside: IPv6Prefix("2001:db8:2::/124")!, outside: IPv4Prefix("198.51.100.16/28")!))
        var t = translator { $0.state = StateConfiguration(mode: mode, eam: [wide, narrow]) }
        // IPv6 → IPv4: ::5 is in both prefixes; the /124 wins.
        let inBoth = IPv6Address("2001:db8:2::5")!
        let o1 = Parsed(bytes: run(&t, buildIPv6(src: inBoth, dst: server6, l4: .udp(src: 777, dst: 53, payload: []))).1)
        #expect(o1.src4 == IPv4Address("198.51.100.21")!)
        #expect(o1.srcPort == 777)
        let onlyWide = IPv6Address("2001:db8:2::20")!
        let o2 = Parsed(bytes: run(&t, buildIPv6(src: onlyWide, dst: server6, l4: .udp(src: 778, dst: 53, payload: []))).1)
        #expect(o2.src4 == IPv4Address("203.0.113.32")!)
        // IPv4 → IPv6: each IPv4 address maps back through its own (longest) entry.
        let back = run(&t, buildIPv4(src: server4, dst: IPv4Address("198.51.100.21")!, l4: .udp(src: 53, dst: 777, payload: [])))
        #expect(back.0 == .translated && Parsed(bytes: back.1).dst6 == inBoth)
        let back2 = run(&t, buildIPv4(src: server4, dst: IPv4Address("203.0.113.32")!, l4: .udp(src: 53, dst: 778, payload: [])))
        #expect(back2.0 == .translated && Parsed(bytes: back2.1).dst6 == onlyWide)
        #expect(StateConfiguration(eam: [wide, narrow]).longestEAM(forIPv4: IPv4Address("203.0.113.5")!) == wide)
    }
}

@Suite struct FragmentHoldTests {
    /// A 3-fragment IPv4 UDP datagram to the client's mapping, fragments of 64 bytes of UDP data each.
    func fragments(port: UInt16, id: UInt16) -> [[UInt8]] {
        let full = buildIPv4(src: server4, dst: pool, l4: .udp(src: 53, dst: port, payload: Array(repeating: 0x77, count: 184)))
        let l4 = Array(full[20...])
        return [
            buildIPv4Raw(src: server4, dst: pool, id: id, flags: 0x2000, proto: 17, payload: Array(l4[0..<64])),
            buildIPv4Raw(src: server4, dst: pool, id: id, flags: 0x2000 | 8, proto: 17, payload: Array(l4[64..<128])),
            buildIPv4Raw(src: server4, dst: pool, id: id, flags: 16, proto: 17, payload: Array(l4[128...])),
        ]
    }

    @Test("S8: fragments before the first are held, then all are translated when the first arrives")
    func S8_outOfOrderFragmentsHeldThenTranslated() {
        var t = translator()
        let port = establish(&t)
        let f = fragments(port: port, id: 0x3333)
        #expect(run(&t, f[2], now: 1_000).0 == .drop(.fragmentHeld))
        #expect(run(&t, f[1], now: 2_000).0 == .drop(.fragmentHeld))
        var p = PacketBuffer(capacity: 4096)
        var r = PacketBuffer(capacity: 4096)
        p.load(f[0])
        guard case .translatedFragments(let n) = t.translate(&p, reply: &r, now: 3_000) else {
            Issue.record("expected the first fragment and the held ones together")
            return
        }
        #expect(n == 3)
        var offsets: [Int] = []
        var data: [(Int, [UInt8])] = []
        for i in 0..<n {
            let out = Parsed(bytes: Array(t.fragment(at: i)))
            #expect(out.version == 6 && out.dst6 == client && out.bytes[6] == 44)
            let word = Int(out.u16(42))
            offsets.append(word & 0xFFF8)
            data.append((word & 0xFFF8, Array(out.bytes[48...])))
        }
        #expect(offsets == [0, 128, 64])  // the first, then the held ones oldest first
        let reassembled = data.sorted { $0.0 < $1.0 }.flatMap(\.1)
        let first = Array(t.fragment(at: 0))
        let pseudo = Array(first[8..<40]) + be32(UInt32(reassembled.count)) + [0, 0, 0, 17]
        #expect(referenceChecksum(pseudo + reassembled) == 0)
    }

    @Test("S8: a held fragment expires after 2 s; the datagram is then incomplete and nothing stale goes out")
    func S8_heldFragmentExpires() {
        var t = translator()
        let port = establish(&t)
        let f = fragments(port: port, id: 0x4444)
        #expect(run(&t, f[1], now: 0).0 == .drop(.fragmentHeld))
        _ = t.expire(now: 2_500_000_000)
        let (v, out) = run(&t, f[0], now: 2_600_000_000)
        #expect(v == .translated)  // only the first fragment: the held one is gone
        #expect(Parsed(bytes: out).u16(42) == 1)
    }
}
