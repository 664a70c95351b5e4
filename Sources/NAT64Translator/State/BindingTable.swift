// RFC 6146 §3.5 state: the Binding Information Base and the session table, on flat preallocated memory
// (conformance S1–S4, S9, S10; issue 4).
//
// Layout (all allocated once, at init; nothing is allocated per packet):
// - `sessions`: a slab of fixed-size `SessionEntry` (80 bytes), one per 5-tuple flow. A session carries its
//   whole mapping (IPv6 endpoint, pool4 endpoint, remote IPv4 endpoint), so an established flow costs one
//   probe of one index in either direction.
// - `bibs`: a slab of `BIBEntry` (48 bytes): (IPv6 address, port) ↔ (pool4 address, port) per protocol, with
//   the list of its sessions. Endpoint-independent mapping (S1) and filtering (S2) look here on a session miss.
// - `hosts`: a slab of `HostEntry` per IPv6 host: its session count (S9 per-host limit) and, in the 1:1 modes
//   (S10), its IPv4 address.
// - six `FlatIndex`es (4-byte buckets, load ≤ 0.5) over those slabs: sessions by inside and outside 5-tuple,
//   BIB by inside and outside endpoint, hosts by IPv6 address and by 1:1 IPv4 address.
// - a timer wheel (`BindingTable+Expiry.swift`) threading sessions through intrusive lists; the packet path
//   only writes a session's deadline, the wheel re-files lazily, and no full scan ever runs.
//
// Ownership: one table per packet thread (shard). The class has reference semantics and no locks; it must
// only be used by the thread that owns its translator. All mutable scalars live behind `let` pointers, so the
// hot path pays no dynamic exclusivity checks.

/// Monotonic time in nanoseconds, passed in by the caller (the translator never reads a clock).
public typealias Nanoseconds = Int64

/// The IPv6 side of a mapping: an IPv6 host's address and port (or ICMP identifier).
public struct Endpoint6: Hashable, Sendable {
    public var address: IPv6Address
    public var port: UInt16
    public var proto: UInt8
    @inlinable public init(address: IPv6Address, port: UInt16, proto: UInt8) {
        self.address = address
        self.port = port
        self.proto = proto
    }
}

/// The IPv4 side of a mapping: a pool4 (or remote) address and port (or ICMP identifier).
public struct Endpoint4: Hashable, Sendable {
    public var address: IPv4Address
    public var port: UInt16
    public var proto: UInt8
    @inlinable public init(address: IPv4Address, port: UInt16, proto: UInt8) {
        self.address = address
        self.port = port
        self.proto = proto
    }
}

/// One session as listed for the control interface and tests (not used on the packet path).
public struct Binding: Sendable, Equatable {
    /// The IPv6 host's endpoint.
    public var inside: Endpoint6
    /// The pool4 endpoint it is mapped to.
    public var outside: Endpoint4
    /// The IPv4 peer of this session (address, port; port 0 for ICMP).
    public var remote: Endpoint4
    /// Last time a packet refreshed the session (its deadline minus its current lifetime).
    public var lastUsed: Nanoseconds
    /// When the session was made.
    public var created: Nanoseconds
    /// When the session expires unless refreshed.
    public var expires: Nanoseconds
    /// The RFC 6146 §3.5.2 state of a TCP session; nil for UDP and ICMP.
    public var tcpState: TCPState?
}

/// Session lifetimes (RFC 6146 §4; the configuration enforces the RFC minimums, conformance S4).
public struct SessionTimeouts: Sendable, Equatable {
    /// UDP_DEFAULT, 5 min (≥ 2 min).
    public var udp: Nanoseconds
    /// TCP_EST, 2 h 4 min.
    public var tcp: Nanoseconds
    /// ICMP_DEFAULT, 60 s.
    public var icmp: Nanoseconds
    /// TCP_TRANS, 4 min.
    public var tcpTransitory: Nanoseconds
    /// TCP_INCOMING_SYN, 6 s: how long an IPv4 SYN is held (S6) and a V4 INIT session lives.
    public var incomingSYN: Nanoseconds
    /// How long an out-of-order fragment is held (S8), 2 s.
    public var fragment: Nanoseconds

