// Packets held for a short time, in preallocated memory: IPv4 SYNs waiting for a simultaneous open
// (RFC 6146 §3.5.2.2, conformance S6: 6 s, then ICMPv4 3/3) and out-of-order fragments waiting for the
// fragment that carries the ports (S8: 2 s). Memory is bounded by `capacity × slotBytes`, fixed at init.
//
// Entries sit in a slab with a free list and a doubly linked arrival-order list. The hold time is the same for
// every entry of a store, so arrival order is deadline order: expiry pops from the front, never scans.
// Matching by key walks the list: O(count) with count ≤ capacity, which is small (hundreds) by configuration.

/// A bounded store of short-lived packet copies, keyed by `Key` (see the file header).
/// Reference semantics; used only by the packet thread that owns it.
public final class HeldPacketStore<Key: Equatable & Sendable>: @unchecked Sendable {
    // @unchecked: all mutable state sits behind pointers touched by the owning thread only.

    /// What happened to a packet offered to `hold`.
    public enum HoldResult: Equatable, Sendable {
        /// Stored until its deadline.
        case held
        /// An entry with the same key is already held (a retransmission); the new copy is not stored.
        case duplicate
        /// The store is full (S9: counted, existing entries untouched).
        case full
        /// The packet's source already has `perSourceLimit` entries (S8).
        case sourceLimit
        /// Longer than `slotBytes` and the store does not truncate.
        case tooLarge
        /// Stored in the place of the oldest entry of the source holding the most (the store was full and
        /// `evictsHeaviest`); that entry is lost.
        case evicted
    }

    public let capacity: Int
    /// Bytes kept per packet.
    public let slotBytes: Int
    /// How long a packet is held.
    public let holdTime: Nanoseconds
    /// Most entries one source may hold.
    public let perSourceLimit: Int
    /// Whether longer packets are cut to `slotBytes` (SYNs: only quoted in an ICMP error) or refused.
    public let truncates: Bool
    /// Whether a second packet under a held key is refused as `.duplicate` (SYN retransmissions) or kept
    /// (further fragments of one datagram).
    public let deduplicates: Bool
    /// Whether a full store makes room for a source holding fewer entries by dropping the oldest entry of the
    /// source holding the most (fragments: a few sources cannot lock the others out for the hold time).
    public let evictsHeaviest: Bool
    /// Per-source entry counts while looking for the heaviest source, by a hash of the source (sources that
    /// share a bucket count together, which can only make a heavy source look heavier).
    private let sourceCounts: UnsafeMutablePointer<Int>
    private static var countBuckets: Int { 64 }

    private static var none: UInt32 { .max }
    private let keys: UnsafeMutablePointer<Key?>
    private let sources: UnsafeMutablePointer<IPv6Address>
    private let deadlines: UnsafeMutablePointer<Nanoseconds>
    private let lengths: UnsafeMutablePointer<Int>
    private let next: UnsafeMutablePointer<UInt32>
    private let prev: UnsafeMutablePointer<UInt32>
    private let storage: UnsafeMutableRawPointer
    /// head (oldest), tail (newest), free-list head, count.
    private let list: UnsafeMutablePointer<(head: UInt32, tail: UInt32, free: UInt32, count: Int)>

    /// - Parameters:
    ///   - capacity: most packets held at once (S9).
    ///   - slotBytes: bytes kept per packet.
    ///   - holdTime: how long each is held.
    ///   - perSourceLimit: most packets one source may hold (default: no limit beyond `capacity`).
    ///   - truncates: cut longer packets (true) or refuse them (false).
    ///   - deduplicates: keep only the first packet per key.
    ///   - evictsHeaviest: when full, make room by dropping the oldest entry of the source holding the most.
    public init(capacity: Int, slotBytes: Int, holdTime: Nanoseconds, perSourceLimit: Int? = nil, truncates: Bool,
                deduplicates: Bool, evictsHeaviest: Bool = false) {
        let capacity = max(0, capacity)
        self.capacity = capacity
        self.slotBytes = slotBytes
        self.holdTime = holdTime
        self.perSourceLimit = perSourceLimit ?? capacity
        self.truncates = truncates
        self.deduplicates = deduplicates
        self.evictsHeaviest = evictsHeaviest
        sourceCounts = .allocate(capacity: Self.countBuckets)
        sourceCounts.initialize(repeating: 0, count: Self.countBuckets)
        let n = max(1, capacity)
        keys = .allocate(capacity: n)
        keys.initialize(repeating: nil, count: n)
        sources = .allocate(capacity: n)
        sources.initialize(repeating: .unspecified, count: n)
        deadlines = .allocate(capacity: n)
        deadlines.initialize(repeating: 0, count: n)
        lengths = .allocate(capacity: n)
        lengths.initialize(repeating: 0, count: n)
        next = .allocate(capacity: n)
        prev = .allocate(capacity: n)
        for i in 0..<n {
            (next + i).initialize(to: i + 1 < capacity ? UInt32(i + 1) : Self.none)
            (prev + i).initialize(to: Self.none)
        }
        storage = .allocate(byteCount: n * slotBytes, alignment: 16)
        list = .allocate(capacity: 1)
        list.initialize(to: (Self.none, Self.none, capacity > 0 ? 0 : Self.none, 0))
    }

