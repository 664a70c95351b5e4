// S11: pool4 port early drop (idle UDP/ICMP sessions give up their port to a new flow when an address's ports
// are exhausted) and the per-host port cap. Time is injected; packets come from PacketTestSupport.
import NAT64Translator
import PacketTestSupport
import Testing

/// The IPv6 host number `n` under 2001:db8:1::/64.
func hostNumber(_ n: Int) -> IPv6Address { IPv6Address(high: 0x2001_0db8_0001_0000, low: UInt64(0x1000 + n)) }

@Suite struct EarlyDropTests {
    let fourPorts = StateConfiguration(portRanges: [Pool4Entry(address: pool, ports: 2000...2003)])

    func udp(_ t: inout Translator, from host: IPv6Address, port: UInt16 = 5000, at now: Nanoseconds) -> (Verdict, Parsed) {
        let (v, out) = run(&t, buildIPv6(src: host, dst: server6, l4: .udp(src: port, dst: 53, payload: [1])), now: now)
        return (v, Parsed(bytes: out))
    }

    @Test("S11: with every port taken, a new UDP flow takes the port of the longest-idle UDP session past the minimum age")
    func S11_idleUDPGivesUpPort() {
        var t = stateTranslator(state: fourPorts)
        var ports: [UInt16] = []
        for i in 0..<4 { ports.append(udp(&t, from: hostNumber(i), at: 0).1.srcPort) }
        #expect(Set(ports).count == 4)
        // Idle for 0.2 s only: below even the unanswered minimum, so the pool is exhausted (S3 answer).
        #expect(udp(&t, from: hostNumber(9), at: 200_000_000).0 == .icmpError(.poolExhausted))
        #expect(t.table.sessionEvictions[.idleUDP] == 0)
        // Host 0 is answered and stays active; hosts 1–3 go idle. At 3 s the newcomer takes the port of one of 1–3.
        _ = run(&t, buildIPv4(src: server4, dst: pool, l4: .udp(src: 53, dst: ports[0], payload: [2])), now: 2_500_000_000)
        let (v, out) = udp(&t, from: hostNumber(9), at: 3 * second)
        #expect(v == .translated)
        #expect(ports[1...].contains(out.srcPort))
        #expect(t.table.sessionEvictions[.idleUDP] == 1)
        #expect(t.table.sessionCount == 4)
        #expect(t.table.bibOutside(for: Endpoint6(address: hostNumber(0), port: 5000, proto: 17))?.port == ports[0])
        // Replies reach the newcomer, not the evicted host.
        let reply = run(&t, buildIPv4(src: server4, dst: pool, l4: .udp(src: 53, dst: out.srcPort, payload: [2])), now: 3 * second)
        #expect(reply.0 == .translated && Parsed(bytes: reply.1).dst6 == hostNumber(9))
    }

    @Test("S11: ICMP identifiers are reclaimed the same way; TCP ports never are")
    func S11_icmpAndNotTCP() {
        var t = stateTranslator(state: StateConfiguration(portRanges: [Pool4Entry(address: pool, ports: 2000...2001)]))
        for i in 0..<2 {
            let ping = buildIPv6(src: hostNumber(i), dst: server6, l4: .echo(request: true, id: 7, seq: 1, payload: []))
            #expect(run(&t, ping, now: 0).0 == .translated)
        }
        let late = buildIPv6(src: hostNumber(5), dst: server6, l4: .echo(request: true, id: 7, seq: 1, payload: []))
        #expect(run(&t, late, now: 5 * second).0 == .translated)
        #expect(t.table.sessionEvictions[.idleICMP] == 1)
        for i in 0..<2 {
            #expect(tcp6(&t, from: hostNumber(i), sport: 6000, flags: SYN, at: 0).0 == .translated)
        }
        #expect(tcp6(&t, from: hostNumber(5), sport: 6000, flags: SYN, at: 100 * second).0 == .icmpError(.poolExhausted))
        #expect(t.table.sessionEvictions[.idleUDP] == 0)
    }

