// The mapping log's line format, one event per line, fields separated by one space, so grep, awk
// and `nat64d ctl who` read it alike:
//
//   TIME EVENT PROTO [IPV6]:PORT IPV4:PORT[-LAST] PEER REASON
//   2026-12-01T14:03:22.120Z bib-add tcp [2001:db8:1::2]:51000 192.0.2.1:40312 - -
//   2026-12-01T14:03:22.120Z blk-add - [2001:db8:1::2]:0 192.0.2.1:40192-40319 - -
//   2026-12-01T14:05:01.004Z ses-del udp [2001:db8:1::2]:5353 192.0.2.1:2040 198.51.100.10:53 expired
//
// TIME is UTC with milliseconds, fixed width, so times compare as strings. PEER is "-" unless
// `[mapping-log] destination = true` (RFC 6888 §4). PROTO is "-" for a port block (all protocols).
import NAT64Translator
#if canImport(Glibc)
import Glibc
#endif

enum MappingLogFormat {
    static func protoWord(_ p: UInt8) -> String {
        switch p {
        case 0: "-"
        case IPProtocolNumber.tcp: "tcp"
        case IPProtocolNumber.udp: "udp"
        case IPProtocolNumber.icmp: "icmp"
        default: "proto-\(p)"
        }
    }

    /// Wall-clock nanoseconds since the epoch as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
    static func timestamp(_ wall: Int64) -> String {
        var seconds = time_t(wall / 1_000_000_000)
        var tm = tm()
        gmtime_r(&seconds, &tm)
        let ms = Int((wall % 1_000_000_000) / 1_000_000)
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        let msText = ms < 10 ? "00\(ms)" : ms < 100 ? "0\(ms)" : "\(ms)"
        return "\(tm.tm_year + 1900)-\(two(tm.tm_mon + 1))-\(two(tm.tm_mday))T\(two(tm.tm_hour)):\(two(tm.tm_min)):"
            + "\(two(tm.tm_sec)).\(msText)Z"
    }

    /// One line (with its newline) for `event`, which happened at wall-clock time `wall`.
    static func line(_ e: MappingEvent, wall: Int64, destination: Bool) -> String {
        let ports = e.portCount > 1 ? "\(e.outsidePort)-\(e.lastPort)" : "\(e.outsidePort)"
        let peer = destination && (e.kind == .sessionCreated || e.kind == .sessionDeleted)
            ? "\(e.remote):\(e.remotePort)" : "-"
        return "\(timestamp(wall)) \(e.kind.word) \(protoWord(e.proto)) [\(e.inside)]:\(e.insidePort) "
            + "\(e.outside):\(ports) \(peer) \(e.reason.word)\n"
    }

    /// A parsed line.
    struct Record: Equatable {
        var time: String
        var kind: MappingEvent.Kind
        var proto: String
        var inside: IPv6Address
        var insidePort: UInt16
        var outside: IPv4Address
        var firstPort: UInt16
        var lastPort: UInt16
    }

    /// Parses one line; nil for anything that is not a mapping log line.
    static func parse(_ line: Substring) -> Record? {
        let f = line.split(separator: " ", omittingEmptySubsequences: true)
        guard f.count >= 5, let kind = MappingEvent.Kind(word: f[1]) else { return nil }
        let inside = f[3]
        guard inside.hasPrefix("["), let close = inside.lastIndex(of: "]"),
              let v6 = IPv6Address(inside[inside.index(after: inside.startIndex)..<close]),
              inside[inside.index(after: close)...].hasPrefix(":"),
              let v6port = UInt16(inside[inside.index(after: close)...].dropFirst())
        else { return nil }
        let outside = f[4].split(separator: ":", maxSplits: 1)
        guard outside.count == 2, let v4 = IPv4Address(outside[0]) else { return nil }
        let range = outside[1].split(separator: "-", maxSplits: 1)
        guard let first = UInt16(range[0]), let last = range.count == 2 ? UInt16(range[1]) : first else { return nil }
        return Record(time: String(f[0]), kind: kind, proto: String(f[2]), inside: v6, insidePort: v6port,
                      outside: v4, firstPort: first, lastPort: last)
    }

    /// One holding found in the log: from its creation to its deletion (nil while not deleted in the files read).
    struct Holding: Equatable {
        var what: String  // "block", "bib" or "session"
        var proto: String
        var inside: IPv6Address
        var insidePort: UInt16
        var outside: IPv4Address
        var firstPort: UInt16
        var lastPort: UInt16
        var from: String?
        var until: String?
    }

    /// The holdings of `address`:`port` in `lines` (oldest first), kept when they overlap `at` (a timestamp or
    /// a prefix of one, such as "2026-12-01T14:03:22"); all of them when `at` is nil.
    static func holdings(in lines: [Substring], address: IPv4Address, port: UInt16, at: String?) -> [Holding] {
        var open: [String: Int] = [:]
        var out: [Holding] = []
        for line in lines {
            guard let r = parse(line), r.outside == address, r.firstPort <= port, port <= r.lastPort else { continue }
            let what = switch r.kind {
            case .blockAssigned, .blockReleased: "block"
            case .bibCreated, .bibDeleted: "bib"
            case .sessionCreated, .sessionDeleted: "session"
            }
            let key = "\(what) \(r.proto) \(r.inside) \(r.insidePort) \(r.firstPort)"
            if r.kind.isDeletion {
                if let i = open.removeValue(forKey: key) {
                    out[i].until = r.time
                } else {  // created before the oldest file kept
                    out.append(Holding(what: what, proto: r.proto, inside: r.inside, insidePort: r.insidePort,
                                       outside: r.outside, firstPort: r.firstPort, lastPort: r.lastPort, from: nil,
                                       until: r.time))
                }
            } else {
                open[key] = out.count
                out.append(Holding(what: what, proto: r.proto, inside: r.inside, insidePort: r.insidePort,
                                   outside: r.outside, firstPort: r.firstPort, lastPort: r.lastPort, from: r.time,
                                   until: nil))
            }
        }
        guard let at else { return out }
        // "~" sorts after every character of a timestamp: "…:22~" is the end of that second.
        return out.filter { h in (h.from.map { $0 <= at + "~" } ?? true) && (h.until.map { $0 >= at } ?? true) }
    }
}
