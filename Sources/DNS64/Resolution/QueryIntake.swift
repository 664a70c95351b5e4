// The checks every incoming message passes before any upstream work: rule D10 (allow list, REFUSED),
// rule N5 (FORMERR, NOTIMP; RFC 1035 §4.1.1, RFC 6891 §6.1.1). Pure: bytes and a client address in, verdict out.
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
    /// Passed to every machine.
    public var policy: SynthesisPolicy

    /// Creates an intake.
    public init(allowedClients: [ClientNetwork], policy: SynthesisPolicy) {
        self.allowedClients = allowedClients
        self.policy = policy
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
        let query = ClientQuery(id: header.id, flags: header.flags, question: question, edns: edns)
        return .resolve(QueryStateMachine(query: query, policy: policy))
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
