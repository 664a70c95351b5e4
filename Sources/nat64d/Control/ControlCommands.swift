// What each control command does: parse its words, ask the packet threads (through their mailboxes, via the
// ForwardingGroup) or the DNS64 server, and format the answer as lines. Runs on the control server's thread.
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
    /// The router advertisement sender, when `[ra.IFNAME]` sections exist (ControlCommands+RA.swift).
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

    static let usage = "commands: stats [--json], sessions, capture start [--dir D] [--filter EXPR] [--max-size MB] "
        + "[--max-files N], capture stop, capture status, ra [--json], proxy [--json], reload [--json], pool4 [--json], "
        + "bib [--json] [--limit N], who ADDR:PORT [--at TIME] [--json], help"

    /// The first words of the commands, for "did you mean" on a typo.
    static let commandNames = ["stats", "sessions", "capture", "ra", "proxy", "reload", "pool4", "bib", "who", "help"]

    /// Runs one request.
    ///
    /// - Parameter words: the request's words.
    /// - Returns: the body lines, or a one-line error.
    func handle(_ words: [String]) -> Result<[String], ControlError> {
        switch words.first {
        case "stats"?:
            if words.count == 2 && words[1] == "--json" { return statsJSON() }
            return expectNoMore(words, 1).flatMap { _ in stats() }
        case "ra"?: return routerAdvertisements(Array(words.dropFirst()))
        case "who"?: return who(Array(words.dropFirst()))
        case "sessions"?:
            if words.count > 1 { return sessions(Array(words.dropFirst())) }  // SessionsReport.swift
            return sessions()
        case "help"?: return .success([Self.usage])
        case "reload"?: return reloadConfiguration(Array(words.dropFirst()))
        case "pool4"?: return pool4(Array(words.dropFirst()))  // Pool4Report.swift
        case "bib"?: return bib(Array(words.dropFirst()))
        case "proxy"?: return proxyStatus(Array(words.dropFirst()))
        case "capture"?:
            switch words.dropFirst().first {
            case "start"?: return captureStart(Array(words.dropFirst(2)))
            case "stop"?: return expectNoMore(words, 2).flatMap { _ in captureStop() }
            case "status"?: return expectNoMore(words, 2).flatMap { _ in captureStatus() }
            default: return .failure(ControlError("capture needs start, stop or status; " + Self.usage))
            }
        case nil: return .failure(ControlError("empty request; " + Self.usage))
        case let other?:
            let hint = Suggestion.closest(to: other, among: Self.commandNames).map { "did you mean \"\($0)\"? " } ?? ""
            return .failure(ControlError("unknown command \"\(other)\"; \(hint)" + Self.usage))
        }
    }

    private func expectNoMore(_ words: [String], _ count: Int) -> Result<Void, ControlError> {
        words.count <= count ? .success(()) : .failure(ControlError(
            "\(words.prefix(count).joined(separator: " ")) takes no arguments (got \"\(words[count])\")"))
    }

    private static let noAnswer = ControlError("a packet thread did not answer within 2 seconds (is nat64d stopping?)")

    /// Fresh counters from every packet thread, added up and per queue, and the capture status.
    private func snapshot()
        -> Result<(stats: ForwarderStats, queues: [ForwarderStats], capture: CaptureStatus?), ControlError>
    {
        guard let replies = forwarder.snapshot() else { return .failure(Self.noAnswer) }
        var total = ForwarderStats()
        for r in replies { total.add(r.stats) }
        return .success((total, replies.map(\.stats), forwarder.captureStatus))
    }

    private func statsJSON() -> Result<[String], ControlError> {
        snapshot().map { reply -> [String] in
            var report = StatsReport(total: reply.stats, queues: reply.queues, capture: reply.capture != nil, dns: dns,
                                     ra: ra?.status() ?? [])
            report.abuse = AbuseReport(stats: reply.stats, ruleTexts: policyRules, mappingLog: mappingLogWriter?.counters)
            return [report.json]
        }
    }

    // MARK: stats, sessions

    private func stats() -> Result<[String], ControlError> {
        snapshot().map { reply in
            let c = reply.stats.counters
            var lines = ["translated-6to4 \(c.translated6to4)", "translated-4to6 \(c.translated4to6)",
                         "icmp-errors-sent \(c.icmpErrorsSent)", "drops \(c.drops.reduce(0, &+))"]
            lines += DropReason.allCases.map { "drops.\($0) \(c.drops($0))" }
            lines += ["sessions \(reply.stats.sessions)", "tun-read-errors \(reply.stats.readErrors)",
                      "tun-write-errors \(reply.stats.writeErrors)",
                      "icmp-errors-rate-limited \(c.icmpErrorsRateLimited)",
                      "table-lock-contended \(reply.stats.tableLockContended)", "queues \(reply.queues.count)"]
            for (i, q) in reply.queues.enumerated() {
                lines.append("queue.\(i).packets \(q.engine.packets)")
            }
            lines.append(reply.capture.map { "capture on \($0.settings.directory)" } ?? "capture off")
            if let dns {
                lines += dns.counters.fields.map { "dns64.\($0.name) \($0.value)" }
                lines.append("dns64.cache-entries \(dns.cachedAnswers)")
            }
            lines += raStatsLines()
            if let proxy { lines += proxy.counters.fields.map { "proxy.\($0.name) \($0.value)" } }
            return lines
        }
    }

    private func sessions() -> Result<[String], ControlError> {
        guard let reply = forwarder.bindings() else { return .failure(Self.noAnswer) }
        return .success(
            reply.bindings.sorted { ($0.inside.proto, $0.inside.address, $0.inside.port) < ($1.inside.proto, $1.inside.address, $1.inside.port) }
                .map { Self.describe($0, now: reply.now) })
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

    /// Parses `capture start` options over the configured defaults.
    static func captureSettings(_ options: [String], defaults: CaptureSettings) -> Result<CaptureSettings, ControlError> {
        var settings = defaults
        var i = 0
        while i < options.count {
            let option = options[i]
            guard i + 1 < options.count else { return .failure(ControlError("\(option) needs a value")) }
            let value = options[i + 1]
            switch option {
            case "--dir":
                guard value.hasPrefix("/") else {
                    return .failure(ControlError("--dir \"\(value)\" is not an absolute path"))
                }
                settings.directory = value
            case "--filter":
                settings.filter = value
            case "--max-size":
                guard let mb = Int(value), (1...4096).contains(mb) else {
                    return .failure(ControlError("--max-size \"\(value)\" must be a number of MiB from 1 to 4096"))
                }
                settings.maxFileBytes = mb << 20
            case "--max-files":
                guard let n = Int(value), (1...1000).contains(n) else {
                    return .failure(ControlError("--max-files \"\(value)\" must be a number from 1 to 1000"))
                }
                settings.maxFiles = n
            default:
                return .failure(ControlError("unknown capture start option \"\(option)\"; use --dir, --filter, "
                    + "--max-size or --max-files"))
            }
            i += 2
        }
        return .success(settings)
    }

    private func captureStart(_ options: [String]) -> Result<[String], ControlError> {
        Self.captureSettings(options, defaults: captureDefaults).flatMap { settings in
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
            switch forwarder.startCapture(SharedCapture(recorder: recorder)) {
            case .success(let status): return .success(["capture on"] + Self.describe(status))
            case .failure(.alreadyRunning(let directory)):
                return .failure(ControlError("capture is already running into \(directory); run capture stop first"))
            case .failure(.timedOut): return .failure(Self.noAnswer)
            }
        }
    }

    private func captureStop() -> Result<[String], ControlError> {
        guard let status = forwarder.stopCapture() else { return .failure(ControlError("capture is not running")) }
        return .success(["capture off"] + Self.describe(status))
    }

    private func captureStatus() -> Result<[String], ControlError> {
        .success(forwarder.captureStatus.map { ["capture on"] + Self.describe($0) } ?? ["capture off"])
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

    /// `proxy`: listeners, routes, backends and counters; `proxy --json`: the same as one JSON line.
    private func proxyStatus(_ options: [String]) -> Result<[String], ControlError> {
        guard let proxy else { return .failure(ControlError("the proxy is not running ([proxy] is absent or enabled = false)")) }
        switch options {
        case []: return .success(proxy.status().lines)
        case ["--json"]: return .success([proxy.status().json])
        default: return .failure(ControlError("proxy takes only --json (got \"\(options[0])\")"))
        }
    }
}
