// S4, S5: the RFC 6146 §3.5.2.2 TCP state machine, on its own and through the translator with an injected clock.
import NAT64Translator
import PacketTestSupport
import Testing

let second: Nanoseconds = 1_000_000_000
let SYN: UInt8 = 0x02, ACK: UInt8 = 0x10, FIN: UInt8 = 0x01, RST: UInt8 = 0x04

/// A translator with short, distinct timeouts so each one can be told apart.
func stateTranslator(state: StateConfiguration = StateConfiguration(), pool4: [IPv4Address] = [pool],
                     maxSessions: Int = 1024,
                     timeouts: SessionTimeouts = SessionTimeouts(udpSeconds: 300, tcpSeconds: 7440, icmpSeconds: 60,
                                                                 tcpTransitorySeconds: 240)) -> Translator {
    Translator(configuration: TranslatorConfiguration(
        prefix: prefix, pool4: pool4, gatewayIPv4: IPv4Address("198.51.100.1")!,
        gatewayIPv6: IPv6Address("2001:db8:1::1")!, timeouts: timeouts, maxSessions: maxSessions, seed: 11,
        state: state))
}

/// Sends a TCP segment from the IPv6 client and returns the verdict and the translated packet.
func tcp6(_ t: inout Translator, from src: IPv6Address = client, sport: UInt16 = 40000, to dst: IPv6Address = server6,
          dport: UInt16 = 80, flags: UInt8, at now: Nanoseconds) -> (Verdict, [UInt8]) {
    run(&t, buildIPv6(src: src, dst: dst, l4: .tcp(src: sport, dst: dport, flags: flags, payload: [])), now: now)
}

/// Sends a TCP segment from the IPv4 server to a pool4 endpoint.
func tcp4(_ t: inout Translator, from src: IPv4Address = server4, sport: UInt16 = 80, to dst: IPv4Address = pool,
          dport: UInt16, flags: UInt8, at now: Nanoseconds) -> (Verdict, [UInt8]) {
    run(&t, buildIPv4(src: src, dst: dst, l4: .tcp(src: sport, dst: dport, flags: flags, payload: [])), now: now)
}

func tcpState(_ t: borrowing Translator) -> TCPState? { t.table.bindings.first?.tcpState }

@Suite struct StateTCPTests {
    typealias M = TCPStateMachine

