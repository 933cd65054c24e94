import CURing
import Capture
import Rooms
import Syscalls

#if canImport(Glibc)
import Glibc
#endif

/// A worker's io_uring: its "interrupt controller", and the data plane's one
/// door to io_uring. Created on the worker's own thread (SINGLE_ISSUER binds
/// it there; DEFER_TASKRUN runs completion work only when the worker enters
/// the ring), owned by the worker alone; dropping it tears the ring down.
///
/// Requests are queued with the typed `arm`/`cancel` operations and go to
/// the kernel with the next ``submit(waitingNanoseconds:)``; completions are
/// copied out in batches by ``reap(max:)``.
public struct IOURing: ~Copyable {
    @usableFromInline let ring: UnsafeMutablePointer<io_uring>
    /// Completions copied out per reap.
    @usableFromInline let userData: UnsafeMutablePointer<UInt64>
    @usableFromInline let results: UnsafeMutablePointer<Int32>
    @usableFromInline let flags: UnsafeMutablePointer<UInt32>
    public let reapCapacity: Int
    /// True when the kernel refused SINGLE_ISSUER/DEFER_TASKRUN (before 6.1).
    public let downgraded: Bool

    /// Sets up a ring of `entries` submission slots.
    /// The corresponding C function is `io_uring_queue_init_params`.
    public init(entries: Int, reapCapacity: Int) throws(Errno) {
        let ring = UnsafeMutablePointer<io_uring>.allocate(capacity: 1)
        var downgraded = false
        let setup = curing_setup_single_issuer() | curing_setup_defer_taskrun()
        let r = Syscall.negatedErrno {
            curing_ring_init(ring, UInt32(clamping: entries), setup, &downgraded)
        }
        if case .failure(let e) = r {
            ring.deallocate()
            throw e
        }
        self.ring = ring
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

    // MARK: Requests

    /// Queues a multishot POLLIN on `fd`, completing with `tag` each time it
    /// turns readable. The corresponding C function is `io_uring_prep_poll_multishot`.
    public func armPoll(fd: Int32, tag: UInt64) throws(Errno) {
        _ = try Syscall.negatedErrno(retryOnInterrupt: false) { curing_arm_poll(ring, fd, tag) }.get()
    }

    /// Queues a multishot recvmsg on `fd` into the buffers of `group`, with
    /// MSG_TRUNC so that a frame longer than its buffer reports its real
    /// length. `header` says how much name and control space each buffer
    /// starts with; it must outlive the request.
    /// The corresponding C function is `io_uring_prep_recvmsg_multishot`.
    public func armReceiveMessages(
        fd: Int32, header: borrowing ReceiveHeader, group: UInt16, tag: UInt64
    ) throws(Errno) {
        _ = try Syscall.negatedErrno(retryOnInterrupt: false) {
            curing_arm_recvmsg(ring, fd, header.message, group, tag)
        }.get()
    }

    /// Queues a write of `count` iovecs to `fd` at `offset`, with `flags`
    /// (RWF_*); the iovecs and what they point to must stay until its
    /// completion. The corresponding C function is `io_uring_prep_writev2`.
    @inlinable
    public func writev(
        fd: Int32, _ iovecs: UnsafePointer<iovec>, count: Int, offset: Int64, flags: Int32, tag: UInt64
    ) throws(Errno) {
        let r = curing_prep_writev(
            ring, fd, iovecs, UInt32(truncatingIfNeeded: count), UInt64(bitPattern: offset), flags, tag)
        if r < 0 { throw Errno(rawValue: -r) }
    }

    /// Keeps the ring's io-wq helpers (the threads that run writes which
    /// would block) on `cpus` (empty: anywhere) and at most `maximum` of
    /// each kind. The corresponding C functions are
    /// `io_uring_register_iowq_aff` and `io_uring_register_iowq_max_workers`.
    public func limitHelpers(cpus: [Int], maximum: Int) throws(Errno) {
        let list = cpus.map { Int32(truncatingIfNeeded: $0) }
        let r = list.withUnsafeBufferPointer {
            curing_limit_iowq(ring, $0.baseAddress, Int32(list.count), UInt32(clamping: maximum))
        }
        if r < 0 { throw Errno(rawValue: -r) }
    }

    /// Queues the cancellation of every request on `fd`; their last
    /// completions arrive with -ECANCELED.
    /// The corresponding C function is `io_uring_prep_cancel_fd`.
    public func cancel(fd: Int32) throws(Errno) {
        _ = try Syscall.negatedErrno(retryOnInterrupt: false) { curing_cancel_fd(ring, fd) }.get()
    }

    /// Requests queued and not yet submitted.
    @inlinable public var pendingSubmissions: Int { Int(curing_sq_pending(ring)) }

    /// Submits what is queued; with `waitingNanoseconds` > 0 sleeps until a
    /// completion arrives or the time is up (a signal ends the sleep early,
    /// as a timeout does). Returns the completions ready. With DEFER_TASKRUN
    /// completions are posted only here, so a worker enters even with
    /// nothing to submit.
    /// The corresponding C function is `io_uring_submit_and_wait_timeout`.
    @discardableResult
    public func submit(waitingNanoseconds timeoutNanoseconds: Int64) throws(Errno) -> Int {
        let r = curing_submit_and_wait(ring, timeoutNanoseconds > 0 ? 1 : 0, timeoutNanoseconds)
        if r >= 0 { return Int(r) }
        let e = Errno(rawValue: -r)
        // Woken by a signal: no error, the caller looks at what is ready.
        if e == .interrupted { return Int(curing_cq_ready(ring)) }
        throw e
    }

    // MARK: Completions

    /// Copies out up to `max` completions; read them with the accessors.
    @inlinable
    public func reap(max: Int) -> Int {
        Int(curing_reap(ring, userData, results, flags, UInt32(Swift.min(max, reapCapacity))))
    }

    @inlinable public func tag(_ i: Int) -> UInt64 { userData[i] }
    @inlinable public func result(_ i: Int) -> Int32 { results[i] }
    @inlinable public func completionFlags(_ i: Int) -> UInt32 { flags[i] }

    /// Whether a multishot request stays armed after completion `i`.
    @inlinable public func isStillArmed(_ i: Int) -> Bool { curing_cqe_more(flags[i]) }

    /// The provided buffer completion `i` filled, if it used one.
    @inlinable public func bufferID(_ i: Int) -> UInt16? {
        curing_cqe_has_buffer(flags[i]) ? curing_cqe_buffer_id(flags[i]) : nil
    }

    // MARK: Provided-buffer rings (for ProvidedBuffers)

    func registerBufferRing(entries: Int, group: UInt16) throws(Errno) -> UnsafeMutablePointer<io_uring_buf_ring> {
        guard let ring = curing_buf_ring_setup(ring, UInt32(clamping: entries), group) else { throw Errno.current }
        return ring
    }

    func unregisterBufferRing(group: UInt16) {
        _ = curing_buf_ring_unregister(ring, group)
    }
}

/// The name and control space a multishot recvmsg leaves at the start of
/// each buffer, and where the completion's layout is read back: an owner of
/// the `msghdr` the kernel reads when the request is armed.
public struct ReceiveHeader: ~Copyable {
    @usableFromInline let message: UnsafeMutablePointer<msghdr>

