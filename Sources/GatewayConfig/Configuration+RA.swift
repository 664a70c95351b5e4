// The `[ra.IFNAME]` sections: router advertisements nat64d sends on a LAN interface (default route, MTU,
// optional prefix information, RDNSS/DNSSL per RFC 8106, PREF64 per RFC 8781). Off unless a section exists.

import NAT64Translator
import RouterAdvertisement

extension GatewayConfiguration {
    /// One `[ra.IFNAME]` section.
    public struct RAInterface: Sendable, Equatable {
        /// The interface (the section's IFNAME).
        public var name: String
        /// What it announces. `settings.rdnss` is empty when `rdnssFromDNS64` is set: the daemon fills it in.
        public var settings: AdvertisementSettings
        /// Key `rdnss` absent: announce the `[dns64]` listen addresses that lie on this interface's link.
        public var rdnssFromDNS64: Bool
    }
}

extension ConfigReader {
    // MARK: [ra.IFNAME]

    /// The keys of a `[ra.IFNAME]` section, in the order the sample lists them.
    static let raKeys = ["max-interval", "min-interval", "router-lifetime", "router-preference", "hop-limit", "mtu",
                         "prefix-information", "prefix-valid-lifetime", "prefix-preferred-lifetime", "rdnss",
                         "rdnss-lifetime", "dnssl", "dnssl-lifetime", "pref64", "pref64-lifetime"]

    /// Most entries of each list key, so one advertisement stays well inside a 1280-byte link.
    static let raMaxListEntries = 8

    /// Every `[ra.IFNAME]` section; nil when any is invalid (reported).
    mutating func readRA(tunName: String?, translatorPrefix: NAT64Prefix?) -> [GatewayConfiguration.RAInterface]? {
        guard let entry = root["ra"] else { return [] }
        guard case .table(let table) = entry.value.kind else {
            fail(entry.line, .wrongType, "`ra` must be sections, but it is \(entry.value.typeDescription); write a "
                + "[ra.IFNAME] header per LAN interface, e.g. [ra.eth1]")
            return nil
        }
        var out: [GatewayConfiguration.RAInterface] = []
        var ok = true
        for item in table.entries {
            let name = "ra.\(item.key)"
            guard case .table(let body) = item.value.kind else {
                fail(item.line, .wrongType, "\(name) must be a section; write [\(name)] on a line of its own, or use "
                    + "[ra.IFNAME] with the interface's name, e.g. [ra.eth1]")
                ok = false
                continue
            }
            if case .failure(let problem) = Self.interfaceName(item.key) {
                fail(item.line, .invalidValue, "[\(name)]: interface name \(Self.quoted(item.key)) \(problem.text)")
                ok = false
                continue
            }
            if item.key == tunName {
                fail(item.line, .conflict, "[\(name)] names the translator's TUN device; advertise on the LAN "
                    + "interface the IPv6 hosts are on, e.g. [ra.eth1]")
                ok = false
                continue
            }
            let s = Section(name: name, table: body)
            for key in body.entries where !Self.raKeys.contains(key.key) {
                fail(key.line, .unknownKey, "unknown key `\(name).\(key.key)`" + Self.hint(key.key, Self.raKeys, "keys in [\(name)]"))
                ok = false
            }
            guard let settings = readRASettings(s, translatorPrefix: translatorPrefix) else {
                ok = false
                continue
            }
            out.append(.init(name: item.key, settings: settings, rdnssFromDNS64: s["rdnss"] == nil))
        }
        return ok ? out : nil
    }

