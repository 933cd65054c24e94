import CRoomsSupport
import Synchronization

/// A handle to one room: an exclusive buddy allocator over part of the arena.
///
/// Only the thread that ``claim()``ed the room may allocate from it (a debug
/// build traps on any other: "room 3 is exclusive to worker 3"). Any thread
/// may free a page: the owner's frees take the fast local path, others go
/// home through the room's lock-free inbox. Any thread may read ``stats``.
///
/// A `Room` is a plain handle, like a file descriptor number: it must not be
/// used after its ``Arena`` is gone.
public struct Room: @unchecked Sendable {
    /// Bytes in one page.
    @inlinable public static var pageSize: Int { 4096 }
    /// log2 of ``pageSize``.
    @inlinable public static var pageShift: Int { 12 }
    /// The largest order: a block of 2^4 = 16 pages, 64 KiB.
    @inlinable public static var maxOrder: Int { 4 }
    /// How many orders there are (0 through ``maxOrder``).
    @inlinable public static var orderCount: Int { 5 }

    @usableFromInline let core: UnsafeMutablePointer<RoomCore>

    @inlinable @inline(__always)
    init(core: UnsafeMutablePointer<RoomCore>) { self.core = core }

    /// The room's index in its arena, which is also its worker's index.
    @inlinable public var index: Int { core.pointee.index }
    /// Pages in the room.
    @inlinable public var pageCount: Int { core.pointee.pageCount }
    /// The room's watermarks.
    @inlinable public var watermarks: Watermarks { core.pointee.watermarks }
    /// The room's first byte.
    @inlinable public var baseAddress: UnsafeMutableRawPointer { core.pointee.base }
    /// Capacity of the order-0 cache in front of the buddy allocator.
    @inlinable public var cacheCapacity: Int { core.pointee.cacheCapacity }

    @inlinable @inline(__always)
    var counters: CounterBlock { core.pointee.counters }

    // MARK: Ownership

    /// Makes the calling thread the room's owner. Traps if another thread
    /// holds it.
    public func claim() {
        let me = lab_thread_identity()
        let (exchanged, current) = core.pointee.owner.compareExchange(
            expected: 0, desired: me, ordering: .acquiringAndReleasing)
        if !exchanged && current != me {
            fatalError("room \(index) is exclusive to worker \(index) and already claimed by another thread")
        }
    }

    /// Gives up ownership. The calling thread must be the owner.
    public func unclaim() {
        let me = lab_thread_identity()
        let (exchanged, _) = core.pointee.owner.compareExchange(
            expected: me, desired: 0, ordering: .acquiringAndReleasing)
        if !exchanged {
            fatalError("room \(index) can only be unclaimed by the thread that claimed it")
        }
    }

    /// Whether the calling thread owns the room.
    @inlinable
    public var isOwnedByCurrentThread: Bool {
        core.pointee.owner.load(ordering: .relaxed) == lab_thread_identity()
    }

    // MARK: Allocation

    /// Allocates a block of 2^order pages, or returns nil.
    ///
    /// The order-0 fast path pops the per-room cache: no lock, no atomic
    /// read-modify-write, no syscall, no heap. Failure is a counted event
    /// (`alloc_fail`), never a stall, unless `flags` has `.wait`, which may
    /// block up to `timeout` for pages to come home from other threads.
    ///
    /// - Parameters:
    ///   - order: 0...4.
    ///   - flags: the GFP flags; see ``GFP``.
    ///   - timeout: how long a `.wait` allocation may block.
    /// - Returns: the page, or nil when the room's watermark policy refuses
    ///   or no block of that order is free.
    @inlinable @inline(__always)
    public func allocate(order: Int = 0, _ flags: GFP = .atomic, timeout: Duration = .seconds(1)) -> Page? {
        #if DEBUG
        checkOwner()
        if flags.contains(.wait) && lab_in_atomic() {
            fatalError("sleeping allocation in atomic context (room \(index), order \(order))")
        }
        #endif
        let c = core
        if _fastPath(order == 0) {
            let n = c.pointee.cacheCount
            let free = c.pointee.counters.load(.freePages)
            if _fastPath(n > 0 && free > c.pointee.low) {
                let top = n &- 1
                c.pointee.cacheCount = top
                let address = c.pointee.cache[top]
                let left = free &- 1
                let counters = c.pointee.counters
                counters.store(.freePages, left)
                counters.add(.allocFast, 1)
                let inUse = c.pointee.pageCount &- left
                if _slowPath(inUse > counters.load(.inUseHighWater)) {
                    counters.store(.inUseHighWater, inUse)
                }
                return Page(address: address, core: c, order: 0)
            }
        }
        if order != 0 && !flags.contains(.wait) {
            return allocateBuddy(order: order, flags: flags)
        }
        return allocateSlow(order: order, flags: flags, timeout: timeout)
    }

