import Synchronization

/// A worker's queue of frames from a file reader, standing in for a NIC's
/// receive ring: the reader pushes descriptors and rings the doorbell, the
/// worker wakes, polls and frees space, ringing back when the reader waits
/// for room.
public final class ReplayInbox: Sendable {
    public let ring: SPSCRing<PacketDescriptor>
    /// Rung by the reader: frames arrived (the worker's "interrupt").
    public let arrivals: Doorbell
    /// Rung by the worker: space freed (for a reader that waits at max speed).
    public let space: Doorbell

    public init(capacity: Int) {
        ring = SPSCRing(capacity: capacity)
        arrivals = Doorbell()
        space = Doorbell()
    }
}
