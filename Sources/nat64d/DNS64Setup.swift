// The DNS64 server's settings from `[dns64]`, for the start and for a reload (which starts a new server with
// the new settings in place of the old one).
import DNS64
import GatewayConfig
import Logging
import NIOCore

extension DNS64Configuration {
    init(_ d: GatewayConfiguration.DNS64) throws {
        self.init(listen: try d.listen.map(socketAddress), upstreams: try d.upstreams.map(socketAddress),
                  prefixes: d.prefixes, allowedClients: d.allow.map(clientNetwork))
        upstreamTimeout = .milliseconds(d.timeoutMilliseconds)
        excludeAAAA = d.exclude
        mappedIPv4 = d.mapped
        breakDNSSEC = d.breakDNSSEC
        synthesizeOnUpstreamErrors = d.synthesizeOnError
        cache = CacheLimits(
            maxEntries: d.cacheSize, minTTL: UInt32(d.cacheMinTTL), maxTTL: UInt32(d.cacheMaxTTL),
            maxNegativeTTL: UInt32(d.cacheMaxNegativeTTL))
        tcpIdleTimeout = .milliseconds(d.tcpIdleTimeoutMilliseconds)
        maxTCPConnectionsPerClient = d.tcpConnectionsPerClient
        udpSocketsPerAddress = d.udpSockets
        upstreamPortsPerLoop = d.upstreamPorts
        recurseWithoutRD = d.rd0 == .recurse
        clientDeadline = .milliseconds(d.deadlineMilliseconds)
        let base = policy
        groups = d.groups.map { g in
            var policy = base
            policy.prefixes = g.synthesis ? g.prefixes : []
            return ClientGroup(name: g.name, clients: g.clients.map(clientNetwork), policy: policy)
        }
    }
}

/// Starts the DNS64 of `d` on `group`; nil when `[dns64]` is not enabled.
func startDNS64(_ d: GatewayConfiguration.DNS64, group: any EventLoopGroup, logger: Logger,
                keepingCacheOf previous: DNS64Server? = nil) async throws -> DNS64Server? {
    guard d.enabled else { return nil }
    let server = DNS64Server(configuration: try DNS64Configuration(d), group: group, logger: logger,
                             keepingCacheOf: previous)
    do {
        try await server.start()
    } catch let error as DNS64ServerError {
        throw DNS64ListenError(address: "\(error.address)", reason: DNS64ListenError.systemText(error.reason))
    }
    return server
}

/// A `dns64.listen` address could not be bound: the address, the system's reason, and the fix.
struct DNS64ListenError: Error, CustomStringConvertible {
    var address: String
    var reason: String

    var description: String {
        "dns64.listen \(address): cannot listen: \(reason); if another resolver (systemd-resolved, dnsmasq, "
            + "unbound) holds the port, stop it or pick another address in dns64.listen; the address must be "
            + "configured on this host, and port 53 needs CAP_NET_BIND_SERVICE"
    }

    /// The errno text of NIO's `bind(descriptor:ptr:bytes:): Address already in use (errno: 98)`.
    static func systemText(_ text: String) -> String {
        guard let colon = text.firstRange(of: "): ") else { return text }
        return String(text[colon.upperBound...])
    }
}
