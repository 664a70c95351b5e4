import NAT64Translator
import PacketTestSupport
import Testing

let client = IPv6Address("2001:db8:1::2")!
let server4 = IPv4Address("198.51.100.10")!
let pool = IPv4Address("192.0.2.1")!
let prefix = NAT64Prefix("2001:db8:64::/96")!
let server6 = prefix.embed(server4)

func makeTranslator(maxSessions: Int = 1024, pool4: [IPv4Address] = [pool]) -> Translator {
    Translator(configuration: TranslatorConfiguration(
        prefix: prefix, pool4: pool4, gatewayIPv4: IPv4Address("198.51.100.1")!,
        gatewayIPv6: IPv6Address("2001:db8:1::1")!, maxSessions: maxSessions, seed: 7))
}

/// Runs one packet through the translator and returns the verdict and resulting bytes (packet or reply).
func run(_ t: inout Translator, _ bytes: [UInt8], now: Nanoseconds = 0) -> (Verdict, [UInt8]) {
    var p = PacketBuffer(capacity: 4096)
    var r = PacketBuffer(capacity: 4096)
    p.load(bytes)
    let v = t.translate(&p, reply: &r, now: now)
    switch v {
    case .translated: return (v, p.bytes)
    case .icmpError: return (v, r.bytes)
    case .drop: return (v, [])
    case .translatedFragments(let n): return (v, (0..<n).flatMap { Array(t.fragment(at: $0)) })
    }
}

@Suite struct TranslatorTests {
    @Test("T6.1 T6.2 T6.4: UDP IPv6→IPv4 header, TTL, DF, checksums, mapped source port", arguments: conformanceModes)
    func T6_1_udpOutbound(mode: TranslationMode) throws {
        var t = translator(mode)
        let pkt = buildIPv6(src: client, dst: server6, hopLimit: 64, trafficClass: 0xB8,
                            l4: .udp(src: 40000, dst: 53, payload: Array("hello".utf8)))
        let (v, out) = run(&t, pkt)
        #expect(v == .translated)
        let p = Parsed(bytes: out)
        #expect(p.version == 4)
        #expect(out.count == pkt.count - 20)
        #expect(p.bytes[0] == 0x45)
        #expect(p.bytes[1] == 0xB8)  // TOS = traffic class
        #expect(Int(p.u16(2)) == out.count)
        #expect(p.bytes[8] == 63)  // TTL = hop limit - 1
        #expect(p.u16(6) == 0)  // small packet: DF=0, MF=0, offset 0
        #expect(p.proto == 17)
        #expect(p.src4 == pool)
        #expect(p.dst4 == server4)
        #expect(p.dstPort == 53)
        #expect(p.ipv4HeaderChecksumValid)
        #expect(p.l4ChecksumValid)
        #expect(Array(p.l4[8...]) == Array("hello".utf8))
        #expect(t.counters.translated6to4 == 1)
    }

    @Test("T6.4: DF set above 1260 bytes, identification not constant", arguments: conformanceModes)
    func T6_4_dfAndIdentification(mode: TranslationMode) {
        var t = translator(mode)
        let big = buildIPv6(src: client, dst: server6, l4: .udp(src: 40000, dst: 9, payload: Array(repeating: 7, count: 1300)))
        let (_, out) = run(&t, big)
        #expect(Parsed(bytes: out).u16(6) == 0x4000)
        var ids = Set<UInt16>()
        for _ in 0..<8 {
            let small = buildIPv6(src: client, dst: server6, l4: .udp(src: 40000, dst: 9, payload: [1]))
            ids.insert(Parsed(bytes: run(&t, small).1).u16(4))
        }
        #expect(ids.count > 1)
    }

    @Test("S1 S2: reply finds its way back through the mapping (UDP and TCP), checksums valid")
    func S1_roundTrip() throws {
        for tcp in [false, true] {
            var t = makeTranslator()
            let l4out: L4 = tcp ? .tcp(src: 51000, dst: 80, flags: 0x02, payload: []) : .udp(src: 51000, dst: 80, payload: [1, 2, 3])
            let (_, out) = run(&t, buildIPv6(src: client, dst: server6, l4: l4out))
            let o = Parsed(bytes: out)
            #expect(o.l4ChecksumValid)
            let mappedPort = o.srcPort
            let l4in: L4 = tcp ? .tcp(src: 80, dst: mappedPort, flags: 0x12, payload: Array("page".utf8))
                : .udp(src: 80, dst: mappedPort, payload: [9, 9])
            let (v, back) = run(&t, buildIPv4(src: server4, dst: pool, ttl: 50, tos: 0x10, l4: l4in))
            #expect(v == .translated)
            let b = Parsed(bytes: back)
            #expect(b.version == 6)
            #expect(b.src6 == server6)
            #expect(b.dst6 == client)
            #expect(b.dstPort == 51000)
            #expect(b.srcPort == 80)
            #expect(b.bytes[7] == 49)  // T4.2 hop limit = TTL - 1
            #expect(b.bytes[0] == 0x61 && b.bytes[1] >> 4 == 0)  // T4.1 traffic class = TOS 0x10
            #expect(Int(b.u16(4)) == back.count - 40)
            #expect(b.proto == (tcp ? 6 : 17))
            #expect(b.l4ChecksumValid)
        }
    }

