// The Internet checksum (RFC 1071) and its incremental update (RFC 1624).
//
// Sums are kept unfolded in a UInt64 accumulator of 16-bit big-endian words and folded at the end.
// Incremental updates never "repair" a packet: HC' = ~(~HC + ~m + m') carries an existing error along
// (rule T4.14), because it never looks at the bytes the checksum covers.

/// Ones'-complement arithmetic over 16-bit words.
public enum InternetChecksum {
    /// Adds the bytes at `pointer[0..<count]` as big-endian 16-bit words to `initial` (an odd trailing byte is
    /// padded with zero). The result is unfolded; pass it to `fold`.
    @inlinable
    public static func sum(_ pointer: UnsafeRawPointer, count: Int, initial: UInt64 = 0) -> UInt64 {
        var acc = initial
        var i = 0
        // 8 bytes at a time: adding 32-bit big-endian halves keeps the ones'-complement sum of 16-bit words.
        while i + 8 <= count {
            let w = UInt64(bigEndian: pointer.loadUnaligned(fromByteOffset: i, as: UInt64.self))
            acc &+= (w >> 32) &+ (w & 0xFFFF_FFFF)
            i += 8
        }
        while i + 2 <= count {
            acc &+= UInt64(UInt16(bigEndian: pointer.loadUnaligned(fromByteOffset: i, as: UInt16.self)))
            i += 2
        }
        if i < count {
            acc &+= UInt64(pointer.load(fromByteOffset: i, as: UInt8.self)) << 8
        }
        return acc
    }

    /// Folds an accumulator to 16 bits (no complement).
    @inlinable
    public static func fold(_ value: UInt64) -> UInt16 {
        var v = (value & 0xFFFF_FFFF) &+ (value >> 32)
        v = (v & 0xFFFF) &+ (v >> 16)
        v = (v & 0xFFFF) &+ (v >> 16)
        v = (v & 0xFFFF) &+ (v >> 16)
        return UInt16(truncatingIfNeeded: v)
    }

    /// The checksum field value for a complete sum: the complement of the folded sum.
    @inlinable
    public static func finish(_ value: UInt64) -> UInt16 { ~fold(value) }

    /// Sum of a 32-bit value as two 16-bit words.
    @inlinable
    public static func sum32(_ v: UInt32) -> UInt64 { UInt64(v >> 16) &+ UInt64(v & 0xFFFF) }

    /// Sum of an IPv6 address as eight 16-bit words.
    @inlinable
    public static func sum(_ a: IPv6Address) -> UInt64 {
        sum32(UInt32(truncatingIfNeeded: a.high >> 32)) &+ sum32(UInt32(truncatingIfNeeded: a.high))
            &+ sum32(UInt32(truncatingIfNeeded: a.low >> 32)) &+ sum32(UInt32(truncatingIfNeeded: a.low))
    }

    /// RFC 1624 eqn. 3 applied to a checksum field: replace words summing to `removed` by words summing to
    /// `added`. Returns the new field value.
    @inlinable
    public static func adjust(_ field: UInt16, removing removed: UInt64, adding added: UInt64) -> UInt16 {
        // ~HC + ~m + m'  (with ~m as the ones'-complement negation of the folded sum)
        let acc = UInt64(~field) &+ UInt64(~fold(removed)) &+ added
        return ~fold(acc)
    }

    /// Adjusts a partial checksum field (a field holding the non-complemented pseudo-header sum, as the
    /// kernel hands over with NEEDS_CSUM): P' = P − m + m'.
    @inlinable
    public static func adjustPartial(_ field: UInt16, removing removed: UInt64, adding added: UInt64) -> UInt16 {
        let acc = UInt64(field) &+ UInt64(~fold(removed)) &+ added
        return fold(acc)
    }

    /// IPv4 pseudo-header sum (RFC 793 §3.1 / RFC 768): addresses, protocol, upper-layer length.
    @inlinable
    public static func pseudoHeaderSum(source: UInt32, destination: UInt32, protocol proto: UInt8, length: Int)
        -> UInt64
    {
        sum32(source) &+ sum32(destination) &+ UInt64(proto) &+ UInt64(length)
    }

    /// IPv6 pseudo-header sum (RFC 8200 §8.1): addresses, upper-layer length (32 bits), next header.
    @inlinable
    public static func pseudoHeaderSum(source: IPv6Address, destination: IPv6Address, nextHeader: UInt8, length: Int)
        -> UInt64
    {
        sum(source) &+ sum(destination) &+ sum32(UInt32(truncatingIfNeeded: length)) &+ UInt64(nextHeader)
    }
}
