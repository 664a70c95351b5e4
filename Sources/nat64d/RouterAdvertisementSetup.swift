// The daemon's side of router advertisements ([ra.IFNAME]): the settings of each interface with its defaults
// filled in from the running gateway (RDNSS: the DNS64 listen addresses on that link; PREF64: the translator
// prefix, already set by the config), and the sender on its own thread.
import Forwarding
import GatewayConfig
import Logging
import NAT64Translator
import RouterAdvertisement

/// The router advertisement sender and the thread running its loop.
final class RouterAdvertisementRunner: Sendable {
    let advertiser: RouterAdvertiser
    private let thread: DedicatedThread

    /// Opens a raw ICMPv6 socket per `[ra.IFNAME]` section and starts sending. Without a section the sender
    /// still runs, idle (no socket, a wake-up a second), so a reload can add the first section (and remove the
    /// last) without a restart.
    ///
    /// - Throws: `RASocketError` (it names CAP_NET_RAW when the socket is refused), or `SystemError` for the thread.
    static func start(_ configuration: GatewayConfiguration, logger: Logger) throws -> RouterAdvertisementRunner {
        let interfaces = Self.interfaces(configuration, logger: logger)
        let advertiser = try RouterAdvertiser(
            interfaces: interfaces, clock: { monotonicNanoseconds() }, open: { try RawICMPv6Socket(interface: $0) })
        let thread = try DedicatedThread(name: "nat64d-ra") { advertiser.run() }
        for i in interfaces {
            logger.info("router advertisements on", metadata: [
                "interface": "\(i.name)", "pref64": "\(i.settings.pref64.map { "\($0)" } ?? "none")",
                "rdnss": "\(i.settings.rdnss.map(\.description).joined(separator: ","))",
                "router-lifetime": "\(i.settings.effectiveRouterLifetime)",
            ])
        }
        return RouterAdvertisementRunner(advertiser: advertiser, thread: thread)
    }

    private init(advertiser: RouterAdvertiser, thread: DedicatedThread) {
        self.advertiser = advertiser
        self.thread = thread
    }

    /// Announces `configuration`'s settings at once (for a reload).
    func apply(_ configuration: GatewayConfiguration, logger: Logger) throws {
        try advertiser.apply(Self.interfaces(configuration, logger: logger))
    }

    /// Sends the final advertisements (router lifetime 0, RDNSS and PREF64 lifetime 0) and waits for the thread.
    func stop() {
        advertiser.stop()
        thread.join()
    }

    /// Each `[ra.IFNAME]` section's settings, RDNSS filled in from `[dns64]` where the section leaves it out.
    static func interfaces(_ configuration: GatewayConfiguration, logger: Logger) -> [RouterAdvertiser.Interface] {
        configuration.ra.map { ra in
            var settings = ra.settings
            if ra.rdnssFromDNS64 {
                settings.rdnss = dnsServers(on: ra.name, configuration.dns64)
                if settings.rdnss.isEmpty {
                    logger.warning("no DNS64 listen address on this link: RDNSS left out; set rdnss = [...] in [ra.\(ra.name)]",
                                   metadata: ["interface": "\(ra.name)"])
                }
            }
            return RouterAdvertiser.Interface(name: ra.name, settings: settings)
        }
    }

    /// The DNS64's IPv6 listen addresses on port 53 that lie in a prefix of `interface` (for `[::]`, the
    /// interface's own non-link-local addresses).
    static func dnsServers(on interface: String, _ dns64: GatewayConfiguration.DNS64) -> [IPv6Address] {
        guard dns64.enabled else { return [] }
        let prefixes = InterfaceAddresses.ipv6Prefixes(of: interface)
        var out: [IPv6Address] = []
        for endpoint in dns64.listen where endpoint.port == 53 {
            guard case .v6(let address) = endpoint.host else { continue }
            if address == .unspecified {
                out += prefixes.map(\.address).filter { !($0.byte(0) == 0xFE && $0.byte(1) & 0xC0 == 0x80) }
            } else if prefixes.contains(where: { $0.contains(address) }) {
                out.append(address)
            }
        }
        var seen = Set<IPv6Address>()
        return Array(out.filter { seen.insert($0).inserted }.prefix(8))
    }
}
