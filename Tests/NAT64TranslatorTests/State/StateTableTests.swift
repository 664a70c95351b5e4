// S1–S3, S6–S10: mapping, filtering, pool4 port ranges and exhaustion, simultaneous open, hairpinning, held
// fragments, limits, and the 1:1 modes with persistence. Expected packets are checked with the independent
// builder/parser in Support/PacketBuilder.swift.
import NAT64Translator
import PacketTestSupport
import Testing

func udpTo(_ dport: UInt16) -> L4 { .udp(src: 53, dst: dport, payload: [1]) }

@Suite struct StateTableTests {
    @Test("S1: endpoint-independent mapping: one IPv6 endpoint keeps one pool4 endpoint towards every peer")
    func S1_eim() {
        var t = stateTranslator()
        var ports = Set<UInt16>()
        for i in 0..<20 {
            let peer = prefix.embed(IPv4Address(203, 0, 113, UInt8(i + 1)))
            let out = run(&t, buildIPv6(src: client, dst: peer, l4: .udp(src: 3000, dst: UInt16(100 + i), payload: [])), now: 0)
            ports.insert(Parsed(bytes: out.1).srcPort)
        }
        #expect(ports.count == 1)
        #expect(t.table.count == 1 && t.table.sessionCount == 20)
        #expect(t.table.bibInside(for: Endpoint4(address: pool, port: ports.first!, proto: 17))
                == Endpoint6(address: client, port: 3000, proto: 17))
    }

    @Test("S1 S2: IPv4 packets never create BIB entries; endpoint-independent filtering admits any peer to a mapping")
    func S2_eif() {
        var t = stateTranslator()
        #expect(run(&t, buildIPv4(src: server4, dst: pool, l4: udpTo(5000))).0 == .drop(.noState))
        #expect(t.table.count == 0)
        let mapped = Parsed(bytes: run(&t, buildIPv6(src: client, dst: server6, l4: .udp(src: 3000, dst: 53, payload: []))).1).srcPort
        let stranger = IPv4Address("203.0.113.200")!
        let (v, out) = run(&t, buildIPv4(src: stranger, dst: pool, l4: .udp(src: 999, dst: mapped, payload: [7])))
        #expect(v == .translated)
        let p = Parsed(bytes: out)
        #expect(p.dst6 == client && p.dstPort == 3000 && p.src6 == prefix.embed(stranger) && p.l4ChecksumValid)
    }

    @Test("S2: address-dependent filtering admits only peers the IPv6 endpoint has sent to (any port)")
    func S2_adf() {
        var t = stateTranslator(state: StateConfiguration(filtering: .addressDependent))
        let mapped = Parsed(bytes: run(&t, buildIPv6(src: client, dst: server6, l4: .udp(src: 3000, dst: 53, payload: []))).1).srcPort
        #expect(run(&t, buildIPv4(src: server4, dst: pool, l4: .udp(src: 4444, dst: mapped, payload: []))).0 == .translated)
        let stranger = IPv4Address("203.0.113.200")!
        #expect(run(&t, buildIPv4(src: stranger, dst: pool, l4: .udp(src: 53, dst: mapped, payload: []))).0 == .drop(.filtered))
        #expect(t.counters.drops(.filtered) == 1)
        #expect(t.table.sessionCount == 2)
    }

    @Test("S3: ports keep their range class, stay inside the configured range, and are randomised")
    func S3_rangeClasses() {
        let state = StateConfiguration(portRanges: [Pool4Entry(address: pool, ports: 500...60000)])
        var t = stateTranslator(state: state)
        var high = Set<UInt16>()
        for i in 0..<64 {
            let p = Parsed(bytes: run(&t, buildIPv6(src: client, dst: server6, l4: .udp(src: UInt16(20000 + i), dst: 53, payload: []))).1).srcPort
            #expect((1024...60000).contains(p))
            high.insert(p)
        }
        #expect(high.count == 64)
        // Not sequential: randomised start per mapping (RFC 6056).
        let sorted = high.sorted()
        #expect(sorted.last! - sorted.first! > 1000)
        for i in 0..<16 {
            let p = Parsed(bytes: run(&t, buildIPv6(src: client, dst: server6, l4: .udp(src: UInt16(100 + i), dst: 53, payload: []))).1).srcPort
            #expect((500...1023).contains(p))
        }
        // ICMP identifiers use their own space.
        let id = Parsed(bytes: run(&t, buildIPv6(src: client, dst: server6, l4: .echo(request: true, id: 1, seq: 1, payload: []))).1)
        #expect((500...60000).contains(id.u16(id.l4Offset + 4)))
    }

    @Test("S3: a well-known port falls back to 1024+ when 1–1023 is full; a high port never gets a well-known one")
    func S3_classFallback() {
        let state = StateConfiguration(portRanges: [Pool4Entry(address: pool, ports: 1020...1030)])
        var t = stateTranslator(state: state)
        var got: [UInt16] = []
        for i in 0..<10 {
            got.append(Parsed(bytes: run(&t, buildIPv6(src: client, dst: server6, l4: .udp(src: UInt16(10 + i), dst: 53, payload: []))).1).srcPort)
        }
        #expect(got.filter { $0 < 1024 }.count == 4)
        #expect(Set(got).count == 10)
        // 7 high ports (1024–1030), 6 used by the overflow of the well-known class: one left for a high port.
        #expect(run(&t, buildIPv6(src: client, dst: server6, l4: .udp(src: 30000, dst: 53, payload: []))).0 == .translated)
        #expect(run(&t, buildIPv6(src: client, dst: server6, l4: .udp(src: 30001, dst: 53, payload: []))).0 == .icmpError(.poolExhausted))
    }

    @Test("S3: exhaustion answers ICMPv6 1/3 to the source, counted; existing flows keep working")
    func S3_exhaustion() {
        let state = StateConfiguration(portRanges: [Pool4Entry(address: pool, ports: 2000...2003)])
        var t = stateTranslator(state: state)
        for i in 0..<4 {
            #expect(run(&t, buildIPv6(src: client, dst: server6, l4: .udp(src: UInt16(3000 + i), dst: 53, payload: []))).0 == .translated)
        }
        let refused = buildIPv6(src: client, dst: server6, l4: .udp(src: 4000, dst: 53, payload: [1, 2, 3]))
        let (v, reply) = run(&t, refused)
        #expect(v == .icmpError(.poolExhausted))
        let r = Parsed(bytes: reply)
        #expect(r.version == 6 && r.proto == 58 && r.dst6 == client && r.src6 == IPv6Address("2001:db8:1::1")!)
        #expect(r.l4[0] == 1 && r.l4[1] == 3)
        #expect(Array(r.l4[8...]) == refused)
        #expect(r.l4ChecksumValid)
        #expect(t.counters.drops(.poolExhausted) == 1 && t.counters.icmpErrorsSent == 1)
        #expect(run(&t, buildIPv6(src: client, dst: server6, l4: .udp(src: 3001, dst: 53, payload: []))).0 == .translated)
    }

    @Test("S3: several pool4 addresses; one host stays on one address (paired), others spread")
    func S3_paired() {
        let addrs = (1...4).map { IPv4Address(192, 0, 2, UInt8($0)) }
        var t = stateTranslator(pool4: addrs)
        var perHost: [IPv4Address] = []
        for h in 0..<32 {
            let host = IPv6Address(high: 0x2001_0db8_0001_0000, low: UInt64(0x100 + h))
            var seen = Set<IPv4Address>()
            for p in 0..<4 {
                seen.insert(Parsed(bytes: run(&t, buildIPv6(src: host, dst: server6, l4: .udp(src: UInt16(5000 + p), dst: 53, payload: []))).1).src4)
            }
            #expect(seen.count == 1)
            perHost.append(seen.first!)
        }
        #expect(Set(perHost).count > 1)
    }

    @Test("S9: total, per-host limits are counted and never disturb existing sessions")
    func S9_limits() {
        var limits = StateLimits()
        limits.sessionsPerHost = 3
        var t = stateTranslator(state: StateConfiguration(limits: limits), maxSessions: 5)
        for i in 0..<3 {
            #expect(run(&t, buildIPv6(src: client, dst: server6, l4: .udp(src: UInt16(100 + i), dst: 53, payload: []))).0 == .translated)
        }
        #expect(run(&t, buildIPv6(src: client, dst: server6, l4: .udp(src: 200, dst: 53, payload: []))).0 == .drop(.hostSessionLimit))
        // Even a new peer on an existing mapping counts against the host.
        #expect(run(&t, buildIPv6(src: client, dst: prefix.embed(IPv4Address("203.0.113.1")!), l4: .udp(src: 100, dst: 53, payload: []))).0
                == .drop(.hostSessionLimit))
        let other = IPv6Address("2001:db8:1::3")!
        #expect(run(&t, buildIPv6(src: other, dst: server6, l4: .udp(src: 1, dst: 53, payload: []))).0 == .translated)
        #expect(run(&t, buildIPv6(src: other, dst: server6, l4: .udp(src: 2, dst: 53, payload: []))).0 == .translated)
        #expect(run(&t, buildIPv6(src: other, dst: server6, l4: .udp(src: 3, dst: 53, payload: []))).0 == .drop(.sessionLimit))
        #expect(t.counters.drops(.hostSessionLimit) == 2 && t.counters.drops(.sessionLimit) == 1)
        for i in 0..<3 {
            #expect(run(&t, buildIPv6(src: client, dst: server6, l4: .udp(src: UInt16(100 + i), dst: 53, payload: []))).0 == .translated)
        }
        #expect(t.table.sessionCount == 5)
    }

    @Test("S6 S9: an IPv4 SYN without a mapping is held 6 s, then answered with ICMPv4 3/3; held SYNs are bounded")
    func S6_heldSYNThenICMP() {
        var limits = StateLimits()
        limits.heldSYNs = 2
        var t = stateTranslator(state: StateConfiguration(limits: limits))
        let syn = buildIPv4(src: server4, dst: pool, l4: .tcp(src: 80, dst: 7000, flags: SYN, payload: []))
        #expect(run(&t, syn, now: 0).0 == .drop(.synHeld))
        #expect(run(&t, syn, now: second).0 == .drop(.synHeld))  // retransmission: not stored twice
        #expect(t.table.heldSYNs.count == 1)
        _ = run(&t, buildIPv4(src: server4, dst: pool, l4: .tcp(src: 81, dst: 7001, flags: SYN, payload: [])), now: 0)
        #expect(run(&t, buildIPv4(src: server4, dst: pool, l4: .tcp(src: 82, dst: 7002, flags: SYN, payload: [])), now: 0).0
                == .drop(.heldPacketLimit))
        var reply = PacketBuffer(capacity: 4096)
        #expect(!t.heldSYNError(now: 6 * second - 1, into: &reply))
        #expect(t.heldSYNError(now: 6 * second, into: &reply))
        let r = Parsed(bytes: reply.bytes)
        #expect(r.version == 4 && r.proto == 1 && r.dst4 == server4 && r.src4 == IPv4Address("198.51.100.1")!)
        #expect(r.l4[0] == 3 && r.l4[1] == 3)
        #expect(Array(r.l4[8...]) == syn)
        #expect(r.ipv4HeaderChecksumValid && r.l4ChecksumValid)
        #expect(t.heldSYNError(now: 6 * second, into: &reply))
        #expect(!t.heldSYNError(now: 7 * second, into: &reply))
    }

    @Test("S6: simultaneous open: the IPv6 SYN for the held connection ends the hold silently")
    func S6_simultaneousOpen() {
        var t = stateTranslator()
        // The IPv6 host first gets a mapping on another peer, learns its pool4 port, and the IPv4 peer's SYN
        // crosses the IPv6 host's SYN to that peer.
        let mapped = Parsed(bytes: tcp6(&t, sport: 6000, dport: 80, flags: SYN, at: 0).1).srcPort
        var limits = StateLimits()
        limits.heldSYNs = 4
        var a = stateTranslator(state: StateConfiguration(filtering: .addressDependent, limits: limits))
        let m = Parsed(bytes: tcp6(&a, sport: 6000, dport: 80, flags: SYN, at: 0).1).srcPort
        let peer = IPv4Address("203.0.113.5")!
        // ADF: the peer is unknown, so its SYN is held, not translated.
        #expect(tcp4(&a, from: peer, sport: 9000, dport: m, flags: SYN, at: second).0 == .drop(.synHeld))
        #expect(a.table.heldSYNs.count == 1)
        #expect(tcp6(&a, sport: 6000, to: prefix.embed(peer), dport: 9000, flags: SYN, at: 2 * second).0 == .translated)
        #expect(a.table.heldSYNs.count == 0)
        var reply = PacketBuffer(capacity: 4096)
        #expect(!a.heldSYNError(now: 10 * second, into: &reply))
        // The peer's SYN retransmission now completes the handshake.
        #expect(tcp4(&a, from: peer, sport: 9000, dport: m, flags: SYN, at: 3 * second).0 == .translated)
        #expect(a.table.bindings.first { $0.remote.address == peer }?.tcpState == .established)
        _ = mapped
    }

    @Test("S6: IPv4 UDP and ICMP without a mapping are dropped and counted (no hold)")
    func S6_udpIcmpDrop() {
        var t = stateTranslator()
        #expect(run(&t, buildIPv4(src: server4, dst: pool, l4: udpTo(9))).0 == .drop(.noState))
        #expect(run(&t, buildIPv4(src: server4, dst: pool, l4: .echo(request: true, id: 4, seq: 1, payload: []))).0 == .drop(.noState))
        #expect(t.counters.drops(.noState) == 2 && t.table.heldSYNs.count == 0)
    }

    @Test("S7: two IPv6 hosts reach each other through prefix::pool4 (hairpinning), both directions")
    func S7_hairpin() {
        var t = stateTranslator()
        let hostB = IPv6Address("2001:db8:1::b")!
        // B talks to the outside first, so it has a mapping (pool:pB) → (B, 5353).
        let pB = Parsed(bytes: run(&t, buildIPv6(src: hostB, dst: server6, l4: .udp(src: 5353, dst: 53, payload: []))).1).srcPort
        // A sends to prefix::192.0.2.1 port pB.
        let toPool = prefix.embed(pool)
        let (v, out) = run(&t, buildIPv6(src: client, dst: toPool, l4: .udp(src: 4000, dst: pB, payload: Array("hi".utf8))))
        #expect(v == .translated)
        let p = Parsed(bytes: out)
        #expect(p.version == 6 && p.dst6 == hostB && p.dstPort == 5353 && p.src6 == toPool)
        #expect(p.l4ChecksumValid && Array(p.l4[8...]) == Array("hi".utf8))
        let pA = p.srcPort
        #expect(pA != 4000 || true)
        // B answers A through A's mapping.
        let (v2, back) = run(&t, buildIPv6(src: hostB, dst: toPool, l4: .udp(src: 5353, dst: pA, payload: [9])))
        #expect(v2 == .translated)
        let q = Parsed(bytes: back)
        #expect(q.dst6 == client && q.dstPort == 4000 && q.src6 == toPool && q.srcPort == pB && q.l4ChecksumValid)
        #expect(t.counters.hairpinned == 2)
    }

    @Test("S7: hairpinned TCP SYN to a pool4 port nobody maps is held like any IPv4 SYN")
    func S7_hairpinNoMapping() {
        var t = stateTranslator()
        #expect(tcp6(&t, to: prefix.embed(pool), dport: 12345, flags: SYN, at: 0).0 == .drop(.synHeld))
    }

    @Test("S8: out-of-order fragments are held by (src, dst, proto, id), released in order, bounded, expire after 2 s")
    func S8_fragmentStore() {
        let store = FragmentStore(capacity: 4, maximumFragmentBytes: 64, perSource: 3, evictsHeaviest: false)
        let a = IPv4Address("203.0.113.1")!, b = IPv4Address("192.0.2.1")!
        let key = FragmentKey(source: a, destination: b, identification: 77, proto: 17)
        let other = FragmentKey(source: a, destination: b, identification: 78, proto: 17)
        func hold(_ bytes: [UInt8], _ k: FragmentKey, _ src: IPv4Address = a, at now: Nanoseconds) -> FragmentStore.HoldResult {
            bytes.withUnsafeBytes { store.hold($0, key: k, source: IPv6Address(high: 0, low: UInt64(src.value)), now: now) }
        }
        #expect(hold([1, 1], key, at: 0) == .held)
        #expect(hold([2, 2, 2], key, at: 0) == .held)
        #expect(hold([3], other, at: second) == .held)
        #expect(hold([4], other, at: second) == .sourceLimit)
        #expect(hold(Array(repeating: 0, count: 65), other, IPv4Address("203.0.113.2")!, at: second) == .tooLarge)
        #expect(hold([5], other, IPv4Address("203.0.113.2")!, at: second) == .held)
        #expect(hold([6], other, IPv4Address("203.0.113.3")!, at: second) == .full)
        var got: [[UInt8]] = []
        #expect(store.release(key) { got.append(Array($0)) } == 2)
        #expect(got == [[1, 1], [2, 2, 2]])
        #expect(store.count == 2)
        #expect(store.expire(now: 3 * second - 1) == 0)
        #expect(store.expire(now: 3 * second) == 2)
        #expect(store.count == 0)
        #expect(store.release(other) { _ in } == 0)
    }

    @Test("S10: dynamic 1:1 pool: one address per host, no port rewriting, LRU reuse, snapshot and restore")
    func S10_dynamicPool() {
        let addrs = [IPv4Address(192, 0, 2, 10), IPv4Address(192, 0, 2, 11)]
        var assigned: [PoolAssignment] = []
        let state = StateConfiguration(mode: .pool)
        var t = stateTranslator(state: state, pool4: addrs, timeouts: SessionTimeouts(udpSeconds: 120))
        let h = (1...3).map { IPv6Address(high: 0x2001_0db8_0001_0000, low: UInt64($0)) }
        let a0 = Parsed(bytes: run(&t, buildIPv6(src: h[0], dst: server6, l4: .udp(src: 4321, dst: 53, payload: [])), now: 0).1)
        #expect(a0.srcPort == 4321)
        let a1 = Parsed(bytes: run(&t, buildIPv6(src: h[1], dst: server6, l4: .udp(src: 999, dst: 53, payload: [])), now: second).1)
        #expect(a1.srcPort == 999 && a1.src4 != a0.src4)
        // Same host, other port: same address.
        #expect(Parsed(bytes: run(&t, buildIPv6(src: h[0], dst: server6, l4: .tcp(src: 22, dst: 80, flags: SYN, payload: [])), now: 2 * second).1).src4 == a0.src4)
        // Inbound to the host's own address, any port: reaches it (1:1).
        let inbound = run(&t, buildIPv4(src: server4, dst: a1.src4, l4: .udp(src: 53, dst: 999, payload: [])), now: 3 * second)
        #expect(inbound.0 == .translated && Parsed(bytes: inbound.1).dst6 == h[1])
        // Pool full while both hosts have sessions.
        #expect(run(&t, buildIPv6(src: h[2], dst: server6, l4: .udp(src: 1, dst: 53, payload: [])), now: 4 * second).0 == .icmpError(.poolExhausted))
        // After h[1]'s sessions expire, its address (least recently used, idle) goes to h[2].
        _ = t.expire(now: 130 * second)
        #expect(t.table.poolAssignments().map(\.inside).contains(h[0]))
        let a2 = Parsed(bytes: run(&t, buildIPv6(src: h[2], dst: server6, l4: .udp(src: 1, dst: 53, payload: [])), now: 131 * second).1)
        #expect(a2.src4 == a1.src4)
        assigned = t.table.poolAssignments()
        #expect(Set(assigned.map(\.inside)) == [h[0], h[2]])
        // Restart: a fresh table restored from the snapshot keeps the same assignment.
        var fresh = stateTranslator(state: state, pool4: addrs)
        #expect(fresh.table.restore(assigned, now: 0) == 2)
        #expect(Parsed(bytes: run(&fresh, buildIPv6(src: h[2], dst: server6, l4: .udp(src: 1, dst: 53, payload: [])), now: second).1).src4 == a1.src4)
        #expect(Parsed(bytes: run(&fresh, buildIPv6(src: h[0], dst: server6, l4: .udp(src: 1, dst: 53, payload: [])), now: second).1).src4 == a0.src4)
    }

    @Test("S10: static map and EAM (RFC 7757): fixed addresses, no port rewriting, reachable from IPv4")
    func S10_staticAndEAM() {
        let mapped4 = IPv4Address(192, 0, 2, 50)
        let staticHost = IPv6Address("2001:db8:1::50")!
        let eam = EAMEntry(inside: IPv6Prefix("2001:db8:2::/120")!, outside: IPv4Prefix("203.0.113.0/24")!)!
        let state = StateConfiguration(staticMappings: [StaticMapping(inside: staticHost, outside: mapped4)], eam: [eam])
        var t = stateTranslator(state: state)
        let s = Parsed(bytes: run(&t, buildIPv6(src: staticHost, dst: server6, l4: .udp(src: 1234, dst: 53, payload: []))).1)
        #expect(s.src4 == mapped4 && s.srcPort == 1234)
        let eamHost = IPv6Address("2001:db8:2::7")!
        let e = Parsed(bytes: run(&t, buildIPv6(src: eamHost, dst: server6, l4: .udp(src: 777, dst: 53, payload: []))).1)
        #expect(e.src4 == IPv4Address(203, 0, 113, 7) && e.srcPort == 777)
        // Unmapped hosts still use NAPT on pool4.
        #expect(Parsed(bytes: run(&t, buildIPv6(src: client, dst: server6, l4: .udp(src: 1, dst: 53, payload: []))).1).src4 == pool)
        // IPv4-initiated: a SYN to the static address reaches the host without any prior IPv6 traffic.
        let syn = tcp4(&t, dport: 22, flags: SYN, at: 0)
        #expect(syn.0 == .drop(.synHeld))  // pool4 NAPT port 22 has no mapping
        let toStatic = run(&t, buildIPv4(src: server4, dst: mapped4, l4: .tcp(src: 5555, dst: 22, flags: SYN, payload: [])))
        #expect(toStatic.0 == .translated && Parsed(bytes: toStatic.1).dst6 == staticHost && Parsed(bytes: toStatic.1).dstPort == 22)
        let toEAM = run(&t, buildIPv4(src: server4, dst: IPv4Address(203, 0, 113, 9), l4: .udp(src: 5, dst: 6, payload: [])))
        #expect(toEAM.0 == .translated && Parsed(bytes: toEAM.1).dst6 == IPv6Address("2001:db8:2::9")!)
        #expect(EAMEntry(inside: IPv6Prefix("2001:db8:2::/112")!, outside: IPv4Prefix("198.51.100.0/24")!) == nil)
    }

    @Test("S1 S4: the flat table agrees with a dictionary model under random create/expire churn")
    func S1_modelCheck() {
        let table = BindingTable(pool: [pool, IPv4Address(192, 0, 2, 2)], capacity: 512,
                                 timeouts: SessionTimeouts(udpSeconds: 120), seed: 3)
        var model: [Endpoint6: Endpoint4] = [:]
        var lastUse: [Endpoint6: Nanoseconds] = [:]
        var g = SplitMix64(seed: 42)
        var now: Nanoseconds = 0
        for _ in 0..<20_000 {
            now += Nanoseconds(g.next() % 200_000_000)
            let host = IPv6Address(high: 0x2001_0db8, low: g.next() % 40)
            let port = UInt16(1024 + g.next() % 20)
            let key = Endpoint6(address: host, port: port, proto: 17)
            if let last = lastUse[key], now - last >= 120 * second {
                model[key] = nil
            }
            switch table.outbound(source: host, port: port, remote: server4, remotePort: 53, proto: 17, flags: [], now: now) {
            case .mapped(let e):
                if let old = model[key] { #expect(old == e) }
                model[key] = e
                lastUse[key] = now
            case .refused(let r):
                #expect(r == .sessionLimit)
            }
            if g.next() % 16 == 0 { table.expire(now: now, budget: 64) }
        }
        table.expire(now: now)
        // Every live model entry is found in both directions, and the table holds nothing the model lacks.
        let live = model.filter { now - lastUse[$0.key]! < 120 * second }
        for (k, v) in live {
            #expect(table.bibOutside(for: k) == v)
            #expect(table.bibInside(for: v) == k)
        }
        #expect(table.count == live.count)
        #expect(Set(live.values).count == live.count)
    }

    /// S9 under attack: a burst of spoofed SYNs fills the table with half-open sessions; a new flow then takes
    /// the place of the half-open session nearest its deadline (early drop) instead of failing for the 4-minute
    /// transitory lifetime, and established or UDP sessions are never evicted for it.
    @Test("S9: a full table of half-open sessions makes room for a new flow; established ones stay")
    func S9_earlyDropOfTransitorySessions() {
        var t = stateTranslator(maxSessions: 6)
        // A UDP session and an established TCP session of a real client.
        #expect(run(&t, buildIPv6(src: client, dst: server6, l4: .udp(src: 500, dst: 53, payload: [])), now: 0).0 == .translated)
        let (_, syn) = run(&t, buildIPv6(src: client, dst: server6, l4: .tcp(src: 600, dst: 80, flags: 0x02, payload: [])), now: 0)
        let port = Parsed(bytes: syn).srcPort
        #expect(run(&t, buildIPv4(src: server4, dst: pool, l4: .tcp(src: 80, dst: port, flags: 0x12, payload: [])), now: 0).0 == .translated)
        // Four spoofed sources, one SYN each, a second apart: the table is full of half-open sessions.
        for i in 0..<4 {
            let spoofed = IPv6Address("2001:db8:66::\(i + 1)")!
            #expect(run(&t, buildIPv6(src: spoofed, dst: server6, l4: .tcp(src: 1000, dst: 80, flags: 0x02, payload: [])),
                        now: Nanoseconds(i + 1) * 1_000_000_000).0 == .translated)
        }
        #expect(t.table.sessionCount == 6)
        // A new flow of the real client gets in at once, evicting the oldest half-open session (the first spoofed).
        let other = IPv6Address("2001:db8:1::7")!
        #expect(run(&t, buildIPv6(src: other, dst: server6, l4: .udp(src: 7, dst: 53, payload: [])), now: 10_000_000_000).0 == .translated)
        #expect(t.table.transitoryEvictions == 1 && t.table.sessionCount == 6)
        let remaining = Set(t.table.bindings.map(\.inside.address))
        #expect(!remaining.contains(IPv6Address("2001:db8:66::1")!) && remaining.contains(IPv6Address("2001:db8:66::2")!))
        #expect(remaining.contains(client), "the UDP and established sessions stay")
        #expect(t.table.bindings.contains { $0.tcpState == .established })
        // With no transitory session left, a full table refuses as before (counted).
        var u = stateTranslator(maxSessions: 2)
        for p in UInt16(1)...2 {
            #expect(run(&u, buildIPv6(src: client, dst: server6, l4: .udp(src: p, dst: 53, payload: [])), now: 0).0 == .translated)
        }
        #expect(run(&u, buildIPv6(src: client, dst: server6, l4: .tcp(src: 9, dst: 80, flags: 0x02, payload: [])), now: 0).0
                == .drop(.sessionLimit))
        #expect(u.table.transitoryEvictions == 0)
    }

    /// Opens one connection per source port: SYN out, SYN-ACK back (established).
    func establish(_ t: inout Translator, sourcePorts: ClosedRange<UInt16>) {
        for sport in sourcePorts {
            let (_, syn) = run(&t, buildIPv6(src: client, dst: server6, l4: .tcp(src: sport, dst: 80, flags: 0x02, payload: [])))
            _ = run(&t, buildIPv4(src: server4, dst: pool, l4: .tcp(src: 80, dst: Parsed(bytes: syn).srcPort, flags: 0x12, payload: [])))
        }
    }

    /// Opens one connection per source port and closes it from both sides (both FINs seen: TCP_TRANS).
    func openAndClose(_ t: inout Translator, sourcePorts: ClosedRange<UInt16>) {
        for sport in sourcePorts {
            let (_, syn) = run(&t, buildIPv6(src: client, dst: server6, l4: .tcp(src: sport, dst: 80, flags: 0x02, payload: [])))
            let p = Parsed(bytes: syn).srcPort
            _ = run(&t, buildIPv4(src: server4, dst: pool, l4: .tcp(src: 80, dst: p, flags: 0x12, payload: [])))
            _ = run(&t, buildIPv6(src: client, dst: server6, l4: .tcp(src: sport, dst: 80, flags: 0x11, payload: [])))
            _ = run(&t, buildIPv4(src: server4, dst: pool, l4: .tcp(src: 80, dst: p, flags: 0x11, payload: [])))
        }
    }

    /// A translator whose hosts may hold at most `ports` pool4 ports (S11).
    func portCapped(_ ports: Int) -> Translator {
        var limits = StateLimits()
        limits.portsPerHost = ports
        return stateTranslator(state: StateConfiguration(limits: limits), maxSessions: 64)
    }

    /// S11 with S9's remedy: a host at its pool4 port cap makes room among its own closed connections, whose
    /// ports TCP_TRANS would otherwise hold for 4 minutes (a client opening short connections one after the
    /// other got `portsPerHost` connections per 4 minutes). Established connections keep their ports.
    @Test("S11: a host at its port cap makes room among its own closing sessions, never its established ones")
    func S11_portCapEvictsOwnClosingSessions() {
        var t = portCapped(2)
        openAndClose(&t, sourcePorts: 700...701)
        for sport in UInt16(702)...705 {  // each new connection takes the port of a closed one
            #expect(run(&t, buildIPv6(src: client, dst: server6, l4: .tcp(src: sport, dst: 80, flags: 0x02, payload: []))).0 == .translated)
        }
        #expect(t.table.transitoryEvictions == 4 && t.table.sessionCount == 2)
        #expect(t.table.sessionEvictions[.openTCP] == 2, "704 and 705 found only 702 and 703, half-open")
        #expect(t.counters.drops(.hostPortLimit) == 0)
        // Two established connections hold both ports: the third is refused.
        var u = portCapped(2)
        establish(&u, sourcePorts: 800...801)
        #expect(run(&u, buildIPv6(src: client, dst: server6, l4: .tcp(src: 802, dst: 80, flags: 0x02, payload: []))).0
                == .drop(.hostPortLimit), "established sessions are never evicted")
        #expect(u.table.transitoryEvictions == 0)
    }

    /// S9 S11: early drop takes a finished connection before a half-open one, even when the half-open one comes
    /// first in the wheel: taking it cut a handshake in progress (its SYN-ACK met no state and the client
    /// waited a second to send its SYN again).
    @Test("S9 S11: early drop takes a closed session before a handshake in progress")
    func S11_evictsClosedBeforeHalfOpen() {
        var t = portCapped(2)
        openAndClose(&t, sourcePorts: 700...700)
        let (_, syn) = run(&t, buildIPv6(src: client, dst: server6, l4: .tcp(src: 701, dst: 80, flags: 0x02, payload: [])))
        let inFlight = Parsed(bytes: syn).srcPort
        #expect(run(&t, buildIPv6(src: client, dst: server6, l4: .tcp(src: 702, dst: 80, flags: 0x02, payload: []))).0 == .translated)
        #expect(t.table.transitoryEvictions == 1 && t.table.sessionEvictions[.openTCP] == 0)
        #expect(t.table.bindings.filter { $0.tcpState == .v4FinV6FinReceived }.isEmpty, "the closed one went")
        let (v, synAck) = run(&t, buildIPv4(src: server4, dst: pool, l4: .tcp(src: 80, dst: inFlight, flags: 0x12, payload: [])))
        #expect(v == .translated, "the handshake in progress completes")
        #expect(Parsed(bytes: synAck).dstPort == 701)
        #expect(t.counters.drops(.noState) == 0)
    }

    /// S9 S11: among finished connections early drop takes the one that finished first: the newest may still
    /// have its last ACK on the way.
    @Test("S9 S11: early drop takes the oldest closed session first")
    func S11_evictsOldestClosedFirst() {
        var t = portCapped(2)
        openAndClose(&t, sourcePorts: 700...701)
        #expect(run(&t, buildIPv6(src: client, dst: server6, l4: .tcp(src: 702, dst: 80, flags: 0x02, payload: []))).0 == .translated)
        #expect(Set(t.table.bindings.map(\.inside.port)) == [701, 702])
    }

    /// S9: a host at its session limit makes room among its own closed connections (both FINs seen, living out
    /// TCP_TRANS): one busy client opening short connections is not locked out by them for 4 minutes. A host
    /// whose sessions are all established is still refused.
    @Test("S9: a host at its limit makes room among its own closing sessions, never its established ones")
    func S9_hostLimitEvictsOwnClosingSessions() {
        var limits = StateLimits()
        limits.sessionsPerHost = 2
        var t = stateTranslator(state: StateConfiguration(limits: limits), maxSessions: 64)
        openAndClose(&t, sourcePorts: 700...701)
        #expect(t.table.bindings.allSatisfy { $0.tcpState == .v4FinV6FinReceived })
        #expect(run(&t, buildIPv6(src: client, dst: server6, l4: .tcp(src: 702, dst: 80, flags: 0x02, payload: []))).0 == .translated)
        #expect(t.table.transitoryEvictions == 1 && t.table.sessionCount == 2)
        // Now one closing and one half-open session; make the new one established and fill up with another.
        var u = stateTranslator(state: StateConfiguration(limits: limits), maxSessions: 64)
        establish(&u, sourcePorts: 800...801)
        #expect(run(&u, buildIPv6(src: client, dst: server6, l4: .tcp(src: 802, dst: 80, flags: 0x02, payload: []))).0
                == .drop(.hostSessionLimit), "established sessions are never evicted")
        #expect(u.table.transitoryEvictions == 0)
    }
}
