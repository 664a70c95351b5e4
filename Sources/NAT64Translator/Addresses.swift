// IPv4 and IPv6 address values, CIDR prefixes and their text forms.
// These are plain values for configuration, state keys and tests; the packet path reads addresses
// straight out of packet memory into these fixed-size values (no allocation).

/// An IPv4 address, stored in host order.
public struct IPv4Address: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The address as a 32-bit number (host order, so 192.0.2.1 is 0xC000_0201).
    public var value: UInt32

    @inlinable public init(_ value: UInt32) { self.value = value }

    @inlinable public init(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) {
        value = UInt32(a) << 24 | UInt32(b) << 16 | UInt32(c) << 8 | UInt32(d)
    }

    /// Parses dotted-quad text (`192.0.2.1`). Returns nil for anything else (no octal, no short forms).
    public init?(_ text: Substring) {
        var parts: [UInt32] = []
        for piece in text.split(separator: ".", omittingEmptySubsequences: false) {
            guard !piece.isEmpty, piece.count <= 3, piece.allSatisfy({ $0.isASCII && $0.isNumber }),
                let n = UInt32(piece), n <= 255
            else { return nil }
            if piece.count > 1 && piece.first == "0" { return nil }
            parts.append(n)
        }
        guard parts.count == 4 else { return nil }
        value = parts[0] << 24 | parts[1] << 16 | parts[2] << 8 | parts[3]
    }

    public init?(_ text: String) { self.init(Substring(text)) }

    /// The four bytes in network order.
    @inlinable public var bytes: (UInt8, UInt8, UInt8, UInt8) {
        (UInt8(value >> 24), UInt8(truncatingIfNeeded: value >> 16), UInt8(truncatingIfNeeded: value >> 8),
         UInt8(truncatingIfNeeded: value))
    }

    public var description: String {
        let b = bytes
        return "\(b.0).\(b.1).\(b.2).\(b.3)"
    }

    public static func < (lhs: IPv4Address, rhs: IPv4Address) -> Bool { lhs.value < rhs.value }
}

/// An IPv6 address, stored as two 64-bit halves in host order.
public struct IPv6Address: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// Bits 0–63 (the first eight bytes on the wire).
    public var high: UInt64
    /// Bits 64–127.
    public var low: UInt64

    @inlinable public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// Builds an address from 16 bytes in network order.
    public init(bytes: [UInt8]) {
        precondition(bytes.count == 16)
        var h: UInt64 = 0
        var l: UInt64 = 0
        for i in 0..<8 { h = h << 8 | UInt64(bytes[i]) }
        for i in 8..<16 { l = l << 8 | UInt64(bytes[i]) }
        high = h
        low = l
    }

    /// The 16 bytes in network order.
    public var byteArray: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(16)
        for i in 0..<8 { out.append(UInt8(truncatingIfNeeded: high >> (56 - 8 * i))) }
        for i in 0..<8 { out.append(UInt8(truncatingIfNeeded: low >> (56 - 8 * i))) }
        return out
    }

    /// The byte at position `index` (0–15) in network order.
    @inlinable public func byte(_ index: Int) -> UInt8 {
        index < 8 ? UInt8(truncatingIfNeeded: high >> (56 - 8 * index))
            : UInt8(truncatingIfNeeded: low >> (56 - 8 * (index - 8)))
    }

    /// The eight 16-bit groups.
    public var groups: [UInt16] {
        (0..<8).map { i in
            let word = i < 4 ? high : low
            return UInt16(truncatingIfNeeded: word >> (48 - 16 * (i % 4)))
        }
    }

    public static let unspecified = IPv6Address(high: 0, low: 0)
    public static let loopback = IPv6Address(high: 0, low: 1)

    /// Parses RFC 4291 text, including `::` compression and a trailing dotted quad (`64:ff9b::192.0.2.1`).
    public init?(_ text: Substring) {
        if text.isEmpty || text.count > 45 { return nil }
        var head: [UInt16] = []
        var tail: [UInt16] = []
        var sawDoubleColon = false
        let pieces: [Substring]
        if let range = text.firstRange(of: "::") {
            sawDoubleColon = true
            let before = text[text.startIndex..<range.lowerBound]
            let after = text[range.upperBound...]
            if after.firstRange(of: "::") != nil { return nil }
            guard let h = IPv6Address.parseGroups(before, allowV4: false),
                let t = IPv6Address.parseGroups(after, allowV4: true)
            else { return nil }
            head = h
            tail = t
            pieces = []
        } else {
            guard let all = IPv6Address.parseGroups(text, allowV4: true) else { return nil }
            head = all
            pieces = []
        }
        _ = pieces
        let total = head.count + tail.count
        if sawDoubleColon {
            guard total <= 7 else { return nil }
        } else {
            guard total == 8 else { return nil }
        }
        let groups = head + Array(repeating: 0, count: 8 - total) + tail
        var h: UInt64 = 0
        var l: UInt64 = 0
        for i in 0..<4 { h = h << 16 | UInt64(groups[i]) }
        for i in 4..<8 { l = l << 16 | UInt64(groups[i]) }
        high = h
        low = l
    }

    public init?(_ text: String) { self.init(Substring(text)) }

    private static func parseGroups(_ text: Substring, allowV4: Bool) -> [UInt16]? {
        if text.isEmpty { return [] }
        var out: [UInt16] = []
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        for (i, part) in parts.enumerated() {
            if i == parts.count - 1 && allowV4 && part.contains(".") {
                guard let v4 = IPv4Address(part) else { return nil }
                out.append(UInt16(v4.value >> 16))
                out.append(UInt16(truncatingIfNeeded: v4.value))
                continue
            }
            guard !part.isEmpty, part.count <= 4, let g = UInt16(part, radix: 16) else { return nil }
            out.append(g)
        }
        return out
    }

    /// RFC 5952 canonical text: lowercase, longest run of two or more zero groups compressed.
    public var description: String {
        let g = groups
        var bestStart = -1
        var bestLen = 0
        var i = 0
        while i < 8 {
            if g[i] == 0 {
                var j = i
                while j < 8 && g[j] == 0 { j += 1 }
                if j - i > bestLen && j - i >= 2 {
                    bestStart = i
                    bestLen = j - i
                }
                i = j
            } else {
                i += 1
            }
        }
        func hex(_ range: Range<Int>) -> String {
            range.map { String(g[$0], radix: 16) }.joined(separator: ":")
        }
        if bestStart < 0 { return hex(0..<8) }
        return hex(0..<bestStart) + "::" + hex((bestStart + bestLen)..<8)
    }

    public static func < (lhs: IPv6Address, rhs: IPv6Address) -> Bool {
        lhs.high != rhs.high ? lhs.high < rhs.high : lhs.low < rhs.low
    }

    /// The address with every bit after `length` cleared.
    public func masked(to length: Int) -> IPv6Address {
        if length <= 0 { return .unspecified }
        if length >= 128 { return self }
        if length <= 64 {
            let mask: UInt64 = length == 64 ? ~0 : ~(~UInt64(0) >> UInt64(length))
            return IPv6Address(high: high & mask, low: 0)
        }
        return IPv6Address(high: high, low: low & ~(~UInt64(0) >> UInt64(length - 64)))
    }
}

