// The inbound proxy ([proxy], InboundProxy) as the daemon runs it: the configuration turned into the proxy's
// settings, its own event loops, start and stop.
import GatewayConfig
import InboundProxy
import Logging
import NIOCore
import NIOPosix

/// The running proxy and the event loops it owns.
struct ProxyRunner: Sendable {
    let server: ProxyServer
    let group: MultiThreadedEventLoopGroup

    /// Binds the listeners of `[proxy]`.
    static func start(_ p: GatewayConfiguration.Proxy, offload: (any ConnectionOffload)?, logger: Logger) async throws
        -> ProxyRunner
    {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: System.coreCount)
        do {
            var s = settings(p)
            if p.offload {
                s.offload = offload
                s.offloadAfter = p.offloadAfterBytes
            }
            let server = try ProxyServer(settings: s, group: group, logger: logger)
            try await server.start()
            return ProxyRunner(server: server, group: group)
        } catch {
            try? await group.shutdownGracefully()
            throw ProxyStartError(reason: "\(error)")
        }
    }

    /// Swaps in the routes of a new `[proxy]` section (a reload): new connections use them, established ones
    /// keep theirs. Listener changes need a restart.
    func apply(_ p: GatewayConfiguration.Proxy) throws {
        try server.apply(Self.routes(p))
    }

    func stop() async {
        await server.stop()
        try? await group.shutdownGracefully()
    }

    /// The proxy's settings for a `[proxy]` section.
    static func settings(_ p: GatewayConfiguration.Proxy) -> ProxySettings {
        var s = ProxySettings(listeners: p.listeners.map(listener), routes: routes(p))
        s.maxConnections = p.maxConnections
        s.maxConnectionsPerClient = p.maxConnectionsPerClient
        s.maxHandshakeBytes = p.maxHandshakeBytes
        s.handshakeTimeout = .milliseconds(Int64(p.handshakeTimeoutMilliseconds))
        s.connectTimeout = .milliseconds(Int64(p.connectTimeoutMilliseconds))
        s.idleTimeout = .seconds(Int64(p.idleTimeoutSeconds))
        s.downTime = .seconds(Int64(p.downTimeSeconds))
        s.healthCheckInterval = p.healthCheckIntervalMilliseconds > 0
            ? .milliseconds(Int64(p.healthCheckIntervalMilliseconds)) : nil
        return s
    }

    /// The routes of a `[proxy]` section (also what a reload would `apply`).
    static func routes(_ p: GatewayConfiguration.Proxy) -> [RouteConfiguration] {
        p.routes.map { r in
            var route = RouteConfiguration(name: r.name, hostnames: r.names, backends: r.backends.map(endpoint))
            route.balance = BalancePolicy(rawValue: r.balance.rawValue) ?? .roundRobin
            route.proxyProtocol = ProxyProtocolVersion(rawValue: r.proxyProtocol.rawValue) ?? .none
            route.forwardedHeaders = r.forwarded
            route.maxConnections = r.maxConnections
            return route
        }
    }

    static func listener(_ l: GatewayConfiguration.ProxyListener) -> ListenerConfiguration {
        ListenerConfiguration(name: l.name, addresses: l.listen.map(endpoint),
                              mode: ListenerMode(rawValue: l.mode.rawValue) ?? .tcp,
                              routes: l.routes, defaultRoute: l.defaultRoute)
    }

    static func endpoint(_ e: GatewayConfiguration.Endpoint) -> IPEndpoint {
        switch e.host {
        case .v4(let a): IPEndpoint(.v4(a), UInt16(e.port))
        case .v6(let a): IPEndpoint(.v6(a), UInt16(e.port))
        }
    }
}

/// The proxy could not start (a listener address in use, not local, or not permitted).
struct ProxyStartError: Error, CustomStringConvertible {
    var reason: String
    var description: String {
        "proxy: cannot start: \(reason); check the listen addresses of [proxy.listeners.*] (each must be an address "
            + "of this host and a free port; ports below 1024 need CAP_NET_BIND_SERVICE), or set [proxy] enabled = false"
    }
}
