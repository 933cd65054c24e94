import PropertyBased
import Rooms
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Fragments of room chunks (page_frag semantics): sizes, alignment,
/// overlap, the bias, chunks going home from the owner and from other
/// threads, and the counts.
@Suite("Fragments of room chunks")
struct FragmentTests {
    /// A fragment held by the test: its bytes were filled with `tag`.
    struct Held {
        var raw: RawFragment
        var start: Int
        var size: Int
        var tag: UInt8
    }

    /// Fills a fragment with `tag`, and checks it still holds it.
    static func fill(_ raw: RawFragment, _ tag: UInt8) {
        memset(raw.address, Int32(tag), Int(raw.bytes))
    }

    static func intact(_ h: Held) -> Bool {
        let p = h.raw.address.assumingMemoryBound(to: UInt8.self)
        for i in 0..<h.size where p[i] != h.tag { return false }
        return true
    }

    /// Each word is one operation: allocate (a size from 1 byte to 40 KiB,
    /// weighted to small frames), release one held fragment on the owner's
    /// thread, or send a handful to another thread that releases them
    /// there. Live fragments never overlap, each keeps the bytes written
    /// into it, each is as large as asked and aligned; at the end every
    /// chunk is home and the counts say so.
    @Test(
        "random sizes, releases in random order from the owner and other threads: no overlap, every chunk home",
        arguments: [(0, 64), (2, 8), (4, 4)])
    func againstAModel(_ shape: (order: Int, alignment: Int)) async {
        await propertyCheck(count: 60, input: Gen.uint32(in: 0...UInt32.max).array(of: 1...500)) { ops in
            Self.run(ops, chunkOrder: shape.order, alignment: shape.alignment)
        }
    }

    static func run(_ ops: [UInt32], chunkOrder: Int, alignment: Int) {
        let configuration = ArenaConfiguration(
            rooms: 1, pagesPerRoom: 1024, watermarks: Watermarks(min: 16, low: 24, high: 32), lock: .off,
            hugePages: .none)
        do {
            let arena = try Arena(configuration)
            let room = arena.room(0)
            room.claim()
            var held: [Held] = []
            var tag: UInt8 = 1
            var allocated = 0
            var failed = 0
            do {
                var cache = FragmentCache(room: room, chunkOrder: chunkOrder, alignment: alignment)
                for op in ops {
                    switch op % 10 {
                    case 0..<5:
                        let size =
                            op % 7 == 0 ? Int((op >> 8) % 40_000) + 1 : Int((op >> 8) % 1600) + 1
                        guard let f = cache.allocate(size) else {
                            failed += 1
                            continue
                        }
                        let raw = f.intoRaw()
                        let start = Int(bitPattern: raw.address)
                        #expect(Int(raw.bytes) >= size)
                        #expect(start % (raw.shared ? alignment : 4096) == 0, "\(start) not aligned")
                        let offset = start - Int(bitPattern: room.baseAddress)
                        #expect(offset >= 0 && offset + Int(raw.bytes) <= room.pageCount * 4096)
                        for h in held where start < h.start + h.size && h.start < start + Int(raw.bytes) {
                            Issue.record("fragment at \(start)+\(raw.bytes) overlaps one at \(h.start)+\(h.size)")
                        }
                        fill(raw, tag)
                        held.append(Held(raw: raw, start: start, size: Int(raw.bytes), tag: tag))
                        tag = tag == 255 ? 1 : tag + 1
                        allocated += 1
                    case 5..<8 where !held.isEmpty:
                        let h = held.remove(at: Int(op >> 4) % held.count)
                        #expect(intact(h), "a fragment's bytes changed while it was held")
                        cache.free(h.raw.adopt())
                    case 8..<10 where !held.isEmpty:
                        // A handful, released on another thread.
                        var sent: [RawFragment] = []
                        for _ in 0..<min(held.count, Int(op >> 4) % 6 + 1) {
                            let h = held.remove(at: Int(op >> 8) % held.count)
                            #expect(intact(h))
                            sent.append(h.raw)
                        }
                        let box = RawFragments(sent)
                        let t = TestThread { for r in box.items { _ = r.adopt() } }
                        t.join()
                    default:
                        break
                    }
                }
                for h in held {
                    #expect(intact(h))
                    cache.free(h.raw.adopt())
                }
                held.removeAll()
                cache.releaseCurrentChunk()
            }
            // What other threads sent home comes back on the owner's side.
            while room.reclaim() > 0 {}
            let s = room.stats
            #expect(s.fragmentsAllocated == allocated)
            #expect(s.fragmentsInUse == 0, "\(s)")
            #expect(s.fragmentBytesInUse == 0, "\(s)")
            #expect(s.chunksInUse == 0, "\(s)")
            #expect(s.freePages == room.pageCount, "\(failed) failed allocations")
            room.unclaim()
            let report = arena.checkForLeaks()
            #expect(report.isClean, "\(report)")
        } catch {
            Issue.record("arena: \(error)")
        }
    }

