// ICMP ↔ ICMPv6 type, code, pointer and MTU mappings: RFC 7915 §4.2 (ICMPv4 → ICMPv6) and §5.2 (ICMPv6 → ICMPv4),
// with RFC 1191 plateaus. Pure functions: the tables are the rules T4.7–T4.10 and T6.6–T6.9.

/// An ICMP type/code pair with its 32-bit "rest of header" word (pointer, MTU or unused).
public struct ICMPMessageKind: Equatable, Sendable {
    public var type: UInt8
    public var code: UInt8
    public var parameter: UInt32
    public init(type: UInt8, code: UInt8, parameter: UInt32 = 0) {
        self.type = type
        self.code = code
        self.parameter = parameter
    }
}

/// The RFC 1191 §7 plateau table, largest first.
public let rfc1191Plateaus: [Int] = [65535, 32000, 17914, 8166, 4352, 2002, 1492, 1006, 508, 296, 68]

public enum ICMPMapping {
    /// T4.7 informational ICMPv4 → ICMPv6: echo request 8 → 128, echo reply 0 → 129; everything else nil (drop).
    @inlinable public static func informational4to6(type: UInt8) -> UInt8? {
        switch type {
        case 8: 128
        case 0: 129
        default: nil
        }
    }

    /// T6.6 informational ICMPv6 → ICMPv4: 128 → 8, 129 → 0; MLD, ND and the rest nil (drop).
    @inlinable public static func informational6to4(type: UInt8) -> UInt8? {
        switch type {
        case 128: 8
        case 129: 0
        default: nil
        }
    }

    /// True for ICMPv4 error types (their payload is an inner packet).
    @inlinable public static func isError4(_ type: UInt8) -> Bool { type == 3 || type == 11 || type == 12 }
    /// True for ICMPv6 error types (1–127 per RFC 4443 §2.1; the translator handles 1–4).
    @inlinable public static func isError6(_ type: UInt8) -> Bool { type < 128 }

    /// T4.8–T4.10: maps an ICMPv4 error to its ICMPv6 form.
    ///
    /// - Parameters:
    ///   - type, code, rest: the ICMPv4 header fields (rest = bytes 4–7).
    ///   - innerTotalLength: total length of the inner IPv4 packet (for MTU plateaus).
    ///   - ipv6MTU, ipv4MTU: the translator's next-hop MTUs on each side.
    /// - Returns: the ICMPv6 type/code/parameter, or nil when the message must be dropped.
    public static func error4to6(type: UInt8, code: UInt8, rest: UInt32, innerTotalLength: Int,
                                 ipv6MTU: Int, ipv4MTU: Int) -> ICMPMessageKind? {
        switch type {
        case 3:  // Destination Unreachable
            switch code {
            case 0, 1, 5, 6, 7, 8, 11, 12: return ICMPMessageKind(type: 1, code: 0)
            case 2: return ICMPMessageKind(type: 4, code: 1, parameter: 6)  // protocol → pointer to next header
            case 3: return ICMPMessageKind(type: 1, code: 4)
            case 4:  // Fragmentation Needed → Packet Too Big (T4.9)
                return ICMPMessageKind(type: 2, code: 0, parameter: UInt32(packetTooBigMTU4to6(
                    advertised: Int(rest & 0xFFFF), innerTotalLength: innerTotalLength, ipv6MTU: ipv6MTU,
                    ipv4MTU: ipv4MTU)))
            case 9, 10, 13, 15: return ICMPMessageKind(type: 1, code: 1)
            default: return nil  // 14 (host precedence violation) and unknown codes
            }
        case 11:  // Time Exceeded
            return ICMPMessageKind(type: 3, code: code)
        case 12:  // Parameter Problem
            guard code == 0 || code == 2 else { return nil }
            guard let pointer = pointer4to6(UInt8(truncatingIfNeeded: rest >> 24)) else { return nil }
            return ICMPMessageKind(type: 4, code: 0, parameter: UInt32(pointer))
        default:
            return nil
        }
    }

    /// T4.9: MTU for a Packet Too Big made from Fragmentation Needed:
    /// min(advertised + 20, IPv6 next-hop MTU, IPv4 next-hop MTU + 20), never below 1280; an advertised 0
    /// (pre-RFC 1191 router) uses the largest plateau below the inner packet's total length.
    public static func packetTooBigMTU4to6(advertised: Int, innerTotalLength: Int, ipv6MTU: Int, ipv4MTU: Int) -> Int {
        var mtu = advertised
        if mtu == 0 {
            mtu = rfc1191Plateaus.first { $0 < innerTotalLength } ?? 68
        }
        let result = min(mtu + 20, ipv6MTU, ipv4MTU + 20)
        return max(result, 1280)
    }

    /// T4.10 pointer map, IPv4 header offset → IPv6 header offset; nil for offsets with no counterpart.
    public static func pointer4to6(_ p: UInt8) -> UInt8? {
        switch p {
        case 0: 0       // version/IHL → version/traffic class
        case 1: 1       // TOS → traffic class
        case 2, 3: 4    // total length → payload length
        case 8: 7       // TTL → hop limit
        case 9: 6       // protocol → next header
        case 12...15: 8     // source address
        case 16...19: 24    // destination address
        default: nil    // 4–7 (identification, flags), 10–11 (checksum), options
        }
    }

    /// T6.7–T6.9: maps an ICMPv6 error to its ICMPv4 form; nil when it must be dropped.
    public static func error6to4(type: UInt8, code: UInt8, rest: UInt32, ipv4MTU: Int, ipv6MTU: Int) -> ICMPMessageKind? {
        switch type {
        case 1:  // Destination Unreachable (T6.7)
            switch code {
            case 0, 2, 3: return ICMPMessageKind(type: 3, code: 1)
            case 1: return ICMPMessageKind(type: 3, code: 10)
            case 4: return ICMPMessageKind(type: 3, code: 3)
            default: return nil
            }
        case 2:  // Packet Too Big → Fragmentation Needed (T6.8)
            let mtu = min(Int(min(rest, 0xFFFF_FFF0)) - 20, ipv4MTU, ipv6MTU - 20)
            return ICMPMessageKind(type: 3, code: 4, parameter: UInt32(max(mtu, 68)))
        case 3:  // Time Exceeded (T6.9)
            return ICMPMessageKind(type: 11, code: code)
        case 4:  // Parameter Problem (T6.9)
            switch code {
            case 0:
                guard rest <= 0xFF, let pointer = pointer6to4(UInt8(rest)) else { return nil }
                return ICMPMessageKind(type: 12, code: 0, parameter: UInt32(pointer) << 24)
            case 1: return ICMPMessageKind(type: 3, code: 2)
            default: return nil
            }
        default:
            return nil
        }
    }

    /// T6.9 pointer map, IPv6 header offset → IPv4 header offset; nil for 2, 3 (flow label) and > 39.
    public static func pointer6to4(_ p: UInt8) -> UInt8? {
        switch p {
        case 0: 0
        case 1: 1
        case 4, 5: 2
        case 6: 9
        case 7: 8
        case 8...23: 12
        case 24...39: 16
        default: nil
        }
    }
}
