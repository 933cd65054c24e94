/// Codable to and from ``JSON`` values, so that every message of the stats
/// socket and every report is a typed value with one definition of its keys.
/// Keys keep the order the type encodes them in (declaration order for
/// synthesised conformances), and a type may encode several keyed
/// containers into one object (the way reports flatten ``TrafficTotals``).
/// Swift's camelCase names are snake_case on the wire (`rxMissed` is
/// `rx_missed`), as in the rest of the daemon's output.
public enum JSONCoding {
    /// `rxMissed` → `rx_missed`.
    static func wireName(_ name: String) -> String {
        guard name.utf8.contains(where: { $0 >= 65 && $0 <= 90 }) else { return name }
        var out = ""
        for ch in name {
            if ch.isUppercase {
                out.append("_")
                out += ch.lowercased()
            } else {
                out.append(ch)
            }
        }
        return out
    }

    /// `rx_missed` → `rxMissed`.
    static func swiftName(_ name: String) -> String {
        guard name.contains("_") else { return name }
        var out = ""
        var upper = false
        for ch in name {
            if ch == "_" {
                upper = true
            } else {
                out += upper ? ch.uppercased() : String(ch)
                upper = false
            }
        }
        return out
    }

    /// The value as JSON.
    public static func encode(_ value: some Encodable) -> JSON {
        let encoder = ValueEncoder(codingPath: [])
        do {
            try value.encode(to: encoder)
        } catch {
            // Our encoders never throw; a type that throws on its own is a bug.
            preconditionFailure("encoding \(type(of: value)) failed: \(error)")
        }
        return encoder.storage.value
    }

    /// Decodes `type` from `json`, strictly: a number must fit the field's
    /// type exactly, a string is never read as a number, and the error names
    /// the field.
    public static func decode<T: Decodable>(_ type: T.Type, from json: JSON) throws(SchemaError) -> T {
        do {
            return try T(from: ValueDecoder(json, codingPath: []))
        } catch let error as SchemaError {
            throw error
        } catch let error as DecodingError {
            throw SchemaError(error)
        } catch {
            throw SchemaError(field: "", message: "\(error)")
        }
    }
}

/// Why a JSON value is not the type it should be: the field's dotted path
/// and what is wrong with it.
public struct SchemaError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The field, as a dotted path (`"flows.top"`, `"workers[2].cpu"`); empty
    /// for the value as a whole.
    public var field: String
    public var message: String

    public init(field: String, message: String) {
        self.field = field
        self.message = message
    }

    init(_ error: DecodingError) {
        func path(_ keys: [any CodingKey]) -> String {
            var out = ""
            for key in keys {
                if let i = key.intValue {
                    out += "[\(i)]"
                } else {
                    out += (out.isEmpty ? "" : ".") + JSONCoding.wireName(key.stringValue)
                }
            }
            return out
        }
        switch error {
        case .typeMismatch(_, let c): self.init(field: path(c.codingPath), message: c.debugDescription)
        case .valueNotFound(_, let c): self.init(field: path(c.codingPath), message: c.debugDescription)
        case .keyNotFound(let key, let c):
            self.init(field: path(c.codingPath + [key]), message: "missing")
        case .dataCorrupted(let c): self.init(field: path(c.codingPath), message: c.debugDescription)
        @unknown default: self.init(field: "", message: "\(error)")
        }
    }

    public var description: String { field.isEmpty ? message : "\"\(field)\": \(message)" }
}

// MARK: - Encoding

/// A JSON value under construction: containers are boxes, so nested
/// containers can fill them in after they are handed out.
private final class Storage {
    enum Node {
        case value(JSON)
        case object(ObjectBox)
        case array(ArrayBox)
        case unset
    }
    var node: Node = .unset

    var value: JSON {
        switch node {
        case .value(let v): return v
        case .object(let o): return o.value
        case .array(let a): return a.value
        case .unset: return .object([])
        }
    }

    func object() -> ObjectBox {
        if case .object(let o) = node { return o }
        let o = ObjectBox()
        node = .object(o)
        return o
    }

