// Rule D8 of docs/dns64.md: PTR queries for addresses inside a NAT64 prefix (RFC 6147 §5.3.1). A full ip6.arpa
// name under a prefix is answered with a CNAME to the in-addr.arpa name of the embedded IPv4 address (RFC 6052
// §2.2), which is then followed upstream; a shorter name under the prefix exists (it is an empty non-terminal
// of the synthesized tree), so it gets NOERROR with no records rather than NXDOMAIN. Pure functions.
import NAT64Translator

/// The D8 decision for one PTR question.
enum ReverseMapping {
    /// What a PTR question's name means for the DNS64.
    enum Verdict: Hashable, Sendable {
        /// Not under any configured prefix (or not an ip6.arpa nibble name): relay it (D11).
        case notOurs
        /// Under a prefix but shorter than a full address: NOERROR, no records (D8).
        case partial
        /// A full address under a prefix: CNAME to `target` (the in-addr.arpa name of `v4`), then follow it.
        case target(DNSName, IPv4Address)
    }

    private static let ip6 = Array("ip6".utf8)
    private static let inAddr = Array("in-addr".utf8)
    private static let arpa = Array("arpa".utf8)

    /// The nibbles of an ip6.arpa name, most significant first (the reverse of the label order, RFC 3596 §2.5),
    /// or nil when `name` is not under ip6.arpa or a label is not one hex digit, or there are over 32.
    static func nibbles(of name: DNSName) -> [UInt8]? {
        let labels = name.labels
        guard labels.count >= 2, labels.count <= 34, equal(labels[labels.count - 1], arpa),
            equal(labels[labels.count - 2], ip6)
        else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(labels.count - 2)
        for label in labels[..<(labels.count - 2)].reversed() {
            guard label.count == 1, let value = hexValue(label[0]) else { return nil }
            out.append(value)
        }
        return out
    }

    /// D8: classifies a PTR question's name against `prefixes` (the first prefix under which it is a valid
    /// RFC 6052 embedding wins).
    /// - Parameters:
    ///   - name: the QNAME.
    ///   - prefixes: the NAT64 prefixes of the client's group.
    /// - Returns: the verdict.
    static func classify(_ name: DNSName, prefixes: [NAT64Prefix]) -> Verdict {
        guard let nibbles = nibbles(of: name) else { return .notOurs }
        for prefix in prefixes {
            let prefixNibbles = prefix.length / 4
            guard nibbles.count >= prefixNibbles else { continue }
            let matches = (0..<prefixNibbles).allSatisfy { nibbles[$0] == nibble(of: prefix.prefix.address, at: $0) }
            guard matches else { continue }
            guard nibbles.count == 32 else { return .partial }
            var bytes = [UInt8](repeating: 0, count: 16)
            for i in 0..<16 { bytes[i] = nibbles[2 * i] << 4 | nibbles[2 * i + 1] }
            // An address whose u-octet or suffix is not zero is no RFC 6052 embedding under this prefix; a later,
            // longer prefix inside it may still embed it (D14: the prefixes of several groups can nest).
            guard case .success(let v4) = prefix.extract(IPv6Address(bytes: bytes)) else { continue }
            return .target(inAddrName(of: v4), v4)
        }
        return .notOurs
    }

    /// `d.c.b.a.in-addr.arpa.` for `a.b.c.d` (RFC 1035 §3.5).
    static func inAddrName(of v4: IPv4Address) -> DNSName {
        let b = v4.bytes
        let octets = [b.3, b.2, b.1, b.0].map { Array(String($0).utf8) }
        return DNSName(unchecked: octets + [inAddr, arpa])
    }

    /// The `index`-th nibble (0 = most significant) of `address`.
    static func nibble(of address: IPv6Address, at index: Int) -> UInt8 {
        let byte = address.byte(index / 2)
        return index % 2 == 0 ? byte >> 4 : byte & 0x0F
    }

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    private static func equal(_ label: [UInt8], _ lower: [UInt8]) -> Bool {
        label.count == lower.count && zip(label, lower).allSatisfy { DNSName.lower($0) == $1 }
    }
}
