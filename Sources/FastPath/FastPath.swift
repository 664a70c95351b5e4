// The in-kernel fast path (`[fast-path] interfaces`): established TCP and UDP flows translated by a tc ingress
// program on the gateway's own interfaces, so their packets never cross the TUN (docs/design.md, "The fast
// path").
//
// The translator stays the only one that decides. Each session the table creates reaches this class as a
// `MappingEvent` (the table's hook, under the table lock, into a bounded ring); a thread of its own copies the
// session's two translations into the program's maps, after checking under the table lock that the session
// still exists. A session that ends leaves the maps at once, in the hook itself: the table may give its pool4
// port to the next flow straight away, and the program must never translate that flow with the old mapping.
// The program stamps every entry it uses; once a second the thread reads the stamps in batches and refreshes
// those sessions in the table (`BindingTable.refreshCarried`), so a session that only the kernel carries lives
// as long as one the TUN carries.
//
// What can go wrong, and what then happens:
//   - the ring is full: the new session is not offloaded (counted); its packets keep taking the TUN;
//   - a map is full (`max-flows`): the same, counted as map-full;
//   - a session the table no longer has (it cannot happen by the rules above; checked anyway): its entries
//     are withdrawn when the stamps are read;
//   - a capture is running: the program is switched off, so the capture sees every packet.
import CFastPath
import Forwarding
import NAT64Translator
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Why the fast path could not start (the message names the cause and what to do).
public struct FastPathError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// What `ctl stats` and /metrics show of the fast path (FastPathMetrics.swift makes the samples).
public struct FastPathStatus: Equatable, Sendable {
    /// False while a capture runs (every packet then takes the TUN).
    public var enabled = false
    /// Sessions whose translations are in the maps now.
    public var flows = 0
    public var maxFlows = 0
    /// Segments and bytes (IP header included) the program translated, IPv6 → IPv4 and IPv4 → IPv6.
    public var packets6to4: UInt64 = 0
    public var bytes6to4: UInt64 = 0
    public var packets4to6: UInt64 = 0
    public var bytes4to6: UInt64 = 0
    /// Packets of offloaded flows the program left to the TUN (SYN/FIN/RST, too big, no neighbour yet...).
    public var passed: UInt64 = 0
    /// Sessions copied into the maps, and taken out again.
    public var offloaded: UInt64 = 0
    public var withdrawn: UInt64 = 0
    /// Sessions not offloaded because a map was full (`max-flows`).
    public var mapFull: UInt64 = 0
    /// New sessions lost to a full ring or wait queue: never offloaded, their packets take the TUN.
    public var eventsDropped: UInt64 = 0
    /// Session refreshes made from the program's stamps.
    public var refreshes: UInt64 = 0
    /// Proxied connections spliced in the kernel (FastPath+Splice.swift).
    public var splice = SpliceStatus()

    public init() {}
}

public final class FastPath: Sendable {
    /// Where the table's hook pushes session events (the table lock orders the producers).
    let events = EventRing<MappingEvent>(minimumCapacity: 65_536)
    public let interfaces: [String]
    public let maxFlows: Int
    let maps: Maps
    private let program: Int32
    /// The egress program: only spliced proxy connections' own sockets while pending (FastPath+Splice.swift).
    private let egressProgram: Int32
    private let links: [Int32]
    private let prefix: NAT64Prefix
    private let table: BindingTable
    private let offloaded = Atomic<UInt64>(0)
    private let withdrawn = Atomic<UInt64>(0)
    private let mapFull = Atomic<UInt64>(0)
    private let refreshes = Atomic<UInt64>(0)
    private let queueFull = Atomic<UInt64>(0)
    /// New sessions waiting out `offloadAfter`, oldest first (the thread's own).
    private let waiting: EventQueue
    /// The sessions in the maps: read and changed only under the table lock (the hook runs under it, and the
    /// thread takes it).
    private let offloadedFlows: FlowSet

