// The schema: every section and key, its default, its bounds with the reason for them, and the cross-checks.
// config/nat64d.toml documents the same keys for operators; keep the two in step.

import NAT64Translator

/// Default values of the optional keys.
enum Defaults {
    static let tunName = "nat64"
    static let mtu = 1500
    static let udpTimeout = 300  // RFC 6146 §4 UDP_DEFAULT, 5 minutes
    static let tcpEstablishedTimeout = 7440  // RFC 6146 §4 TCP_EST, 2 hours 4 minutes
    static let tcpTransitoryTimeout = 240  // RFC 6146 §4 TCP_TRANS, 4 minutes
    static let icmpTimeout = 60  // RFC 6146 §4 ICMP_DEFAULT
    static let maxSessions = 65_536
    static let dnsListen: [GatewayConfiguration.Endpoint] = [
        .init(host: .v6(.loopback), port: 53), .init(host: .v4(IPv4Address(127, 0, 0, 1)), port: 53),
    ]
    static let dnsAllow: [GatewayConfiguration.ClientNetwork] = [
        .v6(IPv6Prefix(.loopback, length: 128)), .v4(IPv4Prefix(IPv4Address(127, 0, 0, 0), length: 8)),
    ]
    static let dnsTimeoutMilliseconds = 2000
    static let dnsExclude = [IPv6Prefix(IPv6Address(high: 0, low: 0x0000_ffff_0000_0000), length: 96)]
    static let dnsCacheSize = 10_000
    static let dnsCacheMinTTL = 0
    static let dnsCacheMaxTTL = 86_400
    static let dnsCacheMaxNegativeTTL = 3600
    static let dnsTCPIdleTimeoutMilliseconds = 10_000
    static let dnsTCPConnectionsPerClient = 16
    static let logLevel = "info"
}

extension ConfigReader {
    /// Every section and its keys, in the order the sample file lists them.
    static let schema: [(name: String, keys: [String])] = [
        ("tun", ["name", "mtu", "offload", "queues", "io"]),
        ("translator", ["prefix", "pool4", "udp-timeout", "tcp-established-timeout", "tcp-transitory-timeout",
                        "icmp-timeout", "max-sessions", "mode", "filtering", "map", "eam", "eam-allow-overlap",
                        "max-sessions-per-host", "max-held-syns", "state-dir", "traffic-class", "udp-zero-checksum",
                        "rfc6791-pool4", "rfc6791-pool6", "clat", "enabled"] + portBlockKeys + hardeningTranslatorKeys
                        + forwardTranslatorKeys),
        ("gateway", ["ipv4", "ipv6"]),
        ("dns64", ["enabled", "listen", "upstream", "allow", "prefix", "timeout-ms", "exclude", "mapped",
                   "break-dnssec", "synthesize-on-error", "cache-size", "cache-min-ttl", "cache-max-ttl",
                   "cache-max-negative-ttl", "tcp-idle-timeout-ms", "tcp-connections-per-client", "udp-sockets",
                   "upstream-ports", "rd0", "deadline-ms"]),
        ("log", ["level"]),
        ("translation", ["ipv4-mtu", "ipv6-mtu", "min-ipv6-mtu", "icmp-error-rate", "strict-well-known-prefix",
                         "rfc6791-source"] + hardeningTranslationKeys),
        ("capture", ["enabled", "directory", "filter", "max-size-mb", "max-files"]),
        ("control", ["socket"]),
        ("metrics", ["enabled", "listen"]),
        ("fast-path", ["interfaces", "max-flows"]),
        ("proxy", proxyKeys),
    ] + abuseSchema

    /// Sub-sections of `[dns64]`, written as `[dns64.groups.NAME]` headers rather than `key = value` lines.
    static let dns64Subsections = ["groups"]

    /// The keys of a `[dns64.groups.NAME]` section.
    static let dnsGroupKeys = ["clients", "prefix", "synthesis"]

