// A strict parser for the TOML 1.0 subset nat64d's configuration uses, recording the line of every key and value.
//
// Supported: `#` comments, `[table]` / `[a.b]` headers, `key = value` with bare or quoted keys, basic strings with
// escapes, literal strings, integers (decimal with sign and underscores; 0x/0o/0b), booleans, arrays (multi-line,
// trailing comma, comments inside) and one-line inline tables. Refused with a message naming the line: floats,
// dates and times, multi-line strings, arrays of tables and dotted keys on the left of `=`.
// Bytes are read directly (not Characters), so every index is checked through `peek` and nothing can trap.

/// Parses TOML text into a `TOMLTable`.
struct TOMLParser {
    /// Deepest nesting of header components, arrays and inline tables accepted; keeps recursion bounded.
    static let maxDepth = 32

    private let bytes: [UInt8]
    private var pos = 0
    private var line = 1
    private var root = TOMLTable(line: 1, origin: .root)
    /// The path of the table the most recent header opened (empty: the root table).
    private var current: [String] = []

    private init(_ bytes: [UInt8]) { self.bytes = bytes }

    /// Parses a whole document.
    ///
    /// - Parameter bytes: the file contents; any bytes at all (invalid UTF-8 gives an error).
    /// - Returns: the root table.
    /// - Throws: `TOMLError` with the line of the first problem.
    static func parse(_ bytes: [UInt8]) throws(TOMLError) -> TOMLTable {
        try checkUTF8(bytes)
        var parser = TOMLParser(bytes)
        return try parser.parseDocument()
    }

    /// Parses a whole document given as a `String`.
    static func parse(_ text: String) throws(TOMLError) -> TOMLTable {
        try parse(Array(text.utf8))
    }

    // MARK: Document structure

    private mutating func parseDocument() throws(TOMLError) -> TOMLTable {
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { pos = 3 }  // UTF-8 byte order mark
        while true {
            skipSpaces()
            guard let c = peek() else { return root }
            switch c {
            case UInt8(ascii: "#"), UInt8(ascii: "\n"), UInt8(ascii: "\r"):
                break
            case UInt8(ascii: "["):
                try parseHeader()
            default:
                try parseKeyValueLine()
            }
            try endOfLine()
        }
    }

    /// `[a.b]`: defines the table and makes it the target of the following keys.
    private mutating func parseHeader() throws(TOMLError) {
        let headerLine = line
        pos += 1
        if peek() == UInt8(ascii: "[") {
            throw unsupported("arrays of tables ([[…]]) are not supported; use a plain [table] header")
        }
        skipSpaces()
        let path = try parseKeyPath()
        skipSpaces()
        guard peek() == UInt8(ascii: "]") else {
            throw error("expected `]` to close the table header, found \(describe(at: pos))")
        }
        pos += 1
        guard path.count <= Self.maxDepth else {
            throw unsupported("table header [\(path.joined(separator: "."))] is nested more than \(Self.maxDepth) levels deep")
        }
        try Self.define(path[...], in: &root, line: headerLine, name: path.joined(separator: "."))
        current = path
    }

    /// Defines the table at `path` below `table` for a header on `line`, creating parents as implicit tables.
    private static func define(
        _ path: ArraySlice<String>, in table: inout TOMLTable, line: Int, name: String
    ) throws(TOMLError) {
        guard let key = path.first else { return }
        let rest = path.dropFirst()
        guard let existing = table[key] else {
            var sub = TOMLTable(line: line, origin: rest.isEmpty ? .header : .implicit)
            try define(rest, in: &sub, line: line, name: name)
            table.append(.init(key: key, line: line, value: TOMLValue(kind: .table(sub), line: line)))
            return
        }
        guard case .table(let sub) = existing.value.kind, sub.origin != .inline else {
            throw TOMLError(
                line: line,
                message: "table [\(name)] clashes with the key `\(key)` set on line \(existing.line); rename one of them")
        }
        if rest.isEmpty && sub.origin == .header {
            throw TOMLError(
                line: line,
                message: "duplicate table [\(name)]; it is already defined on line \(sub.line), merge the two sections")
        }
        _ = try table.withSubtable(key) { (sub: inout TOMLTable) throws(TOMLError) in
            if rest.isEmpty {
                sub.origin = .header
                sub.line = line
            } else {
                try define(rest, in: &sub, line: line, name: name)
            }
        }
    }

