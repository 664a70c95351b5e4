// Reload (SIGHUP, `nat64d ctl reload`, systemd's ExecReload): the file is read and checked first; a file with
// errors is refused whole, its FILE:LINE errors logged, and the running configuration stays. A valid file is
// compared with what runs (GatewayConfiguration.reloadPlan): what can change live changes now, what cannot
// (the TUN, the prefix, pool4, the table's size, the listeners of control and metrics) is named in one log
// line and keeps its running value until a restart. The state table lives on: established sessions keep their
// pool4 ports, and take new lifetimes the next time a packet refreshes them.
import DNS64
import Dispatch
import Forwarding
import GatewayConfig
import Logging
import NAT64Translator
import NIOCore
import PacketCapture
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// What a reload changed: the keys applied now, and those that wait for a restart (`ctl reload --json`).
struct ReloadOutcome: Codable, Equatable, Sendable {
    var changed: [String]
    var kept: [String]

    /// The text form of `ctl reload`.
    var lines: [String] {
        if changed.isEmpty && kept.isEmpty { return ["no change"] }
        return ["changed " + (changed.isEmpty ? "-" : changed.joined(separator: " ")),
                "kept-until-restart " + (kept.isEmpty ? "-" : kept.joined(separator: " "))]
    }
}

/// Applies reloads one at a time to the running gateway.
actor GatewayReloader {
    let configPath: String
    private(set) var running: GatewayConfiguration
    /// The packet threads; nil when the translator is off (translator.enabled = false).
    private let forwarder: ForwardingGroup<TunPacketDevice>?
    private let state: GatewayState
    private let dnsGroup: any EventLoopGroup
    private let ra: RouterAdvertisementRunner?
    /// The inbound proxy, when `[proxy]` runs: a reload swaps its routes.
    private let proxy: ProxyRunner?
    private let logLevel: LiveLogLevel
    private let logger: Logger
    private let notifier: SystemdNotifier
    private let seed: UInt64

    init(configPath: String, running: GatewayConfiguration, forwarder: ForwardingGroup<TunPacketDevice>?,
         state: GatewayState, dnsGroup: any EventLoopGroup, ra: RouterAdvertisementRunner?, logLevel: LiveLogLevel,
         logger: Logger, notifier: SystemdNotifier, seed: UInt64, proxy: ProxyRunner? = nil) {
        self.proxy = proxy
        self.configPath = configPath
        self.running = running
        self.forwarder = forwarder
        self.state = state
        self.dnsGroup = dnsGroup
        self.ra = ra
        self.logLevel = logLevel
        self.logger = logger
        self.notifier = notifier
        self.seed = seed
    }

    /// Re-reads the file and applies it.
    ///
    /// - Parameter trigger: what asked (`SIGHUP`, `ctl reload`), for the log.
    /// - Returns: lines saying what changed, or the refusal with the file's errors.
    func reload(trigger: String) async -> Result<ReloadOutcome, ControlError> {
        notifier.send(SystemdNotifier.reloading(
            monotonicMicroseconds: SystemdNotifier.monotonicMicroseconds(), status: "reloading \(configPath)"))
        let result = await apply(trigger: trigger)
        let status: String
        switch result {
        case .success: status = Self.runningStatus(running)
        case .failure: status = Self.runningStatus(running) + "; last reload refused, see the log"
        }
        notifier.send(SystemdNotifier.ready(status: status))
        return result
    }

    /// The `STATUS=` line while running.
    static func runningStatus(_ c: GatewayConfiguration) -> String {
        if !c.translator.enabled { return "DNS64 only, on \(c.dns64.listen.map(describe).joined(separator: ","))" }
        return "translating \(c.translator.prefix) via \(c.translator.pool4.map(\.description).joined(separator: ","))"
            + (c.dns64.enabled ? ", DNS64 on \(c.dns64.listen.map(describe).joined(separator: ","))" : "")
    }

    private func apply(trigger: String) async -> Result<ReloadOutcome, ControlError> {
        logger.notice("reloading the configuration", metadata: ["config": "\(configPath)", "trigger": "\(trigger)"])
        let checked = GatewayConfiguration.check(path: configPath, forwarding: ForwardingSysctls.current())
        let file: GatewayConfiguration
        switch checked {
        case .failure(let failure):
            for error in failure.errors { logger.error("\(error)") }
            logger.error("reload refused: the running configuration stays",
                         metadata: ["config": "\(configPath)", "errors": "\(failure.errors.count)"])
            return .failure(ControlError("reload refused, the running configuration stays: "
                + failure.errors.map(\.description).joined(separator: " | ")))
        case .success(let (configuration, warnings)):
            for w in warnings { logger.warning("\(w.key): \(w.message)") }
            file = configuration
        }
        var plan = GatewayConfiguration.reloadPlan(running: running, file: file)
        guard plan.changed else {
            logger.notice("configuration reloaded: no change")
            return .success(ReloadOutcome(changed: [], kept: []))
        }
        var problems: [String] = []
        if plan.live.contains(where: { $0.hasPrefix("translator.") || $0.hasPrefix("translation.") }) {
            state.fastPath?.reconfigure(TranslatorConfiguration(plan.effective, seed: seed))
            if let forwarder, !forwarder.reconfigure(TranslatorConfiguration(plan.effective, seed: seed)) {
                problems.append("a packet thread did not take the new translator settings in time; run reload again")
            }
        }
        if plan.live.contains("log.level"), let level = Logger.Level(rawValue: plan.effective.log.level) {
            logLevel.level = level
        }
        if plan.live.contains(where: { $0.hasPrefix("capture.") }) {
            state.captureDefaults = plan.effective.capture.settings
            if let problem = applyCaptureSwitch(from: running.capture.enabled, to: plan.effective.capture) {
                problems.append(problem)
            }
        }
        if plan.live.contains(where: { $0.hasPrefix("dns64.") }) {
            if let problem = await replaceDNS64(with: plan.effective.dns64) {
                problems.append(problem)
                plan.effective.dns64 = running.dns64
            }
        }
        if plan.live.contains("ra") {
            // Sections added, changed or removed (the last one too): the sender opens sockets for new interfaces
            // and sends a final advertisement (every lifetime 0) on those that went.
            if let ra {
                do { try ra.apply(plan.effective, logger: logger) } catch {
                    problems.append("router advertisements: \(error)")
                    plan.effective.ra = running.ra
                }
                let before = Set(running.ra.map(\.name))
                let after = Set(plan.effective.ra.map(\.name))
                if before != after {
                    let now = after.isEmpty ? "no interface" : plan.effective.ra.map(\.name).joined(separator: ", ")
                    logger.notice("router advertisements now on: \(now)",
                        metadata: ["added": "\(after.subtracting(before).sorted().joined(separator: ","))",
                                   "removed": "\(before.subtracting(after).sorted().joined(separator: ","))"])
                }
            } else {
                plan.live.removeAll { $0 == "ra" }
                plan.kept.append("ra")
                plan.effective.ra = running.ra
            }
        }
        if plan.live.contains("proxy.routes") {
            // Routes added, changed or removed: new connections use the new table; established connections keep
            // the backend they have. With no proxy running (it was off), starting one waits for a restart.
            if let proxy, running.proxy.enabled {
                do {
                    try proxy.apply(plan.effective.proxy)
                    logger.notice("proxy routes replaced", metadata: ["routes": "\(plan.effective.proxy.routes.count)"])
                } catch {
                    problems.append("proxy routes: \(error)")
                    plan.effective.proxy.routes = running.proxy.routes
                }
            } else {
                plan.live.removeAll { $0 == "proxy.routes" }
                if !plan.kept.contains("proxy") { plan.kept.append("proxy") }
                plan.effective.proxy.routes = running.proxy.routes
            }
        }
        running = plan.effective
        state.configuration = running
        logger.notice("configuration reloaded", metadata: ["changed": "\(plan.live.joined(separator: ","))"])
        if !plan.kept.isEmpty {
            logger.warning("these keys changed but need a restart; their running values stay: \(plan.kept.joined(separator: ", "))")
        }
        for p in problems { logger.error("reload: \(p)") }
        if !problems.isEmpty {
            return .failure(ControlError("reload partly applied: " + problems.joined(separator: "; ")))
        }
        return .success(ReloadOutcome(changed: plan.live, kept: plan.kept))
    }

    /// `[capture] enabled` switched: start recording with the new settings, or stop the running capture.
    private func applyCaptureSwitch(from wasEnabled: Bool, to capture: GatewayConfiguration.Capture) -> String? {
        guard wasEnabled != capture.enabled, let forwarder else { return nil }
        if !capture.enabled {
            _ = forwarder.stopCapture()
            return nil
        }
        do {
            let recorder = try CaptureRecorder(settings: capture.settings)
            state.fastPath?.suspendForCapture()  // it follows the capture; off first, so nothing is missed
            if case .failure(let refusal) = forwarder.startCapture(SharedCapture(recorder: recorder)) {
                return "capture not started: \(refusal)"
            }
            return nil
        } catch {
            return "capture not started: \(error)"
        }
    }

    /// Stops the DNS64 and starts one with the new settings (same event loops); if that fails, the old
    /// settings come back. The cached answers stay when the new settings would answer the same
    /// (`cacheFlushReasons` is empty: e.g. only listeners, timeouts or the allow list changed) and are
    /// dropped otherwise; the log line says which, and why.
    private func replaceDNS64(with new: GatewayConfiguration.DNS64) async -> String? {
        let old = state.dns
        if let old { await old.stop() }
        state.dns = nil
        let flushReasons = Self.cacheFlushReasons(running.dns64, new)
        do {
            let started = try await startDNS64(new, group: dnsGroup, logger: logger,
                                               keepingCacheOf: flushReasons.isEmpty ? old : nil)
            state.dns = started
            if let old, let started {
                if started.sharesCache(with: old) {
                    logger.notice("DNS64 restarted with the new settings; cache kept",
                                  metadata: ["entries": "\(started.cachedAnswers)"])
                } else {
                    logger.notice("DNS64 restarted with the new settings; cache flushed: answers would differ",
                                  metadata: ["entries-dropped": "\(old.cachedAnswers)",
                                             "changed": "\(flushReasons.joined(separator: ","))"])
                }
            }
            return nil
        } catch {
            let problem = "DNS64 not changed: \(error)"
            do {
                state.dns = try await startDNS64(running.dns64, group: dnsGroup, logger: logger)
            } catch {
                logger.critical("DNS64 stopped: its old settings could not be restored either",
                                metadata: ["error": "\(error)"])
            }
            return problem
        }
    }
}

