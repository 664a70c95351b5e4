// Conformance section F, rules F5–F14: RFC 7915 points the first version got wrong, in the existing modes.
// Expected values come from the RFC text; packets from the independent builder in PacketTestSupport.
import NAT64Translator
import PacketTestSupport
import Testing

/// A UDP header (server:53 → client:port) with an arbitrary non-zero checksum, for quoted inner packets.
func quotedUDP(port: UInt16, payload: Int) -> [UInt8] {
    be16(53) + be16(port) + be16(UInt16(8 + payload)) + [0x12, 0x34] + Array(repeating: 0x5A, count: payload)
}

@Suite struct CorrectionTests {
    let errors6 = ConformanceIPv6ToIPv4()
    let errors4 = ConformanceIPv4ToIPv6()

    @Test("F5: the inner IPv4 header of a translated ICMPv6 error gets DF above 1260 bytes and MF/ID from its Fragment header")
    func test_F5_innerHeaderLikeAPacket() {
        var t = translator()
        _ = establish(&t)
        // The inner IPv6 packet claims 8 + 1300 bytes of UDP: as IPv4 that is 1328 > 1260 bytes, so DF = 1.
        let big = Parsed(bytes: run(&t, errors6.icmp6Error(type: 1, code: 4, port: 40000,
                                                           innerPayload: Array(repeating: 1, count: 1300))).1)
        #expect(big.u16(28 + 2) == 1328)
        #expect(big.u16(28 + 6) == 0x4000)
        #expect(Parsed(bytes: Array(big.bytes[28...])).ipv4HeaderChecksumValid)
        // A small one: DF = 0 (T6.4).
        let small = Parsed(bytes: run(&t, errors6.icmp6Error(type: 1, code: 4, port: 40000)).1)
        #expect(small.u16(28 + 6) == 0)
        // An inner first fragment (M = 1, ID 0xABCD1234): MF set, DF clear, ID = low 16 bits.
        let inner = buildIPv6Raw(src: server6, dst: client, hopLimit: 50,
                                 chain: [(44, fragmentHeader(offset: 0, more: true, id: 0xABCD_1234))],
                                 upperProto: 17, payload: quotedUDP(port: 40000, payload: 1400))
        let error = buildIPv6Raw(src: client, dst: server6, upperProto: 58,
                                 payload: icmp6(src: client, dst: server6, type: 1, code: 4, rest: 0, body: inner))
        let (v, out) = run(&t, error)
        #expect(v == .translated)
        let p = Parsed(bytes: out)
        #expect(p.u16(28 + 4) == 0x1234)
        #expect(p.u16(28 + 6) == 0x2000)
        #expect(p.l4ChecksumValid && p.ipv4HeaderChecksumValid)
    }

    @Test("F6: an ICMPv6 error (and any packet) with a Fragment header takes the low 16 bits of its ID")
    func test_F6_identificationFromFragmentHeader() {
        var t = translator()
        _ = establish(&t)
        let inner = buildIPv6(src: server6, dst: client, hopLimit: 50, l4: .udp(src: 53, dst: 40000, payload: [1, 2]))
        let error = buildIPv6Raw(src: client, dst: server6, chain: [(44, fragmentHeader(offset: 0, more: false, id: 0x00C0_FFEE))],
                                 upperProto: 58, payload: icmp6(src: client, dst: server6, type: 1, code: 4, rest: 0, body: inner))
        let (v, out) = run(&t, error)
        #expect(v == .translated)
        let p = Parsed(bytes: out)
        #expect(p.u16(4) == 0xFFEE && p.u16(6) == 0)
        #expect(p.l4[0] == 3 && p.l4[1] == 3 && p.l4ChecksumValid)
        // An ordinary UDP packet in an atomic fragment: the same rule.
        let udp = buildIPv6(src: client, dst: server6, l4: .udp(src: 40000, dst: 53, payload: [7]))
        let atomic = buildIPv6Raw(src: client, dst: server6, chain: [(44, fragmentHeader(offset: 0, more: false, id: 0x0001_BEEF))],
                                  upperProto: 17, payload: Array(udp[40...]))
        #expect(Parsed(bytes: run(&t, atomic).1).u16(4) == 0xBEEF)
    }

