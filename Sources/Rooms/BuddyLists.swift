import Synchronization

/// One page's buddy metadata, kept outside the page itself: the free-list
/// links and, on the head page of a free block, the block's order. Twelve
/// bytes, so that one load brings all three into cache together.
@usableFromInline
struct PageMeta {
    @usableFromInline var next: Int32
    @usableFromInline var prev: Int32
    /// 0, or `order + 1` when the page heads a free block.
    @usableFromInline var state: Int32

    @inlinable @inline(__always)
    init(next: Int32 = -1, prev: Int32 = -1, state: Int32 = 0) {
        self.next = next
        self.prev = prev
        self.state = state
    }
}

/// The buddy allocator of one room: a doubly linked free list per order,
/// threaded through per-page metadata.
///
/// Block indices count pages from the room's first page. An order-k block
/// starts at a multiple of 2^k, and its buddy is `index ^ (1 << k)`.
/// Owner only: no locks, no read-modify-write.
@usableFromInline
struct BuddyLists: @unchecked Sendable {
    @inlinable static var none: Int32 { -1 }

    @usableFromInline let meta: UnsafeMutablePointer<PageMeta>
    /// Per order: the first free block, or `none`.
    @usableFromInline let heads: UnsafeMutablePointer<Int32>
    /// Per order: how many free blocks. Published: the owner writes, anyone
    /// may read.
    @usableFromInline let counts: UnsafeMutablePointer<Atomic<Int>>

    /// `counts` holds `orderCount` words.
    @usableFromInline
    init(
        meta: UnsafeMutablePointer<PageMeta>, heads: UnsafeMutablePointer<Int32>,
        counts: UnsafeMutablePointer<Atomic<Int>>, pages: Int
    ) {
        self.meta = meta
        self.heads = heads
        self.counts = counts
        meta.initialize(repeating: PageMeta(), count: pages)
        heads.initialize(repeating: Self.none, count: Room.orderCount)
        for i in 0..<Room.orderCount { (counts + i).initialize(to: Atomic(0)) }
    }

    /// How many free blocks of `order`; any thread.
    @inlinable
    func count(order k: Int) -> Int { counts[k].load(ordering: .relaxed) }

    /// Counts `delta` more free blocks of `order`.
    @inlinable @inline(__always)
    func bump(_ order: Int, _ delta: Int) {
        counts[order].store(counts[order].load(ordering: .relaxed) &+ delta, ordering: .relaxed)
    }

    /// Puts a free block on its list and counts it.
    @usableFromInline
    func push(_ index: Int32, order: Int) {
        link(index, order: order)
        bump(order, 1)
    }

    /// Puts a free block on its list; the caller counts it.
    @inlinable @inline(__always)
    func link(_ index: Int32, order: Int) {
        let head = heads[order]
        let m = meta + Int(truncatingIfNeeded: index)
        m.pointee.next = head
        m.pointee.prev = Self.none
        m.pointee.state = Int32(truncatingIfNeeded: order &+ 1)
        if head != Self.none { meta[Int(truncatingIfNeeded: head)].prev = index }
        heads[order] = index
    }

    /// Takes a free block off its list; the caller counts it.
    @inlinable @inline(__always)
    func unlink(_ index: Int32, order: Int) {
        let m = meta + Int(truncatingIfNeeded: index)
        let n = m.pointee.next
        let p = m.pointee.prev
        if p != Self.none { meta[Int(truncatingIfNeeded: p)].next = n } else { heads[order] = n }
        if n != Self.none { meta[Int(truncatingIfNeeded: n)].prev = p }
        m.pointee.state = 0
    }

    /// Takes a block of exactly `order`, splitting a larger one if needed.
    /// Returns its first page index, or nil when no block of `order` or more
    /// is free.
    @inlinable @inline(__always)
    func take(order: Int) -> Int32? {
        var k = order
        var index = heads[k]
        while index == Self.none {
            k &+= 1
            if k == Room.orderCount { return nil }
            index = heads[k]
        }
        // Pop the head: no predecessor to fix.
        let m = meta + Int(truncatingIfNeeded: index)
        let n = m.pointee.next
        heads[k] = n
        if n != Self.none { meta[Int(truncatingIfNeeded: n)].prev = Self.none }
        m.pointee.state = 0
        let found = k
        // Split: keep the lower half, free the upper halves. Every list
        // below `found` was empty (that is why we climbed), so each upper
        // half is its list's only block: no head to load or fix.
        while k > order {
            k &-= 1
            let half = index | (Int32(1) &<< Int32(truncatingIfNeeded: k))
            meta[Int(truncatingIfNeeded: half)] = PageMeta(
                next: Self.none, prev: Self.none, state: Int32(truncatingIfNeeded: k &+ 1))
            heads[k] = half
            bump(k, 1)
        }
        bump(found, -1)
        return index
    }

    /// Gives a block back, merging it with its free buddy as far as it goes.
    @inlinable @inline(__always)
    func give(_ index: Int32, order: Int) {
        var index = index
        var k = order
        while k < Room.maxOrder {
            let buddy = index ^ (Int32(1) &<< Int32(truncatingIfNeeded: k))
            guard meta[Int(truncatingIfNeeded: buddy)].state == Int32(truncatingIfNeeded: k &+ 1) else { break }
            unlink(buddy, order: k)
            bump(k, -1)
            index = index & buddy
            k &+= 1
        }
        link(index, order: k)
        bump(k, 1)
    }

    /// Whether the page at `index` heads a free block, and of what order.
    @usableFromInline
    func freeOrder(at index: Int) -> Int? {
        let s = meta[index].state
        return s == 0 ? nil : Int(s) - 1
    }
}
