import Synchronization

/// The counters every room publishes, named after the path taken, as the
/// kernel's page_pool names its statistics. The owner is the only writer
/// (relaxed load plus relaxed store: no read-modify-write); any thread may read
/// them with relaxed loads without disturbing the owner.
///
/// STYLE: keep the page_pool names (`alloc_fast`, `alloc_slow`,
/// `alloc_empty`, `refill`, `recycle`-like `free_local`/`free_remote`): an
/// operator who knows `ethtool -S`'s page_pool statistics reads these without
/// a glossary, and the exposition carries them unchanged.
public enum RoomCounter: Int, CaseIterable, Sendable {
    /// Order-0 allocations served straight from the per-room cache.
    case allocFast
    /// Allocations that took the slow path: a cache refill, or the buddy.
    case allocSlow
    /// Successful `.atomic` allocations that dipped below `min`.
    case reserveDips
    /// Times free pages fell below `low` while not already under pressure.
    case lowWatermarkEvents
    /// Times the owner brought a batch of remote frees home.
    case refill
    /// Blocks the owner brought home from the remote-free inbox.
    case reclaimed
    /// Blocks the owner freed itself.
    case freeLocal
    /// Pages free now (cache plus buddy).
    case freePages
    /// Pages in the order-0 cache now.
    case cachePages
    /// The most pages that were ever allocated at once.
    case inUseHighWater
    /// Allocation failures that asked for a log line (no `.noWarn`).
    case failureWarnings
    /// The order and mode of the latest failure: `order << 8 | mode`.
    case lastFailure
    /// `.wait` allocations that blocked at least once.
    case waits
    /// `.wait` allocations made in atomic context in a release build
    /// (a debug build traps instead). They were refused rather than slept.
    case sleepInAtomic
    // Fragments (``FragmentCache``): the cache's own counts, published
    // between polls, and the frees that went past it on the owner's thread.
    /// Fragments handed out (blocks of their own included), and their bytes.
    case fragmentsAllocated, fragmentBytesAllocated
    /// Fragments given back to the cache's bias (their chunk still current).
    case fragmentsReturned, fragmentBytesReturned
    /// Fragments released past the cache on the owner's thread (one atomic
    /// off their chunk's count each, or a run at once).
    case fragmentsFreed, fragmentBytesFreed
    /// Chunks taken from the room, reused whole, and sent home by the owner;
    /// of those taken, the ones smaller than the cache's order (the room
    /// could not give a whole chunk).
    case chunksAllocated, chunksReused, chunksFreed, chunksSmaller
    // Per order, 0...4.
    case allocEmpty0, allocEmpty1, allocEmpty2, allocEmpty3, allocEmpty4
    case allocFail0, allocFail1, allocFail2, allocFail3, allocFail4

    @inlinable static func allocEmpty(_ order: Int) -> Int { RoomCounter.allocEmpty0.rawValue &+ order }
    @inlinable static func allocFail(_ order: Int) -> Int { RoomCounter.allocFail0.rawValue &+ order }
}

/// A block of counters with a single writer, readable from any thread with
/// relaxed loads: the owner bumps them with a relaxed load and a relaxed
/// store (plain moves on x86, no read-modify-write), readers never disturb it
/// beyond sharing the cache line for a moment.
@frozen
public struct SingleWriterCounters: @unchecked Sendable {
    @usableFromInline let base: UnsafeMutablePointer<Atomic<Int>>
    public let count: Int

    /// Uses `count` atomics at `base`, initialising them to 0.
    @inlinable
    public init(base: UnsafeMutablePointer<Atomic<Int>>, count: Int) {
        self.base = base
        self.count = count
        for i in 0..<count {
            (base + i).initialize(to: Atomic(0))
        }
    }

    /// Allocates `count` counters on their own cache lines (at start, not on
    /// the data path). Their owner (a worker's shared state, a replayer)
    /// deallocates them when it goes, after its writer has stopped.
    public static func allocate(count: Int) -> SingleWriterCounters {
        let raw = UnsafeMutableRawPointer.allocate(
            byteCount: (count * MemoryLayout<Atomic<Int>>.stride + 63) / 64 * 64, alignment: 64)
        return SingleWriterCounters(base: raw.bindMemory(to: Atomic<Int>.self, capacity: count), count: count)
    }

    /// Frees counters made by ``allocate(count:)``: their owner's last act.
    public func deallocate() {
        UnsafeMutableRawPointer(base).deallocate()
    }

    /// Any thread.
    @inlinable @inline(__always)
    public func load(_ index: Int) -> Int {
        base[index].load(ordering: .relaxed)
    }

    /// Writer only.
    @inlinable @inline(__always)
    public func store(_ index: Int, _ value: Int) {
        base[index].store(value, ordering: .relaxed)
    }

    /// Writer only: a relaxed load and a relaxed store, not a read-modify-write.
    @inlinable @inline(__always)
    public func add(_ index: Int, _ delta: Int) {
        let p = base + index
        p.pointee.store(p.pointee.load(ordering: .relaxed) &+ delta, ordering: .relaxed)
    }

    /// Every counter, in order; any thread.
    public func snapshot() -> [Int] { (0..<count).map { load($0) } }
}

/// The room's counters, indexed by ``RoomCounter``.
@usableFromInline
typealias CounterBlock = SingleWriterCounters

extension SingleWriterCounters {
    @inlinable @inline(__always)
    func load(_ counter: RoomCounter) -> Int { load(counter.rawValue) }

    @inlinable @inline(__always)
    func store(_ counter: RoomCounter, _ value: Int) { store(counter.rawValue, value) }

    @inlinable @inline(__always)
    func add(_ counter: RoomCounter, _ delta: Int) { add(counter.rawValue, delta) }
}