extension GatewayReloader {
    /// The changed `[dns64]` keys that change what a query is answered with (so cached answers are stale):
    /// upstreams, prefixes, exclusions, mapped ranges, DNSSEC and error policy, client groups, and the cache's
    /// own limits and TTL bounds. Empty when only listeners, the allow list, timeouts or limits on clients changed.
    static func cacheFlushReasons(_ old: GatewayConfiguration.DNS64, _ new: GatewayConfiguration.DNS64) -> [String] {
        var reasons: [String] = []
        func check(_ key: String, _ differs: Bool) { if differs { reasons.append("dns64." + key) } }
        check("upstream", old.upstreams != new.upstreams)
        check("prefix", old.prefixes != new.prefixes)
        check("exclude", old.exclude != new.exclude)
        check("mapped", old.mapped != new.mapped)
        check("break-dnssec", old.breakDNSSEC != new.breakDNSSEC)
        check("synthesize-on-error", old.synthesizeOnError != new.synthesizeOnError)
        check("groups", old.groups != new.groups)
        check("cache-size", old.cacheSize != new.cacheSize)
        check("cache-min-ttl", old.cacheMinTTL != new.cacheMinTTL)
        check("cache-max-ttl", old.cacheMaxTTL != new.cacheMaxTTL)
        check("cache-max-negative-ttl", old.cacheMaxNegativeTTL != new.cacheMaxNegativeTTL)
        return reasons
    }
}

/// Runs `reload` from a thread that may block (the control server's): waits for the async reload to finish.
func blockingReload(_ reloader: GatewayReloader, trigger: String) -> Result<ReloadOutcome, ControlError> {
    let done = Mutex<Result<ReloadOutcome, ControlError>?>(nil)
    let semaphore = DispatchSemaphore(value: 0)
    Task {
        let result = await reloader.reload(trigger: trigger)
        done.withLock { $0 = result }
        semaphore.signal()
    }
    guard semaphore.wait(timeout: .now() + 30) == .success, let result = done.withLock({ $0 }) else {
        return .failure(ControlError("the reload did not finish within 30 seconds; see the log"))
    }
    return result
}