    public init(udpSeconds: Int = 300, tcpSeconds: Int = 7440, icmpSeconds: Int = 60,
                tcpTransitorySeconds: Int = 240, incomingSYNSeconds: Int = 6, fragmentSeconds: Int = 2) {
        udp = Nanoseconds(udpSeconds) * 1_000_000_000
        tcp = Nanoseconds(tcpSeconds) * 1_000_000_000
        icmp = Nanoseconds(icmpSeconds) * 1_000_000_000
        tcpTransitory = Nanoseconds(tcpTransitorySeconds) * 1_000_000_000
        incomingSYN = Nanoseconds(incomingSYNSeconds) * 1_000_000_000
        fragment = Nanoseconds(fragmentSeconds) * 1_000_000_000
    }

    /// The lifetime of a non-TCP session of `proto`.
    @inlinable func timeout(for proto: UInt8) -> Nanoseconds {
        proto == IPProtocolNumber.tcp ? tcp : proto == IPProtocolNumber.udp ? udp : icmp
    }

    /// The lifetime a TCP transition arms, or nil to keep the deadline.
    @inlinable func timeout(for lifetime: TCPLifetime) -> Nanoseconds? {
        switch lifetime {
        case .unchanged: nil
        case .established: tcp
        case .transitory: tcpTransitory
        case .incomingSYN: incomingSYN
        }
    }
}

// MARK: - Entries (fixed size, in preallocated slabs)

/// A session: one 5-tuple flow with its whole mapping. 80 bytes.
@usableFromInline
struct SessionEntry: Sendable {
    var inside: IPv6Address
    var expiry: Nanoseconds
    var created: Nanoseconds
    var remote4: UInt32
    var outside4: UInt32
    var insidePort: UInt16
    var remotePort: UInt16
    var outsidePort: UInt16
    var wheelSlot: UInt16
    var proto: UInt8
    /// `TCPState.rawValue` for TCP; `TCPState.established` for UDP/ICMP.
    var state: UInt8
    /// Owning BIB entry.
    var bib: UInt32
    /// Sessions of the same BIB entry (doubly linked); `bibNext` doubles as the free-list link.
    var bibNext: UInt32
    var bibPrev: UInt32
    /// Timer wheel list links.
    var wheelNext: UInt32
    var wheelPrev: UInt32
    var insideHash: UInt32
    var outsideHash: UInt32
}

/// A BIB entry (S1): (IPv6 address, port) ↔ (IPv4 address, port) for one protocol. 48 bytes.
@usableFromInline
struct BIBEntry: Sendable {
    var inside: IPv6Address
    var outside4: UInt32
    var insidePort: UInt16
    var outsidePort: UInt16
    var proto: UInt8
    /// `BIBFlags` (S13: a port forward's entry); fits the padding.
    var flags: UInt8 = 0
    var host: UInt32
    /// First session (or the free-list link while unused).
    var sessionHead: UInt32
    var sessionCount: UInt32
    var insideHash: UInt32
    var outsideHash: UInt32
}

/// How a host got its IPv4 address.
@usableFromInline
enum HostKind: UInt8 {
    /// NAPT: shares pool4; the entry exists only while the host has sessions.
    case napt = 0
    /// Dynamic 1:1 pool assignment (S10), kept after its sessions end, reused least-recently-used.
    case pool
    /// Static `map` entry (S10): permanent.
    case staticMap
    /// EAM (RFC 7757): computed, dropped with its last session.
    case eam
}

/// Per-IPv6-host state. 48 bytes.
@usableFromInline
struct HostEntry: Sendable {
    var address: IPv6Address
    /// Last time the host made a session (1:1 pool LRU order).
    var lastUsed: Nanoseconds
    /// The host's own IPv4 address in the 1:1 modes; 0 in NAPT.
    var outside4: UInt32
    var sessionCount: UInt32
    var hash: UInt32
    var outsideHash: UInt32
    /// Free-list link while unused.
    var nextFree: UInt32
    var kind: UInt8
    /// BIB entries (pool4 ports) of a NAPT host, for the per-host port cap (S11); fits the padding.
    var bibCount: UInt16 = 0
}

