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
        let base = policy
        groups = d.groups.map { g in
            var policy = base
            policy.prefixes = g.synthesis ? g.prefixes : []
            return ClientGroup(name: g.name, clients: g.clients.map(clientNetwork), policy: policy)
        }
    }
}

/// Starts the DNS64 of `d` on `group`; nil when `[dns64]` is not enabled.
func startDNS64(_ d: GatewayConfiguration.DNS64, group: any EventLoopGroup, logger: Logger) async throws -> DNS64Server? {
    guard d.enabled else { return nil }
    let server = DNS64Server(configuration: try DNS64Configuration(d), group: group, logger: logger)
    try await server.start()
    return server
}
