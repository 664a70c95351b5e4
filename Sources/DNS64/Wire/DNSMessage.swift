// A whole DNS message (RFC 1035 §4.1): header, question, answer, authority and additional sections.

/// A parsed or built DNS message. Parsing checks everything (rule N5); encoding cannot fail.
public struct DNSMessage: Hashable, Sendable {
    /// ID and flags; section counts follow from the arrays.
    public var header: DNSHeader
    /// The question section (exactly one entry in queries this server accepts).
    public var questions: [DNSQuestion]
    /// The answer section.
    public var answers: [DNSResourceRecord]
    /// The authority section (the SOA of a negative answer sits here, RFC 2308 §3).
    public var authorities: [DNSResourceRecord]
    /// The additional section (the OPT record sits here, RFC 6891 §6.1.1).
    public var additionals: [DNSResourceRecord]

    /// Creates a message from its parts.
    public init(
        header: DNSHeader, questions: [DNSQuestion] = [], answers: [DNSResourceRecord] = [],
        authorities: [DNSResourceRecord] = [], additionals: [DNSResourceRecord] = []
    ) {
        self.header = header
        self.questions = questions
        self.answers = answers
        self.authorities = authorities
        self.additionals = additionals
    }

    /// Parses a message, checking every count, length, name and pointer against the bytes (rule N5).
    /// - Parameter bytes: the whole message (one UDP payload, or a TCP message without its length prefix).
    /// - Throws: `DNSWireError`; `.countBeyondMessage` when the header promises more entries than the bytes
    ///   can hold, `.trailingBytes` when bytes are left over.
    public init(parsing bytes: [UInt8]) throws(DNSWireError) {
        guard let header = DNSHeader(peeking: bytes) else {
            throw DNSWireError(.truncated, "message of \(bytes.count) bytes has no complete header")
        }
        var reader = DNSReader(bytes, offset: DNSHeader.length)
        func count(_ field: Range<Int>) -> Int { Int(bytes[field.lowerBound]) << 8 | Int(bytes[field.lowerBound + 1]) }
        let qd = count(DNSHeader.Field.qdcount)
        let an = count(DNSHeader.Field.ancount)
        let ns = count(DNSHeader.Field.nscount)
        let ar = count(DNSHeader.Field.arcount)
        // Cheap first check, before any allocation: every entry takes at least its minimum size.
        let least = qd * DNSQuestion.minimumLength + (an + ns + ar) * DNSResourceRecord.minimumLength
        guard least <= reader.remaining else {
            throw DNSWireError(
                .countBeyondMessage, "counts \(qd)/\(an)/\(ns)/\(ar) need \(least) bytes, \(reader.remaining) left")
        }
        self.header = header
        questions = []
        questions.reserveCapacity(qd)
        for _ in 0..<qd { questions.append(try DNSQuestion(reading: &reader)) }
        answers = try DNSMessage.readRecords(&reader, count: an)
        authorities = try DNSMessage.readRecords(&reader, count: ns)
        additionals = try DNSMessage.readRecords(&reader, count: ar)
        guard reader.remaining == 0 else {
            throw DNSWireError(.trailingBytes, "\(reader.remaining) bytes after the last record")
        }
    }

    private static func readRecords(_ reader: inout DNSReader, count: Int) throws(DNSWireError) -> [DNSResourceRecord] {
        var records: [DNSResourceRecord] = []
        records.reserveCapacity(count)
        for _ in 0..<count { records.append(try DNSResourceRecord(reading: &reader)) }
        return records
    }

    /// The message in wire form; section counts come from the arrays.
    /// - Parameter compress: whether names may point at earlier copies (RFC 1035 §4.1.4).
    /// - Returns: the bytes.
    public func encoded(compress: Bool = true) -> [UInt8] {
        var writer = DNSWriter(compression: compress)
        writer.write(header.id)
        writer.write(header.flags.rawValue)
        for section in [questions.count, answers.count, authorities.count, additionals.count] {
            writer.write(UInt16(clamping: section))
        }
        for question in questions { question.emit(into: &writer) }
        for record in answers { record.emit(into: &writer) }
        for record in authorities { record.emit(into: &writer) }
        for record in additionals { record.emit(into: &writer) }
        return writer.bytes
    }

    /// The EDNS values of the first OPT record in the additional section, if any.
    public var edns: EDNSInfo? {
        additionals.lazy.compactMap(EDNSInfo.init).first
    }
}