    /// How old a session must be before it is offloaded: short exchanges (a DNS query over UDP, an HTTP
    /// request on a new connection) end within it and never cost a map insertion and deletion, while a bulk
    /// flow loses only its first moments to the TUN. (The same reason a Linux flowtable offloads a connection
    /// only once it has seen the reply.)
    public static let offloadAfter: Nanoseconds = 20_000_000
    private let stopRequested = Atomic<Bool>(false)
    private let thread: Mutex<DedicatedThread?> = Mutex(nil)
    /// The closure in a struct: a closure stored bare in a Mutex grows a reabstraction thunk on every read.
    private struct Capturing: Sendable { var ask: @Sendable () -> Bool }
    private let capturing = Mutex(Capturing(ask: { false }))
    private let programEnabled = Atomic<Bool>(true)
    /// The configuration map's one entry as last written: every change (a capture, a reload, the thread) goes
    /// through this lock and writes the whole entry, so two changes never undo each other.
    let settings: Mutex<fp_config>
    private let cpus: Int

    struct Maps: Sendable {
        let out: Int32, inbound: Int32, config: Int32, stats: Int32
        let splice4: Int32, splice6: Int32, pairs: Int32
        /// In the order of `enum fastpath_map` (the program's relocations).
        var all: [Int32] { [out, inbound, config, stats, splice4, splice6, pairs] }
    }
    /// Spliced proxy connections (FastPath+Splice.swift).
    let splices: SpliceSlots

