// Malformed packets that a translator would otherwise pass on to the other side (conformance F15–F19; F19, the
// ICMP of the other family, is checked where the protocol is dispatched).
// Each is dropped and counted under its own `DropReason`, so it shows in `ctl stats` drops and /metrics.
// Both directions call these before any state is looked up or created: a lie in a header never makes a
// session, a port allocation or an ICMP error.

/// Header checks shared by the 6→4 and 4→6 paths. Pure functions of the packet's bytes.
enum MalformedInput {
    /// F15 (RFC 768; RFC 8200 §8.1 for IPv6): the UDP Length field covers the UDP header and data, so in a
    /// whole datagram it equals the IP payload it travels in. A first fragment carries only part of the
    /// datagram: its Length is at least what the fragment holds. A UDP segmentation super-packet
    /// (`.udpL4`) is cut by the kernel, which writes each segment's Length itself; the super-packet's field
    /// may be the whole payload's or one segment's, so only its range is checked.
    ///
    /// - Parameters:
    ///   - l4: the UDP header.
    ///   - l4Length: bytes from the UDP header to the end of the packet (or fragment).
    ///   - fragmented: the packet is the first fragment of a longer datagram (M = 1).
    ///   - offload: how the kernel handed the packet over.
    /// - Returns: true when the Length field is consistent with the packet.
    static func udpLengthMatches(_ l4: UnsafeMutableRawPointer, l4Length: Int, fragmented: Bool,
                                 offload: OffloadInfo) -> Bool {
        let length = Int(l4.be16(L4Field.udpLength))
        guard length >= L4Field.udpHeaderLength else { return false }
        if fragmented { return length >= l4Length }
        if offload.segmentation != .none { return length <= l4Length }
        return length == l4Length
    }

    /// F16 (RFC 9293 §3.1): Data Offset counts 32-bit words of the TCP header, at least 5 (the fixed 20
    /// bytes); below that the header overlaps its own options or data. In an unfragmented packet the header
    /// also fits the packet.
    static func tcpDataOffsetValid(_ l4: UnsafeMutableRawPointer, l4Length: Int, fragmented: Bool) -> Bool {
        let words = Int(l4.u8(12) >> 4)
        guard words >= 5 else { return false }
        return fragmented || words * 4 <= l4Length
    }

    /// F17 (RFC 8200 §4.5, RFC 791 §3.2): a fragment whose offset and length put its end beyond what the
    /// reassembled datagram can hold (IPv6: a Payload Length above 65,535; IPv4: a Total Length above 65,535)
    /// can never be reassembled, and only crashes or confuses the receiver ("ping of death").
    ///
    /// - Parameters:
    ///   - unfragmentable: bytes in front of the fragmentable part that count in the reassembled length
    ///     (IPv6: extension headers before the Fragment header; IPv4: the IPv4 header).
    ///   - offset: the fragment offset in bytes.
    ///   - length: the fragment's data bytes.
    static func fragmentFits(unfragmentable: Int, offset: Int, length: Int) -> Bool {
        unfragmentable + offset + length <= 0xFFFF
    }

    /// F18 (RFC 4291 §2.5.5.2, RFC 6052 §3.1): an IPv4-mapped address (::ffff:0:0/96) stands for an IPv4
    /// node inside a dual-stack host's socket API; it never appears in a packet on the wire. As a source it
    /// is spoofed (and would be translated to an IPv4 address the host does not own); as a destination it
    /// names no reachable IPv6 node.
    static func isIPv4Mapped(_ a: IPv6Address) -> Bool {
        a.high == 0 && a.low >> 32 == 0xFFFF
    }
}
