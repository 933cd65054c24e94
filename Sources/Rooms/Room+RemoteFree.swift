import CRoomsSupport
import Synchronization

// Remote frees travel in batches kept inside the first page freed: the page
// becomes a header of machine words
//
//   [0] the next header in the inbox stack (an address, or 0)
//   [1] the header page's own order
//   [2] how many more blocks the batch carries (0...63)
//   [3...] those blocks, each `address | order` (pages are 4 KiB aligned)
//
// and the batch goes home with a single CAS onto the room's inbox stack. The
// owner takes the whole stack in one exchange, keeps it private and brings
// one batch (at most 64 blocks) home per refill. Nothing pops single
// entries, so there is no ABA.
//
// STYLE: keep this shape. It is the kernel's SLUB remote free (a freelist
// built in the freed objects themselves, handed over with one cmpxchg) and
// DPDK's bulk put: no allocation to free, one atomic per 64 blocks, and an
// owner that drains without a lock. A per-block atomic or a queue allocated
// beside the pages would put the cost back on every cross-thread free.

/// How many blocks beyond its header page one remote-free batch carries.
@inlinable public var remoteFreeBatchCapacity: Int { 63 }

@inlinable var batchNext: Int { 0 }
@inlinable var batchHeaderOrder: Int { 1 }
@inlinable var batchCount: Int { 2 }
@inlinable var batchEntries: Int { 3 }

extension Room {
    /// Frees one block from a thread that does not own the room: a batch of
    /// one, one CAS.
    @usableFromInline @inline(never)
    func releaseRemote(address: UnsafeMutableRawPointer, order: Int) {
        #if DEBUG
        checkBelongs(address, order: order)
        #endif
        let header = address.assumingMemoryBound(to: UInt.self)
        header[batchHeaderOrder] = UInt(order)
        header[batchCount] = 0
        pushBatch(header, blocks: 1)
    }

    /// Pushes a filled batch header onto the inbox with one CAS, then wakes
    /// the owner if it sleeps in a `.wait` allocation.
    @usableFromInline
    func pushBatch(_ header: UnsafeMutablePointer<UInt>, blocks: Int) {
        let inbox = core.pointee.inbox
        let new = UInt(bitPattern: header)
        var old = inbox.head.pointee.load(ordering: .relaxed)
        while true {
            header[batchNext] = old
            // Sequentially consistent: pairs with the owner's store to
            // `waiters` and load of `head` in waitForRemoteFree (Dekker).
            let (exchanged, current) = inbox.head.pointee.weakCompareExchange(
                expected: old, desired: new,
                successOrdering: .sequentiallyConsistent, failureOrdering: .relaxed)
            if exchanged { break }
            old = current
        }
        inbox.pushed.pointee.wrappingAdd(blocks, ordering: .relaxed)
        if inbox.waiters.pointee.load(ordering: .sequentiallyConsistent) != 0 {
            inbox.generation.pointee.wrappingAdd(1, ordering: .releasing)
            _ = lab_futex_wake(inbox.futexWord, Int32.max)
        }
    }

    /// Brings one batch of remote frees home: from the private pending list,
    /// or, when that is empty, from the inbox taken whole in one exchange.
    /// Owner only.
    /// - Returns: how many blocks came home (0 when nothing was waiting).
    @discardableResult
    public func reclaim() -> Int { reclaimBatch() }

    @usableFromInline
    @discardableResult
    func reclaimBatch() -> Int {
        let c = core
        if c.pointee.pending == 0 {
            // Only the owner exchanges, so a relaxed look first saves the
            // read-modify-write when the inbox is empty.
            if c.pointee.inbox.head.pointee.load(ordering: .relaxed) == 0 { return 0 }
            c.pointee.pending = c.pointee.inbox.head.pointee.exchange(0, ordering: .acquiring)
            if c.pointee.pending == 0 { return 0 }
        }
        let header = UnsafeMutablePointer<UInt>(bitPattern: c.pointee.pending)!
        c.pointee.pending = header[batchNext]
        let headerOrder = Int(header[batchHeaderOrder])
        let extra = Int(header[batchCount])
        precondition(
            extra <= remoteFreeBatchCapacity && headerOrder <= Room.maxOrder,
            "room \(index): corrupt remote-free batch at \(header)")
        var pages = 0
        for i in 0..<extra {
            let entry = header[batchEntries &+ i]
            let order = Int(entry & 0xF)
            let address = UnsafeMutableRawPointer(bitPattern: entry & ~UInt(Room.pageSize - 1))!
            #if DEBUG
            checkBelongs(address, order: order)
            #endif
            home(address, order: order)
            pages &+= 1 &<< order
        }
        home(UnsafeMutableRawPointer(header), order: headerOrder)
        pages &+= 1 &<< headerOrder
        let free = counters.load(.freePages) &+ pages
        counters.store(.freePages, free)
        counters.add(.reclaimed, extra &+ 1)
        counters.add(.refill, 1)
        if c.pointee.underPressure && free >= c.pointee.high {
            c.pointee.underPressure = false
        }
        return extra &+ 1
    }