    deinit {
        keys.deinitialize(count: max(1, capacity))
        keys.deallocate()
        sources.deallocate()
        deadlines.deallocate()
        lengths.deallocate()
        next.deallocate()
        prev.deallocate()
        storage.deallocate()
        list.deallocate()
        sourceCounts.deallocate()
    }

    /// Packets held now.
    public var count: Int { list.pointee.count }

    /// Forgets every entry (a reset; no allocation).
    public func removeAll() {
        guard list.pointee.count > 0 else { return }  // empty: the free list holds every slot already
        let n = max(1, capacity)
        for i in 0..<n {
            keys[i] = nil
            next[i] = i + 1 < capacity ? UInt32(i + 1) : Self.none
            prev[i] = Self.none
        }
        list.pointee = (Self.none, Self.none, capacity > 0 ? 0 : Self.none, 0)
    }

    /// Copies `packet` in under `key` until `now + holdTime`.
    ///
    /// - Parameters:
    ///   - packet: the bytes to keep.
    ///   - key: what a later `release`/`discard` matches.
    ///   - source: the sender, for the per-source limit.
    ///   - now: the current time.
    public func hold(_ packet: UnsafeRawBufferPointer, key: Key, source: IPv6Address, now: Nanoseconds) -> HoldResult {
        guard packet.count <= slotBytes || truncates else { return .tooLarge }
        var fromSource = 0
        var e = list.pointee.head
        while e != Self.none {
            if deduplicates && keys[Int(e)] == key { return .duplicate }
            if sources[Int(e)] == source { fromSource += 1 }
            e = next[Int(e)]
        }
        if fromSource >= perSourceLimit { return .sourceLimit }
        var evicted = false
        if list.pointee.free == Self.none {
            guard evictsHeaviest, evictFromHeaviest(sparing: source, holding: fromSource) else { return .full }
            evicted = true
        }
        let slot = list.pointee.free
        list.pointee.free = next[Int(slot)]
        let i = Int(slot)
        keys[i] = key
        sources[i] = source
        deadlines[i] = now &+ holdTime
        let n = min(packet.count, slotBytes)
        lengths[i] = n
        if n > 0, let base = packet.baseAddress { (storage + i * slotBytes).copyMemory(from: base, byteCount: n) }
        // Append at the tail (newest).
        next[i] = Self.none
        prev[i] = list.pointee.tail
        if list.pointee.tail != Self.none { next[Int(list.pointee.tail)] = slot } else { list.pointee.head = slot }
        list.pointee.tail = slot
        list.pointee.count += 1
        return evicted ? .evicted : .held
    }

    /// Bucket of `source` in `sourceCounts`.
    private static func bucket(_ source: IPv6Address) -> Int {
        Int(truncatingIfNeeded: ((source.high ^ source.low) &* 0x9E37_79B9_7F4A_7C15) >> 58) & (countBuckets - 1)
    }

    /// S8 fairness: drops the oldest entry of the source (bucket) holding the most, if that is more than
    /// `holding`, the count of the source asking for room. Two walks of the list: O(capacity), only when full.
    /// - Returns: true when an entry was dropped.
    private func evictFromHeaviest(sparing source: IPv6Address, holding: Int) -> Bool {
        sourceCounts.update(repeating: 0, count: Self.countBuckets)
        var e = list.pointee.head
        while e != Self.none {
            sourceCounts[Self.bucket(sources[Int(e)])] += 1
            e = next[Int(e)]
        }
        let own = Self.bucket(source)
        var heaviest = -1
        for b in 0..<Self.countBuckets where b != own && (heaviest < 0 || sourceCounts[b] > sourceCounts[heaviest]) {
            heaviest = b
        }
        guard heaviest >= 0, sourceCounts[heaviest] > holding else { return false }
        e = list.pointee.head
        while e != Self.none {
            if Self.bucket(sources[Int(e)]) == heaviest {
                remove(e)
                return true
            }
            e = next[Int(e)]
        }
        return false
    }

    /// Drops every entry held under `key` without handing it out.
    /// - Returns: how many were dropped.
    @discardableResult
    public func discard(_ key: Key) -> Int { release(key) { _ in } }

    /// Hands every entry held under `key` to `body`, oldest first, and forgets them (S8: the first fragment
    /// arrived; the rest can now be translated).
    /// - Returns: how many were handed out.
    @discardableResult
    public func release(_ key: Key, _ body: (UnsafeRawBufferPointer) -> Void) -> Int {
        guard list.pointee.count > 0 else { return 0 }
        var released = 0
        var e = list.pointee.head
        while e != Self.none {
            let after = next[Int(e)]
            if keys[Int(e)] == key {
                body(UnsafeRawBufferPointer(start: storage + Int(e) * slotBytes, count: lengths[Int(e)]))
                remove(e)
                released += 1
            }
            e = after
        }
        return released
    }

