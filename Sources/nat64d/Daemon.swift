// Lifecycle: configure the TUN device, start the packet path, the DNS64, the control socket and the metrics
// endpoint, wait for SIGTERM or SIGINT (swift-service-lifecycle's graceful shutdown), tear down. SIGHUP
// reloads the configuration file (Reload.swift); systemd hears READY, RELOADING and STOPPING (SystemdNotify.swift).
import DNS64
import FastPath
import Forwarding
import GatewayConfig
import InboundProxy
import Logging
import NAT64Translator
import NIOCore
import NIOPosix
import PacketCapture
import ServiceLifecycle
import TunDevice
import UnixSignals
#if canImport(Glibc)
import Glibc
#endif

struct Daemon {
    let configuration: GatewayConfiguration
    let configPath: String
    /// What `check-config` would warn about; logged at start-up.
    var warnings: [ConfigWarning] = []

    /// Runs the gateway until SIGTERM or SIGINT, then tears it down (exit 0). A signal that arrives during
    /// start-up is kept: the gateway stops as soon as it is up.
    func run() async throws {
        // SIGHUP is trapped first of all: from here on it reloads and never kills the daemon.
        let hangups = await UnixSignalsSequence(trapping: .sighup)
        let logLevel = LiveLogLevel(Logger.Level(rawValue: configuration.log.level) ?? .info)
        let logger = makeLogger(live: logLevel)
        var gateway = GatewayService(configuration: configuration, configPath: configPath, logger: logger)
        gateway.hangups = hangups
        gateway.logLevel = logLevel
        for w in warnings { logger.warning("\(w.key): \(w.message)") }
        FileLimit.raise(logger: logger)
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
    /// SIGHUP, trapped before the service group starts; each one reloads.
    var hangups: UnixSignalsSequence? = nil
    /// The level every logger of the daemon uses; a reload sets it.
    var logLevel = LiveLogLevel(.info)
    /// systemd's notify socket ($NOTIFY_SOCKET), if started with Type=notify.
    var notifier = SystemdNotifier.fromEnvironment()

    /// `tun.queues`, with 0 meaning one per online CPU (at most the kernel's 256).
    static func queueCount(configured: Int) -> Int {
        if configured > 0 { return configured }
        return min(256, max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))))
    }

    func run() async throws {
        // translator.enabled = false: the DNS64 alone (DNS64OnlyService.swift).
        if !configuration.translator.enabled { return try await runDNS64Only() }
        // 1. The TUN device and its kernel configuration (through libnl, never `ip`). The first queue creates
        //    the device; the others (tun.queues, one packet thread each) attach to it.
        let queueCount = Self.queueCount(configured: configuration.tun.queues)
        let queue = try openTun(configuration.tun, multiQueue: queueCount > 1, logger: logger)
        let name = queue.name
        let offload = queue.offload
        let udpOffload = queue.udpOffload
        try queue.setNonBlocking()
        let tunIndex: Int32
        do {
            let nl = try NetlinkSocket()
            try nl.setLinkUp(name, mtu: configuration.tun.mtu)
            let index = try nl.interfaceIndex(name)
            tunIndex = Int32(index)
            for p in configuration.translator.tunIPv6Routes {  // the prefix (a CLAT: its own IPv6 addresses)
                try nl.addRoute(p.description, interfaceIndex: index)
            }
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
        let io = Self.tunIO(configuration.tun.io, logger: logger)
        logger.info("TUN ready", metadata: ["device": "\(name)", "mtu": "\(configuration.tun.mtu)",
                                            "offload": "\(offload)", "udp-offload": "\(udpOffload)",
                                            "queues": "\(queueCount)", "io": "\(io.rawValue)",
                                            "prefix": "\(configuration.translator.prefix)"])

        // 2. The control socket (bound now, so a bad path fails before anything runs) and the packet path,
        //    capturing from the start when [capture] enabled = true.
        let control = try ControlServer(path: configuration.control.socket, logger: logger)
        let seed = UInt64(truncatingIfNeeded: monotonicNanoseconds())
        let translatorConfiguration = TranslatorConfiguration(configuration, seed: seed)
        let translator = Translator(configuration: translatorConfiguration)
        let table = translator.table
        let t = configuration.translator
        var journal: PoolJournalWriter?
        if t.mode == .pool, let directory = t.stateDirectory {  // S10 persistence (StatePersistence.swift)
            let persistence = StatePersistence(directory: directory)
            let poolSize = t.pool4.reduce(0) { $0 + (1 << (32 - $1.length)) }
            let restored = try persistence.restore(
                into: table, now: monotonicNanoseconds(), poolSize: poolSize, logger: logger)
            logger.info("pool assignments restored", metadata: ["count": "\(restored)", "state-dir": "\(directory)"])
            journal = try PoolJournalWriter(persistence: persistence, logger: logger)
        }
        let mappingLog = try AbuseSetup.start(configuration, table: table, logger: logger)
        let capture = try configuration.capture.enabled
            ? SharedCapture(recorder: CaptureRecorder(settings: configuration.capture.settings)) : nil
        if capture != nil {
            logger.notice("capture on", metadata: ["directory": "\(configuration.capture.directory)",
                                                   "filter": "\(configuration.capture.filter)"])
        }
        // The in-kernel fast path ([fast-path]): hooked to the table before any packet thread runs, so it hears
        // of every session.
        var fastPath: FastPath?
        if configuration.fastPath.enabled {
            let f = try FastPath(interfaces: configuration.fastPath.interfaces, tunIndex: tunIndex,
                                 configuration: translatorConfiguration, table: table,
                                 maxFlows: configuration.fastPath.maxFlows)
            let previous = table.onMappingEvent
            if let previous {
                table.onMappingEvent = { @Sendable e in
                    f.hook(e)
                    previous(e)
                }
            } else {
                table.onMappingEvent = { @Sendable e in f.hook(e) }
            }
            if capture != nil { f.suspendForCapture() }
            try f.start()
            logger.notice("fast path on", metadata: ["interfaces": "\(configuration.fastPath.interfaces.joined(separator: ","))",
                                                     "max-flows": "\(configuration.fastPath.maxFlows)"])
            fastPath = f
        }
        // A device failure (the TUN deleted under the daemon) ends the loop; the daemon then stops with a
        // non-zero status so the supervisor (systemd Restart=on-failure) brings the gateway back.
        let failed = DeviceFailureSignal()
        let onFailure: @Sendable (DeviceError) -> Void = { [logger] error in
            logger.critical("packet thread stopped: the TUN device failed", metadata: ["error": "\(error)"])
            failed.fire()
        }
        // One packet thread per queue, each with its own translator (buffers, counters, rate limits) over the
        // one shared state table, so both directions of a flow meet whichever queue the kernel picks.
        var threads = [ForwardingThread(
            index: 0, engine: ForwardingEngine(translator: translator), device: TunPacketDevice(queue: queue, io: io),
            capture: capture, events: journal?.events, onFailure: onFailure)]
        for i in 1..<queueCount {
            let more = try TunQueue(name: name, multiQueue: true, offload: offload)
            try more.setNonBlocking()
            var c = translatorConfiguration
            c.seed = seed &+ UInt64(i) &* 0x9E37_79B9_7F4A_7C15
            threads.append(ForwardingThread(
                index: i, engine: ForwardingEngine(translator: Translator(configuration: c, sharing: table)),
                device: TunPacketDevice(queue: more, io: io), capture: capture, events: journal?.events,
                onFailure: onFailure))
        }
        let forwarder = ForwardingGroup(threads: threads, capture: capture)
        fastPath?.follow { [forwarder] in forwarder.captureStatus != nil }
        try forwarder.start()

        // 3. The DNS64.
        // Event loops for upstream queries and DNS over TCP, as many as dns64.udp-sockets (each UDP socket has
        // a thread of its own besides, see DNS64's UDPListener).
        let group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, configuration.dns64.udpSockets))
        var dns: DNS64Server?
        do {
            dns = try await startDNS64(configuration.dns64, group: group, logger: logger)
        } catch {
            forwarder.stop()
            try? await group.shutdownGracefully()
            throw error
        }

        // 3b. Router advertisements on the LAN interfaces ([ra.IFNAME]), announcing the DNS64 now answering.
        let ra: RouterAdvertisementRunner?
        do {
            ra = try RouterAdvertisementRunner.start(configuration, logger: logger)
        } catch {
            if let dns { await dns.stop() }
            forwarder.stop()
            try? await group.shutdownGracefully()
            throw error
        }

        // 3c. The inbound proxy ([proxy]; ProxySetup.swift), on event loops of its own.
        var proxy: ProxyRunner?
        if configuration.proxy.enabled {
            do {
                proxy = try await ProxyRunner.start(configuration.proxy, offload: fastPath, logger: logger)
                logger.info("proxy listening", metadata: ["listeners": "\(configuration.proxy.listeners.count)",
                                                          "routes": "\(configuration.proxy.routes.count)"])
            } catch {
                ra?.stop()
                if let dns { await dns.stop() }
                forwarder.stop()
                try? await group.shutdownGracefully()
                throw error
            }
        }

        // 4. The control server, off the packet path; `reload` there and SIGHUP go through one reloader.
        let state = GatewayState(dns: dns, captureDefaults: configuration.capture.settings, configuration: configuration)
        state.journal = journal
        state.fastPath = fastPath
        let reloader = GatewayReloader(
            configPath: configPath, running: configuration, forwarder: forwarder, state: state, dnsGroup: group, ra: ra,
            logLevel: logLevel, logger: logger, notifier: notifier, seed: seed, proxy: proxy)
        var commands = ControlCommands(forwarder: forwarder, state: state)
        commands.ra = ra?.advertiser
        commands.mappingLog = configuration.mappingLog
        commands.mappingLogWriter = mappingLog
        commands.policyRules = configuration.policy.ruleTexts
        commands.reload = { blockingReload(reloader, trigger: "ctl reload") }
        commands.proxy = proxy?.server
        state.controlCounters = control.counters
        control.start { [commands] in commands.handle($0) }
        logger.info("control socket ready", metadata: ["socket": "\(control.path)"])

        // 5. The Prometheus endpoint ([metrics]), reading the same snapshots as `ctl stats`.
        var metrics: MetricsServer?
        if configuration.metrics.enabled {
            let listen = configuration.metrics.listen
            do {
                metrics = try await MetricsServer(
                    address: try socketAddress(listen), group: group, exporter: MetricsExporter()
                ) { [forwarder, state, ra, proxy] in
                    MetricsSnapshot.current(total: forwarder.stats, queues: forwarder.perQueue, state: state,
                                            ra: ra?.advertiser, proxy: proxy?.server)
                }
                state.metricsCounters = metrics?.counters
            } catch {
                await proxy?.stop()
                ra?.stop()
                control.stop()
                if let dns = state.dns { await dns.stop() }
                forwarder.stop()
                try? await group.shutdownGracefully()
                throw MetricsListenError(address: describe(listen), reason: "\(error)")
            }
            logger.info("metrics ready", metadata: ["listen": "http://\(describe(listen))/metrics"])
        }

        logger.notice("nat64d running", metadata: StartupSummary.metadata(
            configuration, configPath: configPath, queues: queueCount, offload: offload, udpOffload: udpOffload,
            controlSocket: control.path))
        notifier.send(SystemdNotifier.ready(status: GatewayReloader.runningStatus(configuration)))
        // Waits for SIGTERM/SIGINT (the graceful shutdown) or for a packet thread's device failure, whichever
        // comes first, reloading on each SIGHUP meanwhile; a cancelled task tears down the same way.
        let deviceFailed = await waitForShutdown(reloader: reloader, failed: failed) { [forwarder, logger] in
            await IOErrorWatch.run(errors: { let s = forwarder.stats; return (s.readErrors, s.writeErrors) }, logger: logger)
        }
        logger.notice("stopping")
        ra?.stop()  // final advertisements: hosts drop the default route, RDNSS and PREF64 at once

        // 6. Teardown: metrics, control, DNS, then the packet path (closing capture files); closing the queue
        //    removes the TUN and its routes; the control socket file goes with `control`.
        await metrics?.stop()
        control.stop()
        await proxy?.stop()
        if let dns = state.dns { await dns.stop() }
        forwarder.stop()
        fastPath?.stop()  // after the packet threads: their hook no longer withdraws through its maps
        journal?.stop()
        mappingLog?.stop()
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
        if deviceFailed, let failure = forwarder.failure { throw PacketPathFailure(error: failure) }
    }
}

