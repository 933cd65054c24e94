import CRoomsSupport
import Synchronization

/// Everything one room is, in memory the arena owns. The hot owner fields come
/// first; the cross-thread inbox lives on cache lines of its own.
///
/// Only the owner thread touches the `var` fields. Other threads touch only the
/// atomics: `owner` (read), the counters (read) and the inbox (push).
@usableFromInline
struct RoomCore: ~Copyable {
    // ---- owner-private, hot ----------------------------------------------
    /// Pages in the order-0 cache.
    @usableFromInline var cacheCount: Int
    /// Free pages (cache plus buddy): the owner's truth, also published.
    @usableFromInline var freePages: Int
    @usableFromInline var inUseHighWater: Int
    @usableFromInline let cache: UnsafeMutablePointer<UnsafeMutableRawPointer>
    @usableFromInline let cacheCapacity: Int
    @usableFromInline let cacheBatch: Int
    @usableFromInline let low: Int
    @usableFromInline let high: Int
    @usableFromInline var underPressure: Bool
    /// Remote-free batches taken from the inbox and not yet brought home.
    @usableFromInline var pending: UInt
    @usableFromInline let counters: CounterBlock
    @usableFromInline let inbox: RoomInbox
    /// The thread that owns the room, by ``lab_thread_identity()``; 0 when none.
    @usableFromInline let owner: Atomic<UInt>

    // ---- owner-private, cold ---------------------------------------------
    @usableFromInline let buddy: BuddyLists
    @usableFromInline let index: Int
    @usableFromInline let base: UnsafeMutableRawPointer
    @usableFromInline let pageCount: Int
    @usableFromInline let watermarks: Watermarks

    @usableFromInline
    init(
        index: Int, base: UnsafeMutableRawPointer, pageCount: Int, watermarks: Watermarks,
        cache: UnsafeMutablePointer<UnsafeMutableRawPointer>, cacheCapacity: Int, cacheBatch: Int,
        buddy: BuddyLists, counters: CounterBlock, inbox: RoomInbox
    ) {
        self.cacheCount = 0
        self.freePages = 0
        self.inUseHighWater = 0
        self.cache = cache
        self.cacheCapacity = cacheCapacity
        self.cacheBatch = cacheBatch
        self.low = watermarks.low
        self.high = watermarks.high
        self.underPressure = false
        self.pending = 0
        self.counters = counters
        self.inbox = inbox
        self.owner = Atomic(0)
        self.buddy = buddy
        self.index = index
        self.base = base
        self.pageCount = pageCount
        self.watermarks = watermarks
    }
}

/// The lock-free remote-free inbox of one room: a stack of batches that other
/// threads push with one CAS each and the owner takes in one exchange.
@usableFromInline
struct RoomInbox: @unchecked Sendable {
    /// The address of the latest pushed batch header page, or 0.
    @usableFromInline let head: UnsafeMutablePointer<Atomic<UInt>>
    /// Blocks pushed so far (one add per batch, by the pushing thread).
    @usableFromInline let pushed: UnsafeMutablePointer<Atomic<Int>>
    /// Non-zero while the owner sleeps in a `.wait` allocation.
    @usableFromInline let waiters: UnsafeMutablePointer<Atomic<UInt32>>
    /// The futex word the owner sleeps on; bumped by a push that sees waiters.
    @usableFromInline let generation: UnsafeMutablePointer<Atomic<UInt32>>
    /// Fragments (and their bytes) released by other threads, and the
    /// chunks their releases sent home: the owner's counters cannot take
    /// those, so they count here, one relaxed add each.
    @usableFromInline let remoteFragments: UnsafeMutablePointer<Atomic<Int>>
    @usableFromInline let remoteFragmentBytes: UnsafeMutablePointer<Atomic<Int>>
    @usableFromInline let remoteChunks: UnsafeMutablePointer<Atomic<Int>>

    /// `memory` must hold `RoomInbox.byteCount` bytes, aligned to a cache line.
    @usableFromInline
    init(memory: UnsafeMutableRawPointer) {
        head = memory.bindMemory(to: Atomic<UInt>.self, capacity: 1)
        head.initialize(to: Atomic(0))
        pushed = (memory + 8).bindMemory(to: Atomic<Int>.self, capacity: 1)
        pushed.initialize(to: Atomic(0))
        waiters = (memory + 64).bindMemory(to: Atomic<UInt32>.self, capacity: 1)
        waiters.initialize(to: Atomic(0))
        generation = (memory + 68).bindMemory(to: Atomic<UInt32>.self, capacity: 1)
        generation.initialize(to: Atomic(0))
        remoteFragments = (memory + 72).bindMemory(to: Atomic<Int>.self, capacity: 1)
        remoteFragments.initialize(to: Atomic(0))
        remoteFragmentBytes = (memory + 80).bindMemory(to: Atomic<Int>.self, capacity: 1)
        remoteFragmentBytes.initialize(to: Atomic(0))
        remoteChunks = (memory + 88).bindMemory(to: Atomic<Int>.self, capacity: 1)
        remoteChunks.initialize(to: Atomic(0))
    }

    @usableFromInline static let byteCount = 128

    /// The futex word, as the kernel sees it.
    @usableFromInline var futexWord: UnsafeMutablePointer<UInt32> {
        UnsafeMutableRawPointer(generation).assumingMemoryBound(to: UInt32.self)
    }
}
