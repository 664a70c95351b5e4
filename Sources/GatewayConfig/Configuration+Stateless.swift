// The stateless translation keys of `[translator]` (conformance F1, F7, F14, E1): `mode = "siit"`, where pool4
// has no use, EAM entries of any length and `map` lines become /128 ↔ /32 EAM entries (as in tayga.conf); and
// the RFC 7915 options and RFC 6791 pools, which every mode honours.

import NAT64Translator

extension GatewayConfiguration.Translator {
    /// `siit` mode: no state; `map` entries join the EAM table as single-address entries.
    var statelessStateConfiguration: StateConfiguration {
        let maps = staticMappings.compactMap { m in
            EAMEntry(inside: IPv6Prefix(m.inside, length: 128), outside: IPv4Prefix(m.outside, length: 32))
        }
        return StateConfiguration(mode: .siit, eam: eam + maps)
    }

    /// The IPv6 routes into the TUN: the prefix, or for a CLAT the IPv6 side of its map and EAM entries (the
    /// prefix is the provider's, reached through the uplink).
    public var tunIPv6Routes: [IPv6Prefix] {
        clat ? staticMappings.map { IPv6Prefix($0.inside, length: 128) } + eam.map(\.inside) : [prefix.prefix]
    }
}

extension ConfigReader {
    /// `traffic-class`, `udp-zero-checksum`, `rfc6791-pool4`, `rfc6791-pool6`.
    mutating func readStatelessKeys(_ s: Section, mode: TranslationMode?) -> StatelessOptions? {
        var options = StatelessOptions()
        var ok = true
        func word<T: RawRepresentable & CaseIterable>(_ key: String, _ fallback: T) -> T? where T.RawValue == String {
            guard let text = string(s, key, example: "\"\(fallback.rawValue)\"") else { return s[key] == nil ? fallback : nil }
            let names = T.allCases.map(\.rawValue)
            return convert(text, label: s.path(key)) { (v: String) -> Result<T, Problem> in
                T(rawValue: v).map { .success($0) } ?? .failure(Problem("is not one of " + names.joined(separator: ", ")))
            }
        }
        if let v = word("traffic-class", TrafficClassPolicy.copy) { options.trafficClass = v } else { ok = false }
        if let v = word("udp-zero-checksum", ZeroChecksumPolicy.compute) { options.udpZeroChecksum = v } else { ok = false }
        if let text = string(s, "rfc6791-pool4", example: "\"192.0.2.128/28\"") {
            let pool = convert(text, label: s.path("rfc6791-pool4")) { (t: String) -> Result<IPv4Prefix, Problem> in
                AddressText.ipv4Prefix(t).flatMap { p in
                    p.length >= 16 ? .success(p)
                        : .failure(Problem("is too wide (/\(p.length)); use a /16 or longer, e.g. \"192.0.2.128/28\""))
                }
            }
            if let pool { options.rfc6791Pool4 = pool } else { ok = false }
        }
        if let text = string(s, "rfc6791-pool6", example: "\"2001:db8:ffff::/96\"") {
            let pool = convert(text, label: s.path("rfc6791-pool6"), AddressText.ipv6Prefix)
            if let pool { options.rfc6791Pool6 = pool } else { ok = false }
        }
        return ok ? options : nil
    }

    /// `clat`: only in mode siit, where it changes which IPv6 routes point into the TUN.
    mutating func readCLAT(_ s: Section, mode: TranslationMode?) -> Bool? {
        guard let clat = boolean(s, "clat", default: false) else { return nil }
        if clat, let mode, mode != .siit, let entry = s["clat"] {
            fail(entry.line, .conflict, "translator.clat = true needs mode = \"siit\" (a CLAT is a stateless translator, "
                + "RFC 6877); set mode = \"siit\" or remove clat")
            return nil
        }
        return clat
    }

    /// `siit` mode: pool4 is optional and must be empty (the translator owns no addresses; EAM entries and the
    /// prefix say what maps where).
    mutating func readSIITPool4(_ s: Section) -> [Located<(prefix: IPv4Prefix, ports: ClosedRange<UInt16>)>]? {
        if let entry = s["pool4"], let texts = strings(s, "pool4", example: "[]"), !texts.isEmpty {
            fail(entry.line, .conflict, "translator.pool4 has no use in siit mode (no state, no shared addresses); "
                + "remove it and publish IPv6 hosts with translator.eam entries, e.g. eam = [\"2001:db8:2::/120 203.0.113.0/24\"]")
            return nil
        }
        return []
    }

    /// The stateful modes keep every EAM address in a set: at most 16 host bits per entry.
    mutating func checkStatefulEAM(_ entries: [Located<EAMEntry>]) -> Bool {
        for entry in entries where 32 - entry.value.outside.length > 16 {
            fail(entry.line, .invalidValue, "translator.eam entry \(entry.value.inside) \(entry.value.outside) has "
                + "\(32 - entry.value.outside.length) host bits; napt and pool modes take at most 16 (e.g. /112 with /16), "
                + "siit mode takes any length")
            return false
        }
        return true
    }
}
