// Typed access to the parsed TOML: sections, unknown-key checks, and one getter per TOML type. Each getter
// records a ConfigError (with the value's line and a fix) instead of throwing, so one pass finds every problem.

/// A value from the file together with the line it was written on.
struct Located<Value> {
    var value: Value
    var line: Int
}

/// What is wrong with a piece of text, phrased to follow the value: `"10.0.0.0/8" <problem>`.
struct Problem: Error {
    var text: String
    init(_ text: String) { self.text = text }
}

/// The bounds of an integer key, with the unit and the reason for the bounds, for messages.
struct IntegerRule {
    var range: ClosedRange<Int>
    /// Appended to numbers in messages, e.g. " seconds".
    var unit: String = ""
    /// Appended to the message, e.g. " (RFC 6146 §4: UDP_MIN is 2 minutes)".
    var reason: String = ""
}

/// Walks the parsed document, collecting every problem as a `ConfigError`.
struct ConfigReader {
    /// One `[section]` of the file, possibly absent.
    struct Section {
        let name: String
        /// nil when the file has no such section (or it is not a table, which was already reported).
        let table: TOMLTable?
        /// The header's line, or 1 when the section is absent: where "add this key" errors point.
        var line: Int { table?.line ?? 1 }
        subscript(key: String) -> TOMLTable.Entry? { table?[key] }
        /// `section.key`, as messages name keys.
        func path(_ key: String) -> String { "\(name).\(key)" }
    }

    let file: String
    let root: TOMLTable
    private(set) var errors: [ConfigError] = []

    init(file: String, root: TOMLTable) {
        self.file = file
        self.root = root
    }

    mutating func fail(_ line: Int, _ code: ConfigError.Code, _ message: String) {
        errors.append(ConfigError(file: file, line: line, code: code, message: message))
    }

    // MARK: Sections and unknown keys

    /// Reports top-level entries that are not one of `sections`, suggesting the closest name.
    mutating func checkTopLevel(sections: [(name: String, keys: [String])]) {
        let names = sections.map(\.name)
        for entry in root.entries where !names.contains(entry.key) {
            guard case .table = entry.value.kind else {
                let home = sections.first { $0.keys.contains(entry.key) }?.name
                let fix = home.map { "; move it under the [\($0)] header" }
                    ?? "; keys belong in one of the sections " + names.map { "[\($0)]" }.joined(separator: ", ")
                fail(entry.line, .unknownKey, "key `\(entry.key)` is outside any section\(fix)")
                continue
            }
            fail(entry.line, .unknownKey, "unknown section [\(entry.key)]" + Self.hint(entry.key, names, "sections"))
        }
    }

    /// The section `name`, after reporting each of its keys that is not in `keys`.
    mutating func section(_ name: String, keys: [String]) -> Section {
        guard let entry = root[name] else { return Section(name: name, table: nil) }
        guard case .table(let table) = entry.value.kind else {
            fail(entry.line, .wrongType, "`\(name)` must be a section, but it is \(entry.value.typeDescription); "
                + "write [\(name)] on a line of its own and put its keys below it")
            return Section(name: name, table: nil)
        }
        for item in table.entries where !keys.contains(item.key) {
            let what = if case .table = item.value.kind { "section [\(name).\(item.key)]" } else { "key `\(name).\(item.key)`" }
            fail(item.line, .unknownKey, "unknown \(what)" + Self.hint(item.key, keys, "keys in [\(name)]"))
        }
        return Section(name: name, table: table)
    }

    /// "; did you mean `x`?" when a candidate is close, else the list of valid names.
    static func hint(_ name: String, _ candidates: [String], _ what: String) -> String {
        if let close = Suggestion.closest(to: name, among: candidates) { return "; did you mean `\(close)`?" }
        return "; valid \(what): " + candidates.joined(separator: ", ")
    }

    // MARK: Typed getters

    /// Records a "missing required key" error when `key` is absent.
    ///
    /// - Parameter example: a complete line to add, e.g. `prefix = "64:ff9b::/96"`.
    /// - Returns: whether the key is present.
    mutating func require(_ section: Section, _ key: String, example: String) -> Bool {
        if section[key] != nil { return true }
        let where_ = section.table == nil
            ? "the file has no [\(section.name)] section; add [\(section.name)] with the line \(example)"
            : "add the line \(example) to the [\(section.name)] section"
        fail(section.line, .missingKey, "missing required key \(section.path(key)); \(where_)")
        return false
    }

