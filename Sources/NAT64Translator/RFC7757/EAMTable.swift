// RFC 7757 §3.2 (conformance A4, F1): the Explicit Address Mapping table, searched longest prefix first on
// either side. Two binary tries (one per address family) over the prefix bits: a lookup walks at most 128 (or
// 32) nodes and allocates nothing; building happens once, from the configuration.

/// A binary trie of prefixes up to 128 bits; each node may hold the index of an entry.
@usableFromInline
struct PrefixTrie: Sendable {
    /// Child node indices (0 = none; node 0 is the root, which is never a child).
    @usableFromInline var zero: [Int32] = [0]
    @usableFromInline var one: [Int32] = [0]
    /// Entry index stored at a node, or -1.
    @usableFromInline var entry: [Int32] = [-1]

    @inlinable static func bit(_ high: UInt64, _ low: UInt64, _ i: Int) -> Bool {
        i < 64 ? (high >> UInt64(63 - i)) & 1 == 1 : (low >> UInt64(127 - i)) & 1 == 1
    }

    /// Stores `value` at the prefix of `length` bits; an existing prefix keeps its first entry.
    mutating func insert(high: UInt64, low: UInt64, length: Int, value: Int32) {
        var node = 0
        for i in 0..<length {
            let isOne = PrefixTrie.bit(high, low, i)
            var next = Int(isOne ? one[node] : zero[node])
            if next == 0 {
                next = entry.count
                zero.append(0)
                one.append(0)
                entry.append(-1)
                if isOne { one[node] = Int32(next) } else { zero[node] = Int32(next) }
            }
            node = next
        }
        if entry[node] < 0 { entry[node] = value }
    }

    /// The entry of the longest stored prefix of the key, or nil.
    @inlinable func longestMatch(high: UInt64, low: UInt64, bits: Int) -> Int? {
        var node = 0
        var best = entry[0]
        var i = 0
        while i < bits {
            let next = Int(PrefixTrie.bit(high, low, i) ? one[node] : zero[node])
            if next == 0 { break }
            node = next
            if entry[node] >= 0 { best = entry[node] }
            i += 1
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
        var v6 = PrefixTrie()
        var v4 = PrefixTrie()
        for (i, e) in entries.enumerated() {
            v6.insert(high: e.inside.address.high, low: e.inside.address.low, length: e.inside.length, value: Int32(i))
            v4.insert(high: UInt64(e.outside.address.value) << 32, low: 0, length: e.outside.length, value: Int32(i))
        }
        byIPv6 = v6
        byIPv4 = v4
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
