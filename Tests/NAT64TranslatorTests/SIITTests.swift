// Conformance section F, rules F1–F4 (and E1, T6.11, T6.13 as they read in `siit` mode): stateless translation
// with RFC 6052 on both sides and RFC 7757 EAM. Packets from the independent builder in PacketTestSupport.
import NAT64Translator
import PacketTestSupport
import Testing

/// An IPv6-only server published to IPv4 clients through an EAM entry (SIIT-DC, RFC 7755).
let eamServer6 = IPv6Address("2001:db8:2::5")!
let eamServer4 = IPv4Address("203.0.113.5")!
/// An IPv4 client, seen from IPv6 under the prefix.
let client4 = IPv4Address("192.0.2.33")!
let client4as6 = prefix.embed(client4)

func siitTranslator(eam: [String] = ["2001:db8:2::/120 203.0.113.0/24"],
                    _ adjust: (inout TranslatorConfiguration) -> Void = { _ in }) -> Translator {
    let entries = eam.map { text -> EAMEntry in
        let parts = text.split(separator: " ")
        return EAMEntry(inside: IPv6Prefix(String(parts[0]))!, outside: IPv4Prefix(String(parts[1]))!)!
    }
    return translator { c in
        c.pool4 = []
        c.state = StateConfiguration(mode: .siit, eam: entries)
        adjust(&c)
    }
}

@Suite struct SIITTests {
    @Test("F1: EAM on one side, the prefix on the other, both directions; ports kept; no state")
    func test_F1_eamAndPrefix() {
        var t = siitTranslator()
        let (v, out) = run(&t, buildIPv6(src: eamServer6, dst: client4as6, l4: .tcp(src: 80, dst: 50000, flags: 0x12, payload: [1, 2, 3])))
        #expect(v == .translated)
        let p = Parsed(bytes: out)
        #expect(p.src4 == eamServer4 && p.dst4 == client4 && p.srcPort == 80 && p.dstPort == 50000)
        #expect(p.l4ChecksumValid && p.ipv4HeaderChecksumValid)
        let (v2, back) = run(&t, buildIPv4(src: client4, dst: eamServer4, l4: .tcp(src: 50000, dst: 80, flags: 0x10, payload: [4])))
        #expect(v2 == .translated)
        let q = Parsed(bytes: back)
        #expect(q.src6 == client4as6 && q.dst6 == eamServer6 && q.srcPort == 50000 && q.dstPort == 80 && q.l4ChecksumValid)
        // An IPv4 packet nobody asked for is translated too: there is no state to consult.
        #expect(run(&t, buildIPv4(src: client4, dst: IPv4Address("203.0.113.77")!, l4: .udp(src: 1, dst: 2, payload: []))).0 == .translated)
        #expect(t.table.count == 0)
        // The prefix on both sides (RFC 7915 §1.3): IPv4-embedded to IPv4-embedded.
        let other = prefix.embed(IPv4Address("198.51.100.77")!)
        #expect(Parsed(bytes: run(&t, buildIPv6(src: other, dst: client4as6, l4: .udp(src: 1, dst: 2, payload: []))).1).src4 == IPv4Address("198.51.100.77")!)
    }

    @Test("F1: EAM entries of any length, longest match first, both sides")
    func test_F1_longestMatchAnyLength() {
        var t = siitTranslator(eam: ["2001:db8:a::a00:0/104 10.0.0.0/8", "2001:db8:b::/120 10.1.2.0/24",
                                     "2001:db8:c::1/128 10.1.2.3/32"])
        let cases: [(String, String)] = [("2001:db8:a::a09:807", "10.9.8.7"), ("2001:db8:b::4", "10.1.2.4"),
                                         ("2001:db8:c::1", "10.1.2.3")]
        for (six, four) in cases {
            let (v, out) = run(&t, buildIPv6(src: IPv6Address(six)!, dst: client4as6, l4: .udp(src: 7, dst: 7, payload: [])))
            #expect(v == .translated && Parsed(bytes: out).src4 == IPv4Address(four)!, "\(six)")
            let back = run(&t, buildIPv4(src: client4, dst: IPv4Address(four)!, l4: .udp(src: 7, dst: 7, payload: []))).1
            #expect(Parsed(bytes: back).dst6 == IPv6Address(six)!, "\(four)")
        }
        let table = EAMTable(t.configuration.state.eam)
        #expect(table.map(IPv4Address("10.1.2.3")!) == IPv6Address("2001:db8:c::1")!)
        #expect(table.map(IPv4Address("11.0.0.1")!) == nil)
    }