    @Test("a 64-byte frame laid down as a pcapng block holds at most 128 bytes of its room, chunk headers included")
    func smallFramesShareChunks() throws {
        try withRoom(smallConfiguration(pages: 1024, watermarks: Watermarks(min: 8, low: 16, high: 24))) { room in
            var cache = FragmentCache(room: room, chunkOrder: 2, alignment: 4)
            var held: [RawFragment] = []
            let block = 28 + 64 + 4  // EPB header, frame, trailer
            for _ in 0..<10_000 {
                guard let f = cache.allocate(block) else { break }
                held.append(f.intoRaw())
            }
            #expect(held.count == 10_000)
            cache.publish()
            let bytesPerFrame = Double(room.stats.inUsePages * 4096) / Double(held.count)
            #expect(bytesPerFrame <= 128, "\(bytesPerFrame) bytes of the room per 64-byte frame")
            let s = room.stats
            #expect(s.fragmentsPerChunk > 160, "\(s.fragmentsPerChunk) fragments per 16 KiB chunk")
            // Consecutive fragments of a chunk follow each other: a chunk's
            // used span is one run of blocks.
            for i in 1..<held.count where held[i].blockAddress == held[i - 1].blockAddress {
                #expect(held[i].address == held[i - 1].address + block)
            }
            for r in held { cache.free(r.adopt()) }
            cache.releaseCurrentChunk()
            #expect(room.stats.chunksInUse == 0)
        }
    }

    @Test("the owner's path pays no atomic per frame: a fragment given back at once leaves its bytes to the next")
    func biasAndRewind() throws {
        try withRoom(smallConfiguration(pages: 256)) { room in
            var cache = FragmentCache(room: room, chunkOrder: 0, alignment: 64)
            guard let first = cache.allocate(100) else { throw FragmentFailure() }
            let address = first.baseAddress
            cache.free(first)
            // Allocated and dropped in turn (no recording): one chunk, the
            // same bytes every time.
            for _ in 0..<10_000 {
                guard let f = cache.allocate(100) else { throw FragmentFailure() }
                let same = f.baseAddress == address
                cache.free(f)
                #expect(same)
            }
            cache.publish()
            #expect(room.stats.chunksAllocated == 1)
            // Given back out of order, a full chunk whose fragments are all
            // back is reused whole, not sent home.
            var held: [RawFragment] = []
            for _ in 0..<100 {
                guard let f = cache.allocate(100) else { throw FragmentFailure() }
                held.append(f.intoRaw())
            }
            for r in held.reversed() { cache.free(r.adopt()) }
            cache.publish()
            let s = room.stats
            #expect(s.chunksAllocated + s.chunksReused >= 3)
            #expect(s.chunksInUse == 1)
            cache.releaseCurrentChunk()
            #expect(room.stats.chunksInUse == 0)
        }
    }