/// Mutable scalars of a table, kept behind a pointer (see the file header).
@usableFromInline
struct TableMeta: Sendable {
    var sessionCount = 0
    var bibCount = 0
    var hostCount = 0
    var sessionFree: UInt32 = 0
    var bibFree: UInt32 = 0
    var hostFree: UInt32 = 0
    /// Next wheel tick to process; `Int64.min` until the first `expire`.
    var wheelTick: Int64 = .min
    var random: SplitMix64
    /// Session lifetimes and the per-host limit: changed by a reload (`reconfigure`, BindingTable+Reconfigure.swift).
    @usableFromInline var timeouts: SessionTimeouts
    @usableFromInline var sessionsPerHost: Int
    /// Transitory TCP sessions evicted to make room for a new flow in a full table (S9 early drop).
    var transitoryEvictions = 0
    /// UDP/ICMP sessions evicted for their pool4 port (S11 early drop; BindingTable+IdleEviction.swift).
    var sessionEvictions = SessionEvictionCounts()
    /// Pool4 ports one NAPT host may hold (S11); a reload may change it.
    @usableFromInline var portsPerHost: Int = 65_535
    /// E4: the cap on all generated ICMP errors together (RFC7915/ErrorRateLimiter.swift).
    @usableFromInline var generatedErrors = TotalErrorBucket(perSecond: 1000)
    /// S13: the configured port forwards (static BIB entries); a reload may change them (`setForwards`).
    var forwards: [PortForward] = []
    /// S13: how many of `forwards` wait for their pool4 port (held by a dynamic mapping when they were set).
    var forwardsWaiting = 0
}

/// The RFC 6146 state tables (see the file header). Reference semantics; single-threaded by contract.
public final class BindingTable: @unchecked Sendable {
    // @unchecked: every member is either immutable or reached through pointers that only the owning packet
    // thread touches (one table per shard); nothing is shared between threads.

    /// Marks "no entry" in slot links.
    @usableFromInline static let none = UInt32.max

    /// Maximum simultaneous sessions (S9).
    public let capacity: Int
    /// Maximum BIB entries: one per session plus headroom for static entries.
    public let bibCapacity: Int
    /// Maximum IPv6 hosts tracked (S9, S10).
    public let hostCapacity: Int
    /// Session lifetimes (S4); a reload may change them (`reconfigure`).
    @inlinable public var timeouts: SessionTimeouts { meta.pointee.timeouts }
    public let configuration: StateConfiguration
    /// pool4 with the port range of each address (S3).
    public let pool: [Pool4Entry]
    /// Upper bound on port candidates tried for one new mapping (S3: bounded search).
    public let maximumProbes: Int

    @usableFromInline let sessions: UnsafeMutablePointer<SessionEntry>
    @usableFromInline let bibs: UnsafeMutablePointer<BIBEntry>
    @usableFromInline let hosts: UnsafeMutablePointer<HostEntry>
    @usableFromInline let sessionsByInside: FlatIndex
    @usableFromInline let sessionsByOutside: FlatIndex
    @usableFromInline let bibByInside: FlatIndex
    @usableFromInline let bibByOutside: FlatIndex
    @usableFromInline let hostsByAddress: FlatIndex
    @usableFromInline let hostsByOutside: FlatIndex
    @usableFromInline let wheel: UnsafeMutablePointer<UInt32>
    @usableFromInline let meta: UnsafeMutablePointer<TableMeta>
    /// In `pool` mode: the host slot holding each pool address, or `none`.
    @usableFromInline let poolOwner: UnsafeMutablePointer<UInt32>
    @usableFromInline let hasher: FlowHasher
    /// The seed of port randomisation (`reset` starts the sequence over).
    let seed: UInt64

    /// Smallest and largest IPv4 address the table owns (pool4, static maps, EAM): a cheap first test.
    public let ownedIPv4Range: ClosedRange<UInt32>

    /// IPv4 SYNs held for simultaneous open (S6).
    public let heldSYNs: HeldSYNStore

    /// Held by a translator for each packet (and by dumps and housekeeping) when several packet threads share
    /// this table (one translator per TUN queue, `Translator.init(configuration:sharing:)`).
    public let lock = TableLock()

    /// Called (on the packet thread) whenever a 1:1 pool assignment is made, so the daemon can persist it
    /// (S10). The core itself does no I/O. Not called on the per-packet path of existing hosts.
    public var onPoolAssignment: (@Sendable (PoolAssignment) -> Void)?

