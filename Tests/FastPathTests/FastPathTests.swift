// The fast path's bookkeeping against real BPF maps and the real, verified program (not attached to any
// interface): session events in and out of the maps, the program's stamps refreshing the table (S4), the
// bounds (max-flows, a lost event). Needs root (CAP_BPF): CI runs as root; elsewhere these tests are skipped.
// The packet path itself is checked end to end in scripts/netns-fastpath-test.sh.
import CFastPath
@testable import FastPath
import NAT64Translator
import Testing
#if canImport(Glibc)
import Glibc
#endif

private let prefix = NAT64Prefix("2001:db8:64::/96")!
private let pool = IPv4Address("192.0.2.1")!
private let server = IPv4Address("198.51.100.10")!
private let host = IPv6Address("2001:db8:1::2")!
private let second: Nanoseconds = 1_000_000_000
/// When sessions made at `second` are old enough to be offloaded.
private let ripe = second + FastPath.offloadAfter

private func configuration() -> TranslatorConfiguration {
    TranslatorConfiguration(prefix: prefix, pool4: [pool], gatewayIPv4: IPv4Address("198.51.100.1")!,
                            gatewayIPv6: IPv6Address("2001:db8:1::1")!, maxSessions: 1024, seed: 7)
}

/// A fast path over `table`, hooked to it as the daemon hooks it.
private func fastPath(_ table: BindingTable, maxFlows: Int = 1024) throws -> FastPath {
    let f = try FastPath(interfaces: [], tunIndex: 0, configuration: configuration(), table: table, maxFlows: maxFlows)
    table.onMappingEvent = { e in f.hook(e) }
    return f
}

/// A UDP session from `host`:`port` to the server, made by the table as a first packet would make it.
@discardableResult
private func open(_ table: BindingTable, port: UInt16, proto: UInt8 = IPProtocolNumber.udp, now: Nanoseconds) -> Endpoint4? {
    let flags: TCPFlags = proto == IPProtocolNumber.tcp ? .syn : []
    guard case .mapped(let outside) = table.outbound(source: host, port: port, remote: server, remotePort: 53,
                                                       proto: proto, flags: flags, now: now) else { return nil }
    return outside
}

private func session(_ table: BindingTable, port: UInt16) -> Binding? {
    table.bindings.first { $0.inside.port == port }
}

private func event(_ kind: MappingEvent.Kind, port: UInt16, outside: Endpoint4, proto: UInt8 = IPProtocolNumber.udp) -> MappingEvent {
    MappingEvent(kind: kind, time: 0, proto: proto, inside: host, insidePort: port, outside: outside.address,
                 outsidePort: outside.port, portCount: 1, remote: server, remotePort: 53, reason: .none)
}

@Suite(.enabled(if: geteuid() == 0, "BPF maps and programs need root"))
struct FastPathTests {
    @Test func G3_aSessionsTwoTranslationsGoIntoTheMapsAndOutAgain() throws {
        let table = Translator(configuration: configuration()).table
        let f = try fastPath(table)
        defer { f.stop() }
        let outside = try #require(open(table, port: 40000, now: second))
        #expect(f.drain(now: ripe - 1) == 0, "younger than offloadAfter: it waits")
        #expect(f.entries(event(.sessionCreated, port: 40000, outside: outside)) == nil)
        #expect(f.drain(now: ripe) == 1, "the table reported the session")
        let (out, inbound) = try #require(f.entries(event(.sessionCreated, port: 40000, outside: outside)))
        // IPv6 → IPv4: from the pool4 endpoint to the server (S3); IPv4 → IPv6: from the server's address under
        // the prefix to the host's own endpoint (RFC 6052).
        #expect(UInt32(bigEndian: out.src4) == pool.value && UInt32(bigEndian: out.dst4) == server.value)
        #expect(UInt16(bigEndian: out.sport4) == outside.port && UInt16(bigEndian: out.dport4) == 53)
        #expect(load(inbound.src6) == prefix.embed(server) && load(inbound.dst6) == host)
        #expect(UInt16(bigEndian: inbound.dport6) == 40000 && UInt16(bigEndian: inbound.sport6) == 53)
        #expect(f.status.flows == 1 && f.status.offloaded == 1)

        // The session ends (its lifetime ran out): both entries go.
        #expect(table.expire(now: second + 400 * second) == 1)
        #expect(f.entries(event(.sessionCreated, port: 40000, outside: outside)) == nil)
        #expect(f.status.flows == 0 && f.status.withdrawn == 1)
    }

    @Test func G1_icmpSessionsAreNotOffloaded() throws {
        let table = Translator(configuration: configuration()).table
        let f = try fastPath(table)
        defer { f.stop() }
        _ = open(table, port: 7, proto: IPProtocolNumber.icmp, now: second)
        #expect(f.drain(now: ripe) == 0)
        #expect(f.status.offloaded == 0)
    }

