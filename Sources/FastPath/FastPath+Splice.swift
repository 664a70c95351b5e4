// Proxied connections spliced in the kernel: the inbound proxy's offload (`[proxy] offload`, docs/design.md,
// "Spliced proxy connections"). The proxy has the client's IPv4 connection and its own IPv6 connection to the
// backend, both carrying one byte stream; the program rewrites each segment of one into a segment of the other
// (fastpath.bpf.c, "Spliced proxy connections"), so bulk transfers cost what kernel forwarding costs instead of
// two TCP stacks and a relay.
//
// A splice goes through three states, each one the proxy's relay thread or this file's sweep moves forward:
//   begin     the relay thread fills a slot and the two map entries, pending: the program carries every
//             segment and gives the proxy's socket a copy, so the relay's sockets still finish what they owe;
//   complete  the relay thread saw each socket's peer acknowledge everything that only that socket had: the
//             entries lose `pending` and the thread closes its sockets without a FIN or reset (TCP_REPAIR);
//             the holds on what those sockets send (the egress program) stay 2 s longer, for late copies;
//   end       once a second the fast path's thread ends completed splices that closed (a reset, or a FIN each way, then
//             5 s quiet for the last retransmissions), that were idle for the proxy's idle timeout, or whose
//             addresses a new connection's SYN took: entries out, slot free, `ended` called with the bytes.
// `abandon` takes a pending splice out at once (the relay carries on as if it had never been offloaded).
import CFastPath
import Forwarding
import NAT64Translator
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// One proxied connection's two ends, as the program needs them (addresses in host order).
public struct SpliceEnds: Sendable {
    public var client: IPv4Address
    public var clientPort: UInt16
    /// The proxy's address and port the client connected to.
    public var front: IPv4Address
    public var frontPort: UInt16
    /// The proxy's end of its connection to the backend.
    public var local: IPv6Address
    public var localPort: UInt16
    public var backend: IPv6Address
    public var backendPort: UInt16
    /// Added to the client's sequence numbers (and the backend's acknowledgments lose it).
    public var clientToBackend: UInt32
    /// Added to the backend's sequence numbers.
    public var backendToClient: UInt32
    /// Window scales: the client's and the backend's own, and the proxy's on each connection.
    public var clientScale: UInt8
    public var frontScale: UInt8
    public var localScale: UInt8
    public var backendScale: UInt8
    /// Each proxy socket's timestamp clock: its TSval = CLOCK_MONOTONIC in ms + this.
    public var frontTimestampOffset: UInt32
    public var localTimestampOffset: UInt32
    /// What each proxy socket had received when the splice began (its rcv_nxt): while pending, its
    /// acknowledgments are held there (fastpath.bpf.c, splice_hold).
    public var frontAckCeiling: UInt32 = 0
    public var localAckCeiling: UInt32 = 0
    /// How far each proxy socket had written when the splice began (its write_seq): the copies it gets
    /// acknowledge no more than it has sent (fastpath.bpf.c, splice_copy).
    public var frontSent: UInt32 = 0
    public var localSent: UInt32 = 0

    public init(client: IPv4Address, clientPort: UInt16, front: IPv4Address, frontPort: UInt16, local: IPv6Address,
                localPort: UInt16, backend: IPv6Address, backendPort: UInt16, clientToBackend: UInt32,
                backendToClient: UInt32, clientScale: UInt8, frontScale: UInt8, localScale: UInt8, backendScale: UInt8,
                frontTimestampOffset: UInt32, localTimestampOffset: UInt32) {
        (self.client, self.clientPort, self.front, self.frontPort) = (client, clientPort, front, frontPort)
        (self.local, self.localPort, self.backend, self.backendPort) = (local, localPort, backend, backendPort)
        (self.clientToBackend, self.backendToClient) = (clientToBackend, backendToClient)
        (self.clientScale, self.frontScale, self.localScale, self.backendScale) =
            (clientScale, frontScale, localScale, backendScale)
        (self.frontTimestampOffset, self.localTimestampOffset) = (frontTimestampOffset, localTimestampOffset)
    }
}

