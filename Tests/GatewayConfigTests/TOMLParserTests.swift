import NAT64Translator
import Testing

@testable import GatewayConfig

/// Parses `text`, returning the error the parser threw (or nil when it succeeded).
private func parseError(_ text: String) -> TOMLError? {
    parseError(Array(text.utf8))
}

private func parseError(_ bytes: [UInt8]) -> TOMLError? {
    do {
        _ = try TOMLParser.parse(bytes)
        return nil
    } catch {
        return error
    }
}

/// The value at a dotted path of plain keys, e.g. `value(table, "tun", "mtu")`.
private func value(_ table: TOMLTable, _ path: String...) -> TOMLValue? {
    var current = table
    for key in path.dropLast() {
        guard case .table(let sub)? = current[key]?.value.kind else { return nil }
        current = sub
    }
    return path.last.flatMap { current[$0]?.value }
}

@Suite struct TOMLParserTests {
    // MARK: Values

    @Test func integers() throws {
        let doc = try TOMLParser.parse("""
            a = 1500
            b = -42
            c = +7
            d = 65_536
            e = 0
            f = 0xff
            g = 0o17
            h = 0b101
            i = 9223372036854775807
            j = -9223372036854775808
            """)
        let expected = [("a", 1500), ("b", -42), ("c", 7), ("d", 65536), ("e", 0), ("f", 255), ("g", 15), ("h", 5),
                        ("i", Int.max), ("j", Int.min)]
        for (key, n) in expected {
            #expect(value(doc, key)?.kind == .integer(n), "key \(key)")
        }
    }

    @Test(arguments: ["01", "1__0", "1_", "9223372036854775808", "12abc", "+0x10", "--1", "0xg"])
    func badIntegers(_ text: String) throws {
        let error = try #require(parseError("\n\nn = \(text)\n"))
        #expect(error.line == 3)
        #expect(error.message.contains("not a valid integer"), "\(error.message)")
    }

    @Test func booleans() throws {
        let doc = try TOMLParser.parse("yes = true\nno = false\n")
        #expect(value(doc, "yes")?.kind == .boolean(true))
        #expect(value(doc, "no")?.kind == .boolean(false))
    }

