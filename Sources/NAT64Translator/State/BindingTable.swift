// RFC 6146 §3.5 Binding Information Base, first slice: endpoint-independent mapping (S1) and filtering (S2)
// for TCP, UDP and ICMP query identifiers, with idle timeouts per protocol (S4).
//
// An entry maps (protocol, IPv6 address, port or ICMP id) ↔ (protocol, pool4 address, port or id).
// Entries are created only by IPv6-side packets (S1). Lookups on an established flow are one hash probe per
// direction and do not allocate: storage is reserved up front for `maxSessions` entries.
// Expiry runs off the packet path (`expire(now:budget:)`, called by the daemon's timer), scanning a bounded
// number of slots per call.

/// Monotonic time in nanoseconds, passed in by the caller (the translator never reads a clock).
public typealias Nanoseconds = Int64

/// The IPv6 side of a mapping.
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

/// The IPv4 side of a mapping.
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

/// One mapping and its idle deadline.
public struct Binding: Sendable, Equatable {
    public var inside: Endpoint6
    public var outside: Endpoint4
    /// Last time a packet used the mapping.
    public var lastUsed: Nanoseconds
    /// When the mapping was made.
    public var created: Nanoseconds
}

/// Idle timeouts per protocol (RFC 6146 §4 minimums are checked by the configuration).
public struct SessionTimeouts: Sendable, Equatable {
    public var udp: Nanoseconds
    public var tcp: Nanoseconds
    public var icmp: Nanoseconds

    public init(udpSeconds: Int = 300, tcpSeconds: Int = 7440, icmpSeconds: Int = 60) {
        udp = Nanoseconds(udpSeconds) * 1_000_000_000
        tcp = Nanoseconds(tcpSeconds) * 1_000_000_000
        icmp = Nanoseconds(icmpSeconds) * 1_000_000_000
    }

    @inlinable func timeout(for proto: UInt8) -> Nanoseconds {
        proto == IPProtocolNumber.tcp ? tcp : proto == IPProtocolNumber.udp ? udp : icmp
    }
}

/// The NAPT binding table.
public struct BindingTable: Sendable {
    private var slots: [Binding?]
    private var freeSlots: [Int]
    private var byInside: [Endpoint6: Int]
    private var byOutside: [Endpoint4: Int]
    private var sweepCursor = 0
    private var random: SplitMix64

    /// IPv4 addresses mappings are drawn from.
    public let pool: [IPv4Address]
    public let timeouts: SessionTimeouts
    public let capacity: Int

    /// Upper bound on ports tried for one new mapping (S3: bounded search).
    public static let maximumProbes = 2048

    /// - Parameters:
    ///   - pool: the pool4 addresses (at least one).
    ///   - capacity: maximum number of simultaneous mappings (S9).
    ///   - seed: seeds port randomisation, so a replay with the same seed allocates the same ports.
    public init(pool: [IPv4Address], capacity: Int, timeouts: SessionTimeouts, seed: UInt64) {
        precondition(!pool.isEmpty && capacity > 0)
        self.pool = pool
        self.capacity = capacity
        self.timeouts = timeouts
        slots = Array(repeating: nil, count: capacity)
        freeSlots = Array((0..<capacity).reversed())
        byInside = Dictionary(minimumCapacity: capacity)
        byOutside = Dictionary(minimumCapacity: capacity)
        random = SplitMix64(seed: seed)
    }

    /// Number of live mappings.
    public var count: Int { byInside.count }

    /// Why a mapping could not be made.
    public enum AllocationFailure: Error, Sendable { case exhausted, full }

    /// Finds the mapping for an IPv6-side flow, creating it if needed (S1, S3), and refreshes its timer.
    @inlinable
    public mutating func outbound(_ inside: Endpoint6, now: Nanoseconds) -> Result<Endpoint4, AllocationFailure> {
        if let index = lookupInside(inside) {
            return .success(touch(index, now: now))
        }
        return create(inside, now: now)
    }

    /// Finds the mapping for an IPv4-side packet addressed to `outside`, refreshing its timer (S2:
    /// endpoint-independent filtering). Returns nil when there is none (S6).
    @inlinable
    public mutating func inbound(_ outside: Endpoint4, now: Nanoseconds) -> Endpoint6? {
        guard let index = lookupOutside(outside) else { return nil }
        return touchInbound(index, now: now)
    }

