// One client query from intake to reply: RFC 6147 §5.1 (AAAA then A), §5.3.1 (PTR), rules D1–D9, D11 and
// D12–D16 of docs/dns64.md.
// The machine decides, the transport does the I/O: each event returns an `Action` (ask upstream, or reply).
// Time comes in as a parameter (`now`, monotonic nanoseconds): the machine reads no clock (D16).
//
//   idle ──start──▶ relaying ─────────────answer/failure──▶ answered            (D11, D7 CD=1)
//     └────start──▶ awaitingAAAA ──usable AAAA / NXDOMAIN──▶ answered           (D1, D3)
//                        └──NODATA / error / timeout──▶ awaitingA ──▶ answered  (D2, D3, D5, D6)
//     └────start──▶ awaitingPTR ──in-addr.arpa answer──▶ answered                (D8)
//     └────start──▶ answered (ipv4only.arpa, partial ip6.arpa names)              (D8, D9)
//     └────start──▶ answered (RD=0 and cache-only: the cache had nothing)         (D13)
//   any state ──answer or failure at/after the deadline──▶ answered (SERVFAIL)    (D16)

import NAT64Translator

/// What to do next for one query.
public enum QueryAction: Hashable, Sendable {
    /// Send this query to the upstream resolvers and feed the result to `upstreamAnswered(_:)`.
    case askUpstream(UpstreamQuery)
    /// Send these bytes to the client; the query is done.
    case reply(DNSReply)
}

/// A query for the upstream resolvers. The transport adds a random ID and sets RD.
public struct UpstreamQuery: Hashable, Sendable {
    /// The question to ask, as the client spelled it.
    public var question: DNSQuestion
    /// CD to set (copied from the client; RFC 6147 §5.5).
    public var checkingDisabled: Bool
    /// EDNS to send: nil for none (the client sent none, RFC 6891 §7), else our size and the client's DO.
    public var edns: EDNSInfo?

    /// Creates an upstream query.
    public init(question: DNSQuestion, checkingDisabled: Bool = false, edns: EDNSInfo? = nil) {
        self.question = question
        self.checkingDisabled = checkingDisabled
        self.edns = edns
    }

    /// The query message with the given ID and RD=1.
    public func message(id: UInt16) -> DNSMessage {
        var flags = DNSHeader.Flags()
        flags.recursionDesired = true
        flags.checkingDisabled = checkingDisabled
        return DNSMessage(
            header: DNSHeader(id: id, flags: flags), questions: [question], additionals: edns.map { [$0.record] } ?? [])
    }
}

/// What came back from the upstream resolvers for one `UpstreamQuery`.
public enum UpstreamResult: Hashable, Sendable {
    /// A response that matched ID, question and upstream address (rule N3), parsed, and its bytes as received.
    case answer(DNSMessage, raw: [UInt8])
    /// Every upstream timed out or failed; counts as SERVFAIL (RFC 6147 §5.1.3).
    case failed
}

/// The life of one client query. A value type: one per query, owned by whoever drives it.
public struct QueryStateMachine: Sendable {
    private enum State: Sendable {
        /// Created; `start()` not called yet.
        case idle
        /// The query went upstream as is; the answer is relayed unchanged (D11, D7).
        case relaying
        /// AAAA went upstream (D1); waiting for it.
        case awaitingAAAA
        /// The AAAA answer had no usable AAAA; A went upstream for the same name (D2, D3).
        /// `fallback` is returned when A brings no records, `negativeTTL` bounds the synthesized TTL (D5),
        /// `aaaaFailed` says the AAAA answer was an error or timeout rather than NODATA.
        case awaitingA(fallback: DNSReply, negativeTTL: UInt32?, aaaaFailed: Bool)
        /// D8: the PTR query for the in-addr.arpa name went upstream; `cname` leads the answer.
        case awaitingPTR(cname: DNSResourceRecord)
        /// A reply was produced; nothing more happens.
        case answered
    }

