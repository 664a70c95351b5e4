// The translator core: one packet in, the same buffer rewritten (or an ICMP error in `reply`), a verdict out.
// Dispatches on the IP version; the RFC7915/ files hold the rules, State/ the mappings.

/// A stateful NAT64 translator (RFC 6146 with RFC 7915 header translation).
///
/// Not thread-safe by design: each packet thread owns one translator (state is sharded, never shared
/// between threads); the daemon reads `counters` snapshots from the owning thread.
public struct Translator: ~Copyable, @unchecked Sendable {
    // @unchecked: `arena` is a reference to scratch memory owned by this translator alone.
    /// What it translates with; a reload changes the live parts (`reconfigure`, Translator+Reconfigure.swift).
    public internal(set) var configuration: TranslatorConfiguration
    public var table: BindingTable
    public var counters = TranslatorCounters()
    @usableFromInline var random: SplitMix64
    @usableFromInline let poolSet: Set<IPv4Address>
    @usableFromInline var rateLimiter: ErrorRateLimiter
    @usableFromInline var fragments4: FragmentTracker
    @usableFromInline let arena: OutputArena
    @usableFromInline let reassembly: ICMPReassembly
    /// RFC 7757 longest-match index of the EAM entries (F1; Stateless/).
    @usableFromInline let eamTable: EAMTable
    /// Set by a siit 6→4 translation whose IPv6 destination was the prefix form of an EAM address (F4).
    @usableFromInline var eamHairpin = false

    /// - Parameters:
    ///   - configuration: what to translate and how.
    ///   - table: the state table of another translator to share (one translator per packet thread, one table
    ///     for all: both directions of a flow find their state whichever queue the kernel hands them to). Every
    ///     translation holds `table.lock` while it runs. Nil: a table of its own.
    public init(configuration: TranslatorConfiguration, sharing table: BindingTable? = nil) {
        self.configuration = configuration
        let siit = configuration.state.mode == .siit  // F1: no state, so a table of one unused slot
        self.table = table ?? BindingTable(
            pool: configuration.pool4, capacity: siit ? 1 : configuration.maxSessions, timeouts: configuration.timeouts,
            seed: configuration.seed,
            configuration: siit ? StateConfiguration(mode: .siit, limits: StateLimits(hosts: 1)) : configuration.state)
        eamTable = EAMTable(configuration.state.eam)
        random = SplitMix64(seed: configuration.seed ^ 0x5151_5151_5151_5151)
        poolSet = Set(configuration.pool4 + configuration.state.oneToOneIPv4Addresses)
        rateLimiter = ErrorRateLimiter(perSecond: configuration.icmpErrorsPerSecond)
        fragments4 = FragmentTracker()
        arena = OutputArena()
        reassembly = ICMPReassembly()
        let shared = self.table
        shared.lock.withLock { shared.setGeneratedErrorCap(perSecond: configuration.icmpErrorsTotalPerSecond) }
    }

    /// Translates the packet in `packet` in place.
    ///
    /// - Parameters:
    ///   - packet: the packet as read from the TUN, with `PacketBuffer.headroom` free bytes in front.
    ///   - reply: a scratch buffer; holds the ICMP error to send when the verdict is `.icmpError`.
    ///   - now: monotonic time in nanoseconds (drives mapping timeouts and rate limits).
    /// - Returns: what to do with the packet. Every drop is counted in `counters`.
    public mutating func translate(_ packet: inout PacketBuffer, reply: inout PacketBuffer, now: Nanoseconds) -> Verdict {
        table.lock.lock()
        defer { table.lock.unlock() }
        let verdict: Verdict
        if packet.count < 1 {
            verdict = .drop(.truncated)
        } else {
            switch (packet.base + packet.start).u8(0) >> 4 {
            case 6:
                let translated = translate6to4(&packet, reply: &reply, now: now)
                verdict = hairpinIfNeeded(translated, &packet, reply: &reply, now: now)  // S7, RFC6146/Hairpinning.swift
            case 4: verdict = translate4to6(&packet, reply: &reply, now: now)
            default: verdict = .drop(.badHeader)
            }
        }
        switch verdict {
        case .translated, .translatedFragments: break
        case .drop(let reason): counters.count(reason)
        case .icmpError(let reason):
            counters.count(reason)
            counters.icmpErrorsSent &+= 1
        }
        return verdict
    }

    /// Fragment `index` of the last `.translatedFragments` verdict (valid until the next `translate`).
    public func fragment(at index: Int) -> UnsafeRawBufferPointer {
        arena.fragment(at: index)
    }

    /// Returns the translator to its state just after `init`: no sessions, held packets, fragments or
    /// reassembly, full rate-limit buckets, zero counters, the same random sequences. Allocation-free; the
    /// fuzz target calls it between inputs instead of building a translator (and its buffers) for each.
    /// Not for translators with port blocks or outbound rules (`BindingTable.reset`).
    public mutating func reset() {
        table.lock.withLock { table.reset() }
        counters = TranslatorCounters()
        random = SplitMix64(seed: configuration.seed ^ 0x5151_5151_5151_5151)
        rateLimiter.reset()
        fragments4.reset()
        arena.count = 0
        arena.used = 0
        arena.appending = false
        arena.heldFragments.removeAll()
        reassembly.removeAll()
        eamHairpin = false
    }

