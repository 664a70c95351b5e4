// Shared IPv4 without the abuse pain: `[mapping-log]` (who held which pool4 port when), `[ipfix]`
// (NAT events to collectors, RFC 7011 / RFC 8158), `[policy]` (per-tenant outbound rules), and the port-block
// keys of `[translator]` (RFC 7422).

import NAT64Translator

extension GatewayConfiguration {
    /// `[mapping-log]`: the mapping log file `nat64d ctl who` reads. Off unless enabled.
    public struct MappingLog: Sendable, Equatable {
        public enum Detail: String, Sendable, Equatable, CaseIterable {
            /// BIB entries (and port blocks); with port blocks on, the blocks only.
            case bib
            /// Every session too.
            case session
        }
        public var enabled = false
        /// Absolute path of the current file; rotated files get `.1`, `.2`, ... Default `/var/log/nat64d/mapping.log`.
        public var path = "/var/log/nat64d/mapping.log"
        public var detail = Detail.bib
        /// Rotate at this many MiB, 1...4096. Default 64.
        public var maxSizeMB = 64
        /// Files kept, the current one included, 1...1000. Default 10.
        public var maxFiles = 10
        /// Log the IPv4 peer of sessions (RFC 6888 §4 advises against it by default). Default false.
        public var destination = false
        public init() {}
    }

    /// `[ipfix]`: NAT event export (RFC 8158) over UDP (RFC 7011). Off unless enabled.
    public struct IPFIX: Sendable, Equatable {
        public var enabled = false
        /// Collectors, each "address:port" (port default 4739).
        public var collectors: [Endpoint] = []
        /// Seconds between template resends (RFC 7011 §8.4, UDP), 1...3600. Default 60.
        public var templateInterval = 60
        /// The observation domain ID, 0...4294967295. Default 1.
        public var observationDomain = 1
        public init() {}
    }

    /// `[policy]`: outbound rules matched on the IPv6 source prefix.
    public struct Policy: Sendable, Equatable {
        /// The rules, in file order, with their text (counters are reported under it).
        public var rules: [OutboundRule] = []
        public var ruleTexts: [String] = []
        public init() {}
    }
}

extension ConfigReader {
    static let abuseSchema: [(name: String, keys: [String])] = [
        ("mapping-log", ["enabled", "path", "detail", "max-size-mb", "max-files", "destination"]),
        ("ipfix", ["enabled", "collectors", "template-interval", "observation-domain"]),
        ("policy", ["rules"]),
    ]

    /// The port-block keys of `[translator]` (read by `readTranslator`'s caller).
    static let portBlockKeys = ["port-block-size", "port-blocks-per-host", "port-block-hold"]

    mutating func readPortBlocks(_ s: Section) -> PortBlockSettings? {
        let size = integer(s, "port-block-size", default: 0, IntegerRule(
            range: 0...32768, unit: " ports", reason: " (0 turns port blocks off; RFC 7422 blocks are typically 64 to 512)"))
        let perHost = integer(s, "port-blocks-per-host", default: 4, IntegerRule(range: 1...64, unit: " blocks"))
        let hold = integer(s, "port-block-hold", default: 120, IntegerRule(range: 0...86_400, unit: " seconds"))
        guard let size, let perHost, let hold else { return nil }
        return PortBlockSettings(size: size, perHost: perHost, holdSeconds: hold)
    }

    mutating func readMappingLog(_ s: Section) -> GatewayConfiguration.MappingLog? {
        var m = GatewayConfiguration.MappingLog()
        let enabled = boolean(s, "enabled", default: false)
        let destination = boolean(s, "destination", default: false)
        if let text = string(s, "path", example: "\"/var/log/nat64d/mapping.log\"") {
            guard let p = convert(text, label: s.path("path"), { Self.absolutePath($0, maxBytes: 4000) }) else { return nil }
            m.path = p
        }
        if let text = string(s, "detail", example: "\"bib\"") {
            guard let d = convert(text, label: s.path("detail"), { (v: String) -> Result<GatewayConfiguration.MappingLog.Detail, Problem> in
                GatewayConfiguration.MappingLog.Detail(rawValue: v).map { .success($0) }
                    ?? .failure(Problem("is not one of bib, session"))
            }) else { return nil }
            m.detail = d
        }
        let size = integer(s, "max-size-mb", default: 64, IntegerRule(range: 1...4096, unit: " MiB"))
        let files = integer(s, "max-files", default: 10, IntegerRule(range: 1...1000, unit: " files"))
        guard let enabled, let destination, let size, let files else { return nil }
        m.enabled = enabled
        m.destination = destination
        m.maxSizeMB = size
        m.maxFiles = files
        return m
    }