    private var state: State = .idle
    /// The query being answered.
    public let query: ClientQuery
    /// The synthesis settings of the client's group.
    public let policy: SynthesisPolicy
    /// Which client group the policy belongs to (0: the default one; D10). Part of the cache key.
    public let group: Int
    /// D14: every NAT64 prefix of every client group, for reverse (PTR) synthesis whatever the client's group.
    public let reversePrefixes: [NAT64Prefix]
    /// D13: true when the query has RD=0 and such queries are answered from the cache only. The server looks in
    /// the cache first; a machine that starts in this mode therefore answers that the cache holds nothing.
    public let cacheOnly: Bool
    /// D16: the client-facing deadline (monotonic ns). An upstream result that arrives at or after it ends the
    /// query with SERVFAIL instead of asking again. `UInt64.max`: none.
    public var deadline: UInt64 = .max

    /// Creates a machine for one accepted query.
    /// - Parameters:
    ///   - query: the client's query.
    ///   - policy: the synthesis settings of the client's group.
    ///   - group: the index of that group (0 when there are no groups).
    ///   - reversePrefixes: the prefixes reverse-mapped for this client (D14); default the group's own.
    ///   - cacheOnly: answer from the cache only (D13: RD=0, `rd0 = "cache-only"`); default false.
    public init(
        query: ClientQuery, policy: SynthesisPolicy, group: Int = 0, reversePrefixes: [NAT64Prefix]? = nil,
        cacheOnly: Bool = false
    ) {
        self.query = query
        self.policy = policy
        self.group = group
        self.reversePrefixes = reversePrefixes ?? policy.prefixes
        self.cacheOnly = cacheOnly
    }

    /// Whether this query takes the DNS64 path: AAAA, class IN, CD clear (D1, D7, D11).
    public var synthesisApplies: Bool {
        query.question.type == .aaaa && query.question.qclass == .in && !query.flags.checkingDisabled
            && !policy.prefixes.isEmpty
    }

    private var upstreamEDNS: EDNSInfo? {
        query.edns.map { EDNSInfo(udpPayloadSize: ClientQuery.advertisedPayloadSize, dnssecOK: $0.dnssecOK) }
    }

    private func upstream(_ type: DNSRecordType) -> UpstreamQuery {
        var question = query.question
        question.type = type
        return UpstreamQuery(question: question, checkingDisabled: query.flags.checkingDisabled, edns: upstreamEDNS)
    }

    /// First event: decides where the query goes.
    /// - Returns: `.reply` for names answered locally (D8 partial names, D9) and for cache-only queries (D13),
    ///   otherwise `.askUpstream` (the AAAA query for D1, the in-addr.arpa PTR for D8, the query as is for D11).
    public mutating func start() -> QueryAction {
        switch state {
        case .idle:
            if let local = IPv4OnlyArpa.answer(to: query.question, prefixes: policy.prefixes) {
                return finish(query.reply(rcode: local.rcode, answers: local.answers, outcome: .local))  // D9
            }
            if query.question.type == .ptr && query.question.qclass == .in && !reversePrefixes.isEmpty {
                // D14: every configured prefix, not only the client group's (RFC 6147 §5.3.1).
                switch ReverseMapping.classify(query.question.name, prefixes: reversePrefixes) {
                case .notOurs:
                    break
                case .partial:
                    return finish(query.reply(rcode: .noError, outcome: .local))  // D8: an empty non-terminal
                case .target(let target, _):
                    return followPTR(to: target)  // D8
                }
            }
            if cacheOnly { return finish(cacheMiss()) }  // D13
            if synthesisApplies {
                state = .awaitingAAAA
                return .askUpstream(upstream(.aaaa))
            }
            state = .relaying
            return .askUpstream(upstream(query.question.type))
        case .relaying, .awaitingAAAA, .awaitingA, .awaitingPTR, .answered:
            preconditionFailure("start() called twice")
        }
    }

    /// Feeds the result of the last `.askUpstream`.
    /// - Parameters:
    ///   - result: the matched upstream answer, or `.failed` after timeouts.
    ///   - now: the time it came (monotonic ns), checked against `deadline` (D16).
    /// - Returns: the next action.
    public mutating func upstreamAnswered(_ result: UpstreamResult, now: UInt64) -> QueryAction {
        // D16: at the deadline a failure is final, and no further upstream query starts.
        if now >= deadline, case .failed = result { return finish(deadlineReached()) }
        let action = next(after: result)
        if now >= deadline, case .askUpstream = action { return finish(deadlineReached()) }
        return action
    }

