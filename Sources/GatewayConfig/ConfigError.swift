// The one error type of GatewayConfig: where in which file, what kind, and a message that includes the fix.

/// A problem with the configuration file, located by file and line.
///
/// `description` is `FILE:LINE: MESSAGE`, and the message says both what is wrong and what to write instead, e.g.
/// `nat64.toml:7: translator.prefix "2001:db8::/80" has length 80; use one of /32, /40, /48, /56, /64, /96 (RFC 6052)`.
public struct ConfigError: Error, Sendable, CustomStringConvertible, Equatable {
    /// What kind of problem this is; an open set of values, so callers can branch without matching messages.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case unreadableFile, syntax, unsupportedSyntax, unknownKey, missingKey, wrongType, invalidValue, conflict
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The file could not be opened or read (line 0; the message carries the errno text).
        public static let unreadableFile = Code(.unreadableFile)
        /// The text is not valid TOML (unterminated string, duplicate key, stray character…).
        public static let syntax = Code(.syntax)
        /// Valid TOML that this parser refuses: floats, dates, multi-line strings, arrays of tables, dotted keys.
        public static let unsupportedSyntax = Code(.unsupportedSyntax)
        /// A key or section the schema does not have.
        public static let unknownKey = Code(.unknownKey)
        /// A required key (translator.prefix, translator.pool4, gateway.ipv4, gateway.ipv6) is absent.
        public static let missingKey = Code(.missingKey)
        /// A value of the wrong TOML type, e.g. a quoted number.
        public static let wrongType = Code(.wrongType)
        /// A value of the right type that is out of range or malformed.
        public static let invalidValue = Code(.invalidValue)
        /// Two individually valid values that contradict each other (pool4 holding the gateway's address…).
        public static let conflict = Code(.conflict)

        /// The code's name, e.g. `missingKey`.
        public var description: String { base.rawValue }
    }

    /// The path of the configuration file, as given to `parse` or `load`.
    public var file: String
    /// 1-based line of the problem; 0 when the file could not be read at all.
    public var line: Int
    /// What kind of problem this is.
    public var code: Code
    /// What is wrong and how to fix it.
    public var message: String

    /// Creates an error.
    ///
    /// - Parameters:
    ///   - file: the configuration file's path.
    ///   - line: 1-based line, or 0 for the file as a whole.
    ///   - code: the kind of problem.
    ///   - message: what is wrong and the fix.
    public init(file: String, line: Int, code: Code, message: String) {
        self.file = file
        self.line = line
        self.code = code
        self.message = message
    }

    /// `FILE:LINE: MESSAGE`.
    public var description: String { "\(file):\(line): \(message)" }
}
