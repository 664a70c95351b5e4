// `nat64d ctl`: the control socket's client. Each command is a swift-argument-parser subcommand that builds one
// Codable `ControlRequest` (ControlProtocol.swift), sends it as a JSON line and prints the reply: text for people,
// or with `--json` the result as one JSON object. Exits 0 on success, 1 with the server's one-line error, 2 on a
// command line it does not understand. The socket is `--socket PATH`, else `[control] socket` of `--config FILE`
// (default /etc/nat64d/nat64d.toml when it exists), else the default of the default TUN name.
import ArgumentParser
import GatewayConfig

struct CtlCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ctl",
        abstract: "Ask a running nat64d: stats, sessions, pool4, bib, capture, proxy, ra, who, reload, config, dns64.",
        discussion: """
            Every command takes --json (one JSON object for scripts) and --socket PATH or --config FILE, before or \
            after the command's name.
            The socket: --socket PATH, else [control] socket of --config FILE (default \(GatewayConfiguration.defaultPath) \
            when it exists), else /run/nat64d/nat64.sock.
            """,
        subcommands: [
            CtlStats.self, CtlSessions.self, CtlPool4.self, CtlBIB.self, CtlCapture.self, CtlProxy.self, CtlRA.self,
            CtlWho.self, CtlReload.self, CtlConfig.self, CtlDNS64.self,
        ])

    @OptionGroup var target: CtlTarget

    func run() throws { throw CleanExit.helpRequest(self) }

    /// For a command line that argument-parser refused: a one-line error naming the word that is no `ctl`
    /// command (with the closest one), or the `capture` action that is missing; nil when the refusal was about
    /// something else. `arguments` are the words after `nat64d`.
    static func unknownCommandMessage(_ arguments: [String]) -> String? {
        guard arguments.first == "ctl" else { return nil }
        var words: [String] = []
        var i = 1
        while i < arguments.count {
            let word = arguments[i]
            if ["--socket", "--config", "-c"].contains(word) {
                i += 2
                continue
            }
            if !word.hasPrefix("-") { words.append(word) }
            i += 1
        }
        let names = configuration.subcommands.compactMap { $0.configuration.commandName }
        guard let first = words.first else { return nil }
        guard names.contains(first) else {
            let hint = Suggestion.closest(to: first, among: names).map { "did you mean \"\($0)\"? " } ?? ""
            return "nat64d ctl: unknown command \"\(first)\"; \(hint)commands: \(names.joined(separator: ", "))"
        }
        if first == "capture", words.count > 1, !["start", "stop", "status"].contains(words[1]) {
            return "nat64d ctl: capture needs start, stop or status (got \"\(words[1])\")"
        }
        return nil
    }
}

/// The options every `ctl` command takes.
struct CtlTarget: ParsableArguments {
    @Option(help: "The control socket (default: from --config).")
    var socket: String?

    @Option(name: .shortAndLong, help: "The instance's configuration file: its [control] socket is used.")
    var config: String?

    @Flag(help: "Print the answer as one JSON object.")
    var json = false

    /// The socket to talk to (see the file header).
    func resolvedSocket() throws -> String {
        if let socket { return socket }
        let path = config ?? GatewayConfiguration.defaultPath
        if config == nil && !fileExists(path) {
            return GatewayConfiguration.Control.defaultSocket(tunName: "nat64")
        }
        return try loadConfiguration(path).control.socket
    }

    /// Sends `request` (with `--json` applied) and prints the answer; exits 1 with the error.
    func send(_ request: ControlRequest) throws {
        var request = request
        request.json = json
        let path = try resolvedSocket()
        let reply: ControlReply
        switch CtlClient.exchange(request, socket: path) {
        case .success(let r): reply = r
        case .failure(let error):
            printError("nat64d ctl: \(error.message)")
            throw ExitCode(1)
        }
        if let error = reply.error {
            printError("nat64d ctl: \(error)")
            throw ExitCode(1)
        }
        if let result = reply.result {
            let line = (try? ControlProtocol.line(result)) ?? Array("{}\n".utf8)
            print(String(decoding: line.dropLast(), as: UTF8.self))
        }
        for line in reply.lines ?? [] { print(line) }
    }
}