    /// Frees a page of this room. The owner takes the fast local path; any
    /// other thread sends it home through the room's inbox, one CAS per page
    /// (use ``RemoteFreeBatch`` to send many with one CAS per batch).
    /// Dropping a `Page` does the same.
    @inlinable @inline(__always)
    public func free(_ page: consuming Page) {
        #if DEBUG
        if page.core != core {
            fatalError("page of room \(page.roomIndex) freed into room \(index)")
        }
        #endif
        let address = page.address
        let order = page._order
        page.forget()
        release(address: address, order: order)
    }

    /// Takes a block given up with ``Page/intoRaw()`` back under a handle.
    /// The block must have come from this room and not have been adopted since.
    @inlinable
    public func adopt(_ raw: RawPage) -> Page {
        #if DEBUG
        let offset = raw.address - core.pointee.base
        if raw.roomIndex != index || offset < 0 || offset >= core.pointee.pageCount &<< Room.pageShift {
            fatalError("raw page \(raw) does not belong to room \(index)")
        }
        #endif
        return Page(address: raw.address, core: core, order: raw.order)
    }

    /// Tops up `target` with up to `count` pages (all it has room for when
    /// nil), stopping at the first failure, like `rte_mempool_get_bulk`
    /// filling a ring in place. Owner only.
    /// - Returns: how many pages were added.
    @inlinable
    @discardableResult
    public func refill<Target: PageRefillTarget & ~Copyable>(
        into target: inout Target, count: Int? = nil, order: Int = 0, _ flags: GFP = .atomic
    ) -> Int {
        let want = Swift.min(count ?? target.vacancies, target.vacancies)
        var added = 0
        while added < want {
            guard let page = allocate(order: order, flags) else { break }
            target.accept(page)
            added &+= 1
        }
        return added
    }

    // MARK: Free paths

    @inlinable @inline(__always)
    func release(address: UnsafeMutableRawPointer, order: Int) {
        let c = core
        if _fastPath(c.pointee.owner.load(ordering: .relaxed) == lab_thread_identity()) {
            let n = c.pointee.cacheCount
            if _fastPath(order == 0 && n < c.pointee.cacheCapacity && !c.pointee.underPressure) {
                c.pointee.cache[n] = address
                c.pointee.cacheCount = n &+ 1
                let counters = c.pointee.counters
                counters.add(.freePages, 1)
                counters.add(.freeLocal, 1)
                return
            }
            releaseLocalSlow(address: address, order: order)
        } else {
            releaseRemote(address: address, order: order)
        }
    }

    #if DEBUG
    @usableFromInline
    func checkOwner() {
        let owner = core.pointee.owner.load(ordering: .relaxed)
        if _slowPath(owner != lab_thread_identity()) {
            if owner == 0 {
                fatalError("room \(index) has no owner: claim() it on the worker thread that allocates from it")
            }
            fatalError("room \(index) is exclusive to worker \(index)")
        }
    }
    #endif
}

/// Something `Room.refill(into:)` can top up in place: a provided-buffer
/// ring, a batch.
public protocol PageRefillTarget: ~Copyable {
    /// How many more pages it takes now.
    var vacancies: Int { get }
    /// Takes ownership of one more page.
    mutating func accept(_ page: consuming Page)
}