    func array() -> ArrayBox {
        if case .array(let a) = node { return a }
        let a = ArrayBox()
        node = .array(a)
        return a
    }
}

private final class ObjectBox {
    var members: [(String, Storage)] = []

    func slot(_ key: String) -> Storage {
        if let existing = members.first(where: { $0.0 == key }) { return existing.1 }
        let s = Storage()
        members.append((key, s))
        return s
    }

    var value: JSON { .object(members.map { ($0.0, $0.1.value) }) }
}

private final class ArrayBox {
    var items: [Storage] = []

    func append() -> Storage {
        let s = Storage()
        items.append(s)
        return s
    }

    var value: JSON { .array(items.map(\.value)) }
}

private struct IndexKey: CodingKey {
    var intValue: Int?
    var stringValue: String { "\(intValue ?? 0)" }
    init(_ i: Int) { intValue = i }
    init?(intValue: Int) { self.intValue = intValue }
    init?(stringValue: String) { nil }
}

private final class ValueEncoder: Encoder {
    let storage: Storage
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    init(codingPath: [any CodingKey], storage: Storage = Storage()) {
        self.codingPath = codingPath
        self.storage = storage
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        KeyedEncodingContainer(KeyedEncoder<Key>(box: storage.object(), codingPath: codingPath))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        UnkeyedEncoder(box: storage.array(), codingPath: codingPath)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        SingleEncoder(storage: storage, codingPath: codingPath)
    }
}

/// Scalars as JSON.
private func scalar<T: Encodable>(_ value: T) -> JSON? {
    switch value {
    case let v as Bool: return .bool(v)
    case let v as Int: return .int(v)
    case let v as Int8: return .int(Int(v))
    case let v as Int16: return .int(Int(v))
    case let v as Int32: return .int(Int(v))
    case let v as Int64: return .int(Int(v))
    case let v as UInt8: return .int(Int(v))
    case let v as UInt16: return .int(Int(v))
    case let v as UInt32: return .int(Int(v))
    case let v as UInt64: return v <= UInt64(Int.max) ? .int(Int(v)) : .double(Double(v))
    case let v as UInt: return v <= UInt(Int.max) ? .int(Int(v)) : .double(Double(v))
    case let v as Double: return .double(v)
    case let v as Float: return .double(Double(v))
    case let v as String: return .string(v)
    case let v as JSON: return v
    default: return nil
    }
}

private func encodeNested<T: Encodable>(_ value: T, into storage: Storage, codingPath: [any CodingKey]) throws {
    if let json = scalar(value) {
        storage.node = .value(json)
        return
    }
    try value.encode(to: ValueEncoder(codingPath: codingPath, storage: storage))
}

private struct KeyedEncoder<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let box: ObjectBox
    let codingPath: [any CodingKey]

    func slot(_ key: Key) -> Storage { box.slot(JSONCoding.wireName(key.stringValue)) }

    mutating func encodeNil(forKey key: Key) throws { slot(key).node = .value(.null) }

    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        try encodeNested(value, into: slot(key), codingPath: codingPath + [key])
    }

    mutating func nestedContainer<NestedKey: CodingKey>(
        keyedBy keyType: NestedKey.Type, forKey key: Key
    ) -> KeyedEncodingContainer<NestedKey> {
        KeyedEncodingContainer(KeyedEncoder<NestedKey>(box: slot(key).object(), codingPath: codingPath + [key]))
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        UnkeyedEncoder(box: slot(key).array(), codingPath: codingPath + [key])
    }

    mutating func superEncoder() -> any Encoder {
        ValueEncoder(codingPath: codingPath, storage: box.slot("super"))
    }

    mutating func superEncoder(forKey key: Key) -> any Encoder {
        ValueEncoder(codingPath: codingPath + [key], storage: slot(key))
    }
}

private struct UnkeyedEncoder: UnkeyedEncodingContainer {
    let box: ArrayBox
    let codingPath: [any CodingKey]
    var count: Int { box.items.count }

    mutating func encodeNil() throws { box.append().node = .value(.null) }

