// What each control command does: take its typed request (ControlProtocol.swift), ask the packet threads
// (through their mailboxes, via the ForwardingGroup) or the DNS64 server, and answer with a JSON result or text
// lines for people. Runs on the control server's worker pool, never on its event loop.
import DNS64
import Forwarding
import GatewayConfig
import InboundProxy
import NAT64Translator
import PacketCapture
import RouterAdvertisement

/// The control commands of a running daemon.
struct ControlCommands: Sendable {
    let forwarder: ForwardingGroup<TunPacketDevice>
    /// The DNS64 server and the capture defaults as of the last reload (GatewayState.swift).
    let state: GatewayState
    /// The DNS64 server answering now, if any.
    var dns: DNS64Server? { state.dns }
    /// The `[capture]` settings `capture start` options override.
    var captureDefaults: CaptureSettings { state.captureDefaults }
    /// The router advertisement sender (idle without `[ra.IFNAME]` sections; ControlCommands+RA.swift).
    var ra: RouterAdvertiser? = nil
    /// `[mapping-log]` settings, for `who` to read the files (ControlCommands+Who.swift).
    var mappingLog: GatewayConfiguration.MappingLog? = nil
    /// The mapping log / IPFIX writer and the `[policy]` rule texts, for `stats --json` "abuse".
    var mappingLogWriter: MappingLogWriter? = nil
    var policyRules: [String] = []
    /// The inbound proxy, when `[proxy]` runs it (`proxy [--json]`, ProxyStatus.swift).
    var proxy: ProxyServer? = nil

    /// Re-reads the configuration file (`reload`, ControlCommands+Reload.swift); nil where there is no file.
    var reload: (@Sendable () -> Result<ReloadOutcome, ControlError>)? = nil

    init(forwarder: ForwardingGroup<TunPacketDevice>, state: GatewayState) {
        self.forwarder = forwarder
        self.state = state
    }

    init(forwarder: ForwardingGroup<TunPacketDevice>, dns: DNS64Server?, captureDefaults: CaptureSettings) {
        self.init(forwarder: forwarder, state: GatewayState(dns: dns, captureDefaults: captureDefaults))
    }

    /// Runs one request (on the control server's worker pool).
    ///
    /// - Parameter request: the decoded request.
    /// - Returns: the result (JSON), the lines (text) or the error.
    func handle(_ request: ControlRequest) -> ControlReply {
        let json = request.json
        switch request.command {
        case .stats: return stats(json: json)
        case .ra: return routerAdvertisements(json: json)  // ControlCommands+RA.swift
        case .who: return who(request.who, json: json)  // ControlCommands+Who.swift
        case .sessions: return sessions(request.sessions ?? .init(), json: json)  // SessionsReport.swift
        case .reload: return reloadConfiguration(json: json)
        case .pool4: return pool4(json: json)  // Pool4Report.swift
        case .bib: return bib(request.sessions ?? .init(), json: json)
        case .proxy: return proxyStatus(json: json)
        case .config: return ConfigReport.reply(state.configuration, json: json)  // ConfigReport.swift
        case .dns64Cache: return DNS64CacheReport.reply(dns, flush: request.flush ?? false, json: json)
        case .captureStart: return captureStart(request.capture ?? .init(), json: json)
        case .captureStop: return captureStop(json: json)
        case .captureStatus: return captureStatus(json: json)
        }
    }

    static let noAnswer = ControlError("a packet thread did not answer within 2 seconds (is nat64d stopping?)")

    /// Fresh counters from every packet thread, added up and per queue, and the capture status.
    private func snapshot()
        -> Result<(stats: ForwarderStats, queues: [ForwarderStats], capture: CaptureStatus?), ControlError>
    {
        guard let replies = forwarder.snapshot() else { return .failure(Self.noAnswer) }
        var total = ForwarderStats()
        for r in replies { total.add(r.stats) }
        return .success((total, replies.map(\.stats), forwarder.captureStatus))
    }

    // MARK: stats, sessions

    /// `ctl stats`: every /metrics sample (StatsSamples.swift) and the capture state; with `--json` also the
    /// named counters the scripts read, per queue, DNS64, RA and abuse.
    private func stats(json: Bool) -> ControlReply {
        let reply: (stats: ForwarderStats, queues: [ForwarderStats], capture: CaptureStatus?)
        switch snapshot() {
        case .success(let r): reply = r
        case .failure(let error): return .failure(error)
        }
        let snapshot = MetricsSnapshot.current(total: reply.stats, queues: reply.queues, state: state, ra: ra,
                                               proxy: proxy)
        guard json else {
            return .text(MetricsExporter.textLines(snapshot)
                + [reply.capture.map { "capture on \($0.settings.directory)" } ?? "capture off"])
        }
        var report = StatsReport(snapshot, capture: reply.capture != nil)
        report.abuse = AbuseReport(stats: reply.stats, ruleTexts: policyRules, mappingLog: mappingLogWriter?.counters)
        return .json(report)
    }