    /// Loads the programs, creates their maps and attaches them to the ingress (and, for spliced proxy
    /// connections, the egress) of each interface in `interfaces`.
    ///
    /// - Parameters:
    ///   - interfaces: Ethernet interfaces of the gateway where IPv6 hosts' and IPv4 peers' packets arrive.
    ///   - tunIndex: the TUN's interface index (a route back into it stays with the translator).
    ///   - configuration: the translator's (prefix, MTUs, traffic class).
    ///   - table: the shared state table whose sessions are offloaded.
    ///   - maxFlows: the bound of each map.
    /// - Throws: `FastPathError` naming the interface or the kernel's refusal.
    public init(interfaces: [String], tunIndex: Int32, configuration: TranslatorConfiguration, table: BindingTable,
                maxFlows: Int) throws {
        self.interfaces = interfaces
        self.maxFlows = maxFlows
        prefix = configuration.prefix
        self.table = table
        waiting = EventQueue(capacity: 65_536)
        offloadedFlows = FlowSet(capacity: maxFlows)
        let possible = fastpath_possible_cpus()
        cpus = Int(max(1, possible))
        var created: [Int32] = []
        func map(_ type: UInt32, _ key: Int, _ value: Int, _ entries: Int, _ name: String) throws -> Int32 {
            let fd = fastpath_map_create(type, UInt32(key), UInt32(value), UInt32(entries), name)
            guard fd >= 0 else {
                created.forEach { close($0) }
                throw FastPathError("fast path: the kernel refused a BPF map (\(errorText(-fd))); it needs "
                    + "CAP_BPF and CAP_NET_ADMIN (or root), or remove [fast-path] interfaces")
            }
            created.append(fd)
            return fd
        }
        let hash = UInt32(FASTPATH_HASH)
        let out = try map(hash, MemoryLayout<fp_key6>.size, MemoryLayout<fp_out>.size, maxFlows, "nat64d_fp_out")
        let inbound = try map(hash, MemoryLayout<fp_key4>.size, MemoryLayout<fp_in>.size, maxFlows, "nat64d_fp_in")
        let config = try map(UInt32(FASTPATH_ARRAY), 4, MemoryLayout<fp_config>.size, 1, "nat64d_fp_cfg")
        let stats = try map(UInt32(FASTPATH_PERCPU_ARRAY), 4, 8, Int(FP_STAT_COUNT.rawValue), "nat64d_fp_stats")
        // Two entries each per splice: the direction into the proxy, and the hold on the proxy's own socket.
        let splice4 = try map(hash, MemoryLayout<fp_key4>.size, MemoryLayout<fp_splice>.size, 2 * maxFlows,
                              "nat64d_fp_sp4")
        let splice6 = try map(hash, MemoryLayout<fp_key6>.size, MemoryLayout<fp_splice>.size, 2 * maxFlows,
                              "nat64d_fp_sp6")
        let pairs = try map(UInt32(FASTPATH_ARRAY), 4, MemoryLayout<fp_splice_pair>.size, maxFlows, "nat64d_fp_pairs")
        maps = Maps(out: out, inbound: inbound, config: config, stats: stats, splice4: splice4, splice6: splice6,
                    pairs: pairs)
        splices = SpliceSlots(capacity: maxFlows)

        var initial = fp_config()
        initial.enabled = 1
        initial.tun_ifindex = UInt32(bitPattern: tunIndex)
        Self.copy(configuration, into: &initial)
        var zero: UInt32 = 0
        _ = fastpath_map_update(config, &zero, &initial, 0)
        settings = Mutex(initial)

        var log = [CChar](repeating: 0, count: 1 << 20)
        let fds = maps.all
        func load(egress: Bool) throws -> Int32 {
            let loaded = fds.withUnsafeBufferPointer {
                fastpath_program_load(egress ? 1 : 0, $0.baseAddress, &log, UInt32(log.count))
            }
            guard loaded >= 0 else {
                created.forEach { close($0) }
                let verifier = String(decoding: log.prefix { $0 != 0 }.suffix(600).map { UInt8(bitPattern: $0) },
                                      as: UTF8.self)
                throw FastPathError("fast path: the kernel refused the \(egress ? "egress " : "")program "
                    + "(\(errorText(-loaded)))" + (verifier.isEmpty ? "" : "; verifier: \(verifier)"))
            }
            return loaded
        }
        let loaded = try load(egress: false)
        let egress: Int32
        do { egress = try load(egress: true) } catch {
            close(loaded)
            throw error
        }
        program = loaded
        egressProgram = egress
        var attached: [Int32] = []
        for name in interfaces {
            let index = Int32(bitPattern: if_nametoindex(name))
            let link = index > 0 ? fastpath_attach_ingress(loaded, index) : -ENODEV
            let egressLink = link >= 0 ? fastpath_attach_egress(egress, index) : link
            guard link >= 0, egressLink >= 0 else {
                if link >= 0 { close(link) }
                attached.forEach { close($0) }
                close(loaded)
                close(egress)
                created.forEach { close($0) }
                let code = link >= 0 ? egressLink : link
                throw FastPathError(index <= 0
                    ? "fast path: no interface \"\(name)\" (fix [fast-path] interfaces)"
                    : "fast path: cannot attach to \"\(name)\" (\(errorText(-code))); tcx needs Linux 6.6 or later")
            }
            attached.append(link)
            attached.append(egressLink)
        }
        links = attached
    }

    /// The hook for `BindingTable.onMappingEvent` (chain it with any other). A new TCP or UDP session goes into
    /// the ring, for the thread to offload once it is `offloadAfter` old. An offloaded one that ends leaves the
    /// maps here and now, on the packet thread and under the table lock: the table may give its pool4 port to
    /// the next flow at once, and the program must never translate that flow's packets with the old session's
    /// mapping. (Two map deletions, a few microseconds, for offloaded sessions only; no file I/O.)
    public func hook(_ e: MappingEvent) {
        guard e.proto == IPProtocolNumber.tcp || e.proto == IPProtocolNumber.udp else { return }
        switch e.kind {
        case .sessionCreated: events.push(e)
        case .sessionDeleted: withdraw(e)  // a set lookup; map deletions only for an offloaded session
        default: return
        }
    }

    /// Starts the thread that keeps the maps in step with the table.
    public func start() throws {
        let t = try DedicatedThread(name: "nat64d-fastpath") { [self] in run() }
        thread.withLock { $0 = t }
    }

