/// A snapshot of one room's counters, read from any thread with relaxed
/// loads; it never disturbs the owner. Fields taken at slightly different
/// moments may disagree by the operations in between.
public struct RoomStats: Sendable, Hashable, Codable {
    public var room: Int
    public var pages: Int
    public var watermarks: Watermarks
    public var allocFast: Int
    public var allocSlow: Int
    /// Per order 0...4.
    public var allocEmpty: [Int]
    /// Per order 0...4.
    public var allocFail: [Int]
    public var reserveDips: Int
    public var lowWatermarkEvents: Int
    public var refill: Int
    public var freeLocal: Int
    /// Blocks other threads have sent home (pushed to the inbox).
    public var freeRemote: Int
    public var reclaimed: Int
    public var freePages: Int
    public var inUsePages: Int
    public var inUseHighWater: Int
    public var cachePages: Int
    /// Free buddy blocks per order 0...4.
    public var freeBlocks: [Int]
    /// Blocks pushed home by other threads and not yet reclaimed.
    public var remoteInFlight: Int
    public var failureWarnings: Int
    public var waits: Int
    public var sleepInAtomic: Int
    /// Fragments (``FragmentCache``): handed out in all, and in use now
    /// (with their bytes); chunks taken from the room, reused whole, in use
    /// now; fragments per chunk (handed out over chunks taken and reused).
    public var fragmentsAllocated: Int = 0
    public var fragmentsInUse: Int = 0
    public var fragmentBytesInUse: Int = 0
    public var chunksAllocated: Int = 0
    public var chunksReused: Int = 0
    /// Of the chunks taken, those smaller than the cache's order: the room
    /// could not give a whole one (short of pages, or scattered).
    public var chunksSmaller: Int = 0
    public var chunksInUse: Int = 0
    public var fragmentsPerChunk: Double = 0

    /// Allocations that succeeded.
    public var allocations: Int { allocFast + allocSlow }
    /// Allocations that failed, all orders.
    public var failures: Int { allocFail.reduce(0, +) }
}

extension Room {
    /// A snapshot of the counters; safe from any thread.
    public var stats: RoomStats {
        let c = counters
        let free = c.load(.freePages)
        let blocks = (0..<Room.orderCount).map { core.pointee.buddy.count(order: $0) }
        var buddyPages = 0
        for k in 0..<Room.orderCount { buddyPages += blocks[k] << k }
        let pushed = core.pointee.inbox.pushed.pointee.load(ordering: .relaxed)
        let reclaimed = c.load(.reclaimed)
        return RoomStats(
            room: index, pages: pageCount, watermarks: watermarks,
            allocFast: c.load(.allocFast), allocSlow: c.load(.allocSlow),
            allocEmpty: (0..<Room.orderCount).map { c.load(RoomCounter.allocEmpty($0)) },
            allocFail: (0..<Room.orderCount).map { c.load(RoomCounter.allocFail($0)) },
            reserveDips: c.load(.reserveDips), lowWatermarkEvents: c.load(.lowWatermarkEvents),
            refill: c.load(.refill), freeLocal: c.load(.freeLocal), freeRemote: pushed, reclaimed: reclaimed,
            freePages: free, inUsePages: pageCount - free, inUseHighWater: c.load(.inUseHighWater),
            cachePages: max(0, free - buddyPages), freeBlocks: blocks,
            remoteInFlight: max(0, pushed - reclaimed), failureWarnings: c.load(.failureWarnings),
            waits: c.load(.waits), sleepInAtomic: c.load(.sleepInAtomic)
        ).withFragments(c, core.pointee.inbox)
    }

    /// The latest failure's order and mode, with the count of failures that
    /// asked to be logged; for the deferred "page allocation failure" log.
    public var failureWarning: (count: Int, order: Int, mode: AllocationMode) {
        let last = counters.load(.lastFailure)
        return (counters.load(.failureWarnings), last >> 8, AllocationMode(rawValue: UInt8(last & 0xFF)) ?? .nowait)
    }

    /// The free buddy blocks as (first page index, order), lowest first.
    /// Owner only; for tests and diagnostics (it walks every page).
    public func freeBlockList() -> [(page: Int, order: Int)] {
        var result: [(page: Int, order: Int)] = []
        let buddy = core.pointee.buddy
        for i in 0..<pageCount {
            if let order = buddy.freeOrder(at: i) { result.append((i, order)) }
        }
        return result
    }

    /// Returns every cached order-0 page to the buddy. Owner only.
    public func flushCache() { drainCache() }
}

extension RoomStats {
    /// The fragment counts, from the owner's counters and the frees that
    /// other threads counted in the inbox.
    func withFragments(_ c: SingleWriterCounters, _ inbox: RoomInbox) -> RoomStats {
        var s = self
        let allocated = c.load(.fragmentsAllocated)
        let freed =
            c.load(.fragmentsReturned) + c.load(.fragmentsFreed)
            + inbox.remoteFragments.pointee.load(ordering: .relaxed)
        let bytesFreed =
            c.load(.fragmentBytesReturned) + c.load(.fragmentBytesFreed)
            + inbox.remoteFragmentBytes.pointee.load(ordering: .relaxed)
        let chunksFreed = c.load(.chunksFreed) + inbox.remoteChunks.pointee.load(ordering: .relaxed)
        s.fragmentsAllocated = allocated
        s.fragmentsInUse = max(0, allocated - freed)
        s.fragmentBytesInUse = max(0, c.load(.fragmentBytesAllocated) - bytesFreed)
        s.chunksAllocated = c.load(.chunksAllocated)
        s.chunksReused = c.load(.chunksReused)
        s.chunksSmaller = c.load(.chunksSmaller)
        s.chunksInUse = max(0, s.chunksAllocated - chunksFreed)
        let chunks = s.chunksAllocated + s.chunksReused
        s.fragmentsPerChunk = chunks > 0 ? Double(allocated) / Double(chunks) : 0
        return s
    }
}