    /// Sleeps until a remote free is pushed, or until `deadline`
    /// (CLOCK_MONOTONIC ns). Owner only.
    @usableFromInline
    func waitForRemoteFree(until deadline: UInt64) {
        let inbox = core.pointee.inbox
        let generation = inbox.generation.pointee.load(ordering: .acquiring)
        inbox.waiters.pointee.store(1, ordering: .sequentiallyConsistent)
        defer { inbox.waiters.pointee.store(0, ordering: .relaxed) }
        if core.pointee.pending != 0 || inbox.head.pointee.load(ordering: .sequentiallyConsistent) != 0 {
            return
        }
        let now = lab_monotonic_ns()
        guard now < deadline else { return }
        _ = lab_futex_wait(inbox.futexWord, generation, Int64(deadline &- now))
    }

    /// Blocks other threads have pushed and the owner has not brought home.
    var remoteInFlight: Int {
        max(0, core.pointee.inbox.pushed.pointee.load(ordering: .relaxed) - counters.load(.reclaimed))
    }
}

/// A batch of frees from one thread for pages of other threads' rooms, like
/// the kernel's `xdp_frame_bulk`. Pages bound for the same room collect inside
/// the first of them, and each full batch of 64 goes home with one CAS.
/// ``flush()`` sends partial batches; so does `deinit`.
///
/// Pages of rooms the calling thread owns are freed locally at once.
public struct RemoteFreeBatch: ~Copyable {
    /// One open batch per slot; a slot serves the rooms whose index maps to it.
    @usableFromInline let cores: UnsafeMutablePointer<UnsafeMutablePointer<RoomCore>?>
    @usableFromInline let headers: UnsafeMutablePointer<UnsafeMutablePointer<UInt>?>
    @usableFromInline let slots: Int

    /// - Parameter slots: how many rooms can have an open batch at once.
    public init(slots: Int = 8) {
        precondition(slots > 0)
        self.slots = slots
        cores = .allocate(capacity: slots)
        cores.initialize(repeating: nil, count: slots)
        headers = .allocate(capacity: slots)
        headers.initialize(repeating: nil, count: slots)
    }

    deinit {
        flush()
        cores.deallocate()
        headers.deallocate()
    }

    /// Adds a page to its room's batch; a full batch goes home at once.
    @inlinable
    public mutating func free(_ page: consuming Page) {
        let core = page.core
        let address = page.address
        let order = page._order
        page.forget()
        let room = Room(core: core)
        if room.isOwnedByCurrentThread {
            room.release(address: address, order: order)
            return
        }
        let slot = core.pointee.index % slots
        if let header = headers[slot] {
            if cores[slot] == core {
                let n = Int(header[batchCount])
                header[batchEntries &+ n] = UInt(bitPattern: address) | UInt(order)
                header[batchCount] = UInt(n &+ 1)
                if n &+ 1 == remoteFreeBatchCapacity {
                    room.pushBatch(header, blocks: remoteFreeBatchCapacity &+ 1)
                    headers[slot] = nil
                    cores[slot] = nil
                }
                return
            }
            Room(core: cores[slot]!).pushBatch(header, blocks: Int(header[batchCount]) &+ 1)
        }
        let header = address.assumingMemoryBound(to: UInt.self)
        header[batchHeaderOrder] = UInt(order)
        header[batchCount] = 0
        headers[slot] = header
        cores[slot] = core
    }

    /// Sends every partial batch home.
    public func flush() {
        for slot in 0..<slots {
            if let header = headers[slot], let core = cores[slot] {
                Room(core: core).pushBatch(header, blocks: Int(header[batchCount]) + 1)
                headers[slot] = nil
                cores[slot] = nil
            }
        }
    }
}
