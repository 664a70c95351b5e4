// The values of the TOML subset nat64d reads, each tagged with the line it starts on.
//
// Contract for the whole `TOML/` folder: `TOMLParser.parse(_:)` takes any byte sequence and returns either a
// `TOMLTable` or a `TOMLError` naming a line. It never traps. Nesting (header paths, arrays, inline tables) is
// capped at `TOMLParser.maxDepth`, so no input can exhaust the stack.

/// A TOML value and the 1-based line on which it starts.
struct TOMLValue: Sendable, Equatable {
    /// The TOML types this subset supports. Floats, dates and multi-line strings are refused by the parser.
    enum Kind: Sendable, Equatable {
        case string(String)
        case integer(Int)
        case boolean(Bool)
        case array([TOMLValue])
        case table(TOMLTable)
    }

    var kind: Kind
    var line: Int

    /// The type with an article, for messages such as "must be an integer, but it is a string".
    var typeDescription: String {
        switch kind {
        case .string: return "a string"
        case .integer: return "an integer"
        case .boolean: return "a boolean"
        case .array: return "an array"
        case .table: return "a table"
        }
    }
}

/// A TOML table: keys in document order, each with the line of the key.
struct TOMLTable: Sendable, Equatable {
    /// How a table came to exist; decides whether a later `[header]` may define or extend it (TOML 1.0 §Table).
    enum Origin: Sendable, Equatable {
        /// The document itself.
        case root
        /// Created on the way to a deeper header (`[a.b]` creates `a`); a later `[a]` may still define it.
        case implicit
        /// Defined by its own `[header]`; defining it again is an error.
        case header
        /// Written as `{ … }`; it is sealed, so no header may add to it.
        case inline
    }

    /// One `key = value` (or sub-table) of the table.
    struct Entry: Sendable, Equatable {
        var key: String
        /// The line of the key (for a sub-table created by a header: the header's line).
        var line: Int
        var value: TOMLValue
    }

    /// The line of the `[header]` (1 for the root table).
    var line: Int
    var origin: Origin
    /// The entries in the order they appear in the file.
    private(set) var entries: [Entry] = []
    private var positions: [String: Int] = [:]

    init(line: Int, origin: Origin) {
        self.line = line
        self.origin = origin
    }

    /// The entry for `key`, if the table has one.
    subscript(key: String) -> Entry? {
        positions[key].map { entries[$0] }
    }

    /// Appends an entry. The caller has checked that `key` is not present yet.
    mutating func append(_ entry: Entry) {
        positions[entry.key] = entries.count
        entries.append(entry)
    }

    /// Runs `body` on the sub-table stored under `key`, in place (no copy of the sub-table is made).
    ///
    /// - Returns: nil when `key` is absent or not a table; otherwise what `body` returns.
    mutating func withSubtable<R>(
        _ key: String, _ body: (inout TOMLTable) throws(TOMLError) -> R
    ) throws(TOMLError) -> R? {
        guard let index = positions[key], case .table(var sub) = entries[index].value.kind else { return nil }
        entries[index].value.kind = .boolean(false)  // drop the second reference so `sub` is unique
        defer { entries[index].value.kind = .table(sub) }
        return try body(&sub)
    }
}

/// A syntax error, or a TOML feature this subset does not support, on a given line.
struct TOMLError: Error, Sendable, Equatable {
    /// 1-based line of the problem.
    var line: Int
    /// What is wrong and how to fix it.
    var message: String
    /// True when the text is valid TOML that this subset refuses (floats, dates, arrays of tables…).
    var isUnsupported: Bool = false
}
