// The bookkeeping of spliced proxy connections (FastPath+Splice.swift, rules IP-O1–IP-O4 of
// Sources/InboundProxy/Offload.swift) against real BPF maps and the real, verified programs (not attached): the
// four entries a splice puts in, what completing, abandoning and ending take out, the slot bound. Needs root
// (CAP_BPF), like FastPathTests. The segments themselves are checked end to end by scripts/netns-proxy-test.sh
// with NAT64D_PROXY_OFFLOAD=1.
import CFastPath
@testable import FastPath
import NAT64Translator
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif

private func makeFastPath(maxFlows: Int = 1024) throws -> FastPath {
    let configuration = TranslatorConfiguration(
        prefix: NAT64Prefix("2001:db8:64::/96")!, pool4: [IPv4Address("192.0.2.1")!],
        gatewayIPv4: IPv4Address("198.51.100.1")!, gatewayIPv6: IPv6Address("2001:db8:a::1")!, maxSessions: 64, seed: 1)
    return try FastPath(interfaces: [], tunIndex: 0, configuration: configuration,
                        table: Translator(configuration: configuration).table, maxFlows: maxFlows)
}

/// A client 198.51.100.2:40000 on the proxy's 198.51.100.1:443, the proxy's [2001:db8:a::1]:50000 on the
/// backend's [2001:db8:a::10]:443; `port` varies the client's port.
private func ends(port: UInt16 = 40000) -> SpliceEnds {
    var e = SpliceEnds(
        client: IPv4Address("198.51.100.2")!, clientPort: port, front: IPv4Address("198.51.100.1")!, frontPort: 443,
        local: IPv6Address("2001:db8:a::1")!, localPort: 50000, backend: IPv6Address("2001:db8:a::10")!,
        backendPort: 443, clientToBackend: 1000, backendToClient: 0xFFFF_FF00, clientScale: 7, frontScale: 9,
        localScale: 8, backendScale: 6, frontTimestampOffset: 11, localTimestampOffset: 22)
    e.frontAckCeiling = 5000
    e.localAckCeiling = 6000
    e.frontSent = 7000
    e.localSent = 8000
    return e
}

private func key4(_ src: String, _ sport: UInt16, _ dst: String, _ dport: UInt16) -> fp_key4 {
    var k = fp_key4()
    k.src = IPv4Address(src)!.value.bigEndian
    k.dst = IPv4Address(dst)!.value.bigEndian
    (k.sport, k.dport, k.proto) = (sport.bigEndian, dport.bigEndian, 6)
    return k
}

private func key6(_ src: String, _ sport: UInt16, _ dst: String, _ dport: UInt16) -> fp_key6 {
    var k = fp_key6()
    store(IPv6Address(src)!, into: &k.src)
    store(IPv6Address(dst)!, into: &k.dst)
    (k.sport, k.dport, k.proto) = (sport.bigEndian, dport.bigEndian, 6)
    return k
}

private func lookup4(_ f: FastPath, _ k: fp_key4) -> fp_splice? {
    var key = k
    var value = fp_splice()
    return fastpath_map_lookup(f.maps.splice4, &key, &value) == 0 ? value : nil
}

private func lookup6(_ f: FastPath, _ k: fp_key6) -> fp_splice? {
    var key = k
    var value = fp_splice()
    return fastpath_map_lookup(f.maps.splice6, &key, &value) == 0 ? value : nil
}

private let fromClient = key4("198.51.100.2", 40000, "198.51.100.1", 443)
private let toClient = key4("198.51.100.1", 443, "198.51.100.2", 40000)
private let fromBackend = key6("2001:db8:a::10", 443, "2001:db8:a::1", 50000)
private let toBackend = key6("2001:db8:a::1", 50000, "2001:db8:a::10", 443)

private let ignore: @Sendable (UInt64, UInt64) -> Void = { _, _ in }

/// The tests' clock (monotonic nanoseconds as the sweep is given them): a fixed moment, never the machine's.
private let clock: UInt64 = 1_000_000_000_000

