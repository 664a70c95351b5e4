// Finding the IP packet inside a captured frame: raw IP, Ethernet (with 802.1Q/802.1ad tags), Linux cooked
// captures v1 and v2, and BSD loopback. The frame comes from a file, so every length is checked before use.

/// Where the IP packet starts in a captured frame, or why the frame carries none.
public enum LinkPayload: Equatable, Sendable {
    /// The IP packet is `frame[offset...]`.
    case ip(offset: Int)
    /// The frame holds no IPv4/IPv6 packet (ARP, LLDP, a short frame…); the text says what it holds.
    case notIP(String)
}

extension LinkType {
    /// Whether `payload(of:)` understands frames of this type.
    public var isSupported: Bool {
        self == .raw || self == .ipv4 || self == .ipv6 || self == .ethernet || self == .linuxSLL
            || self == .linuxSLL2 || self == .null
    }

    /// Locates the IP packet in `frame`.
    ///
    /// - Parameter frame: the bytes of one record.
    /// - Returns: the IP packet's offset, or why there is none. Never traps, whatever the bytes.
    public func payload(of frame: [UInt8]) -> LinkPayload {
        func u16(_ o: Int) -> Int { Int(frame[o]) << 8 | Int(frame[o + 1]) }
        func ethertype(_ type: Int, at offset: Int) -> LinkPayload {
            switch type {
            case 0x0800, 0x86DD: .ip(offset: offset)
            default: .notIP("ethertype 0x" + hex(type, width: 4))
            }
        }
        switch self {
        case .raw, .ipv4, .ipv6:
            return .ip(offset: 0)
        case .ethernet:
            var offset = 12
            while offset + 2 <= frame.count {
                let type = u16(offset)
                if type == 0x8100 || type == 0x88A8 {  // 802.1Q / 802.1ad tag: 4 bytes, then the next type
                    offset += 4
                    continue
                }
                return ethertype(type, at: offset + 2)
            }
            return .notIP("Ethernet frame of \(frame.count) bytes, too short for a header")
        case .linuxSLL:  // 16 bytes: packet type, ARPHRD, address length, 8 address bytes, protocol
            guard frame.count >= 16 else { return .notIP("SLL frame of \(frame.count) bytes, shorter than its header") }
            return ethertype(u16(14), at: 16)
        case .linuxSLL2:  // 20 bytes: protocol first, then reserved, ifindex, ARPHRD, type, address
            guard frame.count >= 20 else { return .notIP("SLL2 frame of \(frame.count) bytes, shorter than its header") }
            return ethertype(u16(0), at: 20)
        case .null:  // a 4-byte AF_ value in the capturing host's order: trust the IP version nibble instead
            guard frame.count >= 5 else { return .notIP("loopback frame of \(frame.count) bytes") }
            let version = frame[4] >> 4
            return version == 4 || version == 6 ? .ip(offset: 4) : .notIP("loopback frame, not IP")
        default:
            return .notIP("link type \(self) is not supported")
        }
    }
}

/// `value` in lowercase hexadecimal, zero-padded to `width` digits.
func hex(_ value: Int, width: Int) -> String {
    let s = String(value, radix: 16)
    return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
}
