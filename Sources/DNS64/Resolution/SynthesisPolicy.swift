// The knobs of AAAA synthesis (docs/dns64.md D2–D4), separate from sockets so the state machine stays pure.
import NAT64Translator

/// How AAAA records are synthesized.
public struct SynthesisPolicy: Hashable, Sendable {
    /// Prefixes to synthesize under; each A record gives one AAAA per prefix (D2).
    public var prefixes: [NAT64Prefix]
    /// AAAA records inside these prefixes do not count as real AAAA (D4, RFC 6147 §5.1.4).
    public var excludeAAAA: [IPv6Prefix]
    /// Whether SERVFAIL/REFUSED/… or a timeout on the AAAA query still leads to an A query (D3, RFC 6147
    /// §5.1.2). Off: only true NODATA answers are synthesized, so outages stay visible.
    public var synthesizeOnUpstreamErrors: Bool

    /// The default exclude list: IPv4-mapped addresses ::ffff:0:0/96 (RFC 6147 §5.1.4).
    public static let defaultExclude = [IPv6Prefix(IPv6Address(high: 0, low: 0x0000_ffff_0000_0000), length: 96)]

    /// Creates a policy.
    /// - Parameters:
    ///   - prefixes: NAT64 prefixes to synthesize under.
    ///   - excludeAAAA: AAAA addresses to ignore (default `::ffff:0:0/96`).
    ///   - synthesizeOnUpstreamErrors: see the property (default true).
    public init(
        prefixes: [NAT64Prefix], excludeAAAA: [IPv6Prefix] = SynthesisPolicy.defaultExclude,
        synthesizeOnUpstreamErrors: Bool = true
    ) {
        self.prefixes = prefixes
        self.excludeAAAA = excludeAAAA
        self.synthesizeOnUpstreamErrors = synthesizeOnUpstreamErrors
    }

    /// True when `address` is on the exclude list (D4).
    public func isExcluded(_ address: IPv6Address) -> Bool {
        excludeAAAA.contains { $0.contains(address) }
    }
}
