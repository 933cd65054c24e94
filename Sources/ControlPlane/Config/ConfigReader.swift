/// A configuration error: the file, the line and the key it is about.
public struct ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    public var file: String
    public var line: Int
    /// The dotted key, e.g. `workers.count`; empty for syntax errors.
    public var key: String
    public var message: String

    public var description: String {
        key.isEmpty ? "\(file):\(line): \(message)" : "\(file):\(line): \(key): \(message)"
    }
}

/// Reads one table of the configuration, checking types and ranges and
/// remembering which keys were used, so that any other key is an error.
struct Section {
    let file: String
    /// The section's dotted name ("workers", "source[2]").
    let name: String
    let table: TOML.Table
    private(set) var used = Set<String>()

    init(file: String, name: String, table: TOML.Table) {
        self.file = file
        self.name = name
        self.table = table
    }

    func key(_ k: String) -> String { name.isEmpty ? k : "\(name).\(k)" }

    /// The section of the key table this one is (`source[2]` is `source`).
    var section: ConfigSection? {
        ConfigSection(rawValue: String(name.prefix { $0 != "[" }))
    }

    /// The table's entry for `k`. A reader that asks for a key the table
    /// lacks is a programming error: the table is the one list of keys.
    func spec(_ k: String) -> ConfigKey {
        guard let section, let spec = ConfigKeys.key(section, k) else {
            preconditionFailure("configuration key \(key(k)) is read but missing from ConfigKeys.all")
        }
        return spec
    }

    /// An integer key, in the table's range.
    mutating func int(_ k: String, default value: Int) throws(ConfigError) -> Int {
        guard case .integer(let range) = spec(k).kind else { preconditionFailure("\(key(k)) is not an integer") }
        return try int(k, default: value, in: range)
    }

    mutating func optionalInt(_ k: String) throws(ConfigError) -> Int? {
        guard case .integer(let range) = spec(k).kind else { preconditionFailure("\(key(k)) is not an integer") }
        return try optionalInt(k, in: range)
    }

    mutating func double(_ k: String, default value: Double) throws(ConfigError) -> Double {
        guard case .number(let range) = spec(k).kind else { preconditionFailure("\(key(k)) is not a number") }
        return try double(k, default: value, in: range)
    }

    mutating func size(_ k: String, default value: Int) throws(ConfigError) -> Int {
        guard case .size(let range) = spec(k).kind else { preconditionFailure("\(key(k)) is not a size") }
        return try size(k, default: value, in: range)
    }

    mutating func intArray(_ k: String) throws(ConfigError) -> [Int]? {
        guard case .integers(let range) = spec(k).kind else { preconditionFailure("\(key(k)) is not integers") }
        return try intArray(k, in: range)
    }

    /// Fails on the first key the table does not have for this section.
    func finish() throws(ConfigError) {
        guard let section else { preconditionFailure("\(name) is not a section of ConfigKeys") }
        try finish(known: ConfigKeys.names(in: section))
    }

    func error(_ k: String, _ message: String, line: Int? = nil) -> ConfigError {
        ConfigError(file: file, line: line ?? table[k]?.line ?? table.line, key: key(k), message: message)
    }

    mutating func node(_ k: String) -> TOML.Node? {
        if !name.isEmpty { _ = spec(k) }
        used.insert(k)
        return table[k]
    }

    /// The line a key was written on (or the section's header).
    func line(_ k: String) -> Int { table[k]?.line ?? table.line }

    mutating func int(_ k: String, default value: Int, in range: ClosedRange<Int>) throws(ConfigError) -> Int {
        guard let n = node(k) else { return value }
        guard case .integer(let v) = n.value else { throw error(k, "must be an integer, not \(n.value.typeName)") }
        guard range.contains(v) else {
            throw error(k, "must be within \(range.lowerBound)...\(range.upperBound), not \(v)")
        }
        return v
    }

    mutating func optionalInt(_ k: String, in range: ClosedRange<Int>) throws(ConfigError) -> Int? {
        guard table[k] != nil else {
            if !name.isEmpty { _ = spec(k) }
            used.insert(k)
            return nil
        }
        return try int(k, default: 0, in: range)
    }

    mutating func double(_ k: String, default value: Double, in range: ClosedRange<Double>) throws(ConfigError)
        -> Double
    {
        guard let n = node(k) else { return value }
        let v: Double
        switch n.value {
        case .integer(let i): v = Double(i)
        case .float(let f): v = f
        default: throw error(k, "must be a number, not \(n.value.typeName)")
        }
        guard range.contains(v) else {
            throw error(k, "must be within \(range.lowerBound)...\(range.upperBound), not \(v)")
        }
        return v
    }