/// An IPv4 network in CIDR form.
public struct IPv4Prefix: Hashable, Sendable, CustomStringConvertible {
    public var address: IPv4Address
    public var length: Int

    /// Creates a prefix; host bits of `address` are cleared.
    public init(_ address: IPv4Address, length: Int) {
        precondition((0...32).contains(length))
        self.length = length
        self.address = IPv4Address(address.value & IPv4Prefix.mask(length))
    }

    @inlinable static func mask(_ length: Int) -> UInt32 {
        length == 0 ? 0 : ~UInt32(0) << UInt32(32 - length)
    }

    /// Parses `a.b.c.d/len`; a bare address means /32. Host bits set after the length are refused.
    public init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2, let addr = IPv4Address(parts[0]) else { return nil }
        var len = 32
        if parts.count == 2 {
            guard let l = Int(parts[1]), (0...32).contains(l) else { return nil }
            len = l
        }
        guard addr.value & ~IPv4Prefix.mask(len) == 0 else { return nil }
        self.init(addr, length: len)
    }

    @inlinable public func contains(_ a: IPv4Address) -> Bool {
        a.value & IPv4Prefix.mask(length) == address.value
    }

    public var description: String { "\(address)/\(length)" }
}

/// An IPv6 network in CIDR form.
public struct IPv6Prefix: Hashable, Sendable, CustomStringConvertible {
    public var address: IPv6Address
    public var length: Int

    /// Creates a prefix; host bits of `address` are cleared.
    public init(_ address: IPv6Address, length: Int) {
        precondition((0...128).contains(length))
        self.length = length
        self.address = address.masked(to: length)
    }

    /// Parses `addr/len`; a bare address means /128. Host bits set after the length are refused.
    public init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2, let addr = IPv6Address(parts[0]) else { return nil }
        var len = 128
        if parts.count == 2 {
            guard let l = Int(parts[1]), (0...128).contains(l) else { return nil }
            len = l
        }
        guard addr.masked(to: len) == addr else { return nil }
        self.init(addr, length: len)
    }

    @inlinable public func contains(_ a: IPv6Address) -> Bool {
        a.masked(to: length) == address
    }

    public var description: String { "\(address)/\(length)" }
}