    mutating func encode<T: Encodable>(_ value: T) throws {
        let key = IndexKey(box.items.count)
        try encodeNested(value, into: box.append(), codingPath: codingPath + [key])
    }

    mutating func nestedContainer<NestedKey: CodingKey>(
        keyedBy keyType: NestedKey.Type
    ) -> KeyedEncodingContainer<NestedKey> {
        let key = IndexKey(box.items.count)
        return KeyedEncodingContainer(
            KeyedEncoder<NestedKey>(box: box.append().object(), codingPath: codingPath + [key]))
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        let key = IndexKey(box.items.count)
        return UnkeyedEncoder(box: box.append().array(), codingPath: codingPath + [key])
    }

    mutating func superEncoder() -> any Encoder {
        ValueEncoder(codingPath: codingPath, storage: box.append())
    }
}

private struct SingleEncoder: SingleValueEncodingContainer {
    let storage: Storage
    let codingPath: [any CodingKey]

    mutating func encodeNil() throws { storage.node = .value(.null) }

    mutating func encode<T: Encodable>(_ value: T) throws {
        try encodeNested(value, into: storage, codingPath: codingPath)
    }
}

// MARK: - Decoding

private struct ValueDecoder: Decoder {
    let json: JSON
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    init(_ json: JSON, codingPath: [any CodingKey]) {
        self.json = json
        self.codingPath = codingPath
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case .object(let members) = json else {
            throw DecodingError.typeMismatch(
                [String: JSON].self,
                .init(codingPath: codingPath, debugDescription: "expected an object, got \(json.kindName)"))
        }
        return KeyedDecodingContainer(KeyedDecoder<Key>(members: members, codingPath: codingPath))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        guard case .array(let items) = json else {
            throw DecodingError.typeMismatch(
                [JSON].self, .init(codingPath: codingPath, debugDescription: "expected an array, got \(json.kindName)"))
        }
        return UnkeyedDecoder(items: items, codingPath: codingPath)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        SingleDecoder(json: json, codingPath: codingPath)
    }
}

extension JSON {
    /// The kind of value, for error messages ("a string", "a number").
    public var kindName: String {
        switch self {
        case .null: return "null"
        case .bool: return "a boolean"
        case .int, .double: return "a number"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }
}

/// Reads a scalar of type `T` from `json`, strictly.
private func decodeScalar<T>(_ type: T.Type, from json: JSON, codingPath: [any CodingKey]) throws -> T? {
    func mismatch(_ expected: String) -> DecodingError {
        .typeMismatch(
            type, .init(codingPath: codingPath, debugDescription: "expected \(expected), got \(json.kindName)"))
    }
    func integer<I: FixedWidthInteger>(_: I.Type) throws -> I {
        switch json {
        case .int(let i):
            guard let v = I(exactly: i) else {
                throw DecodingError.dataCorrupted(
                    .init(codingPath: codingPath, debugDescription: "\(i) is out of range \(I.min)...\(I.max)"))
            }
            return v
        case .double(let d):
            guard d.isFinite, d == d.rounded(), let v = I(exactly: d) else {
                throw DecodingError.dataCorrupted(
                    .init(codingPath: codingPath, debugDescription: "\(d) is not an integer in \(I.min)...\(I.max)"))
            }
            return v
        default:
            throw mismatch("an integer")
        }
    }
    switch type {
    case is Bool.Type:
        guard case .bool(let b) = json else { throw mismatch("a boolean") }
        return b as? T
    case is Int.Type: return try integer(Int.self) as? T
    case is Int8.Type: return try integer(Int8.self) as? T
    case is Int16.Type: return try integer(Int16.self) as? T
    case is Int32.Type: return try integer(Int32.self) as? T
    case is Int64.Type: return try integer(Int64.self) as? T
    case is UInt8.Type: return try integer(UInt8.self) as? T
    case is UInt16.Type: return try integer(UInt16.self) as? T
    case is UInt32.Type: return try integer(UInt32.self) as? T
    case is UInt64.Type: return try integer(UInt64.self) as? T
    case is UInt.Type: return try integer(UInt.self) as? T
    case is Double.Type:
        switch json {
        case .int(let i): return Double(i) as? T
        case .double(let d): return d as? T
        default: throw mismatch("a number")
        }
    case is String.Type:
        guard case .string(let s) = json else { throw mismatch("a string") }
        return s as? T
    case is JSON.Type:
        return json as? T
    default:
        return nil
    }
}

private func decodeNested<T: Decodable>(_ type: T.Type, from json: JSON, codingPath: [any CodingKey]) throws -> T {
    if let v = try decodeScalar(type, from: json, codingPath: codingPath) { return v }
    return try T(from: ValueDecoder(json, codingPath: codingPath))
}

private struct KeyedDecoder<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let members: [(String, JSON)]
    let codingPath: [any CodingKey]