/// What `ctl stats`, `ctl proxy` and /metrics show of spliced connections.
public struct SpliceStatus: Equatable, Sendable {
    public var capacity = 0
    /// In the maps now, and how many of those still pending.
    public var active = 0
    public var pending = 0
    /// Splices begun, completed (the proxy's sockets closed), abandoned while pending, ended, refused (no slot).
    public var begun: UInt64 = 0
    public var completed: UInt64 = 0
    public var abandoned: UInt64 = 0
    public var ended: UInt64 = 0
    public var full: UInt64 = 0
    /// Segments and bytes (IP header included) the program carried each way, and segments it had to drop.
    public var packetsToBackend: UInt64 = 0
    public var bytesToBackend: UInt64 = 0
    public var packetsToClient: UInt64 = 0
    public var bytesToClient: UInt64 = 0
    public var dropped: UInt64 = 0

    public init() {}
}

/// The slots of `fp_pair_map` and what the daemon remembers of each splice (under one lock; a handful of
/// operations per connection, never per packet).
final class SpliceSlots: Sendable {
    struct Record {
        var k4: fp_key4
        var k6: fp_key6
        var toBackend: fp_splice
        var toClient: fp_splice
        var k4out: fp_key4
        var k6out: fp_key6
        var holding = true
        var on = false
        var since: UInt64 = 0
        var idleTimeout: UInt64
        var ended: @Sendable (_ toBackend: UInt64, _ toClient: UInt64) -> Void
    }
    struct State {
        var free: [UInt32]
        var records: [UInt32: Record] = [:]
        var begun: UInt64 = 0, completed: UInt64 = 0, abandoned: UInt64 = 0, ended: UInt64 = 0, full: UInt64 = 0
    }
    let capacity: Int
    let state: Mutex<State>

    init(capacity: Int) {
        self.capacity = capacity
        state = Mutex(State(free: (0..<UInt32(capacity)).reversed()))
    }
}

extension FastPath {
    /// The linger after a connection's end (a reset, or a FIN each way) before its entries go: the last ACK
    /// and any retransmitted FIN still need carrying.
    static let spliceLinger: UInt64 = 5_000_000_000
    /// How long after completion the holds on the proxy's (closed) sockets stay: a copy of a segment still
    /// queued in the stack when the sockets closed would draw a reset, which the hold drops.
    static let holdAfterClose: UInt64 = 2_000_000_000

