import ControlPlane
import Testing

/// The TOML reader on its own: hostile shapes (deep keys, deep arrays, many
/// keys), the table rules, and the values it accepts and refuses.
@Suite("TOML")
struct TOMLTests {
    /// Parses `text` and returns the error it must raise.
    func refusal(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) -> TOML.ParseError? {
        do {
            let table = try TOML.parse(text)
            Issue.record("accepted, \(table.entries.count) top-level keys", sourceLocation: sourceLocation)
            return nil
        } catch {
            return error
        }
    }

    /// `part.part.….part`, `count` parts.
    static func dotted(_ part: String, _ count: Int) -> String {
        Array(repeating: part, count: count).joined(separator: ".")
    }

    /// The table reached through `path` from `table`.
    static func descend(_ table: TOML.Table, _ path: [String]) -> TOML.Table? {
        var t = table
        for key in path {
            guard case .table(let inner)? = t[key]?.value else { return nil }
            t = inner
        }
        return t
    }

    // MARK: Depth

    @Test("a dotted key of 64 KiB is refused at once, naming the line and the limit")
    func longDottedKey() throws {
        let error = try #require(refusal("[t]\n" + Self.dotted("a", 32 << 10) + " = 1\n"))
        #expect(error.line == 2)
        #expect(error.message.contains("nests tables more than \(TOML.maximumDepth) deep (the limit)"), "\(error)")
        #expect(error.description.utf8.count < 200, "the message quotes the key in full: \(error.description.count)")
    }

    @Test("a table header of 64 KiB is refused at once, naming the line and the limit")
    func longDottedHeader() throws {
        for header in ["[", "[["] {
            let close = header == "[" ? "]" : "]]"
            let error = try #require(refusal("\n" + header + Self.dotted("a", 32 << 10) + close + "\n"))
            #expect(error.line == 2)
            #expect(error.message.contains("more than \(TOML.maximumDepth) deep (the limit)"), "\(error)")
        }
    }

    /// Was O(d²) (every prefix copied every table on its way down) and
    /// then overflowed the stack: 4 KiB took 0.7 s, 16 KiB 22 s. Completing
    /// at all is the check.
    @Test("a dotted key or header of 1 MiB (the largest config file) is refused too")
    func megabyteDottedKey() throws {
        let key = Self.dotted("a", 512 << 10)
        #expect(refusal("x." + key + " = 1\n")?.line == 1)
        #expect(refusal("[" + key + "]\n")?.line == 1)
        #expect(refusal("[[" + key + "]]\n")?.line == 1)
        // Quoted parts are counted the same way.
        #expect(refusal(Self.dotted("\"a\"", 256 << 10) + " = 1\n")?.line == 1)
    }

    @Test("tables nest up to the limit and no further, counting the header and the dotted key together")
    func tableDepthLimit() throws {
        let limit = TOML.maximumDepth
        // A key of `limit + 1` parts: `limit` tables, then the value.
        let deepest = try TOML.parse(Self.dotted("k", limit + 1) + " = 7\n")
        let inner = try #require(Self.descend(deepest, Array(repeating: "k", count: limit)))
        #expect(inner["k"]?.value == .integer(7))
        #expect(refusal(Self.dotted("k", limit + 2) + " = 7\n")?.line == 1)
        // A header `limit` deep, then plain keys: fine; dotted keys: too deep.
        let header = "[" + Self.dotted("h", limit) + "]\n"
        let table = try TOML.parse(header + "x = 1\n")
        #expect(Self.descend(table, Array(repeating: "h", count: limit))?["x"]?.value == .integer(1))
        #expect(refusal("[" + Self.dotted("h", limit + 1) + "]\n")?.line == 1)
        let error = try #require(refusal(header + "x.y = 1\n"))
        #expect(error.line == 2)
        #expect(error.message.contains("(the limit)"), "\(error)")
        // `limit - 1` deep, then one dotted part: exactly at the limit.
        let mixed = try TOML.parse("[" + Self.dotted("h", limit - 1) + "]\nx.y = 1\n")
        #expect(Self.descend(mixed, Array(repeating: "h", count: limit - 1) + ["x"])?["y"]?.value == .integer(1))
    }