    var allKeys: [Key] { members.compactMap { Key(stringValue: JSONCoding.swiftName($0.0)) } }

    func value(_ key: Key) -> JSON? {
        let name = JSONCoding.wireName(key.stringValue)
        return members.first { $0.0 == name }?.1
    }

    func contains(_ key: Key) -> Bool { value(key) != nil }

    func decodeNil(forKey key: Key) throws -> Bool {
        guard let v = value(key) else { return true }
        return v == .null
    }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        guard let v = value(key) else {
            throw DecodingError.keyNotFound(key, .init(codingPath: codingPath, debugDescription: "missing"))
        }
        if v == .null {
            throw DecodingError.valueNotFound(
                type, .init(codingPath: codingPath + [key], debugDescription: "expected a value, got null"))
        }
        return try decodeNested(type, from: v, codingPath: codingPath + [key])
    }

    func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
        guard let v = value(key), v != .null else { return nil }
        return try decodeNested(type, from: v, codingPath: codingPath + [key])
    }

    func nestedContainer<NestedKey: CodingKey>(
        keyedBy type: NestedKey.Type, forKey key: Key
    ) throws -> KeyedDecodingContainer<NestedKey> {
        try ValueDecoder(value(key) ?? .null, codingPath: codingPath + [key]).container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        try ValueDecoder(value(key) ?? .null, codingPath: codingPath + [key]).unkeyedContainer()
    }

    func superDecoder() throws -> any Decoder { ValueDecoder(.object(members), codingPath: codingPath) }

    func superDecoder(forKey key: Key) throws -> any Decoder {
        ValueDecoder(value(key) ?? .null, codingPath: codingPath + [key])
    }
}

private struct UnkeyedDecoder: UnkeyedDecodingContainer {
    let items: [JSON]
    let codingPath: [any CodingKey]
    var currentIndex = 0

    init(items: [JSON], codingPath: [any CodingKey]) {
        self.items = items
        self.codingPath = codingPath
    }

    var count: Int? { items.count }
    var isAtEnd: Bool { currentIndex >= items.count }

    mutating func next() throws -> (JSON, [any CodingKey]) {
        guard !isAtEnd else {
            throw DecodingError.valueNotFound(
                JSON.self, .init(codingPath: codingPath, debugDescription: "the array has no more items"))
        }
        defer { currentIndex += 1 }
        return (items[currentIndex], codingPath + [IndexKey(currentIndex)])
    }

    mutating func decodeNil() throws -> Bool {
        guard !isAtEnd, items[currentIndex] == .null else { return false }
        currentIndex += 1
        return true
    }

    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
        let (v, path) = try next()
        return try decodeNested(type, from: v, codingPath: path)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(
        keyedBy type: NestedKey.Type
    ) throws -> KeyedDecodingContainer<NestedKey> {
        let (v, path) = try next()
        return try ValueDecoder(v, codingPath: path).container(keyedBy: type)
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        let (v, path) = try next()
        return try ValueDecoder(v, codingPath: path).unkeyedContainer()
    }

    mutating func superDecoder() throws -> any Decoder {
        let (v, path) = try next()
        return ValueDecoder(v, codingPath: path)
    }
}

private struct SingleDecoder: SingleValueDecodingContainer {
    let json: JSON
    let codingPath: [any CodingKey]

    func decodeNil() -> Bool { json == .null }

    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try decodeNested(type, from: json, codingPath: codingPath)
    }
}