    @Test("S11: a host's own idle session makes room for its new flow while it keeps another session")
    func S11_ownIdleSession() {
        var t = stateTranslator(state: fourPorts)
        for p in 0..<4 { #expect(udp(&t, from: client, port: UInt16(7000 + p), at: 0).0 == .translated) }
        #expect(udp(&t, from: client, port: 8000, at: 10 * second).0 == .translated)
        #expect(t.table.sessionEvictions[.idleUDP] == 1 && t.table.sessionCount == 4)
    }

    @Test("S11: the per-host port cap refuses a host's next pool4 port, counted; other hosts and existing mappings go on")
    func S11_portsPerHost() {
        var limits = StateLimits()
        limits.portsPerHost = 3
        var t = stateTranslator(state: StateConfiguration(limits: limits))
        for p in 0..<3 { #expect(udp(&t, from: client, port: UInt16(7000 + p), at: 0).0 == .translated) }
        #expect(udp(&t, from: client, port: 7003, at: 0).0 == .drop(.hostPortLimit))
        let ping = buildIPv6(src: client, dst: server6, l4: .echo(request: true, id: 1, seq: 1, payload: []))
        #expect(run(&t, ping, now: 0).0 == .drop(.hostPortLimit))
        // A new peer on an existing mapping needs no new port.
        let other = prefix.embed(IPv4Address("203.0.113.7")!)
        #expect(run(&t, buildIPv6(src: client, dst: other, l4: .udp(src: 7000, dst: 53, payload: [])), now: 0).0 == .translated)
        #expect(udp(&t, from: hostNumber(1), at: 0).0 == .translated)
        #expect(t.counters.drops(.hostPortLimit) == 2)
        // A reload lowers or raises the cap for the running table.
        t.table.reconfigure(timeouts: t.table.timeouts, sessionsPerHost: 4096, portsPerHost: 4)
        #expect(udp(&t, from: client, port: 7003, at: 0).0 == .translated)
        // Ports come back when mappings expire.
        _ = t.expire(now: 400 * second)
        #expect(udp(&t, from: client, port: 7100, at: 401 * second).0 == .translated)
    }
}

@Suite struct ResetTests {
    @Test("reset: a translator reset after traffic translates the same packets exactly as a new one")
    func resetIsLikeNew() {
        func traffic(_ t: inout Translator) -> [[UInt8]] {
            var out: [[UInt8]] = []
            for i in 0..<20 {
                let p = buildIPv6(src: hostNumber(i % 3), dst: server6, l4: .udp(src: UInt16(4000 + i), dst: 53, payload: [UInt8(i)]))
                out.append(run(&t, p, now: Nanoseconds(i) * second).1)
            }
            out.append(run(&t, buildIPv6(src: client, dst: server6, hopLimit: 1, l4: .udp(src: 1, dst: 2, payload: [])), now: 0).1)
            return out
        }
        var fresh = stateTranslator()
        let expected = traffic(&fresh)
        var reused = stateTranslator()
        _ = traffic(&reused)
        _ = run(&reused, fragmentedIPv4First(), now: 0)
        reused.reset()
        #expect(reused.table.sessionCount == 0 && reused.table.count == 0 && reused.table.hostCount == 0)
        #expect(reused.counters == TranslatorCounters())
        #expect(traffic(&reused) == expected)
        #expect(reused.counters == fresh.counters)
    }

    /// The second fragment of an IPv4 datagram whose first never came (held, S8).
    func fragmentedIPv4First() -> [UInt8] {
        buildIPv4Raw(src: server4, dst: pool, flags: 100, proto: 17, payload: Array(repeating: 1, count: 64))
    }
}

@Suite struct UnrepliedEvictionTests {
    @Test("S11: a session never answered from the IPv4 side gives up its port after 0.25 s; an answered one after 1 s")
    func S11_unrepliedFirst() {
        var t = stateTranslator(state: StateConfiguration(portRanges: [Pool4Entry(address: pool, ports: 2000...2001)]))
        let answered = Parsed(bytes: run(&t, buildIPv6(src: hostNumber(0), dst: server6, l4: .udp(src: 5000, dst: 53, payload: [1])), now: 0).1).srcPort
        #expect(run(&t, buildIPv4(src: server4, dst: pool, l4: .udp(src: 53, dst: answered, payload: [2])), now: 0).0 == .translated)
        #expect(run(&t, buildIPv6(src: hostNumber(1), dst: server6, l4: .udp(src: 5000, dst: 53, payload: [1])), now: 0).0 == .translated)
        // At 0.3 s only host 1's unanswered session may go; at 0.5 s nothing (host 0 was answered 0.5 s ago, host 2
        // started 0.2 s ago); at 1.1 s either.
        #expect(run(&t, buildIPv6(src: hostNumber(2), dst: server6, l4: .udp(src: 5000, dst: 53, payload: [1])), now: 300_000_000).0 == .translated)
        #expect(t.table.bibOutside(for: Endpoint6(address: hostNumber(1), port: 5000, proto: 17)) == nil)
        #expect(t.table.bibOutside(for: Endpoint6(address: hostNumber(0), port: 5000, proto: 17))?.port == answered)
        let late = buildIPv6(src: hostNumber(3), dst: server6, l4: .udp(src: 5000, dst: 53, payload: [1]))
        #expect(run(&t, late, now: 500_000_000).0 == .icmpError(.poolExhausted))
        #expect(run(&t, late, now: 1_100_000_000).0 == .translated)
        #expect(t.table.sessionEvictions[.idleUDP] == 2)
    }
}