    /// Called (on the packet thread, under `lock`) for each BIB entry, session and port block made or deleted,
    /// for the mapping log and IPFIX (Abuse/MappingEvent.swift). The core itself does no I/O.
    public var onMappingEvent: (@Sendable (MappingEvent) -> Void)?

    /// Port blocks (RFC 7422), when `configuration.portBlocks.size` > 0 in NAPT mode.
    @usableFromInline let portBlocks: PortBlockTable?
    /// Outbound policy rules and their per-host budgets, when there are rules.
    @usableFromInline let policy: OutboundPolicyState?

    /// - Parameters:
    ///   - pool: the pool4 addresses (at least one in NAPT mode).
    ///   - capacity: maximum number of simultaneous sessions (S9).
    ///   - timeouts: session lifetimes (S4).
    ///   - seed: seeds port randomisation and the hash keys (a replay with the same seed allocates the same ports).
    ///   - configuration: mode, filtering, port ranges, static maps, EAM and limits.
    public init(pool: [IPv4Address], capacity: Int, timeouts: SessionTimeouts, seed: UInt64,
                configuration: StateConfiguration = StateConfiguration()) {
        precondition(capacity > 0 && capacity < Int(UInt32.max / 4))
        self.capacity = capacity
        self.configuration = configuration
        self.pool = pool.map { address in
            configuration.portRanges.first { $0.address == address } ?? Pool4Entry(address: address)
        }
        maximumProbes = max(1, configuration.limits.portProbes)
        bibCapacity = capacity + configuration.staticMappings.count + PortForward.maximumCount
        hostCapacity = max(1, max(configuration.limits.hosts, configuration.staticMappings.count + pool.count))

        sessions = FlatMemory.allocate(SessionEntry.self, count: capacity)
        bibs = FlatMemory.allocate(BIBEntry.self, count: bibCapacity)
        hosts = FlatMemory.allocate(HostEntry.self, count: hostCapacity)
        sessionsByInside = .allocate(capacity: capacity)
        sessionsByOutside = .allocate(capacity: capacity)
        bibByInside = .allocate(capacity: bibCapacity)
        bibByOutside = .allocate(capacity: bibCapacity)
        hostsByAddress = .allocate(capacity: hostCapacity)
        hostsByOutside = .allocate(capacity: hostCapacity)
        wheel = .allocate(capacity: 2 * BindingTable.wheelSize)  // heads, then tails
        wheel.initialize(repeating: BindingTable.none, count: 2 * BindingTable.wheelSize)
        poolOwner = .allocate(capacity: max(1, pool.count))
        poolOwner.initialize(repeating: BindingTable.none, count: max(1, pool.count))
        hasher = FlowHasher(seed: seed)
        self.seed = seed
        let owned = pool.map(\.value) + configuration.oneToOneIPv4Addresses.map(\.value)
        ownedIPv4Range = (owned.min() ?? .max)...(owned.max() ?? .max)
        heldSYNs = HeldSYNStore(capacity: configuration.limits.heldSYNs, holdTime: timeouts.incomingSYN)
        meta = .allocate(capacity: 1)
        meta.initialize(to: TableMeta(
            random: SplitMix64(seed: seed), timeouts: timeouts, sessionsPerHost: configuration.limits.sessionsPerHost,
            portsPerHost: max(1, configuration.limits.portsPerHost)))
        portBlocks = configuration.portBlocks.size > 0 && configuration.mode == .napt
            ? PortBlockTable(settings: configuration.portBlocks, pool: self.pool, hostCapacity: hostCapacity) : nil
        policy = configuration.outboundRules.isEmpty
            ? nil : OutboundPolicyState(rules: configuration.outboundRules, hostCapacity: hostCapacity)

        // Free lists thread every slot in order. Touching each entry now also faults the memory in, so the
        // first packets do not pay for page faults.
        threadFreeLists()
        if configuration.mode == .napt { setForwards(configuration.forwards, now: 0) }
    }

