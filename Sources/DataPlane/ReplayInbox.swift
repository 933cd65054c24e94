import Synchronization

/// A worker's queue of frames from a file reader, standing in for a NIC's
/// receive ring: the reader pushes descriptors and rings the doorbell, the
/// worker wakes, polls and frees space, ringing back when the reader waits
/// for room. A plain handle: ``ReplayInboxes`` owns the memory.
@frozen
public struct ReplayInbox: Sendable {
    public let ring: SPSCRing<PacketDescriptor>
    /// Rung by the reader: frames arrived (the worker's "interrupt").
    public let arrivals: Doorbell
    /// Rung by the worker: space freed (for a reader that waits at max speed).
    public let space: Doorbell

    init(capacity: Int, eventFD: Bool) {
        ring = SPSCRing(capacity: capacity)
        arrivals = Doorbell(eventFD: eventFD)
        space = Doorbell()
    }

    func deallocate() {
        ring.deallocate()
        arrivals.deallocate()
        space.deallocate()
    }
}

/// The inboxes of a worker pool, owned together; freed when the pool goes.
public final class ReplayInboxes: @unchecked Sendable {
    public let base: UnsafeMutablePointer<ReplayInbox>
    public let count: Int

    init(count: Int, capacity: Int, eventFDs: Bool = false) {
        self.count = count
        base = .allocate(capacity: count)
        for i in 0..<count { (base + i).initialize(to: ReplayInbox(capacity: capacity, eventFD: eventFDs)) }
    }

    deinit {
        for i in 0..<count { base[i].deallocate() }
        base.deallocate()
    }

    @inlinable
    public subscript(index: Int) -> ReplayInbox { base[index] }
}
