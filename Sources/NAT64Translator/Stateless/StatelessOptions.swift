// Settings of the stateless translation (conformance F1–F4, F14, E1): the options RFC 7915 names, and the
// RFC 6791 sources for ICMP errors from nodes that have no address in the other family.

/// T4.1 / RFC 7915 §4.1, §5.1: what happens to the traffic class (IPv4 TOS) across the translator.
public enum TrafficClassPolicy: String, Sendable, Equatable, CaseIterable {
    /// Copied (the default).
    case copy
    /// Set to zero.
    case zero
}

/// T4.13 / RFC 7915 §4.5: an unfragmented IPv4 UDP datagram without checksum.
public enum ZeroChecksumPolicy: String, Sendable, Equatable, CaseIterable {
    /// The translator computes the checksum IPv6 requires (the default).
    case compute
    /// Dropped, counted, answered with ICMPv4 3/13 (as a fragmented one always is).
    case drop
}

/// Options shared by every mode (F14) and the RFC 6791 sources (E1, F7).
public struct StatelessOptions: Sendable, Equatable {
    /// F14: traffic class copied or zeroed, both directions.
    public var trafficClass: TrafficClassPolicy = .copy
    /// F14: unfragmented zero-checksum UDP computed or dropped.
    public var udpZeroChecksum: ZeroChecksumPolicy = .compute
    /// E1 (RFC 6791): IPv4 sources for ICMPv4 errors translated from IPv6 nodes without an IPv4 form; the
    /// address is picked by a hash of the node's IPv6 address, so one router keeps one address. nil means
    /// `TranslatorConfiguration.rfc6791Source`, else the gateway's IPv4 address.
    public var rfc6791Pool4: IPv4Prefix? = nil
    /// F7 (RFC 6791 for the other direction): IPv6 sources for ICMPv6 errors translated from IPv4 nodes whose
    /// address may not be embedded (127.0.0.1, 0.0.0.0, …). The low 32 bits carry the IPv4 address when the
    /// prefix leaves room for it. nil means the gateway's IPv6 address.
    public var rfc6791Pool6: IPv6Prefix? = nil

    public init() {}
}

extension TranslatorConfiguration {
    /// E1: the IPv4 source for an error from `node`, an IPv6 node with no IPv4 form.
    @inlinable
    func rfc6791Source4(for node: IPv6Address) -> IPv4Address {
        guard let pool = stateless.rfc6791Pool4 else { return rfc6791Source ?? gatewayIPv4 }
        let size = UInt64(1) << UInt64(32 - pool.length)
        let hash = (node.high ^ node.low &* 0x9E37_79B9_7F4A_7C15) >> 16
        return IPv4Address(pool.address.value | UInt32(truncatingIfNeeded: hash % size))
    }

    /// F7: the IPv6 source for an error from `node`, an IPv4 address that may not be embedded.
    @inlinable
    func rfc6791Source6(for node: IPv4Address) -> IPv6Address {
        guard let pool = stateless.rfc6791Pool6 else { return gatewayIPv6 }
        if pool.length > 96 { return pool.address }
        return IPv6Address(high: pool.address.high, low: pool.address.low | UInt64(node.value))
    }

    /// F14: the traffic class (or TOS) the translated packet carries.
    @inlinable
    func translatedTrafficClass(_ value: UInt8) -> UInt8 { stateless.trafficClass == .copy ? value : 0 }
}
