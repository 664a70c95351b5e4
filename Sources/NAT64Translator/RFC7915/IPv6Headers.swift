// RFC 8200 §4: walking the IPv6 extension header chain, with the RFC 7915 §5.1 drop rules:
//   T6.3 a Routing header with Segments Left ≠ 0 → ICMPv6 Parameter Problem pointing at that field;
//   T6.4 an extension header after the Fragment header, or a second Fragment header → drop.

/// Where the upper layer starts and what fragment the packet is.
public struct IPv6Layout: Equatable, Sendable {
    /// Offset from the IPv6 header of the upper-layer header (or of the fragment's data).
    public var upperOffset: Int
    /// The upper-layer protocol.
    public var proto: UInt8
    /// Offset of the next-header field that named `proto` (for T6.13's Parameter Problem pointer).
    public var protoFieldOffset: Int
    /// Present when the packet has a Fragment header.
    public var fragment: IPv6Fragment?
}

/// The fields of an IPv6 Fragment header (RFC 8200 §4.5).
public struct IPv6Fragment: Equatable, Sendable {
    /// Fragment offset in bytes.
    public var offset: Int
    public var more: Bool
    public var identification: UInt32
    /// True for the first fragment (it carries the upper-layer header).
    @inlinable public var isFirst: Bool { offset == 0 }
}

/// Result of walking the chain.
public enum IPv6Walk: Equatable, Sendable {
    case layout(IPv6Layout)
    case drop(DropReason)
    /// ICMPv6 Parameter Problem code 0 with this pointer (T6.3).
    case parameterProblem(pointer: UInt32, reason: DropReason)
}

extension IPv6Layout {
    /// Walks the extension headers of the IPv6 packet at `ip` (`length` bytes, already checked ≥ 40).
    public static func walk(_ ip: UnsafeMutableRawPointer, length: Int) -> IPv6Walk {
        var next = ip.u8(IPv6Field.nextHeader)
        var fieldOffset = IPv6Field.nextHeader
        var offset = IPv6Field.headerLength
        var fragment: IPv6Fragment?
        while true {
            switch next {
            case IPProtocolNumber.hopByHop, IPProtocolNumber.destinationOptions, IPProtocolNumber.routing:
                if fragment != nil { return .drop(.extensionAfterFragment) }
                guard offset + 8 <= length else { return .drop(.truncated) }
                let headerLength = (Int(ip.u8(offset + 1)) + 1) * 8
                guard offset + headerLength <= length else { return .drop(.truncated) }
                if next == IPProtocolNumber.routing && ip.u8(offset + 3) != 0 {
                    return .parameterProblem(pointer: UInt32(offset + 3), reason: .segmentsLeft)
                }
                fieldOffset = offset
                next = ip.u8(offset)
                offset += headerLength
            case IPProtocolNumber.fragment:
                if fragment != nil { return .drop(.extensionAfterFragment) }
                guard offset + 8 <= length else { return .drop(.truncated) }
                let word = ip.be16(offset + 2)
                fragment = IPv6Fragment(offset: Int(word & 0xFFF8), more: word & 1 == 1,
                                        identification: ip.be32(offset + 4))
                fieldOffset = offset
                next = ip.u8(offset)
                offset += 8
                // T6.4: nothing but the upper layer may follow the Fragment header.
                if next == IPProtocolNumber.hopByHop || next == IPProtocolNumber.destinationOptions
                    || next == IPProtocolNumber.routing || next == IPProtocolNumber.fragment
                {
                    return .drop(.extensionAfterFragment)
                }
            default:
                return .layout(IPv6Layout(upperOffset: offset, proto: next, protoFieldOffset: fieldOffset,
                                          fragment: fragment))
            }
        }
    }
}
