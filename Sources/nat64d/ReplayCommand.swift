// `nat64d replay`: run a capture file through the translator offline (no root, no TUN), as the daemon would.
import ArgumentParser
import Forwarding
import GatewayConfig
import NAT64Translator
import PacketCapture

struct ReplayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Translate the packets of a capture file offline, as the daemon would; no root or TUN needed.",
        discussion: """
            Each packet of IN (raw IP, Ethernet, or Linux cooked capture from `tcpdump -i any`) goes through the \
            daemon's translator, with the clock taken from the packet timestamps so mappings expire as they would \
            live. OUT receives the translated packets and the ICMP errors the gateway would send, in order; DROPS \
            the dropped packets, with DROPS-minus-.pcap plus .reasons listing "<input packet number> <reason>", \
            numbered as --report numbers them. The \
            same input, configuration and seed give the same bytes.
            """)

    @Option(name: .shortAndLong, help: "The daemon's TOML configuration file (prefix, pool4, timeouts).")
    var config: String

    @Option(name: .customLong("in"), help: "The capture file to replay (pcap or pcapng).")
    var input: String

    @Option(name: .customLong("out"), help: "The pcap file to write translated packets and ICMP errors to.")
    var output: String

    @Option(help: "A pcap file for dropped packets (reasons go to a .reasons file beside it).")
    var drops: String?

    @Flag(help: "Print one line per input packet: its number, the verdict and the reason.")
    var report = false

    @Option(help: "Seed for port and IPv4 identification choice (default: a fixed seed, so runs repeat).")
    var seed: UInt64 = TranslatorConfiguration.replaySeed

    func run() throws {
        let configuration = try loadConfiguration(config)
        let report = self.report
        do {
            let summary = try Replay.run(
                configuration: TranslatorConfiguration(configuration, seed: seed), input: input, output: output,
                drops: drops
            ) { record in
                if report { print(record) }
            }
            print("replay: \(summary)")
        } catch {
            printError("nat64d replay: \(error)")
            throw ExitCode(1)
        }
    }
}

extension TranslatorConfiguration {
    /// The seed `replay` uses unless `--seed` is given.
    static let replaySeed: UInt64 = 0x6e61_7436_3464
}
