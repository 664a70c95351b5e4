// A reply in a form any client can be served from (rule N4 of docs/dns64.md; RFC 2308 §5 for negative answers,
// RFC 1035 §7.4 for decrementing TTLs, RFC 6891 §7 for the OPT record). The bytes hold no client-specific part:
// ID, RD and the question's spelling are patched per client, the OPT record is ours and added only for clients
// that sent one, and the size limit is the client's.

/// One answer, ready to be rendered for any client asking the same question.
struct CachedAnswer: Sendable {
    /// The reply with ID 0 and no OPT record.
    let bytes: [UInt8]
    /// Offsets of every TTL field (all records; there is no OPT left).
    let ttlOffsets: [Int]
    /// End of the first question's name (its bytes are replaced by the client's spelling).
    let nameEnd: Int
    /// End of the question section.
    let questionEnd: Int
    /// How long the answer may be cached (s), or nil when it must not be (errors, truncated answers, negative
    /// answers without SOA, TTL 0).
    let lifetime: UInt32?
    /// What kind of reply it is (counted once per client served).
    let outcome: DNSReply.Outcome

    /// Builds the client-independent form of a reply the state machine produced.
    /// - Parameters:
    ///   - reply: the reply for the query's first client.
    ///   - limits: min/max TTL caps (N4).
    /// - Returns: nil when the reply cannot be walked (never for replies built or matched by this server).
    init?(_ reply: DNSReply, limits: CacheLimits) {
        guard var walk = try? DNSRecordWalk(reply.bytes) else { return nil }
        var bytes = reply.bytes
        if let opt = walk.records.firstIndex(where: { $0.type == .opt && $0.section == 2 }) {
            let record = walk.records[opt]
            if opt == walk.records.count - 1 {
                bytes.removeSubrange(record.start..<record.end)
            } else {
                // An OPT record in the middle: cutting bytes could break later pointers, so rebuild instead.
                guard var message = try? DNSMessage(parsing: bytes) else { return nil }
                message.additionals.removeAll { $0.type == .opt }
                bytes = message.encoded()
            }
            let arcount = Int(bytes[10]) << 8 | Int(bytes[11]) - 1
            bytes[10] = UInt8(truncatingIfNeeded: arcount >> 8)
            bytes[11] = UInt8(truncatingIfNeeded: arcount)
            guard let again = try? DNSRecordWalk(bytes) else { return nil }
            walk = again
        }
        bytes[0] = 0
        bytes[1] = 0
        let lifetime = CachedAnswer.lifetime(bytes, walk, limits: limits)
        if let lifetime {
            // A TTL above the entry's lifetime would outlive it: cap each record (N4 max-ttl).
            for record in walk.records where record.ttl > lifetime {
                CachedAnswer.put(lifetime, at: record.ttlOffset, in: &bytes)
            }
        }
        self.bytes = bytes
        ttlOffsets = walk.records.map(\.ttlOffset)
        nameEnd = walk.firstNameEnd
        questionEnd = walk.questionEnd
        self.lifetime = lifetime
        outcome = reply.outcome
    }

    /// N4: how long an answer may be cached. Positive answers: the smallest answer TTL; negative ones (NXDOMAIN,
    /// NODATA): min(SOA TTL, SOA MINIMUM) (RFC 2308 §5), nil without SOA. Errors and TC=1: nil. Caps apply.
    static func lifetime(_ bytes: [UInt8], _ walk: DNSRecordWalk, limits: CacheLimits) -> UInt32? {
        guard let header = DNSHeader(peeking: bytes), !header.flags.truncated else { return nil }
        let rcode = header.flags.rcode
        guard rcode == .noError || rcode == .nxDomain else { return nil }
        let answerTTLs = walk.records.filter { $0.section == 0 }.map { effective($0.ttl) }
        var ttl: UInt32
        var cap = limits.maxTTL
        if rcode == .noError, let smallest = answerTTLs.min() {
            ttl = smallest
        } else {
            // Negative: the SOA in the authority section; its MINIMUM is the last 4 bytes of the RDATA.
            guard let soa = walk.records.first(where: { $0.section == 1 && $0.type == .soa }),
                soa.end - soa.rdataStart >= 22
            else { return nil }
            let minimum = read(at: soa.end - 4, in: bytes)
            ttl = min(effective(soa.ttl), minimum, answerTTLs.min() ?? .max)
            cap = limits.maxNegativeTTL
        }
        ttl = min(max(ttl, limits.minTTL), cap)
        return ttl == 0 ? nil : ttl
    }