    @Test("a frame larger than half a chunk takes a block of its own; chunks obey the watermarks (GFP_ATOMIC)")
    func ownBlocksAndWatermarks() throws {
        try withRoom(smallConfiguration(pages: 256)) { room in
            var cache = FragmentCache(room: room, chunkOrder: 1, alignment: 8)
            guard let big = cache.allocate(4097) else { throw FragmentFailure() }
            let shared = big.isShared
            let order = big.blockOrder
            let address = Int(bitPattern: big.baseAddress)
            cache.free(big)
            #expect(!shared)
            #expect(order == 1)
            #expect(address % 8192 == 0)
            // Fill the room: chunks stop at the atomic reserve's floor (12
            // pages of min 32), and a failure is nil, never a wait.
            var held: [RawFragment] = []
            while let f = cache.allocate(2000, [.atomic, .noWarn]) { held.append(f.intoRaw()) }
            let s = room.stats
            #expect(s.freePages >= 12 && s.freePages < 32, "\(s.freePages) free")
            #expect(s.failures > 0)
            for r in held { cache.free(r.adopt()) }
            cache.releaseCurrentChunk()
            #expect(room.stats.freePages == 256)
        }
    }

    @Test("free pages scattered: the smallest block that holds the frame, then a whole chunk once it can")
    func smallerChunkUnderFragmentation() throws {
        try withRoom(smallConfiguration(pages: 256, watermarks: Watermarks(min: 0, low: 0, high: 0))) { room in
            // Every page taken singly, then every other one given back:
            // plenty of free pages, no two of them buddies.
            var pages: [RawPage] = []
            while let p = room.allocate(order: 0, [.atomic, .noWarn]) { pages.append(p.intoRaw()) }
            pages.sort { $0.address < $1.address }
            var kept: [RawPage] = []
            for (i, p) in pages.enumerated() {
                if i % 2 == 0 { room.free(room.adopt(p)) } else { kept.append(p) }
            }
            #expect(room.stats.freeBlocks.dropFirst().allSatisfy { $0 == 0 }, "\(room.stats.freeBlocks)")
            var cache = FragmentCache(room: room, chunkOrder: 2, alignment: 64)
            var held: [RawFragment] = []
            for _ in 0..<40 {
                guard let f = cache.allocate(1500) else { break }
                #expect(f.isShared && f.blockOrder == 0)
                held.append(f.intoRaw())
            }
            #expect(held.count == 40)
            cache.publish()
            let s = room.stats
            #expect(s.chunksSmaller == s.chunksAllocated && s.chunksAllocated == 20, "\(s)")
            // The pages come back: the next chunk is a whole one.
            for p in kept { room.free(room.adopt(p)) }
            for r in held { cache.free(r.adopt()) }
            cache.releaseCurrentChunk()
            guard let whole = cache.allocate(1500) else { throw FragmentFailure() }
            #expect(whole.blockOrder == 2)
            cache.free(whole)
            cache.releaseCurrentChunk()
            while room.reclaim() > 0 {}
            #expect(room.stats.chunksInUse == 0)
            #expect(room.stats.freePages == 256)
        }
    }

    @Test("chunks released from other threads come home through the batched remote-free inbox")
    func remoteRelease() throws {
        try withRoom(smallConfiguration(pages: 512, watermarks: Watermarks(min: 8, low: 16, high: 24))) { room in
            var cache = FragmentCache(room: room, chunkOrder: 0, alignment: 64)
            var held: [RawFragment] = []
            for _ in 0..<2000 {
                guard let f = cache.allocate(200) else { break }
                held.append(f.intoRaw())
            }
            cache.releaseCurrentChunk()
            let chunks = room.stats.chunksInUse
            #expect(chunks > 50)
            // Two threads release half each, interleaved by chunk.
            let evens = RawFragments(held.enumerated().filter { $0.offset % 2 == 0 }.map(\.element))
            let odds = RawFragments(held.enumerated().filter { $0.offset % 2 == 1 }.map(\.element))
            let a = TestThread { for r in evens.items { _ = r.adopt() } }
            let b = TestThread { for r in odds.items { _ = r.adopt() } }
            a.join()
            b.join()
            let s = room.stats
            #expect(s.chunksInUse == 0, "\(s)")
            #expect(s.fragmentsInUse == 0)
            #expect(s.freeRemote == chunks)
            while room.reclaim() > 0 {}
            #expect(room.stats.freePages == 512)
        }
    }
}

/// Raw fragments handed to another thread.
final class RawFragments: @unchecked Sendable {
    let items: [RawFragment]
    init(_ items: [RawFragment]) { self.items = items }
}

/// An allocation that had to succeed did not.
struct FragmentFailure: Error {}
