// S13: port forwards (static BIB entries). IPv4 clients open connections to a pool4 port that the
// configuration binds to an IPv6 host's port; the host answers through the same binding; the binding outlives
// its sessions, is never given to another flow, ignores address-dependent filtering, and changes on reload.
import NAT64Translator
import PacketTestSupport
import Testing

private let backend = IPv6Address("2001:db8:a::10")!
private let sshForward = PortForward(proto: 6, outside: Endpoint4(address: pool, port: 2222, proto: 6),
                                     inside: Endpoint6(address: backend, port: 22, proto: 6))
private let dnsForward = PortForward(proto: 17, outside: Endpoint4(address: pool, port: 5353, proto: 17),
                                     inside: Endpoint6(address: backend, port: 53, proto: 17))

private func forwarding(_ forwards: [PortForward], filtering: FilteringPolicy = .endpointIndependent,
                        ports: ClosedRange<UInt16> = 1...65535) -> Translator {
    var state = StateConfiguration(filtering: filtering, portRanges: [Pool4Entry(address: pool, ports: ports)])
    state.forwards = forwards
    return stateTranslator(state: state)
}

/// An IPv4 client's TCP segment to the pool4 address.
private func fromClient(_ t: inout Translator, _ client4: IPv4Address = server4, sport: UInt16 = 5555,
                        dport: UInt16 = 2222, flags: UInt8, at now: Nanoseconds) -> (Verdict, Parsed) {
    let (v, out) = run(&t, buildIPv4(src: client4, dst: pool, l4: .tcp(src: sport, dst: dport, flags: flags, payload: [])),
                       now: now)
    return (v, Parsed(bytes: out))
}

/// The backend's TCP segment back to an IPv4 client.
private func fromBackend(_ t: inout Translator, _ client4: IPv4Address = server4, dport: UInt16 = 5555, flags: UInt8,
                         at now: Nanoseconds) -> (Verdict, Parsed) {
    let (v, out) = run(&t, buildIPv6(src: backend, dst: prefix.embed(client4), l4: .tcp(src: 22, dst: dport, flags: flags,
                                                                                          payload: [])), now: now)
    return (v, Parsed(bytes: out))
}

@Suite struct PortForwardTests {
    @Test("S1 S13: an IPv4 SYN to a forwarded pool4 port reaches the IPv6 host, which sees the client's own address")
    func S13_tcpForwardBothWays() {
        var t = forwarding([sshForward])
        #expect(t.table.count == 1 && t.table.sessionCount == 0 && t.table.hostCount == 1)
        let (v, syn) = fromClient(&t, flags: SYN, at: 0)
        #expect(v == .translated)
        #expect(syn.dst6 == backend && syn.dstPort == 22)
        #expect(syn.src6 == prefix.embed(server4) && syn.srcPort == 5555 && syn.l4ChecksumValid)
        let (v2, synAck) = fromBackend(&t, flags: SYN | ACK, at: 1)
        #expect(v2 == .translated)
        #expect(synAck.src4 == pool && synAck.srcPort == 2222 && synAck.dst4 == server4 && synAck.dstPort == 5555)
        #expect(fromClient(&t, flags: ACK, at: 2).0 == .translated)
        #expect(tcpState(t) == .established)
        // A second client at the same time gets its own session on the same binding.
        let other = IPv4Address("203.0.113.77")!
        #expect(fromClient(&t, other, sport: 6000, flags: SYN, at: 3).1.src6 == prefix.embed(other))
        #expect(t.table.count == 1 && t.table.sessionCount == 2)
        let status = t.table.forwardStatus()
        #expect(status == [PortForwardStatus(forward: sshForward, active: true, sessions: 2)])
    }

    @Test("S1 S13: the binding outlives its sessions: after they expire it stays, and a new connection works")
    func S13_outlivesSessions() {
        var t = forwarding([sshForward])
        _ = fromClient(&t, flags: SYN, at: 0)
        // V4 INIT lives TCP_INCOMING_SYN (6 s); well after it the session is gone, the binding and its host stay.
        #expect(t.table.expire(now: 60 * second) == 1)
        #expect(t.table.sessionCount == 0 && t.table.count == 1 && t.table.hostCount == 1)
        #expect(fromClient(&t, sport: 7000, flags: SYN, at: 61 * second).0 == .translated)
        #expect(t.table.sessionCount == 1)
    }

    @Test("S1 S13: UDP forward; replies leave from the forwarded port")
    func S13_udpForward() {
        var t = forwarding([dnsForward])
        let (v, q) = run(&t, buildIPv4(src: server4, dst: pool, l4: .udp(src: 40000, dst: 5353, payload: [1, 2])))
        #expect(v == .translated)
        let query = Parsed(bytes: q)
        #expect(query.dst6 == backend && query.dstPort == 53 && query.src6 == prefix.embed(server4) && query.l4ChecksumValid)
        let (v2, a) = run(&t, buildIPv6(src: backend, dst: prefix.embed(server4), l4: .udp(src: 53, dst: 40000, payload: [3])))
        #expect(v2 == .translated)
        let answer = Parsed(bytes: a)
        #expect(answer.src4 == pool && answer.srcPort == 5353 && answer.dstPort == 40000)
        // The other protocol on the same port is not forwarded.
        #expect(fromClient(&t, dport: 5353, flags: SYN, at: 0).0 == .drop(.synHeld))
    }