/// What `ended` was called with.
private final class Ended: Sendable {
    let calls = Mutex<[(UInt64, UInt64)]>([])
    var record: @Sendable (UInt64, UInt64) -> Void { { up, down in self.calls.withLock { $0.append((up, down)) } } }
    var count: Int { calls.withLock { $0.count } }
}

@Suite(.enabled(if: geteuid() == 0, "BPF maps and programs need root"))
struct SpliceTests {
    @Test func IPO2_aSpliceBeginsPendingWithBothDirectionsAndTheHolds() throws {
        let f = try makeFastPath()
        defer { f.stop() }
        let slot = try #require(f.beginSplice(ends(), idleTimeout: 60_000_000_000, ended: ignore))
        let up = try #require(lookup4(f, fromClient))
        #expect(up.pending == 1 && up.egress == 0 && up.dir == 0 && up.slot == UInt32(slot))
        #expect(up.seq_delta == 1000, "the client's sequence numbers move by clientToBackend")
        #expect(up.ack_delta == 0x100, "its acknowledgments lose backendToClient")
        #expect(up.ws_in == 7 && up.ws_out == 8, "from the client's scale to the proxy's on the backend connection")
        #expect(up.ts_offset == 22, "onto the backend connection's timestamp clock")
        #expect(UInt16(bigEndian: up.sport) == 50000 && UInt16(bigEndian: up.dport) == 443)
        let down = try #require(lookup6(f, fromBackend))
        #expect(down.pending == 1 && down.dir == 1 && down.seq_delta == 0xFFFF_FF00 && down.ack_delta == 0 &- 1000)
        #expect(down.ws_in == 6 && down.ws_out == 9 && down.ts_offset == 11)
        #expect(IPv4Address(UInt32(bigEndian: down.dst4)) == IPv4Address("198.51.100.2")!)
        // The holds on the proxy's own sockets (egress), at what each had received.
        let holdFront = try #require(lookup4(f, toClient))
        let holdLocal = try #require(lookup6(f, toBackend))
        #expect(holdFront.egress == 1 && holdFront.pending == 1 && holdFront.ack_ceiling == 5000 && holdFront.sent == 7000)
        #expect(holdLocal.egress == 1 && holdLocal.pending == 1 && holdLocal.ack_ceiling == 6000 && holdLocal.sent == 8000)
        #expect(f.status.splice.active == 1 && f.status.splice.pending == 1 && f.status.splice.begun == 1)
    }

    @Test func IPO3_completingStopsTheCopiesAndTheHoldsGoLater() throws {
        let f = try makeFastPath()
        defer { f.stop() }
        let slot = try #require(f.beginSplice(ends(), idleTimeout: 60_000_000_000, ended: ignore))
        let now = clock
        f.completeSplice(slot, now: now)
        #expect(lookup4(f, fromClient)?.pending == 0)
        #expect(lookup6(f, fromBackend)?.pending == 0)
        #expect(lookup4(f, toClient)?.pending == 1, "the holds outlive the sockets a little")
        f.sweepSplices(now: now)
        #expect(lookup4(f, toClient) != nil)
        f.sweepSplices(now: now + FastPath.holdAfterClose)
        #expect(lookup4(f, toClient) == nil && lookup6(f, toBackend) == nil)
        #expect(lookup4(f, fromClient) != nil, "the splice itself goes on")
        #expect(f.status.splice.pending == 0 && f.status.splice.completed == 1)
    }