    /// Removes the oldest entry if its hold time has run out, copying it to `destination` (at most
    /// `capacity` bytes).
    /// - Returns: the entry's key and length, or nil when nothing has expired.
    public func popExpired(now: Nanoseconds, into destination: UnsafeMutableRawPointer, capacity: Int) -> (key: Key, length: Int)? {
        let e = list.pointee.head
        guard e != Self.none, deadlines[Int(e)] <= now, let key = keys[Int(e)] else { return nil }
        let n = min(lengths[Int(e)], capacity)
        destination.copyMemory(from: storage + Int(e) * slotBytes, byteCount: n)
        remove(e)
        return (key, n)
    }

    /// Drops every entry whose hold time has run out.
    /// - Returns: how many were dropped.
    @discardableResult
    public func expire(now: Nanoseconds) -> Int {
        var dropped = 0
        while list.pointee.head != Self.none && deadlines[Int(list.pointee.head)] <= now {
            remove(list.pointee.head)
            dropped += 1
        }
        return dropped
    }

    private func remove(_ e: UInt32) {
        let i = Int(e)
        if prev[i] != Self.none { next[Int(prev[i])] = next[i] } else { list.pointee.head = next[i] }
        if next[i] != Self.none { prev[Int(next[i])] = prev[i] } else { list.pointee.tail = prev[i] }
        keys[i] = nil
        next[i] = list.pointee.free
        prev[i] = Self.none
        list.pointee.free = e
        list.pointee.count -= 1
    }
}

/// The key of a held IPv4 SYN (S6): the connection as seen on the IPv4 side.
public struct HeldSYNKey: Equatable, Sendable {
    public var outside4: UInt32
    public var port: UInt16
    public var remote4: UInt32
    public var remotePort: UInt16
    public init(outside4: UInt32, port: UInt16, remote4: UInt32, remotePort: UInt16) {
        self.outside4 = outside4
        self.port = port
        self.remote4 = remote4
        self.remotePort = remotePort
    }
}

/// The key of held fragments (S8): RFC 791 / RFC 8200 §4.5 reassembly identity. IPv4 addresses are stored as
/// `IPv6Address(high: 0, low: value)`.
public struct FragmentKey: Equatable, Sendable {
    public var source: IPv6Address
    public var destination: IPv6Address
    public var identification: UInt32
    public var proto: UInt8
    public init(source: IPv6Address, destination: IPv6Address, identification: UInt32, proto: UInt8) {
        self.source = source
        self.destination = destination
        self.identification = identification
        self.proto = proto
    }

    /// The key of an IPv4 fragment.
    public init(source: IPv4Address, destination: IPv4Address, identification: UInt16, proto: UInt8) {
        self.init(source: IPv6Address(high: 0, low: UInt64(source.value)),
                  destination: IPv6Address(high: 0, low: UInt64(destination.value)),
                  identification: UInt32(identification), proto: proto)
    }
}

/// Held IPv4 SYNs (S6): 6 s, at most `StateLimits.heldSYNs`, 256 bytes kept of each (enough for the IPv4 and
/// TCP headers with options, which is all an ICMP error needs to quote).
public typealias HeldSYNStore = HeldPacketStore<HeldSYNKey>

/// Out-of-order fragments held until the first fragment gives the ports (S8): 2 s, bounded in count, bytes per
/// fragment and per source. Pure data structure; the translator wires it in with fragment translation.
public typealias FragmentStore = HeldPacketStore<FragmentKey>

extension HeldPacketStore where Key == HeldSYNKey {
    /// Drops a held SYN of this connection (its simultaneous open happened, RFC 6146 §3.5.2.2).
    func discard(outside4: UInt32, port: UInt16, remote4: UInt32, remotePort: UInt16) {
        guard count > 0 else { return }
        discard(HeldSYNKey(outside4: outside4, port: port, remote4: remote4, remotePort: remotePort))
    }

    /// A store sized for held SYNs.
    public convenience init(capacity: Int, holdTime: Nanoseconds) {
        self.init(capacity: capacity, slotBytes: 256, holdTime: holdTime, truncates: true, deduplicates: true)
    }
}

extension HeldPacketStore where Key == FragmentKey {
    /// A store sized for fragments: `capacity` fragments of up to `maximumFragmentBytes` each, at most
    /// `perSource` from one source (S8); when full, a source holding fewer takes the place of the oldest
    /// fragment of the source holding the most (S12), so a few sources cannot fill it for everyone.
    public convenience init(capacity: Int = 256, maximumFragmentBytes: Int = 1520, perSource: Int = 16,
                            holdTime: Nanoseconds = 2_000_000_000, evictsHeaviest: Bool = true) {
        self.init(capacity: capacity, slotBytes: maximumFragmentBytes, holdTime: holdTime, perSourceLimit: perSource,
                  truncates: false, deduplicates: false, evictsHeaviest: evictsHeaviest)
    }
}
