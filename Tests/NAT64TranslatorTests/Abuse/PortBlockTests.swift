// port blocks (RFC 7422 bulk allocation with RFC 6056 randomness inside a block), the mapping events
// the table reports, and the per-tenant outbound policy. Time is injected; nothing here reads a clock.
import NAT64Translator
import PacketTestSupport
import Synchronization
import Testing

/// Collects the table's mapping events (the hook runs on the caller's thread here).
final class EventLog: Sendable {
    let events = Mutex<[MappingEvent]>([])
    func attach(_ table: BindingTable) { table.onMappingEvent = { e in self.events.withLock { $0.append(e) } } }
    var all: [MappingEvent] { events.withLock { $0 } }
}

func blockTable(size: Int = 64, perHost: Int = 2, holdSeconds: Int = 60, ports: ClosedRange<UInt16> = 1...65535,
                rules: [OutboundRule] = []) -> BindingTable {
    var state = StateConfiguration(portRanges: [Pool4Entry(address: pool, ports: ports)])
    state.portBlocks = PortBlockSettings(size: size, perHost: perHost, holdSeconds: holdSeconds)
    state.outboundRules = rules
    return BindingTable(pool: [pool], capacity: 4096,
                        timeouts: SessionTimeouts(udpSeconds: 120, tcpSeconds: 7440, icmpSeconds: 60), seed: 7,
                        configuration: state)
}

func host(_ n: Int) -> IPv6Address { IPv6Address(high: 0x2001_0db8_0001_0000, low: UInt64(0x100 + n)) }

func udpOut(_ table: BindingTable, _ source: IPv6Address, port: UInt16, remotePort: UInt16 = 53,
            at now: Nanoseconds) -> OutboundDecision {
    table.outbound(source: source, port: port, remote: server4, remotePort: remotePort, proto: 17, flags: [], now: now)
}

func mappedPort(_ d: OutboundDecision) -> UInt16? {
    if case .mapped(let e) = d { return e.port }
    return nil
}

@Suite struct PortBlockTests {
    @Test("RFC 7422: one host's ports all fall in its block, chosen at random inside it (RFC 6056 §3.3.1)")
    func portsInsideOneBlockAreRandom() throws {
        let table = blockTable(size: 128)
        let ports = (0..<40).compactMap { mappedPort(udpOut(table, host(1), port: 5000 + UInt16($0), at: 0)) }
        #expect(ports.count == 40)
        #expect(Set(ports).count == 40)
        let start = try #require(table.holders(of: pool, port: ports[0]).first { $0.proto == 0 }).outsidePort
        #expect(ports.allSatisfy { $0 >= start && $0 < start + 128 })
        #expect(start >= 1024 && (start - 1024) % 128 == 0)
        // Sequential allocation would give consecutive ports; random starts give gaps in allocation order.
        let steps = zip(ports, ports.dropFirst()).filter { $1 == $0 &+ 1 }.count
        #expect(steps < 20, "ports \(ports)")
        #expect(table.portBlockCounters.inUse == 1 && table.portBlockCounters.assigned == 1)
        // A second host gets a block of its own.
        let other = try #require(mappedPort(udpOut(table, host(2), port: 5000, at: 0)))
        #expect(!(start..<start + 128).contains(other))
        #expect(table.portBlockCounters.inUse == 2)
    }

