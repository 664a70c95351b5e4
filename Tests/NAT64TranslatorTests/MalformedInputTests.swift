// Conformance section F, rules F15–F18: malformed packets are dropped and counted under their own reason in
// both directions, before any state is made. Packets come from the independent builder in PacketTestSupport,
// then have one field broken.
import NAT64Translator
import PacketTestSupport
import Testing

/// `bytes` with the 16-bit field at `offset` set to `value`.
func patched16(_ bytes: [UInt8], _ offset: Int, _ value: UInt16) -> [UInt8] {
    var b = bytes
    b[offset] = UInt8(value >> 8)
    b[offset + 1] = UInt8(value & 0xFF)
    return b
}

@Suite struct MalformedInputTests {
    @Test("F15: UDP whose Length field disagrees with the packet is dropped both ways; first fragments and super-packets by range",
          arguments: conformanceModes)
    func test_F15_udpLengthMismatch(mode: TranslationMode) {
        var t = translator(mode)
        let port = establish(&t)
        let out = buildIPv6(src: client, dst: server6, l4: .udp(src: 40000, dst: 53, payload: Array(repeating: 7, count: 32)))
        // Real length 40: a field of 44, 39 or 7 is a lie.
        for lie: UInt16 in [44, 39, 7, 0xFFFF] {
            #expect(run(&t, patched16(out, 40 + 4, lie)).0 == .drop(.udpLengthMismatch))
        }
        #expect(run(&t, out).0 == .translated)
        let back = buildIPv4(src: server4, dst: pool, l4: .udp(src: 53, dst: port, payload: Array(repeating: 9, count: 32)))
        for lie: UInt16 in [41, 8, 3] {
            #expect(run(&t, patched16(back, 20 + 4, lie)).0 == .drop(.udpLengthMismatch))
        }
        #expect(run(&t, back).0 == .translated)
        #expect(t.counters.drops(.udpLengthMismatch) == 7)

        // A first fragment holds part of the datagram: a Length at least its size is fine, a smaller one is not.
        let udp = Array(buildIPv6(src: client, dst: server6, l4: .udp(src: 40000, dst: 53, payload: Array(repeating: 1, count: 64)))[40...])
        let whole = patched16(udp, 4, 200)
        let first = buildIPv6Raw(src: client, dst: server6, chain: [(44, fragmentHeader(offset: 0, more: true, id: 9))],
                                 upperProto: 17, payload: whole)
        #expect(run(&t, first).0 == .translated)
        let short = buildIPv6Raw(src: client, dst: server6, chain: [(44, fragmentHeader(offset: 0, more: true, id: 10))],
                                 upperProto: 17, payload: patched16(udp, 4, 40))
        #expect(run(&t, short).0 == .drop(.udpLengthMismatch))
    }

    @Test("F15 with UDP GSO: a super-packet whose Length is one segment's passes; one longer than the packet does not")
    func test_F15_udpSuperPacket() {
        var t = makeTranslator()
        let full = buildIPv6(src: client, dst: server6, l4: .udp(src: 7000, dst: 5201, payload: Array(repeating: 0x5A, count: 14_000)))
        for (field, expected) in [(UInt16(1408), Verdict.translated), (14_008, .translated), (14_009, .drop(.udpLengthMismatch))] {
            var p = PacketBuffer(capacity: 32768)
            var r = PacketBuffer(capacity: 4096)
            p.load(patched16(full, 40 + 4, field),
                   offload: OffloadInfo(segmentation: .udpL4, segmentSize: 1400, headerLength: 48))
            #expect(t.translate(&p, reply: &r, now: 0) == expected)
        }
    }

    @Test("F16: TCP with Data Offset < 5, or a header longer than the packet, is dropped both ways", arguments: conformanceModes)
    func test_F16_tcpDataOffset(mode: TranslationMode) {
        var t = translator(mode)
        let syn = buildIPv6(src: client, dst: server6, l4: .tcp(src: 40000, dst: 80, flags: 0x02, payload: []))
        for doff: UInt8 in [0, 4, 6, 15] {
            var bad = syn
            bad[40 + 12] = doff << 4
            #expect(run(&t, bad).0 == .drop(.tcpDataOffset))
        }
        let (v, out) = run(&t, syn)
        #expect(v == .translated)
        let port = Parsed(bytes: out).srcPort
        var synAck = buildIPv4(src: server4, dst: pool, l4: .tcp(src: 80, dst: port, flags: 0x12, payload: []))
        synAck[20 + 12] = 4 << 4
        #expect(run(&t, synAck).0 == .drop(.tcpDataOffset))
        synAck[20 + 12] = 5 << 4
        #expect(run(&t, synAck).0 == .translated)
        #expect(t.counters.drops(.tcpDataOffset) == 5)
    }

