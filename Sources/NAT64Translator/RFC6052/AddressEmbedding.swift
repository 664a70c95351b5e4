// RFC 6052 §2.2: IPv4-embedded IPv6 addresses. Rule A1 of docs/conformance.md.
//
// The IPv4 address follows the prefix; bits 64–71 (the "u-octet", byte 8) are always zero and skipped, so for
// prefixes shorter than /64 the IPv4 bytes wrap around it. Bits after the IPv4 address (the suffix) are zero.
//
//   /32: P P P P V V V V u S S S S S S S     /56: P P P P P P P V u V V V S S S S
//   /40: P P P P P V V V u V S S S S S S     /64: P P P P P P P P u V V V V S S S
//   /48: P P P P P P V V u V V S S S S S     /96: P P P P P P P P P P P P V V V V

/// A NAT64 prefix (RFC 6052) of one of the six permitted lengths.
public struct NAT64Prefix: Hashable, Sendable, CustomStringConvertible {
    /// The prefix bits (everything after `length` is zero).
    public let prefix: IPv6Prefix

    /// The well-known prefix 64:ff9b::/96 (RFC 6052 §2.1).
    public static let wellKnown = NAT64Prefix(IPv6Prefix(IPv6Address(high: 0x0064_ff9b_0000_0000, low: 0), length: 96))!

    /// The lengths RFC 6052 §2.2 allows.
    public static let permittedLengths: Set<Int> = [32, 40, 48, 56, 64, 96]

    /// Returns nil unless the length is one of 32, 40, 48, 56, 64, 96 and the u-octet (bits 64–71) is zero.
    public init?(_ prefix: IPv6Prefix) {
        guard NAT64Prefix.permittedLengths.contains(prefix.length) else { return nil }
        guard prefix.address.byte(8) == 0 else { return nil }
        self.prefix = prefix
    }

    /// Parses `2001:db8:64::/96`-style text (see `init?(_: IPv6Prefix)`).
    public init?(_ text: String) {
        guard let p = IPv6Prefix(text) else { return nil }
        self.init(p)
    }

    public var length: Int { prefix.length }
    public var description: String { prefix.description }

    /// True for 64:ff9b::/96, which must not carry non-global IPv4 addresses (RFC 6052 §3.1, rule A2).
    public var isWellKnown: Bool { self == NAT64Prefix.wellKnown }

    /// Byte positions (0–15) of the four IPv4 bytes for this prefix length.
    @inlinable var ipv4BytePositions: (Int, Int, Int, Int) {
        switch prefix.length {
        case 32: return (4, 5, 6, 7)
        case 40: return (5, 6, 7, 9)
        case 48: return (6, 7, 9, 10)
        case 56: return (7, 9, 10, 11)
        case 64: return (9, 10, 11, 12)
        default: return (12, 13, 14, 15)
        }
    }

    /// Embeds `v4` under this prefix (RFC 6052 §2.2). u-octet and suffix are zero.
    @inlinable public func embed(_ v4: IPv4Address) -> IPv6Address {
        if prefix.length == 96 {
            return IPv6Address(high: prefix.address.high, low: prefix.address.low | UInt64(v4.value))
        }
        var high = prefix.address.high
        var low: UInt64 = 0
        let pos = ipv4BytePositions
        let b = v4.bytes
        NAT64Prefix.put(b.0, at: pos.0, &high, &low)
        NAT64Prefix.put(b.1, at: pos.1, &high, &low)
        NAT64Prefix.put(b.2, at: pos.2, &high, &low)
        NAT64Prefix.put(b.3, at: pos.3, &high, &low)
        return IPv6Address(high: high, low: low)
    }

    @inlinable static func put(_ byte: UInt8, at index: Int, _ high: inout UInt64, _ low: inout UInt64) {
        if index < 8 {
            high |= UInt64(byte) << UInt64(56 - 8 * index)
        } else {
            low |= UInt64(byte) << UInt64(56 - 8 * (index - 8))
        }
    }

    /// Why an address under the prefix could not be turned into IPv4.
    public enum ExtractError: Error, Sendable, Equatable {
        /// The address does not start with this prefix.
        case notInPrefix
        /// Bits 64–71 are not zero (RFC 6052 §2.2, rule A1).
        case nonZeroUOctet
        /// Bits after the embedded IPv4 address are not zero (rule A1).
        case nonZeroSuffix
    }

    /// Extracts the embedded IPv4 address, checking the u-octet and suffix (rule A1).
    @inlinable public func extract(_ v6: IPv6Address) -> Result<IPv4Address, ExtractError> {
        if prefix.length == 96 {
            guard v6.high == prefix.address.high, v6.low & 0xFFFF_FFFF_0000_0000 == prefix.address.low else {
                return .failure(.notInPrefix)
            }
            return .success(IPv4Address(UInt32(truncatingIfNeeded: v6.low)))
        }
        guard prefix.contains(v6) else { return .failure(.notInPrefix) }
        if v6.byte(8) != 0 { return .failure(.nonZeroUOctet) }
        let pos = ipv4BytePositions
        let v4 = IPv4Address(v6.byte(pos.0), v6.byte(pos.1), v6.byte(pos.2), v6.byte(pos.3))
        // The suffix is everything after the last IPv4 byte.
        let suffixStart = pos.3 + 1
        var i = suffixStart
        while i < 16 {
            if v6.byte(i) != 0 { return .failure(.nonZeroSuffix) }
            i += 1
        }
        return .success(v4)
    }

    /// True when `v6` lies under this prefix (whether or not it is well formed).
    @inlinable public func contains(_ v6: IPv6Address) -> Bool { prefix.contains(v6) }
}
