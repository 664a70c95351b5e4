// What one interface announces (AdvertisementSettings) and the ICMPv6 Router Advertisement message built from
// it (RFC 4861 §4.2). The checksum is left zero: the kernel fills it in on raw ICMPv6 sockets (RFC 3542 §3.1).

import NAT64Translator

/// RA8 (RFC 4191 §2.2): the Default Router Preference, two bits of the RA header's flags byte.
public enum RouterPreference: String, Sendable, Equatable, CaseIterable {
    case low, medium, high

    /// The Prf bits: 01 high, 00 medium, 11 low (10 is reserved and never sent).
    public var bits: UInt8 {
        switch self {
        case .high: 0b01
        case .medium: 0b00
        case .low: 0b11
        }
    }
}

/// Everything one interface announces, and how often.
public struct AdvertisementSettings: Sendable, Equatable {
    /// MaxRtrAdvInterval in seconds, 4...1800 (RFC 4861 §6.2.1). Default 600.
    public var maxInterval: Int = 600
    /// MinRtrAdvInterval in seconds, 3...0.75 × maxInterval (RFC 4861 §6.2.1). nil: the default, 0.33 × max
    /// when max ≥ 9, else 0.75 × max (RFC 4861 erratum 3154).
    public var minInterval: Int?
    /// AdvDefaultLifetime in seconds: 0 (not a default router) or maxInterval...9000. nil: 3 × maxInterval.
    public var routerLifetime: Int?
    /// The default router preference (RFC 4191). Default medium.
    public var preference: RouterPreference = .medium
    /// AdvCurHopLimit, 0...255 (0: unspecified). Default 64.
    public var curHopLimit: UInt8 = 64
    /// The MTU option's value, or nil to leave the option out.
    public var mtu: UInt32?
    /// Prefix Information options (SLAAC); empty by default.
    public var prefixes: [PrefixInformation] = []
    /// RDNSS addresses (RFC 8106); the option is left out when empty.
    public var rdnss: [IPv6Address] = []
    /// RDNSS lifetime in seconds. nil: 3 × maxInterval (RFC 8106 §5.1).
    public var rdnssLifetime: Int?
    /// DNSSL domains (RFC 8106); the option is left out when empty.
    public var dnssl: [String] = []
    /// DNSSL lifetime in seconds. nil: 3 × maxInterval (RFC 8106 §5.2).
    public var dnsslLifetime: Int?
    /// The PREF64 prefix (RFC 8781), or nil to leave the option out.
    public var pref64: NAT64Prefix?
    /// PREF64 lifetime in seconds. nil: 3 × maxInterval (RFC 8781 §4.1), then scaled (`Pref64.scaledLifetime`).
    public var pref64Lifetime: Int?
    /// The interface's link-layer address for the Source Link-Layer Address option (RFC 4861 §4.2: SHOULD be
    /// included); set by the sender, not the configuration.
    public var sourceLinkLayerAddress: [UInt8]?

    /// RFC 4861 defaults with nothing announced but the default route.
    public init() {}

    /// MinRtrAdvInterval in seconds (the configured value or the default).
    public var effectiveMinInterval: Int {
        minInterval ?? (maxInterval >= 9 ? max(3, maxInterval * 33 / 100) : maxInterval * 3 / 4)
    }

    /// AdvDefaultLifetime in seconds.
    public var effectiveRouterLifetime: Int { routerLifetime ?? min(9000, 3 * maxInterval) }
    /// RDNSS lifetime in seconds.
    public var effectiveRDNSSLifetime: Int { rdnssLifetime ?? 3 * maxInterval }
    /// DNSSL lifetime in seconds.
    public var effectiveDNSSLLifetime: Int { dnsslLifetime ?? 3 * maxInterval }
    /// PREF64 lifetime in seconds, as announced (after scaling: a multiple of 8, at most 65528).
    public var effectivePref64Lifetime: Int {
        Int(Pref64.seconds(scaled: Pref64.scaledLifetime(UInt32(clamping: pref64Lifetime ?? 3 * maxInterval))))
    }
}

/// Builds Router Advertisement messages.
public enum RouterAdvertisementMessage {
    /// ICMPv6 type 134 (RFC 4861 §4.2).
    public static let icmpType: UInt8 = 134

    /// RA8: the ICMPv6 message for `settings`: header (type 134, code 0, checksum 0 for the kernel, cur hop
    /// limit, flags with the preference, router lifetime, reachable time 0, retrans timer 0), then SLLA, MTU,
    /// prefix information, RDNSS, DNSSL and PREF64 options.
    ///
    /// - Parameters:
    ///   - settings: what to announce.
    ///   - final: RA14 (RFC 4861 §6.2.5): the advertisement of an interface that stops advertising: router
    ///     lifetime 0, and the RDNSS, DNSSL and PREF64 lifetimes 0 so hosts drop them too.
    /// - Returns: the message, ready for a raw ICMPv6 socket.
    public static func build(_ settings: AdvertisementSettings, final: Bool = false) -> [UInt8] {
        // A non-default router (lifetime 0) sends preference medium (RFC 4191 §2.2).
        let lifetime = final ? 0 : UInt16(clamping: settings.effectiveRouterLifetime)
        let prf = lifetime == 0 ? RouterPreference.medium.bits : settings.preference.bits
        var out: [UInt8] = [icmpType, 0, 0, 0, settings.curHopLimit, prf << 3, UInt8(lifetime >> 8), UInt8(lifetime & 0xFF)]
        NDOption.append32(&out, 0)  // reachable time: unspecified
        NDOption.append32(&out, 0)  // retrans timer: unspecified
        if let mac = settings.sourceLinkLayerAddress, !mac.isEmpty { out += NDOption.sourceLinkLayerAddress(mac) }
        if let mtu = settings.mtu { out += NDOption.mtu(mtu) }
        for p in settings.prefixes { out += NDOption.prefixInformation(p) }
        let lifetimeOrZero = { (seconds: Int) in final ? 0 : UInt32(clamping: seconds) }
        if let o = NDOption.rdnss(settings.rdnss, lifetime: lifetimeOrZero(settings.effectiveRDNSSLifetime)) {
            out += o
        }
        if let o = NDOption.dnssl(settings.dnssl, lifetime: lifetimeOrZero(settings.effectiveDNSSLLifetime)) {
            out += o
        }
        if let p = settings.pref64 {
            out += NDOption.pref64(p, lifetime: lifetimeOrZero(settings.pref64Lifetime ?? 3 * settings.maxInterval))
        }
        return out
    }
}
