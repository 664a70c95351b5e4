// Neighbor Discovery options a router advertisement carries, as bytes: every encoder returns one whole option
// (type, length in units of 8 octets, body), padded to a multiple of 8 octets. Pure: no I/O, no clock.

import NAT64Translator

/// The ND option types nat64d writes or reads (IANA "IPv6 Neighbor Discovery Option Formats").
public enum NDOptionType {
    /// Source Link-Layer Address (RFC 4861 §4.6.1).
    public static let sourceLinkLayerAddress: UInt8 = 1
    /// Prefix Information (RFC 4861 §4.6.2).
    public static let prefixInformation: UInt8 = 3
    /// MTU (RFC 4861 §4.6.4).
    public static let mtu: UInt8 = 5
    /// Recursive DNS Server (RFC 8106 §5.1).
    public static let rdnss: UInt8 = 25
    /// DNS Search List (RFC 8106 §5.2).
    public static let dnssl: UInt8 = 31
    /// PREF64, the NAT64 prefix (RFC 8781 §4).
    public static let pref64: UInt8 = 38
}

/// Encoders of single ND options.
public enum NDOption {
    /// RA1 (RFC 4861 §4.6.1): type 1, length 1 for a 6-byte Ethernet address.
    public static func sourceLinkLayerAddress(_ mac: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [NDOptionType.sourceLinkLayerAddress, 0] + mac
        pad(&out)
        return out
    }

    /// RA2 (RFC 4861 §4.6.4): type 5, length 1, 16 reserved bits, the 32-bit MTU.
    public static func mtu(_ mtu: UInt32) -> [UInt8] {
        var out: [UInt8] = [NDOptionType.mtu, 1, 0, 0]
        append32(&out, mtu)
        return out
    }

    /// RA3 (RFC 4861 §4.6.2): type 3, length 4, prefix length, L and A flags, valid and preferred lifetimes,
    /// 32 reserved bits, the 128-bit prefix (host bits cleared).
    public static func prefixInformation(_ p: PrefixInformation) -> [UInt8] {
        var out: [UInt8] = [NDOptionType.prefixInformation, 4, UInt8(p.prefix.length),
                            (p.onLink ? 0x80 : 0) | (p.autonomous ? 0x40 : 0)]
        append32(&out, p.validLifetime)
        append32(&out, p.preferredLifetime)
        append32(&out, 0)
        out += p.prefix.address.masked(to: p.prefix.length).byteArray
        return out
    }

    /// RA4 (RFC 8106 §5.1): type 25, length 1 + 2 per address, 16 reserved bits, 32-bit lifetime, the addresses.
    /// nil when `servers` is empty (the option needs at least one address).
    public static func rdnss(_ servers: [IPv6Address], lifetime: UInt32) -> [UInt8]? {
        guard !servers.isEmpty, servers.count <= 127 else { return nil }
        var out: [UInt8] = [NDOptionType.rdnss, UInt8(1 + 2 * servers.count), 0, 0]
        append32(&out, lifetime)
        for s in servers { out += s.byteArray }
        return out
    }

    /// RA5 (RFC 8106 §5.2): type 31, 16 reserved bits, 32-bit lifetime, the domain names in DNS wire format
    /// (RFC 1035 §3.1, uncompressed), zero-padded to a multiple of 8 octets. nil when `domains` is empty or a
    /// name is not a valid DNS name (see `DomainName.wire`), or the option would exceed 255 × 8 octets.
    public static func dnssl(_ domains: [String], lifetime: UInt32) -> [UInt8]? {
        guard !domains.isEmpty else { return nil }
        var out: [UInt8] = [NDOptionType.dnssl, 0, 0, 0]
        append32(&out, lifetime)
        for d in domains {
            guard let wire = DomainName.wire(d) else { return nil }
            out += wire
        }
        pad(&out)
        guard out.count / 8 <= 255 else { return nil }
        out[1] = UInt8(out.count / 8)
        return out
    }

    /// RA6 (RFC 8781 §4): type 38, length 2, the 13-bit scaled lifetime and 3-bit PLC in one 16-bit field,
    /// then the prefix's highest 96 bits (bits past the prefix length cleared).
    public static func pref64(_ prefix: NAT64Prefix, lifetime: UInt32) -> [UInt8] {
        let field = (Pref64.scaledLifetime(lifetime) << 3) | UInt16(Pref64.plc(prefixLength: prefix.length)!)
        var out: [UInt8] = [NDOptionType.pref64, 2, UInt8(field >> 8), UInt8(field & 0xFF)]
        out += prefix.prefix.address.masked(to: prefix.length).byteArray.prefix(12)
        return out
    }