    /// Puts a connection in the maps, PENDING. Returns its slot, or nil when every slot is taken (counted) or
    /// the kernel refused an entry.
    /// - Parameters:
    ///   - idleTimeout: nanoseconds without a segment after which the splice ends (the proxy's idle timeout).
    ///   - ended: called once, from the fast path's thread, when a completed splice ends: bytes carried each way.
    public func beginSplice(_ ends: SpliceEnds, idleTimeout: UInt64,
                            ended: @escaping @Sendable (_ toBackend: UInt64, _ toClient: UInt64) -> Void) -> Int? {
        var k4 = fp_key4()
        k4.src = ends.client.value.bigEndian
        k4.dst = ends.front.value.bigEndian
        k4.sport = ends.clientPort.bigEndian
        k4.dport = ends.frontPort.bigEndian
        k4.proto = 6
        var k6 = fp_key6()
        store(ends.backend, into: &k6.src)
        store(ends.local, into: &k6.dst)
        k6.sport = ends.backendPort.bigEndian
        k6.dport = ends.localPort.bigEndian
        k6.proto = 6
        var toBackend = fp_splice()
        store(ends.local, into: &toBackend.src6)
        store(ends.backend, into: &toBackend.dst6)
        toBackend.sport = ends.localPort.bigEndian
        toBackend.dport = ends.backendPort.bigEndian
        toBackend.seq_delta = ends.clientToBackend
        toBackend.ack_delta = 0 &- ends.backendToClient
        toBackend.ts_offset = ends.localTimestampOffset
        toBackend.ws_in = ends.clientScale
        toBackend.ws_out = ends.localScale
        toBackend.dir = 0
        var toClient = fp_splice()
        toClient.src4 = ends.front.value.bigEndian
        toClient.dst4 = ends.client.value.bigEndian
        toClient.sport = ends.frontPort.bigEndian
        toClient.dport = ends.clientPort.bigEndian
        toClient.seq_delta = ends.backendToClient
        toClient.ack_delta = 0 &- ends.clientToBackend
        toClient.ts_offset = ends.frontTimestampOffset
        toClient.ws_in = ends.backendScale
        toClient.ws_out = ends.frontScale
        toClient.dir = 1
        // The proxy's own sockets' segments, as they leave (egress program): the same keys turned around.
        var k4out = fp_key4()
        (k4out.src, k4out.dst, k4out.sport, k4out.dport, k4out.proto) = (k4.dst, k4.src, k4.dport, k4.sport, 6)
        var k6out = fp_key6()
        (k6out.src, k6out.dst, k6out.sport, k6out.dport, k6out.proto) = (k6.dst, k6.src, k6.dport, k6.sport, 6)
        var holdFront = fp_splice()
        holdFront.egress = 1
        holdFront.pending = 1
        holdFront.ack_ceiling = ends.frontAckCeiling
        holdFront.sent = ends.frontSent
        var holdLocal = fp_splice()
        holdLocal.egress = 1
        holdLocal.pending = 1
        holdLocal.ack_ceiling = ends.localAckCeiling
        holdLocal.sent = ends.localSent
        return splices.state.withLock { s -> Int? in
            guard let slot = s.free.popLast() else {
                s.full &+= 1
                return nil
            }
            var key = slot
            var pair = fp_splice_pair()
            toBackend.slot = slot
            toClient.slot = slot
            toBackend.pending = 1
            toClient.pending = 1
            holdFront.slot = slot
            holdLocal.slot = slot
            // The holds first (the sockets must not acknowledge a carried segment's copy), then the backend's
            // direction, the client's last: from there its segments are carried.
            func undo() {
                _ = fastpath_map_delete(maps.splice4, &k4out)
                _ = fastpath_map_delete(maps.splice6, &k6out)
                _ = fastpath_map_delete(maps.splice6, &k6)
                s.free.append(slot)
                s.full &+= 1
            }
            guard fastpath_map_update(maps.pairs, &key, &pair, 0) == 0,
                  fastpath_map_update(maps.splice4, &k4out, &holdFront, 0) == 0,
                  fastpath_map_update(maps.splice6, &k6out, &holdLocal, 0) == 0,
                  fastpath_map_update(maps.splice6, &k6, &toClient, 0) == 0,
                  fastpath_map_update(maps.splice4, &k4, &toBackend, 0) == 0 else {
                undo()
                return nil
            }
            s.records[slot] = SpliceSlots.Record(k4: k4, k6: k6, toBackend: toBackend, toClient: toClient,
                                                 k4out: k4out, k6out: k6out, idleTimeout: idleTimeout, ended: ended)
            s.begun &+= 1
            return Int(slot)
        }
    }

    /// The MSS an IPv4 client must be told so that its full segments fit the IPv6 side once spliced (a
    /// 60-byte IPv6 and TCP header within the translator's IPv6 MTU).
    public var spliceClientMSS: Int { Int(settings.withLock { $0.ipv6_mtu }) - 60 }

    /// The proxy's sockets owe nothing any more: segments are carried only (their copies stop). The caller
    /// closes its sockets (without a word) right after.
    public func completeSplice(_ slot: Int) { completeSplice(slot, now: UInt64(monotonicNanoseconds())) }

    /// `completeSplice` at `now` (monotonic nanoseconds, the clock `sweepSplices` is given; tests pass their own).
    func completeSplice(_ slot: Int, now: UInt64) {
        splices.state.withLock { s in
            guard var r = s.records[UInt32(slot)], !r.on else { return }
            // The direction entries change, never the pair the program writes.
            r.toBackend.pending = 0
            r.toClient.pending = 0
            _ = fastpath_map_update(maps.splice4, &r.k4, &r.toBackend, 0)
            _ = fastpath_map_update(maps.splice6, &r.k6, &r.toClient, 0)
            r.on = true
            r.since = now
            s.records[UInt32(slot)] = r
            s.completed &+= 1
        }
    }