    /// `PROTO [IPV6]:PORT IPV4:PORT idle=Ns` (for ICMP the port is the echo identifier).
    static func describe(_ b: Binding, now: Nanoseconds) -> String {
        let proto = switch b.inside.proto {
        case IPProtocolNumber.tcp: "tcp"
        case IPProtocolNumber.udp: "udp"
        case IPProtocolNumber.icmp, IPProtocolNumber.icmpv6: "icmp"
        default: "proto-\(b.inside.proto)"
        }
        let idle = max(0, now - b.lastUsed) / 1_000_000_000
        return "\(proto) [\(b.inside.address)]:\(b.inside.port) \(b.outside.address):\(b.outside.port) idle=\(idle)s"
    }

    // MARK: capture

    /// `capture start` options over the configured defaults.
    static func captureSettings(_ options: ControlRequest.Capture, defaults: CaptureSettings)
        -> Result<CaptureSettings, ControlError>
    {
        var settings = defaults
        if let dir = options.dir {
            guard dir.hasPrefix("/") else { return .failure(ControlError("--dir \"\(dir)\" is not an absolute path")) }
            settings.directory = dir
        }
        if let filter = options.filter { settings.filter = filter }
        if let mb = options.maxSizeMB {
            guard (1...4096).contains(mb) else {
                return .failure(ControlError("--max-size \(mb) must be a number of MiB from 1 to 4096"))
            }
            settings.maxFileBytes = mb << 20
        }
        if let n = options.maxFiles {
            guard (1...1000).contains(n) else { return .failure(ControlError("--max-files \(n) must be a number from 1 to 1000")) }
            settings.maxFiles = n
        }
        return .success(settings)
    }

    private func captureStart(_ options: ControlRequest.Capture, json: Bool) -> ControlReply {
        let outcome = Self.captureSettings(options, defaults: captureDefaults).flatMap {
            settings -> Result<CaptureStatus, ControlError> in
            if let running = forwarder.captureStatus {
                return .failure(ControlError("capture is already running into \(running.settings.directory); "
                    + "run capture stop first"))
            }
            let recorder: CaptureRecorder
            do {
                recorder = try CaptureRecorder(settings: settings)
            } catch {
                return .failure(ControlError("cannot start capture: \(error)"))
            }
            // The in-kernel fast path stops first, so the capture sees every packet from its first one.
            state.fastPath?.suspendForCapture()
            switch forwarder.startCapture(SharedCapture(recorder: recorder)) {
            case .success(let status): return .success(status)
            case .failure(.alreadyRunning(let directory)):
                return .failure(ControlError("capture is already running into \(directory); run capture stop first"))
            case .failure(.timedOut): return .failure(Self.noAnswer)
            }
        }
        switch outcome {
        case .success(let status): return Self.captureReply(status, json: json)
        case .failure(let error): return .failure(error)
        }
    }

    private func captureStop(json: Bool) -> ControlReply {
        guard let status = forwarder.stopCapture() else { return .failure(ControlError("capture is not running")) }
        return Self.captureReply(status, json: json)
    }

    private func captureStatus(json: Bool) -> ControlReply {
        Self.captureReply(forwarder.captureStatus, json: json)
    }

    /// `capture start|stop|status`: "capture on" and the settings and files, or "capture off".
    static func captureReply(_ status: CaptureStatus?, json: Bool) -> ControlReply {
        if json { return .json(CaptureReport(status)) }
        return .text(status.map { ["capture on"] + describe($0) } ?? ["capture off"])
    }

    /// The settings line, then one line per stream.
    static func describe(_ status: CaptureStatus) -> [String] {
        let s = status.settings
        var lines = ["directory \(s.directory)", "filter \"\(s.filter)\"", "max-size-mb \(s.maxFileBytes >> 20)",
                     "max-files \(s.maxFiles)", "started \(utcText(status.started.seconds))",
                     "filtered-out \(status.filteredOut)"]
        for stream in status.streams {
            var line = "file \(stream.path) packets=\(stream.packets) bytes=\(stream.bytes) errors=\(stream.errors) "
                + "rotations=\(stream.rotations)"
            if let failure = stream.failure { line += " failed: \(failure)" }
            lines.append(line)
        }
        return lines
    }

    // MARK: proxy

    /// `proxy`: listeners, routes, backends and counters; `proxy --json`: the same as one JSON object.
    private func proxyStatus(json: Bool) -> ControlReply {
        guard let proxy else { return .failure(ControlError("the proxy is not running ([proxy] is absent or enabled = false)")) }
        guard json else { return .text(proxy.status().lines) }
        guard let result = Self.parsed(proxy.status().json) else { return .failure(ControlError("cannot encode the answer")) }
        return ControlReply(result: result)
    }

    /// A JSON text made elsewhere, as a value (nil when it does not parse).
    static func parsed(_ text: String) -> JSONValue? {
        try? ControlProtocol.decode(JSONValue.self, from: Array(text.utf8))
    }
}
