// `nat64d ctl`: the control socket's client. Sends one request line, prints the body, exits 0 on OK and 1 with
// the server's one-line error otherwise.
import ArgumentParser

struct CtlCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ctl",
        abstract: "Ask a running nat64d: stats, sessions, capture start|stop|status, ra.",
        discussion: """
            Commands:
              stats                      translator counters (every drop reason), sessions, DNS64 counters
              sessions                   current mappings: PROTO [IPV6]:PORT IPV4:PORT idle=Ns
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
            """)

    @Option(help: "The control socket (default: [control] socket's default).")
    var socket: String = "/run/nat64d/control.sock"

    @Argument(parsing: .captureForPassthrough, help: "The command and its arguments.")
    var command: [String] = []

    func run() throws {
        if command == ["--help"] || command == ["-h"] { throw CleanExit.helpRequest(self) }
        guard !command.isEmpty else {
            printError("nat64d ctl: no command; " + ControlCommands.usage)
            throw ExitCode(2)
        }
        let result = ControlProtocol.requestLine(command).flatMap { line in
            Self.exchange(line, socket: socket).flatMap(ControlProtocol.parseResponse)
        }
        switch result {
        case .success(let lines):
            for line in lines { print(line) }
        case .failure(let error):
            printError("nat64d ctl: \(error.message)")
            throw ExitCode(1)
        }
    }

    /// Sends `line` to the socket and returns everything the server answers.
    static func exchange(_ line: String, socket path: String) -> Result<String, ControlError> {
        let connection: SocketFD
        do {
            connection = try SocketFD.connect(to: path)
        } catch {
            return .failure(ControlError("cannot connect to \(path): \(error.message) (is nat64d running, and is "
                + "[control] socket this path? use --socket PATH)"))
        }
        connection.setTimeouts(seconds: 10)
        guard connection.writeAll(line) else {
            return .failure(ControlError("cannot send the request to \(path)"))
        }
        return .success(connection.readAll(limit: 64 << 20))
    }
}