    @Test("S5: every transition of the pure state machine (RFC 6146 §3.5.2.2)")
    func S5_pureTransitions() {
        let syn = TCPFlags.syn, fin = TCPFlags.fin, rst = TCPFlags.rst, ack = TCPFlags.ack
        // CLOSED
        #expect(M.onIPv6(.closed, flags: syn) == .init(.v6Init, .transitory))
        #expect(M.onIPv4(.closed, flags: syn) == .init(.v4Init, .incomingSYN))
        // V6 INIT
        #expect(M.onIPv4(.v6Init, flags: [syn, ack]) == .init(.established, .established))
        #expect(M.onIPv6(.v6Init, flags: syn) == .init(.v6Init, .transitory))
        #expect(M.onIPv6(.v6Init, flags: ack) == .init(.v6Init, .unchanged))
        #expect(M.onIPv4(.v6Init, flags: ack) == .init(.v6Init, .unchanged))
        // V4 INIT
        #expect(M.onIPv6(.v4Init, flags: [syn, ack]) == .init(.established, .established))
        #expect(M.onIPv6(.v4Init, flags: ack) == .init(.v4Init, .unchanged))
        #expect(M.onIPv4(.v4Init, flags: syn) == .init(.v4Init, .unchanged))
        // ESTABLISHED
        #expect(M.onIPv6(.established, flags: ack) == .init(.established, .established))
        #expect(M.onIPv4(.established, flags: ack) == .init(.established, .established))
        #expect(M.onIPv4(.established, flags: [fin, ack]) == .init(.v4FinReceived, .established))
        #expect(M.onIPv6(.established, flags: [fin, ack]) == .init(.v6FinReceived, .established))
        #expect(M.onIPv6(.established, flags: rst) == .init(.transitory, .transitory))
        #expect(M.onIPv4(.established, flags: rst) == .init(.transitory, .transitory))
        // V4 FIN RCV / V6 FIN RCV
        #expect(M.onIPv6(.v4FinReceived, flags: fin) == .init(.v4FinV6FinReceived, .transitory))
        #expect(M.onIPv4(.v4FinReceived, flags: ack) == .init(.v4FinReceived, .established))
        #expect(M.onIPv6(.v4FinReceived, flags: ack) == .init(.v4FinReceived, .established))
        #expect(M.onIPv4(.v6FinReceived, flags: fin) == .init(.v4FinV6FinReceived, .transitory))
        #expect(M.onIPv6(.v6FinReceived, flags: ack) == .init(.v6FinReceived, .established))
        #expect(M.onIPv4(.v6FinReceived, flags: ack) == .init(.v6FinReceived, .established))
        // V4 FIN + V6 FIN RCV: lifetime not refreshed
        #expect(M.onIPv4(.v4FinV6FinReceived, flags: ack) == .init(.v4FinV6FinReceived, .unchanged))
        #expect(M.onIPv6(.v4FinV6FinReceived, flags: ack) == .init(.v4FinV6FinReceived, .unchanged))
        // TRANS
        #expect(M.onIPv6(.transitory, flags: ack) == .init(.established, .established))
        #expect(M.onIPv4(.transitory, flags: ack) == .init(.established, .established))
        #expect(M.onIPv4(.transitory, flags: rst) == .init(.transitory, .unchanged))
        #expect(M.onIPv6(.transitory, flags: rst) == .init(.transitory, .unchanged))
        // Expiry
        #expect(M.onExpiry(.established) == .init(.transitory, .transitory))
        for s in TCPState.allCases where s != .established { #expect(M.onExpiry(s) == nil) }
    }

    @Test("S5 S4: IPv6-initiated handshake, data, FIN both ways, then TCP_TRANS deletes the session")
    func S5_v6OpenAndClose() {
        var t = stateTranslator()
        #expect(tcp6(&t, flags: SYN, at: 0).0 == .translated)
        #expect(tcpState(t) == .v6Init)
        let mapped = Parsed(bytes: tcp6(&t, flags: SYN, at: 0).1).srcPort
        #expect(tcp4(&t, dport: mapped, flags: SYN | ACK, at: 1 * second).0 == .translated)
        #expect(tcpState(t) == .established)
        #expect(t.table.bindings.first?.expires == 1 * second + 7440 * second)
        #expect(tcp6(&t, flags: FIN | ACK, at: 2 * second).0 == .translated)
        #expect(tcpState(t) == .v6FinReceived)
        #expect(tcp4(&t, dport: mapped, flags: FIN | ACK, at: 3 * second).0 == .translated)
        #expect(tcpState(t) == .v4FinV6FinReceived)
        #expect(t.table.bindings.first?.expires == 3 * second + 240 * second)
        // Packets in the last state do not refresh the lifetime.
        #expect(tcp6(&t, flags: ACK, at: 100 * second).0 == .translated)
        #expect(t.table.bindings.first?.expires == 243 * second)
        #expect(t.expire(now: 242 * second) == 0)
        #expect(t.expire(now: 244 * second) == 1)
        #expect(t.table.sessionCount == 0 && t.table.count == 0)
    }

    @Test("S5: IPv4 side closes first (V4 FIN RCV), IPv6 FIN completes")
    func S5_v4FinFirst() {
        var t = stateTranslator()
        let mapped = Parsed(bytes: tcp6(&t, flags: SYN, at: 0).1).srcPort
        _ = tcp4(&t, dport: mapped, flags: SYN | ACK, at: 0)
        _ = tcp4(&t, dport: mapped, flags: FIN | ACK, at: second)
        #expect(tcpState(t) == .v4FinReceived)
        _ = tcp6(&t, flags: FIN | ACK, at: 2 * second)
        #expect(tcpState(t) == .v4FinV6FinReceived)
    }

    @Test("S5: RST moves to TRANS; traffic resumes it to ESTABLISHED; an idle TRANS session is deleted after TCP_TRANS")
    func S5_rstAndTrans() {
        var t = stateTranslator()
        let mapped = Parsed(bytes: tcp6(&t, flags: SYN, at: 0).1).srcPort
        _ = tcp4(&t, dport: mapped, flags: SYN | ACK, at: 0)
        _ = tcp6(&t, flags: RST, at: 10 * second)
        #expect(tcpState(t) == .transitory)
        #expect(t.table.bindings.first?.expires == 250 * second)
        _ = tcp4(&t, dport: mapped, flags: ACK, at: 20 * second)
        #expect(tcpState(t) == .established)
        _ = tcp4(&t, dport: mapped, flags: RST, at: 30 * second)
        #expect(tcpState(t) == .transitory)
        #expect(t.expire(now: 269 * second) == 0)
        #expect(t.expire(now: 271 * second) == 1)
    }

    @Test("S5 S4: an idle ESTABLISHED session goes to TRANS after TCP_EST, and is deleted TCP_TRANS later")
    func S4_establishedTimeout() {
        var t = stateTranslator()
        let mapped = Parsed(bytes: tcp6(&t, flags: SYN, at: 0).1).srcPort
        _ = tcp4(&t, dport: mapped, flags: SYN | ACK, at: 0)
        _ = tcp6(&t, flags: ACK, at: 0)
        #expect(t.expire(now: 7440 * second - 1) == 0)
        #expect(tcpState(t) == .established)
        #expect(t.expire(now: 7441 * second) == 0)
        #expect(tcpState(t) == .transitory)
        #expect(t.expire(now: 7441 * second + 240 * second) == 0)  // the wheel reaches it within one tick
        #expect(t.expire(now: 7441 * second + 241 * second) == 1)
        #expect(t.table.sessionCount == 0)
    }

    @Test("S5 S4: V6 INIT without an answer dies after TCP_TRANS; a retransmitted SYN re-arms it")
    func S4_v6InitTimeout() {
        var t = stateTranslator()
        _ = tcp6(&t, flags: SYN, at: 0)
        _ = tcp6(&t, flags: SYN, at: 100 * second)
        #expect(t.expire(now: 300 * second) == 0)
        #expect(t.expire(now: 341 * second) == 1)
    }

    @Test("S5: a non-SYN segment without a session is dropped in both directions (CLOSED)")
    func S5_closedNonSYN() {
        var t = stateTranslator()
        #expect(tcp6(&t, flags: ACK, at: 0).0 == .drop(.synExpected))
        let mapped = Parsed(bytes: tcp6(&t, sport: 41000, flags: SYN, at: 0).1).srcPort
        // A BIB entry exists for 41000, but this IPv4 segment from a new peer is not a SYN.
        #expect(tcp4(&t, from: IPv4Address("203.0.113.9")!, dport: mapped, flags: ACK, at: 0).0 == .drop(.synExpected))
        #expect(t.counters.drops(.synExpected) == 2)
        #expect(t.table.sessionCount == 1)
    }

    @Test("S5 S4: IPv4-initiated session on an existing BIB entry (V4 INIT, 6 s), completed by the IPv6 SYN")
    func S5_v4Init() {
        var t = stateTranslator()
        let mapped = Parsed(bytes: tcp6(&t, sport: 5000, flags: SYN, at: 0).1).srcPort
        let other = IPv4Address("203.0.113.7")!
        let (v, out) = tcp4(&t, from: other, sport: 6000, dport: mapped, flags: SYN, at: second)
        #expect(v == .translated)
        #expect(Parsed(bytes: out).dst6 == client && Parsed(bytes: out).dstPort == 5000)
        let v4init = t.table.bindings.first { $0.remote.address == other }
        #expect(v4init?.tcpState == .v4Init && v4init?.expires == 7 * second)
        _ = tcp6(&t, sport: 5000, to: prefix.embed(other), dport: 6000, flags: SYN | ACK, at: 2 * second)
        #expect(t.table.bindings.first { $0.remote.address == other }?.tcpState == .established)
    }

    @Test("S4: UDP and ICMP sessions live exactly their configured timeouts")
    func S4_udpIcmpTimeouts() {
        var t = stateTranslator(timeouts: SessionTimeouts(udpSeconds: 120, icmpSeconds: 30))
        _ = run(&t, buildIPv6(src: client, dst: server6, l4: .udp(src: 7, dst: 53, payload: [])), now: 0)
        _ = run(&t, buildIPv6(src: client, dst: server6, l4: .echo(request: true, id: 9, seq: 1, payload: [])), now: 0)
        #expect(t.table.sessionCount == 2)
        // A session is dead from its deadline on; the wheel removes it within one tick (1 s).
        #expect(t.expire(now: 30 * second - 1) == 0)
        #expect(t.expire(now: 31 * second) == 1)  // ICMP
        #expect(t.table.bindings.first?.inside.proto == 17)
        #expect(t.expire(now: 120 * second - 1) == 0)
        #expect(t.expire(now: 121 * second) == 1)  // UDP
    }

    @Test("S4: an expired session found by a packet before the sweep is not used")
    func S4_lazyExpiryOnLookup() {
        var t = stateTranslator(timeouts: SessionTimeouts(udpSeconds: 120))
        let first = Parsed(bytes: run(&t, buildIPv6(src: client, dst: server6, l4: .udp(src: 7, dst: 53, payload: [])), now: 0).1).srcPort
        // The IPv4 reply after the timeout, with no sweep in between, finds nothing.
        let late = run(&t, buildIPv4(src: server4, dst: pool, l4: .udp(src: 53, dst: first, payload: [])), now: 200 * second)
        #expect(late.0 == .drop(.noState))
        #expect(t.table.sessionCount == 0)
    }
}
