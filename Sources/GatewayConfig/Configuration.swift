// The typed configuration of nat64d and its entry points. The schema, its defaults and every check live in
// Configuration+Schema.swift; the sample config/nat64d.toml documents each key for operators.

import NAT64Translator

/// The validated contents of a nat64d configuration file.
///
/// A value of this type has passed every check: ranges, address syntax, RFC 6052 prefix lengths and the
/// cross-checks (pool4 does not hold the gateway's IPv4 address; the NAT64 prefix does not hold its IPv6 address).
public struct GatewayConfiguration: Sendable, Equatable {
    /// `[tun]`: the TUN device the translator reads and writes.
    public struct Tun: Sendable, Equatable {
        /// Interface name: 1–15 characters of `A-Z a-z 0-9 _ . -` (Linux IFNAMSIZ). Default `nat64`.
        public var name: String
        /// Link MTU, 1280...65535 (1280 is the IPv6 minimum, RFC 8200 §5). Default 1500.
        public var mtu: Int
        /// Checksum and TCP segmentation offload on the TUN (IFF_VNET_HDR, TSO4/TSO6): 64 KiB per read/write
        /// instead of one packet. Default true (the daemon falls back to plain packets if the kernel refuses).
        public var offload: Bool = true
        /// TUN queues (IFF_MULTI_QUEUE), one packet thread each; 0 = one per CPU. Default 0.
        public var queues: Int = 0
        /// How the queues are read and written (`TunIOMode`). Default `defaultIO`.
        public var io: TunIOMode = defaultIO
        public static let defaultIO = TunIOMode.syscalls
    }

    /// `[translator]`: the stateful NAT64 (RFC 6146) and its address mapping (RFC 6052).
    public struct Translator: Sendable, Equatable {
        /// The NAT64 prefix; length 32, 40, 48, 56, 64 or 96 (RFC 6052 §2.2). Required.
        public var prefix: NAT64Prefix
        /// IPv4 addresses the translator owns, as prefixes of length 16 or more (a bare address is a /32). Required.
        public var pool4: [IPv4Prefix]
        /// UDP session lifetime in seconds, at least 120 (RFC 6146 §4, UDP_MIN). Default 300.
        public var udpTimeout: Int
        /// Established TCP session lifetime in seconds, at least 7440 (RFC 6146 §4, TCP_EST). Default 7440.
        public var tcpEstablishedTimeout: Int
        /// Transitory TCP session lifetime in seconds, at least 240 (RFC 6146 §4, TCP_TRANS). Default 240.
        public var tcpTransitoryTimeout: Int
        /// ICMP query session lifetime in seconds, at least 1 (RFC 6146 §4, ICMP_DEFAULT is 60). Default 60.
        public var icmpTimeout: Int
        /// Most sessions kept at once, 1...16_000_000. Default 65536.
        public var maxSessions: Int
        /// Usable ports of each `pool4` entry, in the same order: an entry may end in ` LOW-HIGH` (S3). Default
        /// all ports, 1-65535.
        public var pool4Ports: [ClosedRange<UInt16>] = []
        /// `mode`: `napt` (default, RFC 6146), `pool` (1:1 dynamic pool, S10) or `siit` (stateless, F1).
        public var mode: TranslationMode = .napt
        /// `filtering`: `endpoint-independent` (default) or `address-dependent` (S2).
        public var filtering: FilteringPolicy = .endpointIndependent
        /// `map`: static 1:1 mappings, each `"IPV6 IPV4"` (S10).
        public var staticMappings: [StaticMapping] = []
        /// `eam`: RFC 7757 prefix pairs, each `"IPV6/LEN IPV4/LEN"` with equal host bits, at most 16 (S10).
        public var eam: [EAMEntry] = []
        /// `max-sessions-per-host`, 1...16_000_000. Default 4096 (S9).
        public var maxSessionsPerHost: Int = 4096
        /// `max-held-syns`: IPv4 SYNs held for simultaneous open, 0...65536. Default 256 (S6, S9).
        public var maxHeldSYNs: Int = 256
        /// `max-ports-per-host`, 1...65535: pool4 ports one NAPT host may hold (S11). Default 2048.
        public var maxPortsPerHost: Int = defaultPortsPerHost
        public static let defaultPortsPerHost = 2048
        /// `state-dir`: where `pool` mode keeps its assignments across restarts (S10). Default none (not kept).
        public var stateDirectory: String?
        /// `traffic-class`, `udp-zero-checksum`, `rfc6791-pool4`, `rfc6791-pool6` (F14, E1, F7;
        /// Configuration+Stateless.swift).
        public var stateless = StatelessOptions()
        /// `clat`: mode siit as a 464XLAT CLAT (RFC 6877): the prefix is reached through the uplink, and the IPv6
        /// side of each map and EAM entry is routed into the TUN instead (Configuration+Stateless.swift).
        public var clat = false