    @Test("A4 F1: the compressed EAM trie agrees with a linear longest-match search on random tables")
    func test_F1_trieMatchesLinearSearch() {
        var g = SplitMix64(seed: 10)
        for round in 0..<20 {
            var entries: [EAMEntry] = []
            for _ in 0..<(1 + Int(g.next() % 40)) {
                // Few distinct high bits, so prefixes nest and fork often.
                let length4 = Int(g.next() % 33)
                let v4 = IPv4Address(UInt32(truncatingIfNeeded: g.next()) & 0xC0A8_0FFF)
                let v6 = IPv6Address(high: 0x2001_0db8_0000_0000, low: g.next() & 0x0000_0000_C0A8_0FFF)
                if let e = EAMEntry(inside: IPv6Prefix(v6, length: 96 + length4), outside: IPv4Prefix(v4, length: length4)) {
                    entries.append(e)
                }
            }
            let table = EAMTable(entries)
            for _ in 0..<200 {
                let a4 = IPv4Address(UInt32(truncatingIfNeeded: g.next()) & 0xC0A8_0FFF)
                let a6 = IPv6Address(high: 0x2001_0db8_0000_0000, low: g.next() & 0x0000_0000_C0A8_0FFF)
                var best4: EAMEntry?
                for e in entries where e.outside.contains(a4) && e.outside.length > (best4?.outside.length ?? -1) { best4 = e }
                var best6: EAMEntry?
                for e in entries where e.inside.contains(a6) && e.inside.length > (best6?.inside.length ?? -1) { best6 = e }
                #expect(table.entry(forIPv4: a4) == best4, "round \(round) \(a4)")
                #expect(table.entry(forIPv6: a6) == best6, "round \(round) \(a6)")
            }
        }
        #expect(EAMTable([]).map(IPv4Address("1.2.3.4")!) == nil)
    }

    @Test("F1: an address that maps to nothing is dropped, counted, with the T6.12 / T4.15 error")
    func test_F1_unmapped() {
        var t = siitTranslator()
        // The source has no IPv4 form (neither EAM nor under the prefix): ICMPv6 1/1.
        let (v, reply) = run(&t, buildIPv6(src: client, dst: client4as6, l4: .udp(src: 1, dst: 2, payload: [])))
        #expect(v == .icmpError(.notInPrefix))
        #expect(Parsed(bytes: reply).l4[0...1] == [1, 1])
        // Not under the prefix or an EAM entry: not for the translator.
        #expect(run(&t, buildIPv6(src: eamServer6, dst: IPv6Address("2001:db8:99::1")!, l4: .udp(src: 1, dst: 2, payload: []))).0 == .drop(.notInPrefix))
        // IPv4 destination without an IPv6 form (strict well-known prefix, private address): ICMPv4 3/13.
        var wkp = siitTranslator { $0.prefix = .wellKnown }
        let (v2, r2) = run(&wkp, buildIPv4(src: IPv4Address("8.8.8.8")!, dst: IPv4Address("10.0.0.1")!, l4: .udp(src: 1, dst: 2, payload: [])))
        #expect(v2 == .icmpError(.forbiddenAddress))
        #expect(Parsed(bytes: r2).l4[0...1] == [3, 13])
        #expect(t.counters.drops(.notInPrefix) == 2)
    }

    @Test("F2: every protocol passes: GRE and SCTP copied, UDP and ICMP checksums updated (T6.13 is NAPT only)")
    func test_F2_everyProtocol() {
        var t = siitTranslator()
        for proto: UInt8 in [47, 132, 59] {
            let payload: [UInt8] = proto == 59 ? [] : [0, 0, 8, 0, 0xDE, 0xAD, 0xBE, 0xEF]
            let (v, out) = run(&t, buildIPv6Raw(src: eamServer6, dst: client4as6, upperProto: proto, payload: payload))
            #expect(v == .translated, "\(proto)")
            let p = Parsed(bytes: out)
            #expect(p.proto == proto && p.l4 == payload && p.ipv4HeaderChecksumValid, "\(proto)")
            let (v2, back) = run(&t, buildIPv4Raw(src: client4, dst: eamServer4, proto: proto, payload: payload))
            #expect(v2 == .translated, "\(proto)")
            let q = Parsed(bytes: back)
            #expect(q.proto == proto && q.l4 == payload && q.dst6 == eamServer6, "\(proto)")
        }
        let echo = run(&t, buildIPv4(src: client4, dst: eamServer4, l4: .echo(request: true, id: 77, seq: 3, payload: [1]))).1
        let e = Parsed(bytes: echo)
        #expect(e.l4[0] == 128 && e.u16(44) == 77 && e.l4ChecksumValid)
        let udp = run(&t, buildIPv6(src: eamServer6, dst: client4as6, l4: .udp(src: 53, dst: 3333, payload: [9, 9]))).1
        #expect(Parsed(bytes: udp).l4ChecksumValid && Parsed(bytes: udp).dstPort == 3333)
    }

