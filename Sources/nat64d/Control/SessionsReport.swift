// `ctl sessions [--json] [--proto tcp|udp|icmp] [--ipv6 ADDR[/LEN]] [--ipv4 ADDR] [--port N] [--limit N]`:
// the session table, filtered, with the remote endpoint, the TCP state, age, idle time and time left. The
// table is walked in bounded slices by the packet threads (ForwardingGroup.bindings), so a dump never stalls
// the packet path for long; every queue shares one table, so what two queues report twice is listed once.
import Forwarding
import FoundationEssentials
import NAT64Translator

/// One session, as `ctl sessions --json` lists it.
struct SessionReport: Codable, Equatable {
    var proto: String
    var ipv6: String
    var ipv6Port: Int
    var ipv4: String
    var ipv4Port: Int
    var remote: String
    var remotePort: Int
    var tcpState: String?
    var ageSeconds: Int
    var idleSeconds: Int
    var expiresInSeconds: Int

    enum CodingKeys: String, CodingKey {
        case proto, ipv6, ipv6Port = "ipv6-port", ipv4, ipv4Port = "ipv4-port", remote, remotePort = "remote-port"
        case tcpState = "tcp-state", ageSeconds = "age-s", idleSeconds = "idle-s", expiresInSeconds = "expires-in-s"
    }

    init(_ b: Binding, now: Nanoseconds) {
        proto = SessionFilter.protoName(b.inside.proto)
        ipv6 = "\(b.inside.address)"
        ipv6Port = Int(b.inside.port)
        ipv4 = "\(b.outside.address)"
        ipv4Port = Int(b.outside.port)
        remote = "\(b.remote.address)"
        remotePort = Int(b.remote.port)
        tcpState = b.tcpState.map { "\($0)" }
        ageSeconds = Int(max(0, now - b.created) / 1_000_000_000)
        idleSeconds = Int(max(0, now - b.lastUsed) / 1_000_000_000)
        expiresInSeconds = Int(max(0, b.expires - now) / 1_000_000_000)
    }
}

/// The whole answer: the sessions shown, how many matched, and how many the table holds.
struct SessionsReport: Codable, Equatable {
    var sessions: [SessionReport]
    var matched: Int
    var total: Int
}

/// The filters of `ctl sessions`.
struct SessionFilter: Equatable {
    var proto: UInt8?
    var ipv6: IPv6Prefix?
    var ipv4: IPv4Address?
    var port: UInt16?
    var limit = 1000

    static func protoName(_ p: UInt8) -> String {
        switch p {
        case IPProtocolNumber.tcp: "tcp"
        case IPProtocolNumber.udp: "udp"
        case IPProtocolNumber.icmp, IPProtocolNumber.icmpv6: "icmp"
        default: "proto-\(p)"
        }
    }

    /// The filters of a request, checked.
    static func parse(_ q: ControlRequest.Sessions) -> Result<SessionFilter, ControlError> {
        var f = SessionFilter()
        switch q.proto {
        case nil: break
        case "tcp"?: f.proto = IPProtocolNumber.tcp
        case "udp"?: f.proto = IPProtocolNumber.udp
        case "icmp"?: f.proto = IPProtocolNumber.icmp
        case let value?: return .failure(ControlError("--proto \"\(value)\" must be tcp, udp or icmp"))
        }
        if let value = q.ipv6 {
            guard let p = IPv6Prefix(value.contains("/") ? value : value + "/128") else {
                return .failure(ControlError("--ipv6 \"\(value)\" is not an IPv6 address or prefix (ADDR[/LEN])"))
            }
            f.ipv6 = p
        }
        if let value = q.ipv4 {
            guard let a = IPv4Address(value) else { return .failure(ControlError("--ipv4 \"\(value)\" is not an IPv4 address")) }
            f.ipv4 = a
        }
        if let value = q.port {
            guard let p = UInt16(exactly: value) else { return .failure(ControlError("--port \(value) must be 0 to 65535")) }
            f.port = p
        }
        if let n = q.limit {
            guard (1...1_000_000).contains(n) else {
                return .failure(ControlError("--limit \(n) must be a number from 1 to 1000000"))
            }
            f.limit = n
        }
        return .success(f)
    }

    /// True when no filter is set (plain `ctl sessions` keeps its short one-line-per-mapping form).
    var isEmpty: Bool { proto == nil && ipv6 == nil && ipv4 == nil && port == nil }

    /// True when `b` passes every filter (`--ipv4` matches the pool4 or the remote address, `--port` any port).
    func matches(_ b: Binding) -> Bool {
        if let proto {
            let p = b.inside.proto == IPProtocolNumber.icmpv6 ? IPProtocolNumber.icmp : b.inside.proto
            if p != proto { return false }
        }
        if let ipv6, !ipv6.contains(b.inside.address) { return false }
        if let ipv4, b.outside.address != ipv4 && b.remote.address != ipv4 { return false }
        if let port, b.inside.port != port && b.outside.port != port && b.remote.port != port { return false }
        return true
    }

    /// The report for `bindings` (duplicates from several queues sharing the table dropped), sorted.
    func report(_ bindings: [Binding], now: Nanoseconds) -> SessionsReport {
        var seen = Set<SessionKey>()
        let unique = bindings.filter { seen.insert(SessionKey($0)).inserted }
        let matching = unique.filter(matches).sorted {
            ($0.inside.proto, $0.inside.address, $0.inside.port, $0.remote.address, $0.remote.port)
                < ($1.inside.proto, $1.inside.address, $1.inside.port, $1.remote.address, $1.remote.port)
        }
        return SessionsReport(sessions: matching.prefix(limit).map { SessionReport($0, now: now) },
                              matched: matching.count, total: unique.count)
    }
}

/// What makes a session unique: its 5-tuple on the IPv6 side.
private struct SessionKey: Hashable {
    var inside: Endpoint6
    var remote: Endpoint4
    init(_ b: Binding) {
        inside = b.inside
        remote = b.remote
    }
}

extension ControlCommands {
    func sessions(_ query: ControlRequest.Sessions, json: Bool) -> ControlReply {
        let filter: SessionFilter
        switch SessionFilter.parse(query) {
        case .success(let f): filter = f
        case .failure(let error): return .failure(error)
        }
        guard let reply = forwarder.bindings() else { return .failure(Self.noAnswer) }
        if !json && filter.isEmpty && query.limit == nil {
            return .text(reply.bindings.sorted {
                ($0.inside.proto, $0.inside.address, $0.inside.port) < ($1.inside.proto, $1.inside.address, $1.inside.port)
            }.map { Self.describe($0, now: reply.now) })
        }
        let report = filter.report(reply.bindings, now: reply.now)
        if json { return .json(report) }
        let lines = report.sessions.map { s in
            "\(s.proto) [\(s.ipv6)]:\(s.ipv6Port) \(s.ipv4):\(s.ipv4Port) -> \(s.remote):\(s.remotePort)"
                + (s.tcpState.map { " \($0)" } ?? "") + " age=\(s.ageSeconds)s idle=\(s.idleSeconds)s"
        }
        return .text(lines + ["\(report.sessions.count) shown, \(report.matched) matched, \(report.total) total"])
    }
}