    @Test func basicStringEscapes() throws {
        let doc = try TOMLParser.parse(#"s = "q\" b\\ n\n t\t u\u00e9 U\U0001F600 b\b f\f r\r""#)
        #expect(value(doc, "s")?.kind == .string("q\" b\\ n\n t\t u\u{e9} U\u{1F600} b\u{8} f\u{c} r\r"))
    }

    @Test func literalStringsKeepBackslashes() throws {
        let doc = try TOMLParser.parse(#"s = 'C:\path\n "x"'"#)
        #expect(value(doc, "s")?.kind == .string(#"C:\path\n "x""#))
    }

    @Test func nonASCIIStringsAndEmptyStrings() throws {
        let doc = try TOMLParser.parse("a = \"passerelle réseau ✓\"\nb = \"\"\nc = ''\n")
        #expect(value(doc, "a")?.kind == .string("passerelle réseau ✓"))
        #expect(value(doc, "b")?.kind == .string(""))
        #expect(value(doc, "c")?.kind == .string(""))
    }

    @Test(arguments: [#"\x41"#, #"\u12"#, #"\uD800"#, #"\U00110000"#, #"\ "#])
    func badEscapes(_ escape: String) throws {
        let error = try #require(parseError("ok = 1\ns = \"a\(escape)b\"\n"))
        #expect(error.line == 2)
    }

    @Test func multiLineArrayWithCommentsAndTrailingComma() throws {
        let doc = try TOMLParser.parse("""
            list = [  # opening comment
                "a",    # first
                # a line of its own
                'b',

                "c",
            ]
            after = 1
            """)
        let list = try #require(value(doc, "list"))
        #expect(list.line == 1)
        guard case .array(let items) = list.kind else {
            Issue.record("not an array: \(list)")
            return
        }
        #expect(items.map(\.kind) == [.string("a"), .string("b"), .string("c")])
        #expect(items.map(\.line) == [2, 4, 6])
        #expect(value(doc, "after")?.line == 8)
    }

    @Test func nestedAndEmptyArrays() throws {
        let doc = try TOMLParser.parse("a = [[1, 2], [], [true]]\nb = []\n")
        #expect(value(doc, "a")?.kind == .array([
            TOMLValue(kind: .array([TOMLValue(kind: .integer(1), line: 1), TOMLValue(kind: .integer(2), line: 1)]), line: 1),
            TOMLValue(kind: .array([]), line: 1),
            TOMLValue(kind: .array([TOMLValue(kind: .boolean(true), line: 1)]), line: 1),
        ]))
        #expect(value(doc, "b")?.kind == .array([]))
    }

    @Test func inlineTables() throws {
        let doc = try TOMLParser.parse("t = { a = 1, \"b c\" = 'x' }\ne = {}\n")
        #expect(value(doc, "t", "a")?.kind == .integer(1))
        #expect(value(doc, "t", "b c")?.kind == .string("x"))
        guard case .table(let empty)? = value(doc, "e")?.kind else {
            Issue.record("e is not a table")
            return
        }
        #expect(empty.entries.isEmpty)
    }

    // MARK: Structure

    @Test func tablesSubtablesAndLines() throws {
        let doc = try TOMLParser.parse("""
            # comment
            top = 1

            [tun]
            name = "x"   # trailing comment
            [ a . "quoted key" ]
            k-e_y = 2
            [a]
            z = 3
            """)
        #expect(doc[ "top"]?.line == 2)
        guard case .table(let tun)? = doc["tun"]?.value.kind else {
            Issue.record("no [tun]")
            return
        }
        #expect(tun.line == 4)
        #expect(tun["name"]?.line == 5)
        #expect(value(doc, "a", "quoted key", "k-e_y")?.kind == .integer(2))
        #expect(value(doc, "a", "quoted key", "k-e_y")?.line == 7)
        #expect(value(doc, "a", "z")?.line == 9)
        guard case .table(let a)? = doc["a"]?.value.kind else {
            Issue.record("no [a]")
            return
        }
        #expect(a.line == 8, "an implicit table takes the line of the header that defines it later")
    }

    @Test func keysKeepDocumentOrder() throws {
        let doc = try TOMLParser.parse("c = 1\na = 2\nb = 3\n")
        #expect(doc.entries.map(\.key) == ["c", "a", "b"])
    }

    @Test func crlfLineEndsAndByteOrderMark() throws {
        let doc = try TOMLParser.parse([0xEF, 0xBB, 0xBF] + Array("a = 1\r\n\r\nb = 2\r\n".utf8))
        #expect(value(doc, "b")?.line == 3)
    }

    // MARK: Errors

    /// Each input, the line its error must name, and words the message must contain.
    static let syntaxErrors: [(text: String, line: Int, words: [String])] = [
        ("[tun]\nmtu = 1500\nname = \"a\"\nmtu = 9000\n", 4, ["duplicate key `tun.mtu`", "line 2"]),
        ("a = 1\nt = { x = 1, x = 2 }\n", 2, ["duplicate key `x`"]),
        ("[tun]\nmtu = 1\n\n[log]\n[tun]\n", 5, ["duplicate table [tun]", "line 1"]),
        ("[a.b]\n[a]\n[a]\n", 3, ["duplicate table [a]", "line 2"]),
        ("[a]\nb = 1\n[a.b]\n", 3, ["clashes with the key `b`", "line 2"]),
        ("[a.b]\nx = 1\n[a]\nb = 2\n", 4, ["duplicate key `a.b`"]),
        ("a = { x = 1 }\n[a]\n", 2, ["clashes with the key `a`"]),
        ("a = 1\nb = \"open\nc = 2\n", 2, ["unterminated string"]),
        ("a = 'open", 1, ["unterminated literal string"]),
        ("\n\"key = 1\n", 2, ["unterminated string"]),
        ("x = 0\na = [\n  1,\n  2,\n", 2, ["unterminated array"]),
        ("a = [\n1\n2\n]\n", 3, ["expected `,` or `]`", "line 1"]),
        ("t = { a = 1,\n b = 2 }\n", 1, ["one line"]),
        ("a = 1 b = 2\n", 1, ["end of the line"]),
        ("[log]\nlevel = info\n", 2, ["\"info\""]),
        ("a =\n", 1, ["has no value"]),
        ("\na 1\n", 2, ["expected `=`"]),
        ("[tun\n", 1, ["`]`"]),
        ("= 1\n", 1, ["expected a key"]),
        ("a = [,]\n", 1, ["expected a value"]),
    ]

    @Test(arguments: syntaxErrors)
    func syntaxErrorNamesLineAndProblem(_ text: String, _ line: Int, _ words: [String]) throws {
        let error = try #require(parseError(text))
        #expect(error.line == line, "\(error.message)")
        #expect(!error.isUnsupported)
        for word in words {
            #expect(error.message.contains(word), "\(error.message)")
        }
    }

    @Test(arguments: [
        ("a = 1.5", "floating-point"), ("a = 1e3", "floating-point"), ("a = inf", "floating-point"),
        ("a = -nan", "floating-point"), ("a = 1979-05-27", "dates"), ("a = 07:32:00", "dates"),
        ("a = 1979-05-27T07:32:00Z", "dates"), ("[[servers]]", "arrays of tables"),
        ("a = \"\"\"x\"\"\"", "multi-line strings"), ("a = '''x'''", "multi-line literal"),
        ("a.b = 1", "dotted key"),
    ])
    func unsupportedFeaturesAreNamed(_ line: String, _ feature: String) throws {
        let error = try #require(parseError("ok = true\n\(line)\n"))
        #expect(error.line == 2)
        #expect(error.isUnsupported)
        #expect(error.message.contains(feature), "\(error.message)")
    }

    @Test func invalidUTF8IsReportedWithItsLine() throws {
        let bytes = Array("a = 1\nb = \"".utf8) + [0xC3, 0x28] + Array("\"\n".utf8)
        let error = try #require(parseError(bytes))
        #expect(error.line == 2)
        #expect(error.message.contains("UTF-8"))
    }

    @Test func controlCharactersAreRefused() throws {
        #expect(parseError("a = \"x\u{1}y\"\n")?.line == 1)
        #expect(parseError("# bell \u{7}\n")?.line == 1)
        #expect(parseError("a = 1\n\u{0}\n")?.line == 2)
        #expect(parseError("a = 1\rb = 2\n")?.message.contains("carriage return") == true)
    }

    @Test func deepNestingIsAnErrorNotAStackOverflow() throws {
        let arrays = try #require(parseError("a = " + String(repeating: "[", count: 100_000)))
        #expect(arrays.message.contains("nested"))
        let header = try #require(parseError("[" + Array(repeating: "t", count: 10_000).joined(separator: ".") + "]"))
        #expect(header.message.contains("nested"))
        let deepest = try TOMLParser.parse("a = " + String(repeating: "[", count: 32) + String(repeating: "]", count: 32))
        #expect(deepest["a"] != nil, "32 levels are still accepted")
    }

    /// Random and mutated inputs must produce a value or an error, never a trap. Deterministic (seeded).
    @Test func garbageBytesGiveErrorsNotCrashes() {
        var rng = SplitMix64(seed: 0x6e61_7436_3464)
        let seed = Array("[tun]\nname = \"x\\u00e9\" # c\n[a.b]\nl = [1, 'two', [true], {k = -0x1}]\n".utf8)
        var errors = 0
        for round in 0..<3000 {
            var bytes: [UInt8]
            if round % 2 == 0 {
                bytes = (0..<Int(rng.next() % 64)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            } else {
                bytes = seed
                for _ in 0..<(1 + rng.next() % 4) {
                    let i = Int(rng.next() % UInt64(bytes.count))
                    bytes[i] = UInt8(truncatingIfNeeded: rng.next())
                }
            }
            if let error = parseError(bytes) {
                errors += 1
                #expect(error.line >= 1 && error.line <= bytes.count + 1)
                #expect(!error.message.isEmpty)
            }
        }
        #expect(errors > 1000, "random bytes are rarely valid TOML")
    }
}