    /// `key = value` into the current table.
    private mutating func parseKeyValueLine() throws(TOMLError) {
        let (key, value) = try parseKeyValue(depth: 0)
        let keyLine = value.line
        try Self.insert(TOMLTable.Entry(key: key, line: keyLine, value: value), at: current[...], in: &root,
                        prefix: current)
    }

    private static func insert(
        _ entry: TOMLTable.Entry, at path: ArraySlice<String>, in table: inout TOMLTable, prefix: [String]
    ) throws(TOMLError) {
        guard let head = path.first else {
            try add(entry, to: &table, tableName: prefix)
            return
        }
        // Every component of `current` was created by `define`, so the sub-table exists.
        _ = try table.withSubtable(head) { (sub: inout TOMLTable) throws(TOMLError) in
            try insert(entry, at: path.dropFirst(), in: &sub, prefix: prefix)
        }
    }

    private static func add(_ entry: TOMLTable.Entry, to table: inout TOMLTable, tableName: [String]) throws(TOMLError) {
        if let first = table[entry.key] {
            let full = (tableName + [entry.key]).joined(separator: ".")
            throw TOMLError(
                line: entry.line,
                message: "duplicate key `\(full)`; it is already set on line \(first.line), remove one of them")
        }
        table.append(entry)
    }

    /// `key = value` with the value on the same line as the key; used for documents and inline tables.
    private mutating func parseKeyValue(depth: Int) throws(TOMLError) -> (String, TOMLValue) {
        let path = try parseKeyPath()
        if path.count > 1 {
            let joined = path.joined(separator: ".")
            throw unsupported(
                "dotted key `\(joined)` is not supported; put `\(path.last ?? "")` under a [\(path.dropLast().joined(separator: "."))] header")
        }
        let key = path[0]
        skipSpaces()
        guard peek() == UInt8(ascii: "=") else {
            throw error("expected `=` after the key `\(key)`, found \(describe(at: pos)); write \(key) = value")
        }
        pos += 1
        skipSpaces()
        guard let c = peek(), !isNewline(c) else {
            throw error("the key `\(key)` has no value; write the value on the same line, after `=`")
        }
        return (key, try parseValue(depth: depth))
    }

    /// One or more keys separated by dots, with optional spaces around the dots.
    private mutating func parseKeyPath() throws(TOMLError) -> [String] {
        var path: [String] = []
        while true {
            path.append(try parseKey())
            skipSpaces()
            guard peek() == UInt8(ascii: ".") else { return path }
            pos += 1
            skipSpaces()
        }
    }

    private mutating func parseKey() throws(TOMLError) -> String {
        guard let c = peek() else { throw error("expected a key, found end of file") }
        if c == UInt8(ascii: "\"") { return try parseBasicString() }
        if c == UInt8(ascii: "'") { return try parseLiteralString() }
        let start = pos
        while let b = peek(), isBareKeyByte(b) { pos += 1 }
        guard pos > start else {
            throw error("expected a key, found \(describe(at: pos)); bare keys use A-Z a-z 0-9 _ -, others need quotes")
        }
        return String(decoding: bytes[start..<pos], as: UTF8.self)
    }

    // MARK: Values

    private mutating func parseValue(depth: Int) throws(TOMLError) -> TOMLValue {
        let valueLine = line
        guard depth < Self.maxDepth else {
            throw unsupported("values nested more than \(Self.maxDepth) levels deep are not supported")
        }
        guard let c = peek() else { throw error("expected a value, found end of file") }
        let kind: TOMLValue.Kind
        switch c {
        case UInt8(ascii: "\""):
            if peek(1) == UInt8(ascii: "\"") && peek(2) == UInt8(ascii: "\"") {
                throw unsupported("multi-line strings (\"\"\"…\"\"\") are not supported; use a one-line \"string\"")
            }
            kind = .string(try parseBasicString())
        case UInt8(ascii: "'"):
            if peek(1) == UInt8(ascii: "'") && peek(2) == UInt8(ascii: "'") {
                throw unsupported("multi-line literal strings ('''…''') are not supported; use a one-line 'string'")
            }
            kind = .string(try parseLiteralString())
        case UInt8(ascii: "["):
            kind = .array(try parseArray(depth: depth))
        case UInt8(ascii: "{"):
            kind = .table(try parseInlineTable(depth: depth))
        case UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            kind = .integer(try parseNumber())
        default:
            kind = try parseWord()
        }
        return TOMLValue(kind: kind, line: valueLine)
    }

