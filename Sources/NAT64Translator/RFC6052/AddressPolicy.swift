// Which addresses may be translated at all.
//   A2: the well-known prefix 64:ff9b::/96 must not carry non-global IPv4 addresses (RFC 6052 §3.1,
//       special-purpose ranges of RFC 6890); 64:ff9b:1::/48 (RFC 8215) is local-use and not restricted.
//   A3: never translate to or from 0/8, 127/8, 169.254/16, 224/4, 255.255.255.255, ::/128, ::1, fe80::/10,
//       ff00::/8, or the gateway's own addresses.

/// Address checks applied on both translation directions.
public struct AddressPolicy: Sendable, Equatable {
    /// When true (the default), A2 is enforced for the well-known prefix.
    public var strictWellKnownPrefix: Bool

    public init(strictWellKnownPrefix: Bool = true) {
        self.strictWellKnownPrefix = strictWellKnownPrefix
    }

    /// A3: IPv4 addresses that are never translated, whatever the prefix.
    @inlinable
    public static func isForbidden(_ a: IPv4Address) -> Bool {
        let v = a.value
        return v >> 24 == 0            // 0.0.0.0/8 "this network"
            || v >> 24 == 127          // 127.0.0.0/8 loopback
            || v >> 16 == 0xA9FE       // 169.254.0.0/16 link-local
            || v >> 28 == 0xE          // 224.0.0.0/4 multicast
            || v == 0xFFFF_FFFF        // limited broadcast
    }

    /// A3: IPv6 addresses that are never translated.
    @inlinable
    public static func isForbidden(_ a: IPv6Address) -> Bool {
        (a.high == 0 && (a.low == 0 || a.low == 1))   // ::/128, ::1
            || a.high >> 54 == 0x3FA                   // fe80::/10
            || a.high >> 56 == 0xFF                    // ff00::/8
    }

    /// A2: true for IPv4 addresses that are not global (RFC 6890 special-purpose registry entries whose
    /// "Global" is false), which must not appear under the well-known prefix.
    @inlinable
    public static func isNonGlobal(_ a: IPv4Address) -> Bool {
        let v = a.value
        func inRange(_ base: UInt32, _ len: UInt32) -> Bool { v >> (32 - len) == base >> (32 - len) }
        return isForbidden(a)
            || inRange(0x0A00_0000, 8)    // 10/8 private
            || inRange(0x6440_0000, 10)   // 100.64/10 shared address space
            || inRange(0xAC10_0000, 12)   // 172.16/12 private
            || inRange(0xC000_0000, 24)   // 192.0.0/24 IETF protocol assignments
            || inRange(0xC000_0200, 24)   // 192.0.2/24 TEST-NET-1
            || inRange(0xC058_6300, 24)   // 192.88.99/24 deprecated 6to4 relay
            || inRange(0xC0A8_0000, 16)   // 192.168/16 private
            || inRange(0xC612_0000, 15)   // 198.18/15 benchmarking
            || inRange(0xC633_6400, 24)   // 198.51.100/24 TEST-NET-2
            || inRange(0xCB00_7100, 24)   // 203.0.113/24 TEST-NET-3
            || inRange(0xF000_0000, 4)    // 240/4 reserved
    }

    /// True when `a` may be embedded in (or extracted from) `prefix` (A2 + A3).
    @inlinable
    public func allows(_ a: IPv4Address, under prefix: NAT64Prefix) -> Bool {
        if AddressPolicy.isForbidden(a) { return false }
        if strictWellKnownPrefix && prefix.isWellKnown && AddressPolicy.isNonGlobal(a) { return false }
        return true
    }
}
