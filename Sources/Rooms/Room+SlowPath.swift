import CRoomsSupport
import Synchronization

extension Room {
    /// Everything the inlined fast path leaves out: watermark checks, cache
    /// refills, the buddy, pressure, reclaim and `.wait` blocking.
    @usableFromInline @inline(never)
    func allocateSlow(order: Int, flags: GFP, timeout: Duration) -> Page? {
        precondition(order >= 0 && order <= Room.maxOrder, "order \(order) is outside 0...\(Room.maxOrder)")
        var mode = flags.mode
        if mode == .wait && lab_in_atomic() {
            // A debug build has already trapped in allocate(); a release build
            // refuses to sleep and counts the bug.
            counters.add(.sleepInAtomic, 1)
            mode = .nowait
        }
        let c = core
        if c.pointee.underPressure {
            reclaimBatch()
        }
        var reclaimedOnce = false
        var deadline: UInt64 = 0
        var waited = false
        while true {
            let free = counters.load(.freePages)
            let verdict = c.pointee.watermarks.verdict(free: free, order: order, mode: mode)
            if verdict != .refused, let (address, refilled) = takeBlock(order: order) {
                // takeBlock may have brought remote frees home: reload.
                let left = counters.load(.freePages) &- (1 &<< order)
                counters.store(.freePages, left)
                counters.add(refilled || order > 0 ? RoomCounter.allocSlow.rawValue : RoomCounter.allocFast.rawValue, 1)
                if verdict == .allowedFromReserve { counters.add(.reserveDips, 1) }
                let inUse = c.pointee.pageCount &- left
                if inUse > counters.load(.inUseHighWater) { counters.store(.inUseHighWater, inUse) }
                if left < c.pointee.low && !c.pointee.underPressure {
                    c.pointee.underPressure = true
                    counters.add(.lowWatermarkEvents, 1)
                    reclaimBatch()
                }
                return Page(address: address, core: c, order: order)
            }
            // Refused, or nothing of that order is free. Bring one batch of
            // remote frees home and look again, once: a single allocation
            // never pays for draining more than one batch.
            if !reclaimedOnce {
                reclaimedOnce = true
                if reclaimBatch() > 0 { continue }
            }
            if mode == .wait {
                let now = lab_monotonic_ns()
                if deadline == 0 {
                    let (s, a) = timeout.components
                    deadline = now &+ UInt64(max(0, s)) &* 1_000_000_000 &+ UInt64(max(0, a / 1_000_000_000))
                }
                if now < deadline {
                    if !waited {
                        waited = true
                        counters.add(.waits, 1)
                    }
                    waitForRemoteFree(until: deadline)
                    reclaimedOnce = false
                    continue
                }
            }
            recordFailure(order: order, flags: flags, mode: mode, empty: verdict != .refused)
            return nil
        }
    }

    /// Finds a free block of `order`: the cache for order 0 (refilled from
    /// the remote-free inbox when dry, else from the buddy), the buddy
    /// otherwise. Returns the block and whether the slow path was needed.
    @usableFromInline
    func takeBlock(order: Int) -> (UnsafeMutableRawPointer, Bool)? {
        let c = core
        if order == 0 {
            var refilled = false
            if c.pointee.cacheCount == 0 {
                if reclaimBatch() == 0 || c.pointee.cacheCount == 0 {
                    refillCacheFromBuddy()
                }
                refilled = true
            }
            let n = c.pointee.cacheCount
            if n == 0 { return nil }
            c.pointee.cacheCount = n &- 1
            return (c.pointee.cache[n &- 1], refilled)
        }
        if let index = c.pointee.buddy.take(order: order) {
            publishFreeBlocks()
            return (address(ofPage: Int(index)), true)
        }
        // The cache may hide the pages that would merge into this order.
        if c.pointee.cacheCount > 0 {
            drainCache()
            if let index = c.pointee.buddy.take(order: order) {
                publishFreeBlocks()
                return (address(ofPage: Int(index)), true)
            }
        }
        return nil
    }