    @Test("S13 S2: address-dependent filtering does not close a forward")
    func S13_filteringDoesNotApply() {
        var t = forwarding([sshForward, dnsForward], filtering: .addressDependent)
        #expect(fromClient(&t, flags: SYN, at: 0).0 == .translated)
        #expect(run(&t, buildIPv4(src: server4, dst: pool, l4: .udp(src: 1, dst: 5353, payload: []))).0 == .translated)
        // A dynamic mapping still filters: a stranger cannot reach the client's mapped port.
        let mapped = Parsed(bytes: run(&t, buildIPv6(src: client, dst: server6, l4: .udp(src: 3000, dst: 53, payload: []))).1)
        let stranger = IPv4Address("203.0.113.200")!
        #expect(run(&t, buildIPv4(src: stranger, dst: pool, l4: .udp(src: 53, dst: mapped.srcPort, payload: []))).0
                == .drop(.filtered))
    }

    @Test("S13 S3 S11: dynamic mappings never take a forwarded port, not even by early drop")
    func S13_portNeverTaken() {
        // Two UDP ports in the range; one is forwarded.
        let udpOn2000 = PortForward(proto: 17, outside: Endpoint4(address: pool, port: 2000, proto: 17),
                                    inside: Endpoint6(address: backend, port: 53, proto: 17))
        var t = forwarding([udpOn2000], ports: 2000...2001)
        #expect(run(&t, buildIPv4(src: server4, dst: pool, l4: .udp(src: 9, dst: 2000, payload: [])), now: 0).0 == .translated)
        let first = run(&t, buildIPv6(src: client, dst: server6, l4: .udp(src: 3000, dst: 53, payload: [])), now: 0)
        #expect(first.0 == .translated && Parsed(bytes: first.1).srcPort == 2001)
        // 3 s later both sessions are idle: S11 lets a newcomer take the client's port, never the forward's.
        let newcomer = IPv6Address("2001:db8:1::99")!
        let (v, out) = run(&t, buildIPv6(src: newcomer, dst: server6, l4: .udp(src: 3001, dst: 53, payload: [])),
                           now: 3 * second)
        #expect(v == .translated && Parsed(bytes: out).srcPort == 2001)
        #expect(t.table.sessionEvictions[.idleUDP] == 1)
        let (v2, _) = run(&t, buildIPv6(src: IPv6Address("2001:db8:1::98")!, dst: server6,
                                        l4: .udp(src: 3002, dst: 53, payload: [])), now: 3 * second + 100_000_000)
        #expect(v2 == .icmpError(.poolExhausted))
        #expect(t.table.forwardStatus() == [PortForwardStatus(forward: udpOn2000, active: true, sessions: 1)])
    }

    @Test("S1 S13: a reload removes and adds forwards; a busy port waits until its mapping ends")
    func S13_reload() {
        var t = forwarding([sshForward], ports: 2000...2000)
        #expect(fromClient(&t, flags: SYN, at: 0).0 == .translated)
        #expect(fromBackend(&t, flags: SYN | ACK, at: 1).0 == .translated)
        // The client holds the only dynamic UDP port 2000: a new UDP forward on it must wait.
        let held = run(&t, buildIPv6(src: client, dst: server6, l4: .udp(src: 3000, dst: 53, payload: [])), now: 1)
        #expect(Parsed(bytes: held.1).srcPort == 2000)
        let udpOn2000 = PortForward(proto: 17, outside: Endpoint4(address: pool, port: 2000, proto: 17),
                                    inside: Endpoint6(address: backend, port: 53, proto: 17))
        var c = t.configuration
        c.state.forwards = [udpOn2000]
        t.reconfigure(c, now: 2)
        #expect(t.table.forwardsWaiting == 1)
        #expect(t.table.forwardStatus() == [PortForwardStatus(forward: udpOn2000, active: false, sessions: 0)])
        // The removed TCP forward keeps its open connection, but takes no new one; once that ends, the binding goes.
        #expect(fromClient(&t, flags: ACK, at: 3).0 == .translated)
        #expect(fromClient(&t, IPv4Address("203.0.113.77")!, sport: 6000, flags: SYN, at: 3).0 == .drop(.synHeld))
        #expect(fromBackend(&t, flags: RST, at: 4).0 == .translated)  // TRANS: 4 minutes
        #expect(t.table.expire(now: 400 * second) == 2)  // that one and the UDP session (5 minutes)
        #expect(t.table.count == 1 && t.table.forwardsWaiting == 0)  // the waiting forward, installed by expire
        #expect(fromClient(&t, sport: 8000, flags: SYN, at: 401 * second).0 == .drop(.synHeld))
        let (v, q) = run(&t, buildIPv4(src: server4, dst: pool, l4: .udp(src: 1, dst: 2000, payload: [])), now: 402 * second)
        #expect(v == .translated && Parsed(bytes: q).dst6 == backend)
        // The same list again changes nothing.
        t.reconfigure(c, now: 403 * second)
        #expect(t.table.count == 1 && t.table.sessionCount == 1)
    }

    @Test("S1 S13: removing a forward with no sessions frees its port and its host at once")
    func S13_removeIdle() {
        var t = forwarding([sshForward])
        var c = t.configuration
        c.state.forwards = []
        t.reconfigure(c, now: 1)
        #expect(t.table.count == 0 && t.table.hostCount == 0 && t.table.forwardStatus().isEmpty)
    }
}
