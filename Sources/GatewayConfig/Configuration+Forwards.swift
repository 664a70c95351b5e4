// `translator.forward`: port forwards by translation (static BIB entries, conformance S13). An IPv4 client's
// connection to a pool4 port is translated to an IPv6 host's port, so the host sees the client's own address
// (under the NAT64 prefix) instead of a proxy's. Live: a reload adds and removes forwards.

import NAT64Translator

extension ConfigReader {
    /// The forward key of `[translator]`.
    static let forwardTranslatorKeys = ["forward"]

    /// Reads and checks `translator.forward` against the translator's mode, pool4, prefix, maps and EAM.
    mutating func readForwards(_ s: Section, translator: GatewayConfiguration.Translator) -> [PortForward]? {
        guard let texts = strings(s, "forward", example: "[\"tcp 192.0.2.1:2222 [2001:db8:a::10]:22\"]") else {
            return s["forward"] == nil ? [] : nil
        }
        guard let located = convertAll(texts, label: s.path("forward"), Self.portForward) else { return nil }
        if !located.isEmpty && translator.mode != .napt {
            fail(located[0].line, .conflict, "translator.forward needs mode = \"napt\" (it binds ports of shared pool4 "
                + "addresses); in mode \"\(translator.mode.rawValue)\" give the host its own address with map instead")
            return nil
        }
        if located.count > PortForward.maximumCount {
            fail(located[PortForward.maximumCount].line, .invalidValue, "translator.forward has \(located.count) entries; "
                + "at most \(PortForward.maximumCount) are allowed")
            return nil
        }
        let pool = Set(translator.pool4Addresses)
        var ok = true
        for (i, entry) in located.enumerated() {
            let f = entry.value
            let text = Self.quoted(texts[i].value)
            if !pool.contains(f.outside.address) {
                fail(entry.line, .conflict, "translator.forward entry \(text): \(f.outside.address) is not a pool4 "
                    + "address; forward a port of an address listed in translator.pool4 (the translator owns only those)")
                ok = false
            } else if translator.prefix.prefix.contains(f.inside.address) {
                fail(entry.line, .conflict, "translator.forward entry \(text): [\(f.inside.address)] is inside "
                    + "translator.prefix \(translator.prefix); forward to an IPv6 host's own address")
                ok = false
            } else if translator.staticMappings.contains(where: { $0.inside == f.inside.address })
                        || translator.eam.contains(where: { $0.inside.contains(f.inside.address) }) {
                fail(entry.line, .conflict, "translator.forward entry \(text): [\(f.inside.address)] has its own IPv4 "
                    + "address through translator.map or translator.eam, where every port is reachable already; "
                    + "remove the forward")
                ok = false
            } else if let earlier = located[..<i].first(where: { $0.value.proto == f.proto
                                                                   && $0.value.outside == f.outside }) {
                fail(entry.line, .conflict, "translator.forward entry \(text) forwards the same \(Self.protoWord(f.proto)) "
                    + "port \(f.outside.address):\(f.outside.port) as the entry on line \(earlier.line); keep one")
                ok = false
            } else if let earlier = located[..<i].first(where: { $0.value.proto == f.proto
                                                                   && $0.value.inside == f.inside }) {
                fail(entry.line, .conflict, "translator.forward entry \(text) reaches the same \(Self.protoWord(f.proto)) "
                    + "port [\(f.inside.address)]:\(f.inside.port) as the entry on line \(earlier.line); one IPv6 port "
                    + "has one pool4 port (RFC 6146 endpoint-independent mapping), so keep one")
                ok = false
            }
        }
        return ok ? located.map(\.value) : nil
    }

    private static func protoWord(_ proto: UInt8) -> String { proto == IPProtocolNumber.udp ? "UDP" : "TCP" }

    /// A `forward` entry: `"PROTO IPV4:PORT [IPV6]:PORT"`, PROTO `tcp` or `udp`.
    static func portForward(_ text: String) -> Result<PortForward, Problem> {
        let parts = text.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        let example = "write e.g. \"tcp 192.0.2.1:2222 [2001:db8:a::10]:22\""
        guard parts.count == 3 else { return .failure(Problem("is not \"PROTO IPV4:PORT [IPV6]:PORT\"; \(example)")) }
        let proto: UInt8
        switch parts[0].lowercased() {
        case "tcp": proto = IPProtocolNumber.tcp
        case "udp": proto = IPProtocolNumber.udp
        default: return .failure(Problem("has protocol `\(parts[0])`; use tcp or udp"))
        }
        func port(_ text: String, _ side: String) -> Result<GatewayConfiguration.Endpoint, Problem> {
            let hasPort = text.hasPrefix("[") ? text.contains("]:") : text.contains(":")
            guard hasPort else { return .failure(Problem("has no port on its \(side) side; \(example)")) }
            return AddressText.endpoint(text)
        }
        let outside: GatewayConfiguration.Endpoint
        let inside: GatewayConfiguration.Endpoint
        switch port(parts[1], "IPv4") {
        case .success(let e): outside = e
        case .failure(let p): return .failure(p)
        }
        switch port(parts[2], "IPv6") {
        case .success(let e): inside = e
        case .failure(let p): return .failure(p)
        }
        guard case .v4(let v4) = outside.host else {
            return .failure(Problem("has an IPv6 address first; the pool4 (IPv4) endpoint comes first, then the "
                + "IPv6 host's; \(example)"))
        }
        guard case .v6(let v6) = inside.host else {
            return .failure(Problem("has an IPv4 address second; the IPv6 host's endpoint comes second, in "
                + "brackets; \(example)"))
        }
        return .success(PortForward(proto: proto, outside: Endpoint4(address: v4, port: UInt16(outside.port), proto: proto),
                                    inside: Endpoint6(address: v6, port: UInt16(inside.port), proto: proto)))
    }
}
