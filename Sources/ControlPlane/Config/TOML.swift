import StatsProtocol

/// A small TOML 1.0 reader for the daemon's configuration: tables, arrays
/// of tables, dotted keys, strings (basic and literal), integers (decimal,
/// hex, octal, binary, with underscores; 64-bit), floats (finite), booleans
/// and arrays. Every value remembers its line, so that configuration errors
/// can point at it, and an error about a value names its key. Inline
/// tables, multi-line strings, dates, `inf` and `nan` are refused with a
/// clear error.
public enum TOML {
    public struct ParseError: Error, Sendable, Equatable, CustomStringConvertible {
        public var line: Int
        /// The dotted key whose value could not be read ("workers.count",
        /// "source[1].snaplen"); nil when the error is not about one value.
        public var key: String? = nil
        public var message: String
        public var description: String {
            guard let key else { return "line \(line): \(message)" }
            return "line \(line): key '\(key)': \(message)"
        }
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
        let value: TOML.Value
        do {
            value = try self.value(depth: 0)
        } catch {
            var named = error
            let table = name(of: current)
            let key = path.joined(separator: ".")
            named.key = abbreviated(table.isEmpty ? key : table + "." + key)
            throw named
        }
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
            if bytes[at...].starts(with: "\"\"\"".utf8) { throw fail("multi-line strings are not supported here") }
            return .string(try basicString())
        case UInt8(ascii: "'"):
            if bytes[at...].starts(with: "'''".utf8) { throw fail("multi-line strings are not supported here") }
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

    /// A basic string, `"…"` with escapes (read by StatsProtocol's
    /// `StringEscapes`, which JSON shares).
    mutating func basicString() throws(TOML.ParseError) -> String {
        do {
            let (string, end) = try StringEscapes.decode(bytes, openingQuoteAt: at, dialect: .toml)
            at = end
            return string
        } catch {
            at = error.offset
            throw fail(error.message)
        }
    }

    /// A literal string, `'…'`: no escapes, no control characters but tab.
    mutating func literalString() throws(TOML.ParseError) -> String {
        at += 1
        let start = at
        while !atEnd && peek != UInt8(ascii: "'") {
            let b = peek
            if b == 0x0A { throw fail("unterminated string (a literal string ends on its line)") }
            if b < 0x20 && b != 0x09 || b == 0x7F {
                let hex = String(b, radix: 16, uppercase: true)
                let code = (hex.count == 1 ? "0" : "") + hex
                throw fail("control character U+00\(code) in a literal string; escape it in a basic string")
            }
            at += 1
        }
        guard !atEnd else { throw fail("unterminated string") }
        let s = String(decoding: bytes[start..<at], as: UTF8.self)
        at += 1
        return s
    }

    mutating func boolean() throws(TOML.ParseError) -> TOML.Value {
        if bytes[at...].starts(with: "true".utf8) {
            at += 4
            return .boolean(true)
        }
        if bytes[at...].starts(with: "false".utf8) {
            at += 5
            return .boolean(false)
        }
        return try number()
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

    /// An integer or a float (TOML 1.0), up to the next blank, `,`, `]`,
    /// `#` or line end.
    mutating func number() throws(TOML.ParseError) -> TOML.Value {
        let start = at
        while !atEnd {
            switch peek {
            case 0x20, 0x09, 0x0A, 0x0D, UInt8(ascii: ","), UInt8(ascii: "]"), UInt8(ascii: "#"): break
            default:
                at += 1
                continue
            }
            break
        }
        guard at > start else { throw fail("expected a value") }
        switch TOMLNumber.read(bytes[start..<at]) {
        case .success(let value): return value
        case .failure(let error): throw fail(error.message)
        }
    }
}

/// TOML 1.0's integers and floats, read from the bytes of one token:
///
///     integer = [+-] (0 | [1-9] ("_"? [0-9])*)          decimal
///             | 0x [0-9A-Fa-f] ("_"? [0-9A-Fa-f])*      hex, no sign
///             | 0o [0-7] ("_"? [0-7])*                 octal, no sign
///             | 0b [01] ("_"? [01])*                   binary, no sign
///     float   = decimal integer ("." digits)? ([eE] [+-]? digits)?   with a fraction, an exponent or both
///     digits  = [0-9] ("_"? [0-9])*
///
/// Integers must fit Int64 and floats a Double (finite); `inf` and `nan` are
/// refused, as values a configuration never needs.
private enum TOMLNumber {
    struct Invalid: Error {
        var message: String
    }