    static func append32(_ out: inout [UInt8], _ v: UInt32) {
        out += [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)]
    }

    /// Zero bytes up to the next multiple of 8, and the length byte set (options of fixed size set it above).
    static func pad(_ out: inout [UInt8]) {
        while out.count % 8 != 0 { out.append(0) }
        out[1] = UInt8(out.count / 8)
    }
}

/// The PREF64 field encodings of RFC 8781 §4.
public enum Pref64 {
    /// RA6: the Prefix Length Code of each length RFC 6052 §2.2 allows: 0 for /96, 1 for /64, 2 for /56,
    /// 3 for /48, 4 for /40, 5 for /32; nil for any other length.
    public static func plc(prefixLength: Int) -> UInt8? {
        switch prefixLength {
        case 96: 0
        case 64: 1
        case 56: 2
        case 48: 3
        case 40: 4
        case 32: 5
        default: nil
        }
    }

    /// The prefix length a PLC stands for (the inverse of `plc`); nil for the reserved codes 6 and 7.
    public static func prefixLength(plc: UInt8) -> Int? {
        [96, 64, 56, 48, 40, 32].indices.contains(Int(plc)) ? [96, 64, 56, 48, 40, 32][Int(plc)] : nil
    }

    /// RA7 (RFC 8781 §4.1): a lifetime in seconds as the 13-bit Scaled Lifetime, in units of 8 seconds: 0 stays
    /// 0, anything else is rounded up to a multiple of 8 (so 1…8 s give 1) and capped at 8191 (65528 s).
    public static func scaledLifetime(_ seconds: UInt32) -> UInt16 {
        UInt16(min(8191, (UInt64(seconds) + 7) / 8))
    }

    /// RA7: the lifetime in seconds a Scaled Lifetime stands for.
    public static func seconds(scaled: UInt16) -> UInt32 { UInt32(scaled & 0x1FFF) * 8 }
}

/// DNS names as RFC 1035 §3.1 writes them on the wire.
public enum DomainName {
    /// `example.com` (a trailing dot is allowed) as length-prefixed labels ending in the zero-length root label;
    /// nil for an empty label, a label over 63 octets, a name over 255 octets, or characters outside
    /// letters, digits, `-` and `_`.
    public static func wire(_ name: String) -> [UInt8]? {
        var text = Substring(name)
        if text.hasSuffix(".") { text = text.dropLast() }
        guard !text.isEmpty else { return nil }
        var out: [UInt8] = []
        for label in text.split(separator: ".", omittingEmptySubsequences: false) {
            let bytes = Array(label.utf8)
            guard (1...63).contains(bytes.count),
                  bytes.allSatisfy({ isLetterOrDigit($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") })
            else { return nil }
            out.append(UInt8(bytes.count))
            out += bytes
        }
        out.append(0)
        return out.count <= 255 ? out : nil
    }

    private static func isLetterOrDigit(_ b: UInt8) -> Bool {
        (0x30...0x39).contains(b) || (0x41...0x5A).contains(b) || (0x61...0x7A).contains(b)
    }
}

/// One Prefix Information option's contents.
public struct PrefixInformation: Sendable, Equatable {
    /// The on-link prefix; a /64 for SLAAC on Ethernet (RFC 4862 §5.5.3, RFC 4291 §2.5.1).
    public var prefix: IPv6Prefix
    /// The L flag: the prefix is on-link. Default true.
    public var onLink = true
    /// The A flag: hosts may form addresses in it (SLAAC). Default true.
    public var autonomous = true
    /// Seconds; RFC 4861 §6.2.1 AdvValidLifetime default 2592000 (30 days).
    public var validLifetime: UInt32 = 2_592_000
    /// Seconds, at most `validLifetime`; AdvPreferredLifetime default 604800 (7 days).
    public var preferredLifetime: UInt32 = 604_800

    /// A prefix with the RFC 4861 default flags and lifetimes.
    public init(prefix: IPv6Prefix) { self.prefix = prefix }
}