    @Test("F2: in the stateful modes a static 1:1 host passes any protocol too; a NAPT host gets T6.13")
    func test_F2_oneToOneHostsInStatefulModes() {
        let mapped = IPv4Address("192.0.2.50")!
        var t = translator { $0.state = StateConfiguration(staticMappings: [StaticMapping(inside: client, outside: mapped)]) }
        let gre: [UInt8] = [0, 0, 8, 0, 1, 2, 3, 4]
        let (v, out) = run(&t, buildIPv6Raw(src: client, dst: server6, upperProto: 47, payload: gre))
        #expect(v == .translated && Parsed(bytes: out).src4 == mapped && Parsed(bytes: out).l4 == gre)
        let (v2, back) = run(&t, buildIPv4Raw(src: server4, dst: mapped, proto: 47, payload: gre))
        #expect(v2 == .translated && Parsed(bytes: back).dst6 == client && Parsed(bytes: back).src6 == server6)
        let other = IPv6Address("2001:db8:1::99")!
        #expect(run(&t, buildIPv6Raw(src: other, dst: server6, upperProto: 47, payload: gre)).0 == .icmpError(.unknownL4))
    }

    @Test("F3: ICMP errors are translated from their inner packet alone, both directions, any inner protocol")
    func test_F3_errorsWithoutState() {
        var t = siitTranslator()
        // A router on the IPv4 side reports a packet eamServer → client4.
        let router4 = IPv4Address("198.51.100.254")!
        let inner4 = buildIPv4(src: eamServer4, dst: client4, ttl: 1, l4: .udp(src: 53, dst: 3333, payload: [1, 2, 3, 4]))
        let (v, out) = run(&t, buildIPv4Raw(src: router4, dst: eamServer4, proto: 1, payload: icmp4(type: 11, code: 0, rest: 0, body: inner4)))
        #expect(v == .translated)
        let p = Parsed(bytes: out)
        #expect(p.src6 == prefix.embed(router4) && p.dst6 == eamServer6 && p.l4[0] == 3 && p.l4ChecksumValid)
        let inner = Parsed(bytes: Array(out[48...]))
        #expect(inner.src6 == eamServer6 && inner.dst6 == client4as6 && inner.srcPort == 53 && inner.dstPort == 3333)
        #expect(inner.l4ChecksumValid)
        // A router on the IPv6 side without an IPv4 form reports a GRE packet client4 → eamServer: E1 source.
        let router6 = IPv6Address("2001:db8:1::fe")!
        let inner6 = buildIPv6Raw(src: client4as6, dst: eamServer6, hopLimit: 1, upperProto: 47, payload: [0, 0, 8, 0])
        let (v2, out2) = run(&t, buildIPv6Raw(src: router6, dst: client4as6, upperProto: 58,
                                             payload: icmp6(src: router6, dst: client4as6, type: 3, code: 0, rest: 0, body: inner6)))
        #expect(v2 == .translated)
        let q = Parsed(bytes: out2)
        #expect(q.src4 == gateway4 && q.dst4 == client4 && q.l4[0] == 11 && q.l4ChecksumValid)
        let qi = Parsed(bytes: Array(out2[28...]))
        #expect(qi.src4 == client4 && qi.dst4 == eamServer4 && qi.proto == 47 && qi.ipv4HeaderChecksumValid)
        #expect(t.table.count == 0)
    }