        /// `port-block-size`, `port-blocks-per-host`, `port-block-hold` (RFC 7422; Configuration+Abuse.swift).
        public var portBlocks = PortBlockSettings()
        /// `[policy] rules` (Configuration+Abuse.swift).
        public var outboundRules: [OutboundRule] = []
        /// `forward`: port forwards by translation, mode napt (S13; Configuration+Forwards.swift). Default none.
        public var forwards: [PortForward] = []
        /// `enabled`: false runs the DNS64 alone, with no TUN device (Configuration+Roles.swift). Default true.
        public var enabled = true

        /// The core's view of these keys.
        public var stateConfiguration: StateConfiguration {
            var limits = StateLimits()
            limits.sessionsPerHost = maxSessionsPerHost
            limits.heldSYNs = maxHeldSYNs
            limits.portsPerHost = maxPortsPerHost
            let ranges = zip(pool4, pool4Ports).flatMap { prefix, ports in
                (0..<(UInt32(1) << UInt32(32 - prefix.length))).map {
                    Pool4Entry(address: IPv4Address(prefix.address.value | $0), ports: ports)
                }
            }
            if mode == .siit { return statelessStateConfiguration }
            var state = StateConfiguration(mode: mode, filtering: filtering, portRanges: ranges,
                                           staticMappings: staticMappings, eam: eam, limits: limits)
            state.portBlocks = portBlocks
            state.outboundRules = outboundRules
            state.forwards = forwards
            return state
        }

        /// Every address of `pool4`, in order (at most 65536 per prefix, since prefixes are /16 or longer).
        public var pool4Addresses: [IPv4Address] {
            pool4.flatMap { prefix in
                let count = UInt32(1) << UInt32(32 - prefix.length)
                return (0..<count).map { IPv4Address(prefix.address.value | $0) }
            }
        }
    }

    /// `[gateway]`: the gateway's own addresses, used as the source of ICMP errors it generates.
    public struct Gateway: Sendable, Equatable {
        /// Source of generated ICMPv4 errors. Required; must not lie inside `translator.pool4`.
        public var ipv4: IPv4Address
        /// Source of generated ICMPv6 errors. Required; must not lie inside `translator.prefix`.
        public var ipv6: IPv6Address
    }

    /// An IP address and port, written `192.0.2.1:53` or `[2001:db8::1]:53` (port optional, default 53).
    public struct Endpoint: Sendable, Equatable {
        /// The address family and address.
        public enum Host: Sendable, Equatable {
            /// An IPv4 address, written `192.0.2.1`.
            case v4(IPv4Address)
            /// An IPv6 address, written in brackets: `[2001:db8::1]`.
            case v6(IPv6Address)
        }

        /// The address.
        public var host: Host
        /// The port, 1...65535.
        public var port: Int

        /// Creates an endpoint.
        ///
        /// - Parameters:
        ///   - host: the address.
        ///   - port: the port, 1...65535.
        public init(host: Host, port: Int) {
            self.host = host
            self.port = port
        }
    }

    /// A client network allowed to query the DNS64 server.
    public enum ClientNetwork: Sendable, Equatable {
        /// An IPv4 network, e.g. `127.0.0.0/8`.
        case v4(IPv4Prefix)
        /// An IPv6 network, e.g. `2001:db8:1::/64`.
        case v6(IPv6Prefix)
    }