    @Test("arrays nest up to the limit; 100 000 '[' are an error, not a stack overflow")
    func arrayDepthLimit() throws {
        let limit = TOML.maximumDepth
        let deepest = try TOML.parse(
            "a = " + String(repeating: "[", count: limit) + "1" + String(repeating: "]", count: limit) + "\n")
        var value = try #require(deepest["a"]?.value)
        for _ in 0..<limit {
            guard case .array(let items) = value, items.count == 1 else {
                Issue.record("not one array in another: \(value)")
                return
            }
            value = items[0].value
        }
        #expect(value == .integer(1))
        for count in [limit + 1, 100_000] {
            let error = try #require(refusal("\n\na=" + String(repeating: "[", count: count) + "\n"))
            #expect(error.line == 3)
            #expect(error.message.contains("arrays nest more than \(limit) deep (the limit)"), "\(error)")
        }
    }

    // MARK: Breadth

    /// Keys were looked up by a linear search of their table, and arrays of
    /// tables copied on every append: 256 KiB of either took 10 s.
    @Test("1 MiB of keys in one table, of tables, and of [[array]] tables parse in full")
    func megabyteOfKeys() throws {
        var keys = "[t]\n"
        var count = 0
        while keys.utf8.count < 1 << 20 {
            keys += "key_\(count) = \(count)\n"
            count += 1
        }
        let t = try #require(Self.descend(try TOML.parse(keys), ["t"]))
        #expect(t.entries.count == count)
        #expect(t.entries.last?.key == "key_\(count - 1)")
        #expect(t.entries.last?.node.line == count + 1)

        var tables = ""
        count = 0
        while tables.utf8.count < 1 << 20 {
            tables += "[s.table_\(count)]\nx = \(count)\n"
            count += 1
        }
        let s = try #require(Self.descend(try TOML.parse(tables), ["s"]))
        #expect(s.entries.count == count)
        #expect(Self.descend(s, ["table_\(count - 1)"])?["x"]?.value == .integer(count - 1))

        var elements = ""
        count = 0
        while elements.utf8.count < 1 << 20 {
            elements += "[[source]]\ninterface = \"eth\(count)\"\n"
            count += 1
        }
        guard case .tableArray(let list)? = try TOML.parse(elements)["source"]?.value else {
            Issue.record("no array of tables")
            return
        }
        #expect(list.count == count)
        #expect(list.last?["interface"]?.value == .string("eth\(count - 1)"))
        #expect(list.last?.line == 2 * count - 1)
    }

    // MARK: Tables

    @Test("tables, arrays of tables and dotted keys land where TOML puts them, with their lines")
    func structure() throws {
        let root = try TOML.parse(
            """
            [a.b]
            x = 1
            [a]
            y.z = 2
            [[list]]
            n = 1
            [list.sub]
            m = 1
            [[list]]
            n = 2
            [list.sub]
            m = 2
            """)
        let a = try #require(Self.descend(root, ["a"]))
        // [a] defined after [a.b]: the header gives it its line.
        #expect(a.line == 3)
        #expect(root["a"]?.line == 3)
        let x = try #require(Self.descend(a, ["b"])?["x"])
        #expect(x.value == .integer(1) && x.line == 2)
        let z = try #require(Self.descend(a, ["y"])?["z"])
        #expect(z.value == .integer(2) && z.line == 4)
        guard case .tableArray(let list)? = root["list"]?.value else {
            Issue.record("list is not an array of tables")
            return
        }
        #expect(list.count == 2)
        // Each element has its own [list.sub]: not a second definition.
        #expect(list.map { Self.descend($0, ["sub"])?["m"]?.value } == [.integer(1), .integer(2)])
        #expect(list.map(\.line) == [5, 9])
    }

    struct Refused: Sendable, CustomTestStringConvertible {
        var name: String
        var text: String
        var line: Int
        var phrase: String
        var testDescription: String { name }
    }

