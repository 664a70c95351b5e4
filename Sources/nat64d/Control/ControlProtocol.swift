// The control socket's protocol, shared by the server (ControlServer.swift) and `nat64d ctl` (CtlCommand.swift).
//
// One request per connection, as newline-delimited JSON: the client sends one `ControlRequest` object on one
// line; the server answers with one `ControlReply` object on one line and closes. Both are Codable, so neither
// side parses words or quotes by hand:
//
//   → {"command":"sessions","json":true,"sessions":{"proto":"tcp","limit":10}}
//   ← {"result":{"sessions":[...],"matched":3,"total":3}}
//   ← {"lines":["tcp [2001:db8::10]:40000 192.0.2.1:1024 idle=3s"]}     (json false: text for people)
//   ← {"error":"capture is not running"}
//
// By hand: `echo '{"command":"stats","json":true}' | socat - UNIX-CONNECT:/run/nat64d/nat64.sock`.
import FoundationEssentials

/// One control request.
struct ControlRequest: Codable, Equatable, Sendable {
    enum Command: String, Codable, CaseIterable, Sendable {
        case stats, sessions, pool4, bib, proxy, ra, who, reload, config
        case captureStart = "capture-start", captureStop = "capture-stop", captureStatus = "capture-status"
        case dns64Cache = "dns64-cache"
    }

    /// `sessions` and `bib` filters (`bib` takes only `limit`).
    struct Sessions: Codable, Equatable, Sendable {
        /// tcp, udp or icmp.
        var proto: String?
        /// ADDR or ADDR/LEN.
        var ipv6: String?
        var ipv4: String?
        var port: Int?
        var limit: Int?
    }

    /// `capture start` overrides of the `[capture]` defaults.
    struct Capture: Codable, Equatable, Sendable {
        var dir: String?
        var filter: String?
        var maxSizeMB: Int?
        var maxFiles: Int?
        enum CodingKeys: String, CodingKey { case dir, filter, maxSizeMB = "max-size-mb", maxFiles = "max-files" }
    }

    /// `who ADDR:PORT [--at TIME]`.
    struct Who: Codable, Equatable, Sendable {
        var address: String
        var port: Int
        var at: String?
    }

    var command: Command
    /// The answer as one JSON object (`result`) rather than text lines for people (`lines`).
    var json = false
    var sessions: Sessions?
    var capture: Capture?
    var who: Who?
    /// `dns64-cache`: empty the cache first.
    var flush: Bool?

    init(_ command: Command, json: Bool = false) {
        self.command = command
        self.json = json
    }

    enum CodingKeys: String, CodingKey { case command, json, sessions, capture, who, flush }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        command = try c.decode(Command.self, forKey: .command)
        json = try c.decodeIfPresent(Bool.self, forKey: .json) ?? false
        sessions = try c.decodeIfPresent(Sessions.self, forKey: .sessions)
        capture = try c.decodeIfPresent(Capture.self, forKey: .capture)
        who = try c.decodeIfPresent(Who.self, forKey: .who)
        flush = try c.decodeIfPresent(Bool.self, forKey: .flush)
    }
}

/// The answer to one request: exactly one of `result` (JSON requests), `lines` (text) or `error`.
struct ControlReply: Codable, Equatable, Sendable {
    var result: JSONValue?
    var lines: [String]?
    var error: String?

    static func text(_ lines: [String]) -> ControlReply { ControlReply(lines: lines) }
    static func failure(_ error: ControlError) -> ControlReply { ControlReply(error: error.message) }

    /// `value` as the result.
    static func json(_ value: some Encodable) -> ControlReply {
        do {
            return ControlReply(result: try JSONValue(encoding: value))
        } catch {
            return ControlReply(error: "cannot encode the answer: \(error)")
        }
    }

    /// The reply for a handler's outcome: lines, or the error.
    init(_ outcome: Result<[String], ControlError>) {
        switch outcome {
        case .success(let lines): self.lines = lines
        case .failure(let error): self.error = error.message
        }
    }

    init(result: JSONValue? = nil, lines: [String]? = nil, error: String? = nil) {
        self.result = result
        self.lines = lines
        self.error = error
    }
}

/// A control request that failed: one line for the operator.
struct ControlError: Error, Equatable, CustomStringConvertible {
    var message: String
    init(_ message: String) { self.message = message }
    var description: String { message }
}

/// Encoding and decoding of the one-line messages.
enum ControlProtocol {
    /// Longest request line accepted, in bytes (a request is a few hundred bytes; a capture filter is the
    /// longest part).
    static let maxRequestLength = 8192

    /// One message as its line (JSON with sorted keys, then a newline).
    static func line(_ value: some Encodable) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(value)) + [UInt8(ascii: "\n")]
    }

    /// Decodes one message from its line (with or without the newline).
    static func decode<T: Decodable>(_ type: T.Type, from bytes: some Collection<UInt8>) throws -> T {
        try JSONDecoder().decode(type, from: Data(bytes))
    }
}

/// Any JSON value, so a reply can carry each command's result object without the client knowing its type.
/// Integers stay exact (64-bit counters), objects keep no order (they are written with sorted keys).
enum JSONValue: Codable, Equatable, Sendable {
    case null
    case bool(Bool)
    case int(Int64)
    case uint(UInt64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    /// `value`, encoded and read back as a JSON value.
    init(encoding value: some Encodable) throws {
        self = try JSONDecoder().decode(JSONValue.self, from: JSONEncoder().encode(value))
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() {
            self = .null
        } else if let b = try? c.decode(Bool.self) {
            self = .bool(b)
        } else if let i = try? c.decode(Int64.self) {
            self = .int(i)
        } else if let u = try? c.decode(UInt64.self) {
            self = .uint(u)
        } else if let d = try? c.decode(Double.self) {
            self = .double(d)
        } else if let s = try? c.decode(String.self) {
            self = .string(s)
        } else if let a = try? c.decode([JSONValue].self) {
            self = .array(a)
        } else {
            self = .object(try c.decode([String: JSONValue].self))
        }
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .bool(let b): try c.encode(b)
        case .int(let i): try c.encode(i)
        case .uint(let u): try c.encode(u)
        case .double(let d): try c.encode(d)
        case .string(let s): try c.encode(s)
        case .array(let a): try c.encode(a)
        case .object(let o): try c.encode(o)
        }
    }

    /// The member `key` of an object.
    subscript(key: String) -> JSONValue? {
        if case .object(let o) = self { return o[key] }
        return nil
    }
}