    /// `true`, `false`, or an error that says what a bare word would have to be.
    private mutating func parseWord() throws(TOMLError) -> TOMLValue.Kind {
        let start = pos
        while let b = peek(), isBareKeyByte(b) || b == UInt8(ascii: ".") { pos += 1 }
        let word = String(decoding: bytes[start..<pos], as: UTF8.self)
        switch word {
        case "true": return .boolean(true)
        case "false": return .boolean(false)
        case "inf", "nan":
            throw unsupported("floating-point values (\(word)) are not supported; use an integer")
        case "":
            throw error("expected a value (string, integer, boolean or array), found \(describe(at: start))")
        default:
            throw error("`\(word)` is not a value; strings need quotes: \"\(word)\" (booleans are true/false)")
        }
    }

    /// Integers: `[+-]digits` with single underscores between digits, or unsigned 0x / 0o / 0b.
    private mutating func parseNumber() throws(TOMLError) -> Int {
        let start = pos
        while let b = peek(), isBareKeyByte(b) || b == UInt8(ascii: "+") || b == UInt8(ascii: ".")
            || b == UInt8(ascii: ":")
        {
            pos += 1
        }
        let token = Array(bytes[start..<pos])
        let text = String(decoding: token, as: UTF8.self)
        if token.contains(UInt8(ascii: ":"))
            || (token.count >= 5 && token[4] == UInt8(ascii: "-") && token[0..<4].allSatisfy(isDigit))
        {
            throw unsupported("dates and times (\(text)) are not supported; use a string or an integer")
        }
        // TOML allows no sign before 0x / 0o / 0b; a signed one fails below as a leading zero.
        let hasRadix = token.count > 2 && token[0] == UInt8(ascii: "0")
            && [UInt8(ascii: "x"), UInt8(ascii: "o"), UInt8(ascii: "b")].contains(token[1])
        if !hasRadix
            && (token.contains(UInt8(ascii: ".")) || token.contains(UInt8(ascii: "e"))
                || token.contains(UInt8(ascii: "E")) || text.hasSuffix("inf") || text.hasSuffix("nan"))
        {
            throw unsupported("floating-point numbers (\(text)) are not supported; use an integer")
        }
        guard let value = Self.integer(token, hasRadix: hasRadix) else {
            throw error("`\(text)` is not a valid integer; write digits with an optional sign, e.g. 1500 or 65_536")
        }
        return value
    }