    static let tableErrors: [Refused] = [
        Refused(
            name: "table defined twice", text: "[a]\nx = 1\n[a]\n", line: 3, phrase: "defined twice (first on line 1)"),
        Refused(
            name: "dotted table defined twice", text: "[a.b]\n[a]\n[a.b]\n", line: 3, phrase: "[a.b] is defined twice"),
        Refused(name: "key defined twice", text: "[a]\nx = 1\n\nx = 2\n", line: 4, phrase: "already defined on line 2"),
        Refused(name: "key then table", text: "a = 1\n[a]\n", line: 2, phrase: "already a value (line 1)"),
        Refused(name: "key then dotted key", text: "a = 1\na.b = 2\n", line: 2, phrase: "already a value (line 1)"),
        Refused(name: "table then key", text: "[t]\na.b = 1\na = 2\n", line: 3, phrase: "already defined on line 2"),
        Refused(name: "array of tables then table", text: "[[a]]\n[a]\n", line: 2, phrase: "write [[a]]"),
        Refused(name: "table then array of tables", text: "[a]\n[[a]]\n", line: 2, phrase: "not as an array of tables"),
        Refused(
            name: "value then array of tables", text: "a = 1\n[[a]]\n", line: 2, phrase: "not as an array of tables"),
        Refused(name: "unclosed header", text: "[a\n", line: 1, phrase: "expected ']'"),
        Refused(name: "unclosed array header", text: "[[a]\n", line: 1, phrase: "expected ']]'"),
        Refused(name: "empty header", text: "[]\n", line: 1, phrase: "expected a key"),
        Refused(name: "key without a value", text: "a\n", line: 1, phrase: "expected '='"),
        Refused(name: "inline table", text: "a = {x = 1}\n", line: 1, phrase: "inline tables"),
        Refused(name: "multi-line basic string", text: "a = \"\"\"x\"\"\"\n", line: 1, phrase: "multi-line"),
        Refused(name: "text after a value", text: "a = 1 2\n", line: 1, phrase: "unexpected text"),
        Refused(name: "unterminated array", text: "a = [1,\n2\n", line: 3, phrase: "unterminated array"),
    ]

    @Test("table and key errors name the line", arguments: tableErrors)
    func tableError(_ c: Refused) throws {
        let error = try #require(refusal(c.text))
        #expect(error.line == c.line, "\(error)")
        #expect(error.message.contains(c.phrase), "\(error)")
        #expect(error.description.hasPrefix("line \(c.line): "))
    }

    // MARK: Values

    struct Number: Sendable, CustomTestStringConvertible {
        var text: String
        var value: TOML.Value
        var testDescription: String { text }
    }

    static let validNumbers: [Number] = [
        Number(text: "0", value: .integer(0)), Number(text: "+0", value: .integer(0)),
        Number(text: "-0", value: .integer(0)), Number(text: "42", value: .integer(42)),
        Number(text: "+99", value: .integer(99)), Number(text: "-17", value: .integer(-17)),
        Number(text: "1_000", value: .integer(1000)), Number(text: "5_349_221", value: .integer(5_349_221)),
        Number(text: "1_2_3_4_5", value: .integer(12345)),
        Number(text: "9223372036854775807", value: .integer(Int.max)),
        Number(text: "-9223372036854775808", value: .integer(Int.min)),
        Number(text: "0xDEADBEEF", value: .integer(0xDEAD_BEEF)),
        Number(text: "0xdead_beef", value: .integer(0xDEAD_BEEF)),
        Number(text: "0x7FFFFFFFFFFFFFFF", value: .integer(Int.max)), Number(text: "0x0", value: .integer(0)),
        Number(text: "0x00ff", value: .integer(255)), Number(text: "0o755", value: .integer(0o755)),
        Number(text: "0o0_7", value: .integer(7)), Number(text: "0b1101_0110", value: .integer(0b1101_0110)),
        Number(text: "+1.0", value: .float(1)), Number(text: "3.1415", value: .float(3.1415)),
        Number(text: "-0.01", value: .float(-0.01)), Number(text: "5e+22", value: .float(5e22)),
        Number(text: "1e06", value: .float(1e6)), Number(text: "-2E-2", value: .float(-0.02)),
        Number(text: "6.626e-34", value: .float(6.626e-34)),
        Number(text: "224_617.445_991", value: .float(224_617.445_991)),
        Number(text: "1e1_0", value: .float(1e10)), Number(text: "0.0", value: .float(0)),
        Number(text: "0e0", value: .float(0)),
        Number(text: "1.7976931348623157e308", value: .float(.greatestFiniteMagnitude)),
        Number(text: "1e-400", value: .float(0)), Number(text: "0.000_001", value: .float(1e-6)),
    ]

