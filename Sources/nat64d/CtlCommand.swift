// `nat64d ctl`: the control socket's client. Sends one request line, prints the body, exits 0 on OK and 1 with
// the server's one-line error otherwise. The socket is `--socket PATH`, else `[control] socket` of `--config
// FILE` (default /etc/nat64d/nat64d.toml when it exists), else the default of the default TUN name.
import ArgumentParser
import GatewayConfig

struct CtlCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ctl",
        abstract: "Ask a running nat64d: stats, sessions, capture start|stop|status, ra, reload.",
        discussion: """
            Commands:
              stats                      translator counters (every drop reason), sessions, DNS64 counters
              sessions                   current mappings: PROTO [IPV6]:PORT IPV4:PORT idle=Ns
              sessions [--json] [--proto tcp|udp|icmp] [--ipv6 ADDR[/LEN]] [--ipv4 ADDR] [--port N] [--limit N]
                                         the sessions that match, with remote endpoint, TCP state, age, idle
                                         time and time left, and the total
              pool4 [--json]             per pool4 address: port range, ports used and free per protocol, and
                                         drops for an exhausted pool
              bib [--json] [--limit N]   the binding information base: IPv6 endpoint, pool4 endpoint, sessions
              capture start [--dir D] [--filter EXPR] [--max-size MB] [--max-files N]
                                         start writing pcap files (defaults from [capture])
              capture stop               stop and close the files
              capture status             the running capture's files and counters
              proxy [--json]             the inbound proxy: listeners, routes, backends (health, connections)
              ra [--json]                what the router advertisements announce per interface, and their counters
              stats --json               the counters of stats as one JSON object
              who ADDR:PORT [--at TIME] [--json]
                                         which IPv6 host held a pool4 address and port (live table and
                                         the [mapping-log] files); TIME is UTC, e.g. 2026-12-01T14:03:22
              reload [--json]            re-read the configuration file (as SIGHUP does); a file with errors is
                                         refused, its FILE:LINE errors printed, and the exit status is 1

            The socket: --socket PATH, else [control] socket of --config FILE (default \(GatewayConfiguration.defaultPath)
            when it exists), else /run/nat64d/nat64.sock.
            """)

    @Option(help: "The control socket (default: from --config).")
    var socket: String?

    @Option(name: .shortAndLong, help: "The instance's configuration file: its [control] socket is used.")
    var config: String?

    @Argument(parsing: .captureForPassthrough, help: "The command and its arguments.")
    var command: [String] = []

    func run() throws {
        if command == ["--help"] || command == ["-h"] { throw CleanExit.helpRequest(self) }
        guard !command.isEmpty else {
            printError("nat64d ctl: no command; " + ControlCommands.usage)
            throw ExitCode(2)
        }
        if command.count >= 2 && (command.contains("--help") || command.contains("-h")) {
            print(Self.help(for: command[0]))
            return
        }
        let path = try resolvedSocket()
        let result = ControlProtocol.requestLine(command).flatMap { line in
            Self.exchange(line, socket: path).flatMap(ControlProtocol.parseResponse)
        }
        switch result {
        case .success(let lines):
            for line in lines { print(line) }
        case .failure(let error):
            printError("nat64d ctl: \(error.message)")
            throw ExitCode(1)
        }
    }

    /// The socket to talk to (see the file header).
    func resolvedSocket() throws -> String {
        if let socket { return socket }
        let path = config ?? GatewayConfiguration.defaultPath
        if config == nil && !fileExists(path) {
            return GatewayConfiguration.Control.defaultSocket(tunName: "nat64")
        }
        return try loadConfiguration(path).control.socket
    }

    /// Help for one command (`ctl stats --help`), from the discussion's table.
    static func help(for command: String) -> String {
        let lines = configuration.discussion.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var out: [String] = []
        var inCommand = false
        for line in lines {
            let body = line.drop { $0 == " " }
            if line.hasPrefix("  ") && !line.hasPrefix("        ") {
                inCommand = body.hasPrefix(command + " ") || body == command[...]
            } else if !line.hasPrefix("        ") {
                inCommand = false
            }
            if inCommand { out.append(line) }
        }
        guard !out.isEmpty else { return "nat64d ctl: unknown command \"\(command)\"; " + ControlCommands.usage }
        return "usage: nat64d ctl [--socket PATH | --config FILE] \(command) ...\n" + out.joined(separator: "\n")
    }

    /// Sends `line` to the socket and returns everything the server answers.
    static func exchange(_ line: String, socket path: String) -> Result<String, ControlError> {
        let connection: SocketFD
        do {
            connection = try SocketFD.connect(to: path)
        } catch {
            return .failure(ControlError("cannot connect to \(path): \(error.message) (is nat64d running, and is "
                + "[control] socket this path? use --config FILE or --socket PATH)"))
        }
        connection.setTimeouts(seconds: 35)
        guard connection.writeAll(line) else {
            return .failure(ControlError("cannot send the request to \(path)"))
        }
        return .success(connection.readAll(limit: 64 << 20))
    }
}