    /// D16: SERVFAIL because the client deadline passed (RFC 6147 §5.1.3 counts a timeout as SERVFAIL).
    private func deadlineReached() -> DNSReply {
        query.reply(rcode: .servFail, outcome: .deadline)
    }

    /// D13: the answer to an RD=0 query whose answer is not cached. Like BIND for a name it holds no data for,
    /// minus the referral: this forwarder keeps no delegations to refer to (see `DNSReply.Outcome.cacheOnlyMiss`).
    private func cacheMiss() -> DNSReply {
        query.reply(rcode: .noError, outcome: .cacheOnlyMiss)
    }

    private mutating func next(after result: UpstreamResult) -> QueryAction {
        switch state {
        case .idle, .answered:
            preconditionFailure("upstream answer without an outstanding upstream query")
        case .relaying:
            return finish(relayOrFail(result))
        case .awaitingAAAA:
            return aaaaAnswered(result)
        case .awaitingA(let fallback, let negativeTTL, let aaaaFailed):
            return aAnswered(result, fallback: fallback, negativeTTL: negativeTTL, aaaaFailed: aaaaFailed)
        case .awaitingPTR(let cname):
            return ptrAnswered(result, cname: cname)
        }
    }

    /// D8 (RFC 6147 §5.3.1): the CNAME from the ip6.arpa name to `target`, then the PTR for `target` —
    /// answered locally for ipv4only.arpa's reverse names (D9), asked upstream otherwise.
    private mutating func followPTR(to target: DNSName) -> QueryAction {
        var cname = DNSResourceRecord.cname(query.question.name, ttl: Synthesis.ttlCapWithoutSOA, target: target)
        let question = DNSQuestion(name: target, type: .ptr)
        if let local = IPv4OnlyArpa.answer(to: question, prefixes: policy.prefixes) {
            cname.ttl = IPv4OnlyArpa.ttl
            return finish(query.reply(rcode: local.rcode, answers: [cname] + local.answers, outcome: .local))
        }
        if cacheOnly { return finish(cacheMiss()) }  // D13
        state = .awaitingPTR(cname: cname)
        return .askUpstream(
            UpstreamQuery(question: question, checkingDisabled: query.flags.checkingDisabled, edns: upstreamEDNS))
    }

    /// D8: the in-addr.arpa answer, behind our CNAME. Its rcode and records are kept; the CNAME's TTL is the
    /// smallest PTR TTL, or the negative TTL, capped at 600 s like a synthesized AAAA (D5).
    private mutating func ptrAnswered(_ result: UpstreamResult, cname: DNSResourceRecord) -> QueryAction {
        guard case .answer(let message, _) = result else {
            return finish(query.reply(rcode: .servFail, outcome: .upstreamFailure))
        }
        if message.header.flags.truncated { return finish(query.reply(rcode: .noError, truncated: true, outcome: .relayed)) }
        var cname = cname
        let ttls = message.answers.map(\.effectiveTTL) + [Synthesis.negativeTTL(of: message)].compactMap { $0 }
        cname.ttl = min(cname.ttl, ttls.min() ?? cname.ttl)
        return finish(
            query.reply(
                rcode: message.header.flags.rcode, answers: [cname] + message.answers, authorities: message.authorities,
                outcome: .synthesized))
    }

    private mutating func finish(_ reply: DNSReply) -> QueryAction {
        state = .answered
        return .reply(reply)
    }

    private func relayOrFail(_ result: UpstreamResult) -> DNSReply {
        switch result {
        case .answer(_, let raw): query.relay(raw)
        case .failed: query.reply(rcode: .servFail, outcome: .upstreamFailure)
        }
    }

    private mutating func askA(fallback: DNSReply, negativeTTL: UInt32?, aaaaFailed: Bool) -> QueryAction {
        state = .awaitingA(fallback: fallback, negativeTTL: negativeTTL, aaaaFailed: aaaaFailed)
        return .askUpstream(upstream(.a))
    }