    @Test("E1: in siit mode a router without an IPv4 form is sourced from the RFC 6791 pool")
    func test_E1_rfc6791PoolStateless() {
        var t = siitTranslator { $0.stateless.rfc6791Pool4 = IPv4Prefix("192.0.0.8/32")! }
        let router6 = IPv6Address("2001:db8:1::fe")!
        let inner6 = buildIPv6(src: client4as6, dst: eamServer6, hopLimit: 1, l4: .udp(src: 3333, dst: 53, payload: []))
        let out = run(&t, buildIPv6Raw(src: router6, dst: client4as6, upperProto: 58,
                                       payload: icmp6(src: router6, dst: client4as6, type: 3, code: 0, rest: 0, body: inner6))).1
        #expect(Parsed(bytes: out).src4 == IPv4Address("192.0.0.8")!)
    }

    @Test("F4 F11: EAM hairpinning: an IPv6 host reaches another by its EAM IPv4 form, losing one hop")
    func test_F4_eamHairpin() {
        var t = siitTranslator()
        let other6 = IPv6Address("2001:db8:2::6")!
        let toOther = prefix.embed(IPv4Address("203.0.113.6")!)
        let (v, out) = run(&t, buildIPv6(src: eamServer6, dst: toOther, hopLimit: 30, l4: .udp(src: 1000, dst: 2000, payload: [5])))
        #expect(v == .translated)
        let p = Parsed(bytes: out)
        #expect(p.version == 6 && p.dst6 == other6 && p.src6 == eamServer6 && p.bytes[7] == 29)
        #expect(p.srcPort == 1000 && p.dstPort == 2000 && p.l4ChecksumValid)
        #expect(t.counters.hairpinned == 1)
    }

    @Test("F4: a packet to an EAM entry's own IPv6 address is translated out, not hairpinned (a CLAT's replies)")
    func test_F4_noHairpinForDirectEAM() {
        var t = siitTranslator(eam: ["2001:db8:c::2/128 192.0.0.2/32"])
        let server = prefix.embed(IPv4Address("198.51.100.10")!)
        let (v, out) = run(&t, buildIPv6(src: server, dst: IPv6Address("2001:db8:c::2")!, l4: .tcp(src: 80, dst: 40000, flags: 0x12, payload: [])))
        #expect(v == .translated)
        let p = Parsed(bytes: out)
        #expect(p.version == 4 && p.src4 == IPv4Address("198.51.100.10")! && p.dst4 == IPv4Address("192.0.0.2")!)
        #expect(p.l4ChecksumValid && t.counters.hairpinned == 0)
    }

    @Test("siit: echo requests to the translator's own addresses are answered")
    func test_F1_echoOwnAddresses() {
        var t = siitTranslator()
        let (v, out) = run(&t, buildIPv6(src: eamServer6, dst: gateway6, l4: .echo(request: true, id: 4, seq: 9, payload: [1, 2, 3])))
        #expect(v == .translated)
        let p = Parsed(bytes: out)
        #expect(p.src6 == gateway6 && p.dst6 == eamServer6 && p.l4[0] == 129 && p.u16(44) == 4 && p.l4ChecksumValid)
        let (v2, out2) = run(&t, buildIPv4(src: client4, dst: gateway4, l4: .echo(request: true, id: 5, seq: 1, payload: [7])))
        #expect(v2 == .translated)
        let q = Parsed(bytes: out2)
        #expect(q.version == 4 && q.src4 == gateway4 && q.dst4 == client4 && q.l4[0] == 0 && q.l4ChecksumValid && q.ipv4HeaderChecksumValid)
        #expect(t.counters.echoRepliesSent == 2)
        #expect(run(&t, buildIPv4(src: client4, dst: gateway4, l4: .udp(src: 1, dst: 2, payload: []))).0 == .drop(.localTraffic))
    }

    @Test("T6.11: a stateless translator drops fragmented ICMP (counted); other fragments pass without state")
    func test_T6_11_statelessFragments() {
        var t = siitTranslator()
        let echo = icmp6(src: eamServer6, dst: client4as6, type: 128, code: 0, rest: 0x0042_0001, body: Array(repeating: 1, count: 64))
        let frag = buildIPv6Raw(src: eamServer6, dst: client4as6, chain: [(44, fragmentHeader(offset: 0, more: true, id: 9))],
                                upperProto: 58, payload: Array(echo[0..<32]))
        #expect(run(&t, frag).0 == .drop(.fragmentedICMP))
        let later = buildIPv4Raw(src: client4, dst: eamServer4, id: 0x77, flags: 8, proto: 17, payload: [1, 2, 3, 4, 5, 6, 7, 8])
        let (v, out) = run(&t, later)
        #expect(v == .translated && Parsed(bytes: out).dst6 == eamServer6 && Parsed(bytes: out).u16(42) == 64)
    }
}
