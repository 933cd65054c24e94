import PropertyBased
import Rooms
import Testing

/// A reference model of one room, written without a buddy allocator: a page
/// map, the watermark rules and the counters they imply. Random alloc/free
/// sequences run against both, and everything observable must agree.
struct RoomModel {
    let pages: Int
    let marks: Watermarks
    var used: [Bool]
    var held: [(first: Int, order: Int)] = []
    var free: Int
    var underPressure = false
    var allocFail = [Int](repeating: 0, count: 5)
    var successes = 0
    var reserveDips = 0
    var lowEvents = 0
    var frees = 0
    var highWater = 0

    init(pages: Int, marks: Watermarks) {
        self.pages = pages
        self.marks = marks
        used = [Bool](repeating: false, count: pages)
        free = pages
    }

    /// Whether an aligned run of 2^order free pages exists anywhere.
    func alignedFreeBlockExists(order: Int) -> Bool {
        let size = 1 << order
        return stride(from: 0, to: pages, by: size).contains { start in
            (start..<start + size).allSatisfy { !used[$0] }
        }
    }

    /// What an allocation should do: succeed (and from the reserve?) or fail.
    func predict(order: Int, mode: AllocationMode) -> (ok: Bool, dip: Bool) {
        let verdict = marks.verdict(free: free, order: order, mode: mode)
        if verdict == .refused { return (false, false) }
        return (alignedFreeBlockExists(order: order), verdict == .allowedFromReserve)
    }

    mutating func allocated(first: Int, order: Int, dip: Bool) {
        for p in first..<first + (1 << order) { used[p] = true }
        held.append((first, order))
        free -= 1 << order
        successes += 1
        if dip { reserveDips += 1 }
        highWater = max(highWater, pages - free)
        if free < marks.low && !underPressure {
            underPressure = true
            lowEvents += 1
        }
    }

    mutating func freed(at index: Int) {
        let (first, order) = held.remove(at: index)
        for p in first..<first + (1 << order) { used[p] = false }
        free += 1 << order
        frees += 1
        if underPressure && free >= marks.high { underPressure = false }
    }
}

@Suite("Allocator against a model")
struct PropertyTests {
    static let marks = Watermarks(min: 24, low: 32, high: 40)

    /// Each generated word is one operation: 40% free (of the held block the
    /// word picks), 60% allocate (order and mode from the word's bits).
    @Test("random alloc/free sequences agree with the model")
    func agreesWithModel() async {
        await propertyCheck(count: 200, input: Gen.uint32(in: 0...UInt32.max).array(of: 1...600)) { ops in
            Self.run(ops)
        }
    }

    static func run(_ ops: [UInt32]) {
        let pages = 256
        do {
            try withRoom(smallConfiguration(pages: pages, watermarks: marks, cache: 16, batch: 4)) { room in
                var model = RoomModel(pages: pages, marks: marks)
                var held = PageBatch(capacity: pages)
                for op in ops {
                    if op % 10 < 4 && held.count > 0 {
                        let i = Int(op / 10) % held.count
                        // PageBatch.swapRemove moves the last into i: mirror it.
                        let modelIndex = i
                        let last = model.held.count - 1
                        model.held.swapAt(modelIndex, last)
                        model.freed(at: last)
                        room.free(held.swapRemove(at: i))
                    } else {
                        let order = Int(op / 10 % 5)
                        let mode: AllocationMode = (op / 50) % 2 == 0 ? .nowait : .atomic
                        let flags: GFP = mode == .atomic ? [.atomic, .noWarn] : [.nowait, .noWarn]
                        let expected = model.predict(order: order, mode: mode)
                        if let page = room.allocate(order: order, flags) {
                            #expect(
                                expected.ok, "allocated order \(order) \(mode) with \(model.free) free; model says fail"
                            )
                            let first = (Int(bitPattern: page.baseAddress) - Int(bitPattern: room.baseAddress)) / 4096
                            for p in first..<first + (1 << order) where model.used[p] {
                                Issue.record("page \(p) handed out while in use")
                            }
                            model.allocated(first: first, order: order, dip: expected.dip)
                            held.accept(page)
                        } else {
                            #expect(
                                !expected.ok,
                                "failed order \(order) \(mode) with \(model.free) free; model says succeed")
                            model.allocFail[order] += 1
                        }
                    }
                    let s = room.stats
                    #expect(s.freePages == model.free)
                    #expect(s.inUsePages == pages - model.free)
                    if s.freePages != model.free { return }
                }
                let s = room.stats
                #expect(s.allocFail == model.allocFail)
                #expect(s.allocations == model.successes)
                #expect(s.reserveDips == model.reserveDips)
                #expect(s.lowWatermarkEvents == model.lowEvents)
                #expect(s.freeLocal == model.frees)
                #expect(s.inUseHighWater == model.highWater)
                #expect(s.allocEmpty.reduce(0, +) <= s.failures)
                // The published free-block counters match a walk of the buddy.
                var walked = [Int](repeating: 0, count: 5)
                for block in room.freeBlockList() { walked[block.order] += 1 }
                #expect(s.freeBlocks == walked)
                while let page = held.popLast() { room.free(page) }
            }
        } catch {
            Issue.record("arena: \(error)")
        }
    }
}