    mutating func bool(_ k: String, default value: Bool) throws(ConfigError) -> Bool {
        guard let n = node(k) else { return value }
        guard case .boolean(let v) = n.value else { throw error(k, "must be true or false, not \(n.value.typeName)") }
        return v
    }

    mutating func string(_ k: String, default value: String?) throws(ConfigError) -> String? {
        guard let n = node(k) else { return value }
        guard case .string(let v) = n.value else { throw error(k, "must be a string, not \(n.value.typeName)") }
        return v
    }

    /// A string from a fixed set of choices.
    mutating func choice<T: RawRepresentable>(_ k: String, default value: T) throws(ConfigError) -> T
    where T.RawValue == String, T: CaseIterable {
        guard let s = try string(k, default: nil) else { return value }
        guard let v = T(rawValue: s) else {
            throw error(
                k, "must be one of \(T.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")), not \"\(s)\"")
        }
        return v
    }

    /// A size: an integer of bytes, or a string such as "16MiB", "512KiB".
    mutating func size(_ k: String, default value: Int, in range: ClosedRange<Int>) throws(ConfigError) -> Int {
        guard let n = node(k) else { return value }
        let bytes: Int
        switch n.value {
        case .integer(let i):
            bytes = i
        case .string(let s):
            guard let parsed = Section.parseSize(s) else {
                throw error(k, "must be a size such as \"64MiB\", \"512KiB\" or a number of bytes, not \"\(s)\"")
            }
            bytes = parsed
        default:
            throw error(k, "must be a size (bytes, or a string such as \"64MiB\"), not \(n.value.typeName)")
        }
        guard range.contains(bytes) else {
            throw error(k, "must be within \(range.lowerBound)...\(range.upperBound) bytes, not \(bytes)")
        }
        return bytes
    }

    static func parseSize(_ s: String) -> Int? {
        let units: [(String, Int)] = [
            ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10), ("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10),
            ("B", 1),
        ]
        let t = s.filter { $0 != " " }
        for (suffix, scale) in units where t.hasSuffix(suffix) {
            guard let v = Int(t.dropLast(suffix.count)), v >= 0 else { return nil }
            let (bytes, overflow) = v.multipliedReportingOverflow(by: scale)
            return overflow ? nil : bytes
        }
        return Int(t)
    }

    mutating func intArray(_ k: String, in range: ClosedRange<Int>) throws(ConfigError) -> [Int]? {
        guard let n = node(k) else { return nil }
        guard case .array(let items) = n.value else {
            throw error(k, "must be an array of integers, not \(n.value.typeName)")
        }
        var out: [Int] = []
        for item in items {
            guard case .integer(let v) = item.value else {
                throw error(k, "must hold integers only, not \(item.value.typeName)", line: item.line)
            }
            guard range.contains(v) else {
                throw error(
                    k, "values must be within \(range.lowerBound)...\(range.upperBound), not \(v)", line: item.line)
            }
            out.append(v)
        }
        return out
    }

    mutating func stringArray(_ k: String) throws(ConfigError) -> [String]? {
        guard let n = node(k) else { return nil }
        guard case .array(let items) = n.value else {
            throw error(k, "must be an array of strings, not \(n.value.typeName)")
        }
        var out: [String] = []
        for item in items {
            guard case .string(let v) = item.value else {
                throw error(k, "must hold strings only, not \(item.value.typeName)", line: item.line)
            }
            out.append(v)
        }
        return out
    }

    /// Fails on the first key nobody asked for, suggesting a known one.
    func finish(known: [String]) throws(ConfigError) {
        for (k, n) in table.entries where !used.contains(k) {
            var message = "unknown key"
            // Only names within 3 characters of its length can be within 3
            // edits: a long key costs no Levenshtein table.
            let length = k.count
            let candidates = known.filter { abs($0.count - length) <= 3 }.map { ($0, Section.distance($0, k)) }
            if let near = candidates.min(by: { $0.1 < $1.1 }), near.1 <= 3 {
                message += " (did you mean '\(near.0)'?)"
            }
            if case .table = n.value { message = "unknown section" }
            throw ConfigError(file: file, line: n.line, key: key(k), message: message)
        }
    }

    /// Levenshtein distance, for suggestions.
    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a)
        let b = Array(b)
        var row = Array(0...b.count)
        for i in 1...max(1, a.count) where !a.isEmpty {
            var previous = row[0]
            row[0] = i
            for j in 1...max(1, b.count) where !b.isEmpty {
                let saved = row[j]
                row[j] = min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] == b[j - 1] ? 0 : 1))
                previous = saved
            }
        }
        return row[b.count]
    }
}