    /// A string value; nil when absent or of another type (reported).
    mutating func string(_ section: Section, _ key: String, example: String) -> Located<String>? {
        guard let entry = section[key] else { return nil }
        if case .string(let text) = entry.value.kind { return Located(value: text, line: entry.line) }
        reportType(entry, section.path(key), expected: "a string", fix: "quote it: \(key) = \(example)")
        return nil
    }

    /// An integer value within `rule`; `fallback` when absent, nil when invalid (reported).
    mutating func integer(_ section: Section, _ key: String, default fallback: Int, _ rule: IntegerRule) -> Int? {
        guard let entry = section[key] else { return fallback }
        let path = section.path(key)
        switch entry.value.kind {
        case .integer(let n):
            if n < rule.range.lowerBound {
                fail(entry.line, .invalidValue,
                     "\(path) = \(n) is too small; use at least \(rule.range.lowerBound)\(rule.unit)\(rule.reason)")
            } else if n > rule.range.upperBound {
                fail(entry.line, .invalidValue,
                     "\(path) = \(n) is too large; use at most \(rule.range.upperBound)\(rule.unit)\(rule.reason)")
            } else {
                return n
            }
        case .string(let text) where Int(text) != nil:
            reportType(entry, path, expected: "an integer", fix: "remove the quotes: \(key) = \(text)")
        default:
            reportType(entry, path, expected: "an integer", fix: "write e.g. \(key) = \(fallback)")
        }
        return nil
    }

    /// A boolean value; `fallback` when absent, nil when of another type (reported).
    mutating func boolean(_ section: Section, _ key: String, default fallback: Bool) -> Bool? {
        guard let entry = section[key] else { return fallback }
        if case .boolean(let b) = entry.value.kind { return b }
        reportType(entry, section.path(key), expected: "a boolean", fix: "write \(key) = true or \(key) = false")
        return nil
    }

    /// An array of strings, each with its own line; nil when absent or malformed (reported).
    mutating func strings(_ section: Section, _ key: String, example: String) -> [Located<String>]? {
        guard let entry = section[key] else { return nil }
        let path = section.path(key)
        switch entry.value.kind {
        case .array(let items):
            var out: [Located<String>] = []
            for item in items {
                guard case .string(let text) = item.kind else {
                    fail(item.line, .wrongType, "\(path) entries must be strings, but one is \(item.typeDescription); "
                        + "write e.g. \(key) = \(example)")
                    return nil
                }
                out.append(Located(value: text, line: item.line))
            }
            return out
        case .string(let text):
            reportType(entry, path, expected: "an array of strings", fix: "put it in brackets: \(key) = [\(Self.quoted(text))]")
        default:
            reportType(entry, path, expected: "an array of strings", fix: "write e.g. \(key) = \(example)")
        }
        return nil
    }

    private mutating func reportType(_ entry: TOMLTable.Entry, _ path: String, expected: String, fix: String) {
        fail(entry.line, .wrongType, "\(path) must be \(expected), but it is \(entry.value.typeDescription); \(fix)")
    }

    // MARK: Converting text

    /// Converts a string with `convert`; a `Problem` becomes an error reading `<label> "<text>" <problem>`.
    mutating func convert<T>(
        _ item: Located<String>, label: String, _ convert: (String) -> Result<T, Problem>
    ) -> T? {
        switch convert(item.value) {
        case .success(let value):
            return value
        case .failure(let problem):
            fail(item.line, .invalidValue, "\(label) \(Self.quoted(item.value)) \(problem.text)")
            return nil
        }
    }

    /// Converts each string of an array; nil if any entry fails (each failure is reported on its own line).
    mutating func convertAll<T>(
        _ items: [Located<String>], label: String, _ convert: (String) -> Result<T, Problem>
    ) -> [Located<T>]? {
        var out: [Located<T>] = []
        var ok = true
        for item in items {
            if let value = self.convert(item, label: "\(label) entry", convert) {
                out.append(Located(value: value, line: item.line))
            } else {
                ok = false
            }
        }
        return ok ? out : nil
    }

    /// `text` as a TOML basic string, so control characters in a message stay visible and on one line.
    static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F:
                let hex = String(scalar.value, radix: 16, uppercase: true)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