    @Test("T6.6 T4.7: ICMP echo both ways with identifier mapping", arguments: conformanceModes)
    func T6_6_echo(mode: TranslationMode) {
        var t = translator(mode)
        let (v, out) = run(&t, buildIPv6(src: client, dst: server6, l4: .echo(request: true, id: 777, seq: 1, payload: Array(repeating: 0xAB, count: 56))))
        #expect(v == .translated)
        let o = Parsed(bytes: out)
        #expect(o.proto == 1)
        #expect(o.l4[0] == 8 && o.l4[1] == 0)
        #expect(o.l4ChecksumValid)
        let mappedID = o.u16(o.l4Offset + 4)
        let (v2, back) = run(&t, buildIPv4(src: server4, dst: pool, l4: .echo(request: false, id: mappedID, seq: 1, payload: Array(repeating: 0xAB, count: 56))))
        #expect(v2 == .translated)
        let b = Parsed(bytes: back)
        #expect(b.proto == 58)
        #expect(b.l4[0] == 129)
        #expect(b.u16(40 + 4) == 777)
        #expect(b.l4ChecksumValid)
    }

    @Test("T4.14: a corrupted L4 checksum stays corrupted after translation", arguments: conformanceModes)
    func T4_14_noRepair(mode: TranslationMode) {
        var t = translator(mode)
        let (v, out) = run(&t, buildIPv6(src: client, dst: server6, l4: .udp(src: 1234, dst: 53, payload: [1, 2, 3, 4]), corruptChecksum: true))
        #expect(v == .translated)
        #expect(!Parsed(bytes: out).l4ChecksumValid)
    }

    @Test("T4.13: IPv4 UDP with zero checksum gets a computed checksum", arguments: conformanceModes)
    func T4_13_zeroChecksumComputed(mode: TranslationMode) {
        var t = translator(mode)
        let (_, out) = run(&t, buildIPv6(src: client, dst: server6, l4: .udp(src: 5000, dst: 53, payload: [1])))
        let port = Parsed(bytes: out).srcPort
        let (v, back) = run(&t, buildIPv4(src: server4, dst: pool, l4: .udp(src: 53, dst: port, payload: [5, 6, 7]), udpZeroChecksum: true))
        #expect(v == .translated)
        let b = Parsed(bytes: back)
        #expect(b.u16(46) != 0)
        #expect(b.l4ChecksumValid)
    }

    @Test("T6.2: hop limit 1 → ICMPv6 Time Exceeded from the gateway to the source", arguments: conformanceModes)
    func T6_2_hopLimitExpired(mode: TranslationMode) throws {
        var t = translator(mode)
        let pkt = buildIPv6(src: client, dst: server6, hopLimit: 1, l4: .udp(src: 1, dst: 2, payload: [0]))
        let (v, reply) = run(&t, pkt)
        #expect(v == .icmpError(.hopLimitExceeded))
        let r = Parsed(bytes: reply)
        #expect(r.version == 6 && r.proto == 58)
        #expect(r.src6 == IPv6Address("2001:db8:1::1"))
        #expect(r.dst6 == client)
        #expect(r.l4[0] == 3 && r.l4[1] == 0)
        #expect(Array(r.l4[8...]) == pkt)
        #expect(r.l4ChecksumValid)
        #expect(t.counters.drops(.hopLimitExceeded) == 1)
    }

    @Test("T4.2: TTL 1 → ICMPv4 Time Exceeded from the gateway", arguments: conformanceModes)
    func T4_2_ttlExpired(mode: TranslationMode) {
        var t = translator(mode)
        let pkt = buildIPv4(src: server4, dst: pool, ttl: 1, l4: .udp(src: 1, dst: 2, payload: [0]))
        let (v, reply) = run(&t, pkt)
        #expect(v == .icmpError(.hopLimitExceeded))
        let r = Parsed(bytes: reply)
        #expect(r.version == 4 && r.proto == 1)
        #expect(r.src4 == IPv4Address("198.51.100.1"))
        #expect(r.dst4 == server4)
        #expect(r.l4[0] == 11 && r.l4[1] == 0)
        #expect(r.ipv4HeaderChecksumValid && r.l4ChecksumValid)
    }

    @Test("S6: IPv4 packet without a mapping is dropped and counted")
    func S6_noState() {
        var t = makeTranslator()
        let (v, _) = run(&t, buildIPv4(src: server4, dst: pool, l4: .udp(src: 53, dst: 40000, payload: [])))
        #expect(v == .drop(.noState))
        #expect(t.counters.drops(.noState) == 1)
    }