    /// Expires idle mappings; call from a timer, not per packet.
    public mutating func expire(now: Nanoseconds, budget: Int = 4096) -> Int {
        arena.heldFragments.expire(now: now)  // S8: held fragments whose first fragment never came
        return table.lock.withLock { table.expire(now: now, budget: budget) }
    }
}

/// Scratch memory owned by one translator: T4.5 fragments and ICMP errors are assembled here.
@usableFromInline
final class OutputArena {
    @usableFromInline let base: UnsafeMutableRawPointer
    @usableFromInline let capacity = 160 * 1024
    @usableFromInline var starts: [Int]
    @usableFromInline var lengths: [Int]
    @usableFromInline var count = 0
    /// Bytes of the fragment area in use (entries are 16-byte aligned).
    @usableFromInline var used = 0
    /// While true, T4.5 fragments are appended after the existing entries (S8 release).
    @usableFromInline var appending = false
    /// IPv4 fragments that arrived before their first fragment (S8), and a buffer to translate them in.
    @usableFromInline let heldFragments = FragmentStore()
    @usableFromInline let releasePacket = ScratchPacket()
    /// Offset of a 4 KiB scratch area for assembling ICMP errors (after the fragment area).
    @usableFromInline let scratch: Int
    static let maximumFragments = 128

    init() {
        base = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16)
        base.initializeMemory(as: UInt8.self, repeating: 0, count: capacity)
        starts = Array(repeating: 0, count: OutputArena.maximumFragments)
        lengths = Array(repeating: 0, count: OutputArena.maximumFragments)
        scratch = capacity - 4096
    }

    deinit { base.deallocate() }

    /// Appends a finished packet as the next entry; false when the area is full.
    @discardableResult
    func append(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard count < OutputArena.maximumFragments, used + bytes.count <= scratch, let src = bytes.baseAddress else {
            return false
        }
        (base + used).copyMemory(from: src, byteCount: bytes.count)
        starts[count] = used
        lengths[count] = bytes.count
        used += (bytes.count + 15) & ~15
        count += 1
        return true
    }

    func fragment(at index: Int) -> UnsafeRawBufferPointer {
        precondition(index < count)
        return UnsafeRawBufferPointer(start: base + starts[index], count: lengths[index])
    }
}

/// Remembers, for a short time, where the first fragment of an IPv4 datagram was mapped to, so the
/// following fragments (which carry no ports) reach the same IPv6 host. Fixed size, overwrite on collision.
@usableFromInline
struct FragmentTracker: Sendable {
    @usableFromInline struct Entry: Sendable {
        var key: UInt64 = 0
        var proto: UInt8 = 0
        var inside = Endpoint6(address: .unspecified, port: 0, proto: 0)
        var seen: Nanoseconds = .min
    }
    @usableFromInline var entries = [Entry](repeating: Entry(), count: 1024)
    /// Set by `remember`: a reset of an untouched tracker has nothing to do.
    @usableFromInline var touched = false
    /// Fragments of one datagram arrive within this time (S4: fragments 2 s).
    static let lifetime: Nanoseconds = 2_000_000_000

    @inlinable static func key(source: IPv4Address, destination: IPv4Address, identification: UInt16) -> UInt64 {
        UInt64(source.value) << 32 ^ UInt64(destination.value) << 16 ^ UInt64(identification)
            ^ UInt64(destination.value) >> 16
    }

    @inlinable func slot(_ key: UInt64, _ proto: UInt8) -> Int {
        Int(truncatingIfNeeded: ((key ^ UInt64(proto)) &* 0x9E37_79B9_7F4A_7C15) >> 54) & 1023
    }

    @usableFromInline mutating func remember(_ key: UInt64, proto: UInt8, inside: Endpoint6, now: Nanoseconds) {
        entries[slot(key, proto)] = Entry(key: key, proto: proto, inside: inside, seen: now)
        touched = true
    }

    /// Forgets every entry (a reset; no allocation).
    mutating func reset() {
        guard touched else { return }
        touched = false
        for i in entries.indices { entries[i] = Entry() }
    }

    @usableFromInline func find(_ key: UInt64, proto: UInt8, now: Nanoseconds) -> Endpoint6? {
        let e = entries[slot(key, proto)]
        guard e.key == key, e.proto == proto, now - e.seen <= FragmentTracker.lifetime else { return nil }
        return e.inside
    }
}

/// A packet buffer owned by a class, so a (copyable) translator can keep one for re-translating held packets.
@usableFromInline
final class ScratchPacket {
    @usableFromInline var buffer = PacketBuffer(capacity: PacketBuffer.headroom + 2048)
}
