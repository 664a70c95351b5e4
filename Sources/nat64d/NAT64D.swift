// The nat64d command line: `run` (the daemon, foreground), `check-config`, `replay` (offline), `ctl` and
// `version`. A configuration file with errors exits with status 2 everywhere (`run`, `check-config`, `ctl
// --config`), after printing every error as FILE:LINE: problem and fix.
import ArgumentParser
import GatewayConfig

/// The version `nat64d version`, `-V`, `--version` and the start-up log show.
let nat64dVersion = "0.1.0"

@main
struct NAT64D: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nat64d",
        abstract: "NAT64/DNS64 gateway: lets IPv6-only hosts reach the IPv4 internet.",
        version: nat64dVersion,
        subcommands: [Run.self, CheckConfig.self, ReplayCommand.self, CtlCommand.self, Version.self])

    @Flag(name: .customShort("V"), help: "Show the version.")
    var showVersion = false

    func run() async throws {
        guard showVersion else { throw CleanExit.helpRequest(self) }
        print(nat64dVersion)
    }

    /// argument-parser's main, except that a mistyped `ctl` command gets one line with the closest command
    /// (`ctl stat` → did you mean "stats"?) instead of the generic usage error.
    static func main() async {
        let arguments = Array(CommandLine.arguments.dropFirst())
        do {
            var command = try parseAsRoot(arguments)
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            if exitCode(for: error) != .success && !(error is ExitCode),
               let message = CtlCommand.unknownCommandMessage(arguments)
            {
                printError(message)
                Self.exit(withError: ExitCode(2))
            }
            Self.exit(withError: error)
        }
    }
}

struct Version: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show the version.")

    func run() { print(nat64dVersion) }
}

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the gateway in the foreground until SIGTERM or SIGINT; SIGHUP reloads the configuration.")

    @Option(name: .shortAndLong, help: "Path to the TOML configuration file.")
    var config: String = GatewayConfiguration.defaultPath

    func run() async throws {
        let (configuration, warnings) = try checkedConfiguration(config, printWarnings: false)
        let daemon = Daemon(configuration: configuration, configPath: config, warnings: warnings)
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
        abstract: "Validate a configuration file: prints every error (FILE:LINE: problem and the fix) and every "
            + "warning; exits 2 on errors, 0 otherwise.")

    @Argument(help: "Path to the TOML configuration file.")
    var path: String = GatewayConfiguration.defaultPath

    func run() throws {
        let (_, warnings) = try checkedConfiguration(path, printWarnings: true)
        print(warnings.isEmpty ? "\(path): OK" : "\(path): OK with \(warnings.count) warning(s)")
    }
}

/// Exit status for a configuration file with errors, in every subcommand.
let configErrorStatus: Int32 = 2

/// Reads and checks a configuration file; on errors prints every one (`FILE:LINE: problem`) and exits with
/// status 2. Warnings (`FILE: warning: KEY: ...`) go to standard error when `printWarnings`.
func checkedConfiguration(_ path: String, printWarnings: Bool) throws
    -> (configuration: GatewayConfiguration, warnings: [ConfigWarning])
{
    switch GatewayConfiguration.check(path: path, forwarding: ForwardingSysctls.current()) {
    case .success(let checked):
        if printWarnings { for w in checked.warnings { printError("\(path): \(w)") } }
        return checked
    case .failure(let failure):
        for error in failure.errors { printError("\(error)") }
        if failure.errors.count > 1 { printError("\(path): \(failure.errors.count) errors") }
        throw ExitCode(configErrorStatus)
    }
}

/// Loads a configuration file for a subcommand; on errors prints them all and exits with status 2.
func loadConfiguration(_ path: String) throws -> GatewayConfiguration {
    try checkedConfiguration(path, printWarnings: false).configuration
}
