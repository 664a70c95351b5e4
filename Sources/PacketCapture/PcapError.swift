// The one error type of PacketCapture: which file (or filter expression), which libpcap or libc call, and what
// it said. Thrown only on cold paths (opening, reading, compiling); the live capture path counts errors instead.

/// A failure to open, read, write or compile something with libpcap, naming the file and the call.
///
/// `description` reads `PATH: CALL: MESSAGE`, e.g.
/// `in.pcap: pcap_next_ex: truncated dump file; tried to read 16 header bytes, only got 5`.
/// Equality compares `code` only, so tests can match on the kind of failure.
public struct PcapError: Error, Sendable, CustomStringConvertible, Equatable {
    /// What kind of failure this is; an open set, so callers branch on it without matching messages.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case openFailed, readFailed, writeFailed, badFilter, unsupportedLinkType
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// A file could not be opened or created, or is not a pcap/pcapng file libpcap understands.
        public static let openFailed = Code(.openFailed)
        /// Reading a packet failed: a truncated or corrupt file.
        public static let readFailed = Code(.readFailed)
        /// Writing or flushing failed (disk full, I/O error).
        public static let writeFailed = Code(.writeFailed)
        /// libpcap's filter compiler rejected the expression.
        public static let badFilter = Code(.badFilter)
        /// The file's link type is not one replay can strip to an IP packet.
        public static let unsupportedLinkType = Code(.unsupportedLinkType)

        /// The code's name, e.g. `readFailed`.
        public var description: String { base.rawValue }
    }

    /// The kind of failure.
    public var code: Code
    /// The file path, or for `badFilter` the expression in quotes.
    public var subject: String
    /// The libpcap or libc function that failed, e.g. `pcap_open_offline`.
    public var call: String
    /// What the call reported (libpcap's error text or `strerror`).
    public var message: String

    /// Creates an error.
    ///
    /// - Parameters:
    ///   - code: the kind of failure.
    ///   - subject: the file path, or the quoted filter expression.
    ///   - call: the failing function's name.
    ///   - message: what the function reported.
    public init(_ code: Code, subject: String, call: String, message: String) {
        self.code = code
        self.subject = subject
        self.call = call
        self.message = message
    }

    /// `SUBJECT: CALL: MESSAGE`.
    public var description: String { "\(subject): \(call): \(message)" }

    public static func == (lhs: PcapError, rhs: PcapError) -> Bool { lhs.code == rhs.code }
}
