// `translator.enabled = false`: the DNS64 alone, with its control socket, metrics and reload, and no TUN
// device, routes or packet threads (so no CAP_NET_ADMIN; binding port 53 needs CAP_NET_BIND_SERVICE).
// `ctl stats` and `reload` work; the translator's commands say the translator is off.
import DNS64
import GatewayConfig
import Logging
import NIOPosix
import ServiceLifecycle

extension GatewayService {
    func runDNS64Only() async throws {
        let control = try ControlServer(path: configuration.control.socket, logger: logger)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, configuration.dns64.udpSockets))
        let dns: DNS64Server?
        do {
            dns = try await startDNS64(configuration.dns64, group: group, logger: logger)
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
        let state = GatewayState(dns: dns, captureDefaults: configuration.capture.settings, configuration: configuration)
        let reloader = GatewayReloader(
            configPath: configPath, running: configuration, forwarder: nil, state: state, dnsGroup: group, ra: nil,
            logLevel: logLevel, logger: logger, notifier: notifier, seed: 0)
        state.controlCounters = control.counters
        control.start { request in DNS64OnlyCommands(state: state, reloader: reloader).handle(request) }
        var metrics: MetricsServer?
        if configuration.metrics.enabled {
            do {
                metrics = try await MetricsServer(
                    address: try socketAddress(configuration.metrics.listen), group: group, exporter: MetricsExporter()
                ) { [state] in
                    MetricsSnapshot.current(total: .init(), queues: [], state: state, ra: nil, proxy: nil)
                }
                state.metricsCounters = metrics?.counters
            } catch {
                control.stop()
                if let dns = state.dns { await dns.stop() }
                try? await group.shutdownGracefully()
                throw MetricsListenError(address: describe(configuration.metrics.listen), reason: "\(error)")
            }
        }
        logger.notice("nat64d running: DNS64 only (translator.enabled = false)", metadata: StartupSummary.metadata(
            configuration, configPath: configPath, queues: 0, offload: false, udpOffload: false,
            controlSocket: control.path))
        notifier.send(SystemdNotifier.ready(status: GatewayReloader.runningStatus(configuration)))
        _ = await waitForShutdown(reloader: reloader, failed: DeviceFailureSignal())
        logger.notice("stopping")
        await metrics?.stop()
        control.stop()
        if let dns = state.dns { await dns.stop() }
        try? await group.shutdownGracefully()
        logger.notice("stopped")
    }

    /// Waits for SIGTERM/SIGINT (the graceful shutdown) or a packet thread's device failure, whichever comes
    /// first, reloading on each SIGHUP meanwhile; a cancelled task ends the wait the same way. Tells systemd
    /// STOPPING=1.
    /// - Returns: true when a device failure ended it.
    /// - Parameter watch: runs beside the waiters until they end (the TUN error watch), when given.
    func waitForShutdown(
        reloader: GatewayReloader, failed: DeviceFailureSignal, watch: (@Sendable () async -> Void)? = nil
    ) async -> Bool {
        let deviceFailed = await withTaskGroup(of: Bool?.self) { waiters in
            waiters.addTask { try? await gracefulShutdown(); return false }
            waiters.addTask { await failed.wait() }
            if let watch { waiters.addTask { await watch(); return nil } }
            if let hangups {
                waiters.addTask {
                    for await _ in hangups { _ = await reloader.reload(trigger: "SIGHUP") }
                    return nil  // the signal stream ended (cancelled): not a reason to stop
                }
            }
            var first = false
            while let next = await waiters.next() {
                if let next {
                    first = next
                    break
                }
            }
            waiters.cancelAll()
            return first
        }
        notifier.send(SystemdNotifier.message([("STOPPING", "1"), ("STATUS", "stopping")]))
        return deviceFailed
    }
}

/// The control commands of a DNS64-only daemon.
struct DNS64OnlyCommands: Sendable {
    let state: GatewayState
    let reloader: GatewayReloader

    func handle(_ request: ControlRequest) -> ControlReply {
        switch request.command {
        case .stats:
            let snapshot = MetricsSnapshot.current(total: .init(), queues: [], state: state, ra: nil, proxy: nil)
            return request.json ? .json(StatsReport(snapshot, capture: false)) : .text(MetricsExporter.textLines(snapshot))
        case .reload:
            return ControlCommands.reloadReply(blockingReload(reloader, trigger: "ctl reload"), json: request.json)
        case .config: return ConfigReport.reply(state.configuration, json: request.json)
        case .dns64Cache: return DNS64CacheReport.reply(state.dns, flush: request.flush ?? false, json: request.json)
        default:
            return .failure(ControlError("\"\(request.command.rawValue)\" needs the translator, which is off "
                + "(translator.enabled = false); this nat64d runs only the DNS64: stats, config, dns64 cache, reload"))
        }
    }
}