    /// The mapping of an IPv6-side flow, without creating or refreshing it (inner packets of ICMP errors,
    /// T6.10 / RFC 6146 §3.5.3).
    public func peekOutbound(_ inside: Endpoint6) -> Endpoint4? {
        guard let i = byInside[inside] else { return nil }
        return slots[i]?.outside
    }

    /// The mapping for an IPv4-side endpoint, without refreshing it (inner packets of ICMP errors, T4.11).
    public func peekInbound(_ outside: Endpoint4) -> Endpoint6? {
        guard let i = byOutside[outside] else { return nil }
        return slots[i]?.inside
    }

    /// The pool4 address an IPv6 host's flows use ("paired" pooling). Non-first fragments, which carry no
    /// ports, are translated with it (RFC 6146 §3.5 with RFC 7915 §5.1).
    @inlinable
    public func outsideAddress(for address: IPv6Address) -> IPv4Address {
        pool[Int(truncatingIfNeeded: ((address.high ^ address.low) &* 0x9E37_79B9_7F4A_7C15) >> 33) % pool.count]
    }

    @usableFromInline func lookupInside(_ key: Endpoint6) -> Int? { byInside[key] }
    @usableFromInline func lookupOutside(_ key: Endpoint4) -> Int? { byOutside[key] }

    @usableFromInline mutating func touch(_ index: Int, now: Nanoseconds) -> Endpoint4 {
        slots[index]!.lastUsed = now
        return slots[index]!.outside
    }

    @usableFromInline mutating func touchInbound(_ index: Int, now: Nanoseconds) -> Endpoint6? {
        guard let b = slots[index] else { return nil }
        // An expired entry that the sweep has not reached yet is treated as absent.
        if now - b.lastUsed > timeouts.timeout(for: b.inside.proto) { return nil }
        slots[index]!.lastUsed = now
        return b.inside
    }

    /// RFC 6056 §3.2.1-style allocation: a random start inside the port's range class (well-known 1–1023 or
    /// 1024–65535; ICMP ids use 0–65535), then a bounded linear search. The IPv4 address is chosen by a hash
    /// of the IPv6 address so one host keeps one outside address ("paired" pooling, RFC 4787 REQ-2).
    @usableFromInline mutating func create(_ inside: Endpoint6, now: Nanoseconds) -> Result<Endpoint4, AllocationFailure> {
        guard let slot = freeSlots.popLast() else { return .failure(.full) }
        let address = outsideAddress(for: inside.address)
        let range: ClosedRange<UInt32>
        if inside.proto == IPProtocolNumber.icmp {
            range = 0...65535
        } else if inside.port < 1024 {
            range = 1...1023
        } else {
            range = 1024...65535
        }
        let width = range.upperBound - range.lowerBound + 1
        var candidate = range.lowerBound + UInt32(truncatingIfNeeded: random.next() % UInt64(width))
        for _ in 0..<min(BindingTable.maximumProbes, Int(width)) {
            let outside = Endpoint4(address: address, port: UInt16(candidate), proto: inside.proto)
            if let existing = byOutside[outside] {
                // Reclaim an expired mapping in place of a collision.
                if let b = slots[existing], now - b.lastUsed > timeouts.timeout(for: b.inside.proto) {
                    remove(existing)
                } else {
                    candidate = candidate == range.upperBound ? range.lowerBound : candidate + 1
                    continue
                }
            }
            slots[slot] = Binding(inside: inside, outside: outside, lastUsed: now, created: now)
            byInside[inside] = slot
            byOutside[outside] = slot
            return .success(outside)
        }
        freeSlots.append(slot)
        return .failure(.exhausted)
    }

    private mutating func remove(_ index: Int) {
        guard let b = slots[index] else { return }
        byInside[b.inside] = nil
        byOutside[b.outside] = nil
        slots[index] = nil
        freeSlots.append(index)
    }

    /// Removes expired mappings, looking at no more than `budget` slots (resumes where it stopped).
    /// - Returns: the number of mappings removed.
    @discardableResult
    public mutating func expire(now: Nanoseconds, budget: Int = 4096) -> Int {
        var removed = 0
        for _ in 0..<min(budget, capacity) {
            let i = sweepCursor
            sweepCursor = sweepCursor + 1 == capacity ? 0 : sweepCursor + 1
            if let b = slots[i], now - b.lastUsed > timeouts.timeout(for: b.inside.proto) {
                remove(i)
                removed += 1
            }
        }
        return removed
    }

    /// All live mappings (control interface, tests). Allocates; not for the packet path.
    public var bindings: [Binding] { slots.compactMap { $0 } }
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
