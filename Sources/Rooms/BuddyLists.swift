/// The buddy allocator of one room: a free list per order, threaded through
/// per-page metadata kept outside the pages themselves.
///
/// Block indices count pages from the room's first page. An order-k block
/// starts at a multiple of 2^k, and its buddy is `index ^ (1 << k)`. A free
/// block's head page records `k + 1` in `state`; every other page records 0.
/// Owner only: no atomics, no locks.
@usableFromInline
struct BuddyLists: @unchecked Sendable {
    @inlinable static var none: Int32 { -1 }

    /// Per page: 0, or `order + 1` when the page heads a free block.
    @usableFromInline let state: UnsafeMutablePointer<UInt8>
    @usableFromInline let next: UnsafeMutablePointer<Int32>
    @usableFromInline let prev: UnsafeMutablePointer<Int32>
    /// Per order: the first free block, or `none`.
    @usableFromInline let heads: UnsafeMutablePointer<Int32>
    /// Per order: how many free blocks.
    @usableFromInline let counts: UnsafeMutablePointer<Int>

    @usableFromInline
    init(
        state: UnsafeMutablePointer<UInt8>, next: UnsafeMutablePointer<Int32>,
        prev: UnsafeMutablePointer<Int32>, heads: UnsafeMutablePointer<Int32>,
        counts: UnsafeMutablePointer<Int>, pages: Int
    ) {
        self.state = state
        self.next = next
        self.prev = prev
        self.heads = heads
        self.counts = counts
        state.initialize(repeating: 0, count: pages)
        next.initialize(repeating: Self.none, count: pages)
        prev.initialize(repeating: Self.none, count: pages)
        heads.initialize(repeating: Self.none, count: Room.orderCount)
        counts.initialize(repeating: 0, count: Room.orderCount)
    }

    @usableFromInline
    func push(_ index: Int32, order: Int) {
        let head = heads[order]
        next[Int(index)] = head
        prev[Int(index)] = Self.none
        if head != Self.none { prev[Int(head)] = index }
        heads[order] = index
        state[Int(index)] = UInt8(order + 1)
        counts[order] += 1
    }

    @usableFromInline
    func unlink(_ index: Int32, order: Int) {
        let n = next[Int(index)]
        let p = prev[Int(index)]
        if p != Self.none { next[Int(p)] = n } else { heads[order] = n }
        if n != Self.none { prev[Int(n)] = p }
        state[Int(index)] = 0
        counts[order] -= 1
    }

    /// Takes a block of exactly `order`, splitting a larger one if needed.
    /// Returns its first page index, or nil when no block of `order` or more
    /// is free.
    @usableFromInline
    func take(order: Int) -> Int32? {
        var k = order
        while k < Room.orderCount && heads[k] == Self.none { k += 1 }
        if k == Room.orderCount { return nil }
        let index = heads[k]
        unlink(index, order: k)
        // Split: keep the lower half, free the upper halves.
        while k > order {
            k -= 1
            push(index + (Int32(1) << Int32(k)), order: k)
        }
        return index
    }

    /// Gives a block back, merging it with its free buddy as far as it goes.
    @usableFromInline
    func give(_ index: Int32, order: Int) {
        var index = index
        var k = order
        while k < Room.maxOrder {
            let buddy = index ^ (Int32(1) << Int32(k))
            guard state[Int(buddy)] == UInt8(k + 1) else { break }
            unlink(buddy, order: k)
            index = min(index, buddy)
            k += 1
        }
        push(index, order: k)
    }

    /// Whether the page at `index` heads a free block, and of what order.
    @usableFromInline
    func freeOrder(at index: Int) -> Int? {
        let s = state[index]
        return s == 0 ? nil : Int(s) - 1
    }
}
