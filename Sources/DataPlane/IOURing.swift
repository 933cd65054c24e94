import CURing
import Capture
import Rooms

#if canImport(Glibc)
import Glibc
#endif

/// A worker's io_uring: its "interrupt controller". Created on the worker's
/// own thread (SINGLE_ISSUER binds it there; DEFER_TASKRUN runs completion
/// work only when the worker enters the ring), owned by the worker alone.
public struct IOURing: ~Copyable {
    @usableFromInline let ring: UnsafeMutablePointer<io_uring>
    /// Completions copied out per reap.
    @usableFromInline let userData: UnsafeMutablePointer<UInt64>
    @usableFromInline let results: UnsafeMutablePointer<Int32>
    @usableFromInline let flags: UnsafeMutablePointer<UInt32>
    public let reapCapacity: Int
    /// True when the kernel refused SINGLE_ISSUER/DEFER_TASKRUN (before 6.1).
    public let downgraded: Bool

    public init(entries: Int, reapCapacity: Int) throws(LiveCaptureError) {
        ring = .allocate(capacity: 1)
        var downgraded = false
        let setup = curing_setup_single_issuer() | curing_setup_defer_taskrun()
        let r = curing_ring_init(ring, UInt32(entries), setup, &downgraded)
        guard r == 0 else {
            ring.deallocate()
            throw LiveCaptureError(interface: "io_uring", "io_uring_queue_init: \(String(cString: strerror(-r)))")
        }
        self.downgraded = downgraded
        self.reapCapacity = reapCapacity
        userData = .allocate(capacity: reapCapacity)
        results = .allocate(capacity: reapCapacity)
        flags = .allocate(capacity: reapCapacity)
    }

    deinit {
        io_uring_queue_exit(ring)
        ring.deallocate()
        userData.deallocate()
        results.deallocate()
        flags.deallocate()
    }

    /// Submits queued requests; with `timeoutNanoseconds` > 0 sleeps until a
    /// completion arrives or the time is up. Returns completions ready.
    @discardableResult
    public func submit(waitingNanoseconds timeoutNanoseconds: Int64) -> Int {
        let r = curing_submit_and_wait(ring, timeoutNanoseconds > 0 ? 1 : 0, timeoutNanoseconds)
        return r < 0 ? 0 : Int(r)
    }

    /// Copies out up to `max` completions; read them with the accessors.
    @inlinable
    public func reap(max: Int) -> Int {
        Int(curing_reap(ring, userData, results, flags, UInt32(Swift.min(max, reapCapacity))))
    }

    @inlinable public func tag(_ i: Int) -> UInt64 { userData[i] }
    @inlinable public func result(_ i: Int) -> Int32 { results[i] }
    @inlinable public func completionFlags(_ i: Int) -> UInt32 { flags[i] }
}

/// A provided-buffer ring whose buffers are pages of the worker's room: the
/// kernel writes each received frame into one, the worker decodes it there
/// and frees the page; `Room.refill(into:)` tops the ring up. A page is out
/// of the ring from the moment its frame arrives until it is freed.
public struct ProvidedBuffers: ~Copyable, PageRefillTarget {
    let ring: UnsafeMutablePointer<io_uring>
    let bufferRing: UnsafeMutablePointer<io_uring_buf_ring>
    public let entries: Int
    public let group: UInt16
    public let bufferBytes: Int
    let roomIndex: Int
    /// Buffer id → the page lent to the kernel under it.
    let pages: UnsafeMutablePointer<UnsafeMutableRawPointer?>
    /// Ids not in the ring, as a stack.
    let freeIDs: UnsafeMutablePointer<UInt16>
    var freeCount: Int
    /// Added since the last publish.
    var pending = 0

    /// `entries` must be a power of two (at most 32768).
    public init(on uring: borrowing IOURing, entries: Int, group: UInt16, roomIndex: Int) throws(LiveCaptureError) {
        guard let br = curing_buf_ring_setup(uring.ring, UInt32(entries), group) else {
            throw LiveCaptureError(interface: "io_uring", "provided buffer ring: \(String(cString: strerror(errno)))")
        }
        ring = uring.ring
        bufferRing = br
        self.entries = entries
        self.group = group
        self.roomIndex = roomIndex
        bufferBytes = Room.pageSize
        pages = .allocate(capacity: entries)
        pages.initialize(repeating: nil, count: entries)
        freeIDs = .allocate(capacity: entries)
        for i in 0..<entries { freeIDs[i] = UInt16(entries - 1 - i) }
        freeCount = entries
    }

    /// Pages now lent to the kernel.
    public var inRing: Int { entries - freeCount }

    public var vacancies: Int { freeCount }

    public mutating func accept(_ page: consuming Page) {
        freeCount -= 1
        let id = freeIDs[freeCount]
        let address = page.intoRaw().address
        pages[Int(id)] = address
        curing_buf_ring_add(bufferRing, address, UInt32(bufferBytes), id, UInt32(entries), UInt32(pending))
        pending += 1
    }

    /// Makes the pages added since the last call visible to the kernel.
    public mutating func publish() {
        guard pending > 0 else { return }
        curing_buf_ring_advance(bufferRing, UInt32(pending))
        pending = 0
    }

    /// The page the kernel filled under buffer `id`; it leaves the ring.
    public mutating func take(_ id: UInt16) -> RawPage? {
        guard Int(id) < entries, let address = pages[Int(id)] else { return nil }
        pages[Int(id)] = nil
        freeIDs[freeCount] = id
        freeCount += 1
        return RawPage(address: address, order: 0, roomIndex: roomIndex)
    }

    /// Unregisters the ring and gives every page still in it back to `room`
    /// (on the owner's thread, before the io_uring goes).
    public consuming func returnPages(to room: Room) {
        curing_buf_ring_free(ring, bufferRing, UInt32(entries), group)
        for i in 0..<entries {
            if let address = pages[i] {
                room.free(room.adopt(RawPage(address: address, order: 0, roomIndex: roomIndex)))
            }
        }
        pages.deallocate()
        freeIDs.deallocate()
        discard self
    }

    deinit {
        // Only reached if returnPages was not called (an error path before
        // any page was added).
        curing_buf_ring_free(ring, bufferRing, UInt32(entries), group)
        pages.deallocate()
        freeIDs.deallocate()
    }
}