    @Test("F17: fragments that end past 65,535 bytes are dropped (IPv6 Payload Length, IPv4 Total Length)",
          arguments: conformanceModes)
    func test_F17_fragmentPast65535(mode: TranslationMode) {
        var t = translator(mode)
        let port = establish(&t)
        let data = Array(repeating: UInt8(3), count: 16)
        let past = buildIPv6Raw(src: client, dst: server6, chain: [(44, fragmentHeader(offset: 65528, more: false, id: 5))],
                                upperProto: 17, payload: data)
        #expect(run(&t, past).0 == .drop(.fragmentTooFar))
        // 65512 + 16 = 65528: within the limit, so not this drop.
        let last = buildIPv6Raw(src: client, dst: server6, chain: [(44, fragmentHeader(offset: 65512, more: false, id: 5))],
                                upperProto: 17, payload: data)
        #expect(run(&t, last).0 != .drop(.fragmentTooFar))
        // IPv4: offset 8191 × 8 = 65528, plus 20 header bytes and 100 data bytes.
        let v4past = buildIPv4Raw(src: server4, dst: pool, flags: 8191, proto: 17, payload: Array(repeating: 1, count: 100))
        #expect(run(&t, v4past).0 == .drop(.fragmentTooFar))
        let v4first = buildIPv4Raw(src: server4, dst: pool, flags: IPv4Field.moreFragments, proto: 17,
                                   payload: patched16(Array(buildIPv4(src: server4, dst: pool, l4: .udp(src: 53, dst: port, payload: data))[20...]), 4, 1000))
        #expect(run(&t, v4first).0 == .translated)
        let v4last = buildIPv4Raw(src: server4, dst: pool, flags: 8000, proto: 17, payload: Array(repeating: 1, count: 100))
        #expect(run(&t, v4last).0 != .drop(.fragmentTooFar))
        #expect(t.counters.drops(.fragmentTooFar) == 2)
    }

    @Test("F18: an IPv4-mapped (::ffff:0:0/96) source or destination is dropped without an ICMP error",
          arguments: conformanceModes)
    func test_F18_ipv4MappedAddress(mode: TranslationMode) {
        var t = translator(mode)
        let mapped = IPv6Address("::ffff:192.0.2.99")!
        let fromMapped = buildIPv6(src: mapped, dst: server6, l4: .udp(src: 1, dst: 53, payload: [1]))
        #expect(run(&t, fromMapped).0 == .drop(.mappedAddress))
        let ping = buildIPv6(src: mapped, dst: server6, l4: .echo(request: true, id: 1, seq: 1, payload: [1]))
        #expect(run(&t, ping).0 == .drop(.mappedAddress))
        let toMapped = buildIPv6(src: client, dst: IPv6Address("::ffff:198.51.100.10")!, l4: .udp(src: 1, dst: 53, payload: [1]))
        #expect(run(&t, toMapped).0 == .drop(.mappedAddress))
        #expect(t.counters.drops(.mappedAddress) == 3)
        #expect(t.counters.icmpErrorsSent == 0)
        #expect(t.table.sessionCount == 0)
    }

    /// A fuzz find (Fuzz/Regressions/translator/siit-icmpv4-in-ipv6): in siit mode an IPv6 packet with Next Header
    /// 1 passed as "another protocol" (F2) and came back from IPv4 as ICMPv6, failing the round-trip oracle.
    @Test("F19: ICMPv4 carried in IPv6, or ICMPv6 in IPv4, is dropped and counted, in every mode", arguments: conformanceModes)
    func test_F19_icmpOfTheOtherFamily(mode: TranslationMode) {
        var t = translator(mode)
        let echo4 = icmp4(type: 8, code: 0, rest: 0x0001_0001, body: [1, 2, 3, 4])
        #expect(run(&t, buildIPv6Raw(src: client, dst: server6, upperProto: 1, payload: echo4)).0 == .drop(.wrongFamilyICMP))
        let later = buildIPv6Raw(src: client, dst: server6, chain: [(44, fragmentHeader(offset: 8, more: false, id: 3))],
                                 upperProto: 1, payload: echo4)
        #expect(run(&t, later).0 == .drop(.wrongFamilyICMP))
        let echo6 = icmp6(src: server6, dst: client, type: 128, code: 0, rest: 0x0001_0001, body: [1, 2, 3, 4])
        #expect(run(&t, buildIPv4Raw(src: server4, dst: pool, proto: 58, payload: echo6)).0 == .drop(.wrongFamilyICMP))
        #expect(t.counters.drops(.wrongFamilyICMP) == 3 && t.counters.icmpErrorsSent == 0)
        // Other protocols still pass where translation is 1:1 (F2).
        if mode == .siit {
            #expect(run(&t, buildIPv6Raw(src: client, dst: server6, upperProto: 47, payload: [0, 0, 8, 0])).0 == .translated)
        }
    }
}