    /// The answer for one client: its ID, RD and spelling of the name, TTLs less `age` seconds, our OPT record
    /// when it sent one, and cut to `sizeLimit` (TC=1 with the question only) when too big (RFC 1035 §4.2.1).
    /// - Parameters:
    ///   - query: the client's query (same question, DO and CD as this answer's).
    ///   - sizeLimit: the client's UDP limit, or 65 535 over TCP.
    ///   - age: seconds since the answer was stored.
    /// - Returns: the reply bytes.
    func render(for query: ClientQuery, sizeLimit: Int, age: UInt32) -> [UInt8] {
        render(
            id: query.id, recursionDesired: query.flags.recursionDesired, dnssecOK: query.edns.map(\.dnssecOK),
            sizeLimit: sizeLimit, age: age
        ) { out, nameEnd in
            var at = DNSHeader.length
            for label in query.question.name.labels where at + 1 + label.count <= nameEnd {
                out[at] = UInt8(label.count)
                for (i, byte) in label.enumerated() { out[at + 1 + i] = byte }
                at += 1 + label.count
            }
        }
    }

    /// `render(for:sizeLimit:age:)` from the parts of a query: its ID, RD, DO (nil: the client sent no OPT), and
    /// `spell`, which writes the client's spelling of the name over bytes 12..<`nameEnd` (same length, RFC 4343).
    func render(
        id: UInt16, recursionDesired: Bool, dnssecOK: Bool?, sizeLimit: Int, age: UInt32,
        spell: (inout [UInt8], _ nameEnd: Int) -> Void
    ) -> [UInt8] {
        let optLength = dnssecOK == nil ? 0 : 11
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + optLength)
        out.append(contentsOf: bytes)
        out[0] = UInt8(id >> 8)
        out[1] = UInt8(truncatingIfNeeded: id)
        out[2] = out[2] & ~0x01 | (recursionDesired ? 0x01 : 0)
        spell(&out, nameEnd)
        if age > 0 {
            for offset in ttlOffsets {
                let ttl = CachedAnswer.read(at: offset, in: out)
                CachedAnswer.put(ttl > age ? ttl - age : 0, at: offset, in: &out)
            }
        }
        if out.count + optLength > sizeLimit {
            // Too big: header with TC=1, the question, our OPT (RFC 6891 §7); the client retries over TCP.
            out.removeSubrange(questionEnd...)
            out[2] |= 0x02
            for i in 6..<12 { out[i] = 0 }
        }
        if let dnssecOK {
            let arcount = (Int(out[10]) << 8 | Int(out[11])) + 1
            out[10] = UInt8(truncatingIfNeeded: arcount >> 8)
            out[11] = UInt8(truncatingIfNeeded: arcount)
            let size = ClientQuery.advertisedPayloadSize
            // Root owner, TYPE 41, CLASS = our size, TTL = 0 / version 0 / DO, RDLENGTH 0 (appended one by one:
            // an array literal here would cost an allocation per reply).
            out.append(0)
            out.append(0)
            out.append(41)
            out.append(UInt8(size >> 8))
            out.append(UInt8(truncatingIfNeeded: size))
            out.append(0)
            out.append(0)
            out.append(dnssecOK ? 0x80 : 0)
            for _ in 0..<3 { out.append(0) }
        }
        return out
    }

    private static func effective(_ ttl: UInt32) -> UInt32 { ttl > UInt32(Int32.max) ? 0 : ttl }

    static func read(at offset: Int, in bytes: [UInt8]) -> UInt32 {
        UInt32(bytes[offset]) << 24 | UInt32(bytes[offset + 1]) << 16 | UInt32(bytes[offset + 2]) << 8
            | UInt32(bytes[offset + 3])
    }

    static func put(_ value: UInt32, at offset: Int, in bytes: inout [UInt8]) {
        bytes[offset] = UInt8(value >> 24)
        bytes[offset + 1] = UInt8(truncatingIfNeeded: value >> 16)
        bytes[offset + 2] = UInt8(truncatingIfNeeded: value >> 8)
        bytes[offset + 3] = UInt8(truncatingIfNeeded: value)
    }
}
