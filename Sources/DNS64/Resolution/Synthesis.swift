// AAAA synthesis proper: RFC 6147 §5.1.4 (exclusion), §5.1.6 (CNAME chains), §5.1.7 (building the AAAA RR),
// RFC 2308 §5 (negative TTL). Rules D2, D4, D5, D6 of docs/dns64.md. Pure functions over parsed messages.
import NAT64Translator

enum Synthesis {
    /// Cap on the TTL of a synthesized AAAA when the AAAA answer had no SOA (D5; RFC 6147 §5.1.7 leaves the
    /// SOA-less case open, 600 s is the value BIND and Unbound use).
    static let ttlCapWithoutSOA: UInt32 = 600

    /// The owner names of the answer chain starting at `name`: the name itself plus every CNAME target
    /// reachable from it (D6, RFC 6147 §5.1.6). Order of records in the section does not matter; the walk
    /// ends because each round must add a new name.
    static func chainNames(from name: DNSName, in answers: [DNSResourceRecord]) -> Set<DNSName> {
        var names: Set<DNSName> = [name]
        var grew = true
        while grew {
            grew = false
            for record in answers where record.type == .cname && names.contains(record.name) {
                if case .name(let target) = record.rdata, names.insert(target).inserted { grew = true }
            }
        }
        return names
    }

    /// The AAAA addresses of the answer to `question`, split into usable ones and excluded ones (D1, D4).
    static func aaaaRecords(
        of message: DNSMessage, for question: DNSQuestion, policy: SynthesisPolicy
    ) -> (usable: Int, excluded: Int) {
        let names = chainNames(from: question.name, in: message.answers)
        var usable = 0
        var excluded = 0
        for record in message.answers where names.contains(record.name) {
            guard case .aaaa(let address) = record.rdata else { continue }
            if policy.isExcluded(address) { excluded += 1 } else { usable += 1 }
        }
        return (usable, excluded)
    }

    /// `message` without its excluded AAAA records (D4: only the excluded records are removed).
    static func removingExcluded(from message: DNSMessage, policy: SynthesisPolicy) -> DNSMessage {
        var filtered = message
        filtered.answers.removeAll { record in
            if case .aaaa(let address) = record.rdata { return policy.isExcluded(address) }
            return false
        }
        return filtered
    }

    /// The negative TTL of an answer: min(SOA TTL, SOA MINIMUM) of the first SOA in the authority section
    /// (RFC 2308 §5; used by D5). Nil without an SOA.
    static func negativeTTL(of message: DNSMessage) -> UInt32? {
        for record in message.authorities {
            if case .soa(let soa) = record.rdata { return min(record.effectiveTTL, soa.minimum) }
        }
        return nil
    }

    /// D5: TTL of a synthesized AAAA = min(A TTL, negative TTL of the AAAA answer), or min(A TTL, 600 s)
    /// when that answer had no SOA (RFC 6147 §5.1.7).
    static func synthesizedTTL(aTTL: UInt32, negativeTTL: UInt32?) -> UInt32 {
        min(aTTL, negativeTTL ?? ttlCapWithoutSOA)
    }

    /// True when a DNSSEC signature sits in the answer or authority section (for D7).
    static func isSigned(_ message: DNSMessage) -> Bool {
        message.answers.contains { $0.type == .rrsig } || message.authorities.contains { $0.type == .rrsig }
    }

    /// D2 + D4 + D6: the answer section of the synthesized reply. CNAME and DNAME records of the A answer's
    /// chain come first, as received; then, for each A record in the chain, one AAAA per prefix whose `mapped`
    /// rule lets it through, with the A record's owner name (RFC 6147 §5.1.4, §5.1.6, §5.1.7). Returns nil
    /// when no AAAA results (no A record in the chain, or none that may be mapped).
    static func synthesizedAnswers(
        from aAnswer: DNSMessage, for question: DNSQuestion, negativeTTL: UInt32?, policy: SynthesisPolicy
    ) -> [DNSResourceRecord]? {
        let names = chainNames(from: question.name, in: aAnswer.answers)
        var chain: [DNSResourceRecord] = []
        var synthesized: [DNSResourceRecord] = []
        for record in aAnswer.answers {
            switch record.rdata {
            case .name where record.type == .dname:
                chain.append(record)
            case .name where record.type == .cname && names.contains(record.name):
                chain.append(record)
            case .a(let v4) where names.contains(record.name):
                let ttl = synthesizedTTL(aTTL: record.effectiveTTL, negativeTTL: negativeTTL)
                for prefix in policy.prefixes where policy.maps(v4, under: prefix) {
                    synthesized.append(.aaaa(record.name, ttl: ttl, prefix.embed(v4)))
                }
            default:
                continue
            }
        }
        return synthesized.isEmpty ? nil : chain + synthesized
    }
}
