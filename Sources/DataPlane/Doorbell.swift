import CRoomsSupport
import Synchronization

/// A futex doorbell: one side sleeps until the other rings. The ringer pays
/// one load when nobody sleeps. The user-space counterpart of a NIC raising
/// an interrupt, for sources that have no file descriptor to poll.
public struct Doorbell: @unchecked Sendable {
    private let word: UnsafeMutablePointer<Atomic<UInt32>>
    private let sleepers: UnsafeMutablePointer<Atomic<UInt32>>

    /// Allocates the doorbell's two words on a cache line of their own.
    public init() {
        let raw = UnsafeMutableRawPointer.allocate(byteCount: 64, alignment: 64)
        word = raw.bindMemory(to: Atomic<UInt32>.self, capacity: 2)
        word.initialize(to: Atomic(0))
        sleepers = word + 1
        sleepers.initialize(to: Atomic(0))
    }

    /// Wakes the sleeper, if any.
    @inline(__always)
    public func ring() {
        // Pairs with the sleeper's store and re-check (Dekker).
        if sleepers.pointee.load(ordering: .sequentiallyConsistent) != 0 {
            word.pointee.wrappingAdd(1, ordering: .releasing)
            _ = lab_futex_wake(UnsafeMutableRawPointer(word).assumingMemoryBound(to: UInt32.self), Int32.max)
        }
    }

    /// Sleeps until rung, unless `ready()` already holds, for at most
    /// `timeoutNanoseconds`. Spurious wake-ups are possible: callers loop.
    public func wait(timeoutNanoseconds: Int64, until ready: () -> Bool) {
        let generation = word.pointee.load(ordering: .acquiring)
        sleepers.pointee.wrappingAdd(1, ordering: .sequentiallyConsistent)
        defer { sleepers.pointee.wrappingSubtract(1, ordering: .relaxed) }
        if ready() { return }
        _ = lab_futex_wait(
            UnsafeMutableRawPointer(word).assumingMemoryBound(to: UInt32.self), generation, timeoutNanoseconds)
    }
}