/// A `ctl` command: builds its request; `run` sends it.
protocol CtlRequestCommand: ParsableCommand {
    var target: CtlTarget { get }
    func request() throws -> ControlRequest
}

extension CtlRequestCommand {
    func run() throws { try target.send(request()) }
}

struct CtlStats: CtlRequestCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats",
        abstract: "Translator counters (every drop reason), sessions, DNS64, RA, proxy and control socket counters.",
        discussion: "With --json: one object whose \"metrics\" member holds every sample of /metrics by name and labels.")
    @OptionGroup var target: CtlTarget
    func request() -> ControlRequest { ControlRequest(.stats) }
}

/// The filters of `ctl sessions` and `ctl bib`.
enum CtlProto: String, ExpressibleByArgument, CaseIterable { case tcp, udp, icmp }

struct CtlSessions: CtlRequestCommand {
    static let configuration = CommandConfiguration(
        commandName: "sessions",
        abstract: "Current sessions: PROTO [IPV6]:PORT IPV4:PORT idle=Ns; with a filter or --json also the remote "
            + "endpoint, TCP state, age, idle time and time left, and the totals.")
    @OptionGroup var target: CtlTarget
    @Option(help: "Only this protocol.") var proto: CtlProto?
    @Option(help: ArgumentHelp("Only sessions of this IPv6 host or prefix.", valueName: "ADDR[/LEN]")) var ipv6: String?
    @Option(help: ArgumentHelp("Only sessions with this pool4 or remote IPv4 address.", valueName: "ADDR")) var ipv4: String?
    @Option(help: "Only sessions with this port (IPv6, pool4 or remote side).") var port: Int?
    @Option(help: "Show at most N sessions (default 1000).") var limit: Int?

    func request() -> ControlRequest {
        var r = ControlRequest(.sessions)
        r.sessions = .init(proto: proto?.rawValue, ipv6: ipv6, ipv4: ipv4, port: port, limit: limit)
        return r
    }
}

struct CtlPool4: CtlRequestCommand {
    static let configuration = CommandConfiguration(
        commandName: "pool4",
        abstract: "Per pool4 address: port range, ports used and free per protocol, drops for an exhausted pool.")
    @OptionGroup var target: CtlTarget
    func request() -> ControlRequest { ControlRequest(.pool4) }
}

struct CtlBIB: CtlRequestCommand {
    static let configuration = CommandConfiguration(
        commandName: "bib", abstract: "The binding information base: IPv6 endpoint, pool4 endpoint, sessions.")
    @OptionGroup var target: CtlTarget
    @Option(help: "Show at most N entries (default 1000).") var limit: Int?

    func request() -> ControlRequest {
        var r = ControlRequest(.bib)
        r.sessions = .init(limit: limit)
        return r
    }
}

struct CtlCapture: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "capture", abstract: "Start, stop or show the packet capture (pcap files).",
        subcommands: [Start.self, Stop.self, Status.self])

    struct Start: CtlRequestCommand {
        static let configuration = CommandConfiguration(abstract: "Start writing pcap files (defaults from [capture]).")
        @OptionGroup var target: CtlTarget
        @Option(help: ArgumentHelp("Directory for the files (absolute).", valueName: "D")) var dir: String?
        @Option(help: ArgumentHelp("A pcap filter, e.g. \"tcp port 80\".", valueName: "EXPR")) var filter: String?
        @Option(help: ArgumentHelp("Rotate each file at this size.", valueName: "MB")) var maxSize: Int?
        @Option(help: ArgumentHelp("Keep this many files per stream.", valueName: "N")) var maxFiles: Int?

        func request() -> ControlRequest {
            var r = ControlRequest(.captureStart)
            r.capture = .init(dir: dir, filter: filter, maxSizeMB: maxSize, maxFiles: maxFiles)
            return r
        }
    }

    struct Stop: CtlRequestCommand {
        static let configuration = CommandConfiguration(abstract: "Stop the capture and close the files.")
        @OptionGroup var target: CtlTarget
        func request() -> ControlRequest { ControlRequest(.captureStop) }
    }

    struct Status: CtlRequestCommand {
        static let configuration = CommandConfiguration(abstract: "The running capture's files and counters.")
        @OptionGroup var target: CtlTarget
        func request() -> ControlRequest { ControlRequest(.captureStatus) }
    }
}

