// Errors of the DNS wire codec. Shape as in swift-asn1's ASN1Error: an extensible code, a reason, a source
// location, equality by code only, and a class backing so the error stays one word wide. Parsing is a cold
// path for errors only: a well-formed message never builds one.

/// A message could not be parsed. Compare errors by `code`; `reason` is for logs.
public struct DNSWireError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What kind of problem was found. Open for new cases without breaking callers.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        fileprivate enum Base: String, Sendable {
            case truncated, countBeyondMessage, compressionLoop, forwardPointer, labelTooLong, nameTooLong
            case badRData, trailingBytes, invalidName
        }

        fileprivate let base: Base

        /// A field, name or RDATA runs past the end of the message.
        public static let truncated = Code(base: .truncated)
        /// A section count promises more entries than the remaining bytes can hold (rule N5).
        public static let countBeyondMessage = Code(base: .countBeyondMessage)
        /// A compression pointer leads back into a name already being read (rule N5).
        public static let compressionLoop = Code(base: .compressionLoop)
        /// A compression pointer points at or after itself (rule N5; RFC 1035 §4.1.4 pointers point back).
        public static let forwardPointer = Code(base: .forwardPointer)
        /// A label length byte above 63: the reserved/extended label types (RFC 6891 §5) are not accepted.
        public static let labelTooLong = Code(base: .labelTooLong)
        /// A name longer than 255 bytes in wire form (RFC 1035 §2.3.4).
        public static let nameTooLong = Code(base: .nameTooLong)
        /// RDATA whose length or content does not fit its type (A not 4 bytes, names overrunning RDLENGTH, …).
        public static let badRData = Code(base: .badRData)
        /// Bytes left after the last record the header announced.
        public static let trailingBytes = Code(base: .trailingBytes)
        /// A name given as text or labels that breaks a limit (empty label, label > 63, name > 255).
        public static let invalidName = Code(base: .invalidName)

        public var description: String { base.rawValue }
    }

    private final class Backing: Sendable {
        let code: Code
        let reason: String
        let file: String
        let line: Int

        init(code: Code, reason: String, file: String, line: Int) {
            self.code = code
            self.reason = reason
            self.file = file
            self.line = line
        }
    }

    private let backing: Backing

    /// The kind of problem; the only thing equality looks at.
    public var code: Code { backing.code }
    /// A human-readable explanation (offsets, values), for logs.
    public var reason: String { backing.reason }

    /// Creates an error. Use the code's name and say where in the message it happened.
    /// - Parameters:
    ///   - code: what kind of problem.
    ///   - reason: details for logs.
    @inline(never)
    public init(_ code: Code, _ reason: String, file: String = #fileID, line: Int = #line) {
        backing = Backing(code: code, reason: reason, file: file, line: line)
    }

    public var description: String { "DNSWireError.\(code): \(reason) (\(backing.file):\(backing.line))" }

    public static func == (lhs: DNSWireError, rhs: DNSWireError) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }
}
