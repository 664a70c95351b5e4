// The Host of an HTTP/1.x request (RFC 9112 §3, §3.2; RFC 9110 §7.2), read from the request head the client
// sends first, to pick a route. Only the head is parsed; the body and later requests pass through untouched.
//
// Rules (IP-H*, tested in HTTPHostTests):
//   IP-H1  the head is the request line and header lines up to the first empty line, lines ending in CRLF
//          (a bare LF is accepted, RFC 9112 §2.2); it is bounded (`maxBytes`): longer is refused as too large.
//   IP-H2  the request line is METHOD SP TARGET SP HTTP/1.x; anything else is refused as not HTTP/1.x.
//   IP-H3  an absolute-form target (`http://name/...`) names the host and wins over Host (RFC 9112 §3.2.2).
//   IP-H4  Host is matched case-insensitively by name; two Host fields are refused (RFC 9112 §3.2: 400);
//          HTTP/1.1 without Host is refused, HTTP/1.0 without Host is "no host" (the default route).
//   IP-H5  the host is lower-cased; a port (`:8080`) and a trailing dot are removed; `[v6]` keeps its brackets
//          off; names follow the same character rule as SNI (IP-T5).

/// What the first bytes of an HTTP/1.x connection say about its host.
public enum HTTPHostResult: Equatable, Sendable {
    /// The request head is not complete yet.
    case needMore
    /// The head names this host; `headLength` is the byte count of the head without its closing empty line,
    /// where added header fields go.
    case host(String, headLength: Int)
    /// A valid HTTP/1.0 head without a host.
    case noHost(headLength: Int)
    /// Not an HTTP/1.x request head.
    case invalid(String)
    /// The head is longer than the limit.
    case tooLarge
}

/// Reads the Host from the start of an HTTP/1.x stream.
public enum HTTPHost {
    /// Default bound on the request head (IP-H1).
    public static let defaultMaxBytes = 8192

    /// Parses as much of `bytes` as is there.
    ///
    /// - Parameters:
    ///   - bytes: everything the client sent so far, from its first byte.
    ///   - maxBytes: the longest head accepted.
    public static func parse<C: RandomAccessCollection>(_ bytes: C, maxBytes: Int = defaultMaxBytes)
        -> HTTPHostResult where C.Element == UInt8, C.Index == Int
    {
        // IP-H1: split into lines until the empty one.
        var lines: [Range<Int>] = []
        var start = bytes.startIndex
        var i = bytes.startIndex
        let limit = min(bytes.endIndex, bytes.startIndex + maxBytes)
        while i < limit {
            if bytes[i] == 0x0A {
                var end = i
                if end > start && bytes[end - 1] == 0x0D { end -= 1 }
                if end == start {
                    if lines.isEmpty { return .invalid("empty line before the request line") }
                    return interpret(bytes, lines, headLength: start - bytes.startIndex)
                }
                lines.append(start..<end)
                start = i + 1
            }
            i += 1
        }
        // IP-H2 early: a first line that cannot be a request line needs no more bytes to be refused.
        if lines.isEmpty, let problem = requestLinePrefixProblem(bytes[bytes.startIndex..<limit]) {
            return .invalid(problem)
        }
        return bytes.endIndex - bytes.startIndex >= maxBytes ? .tooLarge : .needMore
    }

    static func interpret<C: RandomAccessCollection>(_ bytes: C, _ lines: [Range<Int>], headLength: Int)
        -> HTTPHostResult where C.Element == UInt8, C.Index == Int
    {
        // IP-H2
        let requestLine = Array(bytes[lines[0]])
        let parts = requestLine.split(separator: 0x20, omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[0].isEmpty, parts[0].allSatisfy(isTokenCharacter), !parts[1].isEmpty
        else { return .invalid("not an HTTP request line") }
        let version = String(decoding: parts[2], as: UTF8.self)
        guard version == "HTTP/1.1" || version == "HTTP/1.0" else { return .invalid("not HTTP/1.0 or HTTP/1.1") }
        // IP-H3
        var fromTarget: String?
        let target = String(decoding: parts[1], as: UTF8.self)
        let lowerTarget = target.lowercased()
        for scheme in ["http://", "https://"] where lowerTarget.hasPrefix(scheme) {
            let rest = target.dropFirst(scheme.count)
            let authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
            guard let host = hostPart(Substring(authority.split(separator: "@").last ?? "")) else {
                return .invalid("absolute target without a valid host")
            }
            fromTarget = host
        }
        // IP-H4
        var hostField: String?
        for line in lines.dropFirst() {
            let field = bytes[line]
            guard let colon = field.firstIndex(of: UInt8(ascii: ":")), colon > field.startIndex else {
                return .invalid("header line without a field name")
            }
            let name = field[field.startIndex..<colon]
            guard name.allSatisfy(isTokenCharacter) else { return .invalid("invalid header field name") }
            guard name.count == 4, String(decoding: name, as: UTF8.self).lowercased() == "host" else { continue }
            guard hostField == nil else { return .invalid("two Host header fields") }
            let value = String(decoding: field[(colon + 1)...], as: UTF8.self)
                .trimmingBlanks()
            guard let host = hostPart(Substring(value)) else { return .invalid("Host is not a valid host") }
            hostField = host
        }
        if let host = fromTarget ?? hostField { return .host(host, headLength: headLength) }
        if version == "HTTP/1.1" { return .invalid("HTTP/1.1 request without Host") }
        return .noHost(headLength: headLength)
    }

    /// IP-H5: `name[:port]` or `[v6][:port]` → the lower-case name (or the v6 text without brackets).
    static func hostPart(_ text: Substring) -> String? {
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            let inside = text[text.index(after: text.startIndex)..<close]
            guard !inside.isEmpty, inside.allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." }) else { return nil }
            let rest = text[text.index(after: close)...]
            guard rest.isEmpty || (rest.first == ":" && rest.dropFirst().allSatisfy(\.isASCIIDigit)) else { return nil }
            return inside.lowercased()
        }
        var name = text
        if let colon = text.lastIndex(of: ":") {
            guard text[text.index(after: colon)...].allSatisfy(\.isASCIIDigit) else { return nil }
            name = text[..<colon]
        }
        return ClientHello.hostName(name.utf8)
    }

    /// Why the start of a first line cannot begin an HTTP/1.x request line, if it cannot.
    static func requestLinePrefixProblem<C: Collection>(_ bytes: C) -> String? where C.Element == UInt8 {
        for c in bytes {
            if c == 0x20 { return nil }  // a method was read; the rest is checked when the line is whole
            if !isTokenCharacter(c) { return "not an HTTP request line" }
        }
        return nil
    }

    /// RFC 9110 §5.6.2 tchar.
    static func isTokenCharacter(_ c: UInt8) -> Bool {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "a")...UInt8(ascii: "z"):
            return true
        default:
            return "!#$%&'*+-.^_`|~".utf8.contains(c)
        }
    }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}

extension String {
    /// The string without leading and trailing spaces and tabs.
    func trimmingBlanks() -> String {
        let chars: Set<Character> = [" ", "\t"]
        var s = Substring(self)
        while let f = s.first, chars.contains(f) { s = s.dropFirst() }
        while let l = s.last, chars.contains(l) { s = s.dropLast() }
        return String(s)
    }
}
