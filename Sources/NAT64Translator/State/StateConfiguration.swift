// Configuration of the RFC 6146 state: pool4 port ranges (S3), filtering (S2), limits (S9), held packets
// (S6, S8), and the 1:1 modes (S10): dynamic pool, static maps and EAM prefix pairs (RFC 7757).

/// One pool4 address and the ports (or ICMP identifiers) the translator may use on it (S3).
public struct Pool4Entry: Sendable, Equatable {
    public var address: IPv4Address
    /// Ports usable on this address. A source port keeps its range class (1–1023 or 1024–65535, RFC 4787
    /// REQ-3) inside this range; ICMP identifiers use the whole range.
    public var ports: ClosedRange<UInt16>

    /// - Parameters:
    ///   - address: the pool4 address.
    ///   - ports: usable ports; default all of them.
    public init(address: IPv4Address, ports: ClosedRange<UInt16> = 1...65535) {
        self.address = address
        self.ports = ports
    }
}

/// How IPv6 hosts get their IPv4 address (S10).
public enum TranslationMode: String, Sendable, Equatable, CaseIterable {
    /// Stateful NAPT (RFC 6146): many hosts share the pool4 addresses; ports are rewritten.
    case napt
    /// 1:1 dynamic pool: each IPv6 host gets one pool4 address of its own while it is known, handed out
    /// least-recently-used first; ports are never rewritten.
    case pool
    /// Stateless translation (RFC 7915, RFC 6052 both ways, RFC 7757 EAM): no state at all (F1).
    case siit
}

/// Inbound filtering policy (RFC 6146 §3.5.1.1 / RFC 4787 §5, conformance S2).
public enum FilteringPolicy: String, Sendable, Equatable, CaseIterable {
    /// Any IPv4 host may reach a mapped endpoint (the default, RFC 6146 REQ).
    case endpointIndependent = "endpoint-independent"
    /// Only IPv4 hosts (any port) the IPv6 endpoint has sent to may reach it.
    case addressDependent = "address-dependent"
}

/// A static 1:1 mapping of one IPv6 host to one IPv4 address (S10); no port rewriting.
public struct StaticMapping: Sendable, Equatable {
    public var inside: IPv6Address
    public var outside: IPv4Address
    public init(inside: IPv6Address, outside: IPv4Address) {
        self.inside = inside
        self.outside = outside
    }
}

/// An Explicit Address Mapping (RFC 7757 §3): an IPv6 prefix and an IPv4 prefix with the same number of
/// host bits; an IPv6 host under `inside` maps to the IPv4 address with the same suffix under `outside`.
public struct EAMEntry: Sendable, Equatable {
    public var inside: IPv6Prefix
    public var outside: IPv4Prefix

    /// Returns nil unless both prefixes have the same number of host bits (RFC 7757 §3.1). The stateful modes
    /// take at most 16 host bits (their owned-address set lists every address); `siit` takes any length (F1).
    public init?(inside: IPv6Prefix, outside: IPv4Prefix) {
        guard 128 - inside.length == 32 - outside.length else { return nil }
        self.inside = inside
        self.outside = outside
    }

    /// The IPv4 address for `address`, or nil when it is not under `inside`.
    @inlinable public func map(_ address: IPv6Address) -> IPv4Address? {
        guard inside.contains(address) else { return nil }
        let hostBits = UInt64(32 - outside.length)
        let suffix = hostBits == 0 ? 0 : address.low & ((1 << hostBits) - 1)
        return IPv4Address(outside.address.value | UInt32(truncatingIfNeeded: suffix))
    }

    /// The IPv6 address for `address`, or nil when it is not under `outside`.
    @inlinable public func map(_ address: IPv4Address) -> IPv6Address? {
        guard outside.contains(address) else { return nil }
        let hostBits = UInt64(32 - outside.length)
        let suffix = hostBits == 0 ? 0 : UInt64(address.value) & ((1 << hostBits) - 1)
        return IPv6Address(high: inside.address.high, low: inside.address.low | suffix)
    }
}

/// Limits on state (S9). A limit that is hit is counted and never disturbs existing sessions.
public struct StateLimits: Sendable, Equatable {
    /// Sessions per IPv6 host.
    public var sessionsPerHost: Int
    /// Distinct IPv6 hosts tracked at once (per-host counters and 1:1 assignments).
    public var hosts: Int
    /// IPv4 SYNs held for simultaneous open (S6).
    public var heldSYNs: Int
    /// Port candidates tried for one new mapping before reporting exhaustion (S3: bounded search).
    public var portProbes: Int
    /// Pool4 ports (BIB entries, all protocols) one NAPT host may hold (S11, RFC 6888 REQ-4), 1...65535.
    public var portsPerHost: Int

    public init(sessionsPerHost: Int = 4096, hosts: Int = 65_536, heldSYNs: Int = 256, portProbes: Int = 1024,
                portsPerHost: Int = 2048) {
        self.sessionsPerHost = sessionsPerHost
        self.portsPerHost = min(65_535, portsPerHost)
        self.hosts = hosts
        self.heldSYNs = heldSYNs
        self.portProbes = portProbes
    }
}

/// Everything the state tables need beyond `TranslatorConfiguration`'s pool4, timeouts and session limit.
public struct StateConfiguration: Sendable, Equatable {
    public var mode: TranslationMode
    public var filtering: FilteringPolicy
    /// Port ranges per pool4 address; addresses of `TranslatorConfiguration.pool4` not listed use all ports.
    public var portRanges: [Pool4Entry]
    public var staticMappings: [StaticMapping]
    public var eam: [EAMEntry]
    public var limits: StateLimits
    /// Port blocks per host (RFC 7422); size 0 = off.
    public var portBlocks = PortBlockSettings()
    /// Per-tenant outbound policy rules, checked when a new session is made.
    public var outboundRules: [OutboundRule] = []
    /// S13: port forwards (static BIB entries), NAPT mode only; a reload may change them.
    public var forwards: [PortForward] = []

    public init(mode: TranslationMode = .napt, filtering: FilteringPolicy = .endpointIndependent,
                portRanges: [Pool4Entry] = [], staticMappings: [StaticMapping] = [], eam: [EAMEntry] = [],
                limits: StateLimits = StateLimits()) {
        self.mode = mode
        self.filtering = filtering
        self.portRanges = portRanges
        self.staticMappings = staticMappings
        self.eam = eam
        self.limits = limits
    }

    /// IPv4 addresses owned by the static maps and EAM entries (the translator accepts packets to them).
    public var oneToOneIPv4Addresses: [IPv4Address] {
        if mode == .siit { return [] }  // stateless: nothing is owned, the EAM trie decides (F1)
        return staticMappings.map(\.outside) + eam.flatMap { e in
            (0..<(UInt32(1) << UInt32(32 - e.outside.length))).map { IPv4Address(e.outside.address.value | $0) }
        }
    }
}

extension StateConfiguration {
    /// A4 / RFC 7757 §3.2: the EAM entry with the longest IPv6 prefix containing `address`.
    @inlinable
    public func longestEAM(forIPv6 address: IPv6Address) -> EAMEntry? {
        var best: EAMEntry?
        for e in eam where e.inside.contains(address) && e.inside.length > (best?.inside.length ?? -1) { best = e }
        return best
    }

    /// A4 / RFC 7757 §3.2: the EAM entry with the longest IPv4 prefix containing `address`.
    @inlinable
    public func longestEAM(forIPv4 address: IPv4Address) -> EAMEntry? {
        var best: EAMEntry?
        for e in eam where e.outside.contains(address) && e.outside.length > (best?.outside.length ?? -1) { best = e }
        return best
    }
}
