/// A small TOML reader for the daemon's configuration: tables, arrays of
/// tables, dotted keys, strings (basic and literal), integers (decimal, hex,
/// octal, binary, with underscores), floats, booleans and arrays. Every value
/// remembers its line, so that configuration errors can point at it.
/// Inline tables and multi-line strings are refused with a clear error.
public enum TOML {
    public struct ParseError: Error, Sendable, Equatable, CustomStringConvertible {
        public var line: Int
        public var message: String
        public var description: String { "line \(line): \(message)" }
    }

    public indirect enum Value: Sendable, Equatable {
        case string(String)
        case integer(Int)
        case float(Double)
        case boolean(Bool)
        case array([Node])
        case table(Table)
        case tableArray([Table])

        /// The type's name in error messages.
        public var typeName: String {
            switch self {
            case .string: return "a string"
            case .integer: return "an integer"
            case .float: return "a float"
            case .boolean: return "a boolean"
            case .array: return "an array"
            case .table: return "a table"
            case .tableArray: return "an array of tables"
            }
        }
    }

    /// A value and the line it was written on.
    public struct Node: Sendable, Equatable {
        public var value: Value
        public var line: Int
    }

    /// A table: keys in the order they were written.
    public struct Table: Sendable, Equatable {
        public var entries: [(key: String, node: Node)] = []
        /// The line of the table's header (0 for the root).
        public var line: Int

        public init(line: Int) { self.line = line }

        public static func == (a: Table, b: Table) -> Bool {
            a.line == b.line && a.entries.count == b.entries.count
                && zip(a.entries, b.entries).allSatisfy { $0.key == $1.key && $0.node == $1.node }
        }

        public subscript(key: String) -> Node? {
            entries.first { $0.key == key }?.node
        }
    }

    /// How deep tables may nest (`[a.b.c]` is a table 3 deep; under it,
    /// `d.e = 1` makes `d` 4 deep) and, apart, how deep arrays may nest: so
    /// that no document can exhaust the stack of whatever walks, compares or
    /// frees what `parse` returns.
    public static let maximumDepth = 32

    /// Parses a whole document into its root table, in time linear in its
    /// length.
    public static func parse(_ text: String) throws(ParseError) -> Table {
        var parser = Parser(text: text)
        return try parser.document()
    }
}

/// The parser builds tables in place in an arena (`tables`, indexed by
/// id), so that a key or header of d dotted parts costs O(d) however deep
/// it goes, and looks keys up through a hash per table; `finish()` turns the
/// arena into `TOML.Table`s at the end, children first, without recursion.
private struct Parser {
    /// What a key holds in a table under construction.
    enum Slot {
        case value(TOML.Node)
        case table(id: Int, line: Int)
        /// An array of tables: `elements[index]` lists its tables' ids.
        case tableArray(index: Int, line: Int)

        var line: Int {
            switch self {
            case .value(let node): return node.line
            case .table(_, let line), .tableArray(_, let line): return line
            }
        }
    }

    /// A table under construction.
    struct Builder {
        var line: Int
        /// Tables above it (the root is 0 deep).
        let depth: Int
        /// The table that holds it, and its key there ("source[2]" for an
        /// element of an array of tables), for error messages.
        let parent: Int
        let name: String
        var keys: [String] = []
        var slots: [Slot] = []
        var index: [String: Int] = [:]
        /// The line of the [header] that defined it, if one did.
        var header: Int? = nil

        mutating func add(_ key: String, _ slot: Slot) {
            index[key] = keys.count
            keys.append(key)
            slots.append(slot)
        }
    }

    let bytes: [UInt8]
    var at = 0
    var line = 1
    var tables = [Builder(line: 0, depth: 0, parent: 0, name: "")]
    var elements: [[Int]] = []
    /// The table that key/value lines go into.
    var current = 0

    init(text: String) {
        bytes = Array(text.utf8)
    }

