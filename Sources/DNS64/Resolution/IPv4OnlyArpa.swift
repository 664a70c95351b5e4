// Rule D9 of docs/dns64.md: the special-use name ipv4only.arpa (RFC 7050 §2.2, RFC 8880 §7.2). A DNS64 answers
// it itself, never forwarding it: A gives 192.0.0.170 and 192.0.0.171, AAAA gives those synthesized under each
// prefix (so clients discover the prefixes, RFC 7050 §3), and the reverse names of both addresses give PTR
// ipv4only.arpa (RFC 8880 §7.1). Pure functions.
import NAT64Translator

/// Local answers for ipv4only.arpa and its reverse names.
enum IPv4OnlyArpa {
    /// `ipv4only.arpa.`
    static let name = DNSName("ipv4only.arpa")!
    /// The two well-known IPv4 addresses of ipv4only.arpa (RFC 7050 §2.2).
    static let addresses = [IPv4Address(192, 0, 0, 170), IPv4Address(192, 0, 0, 171)]
    /// TTL of the local records. The records never change, so a long TTL is safe; this project uses one hour.
    static let ttl: UInt32 = 3600
    /// The reverse names `170.0.0.192.in-addr.arpa.` and `171.0.0.192.in-addr.arpa.`.
    static let reverseNames = addresses.map(ReverseMapping.inAddrName(of:))

    /// A local answer: rcode and answer records.
    struct Answer: Hashable, Sendable {
        var rcode: DNSRcode
        var answers: [DNSResourceRecord]
    }

    /// D9: the local answer to `question`, or nil when the question is not about ipv4only.arpa or its
    /// reverse names (then it is not D9's business).
    /// - Parameters:
    ///   - question: the client's question.
    ///   - prefixes: the NAT64 prefixes of the client's group.
    /// - Returns: NOERROR with records, NOERROR/NODATA for other types, NXDOMAIN below ipv4only.arpa.
    static func answer(to question: DNSQuestion, prefixes: [NAT64Prefix]) -> Answer? {
        let qname = question.name
        if qname == name {
            switch question.type {
            case .a:
                return Answer(rcode: .noError, answers: addresses.map { .a(qname, ttl: ttl, $0) })
            case .aaaa:
                // RFC 8880 §7.2: every prefix, the WKP included, although 192.0.0.0/24 is not global (D4 aside).
                let records = addresses.flatMap { v4 in prefixes.map { DNSResourceRecord.aaaa(qname, ttl: ttl, $0.embed(v4)) } }
                return Answer(rcode: .noError, answers: records)
            default:
                return Answer(rcode: .noError, answers: [])
            }
        }
        if isBelow(qname, name) { return Answer(rcode: .nxDomain, answers: []) }
        if reverseNames.contains(qname) {
            guard question.type == .ptr else { return Answer(rcode: .noError, answers: []) }
            return Answer(
                rcode: .noError, answers: [DNSResourceRecord(name: qname, type: .ptr, ttl: ttl, rdata: .name(name))])
        }
        return nil
    }

    /// True when `child` is a strict subdomain of `parent`.
    static func isBelow(_ child: DNSName, _ parent: DNSName) -> Bool {
        let extra = child.labels.count - parent.labels.count
        guard extra > 0 else { return false }
        return DNSName(unchecked: Array(child.labels[extra...])) == parent
    }
}
