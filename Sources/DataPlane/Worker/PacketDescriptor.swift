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
