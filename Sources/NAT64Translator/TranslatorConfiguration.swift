/// Everything the translator core needs to know, resolved from the daemon's config file.
public struct TranslatorConfiguration: Sendable, Equatable {
    /// The NAT64 prefix IPv6 hosts send to (RFC 6052).
    public var prefix: NAT64Prefix
    /// IPv4 addresses owned by the translator (pool4).
    public var pool4: [IPv4Address]
    /// The gateway's own IPv4 address: source of ICMPv4 errors it generates (E2).
    public var gatewayIPv4: IPv4Address
    /// The gateway's own IPv6 address: source of ICMPv6 errors it generates (E2).
    public var gatewayIPv6: IPv6Address
    public var timeouts: SessionTimeouts
    /// Maximum simultaneous mappings (S9).
    public var maxSessions: Int
    /// Seeds port and IPv4 identification choice (reproducible replay).
    public var seed: UInt64
    /// RFC 6146 state: mode, filtering, port ranges, static maps, EAM, limits (State/StateConfiguration.swift).
    public var state: StateConfiguration
    /// Next-hop MTU on the IPv4 side (T6.5, T6.8).
    public var ipv4MTU: Int = 1500
    /// Next-hop MTU on the IPv6 side (T4.6, T4.9).
    public var ipv6MTU: Int = 1500
    /// IPv6 packets made from IPv4 packets with DF=0 are fragmented to this size (T4.5, default 1280).
    public var minimumIPv6MTU: Int = 1280
    /// RFC 6791 source for ICMPv4 errors translated from IPv6 routers without an IPv4 form (E1);
    /// nil means `gatewayIPv4`.
    public var rfc6791Source: IPv4Address? = nil
    /// Translator-generated ICMP errors allowed per destination per second (E3 token bucket; 0 = none).
    public var icmpErrorsPerSecond: Int = 100
    /// Translator-generated ICMP errors allowed per second in total, every destination and queue together
    /// (E4 token bucket in the shared table; 0 = none).
    public var icmpErrorsTotalPerSecond: Int = 1000
    /// A2 / A3 address checks.
    public var addressPolicy = AddressPolicy()
    /// RFC 7915 options (F14) and the stateless (`siit`) settings (F1, E1): see Stateless/StatelessOptions.swift.
    public var stateless = StatelessOptions()

    public init(prefix: NAT64Prefix, pool4: [IPv4Address], gatewayIPv4: IPv4Address, gatewayIPv6: IPv6Address,
                timeouts: SessionTimeouts = SessionTimeouts(), maxSessions: Int = 65_536, seed: UInt64 = 0x6e61_7436_3464,
                state: StateConfiguration = StateConfiguration()) {
        self.prefix = prefix
        self.pool4 = pool4
        self.gatewayIPv4 = gatewayIPv4
        self.gatewayIPv6 = gatewayIPv6
        self.timeouts = timeouts
        self.maxSessions = maxSessions
        self.seed = seed
        self.state = state
    }
}
