/// How the arena's memory is backed by hugepages.
public enum HugePagePolicy: String, Sendable, Hashable, Codable, CaseIterable {
    /// Plain 4 KiB pages.
    case none
    /// MADV_HUGEPAGE where transparent hugepages are in `madvise` or `always` mode.
    case transparent
    /// MAP_HUGETLB from the reserved pool; falls back to transparent when the
    /// pool cannot supply it.
    case hugetlb
}

/// Whether the arena is locked in memory with `mlock`.
public enum LockPolicy: String, Sendable, Hashable, Codable, CaseIterable {
    /// Lock, or fail with an error that names RLIMIT_MEMLOCK (the daemon's default).
    case required
    /// Lock when the limit allows, else go on unlocked and say so in the layout.
    case bestEffort = "best-effort"
    /// Do not lock.
    case off
}

/// What the arena is made of: how many rooms, how big, and their policy.
public struct ArenaConfiguration: Sendable, Hashable {
    /// One room per worker.
    public var rooms: Int
    /// Pages (4 KiB) per room: a positive multiple of 16, the largest block.
    public var pagesPerRoom: Int
    /// Per-room watermarks; nil derives them from the room size.
    public var watermarks: Watermarks?
    /// Whether to lock the arena in memory with `mlock`.
    public var lock: LockPolicy
    public var hugePages: HugePagePolicy
    /// Order-0 pages the per-room cache holds at most; nil picks
    /// `min(256, pagesPerRoom / 8)`, at least 16.
    public var cacheCapacity: Int?
    /// Pages moved between the cache and the buddy at once; nil picks a
    /// quarter of the capacity.
    public var cacheBatch: Int?

    public init(
        rooms: Int, pagesPerRoom: Int, watermarks: Watermarks? = nil, lock: LockPolicy = .required,
        hugePages: HugePagePolicy = .transparent, cacheCapacity: Int? = nil, cacheBatch: Int? = nil
    ) {
        self.rooms = rooms
        self.pagesPerRoom = pagesPerRoom
        self.watermarks = watermarks
        self.lock = lock
        self.hugePages = hugePages
        self.cacheCapacity = cacheCapacity
        self.cacheBatch = cacheBatch
    }

    /// Pages in the largest block; a room is a whole number of them.
    public static var maxBlockPages: Int { 1 << Room.maxOrder }

    /// The watermarks every room gets.
    public var effectiveWatermarks: Watermarks { watermarks ?? .derived(pages: pagesPerRoom) }
    public var effectiveCacheCapacity: Int { cacheCapacity ?? Swift.max(16, Swift.min(256, pagesPerRoom / 8)) }
    public var effectiveCacheBatch: Int { cacheBatch ?? Swift.max(1, effectiveCacheCapacity / 4) }

    /// Checks every setting; the error names the one that is wrong.
    public func validate() throws(ArenaError) {
        if rooms < 1 { throw .invalidConfiguration("rooms must be at least 1 (got \(rooms))") }
        if rooms > 4096 { throw .invalidConfiguration("rooms must be at most 4096 (got \(rooms))") }
        let block = Self.maxBlockPages
        if pagesPerRoom < block || pagesPerRoom % block != 0 {
            throw .invalidConfiguration(
                "pages per room must be a positive multiple of \(block) (one order-\(Room.maxOrder) block, "
                    + "\(block * Room.pageSize / 1024) KiB); got \(pagesPerRoom)")
        }
        if pagesPerRoom > Int(Int32.max) {
            throw .invalidConfiguration("pages per room must be below 2^31 (got \(pagesPerRoom))")
        }
        if let problem = effectiveWatermarks.problem(pages: pagesPerRoom) {
            throw .invalidConfiguration("watermarks: \(problem)")
        }
        let capacity = effectiveCacheCapacity
        if capacity < 1 || capacity > pagesPerRoom {
            throw .invalidConfiguration("cache capacity must be within 1...\(pagesPerRoom) (got \(capacity))")
        }
        let batch = effectiveCacheBatch
        if batch < 1 || batch > capacity {
            throw .invalidConfiguration("cache batch must be within 1...\(capacity) (got \(batch))")
        }
    }
}
