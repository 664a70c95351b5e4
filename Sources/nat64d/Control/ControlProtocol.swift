// The control socket's line protocol, shared by the server and `nat64d ctl`.
//
// One request per connection. The client sends one line: words separated by spaces, a word holding spaces or
// quotes written in double quotes with \" and \\ escapes (`capture start --filter "tcp port 80"`). The server
// answers with zero or more body lines, then a last line `OK` or `ERROR <message>`, and closes. Body lines
// never start with `OK` or `ERROR`, so the last line is unambiguous; `socat - UNIX:PATH` works by hand.

/// Encoding and decoding of control lines.
enum ControlProtocol {
    /// Longest request line accepted, in bytes.
    static let maxRequestLength = 4096

    /// The words of a request line.
    ///
    /// - Parameter line: the line, without its newline.
    /// - Returns: the words, or a message when a quote is unterminated.
    static func words(_ line: String) -> Result<[String], ControlError> {
        var words: [String] = []
        var current = ""
        var inWord = false
        var quoted = false
        var escaped = false
        for c in line {
            if escaped {
                current.append(c)
                escaped = false
            } else if quoted {
                if c == "\\" { escaped = true } else if c == "\"" { quoted = false } else { current.append(c) }
            } else if c == " " || c == "\t" {
                if inWord { words.append(current) }
                current = ""
                inWord = false
            } else {
                inWord = true
                if c == "\"" { quoted = true } else { current.append(c) }
            }
        }
        if quoted || escaped { return .failure(ControlError("unterminated quote in request")) }
        if inWord { words.append(current) }
        return .success(words)
    }

    /// One request line (with its newline) for `words`, quoting where needed.
    ///
    /// - Parameter words: the command words, e.g. `["capture", "start", "--filter", "tcp port 80"]`.
    /// - Returns: the line, or an error when a word holds a line break.
    static func requestLine(_ words: [String]) -> Result<String, ControlError> {
        var parts: [String] = []
        for word in words {
            if word.contains(where: { $0 == "\n" || $0 == "\r" }) {
                return .failure(ControlError("arguments cannot contain line breaks"))
            }
            if !word.isEmpty && !word.contains(where: { $0 == " " || $0 == "\t" || $0 == "\"" || $0 == "\\" }) {
                parts.append(word)
            } else {
                var q = "\""
                for c in word {
                    if c == "\"" || c == "\\" { q.append("\\") }
                    q.append(c)
                }
                parts.append(q + "\"")
            }
        }
        return .success(parts.joined(separator: " ") + "\n")
    }

    /// The full response for a result: body lines, then `OK` or `ERROR message`.
    static func response(_ result: Result<[String], ControlError>) -> String {
        switch result {
        case .success(let lines): (lines.map { $0 + "\n" }).joined() + "OK\n"
        case .failure(let error): "ERROR \(error.message)\n"
        }
    }

    /// Splits a received response into its body and outcome.
    ///
    /// - Parameter text: everything the server sent.
    /// - Returns: the body lines on `OK`, or the error; a response without a status line is an error too.
    static func parseResponse(_ text: String) -> Result<[String], ControlError> {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        guard let status = lines.popLast() else {
            return .failure(ControlError("nat64d closed the connection without answering"))
        }
        if status == "OK" { return .success(lines) }
        if status.hasPrefix("ERROR ") { return .failure(ControlError(String(status.dropFirst(6)))) }
        return .failure(ControlError("nat64d's answer was cut off (last line: \(status))"))
    }
}

/// A control request that failed: one line for the operator.
struct ControlError: Error, Equatable, CustomStringConvertible {
    var message: String
    init(_ message: String) { self.message = message }
    var description: String { message }
}
