// RFC 7757 §3.2 (conformance A4, F1): the Explicit Address Mapping table, searched longest prefix first on
// either side. Two path-compressed binary tries (one per address family) over the prefix bits: a lookup visits
// only the nodes where stored prefixes end or fork, and allocates nothing; building happens once, from the
// configuration.

/// A path-compressed binary trie of prefixes up to 128 bits (a PATRICIA trie): only the root, nodes that hold an
/// entry and nodes where the paths fork are kept, so a lookup takes one step per such node on the way (one for
/// a table with a single /128) instead of one per bit.
@usableFromInline
struct PrefixTrie: Sendable {
    /// Per kept node: its depth in bits, its path bits (masked to the depth), the entry it holds (-1 = none),
    /// and the kept node reached through bit 0 / bit 1 after it (-1 = none).
    @usableFromInline var depth: [Int] = []
    @usableFromInline var high: [UInt64] = []
    @usableFromInline var low: [UInt64] = []
    @usableFromInline var entry: [Int32] = []
    @usableFromInline var next: [Int32] = []  // two per node

    /// Builds the trie from (prefix bits, length, entry index), the first entry of a prefix winning.
    init(_ prefixes: [(high: UInt64, low: UInt64, length: Int)]) {
        // A plain binary trie first: three words per node (child 0, child 1, entry).
        var plain: [Int32] = [0, 0, -1]
        for (index, p) in prefixes.enumerated() {
            var node = 0
            for i in 0..<p.length {
                let bit = Int(truncatingIfNeeded: ((i < 64 ? p.high << UInt64(i) : p.low << UInt64(i - 64)) >> 63))
                var child = Int(plain[node * 3 + bit])
                if child == 0 {
                    child = plain.count / 3
                    plain += [0, 0, -1]
                    plain[node * 3 + bit] = Int32(child)
                }
                node = child
            }
            if plain[node * 3 + 2] < 0 { plain[node * 3 + 2] = Int32(index) }
        }
        _ = keep(plain, node: 0, depth: 0, high: 0, low: 0)
    }

    /// Adds plain node `node` as a kept node and, recursively, the kept nodes below it; returns its index.
    private mutating func keep(_ plain: [Int32], node: Int, depth d: Int, high h: UInt64, low l: UInt64) -> Int32 {
        let k = entry.count
        depth.append(d)
        high.append(h)
        low.append(l)
        entry.append(plain[node * 3 + 2])
        next += [-1, -1]
        for bit in 0..<2 {
            var child = Int(plain[node * 3 + bit])
            if child == 0 { continue }
            var (cd, ch, cl) = (d + 1, h, l)
            PrefixTrie.set(bit, at: d, &ch, &cl)
            // Skip nodes with no entry and a single child.
            while plain[child * 3 + 2] < 0, (plain[child * 3] == 0) != (plain[child * 3 + 1] == 0) {
                let only = plain[child * 3] != 0 ? 0 : 1
                PrefixTrie.set(only, at: cd, &ch, &cl)
                child = Int(plain[child * 3 + only])
                cd += 1
            }
            let kept = keep(plain, node: child, depth: cd, high: ch, low: cl)
            next[k * 2 + bit] = kept
        }
        return Int32(k)
    }

    private static func set(_ bit: Int, at position: Int, _ high: inout UInt64, _ low: inout UInt64) {
        guard bit == 1 else { return }
        if position < 64 { high |= 1 << UInt64(63 - position) } else { low |= 1 << UInt64(127 - position) }
    }

    /// The entry of the longest stored prefix of the key (its first `bits` bits), or nil.
    @inlinable func longestMatch(high keyHigh: UInt64, low keyLow: UInt64, bits: Int) -> Int? {
        guard !entry.isEmpty else { return nil }
        var k = 0
        var best = entry[0]
        while true {
            let d = depth[k]
            if d >= bits { break }
            let bit = Int(truncatingIfNeeded: (d < 64 ? keyHigh << UInt64(d) : keyLow << UInt64(d - 64)) >> 63)
            let t = Int(next[k &* 2 &+ bit])
            if t < 0 { break }
            // The key must follow the compressed path down to the kept node.
            let td = depth[t]
            let highMask: UInt64 = td >= 64 ? ~0 : ~(~UInt64(0) >> UInt64(td))
            let lowMask: UInt64 = td <= 64 ? 0 : ~(~UInt64(0) >> UInt64(td - 64))
            guard keyHigh & highMask == high[t], keyLow & lowMask == low[t] else { break }
            k = t
            if entry[t] >= 0 { best = entry[t] }
        }
        return best >= 0 ? Int(best) : nil
    }
}

/// The EAM entries with a longest-match index on each side.
public struct EAMTable: Sendable {
    public let entries: [EAMEntry]
    @usableFromInline let byIPv6: PrefixTrie
    @usableFromInline let byIPv4: PrefixTrie

    public init(_ entries: [EAMEntry]) {
        self.entries = entries
        byIPv6 = PrefixTrie(entries.map { ($0.inside.address.high, $0.inside.address.low, $0.inside.length) })
        byIPv4 = PrefixTrie(entries.map { (UInt64($0.outside.address.value) << 32, 0, $0.outside.length) })
    }

    public var isEmpty: Bool { entries.isEmpty }

    /// The entry with the longest IPv6 prefix holding `address`.
    @inlinable public func entry(forIPv6 address: IPv6Address) -> EAMEntry? {
        byIPv6.longestMatch(high: address.high, low: address.low, bits: 128).map { entries[$0] }
    }

    /// The entry with the longest IPv4 prefix holding `address`.
    @inlinable public func entry(forIPv4 address: IPv4Address) -> EAMEntry? {
        byIPv4.longestMatch(high: UInt64(address.value) << 32, low: 0, bits: 32).map { entries[$0] }
    }

    /// RFC 7757 §3.2: the IPv4 form of `address`, or nil when no entry holds it.
    @inlinable public func map(_ address: IPv6Address) -> IPv4Address? { entry(forIPv6: address)?.map(address) }

    /// RFC 7757 §3.2: the IPv6 form of `address`, or nil when no entry holds it.
    @inlinable public func map(_ address: IPv4Address) -> IPv6Address? { entry(forIPv4: address)?.map(address) }
}