    @Test("TOML 1.0 integers and floats are read", arguments: validNumbers)
    func validNumber(_ n: Number) throws {
        let table = try #require(Self.descend(try TOML.parse("[t]\nx = \(n.text)\n"), ["t"]))
        #expect(table["x"]?.value == n.value)
        // In an array too, where ',' and ']' end it.
        guard case .array(let items)? = try TOML.parse("a = [\(n.text),\(n.text)]\n")["a"]?.value else {
            Issue.record("not an array")
            return
        }
        #expect(items.map(\.value) == [n.value, n.value])
    }

    static let invalidNumbers: [Refused] = [
        // Signs: one, on decimal numbers only.
        Refused(name: "0x-5", text: "0x-5", line: 0, phrase: "invalid integer '0x-5': expected hex digits after '0x'"),
        Refused(name: "++5", text: "++5", line: 0, phrase: "invalid number '++5': expected a digit after the sign"),
        Refused(name: "+-3", text: "+-3", line: 0, phrase: "invalid number '+-3': expected a digit after the sign"),
        Refused(name: "-0x5", text: "-0x5", line: 0, phrase: "invalid integer '-0x5': hex integers take no sign"),
        Refused(name: "+0o7", text: "+0o7", line: 0, phrase: "octal integers take no sign"),
        Refused(name: "-0b1", text: "-0b1", line: 0, phrase: "binary integers take no sign"),
        Refused(name: "lone sign", text: "-", line: 0, phrase: "expected a digit after the sign"),
        Refused(name: "sign then float", text: "+.5", line: 0, phrase: "expected a digit after the sign"),
        // Prefixes and digits.
        Refused(name: "0x", text: "0x", line: 0, phrase: "expected hex digits after '0x'"),
        Refused(name: "0X5", text: "0X5", line: 0, phrase: "unexpected 'X'"),
        Refused(name: "0xG", text: "0x1G", line: 0, phrase: "'G' is not a valid hex digit"),
        Refused(name: "0o8", text: "0o8", line: 0, phrase: "expected octal digits after '0o'"),
        Refused(name: "0b2", text: "0b12", line: 0, phrase: "'2' is not a valid binary digit"),
        Refused(name: "1a", text: "1a", line: 0, phrase: "unexpected 'a'"),
        // Underscores between digits only.
        Refused(name: "_1", text: "_1", line: 0, phrase: "is not a value (strings need quotes)"),
        Refused(name: "1_", text: "1_", line: 0, phrase: "an underscore must sit between two digits"),
        Refused(name: "1__2", text: "1__2", line: 0, phrase: "an underscore must sit between two digits"),
        Refused(name: "0x_1", text: "0x_1", line: 0, phrase: "an underscore must sit between two digits"),
        Refused(name: "1_.5", text: "1_.5", line: 0, phrase: "an underscore must sit between two digits"),
        Refused(name: "1._5", text: "1._5", line: 0, phrase: "an underscore must sit between two digits"),
        Refused(name: "1e_5", text: "1e_5", line: 0, phrase: "an underscore must sit between two digits"),
        // Leading zeros on decimal numbers.
        Refused(name: "007", text: "007", line: 0, phrase: "leading zeros are not allowed"),
        Refused(name: "-01", text: "-01", line: 0, phrase: "leading zeros are not allowed"),
        Refused(name: "0_1", text: "0_1", line: 0, phrase: "leading zeros are not allowed"),
        Refused(name: "01.5", text: "01.5", line: 0, phrase: "leading zeros are not allowed"),
        // Floats.
        Refused(name: "1.", text: "1.", line: 0, phrase: "expected a digit after '.'"),
        Refused(name: ".5", text: ".5", line: 0, phrase: "is not a value"),
        Refused(name: "1.e5", text: "1.e5", line: 0, phrase: "expected a digit after '.'"),
        Refused(name: "1e", text: "1e", line: 0, phrase: "expected digits in the exponent"),
        Refused(name: "1e+", text: "1e+", line: 0, phrase: "expected digits in the exponent"),
        Refused(name: "1.5.5", text: "1.5.5", line: 0, phrase: "invalid float '1.5.5': unexpected '.'"),
        Refused(name: "1e5.5", text: "1e5.5", line: 0, phrase: "unexpected '.'"),
        Refused(name: "1e999", text: "1e999", line: 0, phrase: "invalid float '1e999': out of range"),
        Refused(name: "-1.5e400", text: "-1.5e400", line: 0, phrase: "out of range"),
        Refused(name: "1e99999999999999999999", text: "1e99999999999999999999", line: 0, phrase: "out of range"),
        Refused(
            name: "inf", text: "inf", line: 0, phrase: "'inf' is not accepted: the configuration needs finite numbers"),
        Refused(name: "+inf", text: "+inf", line: 0, phrase: "needs finite numbers"),
        Refused(name: "-inf", text: "-inf", line: 0, phrase: "needs finite numbers"),
        Refused(name: "nan", text: "nan", line: 0, phrase: "needs finite numbers"),
        Refused(name: "-nan", text: "-nan", line: 0, phrase: "needs finite numbers"),
        // 64 bits.
        Refused(name: "2^63", text: "9223372036854775808", line: 0, phrase: "does not fit a 64-bit signed integer"),
        Refused(name: "-2^63-1", text: "-9223372036854775809", line: 0, phrase: "does not fit a 64-bit signed integer"),
        Refused(name: "0x8000000000000000", text: "0x8000000000000000", line: 0, phrase: "does not fit"),
        Refused(name: "0xFFFF_FFFF_FFFF_FFFF", text: "0xFFFF_FFFF_FFFF_FFFF", line: 0, phrase: "does not fit"),
        Refused(name: "0b1 x 64", text: "0b" + String(repeating: "1", count: 64), line: 0, phrase: "does not fit"),
        Refused(
            name: "1 then 1000 zeros", text: "1" + String(repeating: "0", count: 1000), line: 0, phrase: "does not fit"),
        // Not numbers at all.
        Refused(name: "date", text: "1979-05-27", line: 0, phrase: "dates and times are not supported"),
        Refused(name: "time", text: "07:32:00", line: 0, phrase: "dates and times are not supported"),
        Refused(name: "bare word", text: "fast", line: 0, phrase: "'fast' is not a value (strings need quotes)"),
        Refused(name: "TRUE", text: "TRUE", line: 0, phrase: "is not a value (strings need quotes)"),
        Refused(name: "tru", text: "tru", line: 0, phrase: "'tru' is not a value"),
    ]

