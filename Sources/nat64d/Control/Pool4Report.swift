// `ctl pool4 [--json]`: per pool4 address, its port range and how many ports each protocol uses and has left,
// with the drops for an exhausted pool; `ctl bib [--json] [--limit N]`: the Binding Information Base, one
// entry per IPv6 endpoint and protocol with its pool4 endpoint and session count (RFC 6146 §3.1). Both come
// from the same bounded walk of the session table as `ctl sessions`.
import Forwarding
import GatewayConfig
import NAT64Translator

/// `ctl pool4`.
struct Pool4Report: Codable, Equatable {
    struct Address: Codable, Equatable {
        var address: String
        var ports: String
        var portCount: Int
        /// Ports (ICMP: identifiers) in use per protocol: tcp, udp, icmp.
        var used: [String: Int]
        var free: [String: Int]
        enum CodingKeys: String, CodingKey { case address, ports, portCount = "port-count", used, free }
    }

    var addresses: [Address]
    var exhaustionDrops: UInt64
    enum CodingKeys: String, CodingKey { case addresses, exhaustionDrops = "pool4-exhausted-drops" }

    init(translator t: GatewayConfiguration.Translator, bindings: [Binding], exhaustionDrops: UInt64) {
        var used: [UInt32: [String: Set<UInt16>]] = [:]
        for b in bindings {
            used[b.outside.address.value, default: [:]][SessionFilter.protoName(b.outside.proto), default: []]
                .insert(b.outside.port)
        }
        var rows: [Address] = []
        for (i, prefix) in t.pool4.enumerated() {
            let ports = i < t.pool4Ports.count ? t.pool4Ports[i] : 1...65535
            for n in 0..<(UInt32(1) << UInt32(32 - prefix.length)) {
                let a = IPv4Address(prefix.address.value | n)
                var u: [String: Int] = [:]
                var f: [String: Int] = [:]
                for proto in ["tcp", "udp", "icmp"] {
                    u[proto] = used[a.value]?[proto]?.count ?? 0
                    f[proto] = ports.count - u[proto]!
                }
                rows.append(Address(address: "\(a)", ports: "\(ports.lowerBound)-\(ports.upperBound)",
                                    portCount: ports.count, used: u, free: f))
            }
        }
        addresses = rows
        self.exhaustionDrops = exhaustionDrops
    }

    var lines: [String] {
        addresses.map { a in
            "\(a.address) ports \(a.ports) used tcp=\(a.used["tcp"] ?? 0) udp=\(a.used["udp"] ?? 0) "
                + "icmp=\(a.used["icmp"] ?? 0) free tcp=\(a.free["tcp"] ?? 0) udp=\(a.free["udp"] ?? 0) "
                + "icmp=\(a.free["icmp"] ?? 0)"
        } + ["pool4-exhausted-drops \(exhaustionDrops)"]
    }
}

/// `ctl bib`.
struct BIBReport: Codable, Equatable {
    struct Entry: Codable, Equatable {
        var proto: String
        var ipv6: String
        var ipv6Port: Int
        var ipv4: String
        var ipv4Port: Int
        var sessions: Int
        enum CodingKeys: String, CodingKey {
            case proto, ipv6, ipv6Port = "ipv6-port", ipv4, ipv4Port = "ipv4-port", sessions
        }
    }

    /// A port forward (`translator.forward`, S13): a BIB entry made by the configuration.
    struct Forward: Codable, Equatable {
        var proto: String
        /// `a.b.c.d:port`, as the configuration writes it.
        var outside: String
        /// `[v6]:port`.
        var inside: String
        /// False while a dynamic mapping still holds its port (it is installed once that ends).
        var active: Bool
        var sessions: Int
        enum CodingKeys: String, CodingKey { case proto = "protocol", outside, inside, active, sessions }

        init(_ s: PortForwardStatus) {
            proto = SessionFilter.protoName(s.forward.proto)
            outside = "\(s.forward.outside.address):\(s.forward.outside.port)"
            inside = "[\(s.forward.inside.address)]:\(s.forward.inside.port)"
            active = s.active
            sessions = s.sessions
        }
    }

    var entries: [Entry]
    var total: Int
    var forwards: [Forward] = []

    /// Groups sessions by their mapping (duplicates from queues sharing the table counted once).
    init(bindings: [Binding], limit: Int) {
        struct Key: Hashable {
            var inside: Endpoint6
            var outside: Endpoint4
        }
        var sessions: [Key: Set<Endpoint4>] = [:]
        for b in bindings { sessions[Key(inside: b.inside, outside: b.outside), default: []].insert(b.remote) }
        let sorted = sessions.sorted {
            ($0.key.inside.proto, $0.key.inside.address, $0.key.inside.port)
                < ($1.key.inside.proto, $1.key.inside.address, $1.key.inside.port)
        }
        entries = sorted.prefix(limit).map { k, remotes in
            Entry(proto: SessionFilter.protoName(k.inside.proto), ipv6: "\(k.inside.address)",
                  ipv6Port: Int(k.inside.port), ipv4: "\(k.outside.address)", ipv4Port: Int(k.outside.port),
                  sessions: remotes.count)
        }
        total = sorted.count
    }
}

extension ControlCommands {
    func pool4(json: Bool) -> ControlReply {
        guard let configuration = state.configuration else {
            return .failure(ControlError("the configuration is not known to this control server"))
        }
        guard let reply = forwarder.bindings(), let snapshot = forwarder.snapshot() else { return .failure(Self.noAnswer) }
        let drops = snapshot.reduce(UInt64(0)) { $0 &+ $1.stats.counters.drops(.poolExhausted) }
        let report = Pool4Report(translator: configuration.translator, bindings: reply.bindings, exhaustionDrops: drops)
        return json ? .json(report) : .text(report.lines)
    }

    func bib(_ query: ControlRequest.Sessions, json: Bool) -> ControlReply {
        guard query.proto == nil && query.ipv6 == nil && query.ipv4 == nil && query.port == nil else {
            return .failure(ControlError("bib takes --json and --limit N"))
        }
        let filter: SessionFilter
        switch SessionFilter.parse(query) {
        case .success(let f): filter = f
        case .failure(let error): return .failure(error)
        }
        guard let reply = forwarder.bindings(), let forwards = forwarder.forwards() else { return .failure(Self.noAnswer) }
        var report = BIBReport(bindings: reply.bindings, limit: filter.limit)
        report.forwards = forwards.map(BIBReport.Forward.init)
        if json { return .json(report) }
        return .text(report.entries.map {
            "\($0.proto) [\($0.ipv6)]:\($0.ipv6Port) \($0.ipv4):\($0.ipv4Port) sessions=\($0.sessions)"
        } + ["\(report.entries.count) shown, \(report.total) total"] + report.forwards.map {
            "forward \($0.proto) \($0.outside) \($0.inside) \($0.active ? "active" : "waiting: port in use") sessions=\($0.sessions)"
        })
    }
}
