import CLinux
import CRoomsSupport
import Synchronization
import Syscalls

#if canImport(Glibc)
import Glibc
#endif

/// A futex doorbell: one side sleeps until the other rings. The ringer pays
/// one load when nobody sleeps, and only the first ring after the sleeper
/// went to sleep makes a syscall (it takes the sleeper's flag), as a NIC
/// raises one interrupt and then stays quiet until the driver re-arms it.
/// For sources that have no file descriptor to poll. One sleeper at a time.
/// A sleeper that waits in io_uring instead (a live-capture worker) gets an
/// eventfd doorbell: the ring writes it, and the worker's ring polls it.
///
/// The doorbell owns its memory and its eventfd and cannot be copied: the
/// owner lends it by borrowing, and closes it when it goes.
public struct Doorbell: ~Copyable, @unchecked Sendable {
    private let word: UnsafeMutablePointer<Atomic<UInt32>>
    /// 1 while the sleeper is (about to be) asleep and nobody woke it yet.
    private let sleeping: UnsafeMutablePointer<Atomic<UInt32>>
    /// The eventfd rung instead of the futex (-1: none).
    private let eventDescriptor: Descriptor
    public var eventFD: Int32 { eventDescriptor.rawValue }

    /// A futex doorbell: its two words on a cache line of their own.
    public init() {
        self.init(eventFD: -1)
    }

    /// A doorbell rung through a new eventfd (non-blocking, close-on-exec),
    /// for a sleeper that waits in io_uring.
    /// The corresponding C function is `eventfd`.
    public static func withEventFD() throws(Errno) -> Doorbell {
        Doorbell(eventFD: try Syscall.negatedErrno { clinux_eventfd() }.get())
    }

    private init(eventFD: Int32) {
        let raw = UnsafeMutableRawPointer.allocate(byteCount: 64, alignment: 64)
        word = raw.bindMemory(to: Atomic<UInt32>.self, capacity: 2)
        word.initialize(to: Atomic(0))
        sleeping = word + 1
        sleeping.initialize(to: Atomic(0))
        eventDescriptor = Descriptor(adopting: eventFD)
    }

    deinit {
        UnsafeMutableRawPointer(word).deallocate()
    }

    /// For a sleeper that waits elsewhere (in io_uring, on `eventFD`):
    /// marks it asleep, and calls `sleep` unless `ready()` already holds.
    public func wait(until ready: () -> Bool, sleep: () -> Void) {
        sleeping.pointee.store(1, ordering: .sequentiallyConsistent)
        defer { sleeping.pointee.store(0, ordering: .relaxed) }
        if ready() { return }
        sleep()
    }

    /// Wakes the sleeper, if any.
    @inline(__always)
    public func ring() {
        // Pairs with the sleeper's store and re-check (Dekker).
        if sleeping.pointee.load(ordering: .sequentiallyConsistent) != 0 {
            wake()
        }
    }

    @inline(never)
    private func wake() {
        // Only the ring that takes the flag wakes; the rest stay quiet.
        guard sleeping.pointee.exchange(0, ordering: .sequentiallyConsistent) != 0 else { return }
        if eventFD >= 0 {
            var one: UInt64 = 1
            _ = write(eventFD, &one, 8)
            return
        }
        word.pointee.wrappingAdd(1, ordering: .releasing)
        _ = lab_futex_wake(UnsafeMutableRawPointer(word).assumingMemoryBound(to: UInt32.self), Int32.max)
    }

    /// Sleeps until rung, unless `ready()` already holds, for at most
    /// `timeoutNanoseconds`. Spurious wake-ups are possible: callers loop.
    public func wait(timeoutNanoseconds: Int64, until ready: () -> Bool) {
        let generation = word.pointee.load(ordering: .acquiring)
        sleeping.pointee.store(1, ordering: .sequentiallyConsistent)
        defer { sleeping.pointee.store(0, ordering: .relaxed) }
        if ready() { return }
        _ = lab_futex_wait(
            UnsafeMutableRawPointer(word).assumingMemoryBound(to: UInt32.self), generation, timeoutNanoseconds)
    }
}
