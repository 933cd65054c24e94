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

        mutating func set(_ key: String, _ node: Node) throws(ParseError) {
            if let existing = self[key] {
                throw ParseError(line: node.line, message: "key '\(key)' is already defined on line \(existing.line)")
            }
            entries.append((key, node))
        }

        mutating func update(_ key: String, _ body: (inout Node) throws(ParseError) -> Void) throws(ParseError) {
            guard let i = entries.firstIndex(where: { $0.key == key }) else { return }
            try body(&entries[i].node)
        }
    }

    /// Parses a whole document into its root table.
    public static func parse(_ text: String) throws(ParseError) -> Table {
        var parser = Parser(text: text)
        return try parser.document()
    }
}

private struct Parser {
    let bytes: [UInt8]
    var at = 0
    var line = 1
    var root = TOML.Table(line: 0)
    /// The path of the table that key/value lines go into.
    var current: [String] = []
    /// Tables created by a [header] (so that a second one is an error).
    var defined = Set<String>()

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
                try keyValue(into: current)
                try endLine()
            }
        }
        return root
    }

    mutating func header() throws(TOML.ParseError) {
        at += 1
        let isArray = !atEnd && peek == UInt8(ascii: "[")
        if isArray { at += 1 }
        skipBlanks()
        let path = try keyPath()
        skipBlanks()
        guard !atEnd && peek == UInt8(ascii: "]") else { throw fail("expected ']' to close the table header") }
        at += 1
        if isArray {
            guard !atEnd && peek == UInt8(ascii: "]") else { throw fail("expected ']]' to close the array of tables") }
            at += 1
            try appendTableArray(path)
        } else {
            let name = path.joined(separator: ".")
            if defined.contains(name) { throw fail("table [\(name)] is defined twice") }
            defined.insert(name)
            try ensureTable(path, headerLine: line)
        }
        current = path
    }

    /// Parses `a.b."c d"` into its parts.
    mutating func keyPath() throws(TOML.ParseError) -> [String] {
        var parts: [String] = []
        while true {
            skipBlanks()
            guard !atEnd else { throw fail("expected a key") }
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

    mutating func keyValue(into tablePath: [String]) throws(TOML.ParseError) {
        let keyLine = line
        let path = try keyPath()
        skipBlanks()
        guard !atEnd && peek == UInt8(ascii: "=") else {
            throw fail("expected '=' after the key '\(path.joined(separator: "."))'")
        }
        at += 1
        skipBlanks()
        let value = try value()
        let full = tablePath + path.dropLast()
        try ensureTable(full, headerLine: keyLine)
        try modifyTable(full) { (t: inout TOML.Table) throws(TOML.ParseError) in
            try t.set(path.last!, TOML.Node(value: value, line: keyLine))
        }
    }

    /// Makes sure every table on `path` exists (the last element of an
    /// array of tables counts as the table).
    mutating func ensureTable(_ path: [String], headerLine: Int) throws(TOML.ParseError) {
        var prefix: [String] = []
        for name in path {
            let parent = prefix
            let l = line
            try modifyTable(parent) { (t: inout TOML.Table) throws(TOML.ParseError) in
                if let existing = t[name] {
                    switch existing.value {
                    case .table, .tableArray: break
                    default:
                        throw TOML.ParseError(
                            line: l, message: "'\(name)' is already a value (line \(existing.line)), not a table")
                    }
                } else {
                    try t.set(name, TOML.Node(value: .table(TOML.Table(line: headerLine)), line: headerLine))
                }
            }
            prefix.append(name)
        }
    }

    mutating func appendTableArray(_ path: [String]) throws(TOML.ParseError) {
        try ensureTable(Array(path.dropLast()), headerLine: line)
        let name = path.last!
        let l = line
        try modifyTable(Array(path.dropLast())) { (t: inout TOML.Table) throws(TOML.ParseError) in
            if let existing = t[name] {
                guard case .tableArray = existing.value else {
                    throw TOML.ParseError(
                        line: l,
                        message: "'\(name)' is already defined on line \(existing.line), not as an array of tables")
                }
                try t.update(name) { (n: inout TOML.Node) throws(TOML.ParseError) in
                    if case .tableArray(var tables) = n.value {
                        tables.append(TOML.Table(line: l))
                        n.value = .tableArray(tables)
                    }
                }
            } else {
                try t.set(name, TOML.Node(value: .tableArray([TOML.Table(line: l)]), line: l))
            }
        }
    }

    /// Runs `body` on the table at `path` (the last table of an array of
    /// tables along the way).
    mutating func modifyTable(_ path: [String], _ body: (inout TOML.Table) throws(TOML.ParseError) -> Void) throws(TOML
        .ParseError)
    {
        try Self.modify(&root, path[...], body)
    }

    static func modify(
        _ table: inout TOML.Table, _ path: ArraySlice<String>,
        _ body: (inout TOML.Table) throws(TOML.ParseError) -> Void
    ) throws(TOML.ParseError) {
        guard let name = path.first else {
            try body(&table)
            return
        }
        try table.update(name) { (node: inout TOML.Node) throws(TOML.ParseError) in
            switch node.value {
            case .table(var inner):
                try modify(&inner, path.dropFirst(), body)
                node.value = .table(inner)
            case .tableArray(var tables):
                guard !tables.isEmpty else { return }
                try modify(&tables[tables.count - 1], path.dropFirst(), body)
                node.value = .tableArray(tables)
            default:
                break
            }
        }
    }

    mutating func value() throws(TOML.ParseError) -> TOML.Value {
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
            return try array()
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

    mutating func array() throws(TOML.ParseError) -> TOML.Value {
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
            items.append(TOML.Node(value: try value(), line: l))
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
