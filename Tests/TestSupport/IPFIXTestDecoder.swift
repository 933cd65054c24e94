/// A small IPFIX reader written from RFC 7011 for the tests, independent of
/// the encoder: it checks the framing strictly and keeps every template and
/// record it meets.
public struct IPFIXTestDecoder {
    public struct Header: Equatable, Sendable {
        public var version: UInt16
        public var length: Int
        public var exportTime: UInt32
        public var sequence: UInt32
        public var domain: UInt32
    }

    public struct Field: Equatable, Sendable {
        public var id: UInt16
        public var length: Int

        public init(id: UInt16, length: Int) {
            self.id = id
            self.length = length
        }
    }

    public struct Template: Equatable, Sendable {
        public var id: UInt16
        public var scopeCount: Int
        public var fields: [Field]
        public var recordLength: Int { fields.reduce(0) { $0 + $1.length } }
    }

    /// One data record: its template and each field's value (fields of up to 8 bytes as
    /// integers, longer ones as bytes).
    public struct Record {
        public var templateID: UInt16
        public var domain: UInt32
        public var fields: [(id: UInt16, bytes: [UInt8])]

        /// The first field with this element id, as an integer.
        public func value(_ id: UInt16, occurrence: Int = 0) -> UInt64? {
            let matching = fields.filter { $0.id == id }
            guard occurrence < matching.count else { return nil }
            return matching[occurrence].bytes.reduce(0) { $0 << 8 | UInt64($1) }
        }

        public func bytes(_ id: UInt16) -> [UInt8]? { fields.first { $0.id == id }?.bytes }
    }

    public struct Message {
        public var header: Header
        /// Set ids in order.
        public var sets: [(id: UInt16, length: Int)]
        public var templates: [Template]
        public var records: [Record]
    }

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
        public init(_ d: String) { description = d }
    }

    /// Templates known per (domain, template id).
    public var templates: [UInt64: Template] = [:]

    public init() {}

    public static func key(_ domain: UInt32, _ id: UInt16) -> UInt64 { UInt64(domain) << 16 | UInt64(id) }

    public static func u16(_ b: [UInt8], _ at: Int) -> UInt16 { UInt16(b[at]) << 8 | UInt16(b[at + 1]) }
    public static func u32(_ b: [UInt8], _ at: Int) -> UInt32 {
        UInt32(u16(b, at)) << 16 | UInt32(u16(b, at + 2))
    }

    /// Decodes one message; throws on any framing error (a set past the end, padding, an
    /// empty set, data without a template, a record cut short).
    public mutating func decode(_ b: [UInt8]) throws -> Message {
        guard b.count >= 16 else { throw Failure("message of \(b.count) bytes") }
        let header = Header(
            version: Self.u16(b, 0), length: Int(Self.u16(b, 2)), exportTime: Self.u32(b, 4),
            sequence: Self.u32(b, 8), domain: Self.u32(b, 12))
        guard header.version == 10 else { throw Failure("version \(header.version)") }
        guard header.length == b.count else { throw Failure("length field \(header.length), message \(b.count)") }
        var message = Message(header: header, sets: [], templates: [], records: [])
        var at = 16
        while at < b.count {
            guard b.count - at >= 4 else { throw Failure("\(b.count - at) bytes after the last set") }
            let id = Self.u16(b, at)
            let length = Int(Self.u16(b, at + 2))
            guard length > 4, at + length <= b.count else { throw Failure("set \(id) of length \(length) at \(at)") }
            message.sets.append((id, length))
            let body = Array(b[(at + 4)..<(at + length)])
            switch id {
            case 2, 3:
                var p = 0
                while p < body.count {
                    guard body.count - p >= (id == 3 ? 6 : 4) else { throw Failure("template header cut at \(p)") }
                    let tid = Self.u16(body, p)
                    let count = Int(Self.u16(body, p + 2))
                    let scope = id == 3 ? Int(Self.u16(body, p + 4)) : 0
                    p += id == 3 ? 6 : 4
                    guard tid >= 256, count > 0 else { throw Failure("template \(tid) with \(count) fields") }
                    guard id == 2 || (scope > 0 && scope <= count) else { throw Failure("scope count \(scope)") }
                    var fields: [Field] = []
                    for _ in 0..<count {
                        guard body.count - p >= 4 else { throw Failure("template \(tid) cut") }
                        let e = Self.u16(body, p)
                        guard e & 0x8000 == 0 else { throw Failure("enterprise element in \(tid)") }
                        fields.append(Field(id: e, length: Int(Self.u16(body, p + 2))))
                        p += 4
                    }
                    let t = Template(id: tid, scopeCount: scope, fields: fields)
                    templates[Self.key(header.domain, tid)] = t
                    message.templates.append(t)
                }
            default:
                guard id >= 256 else { throw Failure("reserved set id \(id)") }
                guard let t = templates[Self.key(header.domain, id)] else {
                    throw Failure("data set \(id) before its template (domain \(header.domain))")
                }
                guard body.count % t.recordLength == 0 else {
                    throw Failure(
                        "set \(id): \(body.count) bytes is not a whole number of \(t.recordLength)-byte records")
                }
                var p = 0
                while p < body.count {
                    var record = Record(templateID: id, domain: header.domain, fields: [])
                    for f in t.fields {
                        record.fields.append((f.id, Array(body[p..<(p + f.length)])))
                        p += f.length
                    }
                    message.records.append(record)
                }
            }
            at += length
        }
        return message
    }
}