    /// Empties the slabs onto their free lists (in order) and makes the static mappings' hosts. The entries are
    /// plain values (trivial types), so assigning over uninitialised slab memory is initialising it.
    private func threadFreeLists() {
        for i in 0..<capacity {
            var e = SessionEntry.empty
            e.bibNext = i + 1 < capacity ? UInt32(i + 1) : BindingTable.none
            sessions[i] = e
        }
        for i in 0..<bibCapacity {
            var e = BIBEntry.empty
            e.sessionHead = i + 1 < bibCapacity ? UInt32(i + 1) : BindingTable.none
            bibs[i] = e
        }
        for i in 0..<hostCapacity {
            var e = HostEntry.empty
            e.nextFree = i + 1 < hostCapacity ? UInt32(i + 1) : BindingTable.none
            hosts[i] = e
        }
        for m in configuration.staticMappings {
            _ = makeHost(m.inside, outside4: m.outside.value, kind: .staticMap, now: 0)
        }
    }

    /// Forgets every session, BIB entry, host, 1:1 assignment and held SYN, and starts port randomisation over:
    /// the table is as new, without allocating (the fuzz target reuses one table for every input). Settings
    /// (lifetimes, limits, the E4 cap) stay; eviction counts start at zero. Not for tables with port blocks or
    /// outbound rules, whose budgets it does not track. Call with `lock` held when shared.
    public func reset() {
        precondition(!hasAbuseCounters, "reset() does not reset port blocks or policy budgets")
        sessionsByInside.removeAll()
        sessionsByOutside.removeAll()
        bibByInside.removeAll()
        bibByOutside.removeAll()
        hostsByAddress.removeAll()
        hostsByOutside.removeAll()
        if meta.pointee.sessionCount > 0 {  // the wheel only ever lists sessions
            wheel.update(repeating: BindingTable.none, count: 2 * BindingTable.wheelSize)
        }
        poolOwner.update(repeating: BindingTable.none, count: max(1, pool.count))
        let m = meta.pointee
        meta.pointee = TableMeta(random: SplitMix64(seed: seed), timeouts: m.timeouts, sessionsPerHost: m.sessionsPerHost,
                                 portsPerHost: m.portsPerHost,
                                 generatedErrors: TotalErrorBucket(perSecond: m.generatedErrors.perSecond))
        heldSYNs.removeAll()
        threadFreeLists()
        setForwards(m.forwards, now: 0)  // S13: the forwards are configuration, not state
    }

    deinit {
        FlatMemory.deallocate(sessions)
        FlatMemory.deallocate(bibs)
        FlatMemory.deallocate(hosts)
        for index in [sessionsByInside, sessionsByOutside, bibByInside, bibByOutside, hostsByAddress, hostsByOutside] {
            index.deallocate()
        }
        wheel.deallocate()
        poolOwner.deallocate()
        meta.deallocate()
    }

    /// Number of BIB entries (mappings; S1).
    public var count: Int { meta.pointee.bibCount }
    /// Number of sessions (S9 counts these against `capacity`).
    public var sessionCount: Int { meta.pointee.sessionCount }
    /// Number of IPv6 hosts tracked.
    public var hostCount: Int { meta.pointee.hostCount }

    /// Bytes of memory the table reserved (slabs, indexes, wheel), for the per-session figure.
    public var reservedBytes: Int {
        capacity * MemoryLayout<SessionEntry>.stride + bibCapacity * MemoryLayout<BIBEntry>.stride
            + hostCapacity * MemoryLayout<HostEntry>.stride
            + [sessionsByInside, sessionsByOutside, bibByInside, bibByOutside, hostsByAddress, hostsByOutside]
            .reduce(0) { $0 + $1.byteCount }
            + BindingTable.wheelSize * 8 + max(1, pool.count) * 4
    }

    /// All live sessions (tests, replay summaries). Allocates and walks the whole table: a packet thread uses
    /// `bindings(from:limit:)` in slices instead.
    public var bindings: [Binding] { bindings(from: 0, limit: capacity).bindings }

