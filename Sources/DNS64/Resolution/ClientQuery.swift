// What the resolution layer needs to know about one client query and the replies it can send back
// (RFC 1035 §4.1.1 header echo rules, RFC 6891 §6.2.5/§7 for EDNS in replies).

/// A client query that passed intake: one question, opcode QUERY, from an allowed client.
public struct ClientQuery: Hashable, Sendable {
    /// The client's ID, echoed in every reply.
    public var id: UInt16
    /// The client's flags (RD and CD matter; RD is echoed).
    public var flags: DNSHeader.Flags
    /// The single question, spelled as the client spelled it.
    public var question: DNSQuestion
    /// The client's EDNS values, if it sent an OPT record.
    public var edns: EDNSInfo?
    /// When set, replies are cut to this size instead of the client's UDP limit. The server sets 65 535 while
    /// resolving, because one answer serves every client waiting for it (N4) and each client's copy is cut to
    /// its own limit when it is sent.
    public var replySizeOverride: Int?

    /// The UDP payload size this server advertises and never exceeds (RFC 6891 §6.2.5; DNS flag day 2020).
    public static let advertisedPayloadSize: UInt16 = 1232

    /// Creates a query description.
    public init(id: UInt16, flags: DNSHeader.Flags, question: DNSQuestion, edns: EDNSInfo? = nil) {
        self.id = id
        self.flags = flags
        self.question = question
        self.edns = edns
    }

    /// Largest reply that may go back over UDP: 512 without EDNS, otherwise the client's size within
    /// 512…1232 (RFC 6891 §6.2.5).
    public var replySizeLimit: Int {
        if let replySizeOverride { return replySizeOverride }
        guard let edns else { return 512 }
        return min(max(512, Int(edns.udpPayloadSize)), Int(ClientQuery.advertisedPayloadSize))
    }

    /// The header of a reply built by this server (see `DNSHeader.reply(to:rcode:)`), CD echoed too.
    func replyHeader(rcode: DNSRcode) -> DNSHeader {
        var header = DNSHeader(id: id, flags: flags).reply(rcode: rcode)
        header.flags.checkingDisabled = flags.checkingDisabled
        return header
    }

    /// Our OPT record for a reply, present only when the client sent one (RFC 6891 §7).
    var replyAdditionals: [DNSResourceRecord] { EDNSInfo.replyRecords(for: edns) }
}

extension DNSHeader {
    /// The header of a reply to a query with this header: ID, opcode and RD echoed, QR and RA set, AA, TC, AD
    /// and CD clear (RFC 1035 §4.1.1; rule D7: no AD on answers this forwarder builds).
    func reply(rcode: DNSRcode) -> DNSHeader {
        var reply = DNSHeader.Flags()
        reply.isResponse = true
        reply.opcode = flags.opcode
        reply.recursionDesired = flags.recursionDesired
        reply.recursionAvailable = true
        reply.rcode = rcode
        return DNSHeader(id: id, flags: reply)
    }
}

extension EDNSInfo {
    /// The additional section of a reply: our OPT record (1232 bytes, the client's DO) when the client sent
    /// one, nothing otherwise (RFC 6891 §7).
    static func replyRecords(for clientEDNS: EDNSInfo?) -> [DNSResourceRecord] {
        guard let clientEDNS else { return [] }
        return [EDNSInfo(udpPayloadSize: ClientQuery.advertisedPayloadSize, dnssecOK: clientEDNS.dnssecOK).record]
    }
}

/// Bytes to send back to a client, with what kind of reply they are (for counters and logs).
public struct DNSReply: Hashable, Sendable {
    /// What happened to the query.
    public enum Outcome: Hashable, Sendable {
        /// An upstream answer passed on as received (ID and RD restored) — D1, D3 NXDOMAIN, D11.
        case relayed
        /// An upstream answer with excluded AAAA records removed (D4).
        case filtered
        /// AAAA records synthesized from A records (D2).
        case synthesized
        /// Answered from local data without asking upstream: ipv4only.arpa (D9), partial ip6.arpa names (D8).
        case local
        /// SERVFAIL because the upstreams failed or timed out (D3).
        case upstreamFailure
        /// REFUSED: the client is not on the allow list (D10).
        case refused
        /// FORMERR: the query could not be parsed or is not a single question (N5).
        case formErr
        /// NOTIMP: an opcode other than QUERY (N5).
        case notImp
        /// BADVERS: the client's EDNS version is above 0 (RFC 6891 §6.1.3).
        case badVersion
        /// SERVFAIL because the client deadline passed before the resolution ended (D16).
        case deadline
        /// RD=0 and nothing in the cache: answered without asking upstream (D13).
        case cacheOnlyMiss
    }

    /// The reply in wire form.
    public var bytes: [UInt8]
    /// What kind of reply it is.
    public var outcome: Outcome

    /// Wraps reply bytes.
    public init(bytes: [UInt8], outcome: DNSReply.Outcome) {
        self.bytes = bytes
        self.outcome = outcome
    }
}

extension ClientQuery {
    /// A reply with `rcode` and the given records, cut to the client's size (TC=1 when it does not fit).
    func reply(
        rcode: DNSRcode, answers: [DNSResourceRecord] = [], authorities: [DNSResourceRecord] = [],
        truncated: Bool = false, outcome: DNSReply.Outcome
    ) -> DNSReply {
        var header = replyHeader(rcode: rcode)
        header.flags.truncated = truncated
        let message = DNSMessage(
            header: header, questions: [question], answers: answers, authorities: authorities,
            additionals: replyAdditionals)
        return DNSReply(bytes: fitted(message.encoded()), outcome: outcome)
    }

    /// An upstream answer passed on: the client's ID and RD put back, AA cleared and RA set (D15: this is a
    /// recursive service, whatever the upstream is; RFC 1035 §4.1.1), everything else as received (rules D1,
    /// D11, D12). Cut to the client's size when needed.
    func relay(_ upstreamBytes: [UInt8]) -> DNSReply {
        var bytes = upstreamBytes
        if bytes.count >= DNSHeader.length {
            bytes[0] = UInt8(id >> 8)
            bytes[1] = UInt8(truncatingIfNeeded: id)
            bytes[2] = bytes[2] & ~0x05 | (flags.recursionDesired ? 0x01 : 0)  // AA (0x04) off, RD copied
            bytes[3] |= 0x80  // RA
        }
        return DNSReply(bytes: fitted(bytes), outcome: .relayed)
    }

    /// `bytes` when they fit `replySizeLimit`; otherwise the same header with TC=1, the question and our
    /// OPT record only, so the client retries over TCP (RFC 1035 §4.2.1, RFC 6891 §7).
    func fitted(_ bytes: [UInt8]) -> [UInt8] {
        guard bytes.count > replySizeLimit, let header = DNSHeader(peeking: bytes) else { return bytes }
        var truncated = header
        truncated.flags.truncated = true
        return DNSMessage(header: truncated, questions: [question], additionals: replyAdditionals).encoded()
    }
}