    @Test("F7: an ICMPv4 error from a non-global source is translated from the RFC 6791 IPv6 source")
    func test_F7_nonGlobalErrorSource() {
        for router in ["127.0.0.1", "0.0.0.0", "169.254.3.4"] {
            var t = translator()
            let port = establish(&t)
            let (v, out) = run(&t, errors4.icmp4Error(type: 11, code: 0, port: port, router: IPv4Address(router)!))
            #expect(v == .translated, "\(router)")
            let p = Parsed(bytes: out)
            #expect(p.src6 == gateway6 && p.dst6 == client && p.l4[0] == 3 && p.l4ChecksumValid, "\(router)")
        }
        // With an RFC 6791 IPv6 pool: the IPv4 address in the low 32 bits.
        var pooled = translator { $0.stateless.rfc6791Pool6 = IPv6Prefix("2001:db8:ffff::/96")! }
        let port = establish(&pooled)
        let out = run(&pooled, errors4.icmp4Error(type: 11, code: 0, port: port, router: IPv4Address("127.0.0.1")!)).1
        #expect(Parsed(bytes: out).src6 == IPv6Address("2001:db8:ffff::7f00:1")!)
    }

    @Test("F8: Payload Length 0 is an empty payload (translated); a Hop-by-Hop jumbogram is dropped")
    func test_F8_emptyPayload() {
        let empty = buildIPv6Raw(src: client, dst: server6, upperProto: 59, payload: [])
        // NAPT: not a header error any more; No Next Header is just a protocol NAPT cannot carry (T6.13).
        var napt = translator()
        #expect(run(&napt, empty).0 == .icmpError(.unknownL4))
        // 1:1 (a static map): translated to an IPv4 header alone, protocol 59.
        var oneToOne = translator { $0.state = StateConfiguration(staticMappings: [StaticMapping(inside: client, outside: IPv4Address("192.0.2.50")!)]) }
        let (v, out) = run(&oneToOne, empty)
        #expect(v == .translated)
        let p = Parsed(bytes: out)
        #expect(out.count == 20 && p.u16(2) == 20 && p.proto == 59 && p.ipv4HeaderChecksumValid)
        #expect(p.src4 == IPv4Address("192.0.2.50")! && p.dst4 == server4)
        // Payload Length 0 with a Hop-by-Hop header: a jumbogram (RFC 2675), which IPv4 cannot carry.
        var jumbo = buildIPv6Raw(src: client, dst: server6, chain: [(0, [0, 0xC2, 4, 0, 1, 0, 0])], upperProto: 17,
                                 payload: quotedUDP(port: 1, payload: 8))
        jumbo[4] = 0
        jumbo[5] = 0
        #expect(run(&napt, jumbo).0 == .drop(.badHeader))
    }

    @Test("F9: DF=1 fragments too big for the IPv6 MTU get 3/4; nothing larger than the minimum MTU leaves unrequested")
    func test_F9_fragmentsAndMTU() {
        var t = translator { $0.ipv6MTU = 1500 }
        let port = establish(&t)
        // A DF=1 first fragment (MF=1) of 8 + 1452 bytes: 48 + 1460 = 1508 > 1500 → 3/4, MTU 1500 − 28.
        let df = buildIPv4Raw(src: server4, dst: pool, flags: 0x6000, proto: 17, payload: quotedUDP(port: port, payload: 1452))
        let (v, reply) = run(&t, df)
        #expect(v == .icmpError(.packetTooBig))
        let r = Parsed(bytes: reply)
        #expect(r.l4[0] == 3 && r.l4[1] == 4 && r.u16(r.l4Offset + 6) == 1472)
        // A DF=0 fragment of 1240 bytes: 40 + 8 + 1240 = 1288 > 1280, so it is cut again (T4.5).
        var small = translator { $0.ipv6MTU = 1280 }
        let smallPort = establish(&small)
        let frag = buildIPv4Raw(src: server4, dst: pool, id: 0x0F09, flags: 0x2000, proto: 17,
                                payload: quotedUDP(port: smallPort, payload: 1232))
        var p = PacketBuffer(capacity: 4096)
        var rb = PacketBuffer(capacity: 4096)
        p.load(frag)
        guard case .translatedFragments(let n) = small.translate(&p, reply: &rb, now: 0) else {
            Issue.record("expected IPv6 fragments")
            return
        }
        var data = 0
        for i in 0..<n {
            let f = Array(small.fragment(at: i))
            #expect(f.count <= 1280)
            #expect(Parsed(bytes: f).u16(42) & 1 == 1)  // every piece: more follow (the datagram goes on)
            data += f.count - 48
        }
        #expect(n == 2 && data == 1240)
    }