    /// Stops the thread and detaches the program (closing the links detaches it; the maps go with the last
    /// reference).
    public func stop() {
        stopRequested.store(true, ordering: .releasing)
        thread.withLock { t in
            t?.join()
            t = nil
        }
        for fd in links { close(fd) }
        close(program)
        close(egressProgram)
        for fd in maps.all { close(fd) }
    }

    /// Makes the program follow the capture: while `capturing()` is true it is off, so the capture sees every
    /// packet. The thread asks every 100 ms; `suspendForCapture` switches it off at once, before a capture starts.
    public func follow(capturing: @escaping @Sendable () -> Bool) {
        self.capturing.withLock { $0 = Capturing(ask: capturing) }
    }

    /// Switches the program off now (a capture is about to start); the thread switches it on again once no
    /// capture runs.
    public func suspendForCapture() { setProgramEnabled(false) }

    /// The translator's settings the program repeats (MTUs, traffic class) after a reload.
    public func reconfigure(_ configuration: TranslatorConfiguration) {
        changeSettings { Self.copy(configuration, into: &$0) }
    }

    private func changeSettings(_ change: (inout fp_config) -> Void) {
        settings.withLock { current in
            change(&current)
            var zero: UInt32 = 0
            _ = fastpath_map_update(maps.config, &zero, &current, 0)
        }
    }

    static func copy(_ configuration: TranslatorConfiguration, into settings: inout fp_config) {
        settings.ipv4_mtu = UInt16(clamping: configuration.ipv4MTU)
        settings.ipv6_mtu = UInt16(clamping: configuration.ipv6MTU)
        settings.min_ipv6_mtu = UInt16(clamping: configuration.minimumIPv6MTU)
        settings.class_mode = configuration.stateless.trafficClass == .copy ? 0 : 1  // T6.1 / T4.1: copy or zero
        settings.class_value = 0
    }

    private func setProgramEnabled(_ on: Bool) {
        changeSettings {
            $0.enabled = on ? 1 : 0
            programEnabled.store(on, ordering: .relaxed)
        }
    }

    /// The counters, with the program's per-CPU sums.
    public var status: FastPathStatus {
        var s = FastPathStatus()
        s.enabled = programEnabled.load(ordering: .relaxed)
        s.maxFlows = maxFlows
        s.offloaded = offloaded.load(ordering: .relaxed)
        s.withdrawn = withdrawn.load(ordering: .relaxed)
        s.flows = Int(clamping: s.offloaded &- s.withdrawn)
        s.mapFull = mapFull.load(ordering: .relaxed)
        s.refreshes = refreshes.load(ordering: .relaxed)
        s.eventsDropped = events.dropped &+ queueFull.load(ordering: .relaxed)
        var sums = [UInt64](repeating: 0, count: Int(FP_STAT_COUNT.rawValue))
        var values = [UInt64](repeating: 0, count: cpus)
        for i in 0..<sums.count {
            var key = UInt32(i)
            if fastpath_map_lookup(maps.stats, &key, &values) == 0 { sums[i] = values.reduce(0, &+) }
        }
        s.packets6to4 = sums[Int(FP_STAT_OUT_PACKETS.rawValue)]
        s.bytes6to4 = sums[Int(FP_STAT_OUT_BYTES.rawValue)]
        s.packets4to6 = sums[Int(FP_STAT_IN_PACKETS.rawValue)]
        s.bytes4to6 = sums[Int(FP_STAT_IN_BYTES.rawValue)]
        s.passed = sums[Int(FP_STAT_PASSED.rawValue)]
        s.splice = spliceStatus(sums)
        return s
    }

    // MARK: The thread

