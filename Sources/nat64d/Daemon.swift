// Lifecycle: configure the TUN device, start the packet path, the DNS64, the control socket and the metrics
// endpoint, wait for SIGTERM or SIGINT (swift-service-lifecycle's graceful shutdown), tear down.
import DNS64
import GatewayConfig
import InboundProxy
import Logging
import NAT64Translator
import NIOCore
import NIOPosix
import PacketCapture
import ServiceLifecycle
import TunDevice
#if canImport(Glibc)
import Glibc
#endif

struct Daemon {
    let configuration: GatewayConfiguration
    let configPath: String

    /// Runs the gateway until SIGTERM or SIGINT, then tears it down (exit 0). A signal that arrives during
    /// start-up is kept: the gateway stops as soon as it is up.
    func run() async throws {
        let logger = makeLogger(level: configuration.log.level)
        let gateway = GatewayService(configuration: configuration, configPath: configPath, logger: logger)
        let group = ServiceGroup(configuration: .init(
            services: [.init(service: gateway)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}

/// Everything the daemon runs, as one service of the `ServiceGroup`: it starts the parts in order, waits for
/// the group's graceful shutdown, and stops them in reverse order.
struct GatewayService: Service {
    let configuration: GatewayConfiguration
    let configPath: String
    let logger: Logger

    func run() async throws {
        // 1. The TUN device and its kernel configuration (through libnl, never `ip`).
        let queue = try openTun(configuration.tun, logger: logger)
        let name = queue.name
        try queue.setNonBlocking()
        do {
            let nl = try NetlinkSocket()
            try nl.setLinkUp(name, mtu: configuration.tun.mtu)
            let index = try nl.interfaceIndex(name)
            try nl.addRoute(configuration.translator.prefix.description, interfaceIndex: index)
            for p in configuration.translator.pool4 {
                try nl.addRoute(p.description, interfaceIndex: index)
            }
            // S10: the 1:1 addresses of static maps and EAM entries are ours too.
            for p in configuration.translator.staticMappings.map({ "\($0.outside)/32" })
                + configuration.translator.eam.map(\.outside.description)
            {
                try nl.addRoute(p, interfaceIndex: index)
            }
        }
        logger.info("TUN ready", metadata: ["device": "\(name)", "mtu": "\(configuration.tun.mtu)",
                                            "offload": "\(queue.offload)",
                                            "prefix": "\(configuration.translator.prefix)"])

        // 2. The control socket (bound now, so a bad path fails before anything runs) and the packet path,
        //    capturing from the start when [capture] enabled = true.
        let control = try ControlServer(path: configuration.control.socket)
        let translator = Translator(configuration: TranslatorConfiguration(
            configuration, seed: UInt64(truncatingIfNeeded: monotonicNanoseconds())))
        let t = configuration.translator
        if t.mode == .pool, let directory = t.stateDirectory {  // S10 persistence (StatePersistence.swift)
            let restored = try StatePersistence(directory: directory).attach(to: translator.table, now: monotonicNanoseconds())
            logger.info("pool assignments restored", metadata: ["count": "\(restored)", "state-dir": "\(directory)"])
        }
        let capture = try configuration.capture.enabled ? CaptureRecorder(settings: configuration.capture.settings) : nil
        if capture != nil {
            logger.notice("capture on", metadata: ["directory": "\(configuration.capture.directory)",
                                                   "filter": "\(configuration.capture.filter)"])
        }
        let forwarder = PacketForwarder(queue: queue, translator: translator, capture: capture)
        try forwarder.start()

        // 3. The DNS64.
        // One event loop per UDP socket (dns64.udp-sockets), so SO_REUSEPORT spreads queries over them.
        let group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, configuration.dns64.udpSockets))
        var dns: DNS64Server?
        do {
            if configuration.dns64.enabled {
                let d = configuration.dns64
                var dnsConfiguration = DNS64Configuration(
                    listen: try d.listen.map(socketAddress), upstreams: try d.upstreams.map(socketAddress),
                    prefixes: d.prefixes, allowedClients: d.allow.map(clientNetwork))
                dnsConfiguration.upstreamTimeout = .milliseconds(d.timeoutMilliseconds)
                dnsConfiguration.excludeAAAA = d.exclude
                dnsConfiguration.mappedIPv4 = d.mapped
                dnsConfiguration.breakDNSSEC = d.breakDNSSEC
                dnsConfiguration.synthesizeOnUpstreamErrors = d.synthesizeOnError
                dnsConfiguration.cache = CacheLimits(
                    maxEntries: d.cacheSize, minTTL: UInt32(d.cacheMinTTL), maxTTL: UInt32(d.cacheMaxTTL),
                    maxNegativeTTL: UInt32(d.cacheMaxNegativeTTL))
                dnsConfiguration.tcpIdleTimeout = .milliseconds(d.tcpIdleTimeoutMilliseconds)
                dnsConfiguration.maxTCPConnectionsPerClient = d.tcpConnectionsPerClient
                dnsConfiguration.udpSocketsPerAddress = d.udpSockets
                dnsConfiguration.upstreamPortsPerLoop = d.upstreamPorts
                let base = dnsConfiguration.policy
                dnsConfiguration.groups = d.groups.map { g in
                    var policy = base
                    policy.prefixes = g.synthesis ? g.prefixes : []
                    return ClientGroup(name: g.name, clients: g.clients.map(clientNetwork), policy: policy)
                }
                let server = DNS64Server(configuration: dnsConfiguration, group: group, logger: logger)
                try await server.start()
                dns = server
                logger.info("DNS64 listening", metadata: ["listen": "\(d.listen.map(describe))"])
            }
        } catch {
            forwarder.stop()
            try? await group.shutdownGracefully()
            throw error
        }

        // 3b. The inbound proxy ([proxy]; ProxySetup.swift), on event loops of its own.
        var proxy: ProxyRunner?
        if configuration.proxy.enabled {
            do {
                proxy = try await ProxyRunner.start(configuration.proxy, logger: logger)
                logger.info("proxy listening", metadata: ["listeners": "\(configuration.proxy.listeners.count)",
                                                          "routes": "\(configuration.proxy.routes.count)"])
            } catch {
                if let dns { await dns.stop() }
                forwarder.stop()
                try? await group.shutdownGracefully()
                throw error
            }
        }

        // 4. The control server, off the packet path.
        var commands = ControlCommands(forwarder: forwarder, dns: dns, captureDefaults: configuration.capture.settings)
        commands.proxy = proxy?.server
        do {
            try control.start { [commands] in commands.handle($0) }
        } catch {
            await proxy?.stop()
            if let dns { await dns.stop() }
            forwarder.stop()
            try? await group.shutdownGracefully()
            throw error
        }
        logger.info("control socket ready", metadata: ["socket": "\(control.path)"])

        // 5. The Prometheus endpoint ([metrics]), reading the same snapshots as `ctl stats`.
        var metrics: MetricsServer?
        if configuration.metrics.enabled {
            let listen = configuration.metrics.listen
            do {
                metrics = try await MetricsServer(
                    address: try socketAddress(listen), group: group, exporter: MetricsExporter()
                ) { [forwarder, dns, proxy] in
                    var snapshot = MetricsSnapshot(forwarder: forwarder.stats, dns: dns?.counters, dnsCacheEntries: dns?.cachedAnswers)
                    snapshot.proxy = proxy?.server.status()
                    return snapshot
                }
            } catch {
                await proxy?.stop()
                control.stop()
                if let dns { await dns.stop() }
                forwarder.stop()
                try? await group.shutdownGracefully()
                throw MetricsListenError(address: describe(listen), reason: "\(error)")
            }
            logger.info("metrics ready", metadata: ["listen": "http://\(describe(listen))/metrics"])
        }

        logger.notice("nat64d running", metadata: ["config": "\(configPath)"])
        // Returns when SIGTERM/SIGINT triggered the graceful shutdown; throws only if the task was cancelled,
        // which tears down the same way.
        try? await gracefulShutdown()
        logger.notice("stopping")

        // 6. Teardown: metrics, control, DNS, then the packet path (closing capture files); closing the queue
        //    removes the TUN and its routes; the control socket file goes with `control`.
        await metrics?.stop()
        control.stop()
        await proxy?.stop()
        if let dns { await dns.stop() }
        forwarder.stop()
        try? await group.shutdownGracefully()
        let s = forwarder.stats
        var dropSummary: [String] = []
        for reason in DropReason.allCases where s.counters.drops(reason) > 0 {
            dropSummary.append("\(reason)=\(s.counters.drops(reason))")
        }
        logger.notice("stopped", metadata: [
            "translated-6to4": "\(s.counters.translated6to4)", "translated-4to6": "\(s.counters.translated4to6)",
            "icmp-errors": "\(s.counters.icmpErrorsSent)", "drops": "\(dropSummary.joined(separator: ","))",
        ])
    }
}

/// The `[metrics]` listener could not be bound.
struct MetricsListenError: Error, CustomStringConvertible {
    var address: String
    var reason: String
    var description: String {
        "metrics: cannot listen on \(address): \(reason); pick a free address and port in [metrics] listen, "
            + "or set enabled = false"
    }
}

/// What to add to a start-up error the kernel refused for lack of privilege (EPERM/EACCES from the TUN device
/// or netlink): what nat64d needs and how the systemd unit grants it. Empty for any other error.
func privilegeHint(for error: any Error) -> String {
    guard let e = error as? SystemError, e.code == EPERM || e.code == EACCES else { return "" }
    return "; nat64d needs CAP_NET_ADMIN and read-write access to /dev/net/tun (plus CAP_NET_BIND_SERVICE for "
        + "DNS on port 53): run it as root, or as contrib/systemd/nat64d.service does"
}

/// Opens the TUN queue, with offload when configured; falls back to plain packets if the kernel refuses it.
func openTun(_ tun: GatewayConfiguration.Tun, logger: Logger) throws -> TunQueue {
    if tun.offload {
        do {
            return try TunQueue(name: tun.name, offload: true)
        } catch {
            logger.warning("TUN offload refused; running without it", metadata: ["error": "\(error)"])
        }
    }
    return try TunQueue(name: tun.name, offload: false)
}

func socketAddress(_ e: GatewayConfiguration.Endpoint) throws -> SocketAddress {
    switch e.host {
    case .v4(let a): try SocketAddress(ipAddress: a.description, port: e.port)
    case .v6(let a): try SocketAddress(ipAddress: a.description, port: e.port)
    }
}

func describe(_ e: GatewayConfiguration.Endpoint) -> String {
    switch e.host {
    case .v4(let a): "\(a):\(e.port)"
    case .v6(let a): "[\(a)]:\(e.port)"
    }
}

func clientNetwork(_ c: GatewayConfiguration.ClientNetwork) -> ClientNetwork {
    switch c {
    case .v4(let p): .v4(p)
    case .v6(let p): .v6(p)
    }
}

func makeLogger(level: String) -> Logger {
    LoggingSystem.bootstrap { label in
        var h = StreamLogHandler.standardError(label: label)
        h.logLevel = Logger.Level(rawValue: level) ?? .info
        return h
    }
    return Logger(label: "nat64d")
}
