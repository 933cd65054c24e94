import Rooms
import Testing

/// Every flag and watermark boundary on a real room: 256 pages, min 32
/// (atomic floor 12), low 40, high 48.
@Suite("GFP flags on a room")
struct AllocationFlagTests {
    /// Allocates order-0 pages with .atomic until exactly `target` are free.
    func allocate(_ room: Room, downTo target: Int, into batch: inout PageBatch) {
        while room.stats.freePages > target {
            guard let page = room.allocate(order: 0, [.atomic, .noWarn]) else {
                Issue.record("could not reach \(target) free pages")
                return
            }
            batch.accept(page)
        }
    }

    @Test(".nowait fails at min; .atomic goes on to the floor and fails below it")
    func nowaitThenAtomic() throws {
        try withRoom { room in
            var held = PageBatch(capacity: 256)
            let taken = allocateUntilFailure(room, .nowait, into: &held)
            #expect(taken == 256 - 32)
            var s = room.stats
            #expect(s.freePages == 32)
            #expect(s.allocFail[0] == 1)
            #expect(s.reserveDips == 0)

            // Atomic succeeds where nowait failed, dipping into the reserve.
            let dipped = allocateUntilFailure(room, .atomic, into: &held)
            #expect(dipped == 32 - 12)
            s = room.stats
            #expect(s.freePages == 12)
            #expect(s.reserveDips == 20)
            #expect(s.allocFail[0] == 2)

            // Below the floor nothing passes.
            #expect(Bool(room.allocate(order: 0, .nowait).isNil))
            #expect(Bool(room.allocate(order: 0, .atomic).isNil))
            #expect(room.stats.allocFail[0] == 4)

            // One page back: atomic passes again, nowait still not.
            room.free(held.popLast()!)
            #expect(Bool(room.allocate(order: 0, .nowait).isNil))
            let again = room.allocate(order: 0, .atomic)
            #expect(Bool(!again.isNil))
            #expect(room.stats.freePages == 12)
            _ = consume again
            #expect(room.stats.freePages == 13)
        }
    }

    @Test("order-k boundaries for nowait and atomic", arguments: 1...4)
    func orderBoundaries(order: Int) throws {
        try withRoom { room in
            var held = PageBatch(capacity: 256)
            let pages = 1 << order
            // nowait needs free − (2^k − 1) > min, i.e. free ≥ min + 2^k.
            allocate(room, downTo: 32 + pages, into: &held)
            let ok = room.allocate(order: order, .nowait)
            #expect(Bool(!ok.isNil))
            #expect(room.stats.freePages == 32)
            _ = consume ok
            allocate(room, downTo: 32 + pages - 1, into: &held)
            #expect(Bool(room.allocate(order: order, [.nowait, .noWarn]).isNil))
            #expect(room.stats.allocFail[order] == 1)
            #expect(room.stats.allocEmpty[order] == 0, "refused by the watermark, not empty")

            // atomic needs free ≥ floor + 2^k = 12 + 2^k.
            allocate(room, downTo: 12 + pages, into: &held)
            let dipsBefore = room.stats.reserveDips
            let dip = room.allocate(order: order, .atomic)
            #expect(Bool(!dip.isNil))
            #expect(room.stats.reserveDips == dipsBefore + 1)
            _ = consume dip
            allocate(room, downTo: 12 + pages - 1, into: &held)
            #expect(Bool(room.allocate(order: order, .atomic).isNil))
            #expect(room.stats.allocFail[order] == 2)
        }
    }

    @Test(".wait below min blocks until its deadline, then fails")
    func waitTimesOut() throws {
        try withRoom { room in
            var held = PageBatch(capacity: 256)
            _ = allocateUntilFailure(room, .nowait, into: &held)
            let start = ContinuousClock.now
            let page = room.allocate(order: 0, .wait, timeout: .milliseconds(50))
            let waited = ContinuousClock.now - start
            #expect(Bool(page.isNil))
            #expect(waited >= .milliseconds(45))
            #expect(room.stats.waits == 1)
            // And .wait never dips into the reserve.
            #expect(room.stats.freePages == 32)
        }
    }

    @Test("noWarn failures leave no warning; others record order and mode")
    func warnings() throws {
        try withRoom { room in
            var held = PageBatch(capacity: 256)
            _ = allocateUntilFailure(room, [.atomic, .noWarn], into: &held)
            #expect(room.failureWarning.count == 0)
            #expect(Bool(room.allocate(order: 3, .nowait).isNil))
            let w = room.failureWarning
            #expect(w.count == 1 && w.order == 3 && w.mode == .nowait)
            #expect(Bool(room.allocate(order: 0, .atomic).isNil))
            #expect(room.failureWarning.count == 2 && room.failureWarning.mode == .atomic)
        }
    }

    @Test("crossing low raises one pressure event until high is regained")
    func lowWatermarkEvents() throws {
        try withRoom { room in
            var held = PageBatch(capacity: 256)
            allocate(room, downTo: 40, into: &held)
            #expect(room.stats.lowWatermarkEvents == 0)
            held.accept(room.allocate(order: 0, .atomic)!)  // 39 < low
            #expect(room.stats.lowWatermarkEvents == 1)
            held.accept(room.allocate(order: 0, .atomic)!)  // still under pressure
            #expect(room.stats.lowWatermarkEvents == 1)
            // Back above low but below high: still the same event.
            for _ in 0..<5 { room.free(held.popLast()!) }  // 43
            allocate(room, downTo: 39, into: &held)
            #expect(room.stats.lowWatermarkEvents == 1)
            // Regain high, then cross low again: a new event.
            while room.stats.freePages < 48 { room.free(held.popLast()!) }
            allocate(room, downTo: 39, into: &held)
            #expect(room.stats.lowWatermarkEvents == 2)
        }
    }

    @Test("refill(into:) tops up in place and stops at the first failure")
    func refill() throws {
        try withRoom { room in
            var batch = PageBatch(capacity: 300)
            #expect(room.refill(into: &batch, count: 10) == 10)
            #expect(batch.count == 10)
            // All it has room for, down to the atomic floor.
            let added = room.refill(into: &batch, order: 0, [.atomic, .noWarn])
            #expect(added == 256 - 12 - 10)
            #expect(room.stats.freePages == 12)
            var small = PageBatch(capacity: 3)
            while let p = batch.popLast() { room.free(p) }
            #expect(room.refill(into: &small) == 3)
            #expect(small.vacancies == 0)
        }
    }

    @Test("a page's bytes are its own, 4 KiB << order, aligned")
    func pageBytes() throws {
        try withRoom { room in
            for order in 0...4 {
                let page = room.allocate(order: order)!
                #expect(page.byteCount == 4096 << order)
                #expect(page.bytes.count == 4096 << order)
                #expect(Int(bitPattern: page.baseAddress) % (4096 << order) == 0)
                page.bytes.initializeMemory(as: UInt8.self, repeating: UInt8(order))
                #expect(page.roomIndex == 0)
                room.free(page)
            }
        }
    }

    @Test("intoRaw and adopt round-trip a page through a kernel-style ring")
    func rawRoundTrip() throws {
        try withRoom { room in
            let raw = room.allocate(order: 2)!.intoRaw()
            #expect(room.stats.inUsePages == 4)
            let page = room.adopt(raw)
            #expect(page.order == 2)
            room.free(page)
            #expect(room.stats.inUsePages == 0)
        }
    }
}
