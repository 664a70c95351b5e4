// The nat64d command line: `run` (the daemon, foreground), `check-config`, `replay` (offline) and `ctl`.
import ArgumentParser
import GatewayConfig

@main
struct NAT64D: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nat64d",
        abstract: "NAT64/DNS64 gateway: lets IPv6-only hosts reach the IPv4 internet.",
        version: "0.1.0",
        subcommands: [Run.self, CheckConfig.self, ReplayCommand.self, CtlCommand.self])
}

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the gateway in the foreground until SIGTERM or SIGINT.")

    @Option(name: .shortAndLong, help: "Path to the TOML configuration file.")
    var config: String

    func run() async throws {
        let configuration = try loadConfiguration(config)
        let daemon = Daemon(configuration: configuration, configPath: config)
        do {
            try await daemon.run()
        } catch {
            printError("nat64d: \(error)\(privilegeHint(for: error))")
            throw ExitCode(1)
        }
    }
}

struct CheckConfig: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Validate a configuration file; prints FILE:LINE: problem and the fix, exits non-zero on errors.")

    @Argument(help: "Path to the TOML configuration file.")
    var path: String

    func run() throws {
        do {
            _ = try GatewayConfiguration.load(path: path)
            print("\(path): OK")
        } catch {
            printError("\(error)")
            throw ExitCode(1)
        }
    }
}

/// Loads a configuration file for a subcommand; on errors prints `FILE:LINE: problem` and exits with status 2.
func loadConfiguration(_ path: String) throws -> GatewayConfiguration {
    do {
        return try GatewayConfiguration.load(path: path)
    } catch {
        printError("\(error)")
        throw ExitCode(2)
    }
}