    /// The log levels swift-log knows, lowest first.
    static let logLevels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]

    /// Longest session lifetime accepted (one year), so lifetimes in nanoseconds cannot overflow.
    private static let maxTimeout = 31_536_000

    /// Reads and checks the whole document; nil when anything was reported.
    mutating func readConfiguration() -> GatewayConfiguration? {
        checkTopLevel(sections: Self.schema + [("ra", [])])  // [ra.IFNAME] sections: Configuration+RA.swift
        func keys(_ name: String) -> [String] { Self.schema.first { $0.name == name }?.keys ?? [] }
        let tun = readTun(section("tun", keys: keys("tun")))
        // translator.enabled = false: the DNS64 alone (Configuration+Roles.swift).
        let translatorSection = section("translator", keys: keys("translator"))
        let translatorEnabled = boolean(translatorSection, "enabled", default: true)
        let translator = translatorEnabled == false
            ? readDisabledTranslator(translatorSection) : readTranslator(translatorSection)
        let gateway = translatorEnabled == false
            ? readDisabledGateway(section("gateway", keys: keys("gateway")))
            : readGateway(section("gateway", keys: keys("gateway")))
        let dns64 = readDNS64AndResolution(section("dns64", keys: keys("dns64") + Self.dns64Subsections),
                              translatorPrefix: translator?.config.prefix)
        let log = readLog(section("log", keys: keys("log")))
        let translationSection = section("translation", keys: keys("translation"))
        let translation = readTranslation(translationSection)
        let capture = readCapture(section("capture", keys: keys("capture")))
        let control = readControl(section("control", keys: keys("control")), tunName: tun?.name ?? Defaults.tunName)
        let metrics = readMetrics(section("metrics", keys: keys("metrics")))
        let fastPath = readFastPath(section("fast-path", keys: keys("fast-path")), tunName: tun?.name)
        let proxy = readProxy(section("proxy", keys: keys("proxy") + Self.proxySubsections), dns64: dns64, metrics: metrics,
                              fastPath: fastPath)
        let ra = readRA(tunName: tun?.name, translatorPrefix: translator?.config.prefix)
        // Configuration+Abuse.swift: port blocks, mapping log, IPFIX, outbound policy.
        let portBlocks = readPortBlocks(Section(name: "translator", table: root["translator"].flatMap {
            if case .table(let t) = $0.value.kind { t } else { nil } }))
        let mappingLog = readMappingLog(section("mapping-log", keys: keys("mapping-log")))
        let ipfix = readIPFIX(section("ipfix", keys: keys("ipfix")))
        let policy = readPolicy(section("policy", keys: keys("policy")))
        // Configuration+Hardening.swift: per-host port cap, total ICMP error cap.
        let hardening = readHardening(translator: translatorSection, translation: translationSection)
        // Configuration+Forwards.swift: port forwards by translation (S13).
        let forwards = translator.map { readForwards(translatorSection, translator: $0.config) } ?? []
        if let translator, let gateway, translatorEnabled != false { crossCheck(translator, gateway) }
        if translatorEnabled == false, let dns64, !dns64.enabled {
            fail(translatorSection["enabled"]?.line ?? 1, .conflict, "translator.enabled = false and the DNS64 is off: "
                + "nothing would run; add a [dns64] section with upstream = [...], or set translator.enabled = true")
        }
        guard let tun, let translator, let gateway, let dns64, let log, let translation, let capture, let control,
              let metrics, let ra, let fastPath, errors.isEmpty
        else { return nil }
        var configuration = GatewayConfiguration(
            tun: tun, translator: translator.config, gateway: gateway.config, dns64: dns64, log: log,
            capture: capture, control: control)
        configuration.translation = translation
        configuration.metrics = metrics
        configuration.fastPath = fastPath
        if let proxy { configuration.proxy = proxy }
        configuration.ra = ra
        guard let portBlocks, let mappingLog, let ipfix, let policy, let hardening, let forwards else { return nil }
        configuration.translator.forwards = forwards
        configuration.translator.maxPortsPerHost = hardening.portsPerHost
        configuration.translation.icmpErrorRateTotal = hardening.errorsTotal
        configuration.translator.portBlocks = portBlocks
        configuration.translator.outboundRules = policy.rules
        configuration.mappingLog = mappingLog
        configuration.ipfix = ipfix
        configuration.policy = policy
        return configuration
    }

    // MARK: [tun]

    private mutating func readTun(_ s: Section) -> GatewayConfiguration.Tun? {
        var name: String? = Defaults.tunName
        if let given = string(s, "name", example: "\"nat64\"") {
            name = convert(given, label: s.path("name"), Self.interfaceName)
        }
        let mtu = integer(s, "mtu", default: Defaults.mtu, IntegerRule(
            range: 1280...65535, reason: " (IPv6 needs a link MTU of at least 1280, RFC 8200 §5)"))
        let offload = boolean(s, "offload", default: true)
        // 0 = one per CPU; at most 256 (the kernel's MAX_TAP_QUEUES).
        let queues = integer(s, "queues", default: 0, IntegerRule(
            range: 0...256, reason: " (0 means one queue per CPU; the kernel allows at most 256 queues per TUN)"))
        let io = readTunIO(s)
        guard let name, let mtu, let offload, let queues, let io else { return nil }
        var tun = GatewayConfiguration.Tun(name: name, mtu: mtu)
        tun.offload = offload
        tun.queues = queues
        tun.io = io
        return tun
    }

    /// A Linux interface name: 1–15 bytes (IFNAMSIZ 16 with the NUL), not `.` or `..`, no `/`, `:` or spaces.
    static func interfaceName(_ text: String) -> Result<String, Problem> {
        let allowed = text.unicodeScalars.allSatisfy { c in
            ("0"..."9").contains(c) || ("a"..."z").contains(c) || ("A"..."Z").contains(c)
                || c == "_" || c == "." || c == "-"
        }
        guard allowed else {
            return .failure(Problem("has characters Linux does not allow; use only A-Z a-z 0-9 _ . -, e.g. \"nat64\""))
        }
        guard (1...15).contains(text.utf8.count) else {
            return .failure(Problem("is \(text.utf8.count) characters long; use 1 to 15 characters (Linux IFNAMSIZ)"))
        }
        guard text != "." && text != ".." else {
            return .failure(Problem("is not a valid interface name; use a name such as \"nat64\""))
        }
        return .success(text)
    }

    // MARK: [translator]

    mutating func readTranslator(
        _ s: Section, requirePool4: Bool = true
    ) -> (config: GatewayConfiguration.Translator, prefixLine: Int, pool4: [Located<IPv4Prefix>])? {
        var prefix: Located<NAT64Prefix>?
        if require(s, "prefix", example: "prefix = \"64:ff9b::/96\""),
           let text = string(s, "prefix", example: "\"64:ff9b::/96\""),
           let value = convert(text, label: s.path("prefix"), AddressText.nat64Prefix)
        {
            prefix = Located(value: value, line: text.line)
        }
        let state = readStateKeys(s)
        let pool4 = state?.mode == .siit ? readSIITPool4(s) : (!requirePool4 && s["pool4"] == nil ? [] : readPool4(s))
        let stateless = readStatelessKeys(s, mode: state?.mode)
        let clat = readCLAT(s, mode: state?.mode)
        let seconds = { (minimum: Int, reason: String) in
            IntegerRule(range: minimum...Self.maxTimeout, unit: " seconds", reason: reason)
        }
        let udp = integer(s, "udp-timeout", default: Defaults.udpTimeout,
                          seconds(120, " (RFC 6146 §4: UDP_MIN is 2 minutes)"))
        let tcpEstablished = integer(s, "tcp-established-timeout", default: Defaults.tcpEstablishedTimeout,
                                     seconds(7440, " (RFC 6146 §4: TCP_EST is at least 2 hours 4 minutes)"))
        let tcpTransitory = integer(s, "tcp-transitory-timeout", default: Defaults.tcpTransitoryTimeout,
                                    seconds(240, " (RFC 6146 §4: TCP_TRANS is 4 minutes)"))
        let icmp = integer(s, "icmp-timeout", default: Defaults.icmpTimeout,
                           seconds(1, " (RFC 6146 §4: ICMP_DEFAULT is 60 seconds)"))
        let maxSessions = integer(s, "max-sessions", default: Defaults.maxSessions,
                                  IntegerRule(range: 1...16_000_000, unit: " sessions"))
        guard let prefix, let pool4, let udp, let tcpEstablished, let tcpTransitory, let icmp, let maxSessions,
              let state, let stateless, let clat
        else { return nil }
        var config = GatewayConfiguration.Translator(
            prefix: prefix.value, pool4: pool4.map(\.value.prefix), udpTimeout: udp,
            tcpEstablishedTimeout: tcpEstablished, tcpTransitoryTimeout: tcpTransitory, icmpTimeout: icmp,
            maxSessions: maxSessions)
        config.pool4Ports = pool4.map(\.value.ports)
        config.mode = state.mode
        config.filtering = state.filtering
        config.staticMappings = state.staticMappings
        config.eam = state.eam
        config.maxSessionsPerHost = state.limits.sessionsPerHost
        config.maxHeldSYNs = state.limits.heldSYNs
        config.stateDirectory = state.directory
        config.stateless = stateless
        config.clat = clat
        return (config, prefix.line, pool4.map { Located(value: $0.value.prefix, line: $0.line) })
    }

    /// The RFC 6146 state keys: mode, filtering, map, eam, limits, state-dir (S2, S6, S9, S10).
    private mutating func readStateKeys(
        _ s: Section
    ) -> (mode: TranslationMode, filtering: FilteringPolicy, staticMappings: [StaticMapping], eam: [EAMEntry],
          limits: StateLimits, directory: String?)? {
        func word<T: RawRepresentable & CaseIterable>(_ key: String, _ fallback: T) -> T? where T.RawValue == String {
            guard let text = string(s, key, example: "\"\(fallback.rawValue)\"") else { return s[key] == nil ? fallback : nil }
            let names = T.allCases.map(\.rawValue)
            return convert(text, label: s.path(key)) { (v: String) -> Result<T, Problem> in
                T(rawValue: v).map { .success($0) }
                    ?? .failure(Problem("is not one of " + names.joined(separator: ", ")))
            }
        }
        let mode = word("mode", TranslationMode.napt)
        let filtering = word("filtering", FilteringPolicy.endpointIndependent)
        var maps: [StaticMapping]? = []
        if let texts = strings(s, "map", example: "[\"2001:db8:1::50 192.0.2.50\"]") {
            maps = convertAll(texts, label: s.path("map"), Self.staticMapping)?.map(\.value)
        }
        var eam: [EAMEntry]? = []
        if let texts = strings(s, "eam", example: "[\"2001:db8:2::/120 203.0.113.0/24\"]") {
            let located = convertAll(texts, label: s.path("eam"), Self.eamEntry)
            eam = located?.map(\.value)
            if let located, mode != .siit, !checkStatefulEAM(located) { eam = nil }
            // A4: overlapping entries are almost always a mistake; longest match decides when allowed.
            if let located, boolean(s, "eam-allow-overlap", default: false) == false {
                for (i, entry) in located.enumerated() {
                    if let earlier = located[..<i].first(where: { Self.eamOverlap($0.value, entry.value) }) {
                        fail(entry.line, .conflict, "translator.eam entry \(Self.quoted(texts[i].value)) overlaps the entry on "
                            + "line \(earlier.line); make the prefixes disjoint, or set eam-allow-overlap = true to let "
                            + "the longest prefix win (RFC 7757 §3.2)")
                        eam = nil
                        break
                    }
                }
            }
        }
        let perHost = integer(s, "max-sessions-per-host", default: 4096, IntegerRule(range: 1...16_000_000, unit: " sessions"))
        let held = integer(s, "max-held-syns", default: 256, IntegerRule(
            range: 0...65536, unit: " packets", reason: " (RFC 6146 §3.5.2.2: IPv4 SYNs held 6 s for simultaneous open)"))
        var directory: String?
        if let text = string(s, "state-dir", example: "\"/var/lib/nat64d\"") {
            directory = text.value
            if !text.value.hasPrefix("/") {
                fail(text.line, .invalidValue, "\(s.path("state-dir")) \(Self.quoted(text.value)) is not an absolute path; "
                    + "write e.g. state-dir = \"/var/lib/nat64d\"")
                return nil
            }
        }
        guard let mode, let filtering, let maps, let eam, let perHost, let held else { return nil }
        var limits = StateLimits()
        limits.sessionsPerHost = perHost
        limits.heldSYNs = held
        return (mode, filtering, maps, eam, limits, directory)
    }

    /// True when two EAM entries overlap on either side.
    static func eamOverlap(_ a: EAMEntry, _ b: EAMEntry) -> Bool {
        a.inside.contains(b.inside.address) || b.inside.contains(a.inside.address)
            || a.outside.contains(b.outside.address) || b.outside.contains(a.outside.address)
    }

    /// A `map` entry: `"IPV6 IPV4"`.
    static func staticMapping(_ text: String) -> Result<StaticMapping, Problem> {
        let parts = text.split(separator: " ", omittingEmptySubsequences: true)
        guard parts.count == 2, let v6 = IPv6Address(parts[0]), let v4 = IPv4Address(parts[1]) else {
            return .failure(Problem("is not \"IPV6 IPV4\"; write e.g. \"2001:db8:1::50 192.0.2.50\""))
        }
        return .success(StaticMapping(inside: v6, outside: v4))
    }

    /// An `eam` entry: `"IPV6/LEN IPV4/LEN"` with the same number of host bits (RFC 7757 §3.1); the stateful
    /// modes take at most 16 (`checkStatefulEAM`).
    static func eamEntry(_ text: String) -> Result<EAMEntry, Problem> {
        let parts = text.split(separator: " ", omittingEmptySubsequences: true)
        guard parts.count == 2, let v6 = IPv6Prefix(String(parts[0])), let v4 = IPv4Prefix(String(parts[1])) else {
            return .failure(Problem("is not \"IPV6/LEN IPV4/LEN\"; write e.g. \"2001:db8:2::/120 203.0.113.0/24\""))
        }
        guard let entry = EAMEntry(inside: v6, outside: v4) else {
            return .failure(Problem("pairs /\(v6.length) with /\(v4.length); both need the same number of host bits, "
                + "e.g. /120 with /24 (RFC 7757 §3.1)"))
        }
        return .success(entry)
    }

    private mutating func readPool4(_ s: Section) -> [Located<(prefix: IPv4Prefix, ports: ClosedRange<UInt16>)>]? {
        let example = "[\"192.0.2.1\"]"
        guard require(s, "pool4", example: "pool4 = \(example)"),
              let texts = strings(s, "pool4", example: example)
        else { return nil }
        guard !texts.isEmpty else {
            fail(s["pool4"]?.line ?? s.line, .invalidValue,
                 "translator.pool4 is empty; list at least one IPv4 address or prefix, e.g. pool4 = \(example)")
            return nil
        }
        guard let pool = convertAll(texts, label: s.path("pool4"), Self.poolEntry) else { return nil }
        for (i, entry) in pool.enumerated() {
            if let earlier = pool[..<i].first(where: { overlaps($0.value.prefix, entry.value.prefix) }) {
                fail(entry.line, .conflict, "translator.pool4 entry \"\(entry.value.prefix)\" overlaps \"\(earlier.value.prefix)\" "
                    + "(line \(earlier.line)); list each address once")
                return nil
            }
        }
        return pool
    }

    /// A pool4 entry: a prefix (see `poolPrefix`), optionally followed by a port range `LOW-HIGH` (S3).
    static func poolEntry(_ text: String) -> Result<(prefix: IPv4Prefix, ports: ClosedRange<UInt16>), Problem> {
        let parts = text.split(separator: " ", omittingEmptySubsequences: true)
        guard parts.count == 1 || parts.count == 2 else {
            return .failure(Problem("is not \"ADDRESS[/LEN] [LOW-HIGH]\"; write e.g. \"192.0.2.1 1024-65535\""))
        }
        var ports: ClosedRange<UInt16> = 1...65535
        if parts.count == 2 {
            let bounds = parts[1].split(separator: "-", omittingEmptySubsequences: false)
            guard bounds.count == 2, let lo = UInt16(bounds[0]), let hi = UInt16(bounds[1]), lo >= 1, lo <= hi else {
                return .failure(Problem("has port range \"\(parts[1])\"; write LOW-HIGH within 1-65535, e.g. 1024-65535"))
            }
            ports = lo...hi
        }
        return poolPrefix(String(parts[0])).map { ($0, ports) }
    }

    /// A pool4 entry: an IPv4 prefix of length 16 or more made of ordinary unicast addresses.
    static func poolPrefix(_ text: String) -> Result<IPv4Prefix, Problem> {
        AddressText.ipv4Prefix(text).flatMap { prefix in
            guard prefix.length >= 16 else {
                return .failure(Problem("is too wide (/\(prefix.length)); pool4 prefixes must be /16 or longer"))
            }
            if let reason = nonUnicastReason(prefix.address) {
                return .failure(Problem("is \(reason); pool4 needs ordinary unicast addresses such as \"192.0.2.0/24\""))
            }
            return .success(prefix)
        }
    }

    /// Why an IPv4 address cannot be a host's own address, or nil when it can.
    static func nonUnicastReason(_ a: IPv4Address) -> String? {
        switch a.value >> 24 {
        case 0: return "in 0.0.0.0/8 (\"this network\", RFC 1122)"
        case 127: return "a loopback address (127.0.0.0/8)"
        case 224...239: return "a multicast address (224.0.0.0/4)"
        case 240...255: return "reserved or broadcast (240.0.0.0/4)"
        default: return nil
        }
    }

    private func overlaps(_ a: IPv4Prefix, _ b: IPv4Prefix) -> Bool {
        a.contains(b.address) || b.contains(a.address)
    }

    // MARK: [translation]

    private mutating func readTranslation(_ s: Section) -> GatewayConfiguration.Translation? {
        var t = GatewayConfiguration.Translation()
        let ipv4MTU = integer(s, "ipv4-mtu", default: t.ipv4MTU, IntegerRule(
            range: 68...65535, unit: " bytes", reason: " (RFC 791: every IPv4 link carries 68 bytes)"))
        let ipv6MTU = integer(s, "ipv6-mtu", default: t.ipv6MTU, IntegerRule(
            range: 1280...65535, unit: " bytes", reason: " (RFC 8200 §5: IPv6 links carry at least 1280 bytes)"))
        let minimum = integer(s, "min-ipv6-mtu", default: t.minimumIPv6MTU, IntegerRule(
            range: 1280...65535, unit: " bytes", reason: " (RFC 7915 §4: fragments must fit the IPv6 minimum MTU)"))
        let rate = integer(s, "icmp-error-rate", default: t.icmpErrorRate, IntegerRule(
            range: 0...100_000, unit: " errors per second"))
        let strict = boolean(s, "strict-well-known-prefix", default: t.strictWellKnownPrefix)
        var source: IPv4Address?? = .some(nil)
        if let text = string(s, "rfc6791-source", example: "\"192.0.0.8\"") {
            source = convert(text, label: s.path("rfc6791-source"), Self.gatewayIPv4).map { .some($0) }
        }
        guard let ipv4MTU, let ipv6MTU, let minimum, let rate, let strict, let source else { return nil }
        if minimum > ipv6MTU, let entry = s["min-ipv6-mtu"] {
            fail(entry.line, .conflict, "translation.min-ipv6-mtu = \(minimum) is larger than translation.ipv6-mtu = "
                + "\(ipv6MTU); fragments must fit the IPv6 link, lower min-ipv6-mtu or raise ipv6-mtu")
            return nil
        }
        t.ipv4MTU = ipv4MTU
        t.ipv6MTU = ipv6MTU
        t.minimumIPv6MTU = minimum
        t.icmpErrorRate = rate
        t.strictWellKnownPrefix = strict
        t.rfc6791Source = source
        return t
    }

    // MARK: [gateway]

    mutating func readGateway(
        _ s: Section
    ) -> (config: GatewayConfiguration.Gateway, ipv4Line: Int, ipv6Line: Int)? {
        var ipv4: Located<IPv4Address>?
        if require(s, "ipv4", example: "ipv4 = \"198.51.100.1\""),
           let text = string(s, "ipv4", example: "\"198.51.100.1\""),
           let value = convert(text, label: s.path("ipv4"), Self.gatewayIPv4)
        {
            ipv4 = Located(value: value, line: text.line)
        }
        var ipv6: Located<IPv6Address>?
        if require(s, "ipv6", example: "ipv6 = \"2001:db8:1::1\""),
           let text = string(s, "ipv6", example: "\"2001:db8:1::1\""),
           let value = convert(text, label: s.path("ipv6"), Self.gatewayIPv6)
        {
            ipv6 = Located(value: value, line: text.line)
        }
        guard let ipv4, let ipv6 else { return nil }
        return (.init(ipv4: ipv4.value, ipv6: ipv6.value), ipv4.line, ipv6.line)
    }

    static func gatewayIPv4(_ text: String) -> Result<IPv4Address, Problem> {
        AddressText.ipv4Address(text).flatMap { address in
            guard let reason = nonUnicastReason(address) else { return .success(address) }
            return .failure(Problem("is \(reason); use the gateway's own unicast address, e.g. \"198.51.100.1\""))
        }
    }

    static func gatewayIPv6(_ text: String) -> Result<IPv6Address, Problem> {
        AddressText.ipv6Address(text).flatMap { address in
            if address == .unspecified || address == .loopback || address.byte(0) == 0xFF {
                return .failure(Problem("is not a unicast address; use the gateway's own address, e.g. \"2001:db8:1::1\""))
            }
            return .success(address)
        }
    }

    // MARK: [dns64]

    mutating func readDNS64(_ s: Section, translatorPrefix: NAT64Prefix?) -> GatewayConfiguration.DNS64? {
        let enabled = boolean(s, "enabled", default: s.table != nil)
        let listen = readEndpoints(s, "listen", default: Defaults.dnsListen, example: "[\"[2001:db8:1::1]:53\"]",
                                   required: enabled == true)
        let upstreams = readEndpoints(s, "upstream", default: [], example: "[\"198.51.100.10:53\"]",
                                      required: enabled == true)
        var allow: [GatewayConfiguration.ClientNetwork]? = Defaults.dnsAllow
        if let texts = strings(s, "allow", example: "[\"2001:db8:1::/64\"]") {
            allow = convertAll(texts, label: s.path("allow"), AddressText.clientNetwork)?.map(\.value)
        }
        var prefixes = translatorPrefix.map { [$0] }
        if s["prefix"] != nil { prefixes = readPrefixes(s, "prefix") }
        let timeout = integer(s, "timeout-ms", default: Defaults.dnsTimeoutMilliseconds,
                              IntegerRule(range: 100...30_000, unit: " milliseconds"))
        var exclude: [IPv6Prefix]? = Defaults.dnsExclude
        if let texts = strings(s, "exclude", example: "[\"::ffff:0:0/96\"]") {
            exclude = convertAll(texts, label: s.path("exclude"), AddressText.ipv6Prefix)?.map(\.value)
        } else if s["exclude"] != nil {
            exclude = nil
        }
        var mapped: [IPv4Prefix]?? = .some(nil)
        if let texts = strings(s, "mapped", example: "[\"0.0.0.0/0\"]") {
            mapped = convertAll(texts, label: s.path("mapped"), AddressText.ipv4Prefix).map { $0.map(\.value) }
        } else if s["mapped"] != nil {
            mapped = nil
        }
        let breakDNSSEC = boolean(s, "break-dnssec", default: false)
        let onError = boolean(s, "synthesize-on-error", default: true)
        let ttlRule = IntegerRule(range: 0...604_800, unit: " seconds", reason: " (one week at most)")
        let cacheSize = integer(s, "cache-size", default: Defaults.dnsCacheSize,
                                IntegerRule(range: 0...10_000_000, unit: " entries", reason: " (0 turns the cache off)"))
        let minTTL = integer(s, "cache-min-ttl", default: Defaults.dnsCacheMinTTL, ttlRule)
        let maxTTL = integer(s, "cache-max-ttl", default: Defaults.dnsCacheMaxTTL, ttlRule)
        let maxNegativeTTL = integer(s, "cache-max-negative-ttl", default: Defaults.dnsCacheMaxNegativeTTL, ttlRule)
        if let minTTL, let maxTTL, minTTL > maxTTL {
            fail(s["cache-min-ttl"]?.line ?? s.line, .conflict,
                 "dns64.cache-min-ttl = \(minTTL) is above dns64.cache-max-ttl = \(maxTTL); make the minimum smaller")
        }
        let tcpIdle = integer(s, "tcp-idle-timeout-ms", default: Defaults.dnsTCPIdleTimeoutMilliseconds,
                              IntegerRule(range: 100...300_000, unit: " milliseconds",
                                          reason: " (RFC 7766 §6.2.3: seconds, not minutes)"))
        let tcpPerClient = integer(s, "tcp-connections-per-client", default: Defaults.dnsTCPConnectionsPerClient,
                                   IntegerRule(range: 1...1024, unit: " connections"))
        let udpSockets = integer(s, "udp-sockets", default: Defaults.dnsUDPSockets, IntegerRule(range: 1...64, unit: " sockets"))
        let upstreamPorts = integer(s, "upstream-ports", default: 64, IntegerRule(range: 1...1024, unit: " ports"))
        let groups = readGroups(s, defaultPrefixes: prefixes ?? [])
        guard let enabled, let listen, let upstreams, let allow, let prefixes, let timeout, let exclude,
              let mapped, let breakDNSSEC, let onError, let cacheSize, let minTTL, let maxTTL, let maxNegativeTTL,
              let tcpIdle, let tcpPerClient, let udpSockets, let upstreamPorts, let groups
        else { return nil }
        return .init(enabled: enabled, listen: listen, upstreams: upstreams, allow: allow, prefixes: prefixes,
                     timeoutMilliseconds: timeout, exclude: exclude, mapped: mapped, breakDNSSEC: breakDNSSEC,
                     synthesizeOnError: onError, cacheSize: cacheSize, cacheMinTTL: minTTL, cacheMaxTTL: maxTTL,
                     cacheMaxNegativeTTL: maxNegativeTTL, tcpIdleTimeoutMilliseconds: tcpIdle,
                     tcpConnectionsPerClient: tcpPerClient, udpSockets: udpSockets, upstreamPorts: upstreamPorts,
                     groups: groups)
    }

    /// `prefix` as a string or a non-empty array of strings, each an RFC 6052 prefix, no duplicates (D2).
    private mutating func readPrefixes(_ s: Section, _ key: String) -> [NAT64Prefix]? {
        guard let entry = s[key] else { return nil }
        let example = "\"64:ff9b::/96\""
        let texts: [Located<String>]?
        if case .string = entry.value.kind {
            texts = string(s, key, example: example).map { [$0] }
        } else {
            texts = strings(s, key, example: "[\(example)]")
        }
        guard let texts else { return nil }
        guard !texts.isEmpty else {
            fail(entry.line, .invalidValue, "\(s.path(key)) is empty; list at least one prefix, e.g. \(key) = \(example)")
            return nil
        }
        guard let prefixes = convertAll(texts, label: s.path(key), AddressText.nat64Prefix) else { return nil }
        for (i, p) in prefixes.enumerated() {
            if let earlier = prefixes[..<i].first(where: { $0.value == p.value }) {
                fail(p.line, .conflict, "\(s.path(key)) lists \"\(p.value)\" twice (also line \(earlier.line)); "
                    + "list each prefix once")
                return nil
            }
        }
        return prefixes.map(\.value)
    }

    /// The `[dns64.groups.NAME]` sections (D10); nil when any is invalid (reported).
    private mutating func readGroups(
        _ s: Section, defaultPrefixes: [NAT64Prefix]
    ) -> [GatewayConfiguration.ClientGroup]? {
        guard let entry = s["groups"] else { return [] }
        guard case .table(let table) = entry.value.kind else {
            fail(entry.line, .wrongType, "dns64.groups must be sections, but it is \(entry.value.typeDescription); "
                + "write a [dns64.groups.NAME] header per group, with clients = [\"2001:db8:1::/64\"] below it")
            return nil
        }
        var groups: [GatewayConfiguration.ClientGroup] = []
        var ok = true
        for item in table.entries {
            let name = "dns64.groups.\(item.key)"
            guard case .table(let body) = item.value.kind else {
                fail(item.line, .wrongType, "\(name) must be a section; write [\(name)] on a line of its own")
                ok = false
                continue
            }
            let g = Section(name: name, table: body)
            for key in body.entries where !Self.dnsGroupKeys.contains(key.key) {
                fail(key.line, .unknownKey, "unknown key `\(name).\(key.key)`"
                    + Self.hint(key.key, Self.dnsGroupKeys, "keys in [\(name)]"))
                ok = false
            }
            var clients: [GatewayConfiguration.ClientNetwork]?
            if require(g, "clients", example: "clients = [\"2001:db8:1::/64\"]"),
               let texts = strings(g, "clients", example: "[\"2001:db8:1::/64\"]") {
                clients = convertAll(texts, label: g.path("clients"), AddressText.clientNetwork)?.map(\.value)
                if texts.isEmpty {
                    fail(g.line, .invalidValue, "\(g.path("clients")) is empty; list the group's client networks")
                    clients = nil
                }
            }
            let prefixes = g["prefix"] == nil ? defaultPrefixes : readPrefixes(g, "prefix")
            let synthesis = boolean(g, "synthesis", default: true)
            guard let clients, let prefixes, let synthesis else {
                ok = false
                continue
            }
            groups.append(.init(name: item.key, clients: clients, prefixes: prefixes, synthesis: synthesis))
        }
        return ok ? groups : nil
    }

    /// A list of endpoints; when `required`, an absent or empty list with an empty default is an error.
    private mutating func readEndpoints(
        _ s: Section, _ key: String, default fallback: [GatewayConfiguration.Endpoint], example: String,
        required: Bool
    ) -> [GatewayConfiguration.Endpoint]? {
        var endpoints: [GatewayConfiguration.Endpoint]? = fallback
        if s[key] != nil {
            endpoints = strings(s, key, example: example)
                .flatMap { convertAll($0, label: s.path(key), { AddressText.endpoint($0) }) }?.map(\.value)
        }
        if required, let endpoints, endpoints.isEmpty {
            fail(s[key]?.line ?? s.line, .missingKey,
                 "\(s.path(key)) needs at least one address while [dns64] is enabled; "
                    + "write \(key) = \(example), or set enabled = false")
            return nil
        }
        return endpoints
    }

    // MARK: [log]

    private mutating func readLog(_ s: Section) -> GatewayConfiguration.Log? {
        guard let text = string(s, "level", example: "\"info\"") else {
            return s["level"] == nil ? .init(level: Defaults.logLevel) : nil
        }
        let level = convert(text, label: s.path("level")) { (level: String) -> Result<String, Problem> in
            if Self.logLevels.contains(level) { return .success(level) }
            let fix = Suggestion.closest(to: level, among: Self.logLevels).map { "did you mean \"\($0)\"? " } ?? ""
            return .failure(Problem("is not a log level; \(fix)use one of " + Self.logLevels.joined(separator: ", ")))
        }
        return level.map { .init(level: $0) }
    }

    // MARK: Cross-checks

    private mutating func crossCheck(
        _ translator: (config: GatewayConfiguration.Translator, prefixLine: Int, pool4: [Located<IPv4Prefix>]),
        _ gateway: (config: GatewayConfiguration.Gateway, ipv4Line: Int, ipv6Line: Int)
    ) {
        let ipv4 = gateway.config.ipv4
        if let entry = translator.pool4.first(where: { $0.value.contains(ipv4) }) {
            fail(gateway.ipv4Line, .conflict,
                 "gateway.ipv4 \(ipv4) is inside translator.pool4 entry \"\(entry.value)\" (line \(entry.line)); "
                    + "the gateway needs an address the translator does not own, so pick one outside pool4")
        }
        let ipv6 = gateway.config.ipv6
        let prefix = translator.config.prefix
        if prefix.prefix.contains(ipv6) && translator.config.mode != .siit {  // siit: it may sit there (F1)
            fail(gateway.ipv6Line, .conflict,
                 "gateway.ipv6 \(ipv6) is inside translator.prefix \(prefix) (line \(translator.prefixLine)), so "
                    + "packets to it would be translated; use an address outside the NAT64 prefix")
        }
    }
}