    @Test("Bad input: truncated, non-IP, wrong prefix, bad IPv4 checksum, zero UDP checksum are counted drops", arguments: conformanceModes)
    func badInputDrops(mode: TranslationMode) {
        var t = translator(mode)
        let good6 = buildIPv6(src: client, dst: server6, l4: .udp(src: 1, dst: 2, payload: [1, 2]))
        #expect(run(&t, Array(good6[0..<30])).0 == .drop(.truncated))
        #expect(run(&t, Array(good6[0..<45])).0 == .drop(.truncated))  // payload length claims more
        #expect(run(&t, [0x50, 1, 2, 3]).0 == .drop(.badHeader))
        #expect(run(&t, []).0 == .drop(.truncated))
        let other = buildIPv6(src: client, dst: IPv6Address("2001:db8:99::1")!, l4: .udp(src: 1, dst: 2, payload: []))
        #expect(run(&t, other).0 == .drop(.notInPrefix))
        var bad4 = buildIPv4(src: server4, dst: pool, l4: .udp(src: 1, dst: 2, payload: []))
        bad4[8] ^= 0x01
        #expect(run(&t, bad4).0 == .drop(.badIPv4Checksum))
        #expect(run(&t, buildIPv6(src: client, dst: server6, l4: .udp(src: 1, dst: 2, payload: [1]), udpZeroChecksum: true)).0 == .drop(.zeroUDPChecksum))
        let mld = buildIPv6(src: IPv6Address("fe80::1")!, dst: IPv6Address("ff02::16")!, l4: .echo(request: true, id: 1, seq: 1, payload: []))
        #expect(run(&t, mld).0 == .drop(.localTraffic))
        #expect(t.counters.drops(.truncated) == 3)
    }

    @Test("Fuzz-style: random bytes never crash and always give a verdict", arguments: conformanceModes)
    func randomBytesNeverCrash(mode: TranslationMode) {
        var t = translator(mode)
        var g = SplitMix64(seed: 99)
        for i in 0..<20_000 {
            var bytes = (0..<Int(g.next() % 120)).map { _ in UInt8(truncatingIfNeeded: g.next()) }
            if !bytes.isEmpty { bytes[0] = i % 2 == 0 ? 0x60 | (bytes[0] & 0x0F) : 0x45 }
            _ = run(&t, bytes)
        }
        let dropped = t.counters.drops.reduce(0, +)
        #expect(dropped + t.counters.translated6to4 + t.counters.translated4to6 + t.counters.icmpErrorsSent >= 20_000)
    }

    @Test("S1: the same IPv6 flow keeps its mapping; another source port gets another")
    func S1_endpointIndependentMapping() {
        var t = makeTranslator()
        let a = Parsed(bytes: run(&t, buildIPv6(src: client, dst: server6, l4: .udp(src: 1111, dst: 53, payload: []))).1).srcPort
        let other = prefix.embed(IPv4Address("203.0.113.5")!)
        let b = Parsed(bytes: run(&t, buildIPv6(src: client, dst: other, l4: .udp(src: 1111, dst: 99, payload: []))).1).srcPort
        let c = Parsed(bytes: run(&t, buildIPv6(src: client, dst: server6, l4: .udp(src: 2222, dst: 53, payload: []))).1).srcPort
        #expect(a == b)
        #expect(a != c)
        #expect(a >= 1024 && c >= 1024)
        #expect(t.table.count == 2)
    }

    @Test("S4 S9: mappings expire after the UDP timeout; a full table refuses new flows only")
    func S4_expiryAndLimit() {
        var t = makeTranslator(maxSessions: 2)
        let sec: Nanoseconds = 1_000_000_000
        _ = run(&t, buildIPv6(src: client, dst: server6, l4: .udp(src: 1, dst: 53, payload: [])), now: 0)
        _ = run(&t, buildIPv6(src: client, dst: server6, l4: .udp(src: 2, dst: 53, payload: [])), now: 0)
        #expect(run(&t, buildIPv6(src: client, dst: server6, l4: .udp(src: 3, dst: 53, payload: [])), now: 0).0 == .drop(.sessionLimit))
        // existing flow still works
        #expect(run(&t, buildIPv6(src: client, dst: server6, l4: .udp(src: 1, dst: 53, payload: [])), now: 200 * sec).0 == .translated)
        #expect(t.expire(now: 301 * sec) == 1)  // port 2 idle since 0 → expired; port 1 used at 200 s stays
        #expect(t.table.count == 1)
        #expect(run(&t, buildIPv6(src: client, dst: server6, l4: .udp(src: 3, dst: 53, payload: [])), now: 301 * sec).0 == .translated)
    }
}
