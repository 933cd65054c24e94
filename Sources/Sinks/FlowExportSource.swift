/// Where an exporting session takes ended flows from: a worker's export
/// ring, or a batch. The session peeks at a flow, and takes it only once its
/// records are in the message, so a flow that does not fit waits for the next
/// message instead of being lost.
public protocol FlowExportSource {
    /// The oldest waiting flow, without taking it; nil when none waits.
    mutating func peekFlow() -> FlowExportRecord?
    /// Takes the flow that `peekFlow()` returned last.
    mutating func removeFlow()
}

/// A `FlowExportSource` over any collection of records (an array, a slice, a
/// buffer pointer): `position` says how many were taken.
public struct FlowExportCollectionSource<Records: Collection>: FlowExportSource
where Records.Element == FlowExportRecord {
    public let records: Records
    public private(set) var position: Records.Index

    public init(_ records: Records) {
        self.records = records
        position = records.startIndex
    }

    /// Whether every record was taken.
    public var isEmpty: Bool { position == records.endIndex }

    public func peekFlow() -> FlowExportRecord? {
        position == records.endIndex ? nil : records[position]
    }

    public mutating func removeFlow() {
        if position != records.endIndex { records.formIndex(after: &position) }
    }
}

/// The exporter's source: a buffer of records, read in place. Not generic,
/// so that taking a record is a plain load: a generic collection's
/// subscript, unspecialized across the module boundary, allocates its read
/// coroutine's frame on the heap once per record.
public struct FlowExportBufferSource: FlowExportSource {
    public let records: UnsafeBufferPointer<FlowExportRecord>
    public private(set) var position = 0

    public init(_ records: UnsafeBufferPointer<FlowExportRecord>) {
        self.records = records
    }

    /// Whether every record was taken.
    public var isEmpty: Bool { position == records.count }

    public func peekFlow() -> FlowExportRecord? {
        position == records.count ? nil : records[position]
    }

    public mutating func removeFlow() {
        if position != records.count { position += 1 }
    }
}
