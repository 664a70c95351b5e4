// `nat64d ctl who ADDR:PORT [--at TIME] [--json]`: which IPv6 host held pool4 address ADDR and port
// PORT, answered from the live table (through the packet threads' mailbox) and from the mapping log files,
// current and rotated. TIME is UTC as the log writes it, or a prefix of it ("2026-12-01T14:03:22").
import Forwarding
import Foundation
import GatewayConfig
import NAT64Translator

/// One answer line of `who --json`.
struct WhoEntry: Codable, Equatable {
    /// "live" (the table now) or "log".
    var source: String
    /// "block", "bib" or "session"; live entries: "block" or "bib".
    var what: String
    var proto: String
    var ipv6: String
    var ipv6Port: UInt16
    var ipv4: String
    var firstPort: UInt16
    var lastPort: UInt16
    var from: String?
    var until: String?
    /// A live block in its hold time.
    var held: Bool?

    enum CodingKeys: String, CodingKey {
        case source, what, proto, ipv6, ipv6Port = "ipv6-port", ipv4, firstPort = "first-port"
        case lastPort = "last-port", from, until, held
    }
}

struct WhoReport: Codable, Equatable {
    var address: String
    var port: UInt16
    var at: String?
    var holders: [WhoEntry]
}

extension ControlCommands {
    static let whoUsage = "who ADDR:PORT [--at TIME] [--json]"

    func who(_ query: ControlRequest.Who?, json: Bool) -> ControlReply {
        guard let query else { return .failure(ControlError("who needs ADDR:PORT; " + Self.whoUsage)) }
        guard let address = IPv4Address(query.address), let port = UInt16(exactly: query.port) else {
            return .failure(ControlError("\"\(query.address):\(query.port)\" is not a pool4 ADDR:PORT such as "
                + "192.0.2.1:40312; " + Self.whoUsage))
        }
        let at = query.at
        var entries: [WhoEntry] = []
        if at == nil {
            guard let live = forwarder.who(address, port: port) else {
                return .failure(Self.noAnswer)
            }
            entries += live.map { h in
                WhoEntry(source: "live", what: h.proto == 0 ? "block" : "bib", proto: MappingLogFormat.protoWord(h.proto),
                         ipv6: "\(h.inside)", ipv6Port: h.insidePort, ipv4: "\(h.outside)", firstPort: h.outsidePort,
                         lastPort: h.outsidePort &+ (h.portCount &- 1), from: nil, until: nil, held: h.proto == 0 ? h.held : nil)
            }
        }
        if let settings = mappingLog {
            var lines: [Substring] = []
            for file in MappingLogWriter.files(settings) {
                guard let data = FileManager.default.contents(atPath: file) else { continue }
                lines += String(decoding: data, as: UTF8.self).split(separator: "\n")
            }
            entries += MappingLogFormat.holdings(in: lines, address: address, port: port, at: at).map { h in
                WhoEntry(source: "log", what: h.what, proto: h.proto, ipv6: "\(h.inside)", ipv6Port: h.insidePort,
                         ipv4: "\(h.outside)", firstPort: h.firstPort, lastPort: h.lastPort, from: h.from,
                         until: h.until, held: nil)
            }
        }
        let report = WhoReport(address: "\(address)", port: port, at: at, holders: entries)
        if json { return .json(report) }
        if entries.isEmpty { return .text(["nobody held \(address):\(port)" + (at.map { " at \($0)" } ?? "")]) }
        return .text(entries.map { e in
            let ports = e.firstPort == e.lastPort ? "\(e.firstPort)" : "\(e.firstPort)-\(e.lastPort)"
            return "\(e.source) \(e.what) \(e.proto) [\(e.ipv6)]:\(e.ipv6Port) \(e.ipv4):\(ports) "
                + "from=\(e.from ?? "-") until=\(e.until ?? (e.source == "live" ? "now" : "-"))"
                + (e.held == true ? " held" : "")
        })
    }
}

/// `ctl stats --json` "abuse": port blocks, policy refusals per rule, mapping log and IPFIX counters.
struct AbuseReport: Codable, Equatable {
    var portBlocksInUse: Int
    var portBlocksTotal: Int
    var portBlocksAssigned: UInt64
    var portBlocksReleased: UInt64
    var portBlocksExhausted: UInt64
    /// Refusals per `[policy]` rule, keyed by the rule's text.
    var policy: [String: UInt64]
    var mappingLog: MappingLogCounters?

    enum CodingKeys: String, CodingKey {
        case portBlocksInUse = "port-blocks-in-use", portBlocksTotal = "port-blocks-total"
        case portBlocksAssigned = "port-blocks-assigned", portBlocksReleased = "port-blocks-released"
        case portBlocksExhausted = "port-blocks-exhausted", policy, mappingLog = "mapping-log"
    }

    init(stats: ForwarderStats, ruleTexts: [String], mappingLog: MappingLogCounters?) {
        let b = stats.portBlocks
        portBlocksInUse = b.inUse
        portBlocksTotal = b.total
        portBlocksAssigned = b.assigned
        portBlocksReleased = b.released
        portBlocksExhausted = b.exhausted
        policy = Dictionary(zip(ruleTexts, stats.policyRefusals + Array(repeating: 0, count: max(0, ruleTexts.count - stats.policyRefusals.count))),
                            uniquingKeysWith: { a, b in a &+ b })
        self.mappingLog = mappingLog
    }
}

extension MetricsExporter {
    /// Port block and outbound policy metrics; none while both are off.
    static func abuseSamples(_ f: ForwarderStats) -> [Sample] {
        let b = f.portBlocks
        var list: [Sample] = []
        if b.total > 0 {
            list.append(Sample(kind: .gauge, name: "nat64d_port_blocks_in_use", labels: [], value: Int64(b.inUse),
                               help: "Port blocks (RFC 7422) held by IPv6 hosts, in use or in their hold time."))
            list.append(Sample(kind: .counter, name: "nat64d_port_blocks_assigned_total", labels: [],
                               value: Int64(clamping: b.assigned), help: "Port blocks handed to IPv6 hosts."))
            list.append(Sample(kind: .counter, name: "nat64d_port_blocks_exhausted_total", labels: [],
                               value: Int64(clamping: b.exhausted),
                               help: "New mappings refused because no further port block could be had."))
        }
        for (i, n) in f.policyRefusals.enumerated() {
            list.append(Sample(kind: .counter, name: "nat64d_policy_refusals_total", labels: [("rule", "\(i)")],
                               value: Int64(clamping: n), help: "New flows refused by each [policy] rule, in file order."))
        }
        return list
    }
}
