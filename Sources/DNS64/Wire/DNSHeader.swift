// The 12-byte message header (RFC 1035 §4.1.1; AD and CD from RFC 4035 §3.2).
//
//   0..<2 ID   2..<4 flags: QR(15) OPCODE(14-11) AA(10) TC(9) RD(8) RA(7) Z(6) AD(5) CD(4) RCODE(3-0)
//   4..<6 QDCOUNT   6..<8 ANCOUNT   8..<10 NSCOUNT   10..<12 ARCOUNT

/// The header fields other than the section counts (those follow from the sections of a `DNSMessage`).
public struct DNSHeader: Hashable, Sendable {
    /// Byte ranges of the header fields.
    enum Field {
        static let id = 0..<2
        static let flags = 2..<4
        static let qdcount = 4..<6
        static let ancount = 6..<8
        static let nscount = 8..<10
        static let arcount = 10..<12
    }

    /// Header length in bytes.
    public static let length = Field.arcount.upperBound

    /// The query ID, echoed in the response.
    public var id: UInt16
    /// The flags word.
    public var flags: Flags

    /// Creates a header.
    /// - Parameters:
    ///   - id: query ID.
    ///   - flags: flags word (default: a query with nothing set).
    public init(id: UInt16, flags: Flags = Flags()) {
        self.id = id
        self.flags = flags
    }

    /// The header of `message`, or nil when it is shorter than 12 bytes.
    /// Used to answer FORMERR to a message whose body cannot be parsed (rule N5).
    public init?(peeking message: [UInt8]) {
        guard message.count >= DNSHeader.length else { return nil }
        id = UInt16(message[0]) << 8 | UInt16(message[1])
        flags = Flags(rawValue: UInt16(message[2]) << 8 | UInt16(message[3]))
    }

    /// The second header word as named bits (RFC 1035 §4.1.1, RFC 4035 §3.2).
    public struct Flags: Hashable, Sendable {
        /// The 16 bits as on the wire.
        public var rawValue: UInt16
        /// Flags from their wire value (default: all clear, a plain query).
        public init(rawValue: UInt16 = 0) { self.rawValue = rawValue }

        @inline(__always) private func bit(_ n: UInt16) -> Bool { rawValue & (1 << n) != 0 }
        @inline(__always) private mutating func set(_ n: UInt16, _ on: Bool) {
            rawValue = on ? rawValue | (1 << n) : rawValue & ~(1 << n)
        }

        /// QR: this is a response.
        public var isResponse: Bool { get { bit(15) } set { set(15, newValue) } }
        /// OPCODE.
        public var opcode: DNSOpcode {
            get { DNSOpcode(rawValue: UInt8(truncatingIfNeeded: rawValue >> 11)) }
            set { rawValue = rawValue & ~0x7800 | UInt16(newValue.rawValue) << 11 }
        }
        /// AA: authoritative answer.
        public var authoritative: Bool { get { bit(10) } set { set(10, newValue) } }
        /// TC: truncated; the client should retry over TCP.
        public var truncated: Bool { get { bit(9) } set { set(9, newValue) } }
        /// RD: recursion desired (copied from query to response).
        public var recursionDesired: Bool { get { bit(8) } set { set(8, newValue) } }
        /// RA: recursion available.
        public var recursionAvailable: Bool { get { bit(7) } set { set(7, newValue) } }
        /// AD: authentic data (RFC 4035 §3.2.3). Never set on a synthesized answer (rule D7).
        public var authenticData: Bool { get { bit(5) } set { set(5, newValue) } }
        /// CD: checking disabled (RFC 4035 §3.2.2).
        public var checkingDisabled: Bool { get { bit(4) } set { set(4, newValue) } }
        /// RCODE (the low 4 bits; EDNS extends it in the OPT record).
        public var rcode: DNSRcode {
            get { DNSRcode(rawValue: UInt8(truncatingIfNeeded: rawValue & 0x000F)) }
            set { rawValue = rawValue & ~0x000F | UInt16(newValue.rawValue) }
        }
    }
}