    private func run() {
        var lastScan = monotonicNanoseconds()
        var lastCaptureLook = lastScan
        while !stopRequested.load(ordering: .acquiring) {
            let applied = drain(now: monotonicNanoseconds())
            let now = monotonicNanoseconds()
            if now - lastCaptureLook >= 100_000_000 {
                lastCaptureLook = now
                let want = !capturing.withLock { $0.ask }()
                if want != programEnabled.load(ordering: .relaxed) { setProgramEnabled(want) }
            }
            if now - lastScan >= 1_000_000_000 {
                refresh(since: lastScan, now: now)
                sweepSplices(now: UInt64(now))
                lastScan = now
            }
            if applied == 0 { usleep(10_000) }
        }
    }

    /// Takes the new sessions out of the ring and offloads those at least `offloadAfter` old that are still
    /// there (the thread's step; tests call it with their own clock). A session lost to a full ring or queue is
    /// simply not offloaded: its packets keep taking the TUN.
    /// - Returns: how many sessions were looked at.
    @discardableResult
    func drain(now: Nanoseconds) -> Int {
        let waiting = self.waiting
        events.drain { e in
            if !waiting.push(e) { queueFull.wrappingAdd(1, ordering: .relaxed) }
        }
        var ready: [MappingEvent] = []
        while let e = waiting.first, e.time <= now - FastPath.offloadAfter {
            ready.append(e)
            waiting.removeFirst()
        }
        guard !ready.isEmpty else { return 0 }
        table.lock.withLock {
            for e in ready { offload(e) }
        }
        return ready.count
    }

    /// The two map entries of a session, as the program would find them (tests).
    func entries(_ e: MappingEvent) -> (fp_out, fp_in)? {
        var (k6, k4) = keys(e)
        var out = fp_out()
        var inbound = fp_in()
        guard fastpath_map_lookup(maps.out, &k6, &out) == 0, fastpath_map_lookup(maps.inbound, &k4, &inbound) == 0
        else { return nil }
        return (out, inbound)
    }

    /// The configuration map's entry, as the program reads it (tests).
    var programSettings: fp_config {
        var zero: UInt32 = 0
        var current = fp_config()
        _ = fastpath_map_lookup(maps.config, &zero, &current)
        return current
    }

    /// Stamps a session's entries as the program does when it carries a packet (tests).
    func stamp(_ e: MappingEvent, fromIPv4: Bool, at time: UInt64) {
        var (k6, k4) = keys(e)
        if fromIPv4 {
            var v = fp_in()
            guard fastpath_map_lookup(maps.inbound, &k4, &v) == 0 else { return }
            v.use.last_seen = time
            _ = fastpath_map_update(maps.inbound, &k4, &v, 0)
        } else {
            var v = fp_out()
            guard fastpath_map_lookup(maps.out, &k6, &v) == 0 else { return }
            v.use.last_seen = time
            _ = fastpath_map_update(maps.out, &k6, &v, 0)
        }
    }

    private func keys(_ e: MappingEvent) -> (fp_key6, fp_key4) {
        var k6 = fp_key6()
        store(e.inside, into: &k6.src)
        store(prefix.embed(e.remote), into: &k6.dst)
        k6.sport = e.insidePort.bigEndian
        k6.dport = e.remotePort.bigEndian
        k6.proto = e.proto
        var k4 = fp_key4()
        k4.src = e.remote.value.bigEndian
        k4.dst = e.outside.value.bigEndian
        k4.sport = e.remotePort.bigEndian
        k4.dport = e.outsidePort.bigEndian
        k4.proto = e.proto
        return (k6, k4)
    }

    /// Takes a session's entries out of the maps if it was offloaded (call with the table lock held: the
    /// hook, or the thread).
    func withdraw(_ e: MappingEvent) {
        guard offloadedFlows.remove(FlowKey(e)) else { return }
        var (k6, k4) = keys(e)
        _ = fastpath_map_delete(maps.out, &k6)
        _ = fastpath_map_delete(maps.inbound, &k4)
        withdrawn.wrappingAdd(1, ordering: .relaxed)
    }

