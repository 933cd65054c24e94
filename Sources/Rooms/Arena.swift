import CRoomsSupport
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The one mapping of pages the daemon makes at start, pre-faulted and locked,
/// cut into equal rooms, one per worker, each aligned to the largest block.
///
/// The arena owns the memory: every ``Room`` handle and every ``Page`` must be
/// gone before it is. Stop the workers, then call ``checkForLeaks()``.
///
/// Like every noncopyable value, an arena may be destroyed right after its
/// last use, not at the end of its scope. Room handles are plain pointers that
/// do not keep it alive, so use the arena after the rooms (the teardown leak
/// check does) or wrap their use in `withExtendedLifetime(arena)`. An arena
/// dropped while a room is still claimed or has pages out keeps its memory
/// mapped and says so on stderr, rather than unmapping it under a worker.
public struct Arena: ~Copyable, @unchecked Sendable {
    private let pages: Mapping
    private let metadata: Mapping
    /// What the mappings could not get (hugepages, a best-effort lock).
    private let mappingNotes: [String]
    private let cores: UnsafeMutablePointer<UnsafeMutablePointer<RoomCore>>
    public let configuration: ArenaConfiguration

    /// Maps, pre-faults and (when configured) locks the arena and builds its
    /// rooms, every page free.
    public init(_ configuration: ArenaConfiguration) throws(ArenaError) {
        try configuration.validate()
        let rooms = configuration.rooms
        let pagesPerRoom = configuration.pagesPerRoom
        let pageBytes = rooms * pagesPerRoom * Room.pageSize

        // Metadata layout for one room, every part on its own cache lines.
        let line = 64
        func round(_ n: Int) -> Int { (n + line - 1) / line * line }
        let capacity = configuration.effectiveCacheCapacity
        let coreBytes = round(MemoryLayout<RoomCore>.size)
        let counterBytes = round(RoomCounter.allCases.count * MemoryLayout<Atomic<Int>>.stride)
        let inboxBytes = RoomInbox.byteCount
        let cacheBytes = round(capacity * MemoryLayout<UnsafeMutableRawPointer>.stride)
        let metaBytes = round(pagesPerRoom * MemoryLayout<PageMeta>.stride)
        let headBytes = round(Room.orderCount * MemoryLayout<Int32>.stride)
        let countBytes = round(Room.orderCount * 8)
        let perRoom = coreBytes + counterBytes + inboxBytes + cacheBytes + metaBytes + headBytes + countBytes
        let metadataBytes = (rooms * perRoom + 4095) / 4096 * 4096

        var notes: [String] = []
        let pageMapping = try Mapping(
            byteCount: pageBytes, alignment: 2 << 20, hugePages: configuration.hugePages,
            lock: configuration.lock, what: "arena", notes: &notes)
        let metadataMapping = try Mapping(
            byteCount: metadataBytes, alignment: 4096, hugePages: .none,
            lock: configuration.lock, what: "arena metadata", notes: &notes)
        self.configuration = configuration
        pages = pageMapping
        metadata = metadataMapping
        mappingNotes = notes

        cores = .allocate(capacity: rooms)
        let marks = configuration.effectiveWatermarks
        for r in 0..<rooms {
            var m = metadata.base + r * perRoom
            func carve(_ bytes: Int) -> UnsafeMutableRawPointer {
                defer { m += bytes }
                return m
            }
            let coreMemory = carve(coreBytes)
            let counters = SingleWriterCounters(
                base: carve(counterBytes).bindMemory(to: Atomic<Int>.self, capacity: RoomCounter.allCases.count),
                count: RoomCounter.allCases.count)
            let inbox = RoomInbox(memory: carve(inboxBytes))
            let cache = carve(cacheBytes).bindMemory(to: UnsafeMutableRawPointer.self, capacity: capacity)
            let meta = carve(metaBytes).bindMemory(to: PageMeta.self, capacity: pagesPerRoom)
            let heads = carve(headBytes).bindMemory(to: Int32.self, capacity: Room.orderCount)
            let countMemory = carve(countBytes)
            let buddy = BuddyLists(
                meta: meta, heads: heads,
                counts: countMemory.bindMemory(to: Atomic<Int>.self, capacity: Room.orderCount),
                pages: pagesPerRoom)
            let base = pages.base + r * pagesPerRoom * Room.pageSize
            let core = coreMemory.bindMemory(to: RoomCore.self, capacity: 1)
            core.initialize(
                to: RoomCore(
                    index: r, base: base, pageCount: pagesPerRoom, watermarks: marks,
                    cache: cache, cacheCapacity: capacity, cacheBatch: configuration.effectiveCacheBatch,
                    buddy: buddy, counters: counters, inbox: inbox))
            // Every page starts free, as max-order blocks, lowest first.
            let block = ArenaConfiguration.maxBlockPages
            for start in stride(from: pagesPerRoom - block, through: 0, by: -block) {
                buddy.push(Int32(start), order: Room.maxOrder)
            }
            counters.store(.freePages, pagesPerRoom)
            cores[r] = core
        }
    }

