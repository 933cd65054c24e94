import CRoomsSupport
import Synchronization

extension Room {
    /// Everything the inlined fast path leaves out: watermark checks, cache
    /// refills and the buddy. The rare cases (pressure, reclaim, `.wait`,
    /// failure) live in ``allocateHard(order:flags:mode:timeout:)`` so that
    /// this one stays small.
    @usableFromInline @inline(never)
    func allocateSlow(order: Int, flags: GFP, timeout: Duration) -> Page? {
        precondition(order >= 0 && order <= Room.maxOrder, "order \(order) is outside 0...\(Room.maxOrder)")
        var mode = flags.mode
        if _slowPath(mode == .wait && lab_in_atomic()) {
            // A debug build has already trapped in allocate(); a release build
            // refuses to sleep and counts the bug.
            counters.add(.sleepInAtomic, 1)
            mode = .nowait
        }
        if _fastPath(!core.pointee.underPressure), let page = tryAllocate(order: order, mode: mode) {
            return page
        }
        return allocateHard(order: order, flags: flags, mode: mode, timeout: timeout)
    }

    /// Orders 1...4 without `.wait`: a block straight from the buddy when the
    /// room is above its `min` watermark with the block taken; everything
    /// else (the reserve, pressure, reclaim, failure) through
    /// ``allocateSlow(order:flags:timeout:)``.
    @usableFromInline @inline(never)
    func allocateBuddy(order: Int, flags: GFP) -> Page? {
        let c = core
        let free = counters.load(.freePages)
        let left = free &- (1 &<< order)
        if _fastPath(
            UInt(bitPattern: order) <= UInt(Room.maxOrder) && !c.pointee.underPressure
                && left >= c.pointee.low),
            let index = c.pointee.buddy.take(order: order)
        {
            counters.store(.freePages, left)
            counters.add(.allocSlow, 1)
            let inUse = c.pointee.pageCount &- left
            if _slowPath(inUse > counters.load(.inUseHighWater)) { counters.store(.inUseHighWater, inUse) }
            return Page(address: address(ofPage: Int(index)), core: c, order: order)
        }
        return allocateSlow(order: order, flags: flags, timeout: .zero)
    }

    /// One attempt: the watermark check, then a block. Does not reclaim
    /// remote frees except through an empty order-0 cache.
    @inlinable @inline(__always)
    func tryAllocate(order: Int, mode: AllocationMode) -> Page? {
        let c = core
        let verdict = c.pointee.watermarks.verdict(free: counters.load(.freePages), order: order, mode: mode)
        guard verdict != .refused, let (address, refilled) = takeBlock(order: order) else { return nil }
        // takeBlock may have brought remote frees home: load again.
        let left = counters.load(.freePages) &- (1 &<< order)
        counters.store(.freePages, left)
        counters.add(refilled ? RoomCounter.allocSlow.rawValue : RoomCounter.allocFast.rawValue, 1)
        if verdict == .allowedFromReserve { counters.add(.reserveDips, 1) }
        let inUse = c.pointee.pageCount &- left
        if inUse > counters.load(.inUseHighWater) { counters.store(.inUseHighWater, inUse) }
        if _slowPath(left < c.pointee.low) && !c.pointee.underPressure {
            c.pointee.underPressure = true
            counters.add(.lowWatermarkEvents, 1)
            reclaimBatch()
        }
        return Page(address: address, core: c, order: order)
    }

    /// Under pressure, refused, or empty: bring remote frees home, retry,
    /// wait when `.wait` allows it, and count the failure otherwise.
    @usableFromInline @inline(never)
    func allocateHard(order: Int, flags: GFP, mode: AllocationMode, timeout: Duration) -> Page? {
        if core.pointee.underPressure {
            reclaimBatch()
            if let page = tryAllocate(order: order, mode: mode) { return page }
        }
        // Refused, or nothing of that order is free. Bring one batch of
        // remote frees home and look again: a single allocation never pays
        // for draining more than one batch (a `.wait` may take more, since it
        // may take time anyway).
        if reclaimBatch() > 0, let page = tryAllocate(order: order, mode: mode) {
            return page
        }
        if mode == .wait {
            let (s, a) = timeout.components
            let deadline =
                lab_monotonic_ns() &+ UInt64(max(0, s)) &* 1_000_000_000
                &+ UInt64(max(0, a / 1_000_000_000))
            counters.add(.waits, 1)
            while lab_monotonic_ns() < deadline {
                waitForRemoteFree(until: deadline)
                while reclaimBatch() > 0 {
                    if let page = tryAllocate(order: order, mode: mode) { return page }
                }
                if let page = tryAllocate(order: order, mode: mode) { return page }
            }
        }
        let free = counters.load(.freePages)
        let refused = core.pointee.watermarks.verdict(free: free, order: order, mode: mode) == .refused
        recordFailure(order: order, flags: flags, mode: mode, empty: !refused)
        return nil
    }

    /// Finds a free block of `order`: the cache for order 0 (refilled from
    /// the remote-free inbox when dry, else from the buddy), the buddy
    /// otherwise. Returns the block and whether the slow path was needed.
    @inlinable @inline(__always)
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
            return (address(ofPage: Int(index)), true)
        }
        // The cache may hide the pages that would merge into this order.
        if c.pointee.cacheCount > 0 {
            drainCache()
            if let index = c.pointee.buddy.take(order: order) {
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
    }

    @usableFromInline @inline(never)
    func releaseLocalSlow(address: UnsafeMutableRawPointer, order: Int) {
        let c = core
        #if DEBUG
        checkBelongs(address, order: order)
        #endif
        if order == 0 {
            home(address, order: 0)
        } else {
            c.pointee.buddy.give(pageIndex(of: address), order: order)
        }
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