    private mutating func readRASettings(_ s: Section, translatorPrefix: NAT64Prefix?) -> AdvertisementSettings? {
        var settings = AdvertisementSettings()
        let seconds = { (range: ClosedRange<Int>, reason: String) in
            IntegerRule(range: range, unit: " seconds", reason: reason)
        }
        let maxInterval = integer(s, "max-interval", default: settings.maxInterval,
                                  seconds(4...1800, " (RFC 4861 §6.2.1 MaxRtrAdvInterval)"))
        guard let maxInterval else { return nil }
        settings.maxInterval = maxInterval
        let minCap = maxInterval * 3 / 4
        let minInterval = integer(s, "min-interval", default: settings.effectiveMinInterval,
                                  seconds(3...minCap, " (RFC 4861 §6.2.1: 3 s to 0.75 × max-interval = \(minCap) s)"))
        let routerLifetime = integer(s, "router-lifetime", default: settings.effectiveRouterLifetime,
                                     seconds(0...9000, " (RFC 4861 §6.2.1 AdvDefaultLifetime)"))
        if let routerLifetime, routerLifetime != 0, routerLifetime < maxInterval {
            fail(s["router-lifetime"]?.line ?? s.line, .conflict, "\(s.path("router-lifetime")) = \(routerLifetime) "
                + "is below max-interval = \(maxInterval): hosts would lose the default route between two "
                + "advertisements; use 0 (not a default router) or at least \(maxInterval) (RFC 4861 §6.2.1)")
            return nil
        }
        var preference: RouterPreference? = .medium
        if let text = string(s, "router-preference", example: "\"medium\"") {
            preference = convert(text, label: s.path("router-preference")) { (v: String) -> Result<RouterPreference, Problem> in
                RouterPreference(rawValue: v).map { .success($0) } ?? .failure(Problem("is not low, medium or high (RFC 4191)"))
            }
        }
        let hopLimit = integer(s, "hop-limit", default: Int(settings.curHopLimit),
                               IntegerRule(range: 0...255, reason: " (0: unspecified, RFC 4861 §4.2)"))
        let mtu = integer(s, "mtu", default: 0, IntegerRule(
            range: 0...65535, unit: " bytes", reason: " (0 leaves the MTU option out)"))
        if let mtu, mtu != 0, mtu < 1280 {
            fail(s["mtu"]?.line ?? s.line, .invalidValue, "\(s.path("mtu")) = \(mtu) is below the IPv6 minimum; use "
                + "0 (no MTU option) or 1280 to 65535 (RFC 8200 §5)")
            return nil
        }
        let prefixes = readRAPrefixes(s)
        func lifetime(_ key: String, _ range: ClosedRange<Int>) -> Int?? {
            guard s[key] != nil else { return .some(nil) }
            return integer(s, key, default: 0, seconds(range, "")).map { .some($0) }
        }
        let rdnssLifetime = lifetime("rdnss-lifetime", 0...Int(UInt32.max))
        let dnsslLifetime = lifetime("dnssl-lifetime", 0...Int(UInt32.max))
        let pref64Lifetime = lifetime("pref64-lifetime", 0...65528)
        var rdnss: [IPv6Address]? = []
        if let texts = strings(s, "rdnss", example: "[\"2001:db8:1::1\"]") {
            rdnss = convertAll(texts, label: s.path("rdnss"), ConfigReader.gatewayIPv6)?.map(\.value)
            if texts.count > Self.raMaxListEntries { rdnss = tooMany(s, "rdnss") }
        } else if s["rdnss"] != nil {
            rdnss = nil
        }
        var dnssl: [String]? = []
        if let texts = strings(s, "dnssl", example: "[\"example.com\"]") {
            dnssl = convertAll(texts, label: s.path("dnssl")) { (v: String) -> Result<String, Problem> in
                DomainName.wire(v) != nil ? .success(v) : .failure(Problem(
                    "is not a domain name; write labels of letters, digits and - separated by dots, e.g. \"example.com\""))
            }?.map(\.value)
            if texts.count > Self.raMaxListEntries { dnssl = tooMany(s, "dnssl") }
        } else if s["dnssl"] != nil {
            dnssl = nil
        }
        var pref64: NAT64Prefix?? = .some(translatorPrefix)
        if let text = string(s, "pref64", example: "\"64:ff9b::/96\"") {
            pref64 = text.value == "off" ? .some(nil)
                : convert(text, label: s.path("pref64"), AddressText.nat64Prefix).map { .some($0) }
        } else if s["pref64"] != nil {
            pref64 = nil
        }
        guard let minInterval, let routerLifetime, let preference, let hopLimit, let mtu, let prefixes,
              let rdnssLifetime, let dnsslLifetime, let pref64Lifetime, let rdnss, let dnssl, let pref64
        else { return nil }
        // A lifetime shorter than the interval lets the option expire between two advertisements.
        for (key, value) in [("rdnss-lifetime", rdnssLifetime), ("dnssl-lifetime", dnsslLifetime),
                             ("pref64-lifetime", pref64Lifetime)] {
            if let value, value != 0, value < maxInterval {
                fail(s[key]?.line ?? s.line, .conflict, "\(s.path(key)) = \(value) is below max-interval = "
                    + "\(maxInterval), so hosts would drop the option between two advertisements; use at least "
                    + "\(maxInterval), or leave it out for 3 × max-interval (RFC 8106 §5.1, RFC 8781 §4.1)")
                return nil
            }
        }
        settings.minInterval = minInterval
        settings.routerLifetime = routerLifetime
        settings.preference = preference
        settings.curHopLimit = UInt8(hopLimit)
        settings.mtu = mtu == 0 ? nil : UInt32(mtu)
        settings.prefixes = prefixes
        settings.rdnss = rdnss
        settings.rdnssLifetime = rdnssLifetime
        settings.dnssl = dnssl
        settings.dnsslLifetime = dnsslLifetime
        settings.pref64 = pref64
        settings.pref64Lifetime = pref64Lifetime
        // RFC 6980 §5: hosts drop fragmented ND messages, so the largest advertisement (with a link-layer
        // address and, by default, up to 8 DNS64 addresses) must fit one 1280-byte packet.
        var largest = settings
        largest.sourceLinkLayerAddress = [UInt8](repeating: 0, count: 6)
        if s["rdnss"] == nil { largest.rdnss = Array(repeating: .unspecified, count: Self.raMaxListEntries) }
        // A DNSSL option too long for its 8-bit length (over 2040 bytes) is left out of the message: count it.
        let unencodable = !dnssl.isEmpty && NDOption.dnssl(dnssl, lifetime: 0) == nil
        let size = RouterAdvertisementMessage.build(largest).count + (unencodable ? 2048 : 0)
        if size > Self.raMaxMessageSize {
            fail(s.line, .invalidValue, "[\(s.name)] would send advertisements of up to \(size) bytes, more than "
                + "the \(Self.raMaxMessageSize) that fit one 1280-byte packet (hosts drop fragmented ones, RFC 6980 §5); "
                + "list fewer dnssl names, prefixes or rdnss addresses")
            return nil
        }
        return settings
    }