    static func read(_ token: ArraySlice<UInt8>) -> Result<TOML.Value, Invalid> {
        let b = Array(token)
        guard !b.isEmpty else { return .failure(Invalid(message: "expected a value")) }
        let text = String(decoding: b.count > 64 ? b[0..<61] : b[...], as: UTF8.self) + (b.count > 64 ? "..." : "")
        func invalid(_ kind: String, _ reason: String) -> Result<TOML.Value, Invalid> {
            .failure(Invalid(message: "invalid \(kind) '\(text)': \(reason)"))
        }
        var i = 0
        var negative = false
        if b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") {
            negative = b[i] == UInt8(ascii: "-")
            i += 1
        }
        let unsigned = b[i...]
        if unsigned.elementsEqual("inf".utf8) || unsigned.elementsEqual("nan".utf8) {
            return .failure(
                Invalid(message: "'\(text)' is not accepted: the configuration needs finite numbers, not inf or nan"))
        }
        guard i < b.count, isDigit(b[i], radix: 10) else {
            if i > 0 { return invalid("number", "expected a digit after the sign") }
            return .failure(Invalid(message: "'\(text)' is not a value (strings need quotes)"))
        }
        // Hex, octal, binary.
        if b[i] == UInt8(ascii: "0"), i + 1 < b.count, let base = prefixed(b[i + 1]) {
            let (radix, name) = base
            if i > 0 { return invalid("integer", "\(name) integers take no sign") }
            let run = digits(b, from: i + 2, radix: radix)
            guard run.underscore == nil else { return invalid("integer", "an underscore must sit between two digits") }
            guard !run.digits.isEmpty else {
                return invalid("integer", "expected \(name) digits after '0\(Character(Unicode.Scalar(b[i + 1])))'")
            }
            guard run.end == b.count else {
                return invalid("integer", "\(describe(b[run.end])) is not a valid \(name) digit")
            }
            guard let v = accumulate(run.digits, radix: radix, negative: false) else {
                return invalid("integer", "does not fit a 64-bit signed integer")
            }
            return .success(.integer(v))
        }
        // Decimal: the integer part.
        let whole = digits(b, from: i, radix: 10)
        guard whole.underscore == nil else { return invalid("number", "an underscore must sit between two digits") }
        var end = whole.end
        if end < b.count && (b[end] == UInt8(ascii: "-") || b[end] == UInt8(ascii: ":")) {
            return invalid(
                "number", "unexpected \(describe(b[end])) (dates and times are not supported; strings need quotes)")
        }
        if whole.digits.count > 1 && whole.digits[0] == 0 {
            return invalid("number", "leading zeros are not allowed")
        }
        if end == b.count {
            guard let v = accumulate(whole.digits, radix: 10, negative: negative) else {
                return invalid("integer", "does not fit a 64-bit signed integer")
            }
            return .success(.integer(v))
        }
        // A float: a fraction, an exponent, or both.
        var float = negative ? "-" : ""
        float.unicodeScalars.append(contentsOf: whole.digits.map { Unicode.Scalar(UInt8(ascii: "0") &+ $0) })
        var isFloat = false
        if b[end] == UInt8(ascii: ".") {
            let fraction = digits(b, from: end + 1, radix: 10)
            guard fraction.underscore == nil else {
                return invalid("float", "an underscore must sit between two digits")
            }
            guard !fraction.digits.isEmpty else { return invalid("float", "expected a digit after '.'") }
            float += "."
            float.unicodeScalars.append(contentsOf: fraction.digits.map { Unicode.Scalar(UInt8(ascii: "0") &+ $0) })
            end = fraction.end
            isFloat = true
        }
        if end < b.count && (b[end] == UInt8(ascii: "e") || b[end] == UInt8(ascii: "E")) {
            var j = end + 1
            float += "e"
            if j < b.count && (b[j] == UInt8(ascii: "+") || b[j] == UInt8(ascii: "-")) {
                float.unicodeScalars.append(Unicode.Scalar(b[j]))
                j += 1
            }
            let exponent = digits(b, from: j, radix: 10)
            guard exponent.underscore == nil else {
                return invalid("float", "an underscore must sit between two digits")
            }
            guard !exponent.digits.isEmpty else { return invalid("float", "expected digits in the exponent") }
            float.unicodeScalars.append(contentsOf: exponent.digits.map { Unicode.Scalar(UInt8(ascii: "0") &+ $0) })
            end = exponent.end
            isFloat = true
        }
        guard end == b.count else { return invalid(isFloat ? "float" : "number", "unexpected \(describe(b[end]))") }
        guard let d = Double(float), d.isFinite else {
            return invalid("float", "out of range for a 64-bit float (beyond ±1.8e308)")
        }
        return .success(.float(d))
    }

    /// `0x`, `0o` and `0b`.
    static func prefixed(_ b: UInt8) -> (radix: Int, name: String)? {
        switch b {
        case UInt8(ascii: "x"): return (16, "hex")
        case UInt8(ascii: "o"): return (8, "octal")
        case UInt8(ascii: "b"): return (2, "binary")
        default: return nil
        }
    }

    static func isDigit(_ b: UInt8, radix: Int) -> Bool { digitValue(b).map { Int($0) < radix } ?? false }

    static func digitValue(_ b: UInt8) -> UInt8? {
        switch b {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return b &- UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return b &- UInt8(ascii: "a") &+ 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return b &- UInt8(ascii: "A") &+ 10
        default: return nil
        }
    }

    /// Reads `digit ("_"? digit)*` from `b[start...]`: the digits' values,
    /// where the run stops, and the index of an underscore that is not
    /// between two digits, if there is one.
    static func digits(_ b: [UInt8], from start: Int, radix: Int) -> (digits: [UInt8], end: Int, underscore: Int?) {
        var out: [UInt8] = []
        var i = start
        while i < b.count {
            if let d = digitValue(b[i]), Int(d) < radix {
                out.append(d)
                i += 1
            } else if b[i] == UInt8(ascii: "_") {
                guard !out.isEmpty, i + 1 < b.count, isDigit(b[i + 1], radix: radix) else { return (out, i, i) }
                i += 1
            } else {
                break
            }
        }
        return (out, i, nil)
    }

    /// The digits' value, or nil when it does not fit an Int.
    static func accumulate(_ digits: [UInt8], radix: Int, negative: Bool) -> Int? {
        var v = 0
        for d in digits {
            let (shifted, o1) = v.multipliedReportingOverflow(by: radix)
            let (next, o2) =
                negative ? shifted.subtractingReportingOverflow(Int(d)) : shifted.addingReportingOverflow(Int(d))
            if o1 || o2 { return nil }
            v = next
        }
        return v
    }

    static func describe(_ b: UInt8) -> String {
        (0x21..<0x7F).contains(b)
            ? "'\(Character(Unicode.Scalar(b)))'" : "byte 0x\(String(b, radix: 16, uppercase: true))"
    }
}