    /// `[dns64]`: the DNS64 resolver (RFC 6147; docs/dns64.md).
    public struct DNS64: Sendable, Equatable {
        /// Whether to run it. Default: true when the file has a `[dns64]` section, false when it has none.
        public var enabled: Bool
        /// Where to listen (UDP and TCP). Default `[::1]:53` and `127.0.0.1:53`; at least one when enabled.
        public var listen: [Endpoint]
        /// Upstream resolvers (key `upstream`). At least one when enabled; no default.
        public var upstreams: [Endpoint]
        /// Clients allowed to query. Default `::1/128` and `127.0.0.0/8`.
        public var allow: [ClientNetwork]
        /// Prefixes for synthesised AAAA records (key `prefix`, a string or an array; D2). Default:
        /// `translator.prefix`. Never empty.
        public var prefixes: [NAT64Prefix]
        /// Upstream query timeout in milliseconds, 100...30000 (key `timeout-ms`). Default 2000.
        public var timeoutMilliseconds: Int
        /// AAAA records inside these prefixes are ignored (key `exclude`, D4). Default `::ffff:0:0/96`.
        public var exclude: [IPv6Prefix]
        /// IPv4 addresses that may be synthesised (key `mapped`, D4). nil (key absent): all of them.
        public var mapped: [IPv4Prefix]?
        /// Synthesise although DO=1 and the negative answer is signed (key `break-dnssec`, D7). Default false.
        public var breakDNSSEC: Bool
        /// Synthesise after an upstream error or timeout too (key `synthesize-on-error`, D3). Default true.
        public var synthesizeOnError: Bool
        /// Most cached answers (key `cache-size`, N4); 0 turns the cache off. Default 10000.
        public var cacheSize: Int
        /// Cache TTL caps in seconds (keys `cache-min-ttl`, `cache-max-ttl`, `cache-max-negative-ttl`, N4).
        /// Defaults 0, 86400, 3600.
        public var cacheMinTTL: Int
        /// See `cacheMinTTL`.
        public var cacheMaxTTL: Int
        /// See `cacheMinTTL`.
        public var cacheMaxNegativeTTL: Int
        /// Idle TCP connections are closed after this many milliseconds (key `tcp-idle-timeout-ms`, N1).
        /// Default 10000.
        public var tcpIdleTimeoutMilliseconds: Int
        /// Open TCP connections per client address (key `tcp-connections-per-client`, N1). Default 16.
        public var tcpConnectionsPerClient: Int
        /// UDP sockets per listen address, spread over the event loops with SO_REUSEPORT (key `udp-sockets`).
        /// Default 1.
        public var udpSockets: Int
        /// UDP source ports kept open per upstream and event loop; each upstream query leaves from a random one,
        /// and each is replaced by a new random port after 256 queries (key `upstream-ports`, N3). Default 64.
        public var upstreamPorts: Int
        /// Client groups (`[dns64.groups.NAME]` sections, D10), in file order.
        public var groups: [ClientGroup]
        /// How RD=0 queries are handled (key `rd0`, D13). Default cache-only.
        public var rd0: RD0Handling = .cacheOnly
        /// The client deadline in milliseconds, 100...60000 (key `deadline-ms`, D16). Default twice `timeout-ms`.
        public var deadlineMilliseconds: Int = 4000

        /// The first synthesis prefix.
        public var prefix: NAT64Prefix { prefixes[0] }
    }

    /// A `[dns64.groups.NAME]` section: clients with their own synthesis settings (D10).
    public struct ClientGroup: Sendable, Equatable {
        /// The section's NAME.
        public var name: String
        /// The group's client networks (key `clients`, required).
        public var clients: [ClientNetwork]
        /// The group's prefixes (key `prefix`, string or array). Default: the `[dns64]` prefixes.
        public var prefixes: [NAT64Prefix]
        /// Whether the group gets synthesised answers (key `synthesis`). Default true.
        public var synthesis: Bool
    }

    /// `[log]`: logging.
    public struct Log: Sendable, Equatable {
        /// One of trace, debug, info, notice, warning, error, critical (swift-log's levels). Default `info`.
        public var level: String
    }

    /// `[translation]`: how packets are rewritten (RFC 7915): MTUs, ICMP errors and address checks.
    public struct Translation: Sendable, Equatable {
        /// Next-hop MTU on the IPv4 side, 68...65535 (T6.5, T6.8). Default 1500.
        public var ipv4MTU: Int = 1500
        /// Next-hop MTU on the IPv6 side, 1280...65535 (T4.6, T4.9). Default 1500.
        public var ipv6MTU: Int = 1500
        /// Size of the IPv6 fragments made from IPv4 packets with DF=0, 1280...65535 (T4.5). Default 1280.
        public var minimumIPv6MTU: Int = 1280
        /// ICMP errors the gateway generates per destination per second, 0...100000 (E3). Default 100.
        public var icmpErrorRate: Int = 100
        /// ICMP errors the gateway generates per second in total, 0...1000000 (E4). Default 1000.
        public var icmpErrorRateTotal: Int = 1000
        /// Refuse non-global IPv4 addresses under 64:ff9b::/96 (A2, RFC 6052 §3.1). Default true.
        public var strictWellKnownPrefix: Bool = true
        /// Source of ICMPv4 errors translated from IPv6 routers (E1, RFC 6791). Default: gateway.ipv4.
        public var rfc6791Source: IPv4Address? = nil