    /// The largest ICMPv6 message that fits the IPv6 minimum MTU: 1280 minus the 40-byte IPv6 header.
    static let raMaxMessageSize = 1240

    private mutating func tooMany<T>(_ s: Section, _ key: String) -> T? {
        fail(s[key]?.line ?? s.line, .invalidValue, "\(s.path(key)) lists more than \(Self.raMaxListEntries) "
            + "entries; keep the \(Self.raMaxListEntries) that matter, hosts use only the first few")
        return nil
    }

    /// `prefix-information`: /64 prefixes for SLAAC, with the lifetime keys.
    private mutating func readRAPrefixes(_ s: Section) -> [PrefixInformation]? {
        let valid = integer(s, "prefix-valid-lifetime", default: 2_592_000, IntegerRule(
            range: 0...Int(UInt32.max), unit: " seconds", reason: " (RFC 4861 §6.2.1 AdvValidLifetime)"))
        let preferred = integer(s, "prefix-preferred-lifetime", default: 604_800, IntegerRule(
            range: 0...Int(UInt32.max), unit: " seconds", reason: " (RFC 4861 §6.2.1 AdvPreferredLifetime)"))
        guard let valid, let preferred else { return nil }
        if preferred > valid {
            fail(s["prefix-preferred-lifetime"]?.line ?? s.line, .conflict, "\(s.path("prefix-preferred-lifetime")) "
                + "= \(preferred) is above prefix-valid-lifetime = \(valid); hosts ignore such a prefix "
                + "(RFC 4862 §5.5.3), make it at most \(valid)")
            return nil
        }
        guard let texts = strings(s, "prefix-information", example: "[\"2001:db8:1::/64\"]") else {
            return s["prefix-information"] == nil ? [] : nil
        }
        if texts.count > Self.raMaxListEntries { return tooMany(s, "prefix-information") }
        let prefixes = convertAll(texts, label: s.path("prefix-information")) { (v: String) -> Result<IPv6Prefix, Problem> in
            AddressText.ipv6Prefix(v).flatMap { p in
                guard p.length == 64 else {
                    return .failure(Problem("is a /\(p.length); SLAAC needs a /64 (RFC 4862 §5.5.3), e.g. \"2001:db8:1::/64\""))
                }
                guard p.address.byte(0) != 0xFF, !(p.address.byte(0) == 0xFE && p.address.byte(1) & 0xC0 == 0x80) else {
                    return .failure(Problem("is multicast or link-local; announce a global or ULA /64"))
                }
                return .success(p)
            }
        }
        return prefixes?.map {
            var info = PrefixInformation(prefix: $0.value)
            info.validLifetime = UInt32(valid)
            info.preferredLifetime = UInt32(preferred)
            return info
        }
    }
}
