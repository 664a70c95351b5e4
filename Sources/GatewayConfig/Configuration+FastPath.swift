// The `[fast-path]` section: established TCP and UDP flows translated in the kernel by a tc program on the
// gateway's own interfaces (Sources/FastPath; docs/design.md, "The fast path").

extension GatewayConfiguration {
    /// `[fast-path]`: off unless `interfaces` names at least one interface.
    public struct FastPath: Sendable, Equatable {
        /// The Ethernet interfaces where the IPv6 hosts' and the IPv4 peers' packets arrive (key `interfaces`).
        /// Default: none (off).
        public var interfaces: [String] = []
        /// Most flows in the kernel's tables at once (key `max-flows`); more sessions simply stay on the TUN,
        /// counted as `map-full`. Default 65536.
        public var maxFlows = Defaults.fastPathMaxFlows

        public var enabled: Bool { !interfaces.isEmpty }

        public init() {}
    }
}

extension Defaults {
    static let fastPathMaxFlows = 65_536
}

extension ConfigReader {
    // MARK: [fast-path]

    mutating func readFastPath(_ s: Section, tunName: String?) -> GatewayConfiguration.FastPath? {
        var fastPath = GatewayConfiguration.FastPath()
        let names = strings(s, "interfaces", example: "[\"eth0\", \"eth1\"]") ?? []
        var seen: Set<String> = []
        for name in names {
            if name.value.isEmpty || name.value.utf8.count > 15 || name.value.contains("/") {
                fail(name.line, .invalidValue, "\(s.path("interfaces")) entry \"\(name.value)\" is not an interface "
                    + "name (1 to 15 characters, no \"/\"); write e.g. interfaces = [\"eth0\"]")
                return nil
            }
            if name.value == (tunName ?? Defaults.tunName) {
                fail(name.line, .conflict, "\(s.path("interfaces")) names the TUN device \"\(name.value)\"; list the "
                    + "interfaces where the hosts' and the IPv4 peers' packets arrive, never the TUN")
                return nil
            }
            if !seen.insert(name.value).inserted {
                fail(name.line, .conflict, "\(s.path("interfaces")) lists \"\(name.value)\" twice; remove one")
                return nil
            }
        }
        fastPath.interfaces = names.map(\.value)
        guard let maxFlows = integer(s, "max-flows", default: Defaults.fastPathMaxFlows,
                                     IntegerRule(range: 16...4_194_304, unit: " flows")) else { return nil }
        fastPath.maxFlows = maxFlows
        return fastPath
    }
}