    @Test("RFC 7422: a host fills a block, gets its next one up to the per-host maximum, then is refused and counted")
    func exhaustionPerHostAndPool() {
        // 1024...1279: exactly four blocks of 64.
        let table = blockTable(size: 64, perHost: 2, ports: 1024...1279)
        for i in 0..<128 { #expect(mappedPort(udpOut(table, host(1), port: 2000 + UInt16(i), at: 0)) != nil) }
        #expect(table.portBlockCounters.inUse == 2)
        #expect(udpOut(table, host(1), port: 9999, at: 0) == .refused(.poolExhausted))
        #expect(table.portBlockCounters.exhausted == 1)
        // The other two blocks go to two more hosts; a fourth host finds none.
        #expect(mappedPort(udpOut(table, host(2), port: 2000, at: 0)) != nil)
        #expect(mappedPort(udpOut(table, host(3), port: 2000, at: 0)) != nil)
        #expect(udpOut(table, host(4), port: 2000, at: 0) == .refused(.poolExhausted))
        #expect(table.portBlockCounters.exhausted == 2)
        #expect(table.portBlockCounters.total == 4 && table.portBlockCounters.inUse == 4)
    }

    @Test("RFC 7422: a block is freed when its last session ends plus the hold time, and logged once each way")
    func releaseAfterHold() throws {
        let table = blockTable(size: 64, perHost: 1, holdSeconds: 60, ports: 1024...1087)  // one block
        let log = EventLog()
        log.attach(table)
        let port = try #require(mappedPort(udpOut(table, host(1), port: 4000, at: 0)))
        // The session lives 120 s; at 121 s it expires but the block is held for its host.
        table.expire(now: 121 * second)
        #expect(table.sessionCount == 0)
        #expect(table.portBlockCounters.inUse == 1)
        #expect(table.holders(of: pool, port: port).map(\.held) == [true])
        #expect(udpOut(table, host(2), port: 4000, at: 122 * second) == .refused(.poolExhausted))
        // The same host gets its held block back at once.
        #expect(mappedPort(udpOut(table, host(1), port: 4001, at: 130 * second)) != nil)
        table.expire(now: 251 * second)  // its second session ended at 250 s; hold until 310 s
        #expect(table.portBlockCounters.inUse == 1)
        table.expire(now: 311 * second)
        #expect(table.portBlockCounters.inUse == 0 && table.portBlockCounters.released == 1)
        #expect(table.hostCount == 0)
        #expect(mappedPort(udpOut(table, host(2), port: 4000, at: 312 * second)) != nil)
        let blockEvents = log.all.filter { $0.proto == 0 }
        #expect(blockEvents.map(\.kind) == [.blockAssigned, .blockReleased, .blockAssigned])
        #expect(blockEvents.map(\.inside) == [host(1), host(1), host(2)])
        #expect(blockEvents[1].reason == .idle && blockEvents[1].time == 311 * second)
        #expect(blockEvents[0].outsidePort == 1024 && blockEvents[0].portCount == 64 && blockEvents[0].lastPort == 1087)
    }

    @Test("Mapping events: BIB and session creation and deletion with time, endpoints, remote and reason")
    func mappingEventsInOrder() throws {
        let table = BindingTable(pool: [pool], capacity: 64, timeouts: SessionTimeouts(udpSeconds: 120), seed: 3)
        let log = EventLog()
        log.attach(table)
        let port = try #require(mappedPort(udpOut(table, client, port: 5353, remotePort: 53, at: 5 * second)))
        table.expire(now: 200 * second)
        let e = log.all
        #expect(e.map(\.kind) == [.bibCreated, .sessionCreated, .sessionDeleted, .bibDeleted])
        #expect(e.allSatisfy { $0.inside == client && $0.insidePort == 5353 && $0.outside == pool && $0.outsidePort == port })
        #expect(e[1].remote == server4 && e[1].remotePort == 53 && e[1].time == 5 * second)
        #expect(e[2].reason == .expired && e[3].reason == .expired && e[3].time == 200 * second)
    }

    @Test("Outbound policy: a deny rule refuses TCP 25 with ICMPv6 1/1 while TCP 80 is translated, counted by rule")
    func denyPort25() {
        var state = StateConfiguration()
        state.outboundRules = [OutboundRule(source: IPv6Prefix("2001:db8:1::/48")!, proto: 6, ports: 25...25, action: .deny)]
        var t = stateTranslator(state: state)
        let (verdict, reply) = tcp6(&t, dport: 25, flags: SYN, at: 0)
        #expect(verdict == .icmpError(.policyDenied))
        #expect(reply.count > 48 && reply[6] == 58 && reply[40] == 1 && reply[41] == 1)
        #expect(tcp6(&t, sport: 40001, dport: 80, flags: SYN, at: 0).0 == .translated)
        #expect(t.table.policyRefusals == [1])
        #expect(t.counters.drops(.policyDenied) == 1)
        // A host outside the prefix is not affected.
        let outsider = IPv6Address("2001:db8:2::5")!
        #expect(tcp6(&t, from: outsider, dport: 25, flags: SYN, at: 0).0 == .translated)
    }

    @Test("Outbound policy: a per-host budget of new flows per second; established flows are never counted")
    func newFlowBudget() {
        let rule = OutboundRule(source: IPv6Prefix("2001:db8::/32")!, action: .limit(perSecond: 3))
        let table = blockTable(size: 0, rules: [rule])
        for i in 0..<3 { #expect(mappedPort(udpOut(table, host(1), port: 100 + UInt16(i), at: 0)) != nil) }
        #expect(udpOut(table, host(1), port: 200, at: 500_000_000) == .refused(.policyRateLimited))
        // The same flows go on; another host has its own budget; the next second the host may open more.
        #expect(mappedPort(udpOut(table, host(1), port: 100, at: 600_000_000)) != nil)
        #expect(mappedPort(udpOut(table, host(2), port: 100, at: 600_000_000)) != nil)
        #expect(mappedPort(udpOut(table, host(1), port: 200, at: second)) != nil)
        #expect(table.policyRefusals == [1])
    }
}