    func fail(_ message: String) -> TOML.ParseError { TOML.ParseError(line: line, message: message) }

    var atEnd: Bool { at >= bytes.count }
    var peek: UInt8 { bytes[at] }

    mutating func skipBlanks() {
        while !atEnd && (peek == 0x20 || peek == 0x09) { at += 1 }
    }

    /// Skips blanks and a comment; the line must end there.
    mutating func endLine() throws(TOML.ParseError) {
        skipBlanks()
        if !atEnd && peek == UInt8(ascii: "#") {
            while !atEnd && peek != 0x0A { at += 1 }
        }
        if atEnd { return }
        if peek == 0x0D { at += 1 }
        guard !atEnd && peek == 0x0A else { throw fail("unexpected text after the value") }
        at += 1
        line += 1
    }

    mutating func document() throws(TOML.ParseError) -> TOML.Table {
        while true {
            skipBlanks()
            if atEnd { break }
            switch peek {
            case 0x0A:
                at += 1
                line += 1
            case 0x0D, UInt8(ascii: "#"):
                try endLine()
            case UInt8(ascii: "["):
                try header()
                try endLine()
            default:
                try keyValue()
                try endLine()
            }
        }
        return finish()
    }

    // MARK: Tables

    /// The dotted name of table `id` ("source[1].x"), for messages.
    func name(of id: Int) -> String {
        var parts: [String] = []
        var t = id
        while t != 0 {
            parts.append(tables[t].name)
            t = tables[t].parent
        }
        return parts.reversed().joined(separator: ".")
    }

    mutating func newTable(in parent: Int, name: String, line: Int) throws(TOML.ParseError) -> Int {
        let depth = tables[parent].depth + 1
        guard depth <= TOML.maximumDepth else {
            throw fail("tables nest more than \(TOML.maximumDepth) deep (the limit)")
        }
        tables.append(Builder(line: line, depth: depth, parent: parent, name: name))
        return tables.count - 1
    }

    /// The table `key` of table `parent`, created if it is missing; for an
    /// array of tables, its last table.
    mutating func child(_ parent: Int, _ key: String, line: Int) throws(TOML.ParseError) -> Int {
        guard let i = tables[parent].index[key] else {
            let id = try newTable(in: parent, name: key, line: line)
            tables[parent].add(key, .table(id: id, line: line))
            return id
        }
        switch tables[parent].slots[i] {
        case .table(let id, _):
            return id
        case .tableArray(let index, _):
            return elements[index][elements[index].count - 1]
        case .value(let node):
            throw fail("'\(abbreviated(key))' is already a value (line \(node.line)), not a table")
        }
    }

    mutating func header() throws(TOML.ParseError) {
        let headerLine = line
        at += 1
        let isArray = !atEnd && peek == UInt8(ascii: "[")
        if isArray { at += 1 }
        skipBlanks()
        let path = try keyPath(maximumParts: TOML.maximumDepth, what: isArray ? "[[" : "[")
        skipBlanks()
        guard !atEnd && peek == UInt8(ascii: "]") else { throw fail("expected ']' to close the table header") }
        at += 1
        if isArray {
            guard !atEnd && peek == UInt8(ascii: "]") else { throw fail("expected ']]' to close the array of tables") }
            at += 1
        }
        var parent = 0
        for key in path.dropLast() { parent = try child(parent, key, line: headerLine) }
        let key = path[path.count - 1]
        if isArray {
            current = try appendElement(parent, key, line: headerLine)
            return
        }
        guard let i = tables[parent].index[key] else {
            current = try newTable(in: parent, name: key, line: headerLine)
            tables[current].header = headerLine
            tables[parent].add(key, .table(id: current, line: headerLine))
            return
        }
        switch tables[parent].slots[i] {
        case .table(let id, _):
            if let first = tables[id].header {
                throw fail("table [\(abbreviated(name(of: id)))] is defined twice (first on line \(first))")
            }
            // Created by a longer header or a dotted key: this header is its line from now on.
            tables[id].header = headerLine
            tables[id].line = headerLine
            tables[parent].slots[i] = .table(id: id, line: headerLine)
            current = id
        case .tableArray(_, let first):
            throw fail("'\(abbreviated(key))' is an array of tables (line \(first)): write [[\(abbreviated(key))]]")
        case .value(let node):
            throw fail("'\(abbreviated(key))' is already a value (line \(node.line)), not a table")
        }
    }