    /// The live sessions among the slots `start ..< start + limit` (control interface: a dump walks the table
    /// in bounded slices between batches, so the packet path never stalls behind it).
    ///
    /// - Returns: the sessions found, and the slot to continue from (nil when the table has been walked).
    public func bindings(from start: Int, limit: Int) -> (bindings: [Binding], next: Int?) {
        let end = min(capacity, max(start, 0) + max(limit, 1))
        var out: [Binding] = []
        for i in max(start, 0)..<end where sessions[i].proto != 0 {
            let s = sessions[i]
            let tcp = s.proto == IPProtocolNumber.tcp ? TCPState(rawValue: s.state) : nil
            let lifetime: Nanoseconds
            switch tcp {
            case .some(.established), .some(.v4FinReceived), .some(.v6FinReceived): lifetime = timeouts.tcp
            case .some(.v4Init): lifetime = timeouts.incomingSYN
            case .some: lifetime = timeouts.tcpTransitory
            case .none: lifetime = timeouts.timeout(for: s.proto)
            }
            out.append(Binding(
                inside: Endpoint6(address: s.inside, port: s.insidePort, proto: s.proto),
                outside: Endpoint4(address: IPv4Address(s.outside4), port: s.outsidePort, proto: s.proto),
                remote: Endpoint4(address: IPv4Address(s.remote4), port: s.remotePort, proto: s.proto),
                lastUsed: s.expiry - lifetime, created: s.created, expires: s.expiry, tcpState: tcp))
        }
        return (out, end < capacity ? end : nil)
    }

    // MARK: Lookups without side effects (ICMP error inner packets, tests)

    /// The pool4 endpoint bound to an IPv6 endpoint, if any (no refresh, no creation).
    public func bibOutside(for inside: Endpoint6) -> Endpoint4? {
        guard let b = findBIB(inside: inside.address, port: inside.port, proto: inside.proto) else { return nil }
        return Endpoint4(address: IPv4Address(bibs[Int(b)].outside4), port: bibs[Int(b)].outsidePort, proto: inside.proto)
    }

    /// The IPv6 endpoint bound to a pool4 endpoint, if any (no refresh, no creation).
    public func bibInside(for outside: Endpoint4) -> Endpoint6? {
        guard let b = findBIB(outside4: outside.address.value, port: outside.port, proto: outside.proto) else { return nil }
        return Endpoint6(address: bibs[Int(b)].inside, port: bibs[Int(b)].insidePort, proto: outside.proto)
    }

    /// Why a mapping could not be made (kept for callers of the first slice's API).
    public enum AllocationFailure: Error, Sendable { case exhausted, full }

    /// First-slice API: the BIB mapping of an IPv6 endpoint, without creating one.
    public func outbound(_ inside: Endpoint6, now: Nanoseconds) -> Result<Endpoint4, AllocationFailure> {
        bibOutside(for: inside).map { .success($0) } ?? .failure(.exhausted)
    }

    /// First-slice API: the IPv6 endpoint behind a pool4 endpoint (a BIB lookup, S2 endpoint-independent).
    public func inbound(_ outside: Endpoint4, now: Nanoseconds) -> Endpoint6? {
        bibInside(for: outside)
    }
}

extension SessionEntry {
    static let empty = SessionEntry(
        inside: .unspecified, expiry: 0, created: 0, remote4: 0, outside4: 0, insidePort: 0, remotePort: 0,
        outsidePort: 0, wheelSlot: 0, proto: 0, state: 0, bib: BindingTable.none, bibNext: BindingTable.none,
        bibPrev: BindingTable.none, wheelNext: BindingTable.none, wheelPrev: BindingTable.none, insideHash: 0,
        outsideHash: 0)
}

extension BIBEntry {
    static let empty = BIBEntry(
        inside: .unspecified, outside4: 0, insidePort: 0, outsidePort: 0, proto: 0, host: BindingTable.none,
        sessionHead: BindingTable.none, sessionCount: 0, insideHash: 0, outsideHash: 0)
}

extension HostEntry {
    static let empty = HostEntry(
        address: .unspecified, lastUsed: 0, outside4: 0, sessionCount: 0, hash: 0, outsideHash: 0,
        nextFree: BindingTable.none, kind: 0)
}

/// SplitMix64: a small, fast, seedable generator (not cryptographic; used for port and ID selection, where
/// the seed comes from the configuration so offline replay is reproducible).
public struct SplitMix64: Sendable {
    @usableFromInline var state: UInt64
    public init(seed: UInt64) { state = seed }
    @inlinable public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
