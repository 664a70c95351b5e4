// The checksum oracle: an unfragmented TCP, UDP or ICMP packet whose L4 checksum is valid comes out of the
// translator with a valid L4 checksum (T4.14: incremental updates keep a right checksum right), and every ICMP
// error the translator generates has a valid checksum. Checked from the bytes alone, with FuzzSupport's sum.
import FuzzSupport
import NAT64Translator

/// Whether the L4 checksum of the IP packet at `p` is valid; nil when there is nothing to check (not TCP, UDP
/// or ICMP; a fragment; an IPv4 UDP datagram without checksum; a header that does not fit).
func l4ChecksumValid(_ p: UnsafeMutableRawPointer, count: Int) -> Bool? {
    guard count >= 1 else { return nil }
    var upper = 0
    var length = 0
    var proto: UInt8 = 0
    var pseudo: UInt64 = 0
    let raw = UnsafeRawPointer(p)
    switch raw.load(as: UInt8.self) >> 4 {
    case 4:
        guard count >= 20 else { return nil }
        let ihl = Int(raw.load(as: UInt8.self) & 0x0F) * 4
        let total = Int(raw.load(fromByteOffset: 2, as: UInt8.self)) << 8 | Int(raw.load(fromByteOffset: 3, as: UInt8.self))
        let fragment = Int(raw.load(fromByteOffset: 6, as: UInt8.self) & 0x3F) << 8 | Int(raw.load(fromByteOffset: 7, as: UInt8.self))
        guard ihl >= 20, total >= ihl, total <= count, fragment == 0 else { return nil }
        upper = ihl
        length = total - ihl
        proto = raw.load(fromByteOffset: 9, as: UInt8.self)
        if proto != 1 {
            pseudo = internetSum(raw + 12, count: 8) &+ UInt64(proto) &+ UInt64(length)
        }
    case 6:
        guard count >= 40 else { return nil }
        let payload = Int(raw.load(fromByteOffset: 4, as: UInt8.self)) << 8 | Int(raw.load(fromByteOffset: 5, as: UInt8.self))
        guard 40 + payload <= count,
              case .layout(let layout) = IPv6Layout.walk(p, length: 40 + payload), layout.fragment == nil,
              layout.upperOffset <= 40 + payload
        else { return nil }
        upper = layout.upperOffset
        length = 40 + payload - upper
        proto = layout.proto == 58 ? 1 : layout.proto
        pseudo = internetSum(raw + 8, count: 32) &+ UInt64(length) &+ UInt64(layout.proto)
    default:
        return nil
    }
    let l4 = raw + upper
    switch proto {
    case 6: guard length >= 20 else { return nil }
    case 17:
        guard length >= 8 else { return nil }
        if raw.load(as: UInt8.self) >> 4 == 4 && l4.load(fromByteOffset: 6, as: UInt16.self) == 0 { return nil }
    case 1: guard length >= 4 else { return nil }
    default: return nil
    }
    return internetFold(internetSum(l4, count: length, initial: pseudo)) == 0xFFFF
}