    /// Appends a table to the array of tables `key` of `parent`.
    mutating func appendElement(_ parent: Int, _ key: String, line: Int) throws(TOML.ParseError) -> Int {
        guard let i = tables[parent].index[key] else {
            let id = try newTable(in: parent, name: "\(key)[0]", line: line)
            elements.append([id])
            tables[parent].add(key, .tableArray(index: elements.count - 1, line: line))
            return id
        }
        guard case .tableArray(let index, _) = tables[parent].slots[i] else {
            let first = tables[parent].slots[i].line
            throw fail("'\(abbreviated(key))' is already defined on line \(first), not as an array of tables")
        }
        let id = try newTable(in: parent, name: "\(key)[\(elements[index].count)]", line: line)
        elements[index].append(id)
        return id
    }

    /// The arena as nested `TOML.Table`s. A table is always created after
    /// the table that holds it, so going down the ids finishes every child
    /// before its parent, and each child is moved (not copied) into it.
    mutating func finish() -> TOML.Table {
        var built = [TOML.Table?](repeating: nil, count: tables.count)
        for id in tables.indices.reversed() {
            let builder = tables[id]
            tables[id].keys = []
            tables[id].slots = []
            var table = TOML.Table(line: builder.line)
            table.entries.reserveCapacity(builder.keys.count)
            for (key, slot) in zip(builder.keys, builder.slots) {
                let node: TOML.Node
                switch slot {
                case .value(let value):
                    node = value
                case .table(let child, let line):
                    node = TOML.Node(value: .table(built[child].take()!), line: line)
                case .tableArray(let index, let line):
                    node = TOML.Node(value: .tableArray(elements[index].map { built[$0].take()! }), line: line)
                }
                table.entries.append((key: key, node: node))
            }
            built[id] = table
        }
        return built[0].take()!
    }

    // MARK: Keys

    /// Parses `a.b."c d"` into its parts, refusing more than
    /// `maximumParts` of them (before reading the rest of a hostile key).
    /// `what` says in errors what the key is for: `[`, `[[` or `=`.
    mutating func keyPath(maximumParts: Int, what: String) throws(TOML.ParseError) -> [String] {
        let start = at
        var parts: [String] = []
        while true {
            skipBlanks()
            guard !atEnd else { throw fail("expected a key") }
            guard parts.count < maximumParts else {
                // What was read so far, and an ellipsis for the rest.
                var text = abbreviated(String(decoding: bytes[start..<at], as: UTF8.self))
                if !text.hasSuffix("...") { text += "..." }
                switch what {
                case "=":
                    throw fail(
                        "the key '\(text)' nests tables more than \(TOML.maximumDepth) deep (the limit)")
                default:
                    throw fail(
                        "the table header \(what)\(text) nests more than \(TOML.maximumDepth) deep (the limit)")
                }
            }
            if peek == UInt8(ascii: "\"") {
                parts.append(try basicString())
            } else if peek == UInt8(ascii: "'") {
                parts.append(try literalString())
            } else {
                let start = at
                while !atEnd && isBareKey(peek) { at += 1 }
                guard at > start else { throw fail("expected a key, found '\(character(peek))'") }
                parts.append(String(decoding: bytes[start..<at], as: UTF8.self))
            }
            skipBlanks()
            if !atEnd && peek == UInt8(ascii: ".") {
                at += 1
                continue
            }
            return parts
        }
    }

