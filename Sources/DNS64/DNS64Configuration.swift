// The settings the daemon hands to `DNS64Server` (docs/dns64.md D2–D4, D10, N3).
import NAT64Translator
import NIOCore

/// Everything `DNS64Server` needs. Build one with `init(listen:upstreams:prefixes:allowedClients:)` and
/// change the defaulted fields as needed.
public struct DNS64Configuration: Sendable {
    /// Addresses to answer queries on (UDP), e.g. `[::]:53`. Port 0 picks a free port (see
    /// `DNS64Server.boundAddresses`).
    public var listen: [SocketAddress]
    /// Upstream resolvers, tried in order; the next one after each timeout (N3).
    public var upstreams: [SocketAddress]
    /// NAT64 prefixes to synthesize under (D2). Empty: no synthesis, every query is relayed.
    public var prefixes: [NAT64Prefix]
    /// Clients allowed to query (D10); anyone else gets REFUSED. Empty refuses everyone.
    public var allowedClients: [ClientNetwork]
    /// AAAA addresses that do not count as real AAAA (D4). Default `::ffff:0:0/96`.
    public var excludeAAAA: [IPv6Prefix]
    /// How long to wait for one upstream before trying the next (N3). Default 2 s.
    public var upstreamTimeout: Duration
    /// Whether SERVFAIL/REFUSED/timeouts on AAAA still lead to synthesis (D3). Default true.
    public var synthesizeOnUpstreamErrors: Bool
    /// Queries resolved at the same time; new ones beyond this are dropped (the client retries). Default 4096.
    public var maxConcurrentQueries: Int

    /// Creates a configuration; the other fields take their defaults.
    /// - Parameters:
    ///   - listen: addresses to listen on.
    ///   - upstreams: upstream resolvers in order of preference.
    ///   - prefixes: NAT64 prefixes to synthesize under.
    ///   - allowedClients: client networks allowed to query.
    public init(
        listen: [SocketAddress], upstreams: [SocketAddress], prefixes: [NAT64Prefix],
        allowedClients: [ClientNetwork]
    ) {
        self.listen = listen
        self.upstreams = upstreams
        self.prefixes = prefixes
        self.allowedClients = allowedClients
        excludeAAAA = SynthesisPolicy.defaultExclude
        upstreamTimeout = .seconds(2)
        synthesizeOnUpstreamErrors = true
        maxConcurrentQueries = 4096
    }

    /// The synthesis part of the configuration.
    public var policy: SynthesisPolicy {
        SynthesisPolicy(
            prefixes: prefixes, excludeAAAA: excludeAAAA, synthesizeOnUpstreamErrors: synthesizeOnUpstreamErrors)
    }
}

/// A network whose hosts may query the server (D10).
public enum ClientNetwork: Hashable, Sendable, CustomStringConvertible {
    case v4(IPv4Prefix)
    case v6(IPv6Prefix)

    /// Loopback, both families: 127.0.0.0/8 and ::1/128.
    public static let loopback: [ClientNetwork] = [
        .v4(IPv4Prefix(IPv4Address(127, 0, 0, 0), length: 8)), .v6(IPv6Prefix(.loopback, length: 128)),
    ]

    /// True when the source address of a query lies in this network. An IPv4-mapped IPv6 source
    /// (`::ffff:a.b.c.d`, from a dual-stack socket) is matched as the IPv4 address it carries.
    /// Unix-domain addresses never match.
    /// - Parameter address: the query's source.
    public func contains(_ address: SocketAddress) -> Bool {
        switch (self, ClientNetwork.address(of: address)) {
        case (.v4(let prefix), .some(.v4(let a))): prefix.contains(a)
        case (.v6(let prefix), .some(.v6(let a))): prefix.contains(a)
        case (.v4(let prefix), .some(.v6(let a))):
            a.high == 0 && a.low >> 32 == 0xFFFF && prefix.contains(IPv4Address(UInt32(truncatingIfNeeded: a.low)))
        case (_, .none), (.v6, .some(.v4)): false
        }
    }

    private enum IPAddress {
        case v4(IPv4Address)
        case v6(IPv6Address)
    }

    private static func address(of socketAddress: SocketAddress) -> IPAddress? {
        switch socketAddress {
        case .v4(let a):
            return .v4(IPv4Address(UInt32(bigEndian: a.address.sin_addr.s_addr)))
        case .v6(let a):
            var raw = a.address.sin6_addr
            return .v6(IPv6Address(bytes: withUnsafeBytes(of: &raw) { Array($0) }))
        case .unixDomainSocket:
            return nil
        }
    }

    public var description: String {
        switch self {
        case .v4(let p): p.description
        case .v6(let p): p.description
        }
    }
}