    /// Takes a pending splice out at once; its `ended` is not called (the relay still has the connection).
    public func abandonSplice(_ slot: Int) {
        splices.state.withLock { s in
            guard let r = s.records[UInt32(slot)] else { return }
            remove(slot: UInt32(slot), r)
            s.records[UInt32(slot)] = nil
            s.free.append(UInt32(slot))
            s.abandoned &+= 1
        }
    }

    /// Ends completed splices that are over (see the top of this file); the thread's once-a-second step.
    func sweepSplices(now: UInt64) {
        var finished: [(SpliceSlots.Record, UInt64, UInt64)] = []
        splices.state.withLock { s in
            for (slot, var r) in s.records where r.on {
                if r.holding && now &- r.since >= Self.holdAfterClose {
                    // The proxy's sockets closed at least this long ago: no late copy can draw a reset any more.
                    _ = fastpath_map_delete(maps.splice4, &r.k4out)
                    _ = fastpath_map_delete(maps.splice6, &r.k6out)
                    r.holding = false
                    s.records[slot] = r
                }
                var key = slot
                var pair = fp_splice_pair()
                guard fastpath_map_lookup(maps.pairs, &key, &pair) == 0 else { continue }
                let last = max(r.since, pair.use.0.last_seen, pair.use.1.last_seen)
                let quiet = now > last ? now - last : 0
                let closed = pair.closing & UInt32(FP_SPLICE_RST) != 0
                    || pair.closing & UInt32(FP_SPLICE_FIN_CLIENT | FP_SPLICE_FIN_BACKEND)
                        == UInt32(FP_SPLICE_FIN_CLIENT | FP_SPLICE_FIN_BACKEND)
                let taken = pair.closing & UInt32(FP_SPLICE_TAKEN) != 0
                guard taken || (closed && quiet >= Self.spliceLinger) || quiet >= r.idleTimeout else { continue }
                remove(slot: slot, r)
                s.records[slot] = nil
                s.free.append(slot)
                s.ended &+= 1
                finished.append((r, pair.use.0.bytes, pair.use.1.bytes))
            }
        }
        for (r, up, down) in finished { r.ended(up, down) }
    }

    /// The counters, with the program's sums (`sums` indexed by enum fp_stat).
    func spliceStatus(_ sums: [UInt64]) -> SpliceStatus {
        var status = SpliceStatus()
        splices.state.withLock { s in
            status.capacity = splices.capacity
            status.active = s.records.count
            status.pending = s.records.values.reduce(0) { $0 + ($1.on ? 0 : 1) }
            status.begun = s.begun
            status.completed = s.completed
            status.abandoned = s.abandoned
            status.ended = s.ended
            status.full = s.full
        }
        status.packetsToBackend = sums[Int(FP_STAT_SPLICE_C2B_PACKETS.rawValue)]
        status.bytesToBackend = sums[Int(FP_STAT_SPLICE_C2B_BYTES.rawValue)]
        status.packetsToClient = sums[Int(FP_STAT_SPLICE_B2C_PACKETS.rawValue)]
        status.bytesToClient = sums[Int(FP_STAT_SPLICE_B2C_BYTES.rawValue)]
        status.dropped = sums[Int(FP_STAT_SPLICE_DROPPED.rawValue)]
        return status
    }

    /// A slot's pair entry as the program sees it (tests).
    func splicePair(_ slot: Int) -> fp_splice_pair? {
        var key = UInt32(slot)
        var pair = fp_splice_pair()
        return fastpath_map_lookup(maps.pairs, &key, &pair) == 0 ? pair : nil
    }

    private func remove(slot: UInt32, _ r: SpliceSlots.Record) {
        var (k4, k6, k4out, k6out) = (r.k4, r.k6, r.k4out, r.k6out)
        _ = fastpath_map_delete(maps.splice4, &k4)
        _ = fastpath_map_delete(maps.splice6, &k6)
        if r.holding {
            _ = fastpath_map_delete(maps.splice4, &k4out)
            _ = fastpath_map_delete(maps.splice6, &k6out)
        }
        var key = slot
        var pair = fp_splice_pair()
        _ = fastpath_map_update(maps.pairs, &key, &pair, 0)
    }
}