    deinit {
        var busy: [Int] = []
        for r in 0..<configuration.rooms {
            let core = cores[r]
            let out = core.pointee.pageCount - core.pointee.counters.load(.freePages)
            if core.pointee.owner.load(ordering: .acquiring) != 0 || out > 0 { busy.append(r) }
        }
        if busy.isEmpty {
            cores.deallocate()
            // The mappings unmap themselves as the arena's fields go.
        } else {
            // Leak rather than unmap memory that a worker may still touch.
            let message =
                "labyrinth: arena dropped while room(s) \(busy.map(String.init).joined(separator: ", ")) "
                + "still claimed or with pages out; keeping its \(ByteCount(pages.byteCount)) mapped\n"
            var text = message
            text.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
            pages.leak()
            metadata.leak()
        }
    }

    /// How many rooms.
    public var roomCount: Int { configuration.rooms }

    /// The handle of room `index`, for its worker to ``Room/claim()``.
    public func room(_ index: Int) -> Room {
        precondition(index >= 0 && index < configuration.rooms, "room \(index) does not exist")
        return Room(core: cores[index])
    }

    /// Every room's handle.
    public var rooms: [Room] { (0..<roomCount).map { room($0) } }

    /// The arena's shape, for printing at start.
    public var layout: ArenaLayout {
        ArenaLayout(
            configuration: configuration, baseAddress: UInt(bitPattern: pages.base), bytes: pages.byteCount,
            metadataBytes: metadata.byteCount, hugePages: pages.hugePages.rawValue,
            locked: pages.locked, notes: mappingNotes)
    }

    /// The teardown check: brings every remote free home, returns every
    /// cached page to the buddy, and reports any room whose pages are not all
    /// back. Call it after every worker has stopped; it takes each room over
    /// on the calling thread for the duration.
    public func checkForLeaks() -> LeakReport {
        var leaks: [LeakReport.RoomLeak] = []
        for r in 0..<roomCount {
            let room = self.room(r)
            let me = lab_thread_identity()
            let previous = cores[r].pointee.owner.exchange(me, ordering: .acquiringAndReleasing)
            while room.reclaimBatch() > 0 {}
            room.drainCache()
            let free = room.counters.load(.freePages)
            let maxBlocks = cores[r].pointee.buddy.count(order: Room.maxOrder)
            let wholeBlocks = room.pageCount / ArenaConfiguration.maxBlockPages
            if free != room.pageCount || maxBlocks != wholeBlocks {
                leaks.append(.init(room: r, pagesOutstanding: room.pageCount - free, pageCount: room.pageCount))
            }
            cores[r].pointee.owner.store(previous, ordering: .releasing)
        }
        return LeakReport(leaks: leaks)
    }
}

/// The result of ``Arena/checkForLeaks()``.
public struct LeakReport: Sendable, Hashable, CustomStringConvertible {
    public struct RoomLeak: Sendable, Hashable, Codable {
        public var room: Int
        public var pagesOutstanding: Int
        public var pageCount: Int

        public init(room: Int, pagesOutstanding: Int, pageCount: Int) {
            self.room = room
            self.pagesOutstanding = pagesOutstanding
            self.pageCount = pageCount
        }
    }
    public var leaks: [RoomLeak]
    public var isClean: Bool { leaks.isEmpty }

    public var description: String {
        if isClean { return "leak check passed: every page is home" }
        return leaks.map {
            "room \($0.room) leaked \($0.pagesOutstanding) of \($0.pageCount) pages"
        }.joined(separator: "; ")
    }
}