    /// Copies a new session's two translations into the maps if the table still holds it, established (call
    /// with the table lock held, so the session cannot end before its entries are in: its end withdraws them
    /// under the same lock).
    private func offload(_ e: MappingEvent) {
        guard table.holdsEstablishedSession(inside: e.inside, port: e.insidePort, remote: e.remote,
                                            remotePort: e.remotePort, proto: e.proto, outside: e.outside,
                                            outsidePort: e.outsidePort) else { return }
        guard offloadedFlows.count < maxFlows else {
            mapFull.wrappingAdd(1, ordering: .relaxed)
            return
        }
        var (k6, k4) = keys(e)
        var out = fp_out()
        out.src4 = e.outside.value.bigEndian
        out.dst4 = e.remote.value.bigEndian
        out.sport4 = e.outsidePort.bigEndian
        out.dport4 = e.remotePort.bigEndian
        var inbound = fp_in()
        inbound.src6 = k6.dst
        inbound.dst6 = k6.src
        inbound.sport6 = e.remotePort.bigEndian
        inbound.dport6 = e.insidePort.bigEndian
        guard fastpath_map_update(maps.out, &k6, &out, 0) == 0 else {
            mapFull.wrappingAdd(1, ordering: .relaxed)
            return
        }
        guard fastpath_map_update(maps.inbound, &k4, &inbound, 0) == 0 else {
            _ = fastpath_map_delete(maps.out, &k6)
            mapFull.wrappingAdd(1, ordering: .relaxed)
            return
        }
        offloadedFlows.insert(FlowKey(e))
        offloaded.wrappingAdd(1, ordering: .relaxed)
    }

    /// Refreshes the sessions whose entries the program stamped after `since` (S4); withdraws entries whose
    /// session is gone. Reads the maps in batches of 256 entries per system call.
    func refresh(since: Nanoseconds, now: Nanoseconds) {
        var refreshed: UInt64 = 0
        var stale: [MappingEvent] = []
        func carried(_ e: MappingEvent, at stamp: UInt64, fromIPv4: Bool) {
            guard Int64(bitPattern: stamp) > since else { return }
            let alive = table.lock.withLock {
                table.refreshCarried(inside: e.inside, port: e.insidePort, remote: e.remote, remotePort: e.remotePort,
                                     proto: e.proto, fromIPv4: fromIPv4, now: now)
            }
            if alive { refreshed += 1 } else { stale.append(e) }
        }
        walk(maps.out, key: fp_key6.self, value: fp_out.self) { carried(event($0, $1), at: $1.use.last_seen, fromIPv4: false) }
        walk(maps.inbound, key: fp_key4.self, value: fp_in.self) { carried(event($0, $1), at: $1.use.last_seen, fromIPv4: true) }
        if !stale.isEmpty { table.lock.withLock { for e in stale { withdraw(e) } } }
        refreshes.wrappingAdd(refreshed, ordering: .relaxed)
    }

    private func event(_ k: fp_key6, _ v: fp_out) -> MappingEvent {
        return MappingEvent(kind: .sessionDeleted, time: 0, proto: k.proto, inside: load(k.src),
                            insidePort: UInt16(bigEndian: k.sport), outside: IPv4Address(UInt32(bigEndian: v.src4)),
                            outsidePort: UInt16(bigEndian: v.sport4), portCount: 1,
                            remote: IPv4Address(UInt32(bigEndian: v.dst4)), remotePort: UInt16(bigEndian: k.dport),
                            reason: .expired)
    }

    private func event(_ k: fp_key4, _ v: fp_in) -> MappingEvent {
        MappingEvent(kind: .sessionDeleted, time: 0, proto: k.proto, inside: load(v.dst6),
                     insidePort: UInt16(bigEndian: v.dport6), outside: IPv4Address(UInt32(bigEndian: k.dst)),
                     outsidePort: UInt16(bigEndian: k.dport), portCount: 1, remote: IPv4Address(UInt32(bigEndian: k.src)),
                     remotePort: UInt16(bigEndian: k.sport), reason: .expired)
    }

