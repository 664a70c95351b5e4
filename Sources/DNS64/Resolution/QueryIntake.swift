// The checks every incoming message passes before any upstream work: rule D10 (allow list, REFUSED, client
// groups), rule N5 (FORMERR, NOTIMP; RFC 1035 §4.1.1, RFC 6891 §6.1.1), rule N2 (BADVERS for EDNS versions
// above 0, RFC 6891 §6.1.3). Pure: bytes and a client address in, verdict out.
import NAT64Translator
import NIOCore

/// What to do with one incoming message.
public enum IntakeVerdict: Sendable {
    /// Send nothing.
    case drop(IntakeDropReason)
    /// Answer at once (REFUSED, FORMERR, NOTIMP) without asking upstream.
    case reply(DNSReply)
    /// A well-formed query from an allowed client: drive this machine.
    case resolve(QueryStateMachine)
}

/// Why a message got no reply at all.
public enum IntakeDropReason: Hashable, Sendable {
    /// Shorter than a header: there is no ID to answer to.
    case noHeader
    /// QR=1: a response, never answered (answering could start a loop between servers).
    case notAQuery
}

/// Turns raw client messages into query machines or immediate replies.
public struct QueryIntake: Sendable {
    /// Clients that may use this server (D10). Everyone else is REFUSED.
    public var allowedClients: [ClientNetwork]
    /// Passed to every machine whose client is in no group.
    public var policy: SynthesisPolicy {
        didSet { reversePrefixes = QueryIntake.allPrefixes(policy, groups) }
    }
    /// Client groups with their own synthesis settings (D10); the first group holding the client wins.
    public var groups: [ClientGroup] {
        didSet { reversePrefixes = QueryIntake.allPrefixes(policy, groups) }
    }
    /// D13: whether RD=0 queries are resolved upstream like any other (false: answered from the cache only).
    public var recurseWithoutRD: Bool
    /// D14: the prefixes of the default policy and of every group, each once, in that order.
    public private(set) var reversePrefixes: [NAT64Prefix]

    /// Creates an intake.
    /// - Parameters:
    ///   - allowedClients: who may query at all (D10).
    ///   - policy: the synthesis settings for clients in no group.
    ///   - groups: client groups with their own settings (default none).
    ///   - recurseWithoutRD: resolve RD=0 queries upstream too (D13; default false: cache only).
    public init(
        allowedClients: [ClientNetwork], policy: SynthesisPolicy, groups: [ClientGroup] = [],
        recurseWithoutRD: Bool = false
    ) {
        self.allowedClients = allowedClients
        self.policy = policy
        self.groups = groups
        self.recurseWithoutRD = recurseWithoutRD
        reversePrefixes = QueryIntake.allPrefixes(policy, groups)
    }

    /// D14 (RFC 6147 §5.3.1): every configured prefix, whichever group it belongs to.
    static func allPrefixes(_ policy: SynthesisPolicy, _ groups: [ClientGroup]) -> [NAT64Prefix] {
        var all: [NAT64Prefix] = []
        for prefix in policy.prefixes + groups.flatMap(\.policy.prefixes) where !all.contains(prefix) {
            all.append(prefix)
        }
        return all
    }

    /// D10: the synthesis settings for `client` and the group's number (0: no group, i + 1: `groups[i]`).
    public func policy(for client: SocketAddress) -> (SynthesisPolicy, group: Int) {
        let group = group(for: client)
        return (group == 0 ? policy : groups[group - 1].policy, group)
    }

    /// D10: the number of `client`'s group (0: none), without copying its settings (the cache-hit path).
    public func group(for client: SocketAddress) -> Int {
        guard let ip = ClientIP(client) else { return 0 }
        return group(for: ip)
    }

    /// `group(for:)` from the address alone.
    func group(for ip: ClientIP) -> Int {
        for i in groups.indices where groups[i].clients.contains(where: { $0.contains(ip) }) { return i + 1 }
        return 0
    }

    /// Checks one message from `client`, in this order: a header (else drop), QR=0 (else drop), the allow
    /// list (D10, REFUSED), opcode QUERY (N5, NOTIMP), a parseable message with exactly one question and at
    /// most one root-owned OPT record (N5, FORMERR).
    /// - Parameters:
    ///   - bytes: the UDP payload.
    ///   - client: the source address.
    /// - Returns: the verdict.
    public func accept(_ bytes: [UInt8], from client: SocketAddress) -> IntakeVerdict {
        guard let header = DNSHeader(peeking: bytes) else { return .drop(.noHeader) }
        guard !header.flags.isResponse else { return .drop(.notAQuery) }
        let message = try? DNSMessage(parsing: bytes)
        let question = message?.questions.count == 1 ? message?.questions.first : nil
        let edns = message?.edns

        guard allowedClients.contains(where: { $0.contains(client) }) else {
            return .reply(QueryIntake.reply(to: header, question: question, edns: edns, rcode: .refused, .refused))
        }
        guard header.flags.opcode == .query else {
            return .reply(QueryIntake.reply(to: header, question: question, edns: edns, rcode: .notImp, .notImp))
        }
        guard let message, let question, QueryIntake.hasValidOPT(message) else {
            return .reply(QueryIntake.reply(to: header, question: question, edns: nil, rcode: .formErr, .formErr))
        }
        if let edns, edns.version > 0 {
            // RFC 6891 §6.1.3: BADVERS (16) = extended RCODE 1 with header RCODE 0, our version (0) in the OPT.
            let opt = EDNSInfo(
                udpPayloadSize: ClientQuery.advertisedPayloadSize, extendedRcode: 1, dnssecOK: edns.dnssecOK)
            let message = DNSMessage(
                header: header.reply(rcode: .noError), questions: [question], additionals: [opt.record])
            return .reply(DNSReply(bytes: message.encoded(), outcome: .badVersion))
        }
        let query = ClientQuery(id: header.id, flags: header.flags, question: question, edns: edns)
        let (policy, group) = policy(for: client)
        return .resolve(
            QueryStateMachine(
                query: query, policy: policy, group: group, reversePrefixes: reversePrefixes,
                cacheOnly: !header.flags.recursionDesired && !recurseWithoutRD))
    }

    /// RFC 6891 §6.1.1: at most one OPT record, owned by the root, in the additional section only.
    static func hasValidOPT(_ message: DNSMessage) -> Bool {
        let opts = message.additionals.filter { $0.type == .opt }
        let misplaced = (message.answers + message.authorities).contains { $0.type == .opt }
        return !misplaced && opts.count <= 1 && opts.allSatisfy { $0.name == .root }
    }

    /// An error reply that echoes ID, opcode, RD and, when it could be read, the question.
    static func reply(
        to header: DNSHeader, question: DNSQuestion?, edns: EDNSInfo?, rcode: DNSRcode, _ outcome: DNSReply.Outcome
    ) -> DNSReply {
        let message = DNSMessage(
            header: header.reply(rcode: rcode), questions: question.map { [$0] } ?? [],
            additionals: EDNSInfo.replyRecords(for: edns))
        return DNSReply(bytes: message.encoded(), outcome: outcome)
    }
}
