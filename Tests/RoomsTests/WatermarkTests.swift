import Rooms
import Testing

@Suite("Watermark policy")
struct WatermarkTests {
    let marks = Watermarks(min: 32, low: 40, high: 48)

    @Test("atomic floor is 3/8 of min: min − min/2, then − a quarter of that")
    func atomicFloor() {
        #expect(Watermarks(min: 32, low: 40, high: 48).atomicFloor == 12)
        #expect(Watermarks(min: 128, low: 160, high: 192).atomicFloor == 48)
        #expect(Watermarks(min: 7, low: 8, high: 9).atomicFloor == 3)  // 7 - 3 = 4, 4 - 1 = 3
        #expect(Watermarks(min: 0, low: 0, high: 0).atomicFloor == 0)
    }

    @Test("nowait and wait stop at min, atomic at the floor", arguments: [AllocationMode.nowait, .wait, .atomic])
    func orderZeroBoundaries(mode: AllocationMode) {
        let floor = mode == .atomic ? marks.atomicFloor : marks.min
        // An allowed allocation must leave at least `floor` pages: free > floor.
        #expect(marks.verdict(free: floor + 1, order: 0, mode: mode) != .refused)
        #expect(marks.verdict(free: floor, order: 0, mode: mode) == .refused)
        #expect(marks.verdict(free: 0, order: 0, mode: mode) == .refused)
    }

    @Test("an order-k request discounts 2^k − 1 pages first", arguments: 0...4)
    func higherOrders(order: Int) {
        let need = marks.min + (1 << order)  // smallest free count nowait accepts
        #expect(marks.verdict(free: need, order: order, mode: .nowait) == .allowed)
        #expect(marks.verdict(free: need - 1, order: order, mode: .nowait) == .refused)
        let atomicNeed = marks.atomicFloor + (1 << order)
        #expect(marks.verdict(free: atomicNeed, order: order, mode: .atomic) == .allowedFromReserve)
        #expect(marks.verdict(free: atomicNeed - 1, order: order, mode: .atomic) == .refused)
    }

    @Test("atomic uses the reserve only below min")
    func reserveOnlyBelowMin() {
        #expect(marks.verdict(free: 33, order: 0, mode: .atomic) == .allowed)
        #expect(marks.verdict(free: 32, order: 0, mode: .atomic) == .allowedFromReserve)
        #expect(marks.verdict(free: 13, order: 0, mode: .atomic) == .allowedFromReserve)
        #expect(marks.verdict(free: 12, order: 0, mode: .atomic) == .refused)
    }

    @Test("defaults follow the kernel's derivation")
    func derived() {
        let d = Watermarks.derived(pages: 4096)
        #expect(d == Watermarks(min: 128, low: 160, high: 192))
        let big = Watermarks.derived(pages: 262_144)  // 1 GiB room: pages/1000 beats min/4? 8192/4=2048 > 262
        #expect(big.min == 8192 && big.low == 8192 + 2048 && big.high == 8192 + 4096)
        for pages in stride(from: 16, through: 65536, by: 16) {
            let w = Watermarks.derived(pages: pages)
            #expect(w.problem(pages: pages) == nil, "pages \(pages): \(w)")
        }
    }

    @Test("bad watermarks are named")
    func problems() {
        #expect(
            Watermarks(min: 10, low: 5, high: 20).problem(pages: 100)?.contains("min (10) must not exceed low (5)")
                == true)
        #expect(Watermarks(min: 1, low: 30, high: 20).problem(pages: 100)?.contains("low (30)") == true)
        #expect(Watermarks(min: 1, low: 2, high: 100).problem(pages: 100)?.contains("high (100)") == true)
        #expect(Watermarks(min: -1, low: 2, high: 3).problem(pages: 100)?.contains("negative") == true)
    }

    @Test("GFP flags pick one mode")
    func modes() {
        #expect(GFP.nowait.mode == .nowait)
        #expect(GFP.atomic.mode == .atomic)
        #expect(GFP.wait.mode == .wait)
        #expect(GFP([.atomic, .noWarn]).mode == .atomic)
        #expect(GFP.noWarn.mode == .nowait)
        #expect(GFP([.nowait, .atomic]).mode == .atomic)
    }
}
