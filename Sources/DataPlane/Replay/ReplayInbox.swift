import Rooms
import Synchronization
import Syscalls

/// A worker's queue of frames from a file reader, standing in for a NIC's
/// receive ring: the reader pushes descriptors and rings the doorbell, the
/// worker wakes, polls and frees space, ringing back when the reader waits
/// for room. Owned by ``ReplayInboxes``; both sides borrow it.
public struct ReplayInbox: ~Copyable, @unchecked Sendable {
    public let ring: SPSCRing<PacketDescriptor>
    /// Rung by the reader: frames arrived (the worker's "interrupt").
    public let arrivals: Doorbell
    /// Rung by the worker: space freed (for a reader that waits at max speed).
    public let space: Doorbell

    init(capacity: Int, eventFD: Bool) throws(Errno) {
        ring = SPSCRing(capacity: capacity)
        arrivals = eventFD ? try Doorbell.withEventFD() : Doorbell()
        space = Doorbell()
    }
}

/// The inboxes of a worker pool, one per worker, owned together and freed
/// when the last of the pool, its workers and the reader lets go.
public final class ReplayInboxes: Sendable {
    @usableFromInline let storage: FixedArray<ReplayInbox>

    /// - Parameters:
    ///   - capacity: descriptors each queue holds (rounded up to a power of two).
    ///   - eventFDs: ring the workers through eventfds (workers that sleep in
    ///     io_uring) instead of futexes.
    init(count: Int, capacity: Int, eventFDs: Bool) throws(Errno) {
        var inboxes = FixedArray<ReplayInbox>(capacity: count)
        for _ in 0..<count { inboxes.append(try ReplayInbox(capacity: capacity, eventFD: eventFDs)) }
        storage = inboxes
    }

    public var count: Int { storage.count }

    /// Worker `index`'s inbox, borrowed.
    @inlinable
    public subscript(index: Int) -> ReplayInbox {
        @inline(__always) _read { yield storage[index] }
    }
}
