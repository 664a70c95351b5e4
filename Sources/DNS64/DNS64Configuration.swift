// The settings the daemon hands to `DNS64Server` (docs/dns64.md D2–D4, D7, D10, N1–N4).
import NAT64Translator
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

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
    /// IPv4 addresses that may be synthesized (D4 "mapped"); nil: all (non-global ones never under the WKP).
    public var mappedIPv4: [IPv4Prefix]?
    /// Synthesize even when DO=1 and the negative AAAA answer is signed (D7). Default false.
    public var breakDNSSEC: Bool
    /// Client groups with their own prefixes or synthesis switched off (D10). Default none.
    public var groups: [ClientGroup]
    /// Cache limits (N4).
    public var cache: CacheLimits
    /// TCP connections idle this long are closed (N1, RFC 7766 §6.2.3). Default 10 s.
    public var tcpIdleTimeout: Duration
    /// Open TCP connections allowed per client address (N1, RFC 7766 §6.2.2). Default 16.
    public var maxTCPConnectionsPerClient: Int
    /// Open TCP connections allowed in total (N1). Default 1024.
    public var maxTCPConnections: Int
    /// UDP sockets per listen address, bound with SO_REUSEPORT so the kernel spreads clients over the event
    /// loops. Default 1.
    public var udpSocketsPerAddress: Int
    /// UDP sockets, each on its own random port, kept open per upstream and event loop; a query leaves from a
    /// random one (N3; see `UpstreamSocketPool`). Default 64.
    public var upstreamPortsPerLoop: Int
    /// Upstream queries one such socket carries before it is replaced by one on a new port. Default 256.
    public var upstreamQueriesPerPort: Int
    /// D13: resolve RD=0 queries upstream like any other. Default false: they are answered from the cache only.
    public var recurseWithoutRD: Bool = false
    /// D16: the whole resolution of one client query (AAAA, the A fallback, failover) ends by this, with
    /// SERVFAIL. nil: twice `upstreamTimeout`.
    public var clientDeadline: Duration? = nil

    /// `clientDeadline`, or its default of twice the upstream timeout (D16).
    public var effectiveClientDeadline: Duration { clientDeadline ?? upstreamTimeout * 2 }

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
        mappedIPv4 = nil
        breakDNSSEC = false
        groups = []
        cache = CacheLimits()
        tcpIdleTimeout = .seconds(10)
        maxTCPConnectionsPerClient = 16
        maxTCPConnections = 1024
        udpSocketsPerAddress = 1
        upstreamPortsPerLoop = 64
        upstreamQueriesPerPort = 256
    }

    /// The synthesis part of the configuration, for clients in no group.
    public var policy: SynthesisPolicy {
        SynthesisPolicy(
            prefixes: prefixes, excludeAAAA: excludeAAAA, mappedIPv4: mappedIPv4,
            synthesizeOnUpstreamErrors: synthesizeOnUpstreamErrors, breakDNSSEC: breakDNSSEC)
    }
}

/// A group of clients with their own synthesis settings (D10).
public struct ClientGroup: Hashable, Sendable {
    /// A name for logs.
    public var name: String
    /// The networks of the group's clients (they must be on the allow list too).
    public var clients: [ClientNetwork]
    /// The group's synthesis settings; empty `prefixes` switches synthesis off for the group.
    public var policy: SynthesisPolicy

    /// Creates a group.
    /// - Parameters:
    ///   - name: for logs.
    ///   - clients: the group's networks.
    ///   - policy: its synthesis settings.
    public init(name: String, clients: [ClientNetwork], policy: SynthesisPolicy) {
        self.name = name
        self.clients = clients
        self.policy = policy
    }
}

/// Limits of the answer cache (N4, RFC 2308 §5 for negative entries).
public struct CacheLimits: Hashable, Sendable {
    /// Most entries kept; the oldest are evicted first. 0 turns the cache off. Default 10 000.
    public var maxEntries: Int
    /// Most bytes of answers kept (wire size). Default 16 MiB.
    public var maxBytes: Int
    /// Entries live at least this long (s), even with smaller TTLs. Default 0.
    public var minTTL: UInt32
    /// Positive entries live at most this long (s). Default 86 400.
    public var maxTTL: UInt32
    /// Negative entries (NXDOMAIN, NODATA) live at most this long (s). Default 3600 (RFC 2308 §5 suggests
    /// one to three hours).
    public var maxNegativeTTL: UInt32

    /// Creates limits (the defaults above unless given).
    public init(
        maxEntries: Int = 10_000, maxBytes: Int = 16 << 20, minTTL: UInt32 = 0, maxTTL: UInt32 = 86_400,
        maxNegativeTTL: UInt32 = 3600
    ) {
        self.maxEntries = maxEntries
        self.maxBytes = maxBytes
        self.minTTL = minTTL
        self.maxTTL = maxTTL
        self.maxNegativeTTL = maxNegativeTTL
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
        guard let ip = ClientIP(address) else { return false }  // Unix-domain
        return contains(ip)
    }

    /// `contains(_:)` for an address already taken out of its socket address (the UDP listener threads' path,
    /// which never builds a `SocketAddress` for a cached answer).
    func contains(_ ip: ClientIP) -> Bool {
        switch (self, ip) {
        case (.v4(let prefix), .v4(let a)): prefix.contains(a)
        case (.v6(let prefix), .v6(let a)): prefix.contains(a)
        case (.v4(let prefix), .v6(let a)):
            a.high == 0 && a.low >> 32 == 0xFFFF && prefix.contains(IPv4Address(UInt32(truncatingIfNeeded: a.low)))
        case (.v6, .v4): false
        }
    }

    public var description: String {
        switch self {
        case .v4(let p): p.description
        case .v6(let p): p.description
        }
    }
}

/// A query's source address without its port: what the allow list and the client groups (D10) look at.
enum ClientIP: Equatable {
    case v4(IPv4Address)
    case v6(IPv6Address)

    /// The address of an IPv4 or IPv6 socket address; nil for a Unix-domain one.
    init?(_ socketAddress: SocketAddress) {
        switch socketAddress {
        case .v4(let a):
            self = .v4(IPv4Address(UInt32(bigEndian: a.address.sin_addr.s_addr)))
        case .v6(let a):
            self = ClientIP(in6: a.address.sin6_addr)
        case .unixDomainSocket:
            return nil
        }
    }

    /// The address in a `sockaddr_storage` filled by the kernel (AF_INET or AF_INET6); nil for other families.
    init?(_ storage: UnsafePointer<sockaddr_storage>) {
        let raw = UnsafeRawPointer(storage)
        switch Int32(storage.pointee.ss_family) {
        case AF_INET:
            let a = raw.assumingMemoryBound(to: sockaddr_in.self).pointee
            self = .v4(IPv4Address(UInt32(bigEndian: a.sin_addr.s_addr)))
        case AF_INET6:
            self = ClientIP(in6: raw.assumingMemoryBound(to: sockaddr_in6.self).pointee.sin6_addr)
        default:
            return nil
        }
    }

    /// Two big-endian 64-bit halves, read without building an array (this runs for every query).
    private init(in6 raw: in6_addr) {
        let (high, low) = withUnsafeBytes(of: raw) {
            (UInt64(bigEndian: $0.loadUnaligned(as: UInt64.self)),
             UInt64(bigEndian: $0.loadUnaligned(fromByteOffset: 8, as: UInt64.self)))
        }
        self = .v6(IPv6Address(high: high, low: low))
    }
}
