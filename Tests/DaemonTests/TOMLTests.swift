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
}
