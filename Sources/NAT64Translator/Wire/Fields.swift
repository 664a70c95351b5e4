// Byte offsets of the header fields the translator touches, and big-endian accessors on raw memory.
// Callers check lengths before using an accessor (see the `guard`s at the top of each translation step);
// the accessors themselves do no bounds checks, which keeps the per-packet path free of traps and copies.

/// IPv4 header fields (RFC 791 §3.1).
public enum IPv4Field {
    public static let versionIHL = 0
    public static let tos = 1
    public static let totalLength = 2
    public static let identification = 4
    public static let flagsFragmentOffset = 6
    public static let ttl = 8
    public static let proto = 9
    public static let checksum = 10
    public static let source = 12
    public static let destination = 16
    /// Length of a header without options.
    public static let minimumHeaderLength = 20
    /// More Fragments flag in the flags/fragment-offset word.
    public static let moreFragments: UInt16 = 0x2000
    /// Don't Fragment flag in the flags/fragment-offset word.
    public static let dontFragment: UInt16 = 0x4000
    /// Fragment offset mask (units of 8 bytes).
    public static let offsetMask: UInt16 = 0x1FFF
}

/// IPv6 header fields (RFC 8200 §3).
public enum IPv6Field {
    public static let versionClassFlow = 0
    public static let payloadLength = 4
    public static let nextHeader = 6
    public static let hopLimit = 7
    public static let source = 8
    public static let destination = 24
    public static let headerLength = 40
}

/// UDP (RFC 768), TCP (RFC 9293) and ICMP/ICMPv6 echo fields, relative to the L4 header.
public enum L4Field {
    public static let sourcePort = 0
    public static let destinationPort = 2
    public static let udpLength = 4
    public static let udpChecksum = 6
    public static let udpHeaderLength = 8
    public static let tcpChecksum = 16
    public static let tcpMinimumHeaderLength = 20
    public static let icmpType = 0
    public static let icmpCode = 1
    public static let icmpChecksum = 2
    /// Echo identifier (ICMP 8/0, ICMPv6 128/129).
    public static let icmpIdentifier = 4
    public static let icmpHeaderLength = 8
}

/// IP protocol / next-header numbers (IANA).
public enum IPProtocolNumber {
    public static let hopByHop: UInt8 = 0
    public static let icmp: UInt8 = 1
    public static let tcp: UInt8 = 6
    public static let udp: UInt8 = 17
    public static let routing: UInt8 = 43
    public static let fragment: UInt8 = 44
    public static let icmpv6: UInt8 = 58
    public static let noNextHeader: UInt8 = 59
    public static let destinationOptions: UInt8 = 60
}

extension UnsafeMutableRawPointer {
    @inlinable func u8(_ offset: Int) -> UInt8 { load(fromByteOffset: offset, as: UInt8.self) }
    @inlinable func setU8(_ offset: Int, _ value: UInt8) { storeBytes(of: value, toByteOffset: offset, as: UInt8.self) }
    @inlinable func be16(_ offset: Int) -> UInt16 {
        UInt16(bigEndian: loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }
    @inlinable func setBE16(_ offset: Int, _ value: UInt16) {
        storeBytes(of: value.bigEndian, toByteOffset: offset, as: UInt16.self)
    }
    @inlinable func be32(_ offset: Int) -> UInt32 {
        UInt32(bigEndian: loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }
    @inlinable func setBE32(_ offset: Int, _ value: UInt32) {
        storeBytes(of: value.bigEndian, toByteOffset: offset, as: UInt32.self)
    }
    @inlinable func ipv6(_ offset: Int) -> IPv6Address {
        IPv6Address(
            high: UInt64(bigEndian: loadUnaligned(fromByteOffset: offset, as: UInt64.self)),
            low: UInt64(bigEndian: loadUnaligned(fromByteOffset: offset + 8, as: UInt64.self)))
    }
    @inlinable func setIPv6(_ offset: Int, _ value: IPv6Address) {
        storeBytes(of: value.high.bigEndian, toByteOffset: offset, as: UInt64.self)
        storeBytes(of: value.low.bigEndian, toByteOffset: offset + 8, as: UInt64.self)
    }
}