    /// - Parameters:
    ///   - nameBytes: room for the peer address (a `sockaddr_ll`).
    ///   - controlBytes: room for control messages (a timestamp, auxdata).
    public init(nameBytes: Int, controlBytes: Int) {
        message = .allocate(capacity: 1)
        message.initialize(to: msghdr())
        message.pointee.msg_namelen = socklen_t(nameBytes)
        message.pointee.msg_controllen = controlBytes
    }

    deinit {
        message.deallocate()
    }
}

/// A provided-buffer ring whose buffers are pages of the worker's room: the
/// kernel writes each received frame into one, the worker decodes it there
/// and frees the page; `Room.refill(into:)` tops the ring up. A page is out
/// of the ring from the moment its frame arrives until it is freed.
///
/// It keeps no pointer to the io_uring it is registered with: every call
/// that needs the ring borrows it, so the ring cannot go first by accident.
/// Close it with ``close(on:returningPagesTo:)`` before the ring goes;
/// dropping it unregistered frees only its own memory.
public struct ProvidedBuffers: ~Copyable, PageRefillTarget {
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

    /// Registers a ring of `entries` buffers (a power of two, at most 32768)
    /// as buffer group `group` of `uring`.
    /// The corresponding C function is `io_uring_register_buf_ring`.
    public init(on uring: borrowing IOURing, entries: Int, group: UInt16, roomIndex: Int) throws(Errno) {
        guard entries > 0, entries <= 32768, entries & (entries - 1) == 0 else { throw Errno.invalidArgument }
        bufferRing = try uring.registerBufferRing(entries: entries, group: group)
        self.entries = entries
        self.group = group
        self.roomIndex = roomIndex
        // The last bytes of a page stay free for a recording's block trailer.
        bufferBytes = Room.pageSize - PageLayout.tailroom
        pages = .allocate(capacity: entries)
        pages.initialize(repeating: nil, count: entries)
        freeIDs = .allocate(capacity: entries)
        for i in 0..<entries { freeIDs[i] = UInt16(truncatingIfNeeded: entries - 1 - i) }
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

    /// Unregisters the ring from `uring` and gives every page still in it
    /// back to `room` (on the owner's thread, before the io_uring goes).
    public consuming func close(on uring: borrowing IOURing, returningPagesTo room: Room) {
        uring.unregisterBufferRing(group: group)
        for i in 0..<entries {
            if let address = pages[i] {
                pages[i] = nil
                room.free(room.adopt(RawPage(address: address, order: 0, roomIndex: roomIndex)))
            }
        }
    }

    deinit {
        // The kernel pinned the ring's pages when it was registered, so
        // unmapping our view is safe even if it is still registered (an
        // error path); the registration goes with the io_uring.
        curing_buf_ring_unmap(bufferRing, UInt32(entries))
        pages.deallocate()
        freeIDs.deallocate()
    }
}