    /// Converts an integer token; nil for bad digits, misplaced underscores, leading zeros or overflow.
    private static func integer(_ token: [UInt8], hasRadix: Bool) -> Int? {
        var body = token[...]
        var negative = false
        var radix = 10
        if hasRadix {
            switch body.dropFirst().first {
            case UInt8(ascii: "x"): radix = 16
            case UInt8(ascii: "o"): radix = 8
            default: radix = 2
            }
            body = body.dropFirst(2)
        } else if let sign = body.first, sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") {
            negative = sign == UInt8(ascii: "-")
            body = body.dropFirst()
        }
        guard let first = body.first, first != UInt8(ascii: "_"), body.last != UInt8(ascii: "_") else { return nil }
        if radix == 10 && first == UInt8(ascii: "0") && body.count > 1 { return nil }  // no leading zeros
        var value = 0
        var previousUnderscore = false
        for b in body {
            if b == UInt8(ascii: "_") {
                if previousUnderscore { return nil }
                previousUnderscore = true
                continue
            }
            previousUnderscore = false
            guard let digit = digitValue(b), digit < radix else { return nil }
            let (shifted, o1) = value.multipliedReportingOverflow(by: radix)
            let (next, o2) = negative ? shifted.subtractingReportingOverflow(digit) : shifted.addingReportingOverflow(digit)
            if o1 || o2 { return nil }
            value = next
        }
        return value
    }

    /// `"…"` on one line, with the escapes \b \t \n \f \r \" \\ \uXXXX \UXXXXXXXX.
    private mutating func parseBasicString() throws(TOMLError) -> String {
        pos += 1
        var out: [UInt8] = []
        while true {
            guard let c = peek(), !isNewline(c) else {
                throw error("unterminated string; add the closing `\"` on the same line")
            }
            pos += 1
            switch c {
            case UInt8(ascii: "\""):
                return String(decoding: out, as: UTF8.self)
            case UInt8(ascii: "\\"):
                try parseEscape(into: &out)
            default:
                guard !isControl(c) else {
                    throw error("control character 0x\(hex(c)) inside a string; write it as an escape such as \\t or \\u00\(hex(c))")
                }
                out.append(c)
            }
        }
    }

    private mutating func parseEscape(into out: inout [UInt8]) throws(TOMLError) {
        guard let e = peek(), !isNewline(e) else {
            throw error("unterminated string; add the closing `\"` on the same line")
        }
        pos += 1
        let simple: UInt8?
        switch e {
        case UInt8(ascii: "b"): simple = 0x08
        case UInt8(ascii: "t"): simple = 0x09
        case UInt8(ascii: "n"): simple = 0x0A
        case UInt8(ascii: "f"): simple = 0x0C
        case UInt8(ascii: "r"): simple = 0x0D
        case UInt8(ascii: "\""): simple = e
        case UInt8(ascii: "\\"): simple = e
        case UInt8(ascii: "u"), UInt8(ascii: "U"): simple = nil
        default:
            throw error("unknown escape \\\(describeRaw(e)) in a string; use \\\\ for a backslash, or a 'literal string'")
        }
        if let simple {
            out.append(simple)
            return
        }
        let count = e == UInt8(ascii: "u") ? 4 : 8
        var code: UInt32 = 0
        for _ in 0..<count {
            guard let h = peek(), let d = Self.digitValue(h), d < 16 else {
                throw error("\\\(describeRaw(e)) needs exactly \(count) hex digits, e.g. \\u00e9")
            }
            code = code << 4 | UInt32(d)
            pos += 1
        }
        guard let scalar = Unicode.Scalar(code) else {
            throw error("\\\(describeRaw(e))\(String(code, radix: 16)) is not a Unicode scalar value (surrogate or above 10FFFF)")
        }
        out.append(contentsOf: String(Character(scalar)).utf8)
    }

    /// `'…'` on one line, no escapes.
    private mutating func parseLiteralString() throws(TOMLError) -> String {
        pos += 1
        let start = pos
        while true {
            guard let c = peek(), !isNewline(c) else {
                throw error("unterminated literal string; add the closing `'` on the same line")
            }
            if c == UInt8(ascii: "'") {
                pos += 1
                return String(decoding: bytes[start..<(pos - 1)], as: UTF8.self)
            }
            guard c == 0x09 || !isControl(c) else {
                throw error("control character 0x\(hex(c)) inside a literal string; use a \"basic string\" with an escape")
            }
            pos += 1
        }
    }

    /// `[ v, v, … ]`; may span lines, hold comments and end with a comma.
    private mutating func parseArray(depth: Int) throws(TOMLError) -> [TOMLValue] {
        let startLine = line
        pos += 1
        var items: [TOMLValue] = []
        while true {
            try skipBlankLines()
            guard let c = peek() else {
                throw TOMLError(line: startLine, message: "unterminated array; add the closing `]`")
            }
            if c == UInt8(ascii: "]") {
                pos += 1
                return items
            }
            items.append(try parseValue(depth: depth + 1))
            try skipBlankLines()
            guard let next = peek() else {
                throw TOMLError(line: startLine, message: "unterminated array; add the closing `]`")
            }
            pos += 1
            if next == UInt8(ascii: "]") { return items }
            guard next == UInt8(ascii: ",") else {
                pos -= 1
                throw error("expected `,` or `]` in the array that starts on line \(startLine), found \(describe(at: pos))")
            }
        }
    }

    /// `{ k = v, … }` on one line, without a trailing comma (TOML 1.0).
    private mutating func parseInlineTable(depth: Int) throws(TOMLError) -> TOMLTable {
        var table = TOMLTable(line: line, origin: .inline)
        pos += 1
        skipSpaces()
        if peek() == UInt8(ascii: "}") {
            pos += 1
            return table
        }
        while true {
            skipSpaces()
            guard !atLineEnd else { throw unclosedInlineTable() }
            let (key, value) = try parseKeyValue(depth: depth + 1)
            try Self.add(TOMLTable.Entry(key: key, line: value.line, value: value), to: &table, tableName: [])
            skipSpaces()
            guard let c = peek(), !isNewline(c) else { throw unclosedInlineTable() }
            pos += 1
            if c == UInt8(ascii: "}") { return table }
            guard c == UInt8(ascii: ",") else {
                pos -= 1
                throw error("expected `,` or `}` in the inline table, found \(describe(at: pos))")
            }
        }
    }

    private func unclosedInlineTable() -> TOMLError {
        error("inline table is not closed on its line; add `}` (inline tables must fit on one line)")
    }

    // MARK: Whitespace, comments, line ends

    private mutating func skipSpaces() {
        while let c = peek(), c == UInt8(ascii: " ") || c == 0x09 { pos += 1 }
    }

    /// Spaces, comments and newlines (inside arrays).
    private mutating func skipBlankLines() throws(TOMLError) {
        while true {
            skipSpaces()
            guard let c = peek() else { return }
            if c == UInt8(ascii: "#") {
                try skipComment()
            } else if isNewline(c) {
                try consumeNewline()
            } else {
                return
            }
        }
    }

    private mutating func skipComment() throws(TOMLError) {
        while let c = peek(), !isNewline(c) {
            guard c == 0x09 || !isControl(c) else {
                throw error("control character 0x\(hex(c)) in a comment; remove it")
            }
            pos += 1
        }
    }

    /// Consumes `\n` or `\r\n`; a lone `\r` is an error.
    private mutating func consumeNewline() throws(TOMLError) {
        if peek() == UInt8(ascii: "\r") {
            guard peek(1) == UInt8(ascii: "\n") else {
                throw error("carriage return without a line feed; save the file with \\n or \\r\\n line ends")
            }
            pos += 1
        }
        pos += 1
        line += 1
    }

    /// After a statement: spaces, an optional comment, then a newline or the end of the file.
    private mutating func endOfLine() throws(TOMLError) {
        skipSpaces()
        if peek() == UInt8(ascii: "#") { try skipComment() }
        guard let c = peek() else { return }
        guard isNewline(c) else {
            throw error("expected the end of the line, found \(describe(at: pos)); put each key = value on its own line")
        }
        try consumeNewline()
    }

    // MARK: Bytes

    private func peek(_ offset: Int = 0) -> UInt8? {
        let i = pos + offset
        return i < bytes.count ? bytes[i] : nil
    }

    /// True at a newline or the end of the input.
    private var atLineEnd: Bool { peek().map(isNewline) ?? true }

    private func isNewline(_ c: UInt8) -> Bool { c == 0x0A || c == 0x0D }
    private func isControl(_ c: UInt8) -> Bool { c < 0x20 || c == 0x7F }
    private func isBareKeyByte(_ c: UInt8) -> Bool {
        switch c {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "-"):
            return true
        default:
            return false
        }
    }
    private func isDigit(_ c: UInt8) -> Bool { c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") }

    private static func digitValue(_ c: UInt8) -> Int? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return Int(c - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return Int(c - UInt8(ascii: "a")) + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return Int(c - UInt8(ascii: "A")) + 10
        default: return nil
        }
    }

    private func hex(_ c: UInt8) -> String {
        let digits = String(c, radix: 16, uppercase: true)
        return c < 16 ? "0" + digits : digits
    }

    /// A byte for a message: printable ASCII as itself, anything else by value.
    private func describeRaw(_ c: UInt8) -> String {
        c >= 0x21 && c < 0x7F ? String(UnicodeScalar(c)) : "(byte 0x\(hex(c)))"
    }

    /// What is at `index`, for "found …" in messages.
    private func describe(at index: Int) -> String {
        guard index < bytes.count else { return "end of file" }
        let c = bytes[index]
        switch c {
        case 0x0A, 0x0D: return "end of line"
        case 0x21..<0x7F: return "`\(String(UnicodeScalar(c)))`"
        case 0x20, 0x09: return "whitespace"
        case 0x80...: return "a non-ASCII character"
        default: return "control character 0x\(hex(c))"
        }
    }

    private func error(_ message: String) -> TOMLError {
        TOMLError(line: line, message: message)
    }

    private func unsupported(_ message: String) -> TOMLError {
        TOMLError(line: line, message: message, isUnsupported: true)
    }

    /// Refuses bytes that are not UTF-8, naming the line of the first bad sequence.
    private static func checkUTF8(_ bytes: [UInt8]) throws(TOMLError) {
        var line = 1
        var iterator = bytes.makeIterator()
        var decoder = Unicode.UTF8.ForwardParser()
        while true {
            switch decoder.parseScalar(from: &iterator) {
            case .valid(let encoded):
                if encoded.count == 1 && encoded.first == 0x0A { line += 1 }
            case .error:
                throw TOMLError(line: line, message: "the file is not valid UTF-8 text; save it as UTF-8")
            case .emptyInput:
                return
            }
        }
    }
}