    /// D1, D3, D4, D7: what the AAAA answer leads to.
    private mutating func aaaaAnswered(_ result: UpstreamResult) -> QueryAction {
        guard case .answer(let message, let raw) = result else {
            // D3: a timeout counts as SERVFAIL, which counts as an empty answer (RFC 6147 §5.1.2, §5.1.3).
            let servFail = query.reply(rcode: .servFail, outcome: .upstreamFailure)
            guard policy.synthesizeOnUpstreamErrors else { return finish(servFail) }
            return askA(fallback: servFail, negativeTTL: nil, aaaaFailed: true)
        }
        // A truncated answer may hide real AAAA records: pass it on (TC=1), the client retries over TCP.
        if message.header.flags.truncated { return finish(query.relay(raw)) }
        switch message.header.flags.rcode {
        case .noError:
            let found = Synthesis.aaaaRecords(of: message, for: query.question, policy: policy)
            // D4: excluded records are removed, the rest is returned as is. D12: never for a DNSSEC-aware client
            // (DO=1): a trimmed RRset no longer matches its RRSIG, so whatever is not synthesized goes out as
            // received, excluded records and signatures together.
            let original =
                found.excluded == 0 || query.edns?.dnssecOK == true
                ? query.relay(raw)
                : filtered(Synthesis.removingExcluded(from: message, policy: policy))
            if found.usable > 0 { return finish(original) }  // D1
            // D7: DO=1 and a signed negative answer is passed on, not synthesized (RFC 6147 §5.5).
            // With `break-dnssec` set, synthesis goes ahead anyway (the answer carries no AD, D7).
            if query.edns?.dnssecOK == true && Synthesis.isSigned(message) && !policy.breakDNSSEC {
                return finish(original)
            }
            return askA(fallback: original, negativeTTL: Synthesis.negativeTTL(of: message), aaaaFailed: false)  // D2
        case .nxDomain:
            return finish(query.relay(raw))  // D3: NXDOMAIN as is, no A query.
        default:
            // D3: SERVFAIL, REFUSED, NOTIMP, FORMERR count as an empty answer (RFC 6147 §5.1.2).
            guard policy.synthesizeOnUpstreamErrors else { return finish(query.relay(raw)) }
            return askA(fallback: query.relay(raw), negativeTTL: nil, aaaaFailed: true)
        }
    }

    /// D2, D3, D5, D6: what the A answer leads to.
    private mutating func aAnswered(
        _ result: UpstreamResult, fallback: DNSReply, negativeTTL: UInt32?, aaaaFailed: Bool
    ) -> QueryAction {
        guard case .answer(let message, _) = result else {
            // D3: both failed → SERVFAIL; a good NODATA for AAAA stays what it was.
            return finish(aaaaFailed ? query.reply(rcode: .servFail, outcome: .upstreamFailure) : fallback)
        }
        // A truncated A answer would give a partial synthesis: answer TC=1 so the client retries over TCP.
        if message.header.flags.truncated { return finish(query.reply(rcode: .noError, truncated: true, outcome: .relayed)) }
        let rcode = message.header.flags.rcode
        guard rcode == .noError else {
            // D3: "if that one fails too, its error is returned".
            return finish(aaaaFailed ? query.reply(rcode: rcode, outcome: .upstreamFailure) : fallback)
        }
        guard
            let answers = Synthesis.synthesizedAnswers(
                from: message, for: query.question, negativeTTL: negativeTTL, policy: policy)
        else {
            return finish(fallback)  // D2: no A records → the original (empty) answer.
        }
        return finish(query.reply(rcode: .noError, answers: answers, outcome: .synthesized))
    }

    private func filtered(_ message: DNSMessage) -> DNSReply {
        var message = message
        message.header.id = query.id
        message.header.flags.recursionDesired = query.flags.recursionDesired
        message.header.flags.recursionAvailable = true  // D15
        message.header.flags.authoritative = false
        return DNSReply(bytes: query.fitted(message.encoded()), outcome: .filtered)
    }
}