    @Test("invalid numbers are errors that name the line and the key", arguments: invalidNumbers)
    func invalidNumber(_ c: Refused) throws {
        let error = try #require(refusal("[workers]\n\nbudget = 1\nx = \(c.text)\n"))
        #expect(error.line == 4, "\(error)")
        #expect(error.key == "workers.x", "\(error)")
        #expect(error.message.contains(c.phrase), "\(error)")
        #expect(error.description.hasPrefix("line 4: key 'workers.x': "), "\(error)")
        // In an array, on a later line, under an array of tables.
        let nested = try #require(refusal("[[source]]\n[[source]]\ncpus = [\n  1,\n  [2, \(c.text)],\n]\n"))
        #expect(nested.line == 5, "\(nested)")
        #expect(nested.key == "source[1].cpus", "\(nested)")
        #expect(nested.message.contains(c.phrase), "\(nested)")
    }

    static let invalidStrings: [Refused] = [
        Refused(name: #"\u+0FF"#, text: #"x = "\u+0FF""#, line: 1, phrase: #"\u needs 4 hex digits, found '+'"#),
        Refused(name: #"short \u"#, text: #"x = "\u12""#, line: 1, phrase: #"\u needs 4 hex digits"#),
        Refused(name: #"short \U"#, text: #"x = "\U0001F60""#, line: 1, phrase: #"\U needs 8 hex digits"#),
        Refused(name: #"surrogate \u"#, text: #"x = "\uD800""#, line: 1, phrase: "is a surrogate"),
        Refused(name: "surrogate pair", text: #"x = "\ud83d\ude00""#, line: 1, phrase: "is a surrogate"),
        Refused(name: #"\U beyond U+10FFFF"#, text: #"x = "\U00110000""#, line: 1, phrase: "not a Unicode scalar"),
        Refused(name: #"\UFFFFFFFF"#, text: #"x = "\UFFFFFFFF""#, line: 1, phrase: "not a Unicode scalar"),
        Refused(name: #"\x"#, text: #"x = "\x41""#, line: 1, phrase: #"invalid escape '\x'"#),
        Refused(name: #"\/ (JSON only)"#, text: #"x = "\/""#, line: 1, phrase: #"invalid escape '\/'"#),
        Refused(
            name: "backslash at the end", text: #"x = "\"#, line: 1, phrase: "invalid escape '\\' followed by byte 0x0A"
        ),
        Refused(name: "no closing quote", text: #"x = "abc"#, line: 1, phrase: "unterminated string"),
        Refused(name: "newline in a basic string", text: "\nx = \"a\nb\"", line: 2, phrase: "ends on its line"),
        Refused(name: "newline in a literal string", text: "\nx = 'a\nb'", line: 2, phrase: "ends on its line"),
        Refused(name: "control character", text: "x = \"a\u{1}b\"", line: 1, phrase: "control character U+0001"),
        Refused(name: "DEL", text: "x = \"a\u{7F}\"", line: 1, phrase: "control character U+007F"),
        Refused(name: "control in a literal", text: "x = 'a\u{1B}'", line: 1, phrase: "control character U+001B"),
        Refused(name: "multi-line literal", text: "x = '''a'''", line: 1, phrase: "multi-line"),
        Refused(name: "bad escape in a key", text: #""a\qb" = 1"#, line: 1, phrase: #"invalid escape '\q'"#),
    ]

    @Test("invalid strings are errors that name the line, and the key of a value", arguments: invalidStrings)
    func invalidString(_ c: Refused) throws {
        let error = try #require(refusal(c.text + "\n"))
        #expect(error.line == c.line, "\(error)")
        #expect(error.message.contains(c.phrase), "\(error)")
        #expect(error.key == (c.text.contains("x = ") ? "x" : nil), "\(error)")
    }

    @Test("strings: escapes, literal strings, quoted keys")
    func strings() throws {
        let root = try TOML.parse(
            #"""
            basic = "tab\there \"quoted\" back\\slash \u00e9 \U0001F600 \b\f\n\r"
            literal = 'C:\no\escapes "here"'
            "quoted key" = 1
            'literal key' = 2
            "a.b" = 3
            tab = "a	b"
            empty = ""
            """#)
        #expect(root["basic"]?.value == .string("tab\there \"quoted\" back\\slash é 😀 \u{8}\u{C}\n\r"))
        #expect(root["literal"]?.value == .string(#"C:\no\escapes "here""#))
        #expect(root["quoted key"]?.value == .integer(1))
        #expect(root["literal key"]?.value == .integer(2))
        #expect(root["a.b"]?.value == .integer(3))
        #expect(root["tab"]?.value == .string("a\tb"))
        #expect(root["empty"]?.value == .string(""))
    }

    @Test("booleans and arrays")
    func booleansAndArrays() throws {
        let root = try TOML.parse("yes = true\nno = false\nlist = [\n  1, # one\n  2,\n]\nnone = []\n")
        #expect(root["yes"]?.value == .boolean(true))
        #expect(root["no"]?.value == .boolean(false))
        guard case .array(let items)? = root["list"]?.value else {
            Issue.record("not an array")
            return
        }
        #expect(items.map(\.value) == [.integer(1), .integer(2)])
        #expect(items.map(\.line) == [4, 5])
        #expect(root["none"]?.value == .array([]))
        #expect(refusal("x = truex\n")?.message.contains("unexpected text") == true)
    }
}