    @Test("F10: an extension header after the Fragment header is dropped with ICMPv6 1/1")
    func test_F10_extensionAfterFragment() {
        var t = translator()
        let bad = buildIPv6Raw(src: client, dst: server6,
                               chain: [(44, fragmentHeader(offset: 0, more: true, id: 1)), (60, [0, 1, 4, 0, 0, 0, 0])],
                               upperProto: 17, payload: quotedUDP(port: 9, payload: 8))
        let (v, reply) = run(&t, bad)
        #expect(v == .icmpError(.extensionAfterFragment))
        let r = Parsed(bytes: reply)
        #expect(r.l4[0] == 1 && r.l4[1] == 1 && r.src6 == gateway6 && r.dst6 == client && r.l4ChecksumValid)
        #expect(t.counters.drops(.extensionAfterFragment) == 1)
    }

    @Test("F11: a hairpinned packet loses one hop, not two")
    func test_F11_hairpinOneHop() {
        var t = translator()
        let hostB = IPv6Address("2001:db8:1::b")!
        let pB = Parsed(bytes: run(&t, buildIPv6(src: hostB, dst: server6, l4: .udp(src: 5353, dst: 53, payload: []))).1).srcPort
        let (v, out) = run(&t, buildIPv6(src: client, dst: prefix.embed(pool), hopLimit: 64, l4: .udp(src: 4000, dst: pB, payload: [1])))
        #expect(v == .translated)
        #expect(Parsed(bytes: out).dst6 == hostB && out[7] == 63)
        // Hop limit 2 arrives with 1, where a two-hop count would have expired it.
        let (v2, out2) = run(&t, buildIPv6(src: client, dst: prefix.embed(pool), hopLimit: 2, l4: .udp(src: 4000, dst: pB, payload: [1])))
        #expect(v2 == .translated && out2[7] == 1)
    }

    @Test("F12: NAPT: an ICMPv4 error about a session, even from a router, comes from the session's pool4 address")
    func test_F12_sessionSource() {
        var t = translator()
        _ = establish(&t)
        let router = IPv6Address("2001:db8:1::fe")!
        let (v, out) = run(&t, errors6.icmp6Error(type: 3, code: 0, port: 40000, from: router))
        #expect(v == .translated)
        let p = Parsed(bytes: out)
        #expect(p.src4 == pool && p.dst4 == server4 && p.l4[0] == 11)
    }

