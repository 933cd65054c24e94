import Rooms
import Testing

@Suite("Buddy split and merge")
struct BuddyTests {
    /// The free-block list of an untouched room: every order-4 block.
    func wholeBlocks(_ pages: Int) -> [Int] { Array(stride(from: 0, to: pages, by: 16)) }

    @Test("a fresh room is all max-order blocks")
    func fresh() throws {
        try withRoom { room in
            let blocks = room.freeBlockList()
            #expect(blocks.map(\.page) == wholeBlocks(256))
            #expect(blocks.allSatisfy { $0.order == 4 })
            #expect(room.stats.freeBlocks == [0, 0, 0, 0, 16])
        }
    }

    @Test("splitting one order-4 block for an order-0 page leaves one buddy per order")
    func split() throws {
        try withRoom(smallConfiguration(cache: 1, batch: 1)) { room in
            let page = room.allocate(order: 0)!
            #expect(room.stats.freeBlocks == [1, 1, 1, 1, 15])
            let blocks = room.freeBlockList()
            // Page 0 taken; its buddies 1 (o0), 2 (o1), 4 (o2), 8 (o3) free.
            #expect(blocks.prefix(4).map(\.page) == [1, 2, 4, 8])
            #expect(blocks.prefix(4).map(\.order) == [0, 1, 2, 3])
            room.free(page)
            room.flushCache()
            #expect(room.freeBlockList().map(\.page) == wholeBlocks(256))
        }
    }

    @Test(
        "after any sequence, freeing everything restores every max-order block, no overlap",
        arguments: [1, 2, 3, 4, 5, 6, 7, 8])
    func randomSequences(seed: UInt64) throws {
        var rng = SplitMix(seed: seed)
        try withRoom(smallConfiguration(pages: 512, watermarks: Watermarks(min: 0, low: 0, high: 0))) { room in
            var held = PageBatch(capacity: 512)
            var owner = [Int](repeating: -1, count: 512)  // page -> block id
            var nextID = 0
            var ids: [Int] = []
            for _ in 0..<4000 {
                if held.count > 0 && rng.next() % 3 == 0 {
                    let i = Int(rng.next() % UInt64(held.count))
                    let bytes = held.bytes(at: i)
                    let first = (Int(bitPattern: bytes.baseAddress!) - Int(bitPattern: room.baseAddress)) / 4096
                    let id = ids[i]
                    // Our pattern is intact: no one else wrote into the block.
                    #expect(bytes.allSatisfy { $0 == UInt8(truncatingIfNeeded: id) })
                    for p in first..<first + bytes.count / 4096 { owner[p] = -1 }
                    room.free(held.swapRemove(at: i))
                    ids.swapAt(i, ids.count - 1)
                    ids.removeLast()
                } else {
                    let order = Int(rng.next() % 5)
                    guard let page = room.allocate(order: order, [.atomic, .noWarn]) else { continue }
                    let first = (Int(bitPattern: page.baseAddress) - Int(bitPattern: room.baseAddress)) / 4096
                    #expect(first % (1 << order) == 0, "order-\(order) block at page \(first) is misaligned")
                    for p in first..<first + (1 << order) {
                        #expect(owner[p] == -1, "page \(p) handed out twice")
                        owner[p] = nextID
                    }
                    page.bytes.initializeMemory(as: UInt8.self, repeating: UInt8(truncatingIfNeeded: nextID))
                    ids.append(nextID)
                    nextID += 1
                    held.accept(page)
                }
            }
            while let page = held.popLast() { room.free(page) }
            room.flushCache()
            let blocks = room.freeBlockList()
            #expect(blocks.map(\.page) == wholeBlocks(512))
            #expect(blocks.allSatisfy { $0.order == 4 })
            #expect(room.stats.freePages == 512)
        }
    }

    @Test("a high-order request drains the cache to find merged blocks")
    func cacheDrainForHighOrder() throws {
        // 32 pages, cache of 16: fill the cache, then ask for order 4 with
        // only enough free pages spread through cache and buddy.
        let config = smallConfiguration(
            pages: 32, watermarks: Watermarks(min: 0, low: 0, high: 0), cache: 16, batch: 16)
        try withRoom(config) { room in
            var held = PageBatch(capacity: 32)
            _ = room.refill(into: &held, count: 32)
            #expect(room.stats.freePages == 0)
            while let p = held.popLast() { room.free(p) }  // 16 in cache, 16 in buddy
            #expect(room.stats.cachePages == 16)
            let a = room.allocate(order: 4)
            let b = room.allocate(order: 4)
            #expect(Bool(!a.isNil && !b.isNil))
            #expect(room.stats.cachePages == 0)
        }
    }
}

/// A small deterministic generator (SplitMix64) for reproducible sequences.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