    mutating func readIPFIX(_ s: Section) -> GatewayConfiguration.IPFIX? {
        var x = GatewayConfiguration.IPFIX()
        guard let enabled = boolean(s, "enabled", default: false) else { return nil }
        x.enabled = enabled
        if let texts = strings(s, "collectors", example: "[\"192.0.2.100:4739\"]") {
            guard let list = convertAll(texts, label: s.path("collectors"), { AddressText.endpoint($0, defaultPort: 4739) })
            else { return nil }
            x.collectors = list.map(\.value)
        }
        if enabled && x.collectors.isEmpty {
            fail(s.line, .missingKey, "ipfix.enabled = true needs at least one collector; add collectors = [\"192.0.2.100:4739\"] "
                + "to [ipfix], or set enabled = false")
            return nil
        }
        let interval = integer(s, "template-interval", default: 60, IntegerRule(
            range: 1...3600, unit: " seconds", reason: " (RFC 7011 §8.4: templates are resent periodically over UDP)"))
        let domain = integer(s, "observation-domain", default: 1, IntegerRule(range: 0...4_294_967_295, unit: ""))
        guard let interval, let domain else { return nil }
        x.templateInterval = interval
        x.observationDomain = domain
        return x
    }

    mutating func readPolicy(_ s: Section) -> GatewayConfiguration.Policy? {
        var p = GatewayConfiguration.Policy()
        guard let texts = strings(s, "rules", example: "[\"2001:db8::/32 deny tcp/25\"]") else {
            return s["rules"] == nil ? p : nil
        }
        guard let rules = convertAll(texts, label: s.path("rules"), Self.outboundRule) else { return nil }
        p.rules = rules.map(\.value)
        p.ruleTexts = texts.map(\.value)
        return p
    }

    /// `"PREFIX deny PROTO[/PORTS]"` or `"PREFIX limit PROTO[/PORTS] N"` (N new flows per second per host);
    /// PROTO is tcp, udp, icmp or any; PORTS a port or LOW-HIGH.
    static func outboundRule(_ text: String) -> Result<OutboundRule, Problem> {
        let fix = "write e.g. \"2001:db8::/32 deny tcp/25\" or \"2001:db8::/32 limit any 50\""
        let parts = text.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        guard parts.count >= 3, let prefix = IPv6Prefix(parts[0]) else {
            return .failure(Problem("is not \"PREFIX deny|limit PROTO[/PORTS] [N]\"; " + fix))
        }
        let target = parts[2].split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        let proto: UInt8?
        switch target[0] {
        case "tcp": proto = 6
        case "udp": proto = 17
        case "icmp": proto = 1
        case "any": proto = nil
        default: return .failure(Problem("names protocol \"\(target[0])\"; use tcp, udp, icmp or any; " + fix))
        }
        var ports: ClosedRange<UInt16>?
        if target.count == 2 {
            let ends = target[1].split(separator: "-", maxSplits: 1).map { UInt16($0) }
            guard proto == 6 || proto == 17, let lo = ends.first ?? nil, let hi = ends.last ?? nil, lo <= hi else {
                return .failure(Problem("has ports \"\(target[1])\"; give tcp or udp a port or LOW-HIGH; " + fix))
            }
            ports = lo...hi
        }
        switch parts[1] {
        case "deny" where parts.count == 3:
            return .success(OutboundRule(source: prefix, proto: proto, ports: ports, action: .deny))
        case "limit" where parts.count == 4:
            guard let n = Int(parts[3]), (1...1_000_000).contains(n) else {
                return .failure(Problem("has limit \"\(parts[3])\"; give new flows per second per host, 1 to 1000000; " + fix))
            }
            return .success(OutboundRule(source: prefix, proto: proto, ports: ports, action: .limit(perSecond: n)))
        default:
            return .failure(Problem("is not \"PREFIX deny PROTO[/PORTS]\" or \"PREFIX limit PROTO[/PORTS] N\"; " + fix))
        }
    }
}