/// A packet thread ended because its device failed: the daemon exits non-zero so its supervisor restarts it.
struct PacketPathFailure: Error, CustomStringConvertible {
    var error: DeviceError
    var description: String {
        "the packet path stopped: \(error); the TUN device was removed or failed (restart nat64d to recreate it)"
    }
}

/// Fired once by a packet thread whose device failed; awaited by the daemon's main task.
final class DeviceFailureSignal: Sendable {
    private let stream: AsyncStream<Void>
    private let continuation: AsyncStream<Void>.Continuation

    init() { (stream, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1)) }

    func fire() { continuation.yield() }

    /// Returns true once fired; false when the waiting task is cancelled first.
    func wait() async -> Bool {
        for await _ in stream { return true }
        return false
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

/// Opens the first TUN queue, with offload when configured; falls back to plain packets if the kernel refuses
/// it.
func openTun(_ tun: GatewayConfiguration.Tun, multiQueue: Bool, logger: Logger) throws -> TunQueue {
    // nat64d creates its TUN and it goes when nat64d stops: an interface of that name belongs to someone else.
    // (A multi-queue TUN would even let a second process attach to it and take half of its packets.)
    if if_nametoindex(tun.name) != 0 {
        throw TunInUse(name: tun.name, error: SystemError(code: EBUSY, call: "TUNSETIFF(\(tun.name))",
                                                          detail: "an interface of that name exists"))
    }
    if tun.offload {
        let first = Result { () throws(SystemError) -> TunQueue in
            try TunQueue(name: tun.name, multiQueue: multiQueue, offload: true)
        }
        switch consume first {
        case .success(let queue): return queue
        case .failure(let error):
            if error.code == EBUSY { throw TunInUse(name: tun.name, error: error) }
            logger.warning("TUN offload refused; running without it", metadata: ["error": "\(error)"])
        }
    }
    let plain = Result { () throws(SystemError) -> TunQueue in
        try TunQueue(name: tun.name, multiQueue: multiQueue, offload: false)
    }
    switch consume plain {
    case .success(let queue): return queue
    case .failure(let error):
        throw error.code == EBUSY ? TunInUse(name: tun.name, error: error) as any Error : error
    }
}

/// The TUN name is taken: another nat64d (or another program) holds the device.
struct TunInUse: Error, CustomStringConvertible {
    var name: String
    var error: SystemError
    var description: String {
        "tun.name \(name) is in use: another nat64d? (\(error)); stop it, or give this instance its own "
            + "[tun] name (its control socket follows the name)"
    }
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
    makeLogger(live: LiveLogLevel(Logger.Level(rawValue: level) ?? .info))
}

/// The daemon's logger: standard error, at a level a reload can change (LiveLogLevel.swift).
func makeLogger(live: LiveLogLevel) -> Logger {
    LoggingSystem.bootstrap { label in LiveLevelLogHandler(label: label, live: live) }
    return Logger(label: "nat64d")
}