    func isBareKey(_ b: UInt8) -> Bool {
        (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x5F || b == 0x2D
    }

    func character(_ b: UInt8) -> String { b < 0x20 ? "\\u{\(String(b, radix: 16))}" : String(UnicodeScalar(b)) }

    /// At most 64 characters of `s`, for messages about hostile input.
    func abbreviated(_ s: String) -> String {
        guard s.unicodeScalars.count > 64 else { return s }
        return String(String.UnicodeScalarView(s.unicodeScalars.prefix(61))) + "..."
    }

    mutating func keyValue() throws(TOML.ParseError) {
        let keyLine = line
        // A value may sit as deep as the tables: its key's parts but the
        // last are tables below the current one.
        let path = try keyPath(maximumParts: TOML.maximumDepth + 1 - tables[current].depth, what: "=")
        skipBlanks()
        guard !atEnd && peek == UInt8(ascii: "=") else {
            throw fail("expected '=' after the key '\(abbreviated(path.joined(separator: ".")))'")
        }
        at += 1
        skipBlanks()
        let value = try value(depth: 0)
        var table = current
        for key in path.dropLast() { table = try child(table, key, line: keyLine) }
        let key = path[path.count - 1]
        if let i = tables[table].index[key] {
            throw TOML.ParseError(
                line: keyLine,
                message: "key '\(abbreviated(key))' is already defined on line \(tables[table].slots[i].line)")
        }
        tables[table].add(key, .value(TOML.Node(value: value, line: keyLine)))
    }

    // MARK: Values

    /// A value inside `depth` arrays.
    mutating func value(depth: Int) throws(TOML.ParseError) -> TOML.Value {
        guard !atEnd else { throw fail("expected a value") }
        switch peek {
        case UInt8(ascii: "\""):
            if at + 2 < bytes.count && bytes[at + 1] == UInt8(ascii: "\"") && bytes[at + 2] == UInt8(ascii: "\"") {
                throw fail("multi-line strings are not supported here")
            }
            return .string(try basicString())
        case UInt8(ascii: "'"):
            return .string(try literalString())
        case UInt8(ascii: "["):
            return try array(depth: depth + 1)
        case UInt8(ascii: "{"):
            throw fail("inline tables are not supported here; write a [table] instead")
        case UInt8(ascii: "t"), UInt8(ascii: "f"):
            return try boolean()
        default:
            return try number()
        }
    }

    mutating func basicString() throws(TOML.ParseError) -> String {
        at += 1
        var out = String.UnicodeScalarView()
        var raw: [UInt8] = []
        func flush() {
            if !raw.isEmpty {
                out.append(contentsOf: String(decoding: raw, as: UTF8.self).unicodeScalars)
                raw.removeAll()
            }
        }
        while !atEnd {
            let b = peek
            if b == UInt8(ascii: "\"") {
                at += 1
                flush()
                return String(out)
            }
            if b == 0x0A { throw fail("unterminated string") }
            if b == UInt8(ascii: "\\") {
                flush()
                at += 1
                guard !atEnd else { break }
                let e = peek
                at += 1
                switch e {
                case UInt8(ascii: "\""): out.append("\"")
                case UInt8(ascii: "\\"): out.append("\\")
                case UInt8(ascii: "n"): out.append("\n")
                case UInt8(ascii: "t"): out.append("\t")
                case UInt8(ascii: "r"): out.append("\r")
                case UInt8(ascii: "b"): out.append("\u{08}")
                case UInt8(ascii: "f"): out.append("\u{0C}")
                case UInt8(ascii: "u"), UInt8(ascii: "U"):
                    let digits = e == UInt8(ascii: "u") ? 4 : 8
                    guard at + digits <= bytes.count,
                        let v = UInt32(String(decoding: bytes[at..<at + digits], as: UTF8.self), radix: 16),
                        let scalar = Unicode.Scalar(v)
                    else { throw fail("bad unicode escape") }
                    out.append(scalar)
                    at += digits
                default:
                    throw fail("unknown escape '\\\(character(e))'")
                }
                continue
            }
            raw.append(b)
            at += 1
        }
        throw fail("unterminated string")
    }

    mutating func literalString() throws(TOML.ParseError) -> String {
        at += 1
        let start = at
        while !atEnd && peek != UInt8(ascii: "'") {
            if peek == 0x0A { throw fail("unterminated string") }
            at += 1
        }
        guard !atEnd else { throw fail("unterminated string") }
        let s = String(decoding: bytes[start..<at], as: UTF8.self)
        at += 1
        return s
    }

    mutating func boolean() throws(TOML.ParseError) -> TOML.Value {
        if bytes[at...].starts(with: Array("true".utf8)) {
            at += 4
            return .boolean(true)
        }
        if bytes[at...].starts(with: Array("false".utf8)) {
            at += 5
            return .boolean(false)
        }
        throw fail("expected a value (strings need quotes)")
    }

    /// An array `depth` arrays deep (1 for the outermost).
    mutating func array(depth: Int) throws(TOML.ParseError) -> TOML.Value {
        guard depth <= TOML.maximumDepth else {
            throw fail("arrays nest more than \(TOML.maximumDepth) deep (the limit)")
        }
        at += 1
        var items: [TOML.Node] = []
        while true {
            try skipArraySpace()
            guard !atEnd else { throw fail("unterminated array") }
            if peek == UInt8(ascii: "]") {
                at += 1
                return .array(items)
            }
            let l = line
            items.append(TOML.Node(value: try value(depth: depth), line: l))
            try skipArraySpace()
            guard !atEnd else { throw fail("unterminated array") }
            if peek == UInt8(ascii: ",") {
                at += 1
                continue
            }
            guard peek == UInt8(ascii: "]") else { throw fail("expected ',' or ']' in the array") }
        }
    }

    mutating func skipArraySpace() throws(TOML.ParseError) {
        while !atEnd {
            switch peek {
            case 0x20, 0x09, 0x0D: at += 1
            case 0x0A:
                at += 1
                line += 1
            case UInt8(ascii: "#"):
                while !atEnd && peek != 0x0A { at += 1 }
            default: return
            }
        }
    }

    mutating func number() throws(TOML.ParseError) -> TOML.Value {
        let start = at
        while !atEnd {
            let b = peek
            if b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D || b == UInt8(ascii: ",")
                || b == UInt8(ascii: "]") || b == UInt8(ascii: "#")
            {
                break
            }
            at += 1
        }
        let text = String(decoding: bytes[start..<at], as: UTF8.self)
        if text.isEmpty { throw fail("expected a value") }
        let plain = text.replacingUnderscores()
        if plain != text && (text.hasPrefix("_") || text.hasSuffix("_") || text.contains("__")) {
            throw fail("'\(text)' is not a valid number")
        }
        let unsigned = plain.hasPrefix("+") ? String(plain.dropFirst()) : plain
        for (prefix, radix) in [("0x", 16), ("0o", 8), ("0b", 2)] where unsigned.hasPrefix(prefix) {
            guard let v = Int(unsigned.dropFirst(2), radix: radix) else {
                throw fail("'\(text)' is not a valid number")
            }
            return .integer(v)
        }
        if let v = Int(unsigned) {
            if unsigned.count > 1 && (unsigned.hasPrefix("0") || unsigned.hasPrefix("-0")) {
                throw fail("'\(text)': leading zeros are not allowed")
            }
            return .integer(v)
        }
        switch unsigned {
        case "inf": return .float(.infinity)
        case "-inf": return .float(-.infinity)
        case "nan", "-nan": return .float(.nan)
        default: break
        }
        if let d = Double(unsigned), unsigned.first.map({ $0.isNumber || $0 == "-" }) == true {
            return .float(d)
        }
        throw fail("'\(text)' is not a value (strings need quotes)")
    }
}

extension String {
    func replacingUnderscores() -> String { String(self.filter { $0 != "_" }) }
}