struct CtlProxy: CtlRequestCommand {
    static let configuration = CommandConfiguration(
        commandName: "proxy", abstract: "The inbound proxy: listeners, routes, backends (health, connections).")
    @OptionGroup var target: CtlTarget
    func request() -> ControlRequest { ControlRequest(.proxy) }
}

struct CtlRA: CtlRequestCommand {
    static let configuration = CommandConfiguration(
        commandName: "ra", abstract: "What the router advertisements announce per interface, and their counters.")
    @OptionGroup var target: CtlTarget
    func request() -> ControlRequest { ControlRequest(.ra) }
}

struct CtlWho: CtlRequestCommand {
    static let configuration = CommandConfiguration(
        commandName: "who",
        abstract: "Which IPv6 host held a pool4 address and port (live table and the [mapping-log] files).")
    @OptionGroup var target: CtlTarget
    @Argument(help: ArgumentHelp("The pool4 address and port, e.g. 192.0.2.1:40312.", valueName: "ADDR:PORT"))
    var endpoint: String
    @Option(help: ArgumentHelp("A UTC time, e.g. 2026-12-01T14:03:22 (a prefix is a range).", valueName: "TIME"))
    var at: String?

    func validate() throws {
        guard Self.split(endpoint) != nil else {
            throw ValidationError("\"\(endpoint)\" is not ADDR:PORT such as 192.0.2.1:40312")
        }
    }

    static func split(_ text: String) -> (String, Int)? {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]) else { return nil }
        return (String(text[..<colon]), port)
    }

    func request() -> ControlRequest {
        var r = ControlRequest(.who)
        let (address, port) = Self.split(endpoint) ?? (endpoint, 0)
        r.who = .init(address: address, port: port, at: at)
        return r
    }
}

struct CtlReload: CtlRequestCommand {
    static let configuration = CommandConfiguration(
        commandName: "reload",
        abstract: "Re-read the configuration file (as SIGHUP does).",
        discussion: "A file with errors is refused, its FILE:LINE errors printed, and the exit status is 1; the "
            + "running configuration stays.")
    @OptionGroup var target: CtlTarget
    func request() -> ControlRequest { ControlRequest(.reload) }
}

struct CtlConfig: CtlRequestCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "The configuration that runs: every key with its value, defaults filled in (TOML-like, or --json).")
    @OptionGroup var target: CtlTarget
    func request() -> ControlRequest { ControlRequest(.config) }
}

struct CtlDNS64: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dns64", abstract: "The DNS64's answer cache.", subcommands: [Cache.self])

    struct Cache: CtlRequestCommand {
        static let configuration = CommandConfiguration(
            abstract: "Answers in the DNS64 cache, in total and per shard; --flush empties it and says how many went.")
        @OptionGroup var target: CtlTarget
        @Flag(help: "Empty the cache first.") var flush = false

        func request() -> ControlRequest {
            var r = ControlRequest(.dns64Cache)
            r.flush = flush
            return r
        }
    }
}

/// The client side of one exchange.
enum CtlClient {
    /// Sends `request` to the socket and decodes the one reply line.
    static func exchange(_ request: ControlRequest, socket path: String) -> Result<ControlReply, ControlError> {
        let connection: SocketFD
        do {
            connection = try SocketFD.connect(to: path)
        } catch {
            return .failure(ControlError("cannot connect to \(path): \(error.message) (is nat64d running, and is "
                + "[control] socket this path? use --config FILE or --socket PATH)"))
        }
        connection.setTimeouts(seconds: 35)
        guard let line = try? ControlProtocol.line(request) else {
            return .failure(ControlError("cannot encode the request"))
        }
        // A server that refuses the connection (too many open) answers and closes at once, maybe before the
        // request is written: its answer is still there to read.
        let sent = connection.writeAll(String(decoding: line, as: UTF8.self))
        let answer = connection.readAll(limit: 256 << 20)
        guard !answer.isEmpty else {
            return .failure(ControlError(sent ? "nat64d closed the connection without answering"
                : "cannot send the request to \(path)"))
        }
        do {
            return .success(try ControlProtocol.decode(ControlReply.self, from: Array(answer.utf8)))
        } catch {
            return .failure(ControlError("nat64d's answer is not a reply (cut off?): \(answer.prefix(200))"))
        }
    }
}