    @Test func IPO3_aSpliceEndsAfterAFINEachWayAndTheLingerWithItsBytes() throws {
        let f = try makeFastPath()
        defer { f.stop() }
        let ended = Ended()
        let record = ended.record
        let slot = try #require(f.beginSplice(ends(), idleTimeout: 600_000_000_000, ended: record))
        let now = clock
        f.completeSplice(slot, now: now)
        var key = UInt32(slot)
        var pair = try #require(f.splicePair(slot))
        pair.closing = UInt32(FP_SPLICE_FIN_CLIENT)  // as the program notes it
        pair.use.0.bytes = 1234
        pair.use.0.last_seen = now
        pair.use.1.bytes = 98765
        #expect(fastpath_map_update(f.maps.pairs, &key, &pair, 0) == 0)
        f.sweepSplices(now: now + FastPath.spliceLinger + 1)
        #expect(ended.count == 0, "one FIN is half a close")
        pair.closing |= UInt32(FP_SPLICE_FIN_BACKEND)
        #expect(fastpath_map_update(f.maps.pairs, &key, &pair, 0) == 0)
        f.sweepSplices(now: now + FastPath.spliceLinger - 1)
        #expect(ended.count == 0, "the linger is not over")
        f.sweepSplices(now: now + FastPath.spliceLinger)
        #expect(ended.calls.withLock { $0.map { [$0.0, $0.1] } } == [[1234, 98765]])
        #expect(lookup4(f, fromClient) == nil && lookup6(f, fromBackend) == nil && lookup4(f, toClient) == nil)
        #expect(f.splicePair(slot)?.closing == 0, "the slot is clean for the next connection")
        #expect(f.status.splice.active == 0 && f.status.splice.ended == 1)
    }

    @Test func IPO3_aResetATakenAddressOrIdlenessEndsASplice() throws {
        let f = try makeFastPath()
        defer { f.stop() }
        let ended = Ended()
        let record = ended.record
        let now = clock
        let reset = try #require(f.beginSplice(ends(port: 40001), idleTimeout: 600_000_000_000, ended: record))
        let taken = try #require(f.beginSplice(ends(port: 40002), idleTimeout: 600_000_000_000, ended: record))
        let idle = try #require(f.beginSplice(ends(port: 40003), idleTimeout: 30_000_000_000, ended: record))
        for slot in [reset, taken, idle] { f.completeSplice(slot, now: now) }
        for (slot, bits) in [(reset, FP_SPLICE_RST), (taken, FP_SPLICE_TAKEN)] {
            var key = UInt32(slot)
            var pair = try #require(f.splicePair(slot))
            pair.closing = UInt32(bits)
            #expect(fastpath_map_update(f.maps.pairs, &key, &pair, 0) == 0)
        }
        f.sweepSplices(now: now + 1_000_000_000)
        #expect(ended.count == 1, "a SYN on the addresses ends it at once")
        f.sweepSplices(now: now + FastPath.spliceLinger + 1_000_000_000)
        #expect(ended.count == 2, "a reset, after the linger")
        f.sweepSplices(now: now + 31_000_000_000)
        #expect(ended.count == 3, "no segment for the idle timeout")
        #expect(f.status.splice.active == 0)
    }

    @Test func IPO4_abandoningRemovesEverythingWithoutEnding() throws {
        let f = try makeFastPath()
        defer { f.stop() }
        let ended = Ended()
        let record = ended.record
        let slot = try #require(f.beginSplice(ends(), idleTimeout: 1, ended: record))
        f.abandonSplice(slot)
        #expect(lookup4(f, fromClient) == nil && lookup6(f, fromBackend) == nil)
        #expect(lookup4(f, toClient) == nil && lookup6(f, toBackend) == nil)
        f.sweepSplices(now: clock + 600_000_000_000)
        #expect(ended.count == 0, "the relay still has the connection")
        #expect(f.status.splice.abandoned == 1 && f.status.splice.active == 0)
    }

    @Test func IPO1_withEverySlotTakenAConnectionStaysOnTheRelayAndIsCounted() throws {
        let f = try makeFastPath(maxFlows: 16)
        defer { f.stop() }
        for port in 0..<16 { #expect(f.beginSplice(ends(port: 41000 + UInt16(port)), idleTimeout: 1, ended: ignore) != nil) }
        #expect(f.beginSplice(ends(port: 42000), idleTimeout: 1, ended: ignore) == nil)
        #expect(f.status.splice.full == 1 && f.status.splice.active == 16)
        f.abandonSplice(3)
        #expect(f.beginSplice(ends(port: 42000), idleTimeout: 1, ended: ignore) == 3, "a freed slot is used again")
    }
}