    /// S4: packets only the program carried keep the session alive; without stamps it would expire.
    @Test func G4_stampsRefreshTheSessionAndAStaleEntryIsWithdrawn() throws {
        let table = Translator(configuration: configuration()).table
        let f = try fastPath(table)
        defer { f.stop() }
        let t0 = 10 * second
        let outside = try #require(open(table, port: 40001, now: t0))
        f.drain(now: t0 + FastPath.offloadAfter)
        let e = event(.sessionCreated, port: 40001, outside: outside)
        let before = try #require(session(table, port: 40001)).expires

        // Stamped after the last look at t0 + 100 s: the session's lifetime restarts from then.
        f.stamp(e, fromIPv4: false, at: UInt64(t0 + 99 * second))
        f.refresh(since: t0 + 90 * second, now: t0 + 100 * second)
        let after = try #require(session(table, port: 40001)).expires
        #expect(after == before + 100 * second, "udp-timeout counted again from the refresh")
        #expect(f.status.refreshes == 1)

        // A stamp older than the last look refreshes nothing.
        f.refresh(since: t0 + 100 * second, now: t0 + 110 * second)
        #expect(try #require(session(table, port: 40001)).expires == after)
        #expect(f.status.refreshes == 1)

        // The table lost the session without an event (its hook was off): the next stamp finds it gone and the
        // entries are withdrawn, so no translation outlives its session.
        table.onMappingEvent = nil
        #expect(table.expire(now: after + second) == 1)
        f.stamp(e, fromIPv4: true, at: UInt64(after + 2 * second))
        f.refresh(since: after, now: after + 3 * second)
        #expect(f.entries(e) == nil)
        #expect(f.status.flows == 0)
    }

    @Test func G5_aFullMapLeavesTheSessionOnTheTunAndCountsIt() throws {
        let table = Translator(configuration: configuration()).table
        let f = try fastPath(table, maxFlows: 16)
        defer { f.stop() }
        for port in UInt16(41000)..<41020 { open(table, port: port, now: second) }
        f.drain(now: ripe)
        #expect(f.status.offloaded == 16 && f.status.mapFull == 4 && f.status.flows == 16)
    }

    /// A new session lost to a full ring stays on the TUN; the others are offloaded as usual.
    @Test func G5_aLostEventLeavesThatSessionOnTheTun() throws {
        let table = Translator(configuration: configuration()).table
        let f = try fastPath(table)
        defer { f.stop() }
        let outside = try #require(open(table, port: 42000, now: second))
        let filler = event(.sessionCreated, port: 1, outside: outside)  // not in the table: never offloaded
        for _ in 1..<f.events.capacity { f.hook(filler) }
        let lost = try #require(open(table, port: 42001, now: second))
        #expect(f.events.dropped == 1)
        f.drain(now: ripe)
        #expect(f.entries(event(.sessionCreated, port: 42000, outside: outside)) != nil)
        #expect(f.entries(event(.sessionCreated, port: 42001, outside: lost)) == nil)
        #expect(f.status.flows == 1 && f.status.eventsDropped == 1)
    }

    /// A session that ended before the thread got to it is never offloaded: its pool4 port may already serve
    /// another flow, which the program would then translate with the old mapping.
    @Test func G3_aSessionThatEndedBeforeTheThreadSawItIsNotOffloaded() throws {
        let table = Translator(configuration: configuration()).table
        let f = try fastPath(table)
        defer { f.stop() }
        let outside = try #require(open(table, port: 43000, now: second))
        #expect(table.expire(now: second + 400 * second) == 1)  // ends while its creation waits in the ring
        #expect(f.drain(now: second + 400 * second) == 1)
        #expect(f.entries(event(.sessionCreated, port: 43000, outside: outside)) == nil)
        #expect(f.status.offloaded == 0)
    }

    /// The end of a session withdraws it in the hook, before the table can give its port to another flow.
    @Test func G3_anEndedSessionLeavesTheMapsInTheHookItself() throws {
        let table = Translator(configuration: configuration()).table
        let f = try fastPath(table)
        defer { f.stop() }
        let outside = try #require(open(table, port: 44000, now: second))
        f.drain(now: ripe)
        let e = event(.sessionCreated, port: 44000, outside: outside)
        #expect(f.entries(e) != nil)
        #expect(table.expire(now: second + 400 * second) == 1)
        #expect(f.entries(e) == nil, "gone without the thread's help")
        #expect(f.status.withdrawn == 1)
    }

    /// A TCP connection is offloaded only while ESTABLISHED: one that has already closed by the time it is
    /// old enough (a short request) never costs the maps anything.
    @Test func G1_onlyEstablishedConnectionsAreOffloaded() throws {
        let table = Translator(configuration: configuration()).table
        let f = try fastPath(table)
        defer { f.stop() }
        let tcp = IPProtocolNumber.tcp
        let open1 = try #require(open(table, port: 45000, proto: tcp, now: second))  // V6 SYN only: V6 INIT
        let open2 = try #require(open(table, port: 45001, proto: tcp, now: second))
        for port: UInt16 in [45000, 45001] {  // the server's SYN-ACK: ESTABLISHED
            _ = table.inbound(destination: pool, port: port == 45000 ? open1.port : open2.port, remote: server,
                              remotePort: 53, proto: tcp, flags: [.syn, .ack], now: second)
        }
        _ = table.outbound(source: host, port: 45001, remote: server, remotePort: 53, proto: tcp, flags: [.fin, .ack],
                           now: second)  // the second one starts to close
        f.drain(now: ripe)
        #expect(f.entries(event(.sessionCreated, port: 45000, outside: open1, proto: tcp)) != nil)
        #expect(f.entries(event(.sessionCreated, port: 45001, outside: open2, proto: tcp)) == nil)
        #expect(f.status.offloaded == 1)
    }

    /// A capture switches the program off, and a reload meanwhile (new MTUs) does not switch it back on.
    @Test func G5_aReloadDuringACaptureKeepsTheProgramOff() throws {
        let table = Translator(configuration: configuration()).table
        let f = try fastPath(table)
        defer { f.stop() }
        #expect(f.programSettings.enabled == 1 && f.status.enabled)
        f.suspendForCapture()
        var reloaded = configuration()
        reloaded.ipv4MTU = 1400
        f.reconfigure(reloaded)
        #expect(f.programSettings.enabled == 0 && !f.status.enabled)
        #expect(f.programSettings.ipv4_mtu == 1400)
    }
}
