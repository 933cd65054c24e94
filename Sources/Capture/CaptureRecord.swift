import Packet

/// One packet record of a capture file: where its bytes are (inside the
/// file's mapping) and what its header said.
@frozen
public struct CaptureRecord {
    /// The captured bytes; valid while the reader lives.
    public var data: UnsafeRawPointer
    public var capturedLength: Int
    /// The length on the wire (original length).
    public var wireLength: Int
    /// Nanoseconds since the Unix epoch.
    public var timestamp: Int64
    public var linkType: LinkType
    /// 1-based number among the file's packet records.
    public var number: Int
    /// Byte offset of the record (pcap) or block (pcapng) in the file.
    public var offset: Int

    @inlinable
    public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: data, count: capturedLength) }

    @inlinable
    init(
        data: UnsafeRawPointer, capturedLength: Int, wireLength: Int, timestamp: Int64, linkType: LinkType, number: Int,
        offset: Int
    ) {
        self.data = data
        self.capturedLength = capturedLength
        self.wireLength = wireLength
        self.timestamp = timestamp
        self.linkType = linkType
        self.number = number
        self.offset = offset
    }
}

extension CaptureRecord: @unchecked Sendable {}

/// Why a capture file could not be read (further): names the file and, when
/// the damage is inside it, the record and the byte offset.
public struct CaptureFileError: Error, Sendable, Hashable, CustomStringConvertible {
    public var file: String
    /// The 1-based packet record being read, when there was one.
    public var record: Int?
    /// The byte offset of the damage.
    public var offset: Int?
    public var message: String

    public init(file: String, record: Int? = nil, offset: Int? = nil, message: String) {
        self.file = file
        self.record = record
        self.offset = offset
        self.message = message
    }

    public var description: String {
        var text = file
        if let record { text += ": record \(record)" }
        if let offset { text += (record == nil ? ": " : " ") + "at byte offset \(offset)" }
        return text + ": " + message
    }

    /// What went wrong and where, without a byte of the file (the stats
    /// socket reports this; the detailed message may quote the file's
    /// bytes, which only someone who may read the file should see).
    public var contentFree: String {
        switch (record, offset) {
        case (let record?, let offset?):
            return "record \(record) at byte offset \(offset) is damaged or cut off"
        case (let record?, nil):
            return "record \(record) is damaged or cut off"
        default:
            return "not a capture this daemon reads"
        }
    }
}

/// What a capture file is.
public enum CaptureFormat: Sendable, Hashable, CustomStringConvertible {
    case pcap(nanosecond: Bool, swapped: Bool)
    case pcapng

    public var description: String {
        switch self {
        case .pcap(let ns, let swapped):
            return "pcap (\(ns ? "ns" : "µs") timestamps, \(swapped ? "byte-swapped" : "native byte order"))"
        case .pcapng: return "pcapng"
        }
    }
}