    /// Every entry of a hash map, read `batch` at a time; bounded by the map's size.
    private func walk<K, V>(_ fd: Int32, key: K.Type, value: V.Type, _ body: (K, V) -> Void) {
        let batch = 256
        let keys = UnsafeMutablePointer<K>.allocate(capacity: batch)
        let values = UnsafeMutablePointer<V>.allocate(capacity: batch)
        defer {
            keys.deallocate()
            values.deallocate()
        }
        var position: UInt32 = 0
        var next: UInt32 = 0
        var first = true
        var visited = 0
        while visited <= maxFlows {
            var count = UInt32(batch)
            let r = first ? fastpath_map_lookup_batch(fd, nil, &next, keys, values, &count)
                          : fastpath_map_lookup_batch(fd, &position, &next, keys, values, &count)
            first = false
            for i in 0..<Int(count) { body(keys[i], values[i]) }
            visited += Int(count)
            guard r == 0 else { return }  // -ENOENT: the walk is over; another error: try again next second
            position = next
        }
    }
}

func errorText(_ code: Int32) -> String { String(cString: strerror(code)) }

/// A session as the fast path files it: its IPv6-side five-tuple.
struct FlowKey: Hashable {
    let inside: IPv6Address
    let insidePort: UInt16
    let remote: UInt32
    let remotePort: UInt16
    let proto: UInt8

    init(_ e: MappingEvent) {
        inside = e.inside
        insidePort = e.insidePort
        remote = e.remote.value
        remotePort = e.remotePort
        proto = e.proto
    }
}

/// The offloaded sessions, reserved for `capacity` so the hook never grows it. Not thread-safe by itself: the
/// table lock guards it (see `FastPath.offloadedFlows`).
final class FlowSet: @unchecked Sendable {
    private var flows: Set<FlowKey>
    init(capacity: Int) { flows = Set(minimumCapacity: capacity) }
    var count: Int { flows.count }
    func insert(_ k: FlowKey) { flows.insert(k) }
    /// - Returns: whether it was there.
    func remove(_ k: FlowKey) -> Bool { flows.remove(k) != nil }
}

/// The thread's queue of new sessions waiting to be old enough, bounded; only the fast path's thread (or a
/// test in its place) uses it. (Not `EventRing`, which only drains whole, and not NIO's `CircularBuffer`,
/// which would make this target depend on SwiftNIO for one FIFO.)
final class EventQueue: @unchecked Sendable {
    private var slots: [MappingEvent]
    private var head = 0
    private(set) var count = 0
    init(capacity: Int) {
        slots = []
        slots.reserveCapacity(capacity)
        self.capacity = capacity
    }
    let capacity: Int
    var first: MappingEvent? { count == 0 ? nil : slots[head] }
    /// - Returns: false when full.
    func push(_ e: MappingEvent) -> Bool {
        guard count < capacity else { return false }
        if slots.count < capacity {
            slots.append(e)
        } else {
            slots[(head + count) % capacity] = e
        }
        count += 1
        return true
    }
    func removeFirst() {
        head = (head + 1) % capacity
        count -= 1
    }
}

/// The 16 bytes of a map key or value holding an IPv6 address, in network order.
typealias AddressBytes = (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                          UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8)

func store(_ a: IPv6Address, into bytes: inout AddressBytes) {
    withUnsafeMutableBytes(of: &bytes) {
        $0.storeBytes(of: a.high.bigEndian, toByteOffset: 0, as: UInt64.self)
        $0.storeBytes(of: a.low.bigEndian, toByteOffset: 8, as: UInt64.self)
    }
}

func load(_ bytes: AddressBytes) -> IPv6Address {
    withUnsafeBytes(of: bytes) {
        IPv6Address(high: UInt64(bigEndian: $0.loadUnaligned(fromByteOffset: 0, as: UInt64.self)),
                    low: UInt64(bigEndian: $0.loadUnaligned(fromByteOffset: 8, as: UInt64.self)))
    }
}