    @Test("F13: RFC 4884: an error that would exceed its limit keeps the extension and truncates the datagram")
    func test_F13_truncateKeepExtension() {
        // ICMPv4 → ICMPv6: inner IPv4 1008 bytes (252 words) + a 300-byte extension. As IPv6 the datagram is
        // 1028 bytes (1032 in 8-byte words): 48 + 1032 + 300 > 1280, so the datagram is cut to
        // (1232 − 300) rounded down to 8 = 928 bytes (116 words) and the extension follows whole.
        var t = translator()
        let port = establish(&t)
        let ext: [UInt8] = [0x20, 0, 0, 0, 0x01, 0x28, 1, 1] + (0..<292).map { UInt8(truncatingIfNeeded: $0) }
        let (v, out) = run(&t, errors4.icmp4Error(type: 11, code: 0, port: port, innerPayload: Array(repeating: 3, count: 980),
                                                  extensionBytes: ext))
        #expect(v == .translated)
        #expect(out.count == 48 + 928 + 300)
        #expect(out[44] == 116)
        #expect(Array(out[(48 + 928)...]) == ext)
        #expect(Parsed(bytes: out).l4ChecksumValid)
        // ICMPv6 → ICMPv4: inner IPv6 600 bytes + a 100-byte extension: 580 + 100 > 548, so the datagram is
        // cut to 448 bytes (112 words), 576 bytes in all.
        var t6 = translator()
        _ = establish(&t6)
        let ext6: [UInt8] = [0x20, 0, 0, 0, 0x00, 0x60, 1, 1] + Array(repeating: 0xEE, count: 92)
        let (v6, out6) = run(&t6, errors6.icmp6Error(type: 3, code: 0, port: 40000, innerPayload: Array(repeating: 4, count: 552),
                                                     extensionBytes: ext6))
        #expect(v6 == .translated)
        #expect(out6.count == 576 && out6[25] == 112)
        #expect(Array(out6[(28 + 448)...]) == ext6)
        #expect(Parsed(bytes: out6).l4ChecksumValid)
    }

    @Test("F14: traffic class copied or zeroed, both directions")
    func test_F14_trafficClass() {
        var copy = translator()
        let id = establish(&copy, l4: .echo(request: true, id: 9, seq: 1, payload: []))
        #expect(Parsed(bytes: run(&copy, buildIPv6(src: client, dst: server6, trafficClass: 0xB8, l4: .udp(src: 40000, dst: 53, payload: []))).1).bytes[1] == 0xB8)
        var zero = translator { $0.stateless.trafficClass = .zero }
        let zid = establish(&zero, l4: .echo(request: true, id: 9, seq: 1, payload: []))
        #expect(Parsed(bytes: run(&zero, buildIPv6(src: client, dst: server6, trafficClass: 0xB8, l4: .udp(src: 40000, dst: 53, payload: []))).1).bytes[1] == 0)
        let back = run(&zero, buildIPv4(src: server4, dst: pool, tos: 0xA0, l4: .echo(request: false, id: zid, seq: 1, payload: []))).1
        #expect(back[0] == 0x60 && back[1] == 0 && Parsed(bytes: back).l4ChecksumValid)
        let backCopy = run(&copy, buildIPv4(src: server4, dst: pool, tos: 0xA0, l4: .echo(request: false, id: id, seq: 1, payload: []))).1
        #expect(backCopy[0] == 0x6A)
    }

    @Test("F14: unfragmented zero-checksum UDP computed (default) or dropped with 3/13; fragmented always 3/13")
    func test_F14_zeroChecksumUDP() {
        var compute = translator()
        let port = establish(&compute)
        let zero = buildIPv4(src: server4, dst: pool, l4: .udp(src: 53, dst: port, payload: [1, 2, 3]), udpZeroChecksum: true)
        let (v, out) = run(&compute, zero)
        #expect(v == .translated && Parsed(bytes: out).l4ChecksumValid && Parsed(bytes: out).u16(46) != 0)
        var drop = translator { $0.stateless.udpZeroChecksum = .drop }
        let dropPort = establish(&drop)
        let (v2, reply) = run(&drop, buildIPv4(src: server4, dst: pool, l4: .udp(src: 53, dst: dropPort, payload: [1]), udpZeroChecksum: true))
        #expect(v2 == .icmpError(.zeroUDPChecksum))
        let r = Parsed(bytes: reply)
        #expect(r.l4[0] == 3 && r.l4[1] == 13 && r.dst4 == server4 && r.l4ChecksumValid)
        let frag = buildIPv4Raw(src: server4, dst: pool, flags: 0x2000, proto: 17,
                                payload: be16(53) + be16(port) + be16(40) + [0, 0] + Array(repeating: 1, count: 24))
        let (v3, reply3) = run(&compute, frag)
        #expect(v3 == .icmpError(.fragmentedZeroChecksum))
        #expect(Parsed(bytes: reply3).l4[0...1] == [3, 13])
    }
}
