/// What a source hands a worker for one frame: where its bytes are, how long
/// it is, when it was seen and what link type it has. A plain value that
/// travels through SPSC rings.
@frozen
public struct PacketDescriptor: Sendable, BitwiseCopyable {
    public var address: UInt
    public var capturedLength: UInt32
    public var wireLength: UInt32
    /// Nanoseconds since the epoch.
    public var timestamp: Int64
    public var linkType: UInt32
    /// The low 32 bits of the flow key's hash, when the source decoded one
    /// (0 otherwise): lets the worker prefetch the flow's slot early.
    public var flowHash: UInt32

    @inlinable
    public init(
        address: UInt, capturedLength: UInt32, wireLength: UInt32, timestamp: Int64, linkType: UInt32,
        flowHash: UInt32 = 0
    ) {
        self.address = address
        self.capturedLength = capturedLength
        self.wireLength = wireLength
        self.timestamp = timestamp
        self.linkType = linkType
        self.flowHash = flowHash
    }
}

/// A run of records: a replay of a plain pcap file with one worker hands the
/// worker whole runs of consecutive records, as the kernel hands a TPACKET
/// block, and the worker walks their headers itself: one descriptor (and
/// one trip of the queue's cache lines between the two CPUs) for up to a
/// reader's batch of frames instead of one each. A run's `address` is its
/// first record's header, `capturedLength` its frames, `linkType` the
/// frames' link type with ``runMark`` set, and `wireLength` how the headers
/// read (``runNanosecond``, ``runSwapped``).
extension PacketDescriptor {
    public static let runMark: UInt32 = 0x8000_0000
    public static let runNanosecond: UInt32 = 1
    public static let runSwapped: UInt32 = 2

    /// Whether this is a run of records rather than one frame.
    @inlinable public var isRun: Bool { linkType & PacketDescriptor.runMark != 0 }

    /// A run of `frames` records from `first` (a 16-byte pcap record header).
    @inlinable
    public static func run(
        first: UnsafeRawPointer, frames: Int, linkType: UInt32, nanosecond: Bool, swapped: Bool
    ) -> PacketDescriptor {
        PacketDescriptor(
            address: UInt(bitPattern: first), capturedLength: UInt32(frames),
            wireLength: (nanosecond ? runNanosecond : 0) | (swapped ? runSwapped : 0), timestamp: 0,
            linkType: linkType | runMark)
    }

    /// What a plain pcap record header at `header` says: captured and wire
    /// lengths and the time in nanoseconds, read as the reader reads it
    /// (the reader puts a record in a run only when this agrees with its own
    /// reading; the worker walks the run with it).
    @inlinable @inline(__always)
    public static func pcapRecord(at header: UnsafeRawPointer, flags: UInt32) -> (
        captured: Int, wire: Int, timestamp: Int64
    ) {
        var seconds = header.loadUnaligned(as: UInt32.self)
        var fraction = header.loadUnaligned(fromByteOffset: 4, as: UInt32.self)
        var captured = header.loadUnaligned(fromByteOffset: 8, as: UInt32.self)
        var wire = header.loadUnaligned(fromByteOffset: 12, as: UInt32.self)
        if flags & runSwapped != 0 {
            seconds = seconds.byteSwapped
            fraction = fraction.byteSwapped
            captured = captured.byteSwapped
            wire = wire.byteSwapped
        }
        let scale: Int64 = flags & runNanosecond != 0 ? 1 : 1000
        return (Int(captured), Int(wire), Int64(seconds) &* 1_000_000_000 &+ Int64(fraction) &* scale)
    }
}