    /// Moves up to one cache batch of order-0 pages from the buddy into the
    /// cache, as the kernel's `rmqueue_bulk` fills a per-CPU list.
    @usableFromInline
    func refillCacheFromBuddy() {
        let c = core
        let want = Swift.min(c.pointee.cacheBatch, c.pointee.cacheCapacity &- c.pointee.cacheCount)
        var n = c.pointee.cacheCount
        var taken = 0
        while taken < want, let index = c.pointee.buddy.take(order: 0) {
            c.pointee.cache[n] = address(ofPage: Int(index))
            n &+= 1
            taken &+= 1
        }
        c.pointee.cacheCount = n
        if taken > 0 { publishFreeBlocks() }
    }

    /// Returns every cached page to the buddy so that buddies can merge.
    /// Owner only.
    @usableFromInline
    func drainCache() {
        let c = core
        let n = c.pointee.cacheCount
        for i in 0..<n {
            c.pointee.buddy.give(pageIndex(of: c.pointee.cache[i]), order: 0)
        }
        c.pointee.cacheCount = 0
        publishFreeBlocks()
    }

    @usableFromInline @inline(never)
    func releaseLocalSlow(address: UnsafeMutableRawPointer, order: Int) {
        let c = core
        #if DEBUG
        checkBelongs(address, order: order)
        #endif
        home(address, order: order)
        let free = counters.load(.freePages) &+ (1 &<< order)
        counters.store(.freePages, free)
        counters.add(.freeLocal, 1)
        if c.pointee.underPressure && free >= c.pointee.high {
            c.pointee.underPressure = false
        }
    }

    /// Puts a freed block where it belongs: the cache when it is order 0 and
    /// the cache has space (spilling its cold half to the buddy when full and
    /// not under pressure), the buddy otherwise. Does not count free pages.
    @usableFromInline
    func home(_ address: UnsafeMutableRawPointer, order: Int) {
        let c = core
        if order == 0 {
            if c.pointee.cacheCount == c.pointee.cacheCapacity && !c.pointee.underPressure {
                spillCache()
            }
            let n = c.pointee.cacheCount
            if n < c.pointee.cacheCapacity {
                c.pointee.cache[n] = address
                c.pointee.cacheCount = n &+ 1
                return
            }
        }
        c.pointee.buddy.give(pageIndex(of: address), order: order)
        publishFreeBlocks()
    }

    /// Moves the coldest cache batch (the bottom of the stack) to the buddy.
    @usableFromInline
    func spillCache() {
        let c = core
        let n = c.pointee.cacheCount
        let k = Swift.min(c.pointee.cacheBatch, n)
        for i in 0..<k {
            c.pointee.buddy.give(pageIndex(of: c.pointee.cache[i]), order: 0)
        }
        (c.pointee.cache).update(from: c.pointee.cache + k, count: n &- k)
        c.pointee.cacheCount = n &- k
        publishFreeBlocks()
    }

    @usableFromInline
    func publishFreeBlocks() {
        let c = core
        for k in 0..<Room.orderCount {
            counters.store(RoomCounter.freeBlocks(k), c.pointee.buddy.counts[k])
        }
    }

    @usableFromInline
    func recordFailure(order: Int, flags: GFP, mode: AllocationMode, empty: Bool) {
        counters.add(RoomCounter.allocFail(order), 1)
        if empty { counters.add(RoomCounter.allocEmpty(order), 1) }
        if !flags.contains(.noWarn) {
            counters.add(.failureWarnings, 1)
            counters.store(.lastFailure, order << 8 | Int(mode.rawValue))
        }
    }

    @inlinable
    func address(ofPage index: Int) -> UnsafeMutableRawPointer {
        core.pointee.base + (index &<< Room.pageShift)
    }

    @inlinable
    func pageIndex(of address: UnsafeMutableRawPointer) -> Int32 {
        Int32(truncatingIfNeeded: (address - core.pointee.base) &>> Room.pageShift)
    }

    #if DEBUG
    @usableFromInline
    func checkBelongs(_ address: UnsafeMutableRawPointer, order: Int) {
        let offset = address - core.pointee.base
        let size = core.pointee.pageCount &<< Room.pageShift
        if offset < 0 || offset >= size || offset & ((Room.pageSize &<< order) &- 1) != 0 {
            fatalError("block \(address) of order \(order) does not belong to room \(index)")
        }
    }
    #endif
}