        public init() {}
    }

    /// The `[tun]` section.
    public var tun: Tun
    /// The `[translator]` section.
    public var translator: Translator
    /// The `[gateway]` section.
    public var gateway: Gateway
    /// The `[dns64]` section.
    public var dns64: DNS64
    /// The `[log]` section.
    public var log: Log
    /// The `[translation]` section.
    public var translation = Translation()
    /// The `[capture]` section (Configuration+Capture.swift).
    public var capture: Capture
    /// The `[control]` section (Configuration+Capture.swift).
    public var control: Control
    /// The `[metrics]` section (Configuration+Metrics.swift).
    public var metrics = Metrics()
    /// `[fast-path]`: established flows translated in the kernel (off by default).
    public var fastPath = FastPath()
    /// The `[proxy]` section (Configuration+Proxy.swift).
    public var proxy = Proxy()
    /// The `[ra.IFNAME]` sections, in file order (Configuration+RA.swift); empty: no router advertisements.
    public var ra: [RAInterface] = []
    /// `[mapping-log]`, `[ipfix]`, `[policy]` (Configuration+Abuse.swift).
    public var mappingLog = MappingLog()
    public var ipfix = IPFIX()
    public var policy = Policy()

    /// Parses and validates configuration text.
    ///
    /// - Parameters:
    ///   - text: the TOML text.
    ///   - file: the name to put in error messages (normally the path it was read from).
    /// - Returns: the validated configuration.
    /// - Throws: the first problem in the file, by line (`diagnose` lists all of them).
    public static func parse(_ text: String, file: String) throws(ConfigError) -> GatewayConfiguration {
        try parse(bytes: Array(text.utf8), file: file)
    }

    /// Reads, parses and validates a configuration file.
    ///
    /// - Parameter path: the file to read.
    /// - Returns: the validated configuration.
    /// - Throws: `ConfigError` with line 0 and the errno text when the file cannot be read; otherwise as `parse`.
    public static func load(path: String) throws(ConfigError) -> GatewayConfiguration {
        try parse(bytes: try ConfigFile.readAll(path: path), file: path)
    }

    /// Every problem in configuration text, sorted by line; empty when the text is a valid configuration.
    ///
    /// A syntax error stops parsing, so it is reported alone; schema and value errors are all reported.
    /// - Parameters:
    ///   - text: the TOML text.
    ///   - file: the name to put in error messages.
    /// - Returns: the errors, first line first.
    public static func diagnose(_ text: String, file: String) -> [ConfigError] {
        switch decode(bytes: Array(text.utf8), file: file) {
        case .valid: return []
        case .invalid(let errors): return errors
        }
    }

    static func parse(bytes: [UInt8], file: String) throws(ConfigError) -> GatewayConfiguration {
        switch decode(bytes: bytes, file: file) {
        case .valid(let configuration): return configuration
        case .invalid(let errors): throw errors[0]
        }
    }

    /// The outcome of decoding: a configuration, or at least one error sorted by line.
    enum Decoded {
        case valid(GatewayConfiguration)
        case invalid([ConfigError])
    }

    static func decode(bytes: [UInt8], file: String) -> Decoded {
        let root: TOMLTable
        do {
            root = try TOMLParser.parse(bytes)
        } catch {
            let code: ConfigError.Code = error.isUnsupported ? .unsupportedSyntax : .syntax
            return .invalid([ConfigError(file: file, line: error.line, code: code, message: error.message)])
        }
        var reader = ConfigReader(file: file, root: root)
        let configuration = reader.readConfiguration()
        // A stable sort keeps errors on one line in the order the checks found them.
        let errors = reader.errors.enumerated()
            .sorted { ($0.element.line, $0.offset) < ($1.element.line, $1.offset) }
            .map(\.element)
        if let configuration, errors.isEmpty { return .valid(configuration) }
        precondition(!errors.isEmpty, "a configuration was rejected without an error")
        return .invalid(errors)
    }
}
