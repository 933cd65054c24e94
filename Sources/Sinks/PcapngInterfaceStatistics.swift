/// The counters an Interface Statistics Block carries; each nil one is left
/// out of the block.
///
/// Times are nanoseconds since the epoch, the resolution the encoder's
/// interfaces declare (`if_tsresol` 9).
public struct PcapngInterfaceStatistics: Equatable, Sendable {
    /// `isb_starttime` (option 2): when counting began.
    public var startNanoseconds: Int64?
    /// `isb_endtime` (option 3): when counting ended.
    public var endNanoseconds: Int64?
    /// `isb_ifrecv` (option 4): packets the interface received.
    public var received: UInt64?
    /// `isb_ifdrop` (option 5): packets the interface dropped.
    public var interfaceDropped: UInt64?
    /// `isb_osdrop` (option 7): packets the kernel or the capture path
    /// dropped (no buffer, no page).
    public var osDropped: UInt64?
    /// `isb_usrdeliv` (option 8): packets delivered to the writer.
    public var delivered: UInt64?

    public init(
        startNanoseconds: Int64? = nil, endNanoseconds: Int64? = nil, received: UInt64? = nil,
        interfaceDropped: UInt64? = nil, osDropped: UInt64? = nil, delivered: UInt64? = nil
    ) {
        self.startNanoseconds = startNanoseconds
        self.endNanoseconds = endNanoseconds
        self.received = received
        self.interfaceDropped = interfaceDropped
        self.osDropped = osDropped
        self.delivered = delivered
    }
}
