// The knobs of AAAA synthesis (docs/dns64.md D2–D4, D7), separate from sockets so the state machine stays pure.
import NAT64Translator

/// How AAAA records are synthesized for one group of clients.
public struct SynthesisPolicy: Hashable, Sendable {
    /// Prefixes to synthesize under; each A record gives one AAAA per prefix (D2). Empty: no synthesis at all,
    /// every query is relayed (a client group with synthesis switched off, D10).
    public var prefixes: [NAT64Prefix]
    /// AAAA records inside these prefixes do not count as real AAAA (D4, RFC 6147 §5.1.4).
    public var excludeAAAA: [IPv6Prefix]
    /// IPv4 addresses that may be synthesized into AAAA records (D4, RFC 6147 §5.1.4 "mapped"). nil: every
    /// address. Under the Well-Known Prefix non-global addresses are never used either way (RFC 6052 §3.1).
    public var mappedIPv4: [IPv4Prefix]?
    /// Whether SERVFAIL/REFUSED/… or a timeout on the AAAA query still leads to an A query (D3, RFC 6147
    /// §5.1.2). Off: only true NODATA answers are synthesized, so outages stay visible.
    public var synthesizeOnUpstreamErrors: Bool
    /// Whether a DO=1 query whose negative AAAA answer is signed is synthesized anyway (D7, RFC 6147 §5.5:
    /// "break DNSSEC"). Default false: the signed answer is passed on.
    public var breakDNSSEC: Bool

    /// The default exclude list: IPv4-mapped addresses ::ffff:0:0/96 (RFC 6147 §5.1.4).
    public static let defaultExclude = [IPv6Prefix(IPv6Address(high: 0, low: 0x0000_ffff_0000_0000), length: 96)]

    /// Creates a policy.
    /// - Parameters:
    ///   - prefixes: NAT64 prefixes to synthesize under.
    ///   - excludeAAAA: AAAA addresses to ignore (default `::ffff:0:0/96`).
    ///   - mappedIPv4: IPv4 addresses that may be synthesized (default nil: all of them).
    ///   - synthesizeOnUpstreamErrors: see the property (default true).
    ///   - breakDNSSEC: see the property (default false).
    public init(
        prefixes: [NAT64Prefix], excludeAAAA: [IPv6Prefix] = SynthesisPolicy.defaultExclude,
        mappedIPv4: [IPv4Prefix]? = nil, synthesizeOnUpstreamErrors: Bool = true, breakDNSSEC: Bool = false
    ) {
        self.prefixes = prefixes
        self.excludeAAAA = excludeAAAA
        self.mappedIPv4 = mappedIPv4
        self.synthesizeOnUpstreamErrors = synthesizeOnUpstreamErrors
        self.breakDNSSEC = breakDNSSEC
    }

    /// True when `address` is on the exclude list (D4).
    public func isExcluded(_ address: IPv6Address) -> Bool {
        excludeAAAA.contains { $0.contains(address) }
    }

    /// D4 (RFC 6147 §5.1.4, RFC 6052 §3.1): whether A record `v4` may become an AAAA under `prefix`. It must be
    /// on the `mapped` list, and the Well-Known Prefix never carries non-global addresses.
    public func maps(_ v4: IPv4Address, under prefix: NAT64Prefix) -> Bool {
        if let mappedIPv4, !mappedIPv4.contains(where: { $0.contains(v4) }) { return false }
        return !prefix.isWellKnown || SynthesisPolicy.isGlobal(v4)
    }

    /// IPv4 ranges whose "Globally Reachable" bit is false in the IANA special-purpose registry (RFC 6890),
    /// plus multicast, which is never a host address.
    static let nonGlobalIPv4: [IPv4Prefix] = [
        ("0.0.0.0", 8), ("10.0.0.0", 8), ("100.64.0.0", 10), ("127.0.0.0", 8), ("169.254.0.0", 16),
        ("172.16.0.0", 12), ("192.0.0.0", 24), ("192.0.2.0", 24), ("192.88.99.0", 24), ("192.168.0.0", 16),
        ("198.18.0.0", 15), ("198.51.100.0", 24), ("203.0.113.0", 24), ("224.0.0.0", 4), ("240.0.0.0", 4),
    ].map { IPv4Prefix(IPv4Address($0.0)!, length: $0.1) }

    /// True unless `v4` lies in one of `nonGlobalIPv4` (RFC 6052 §3.1 forbids those under 64:ff9b::/96).
    public static func isGlobal(_ v4: IPv4Address) -> Bool {
        !nonGlobalIPv4.contains { $0.contains(v4) }
    }
}
