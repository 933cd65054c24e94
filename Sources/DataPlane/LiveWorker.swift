import CPcap
import CRoomsSupport
import CURing
import Capture
import Packet
import Rooms
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A worker's libpcap source: the handle and whether its fd is readable.
struct PcapSlot: ~Copyable {
    /// Its index among the worker's sources.
    let source: Int
    let handle: PcapHandle
    let linkType: LinkType
    var armed = false
    var ready = false
    var kernel = KernelCounts()

    init(_ handle: consuming PcapHandle, source: Int) {
        self.source = source
        linkType = LinkType(rawValue: UInt32(bitPattern: handle.linkType))
        self.handle = handle
    }
}

/// A worker's AF_PACKET source: the socket, its provided buffers and the
/// recvmsg layout the multishot request uses.
struct UringSlot: ~Copyable {
    let source: Int
    let socket: PacketSocket
    var buffers: ProvidedBuffers
    /// Only namelen and controllen matter to a multishot recvmsg.
    let message: UnsafeMutablePointer<msghdr>
    let loopback: Bool
    var armed = false
    var kernel = KernelCounts()

    init(_ socket: consuming PacketSocket, buffers: consuming ProvidedBuffers, source: Int) {
        self.source = source
        loopback = PacketSocket.isLoopback(socket.interface)
        self.socket = socket
        self.buffers = buffers
        message = .allocate(capacity: 1)
        message.initialize(to: msghdr())
        message.pointee.msg_namelen = socklen_t(MemoryLayout<sockaddr_ll>.size)
        // Room for one SO_TIMESTAMPNS control message.
        message.pointee.msg_controllen = 32
    }
}

/// What the C callback of `pcap_dispatch` needs: the worker's processor and
/// the count limit.
struct PcapDispatchContext {
    let processor: UnsafeMutablePointer<PacketProcessor>
    var linkType: LinkType
    let limit: CaptureLimit?
    var limitReached = false
}

/// `--count N` over all workers: a shared countdown, touched only when set.
public final class CaptureLimit: @unchecked Sendable {
    let remaining: UnsafeMutablePointer<Atomic<Int>>

    public init(_ count: Int) {
        remaining = .allocate(capacity: 1)
        remaining.initialize(to: Atomic(count))
    }

    deinit {
        remaining.deallocate()
    }

    /// Takes one frame from the allowance: false when it is spent.
    @inline(__always)
    func take() -> Bool {
        remaining.pointee.wrappingSubtract(1, ordering: .relaxed).oldValue > 0
    }

    public var isSpent: Bool { remaining.pointee.load(ordering: .relaxed) <= 0 }
}

private let pcapCallback: pcap_handler = { user, header, bytes in
    let context = user!.withMemoryRebound(to: PcapDispatchContext.self, capacity: 1) { $0 }
    if let limit = context.pointee.limit, !limit.take() {
        context.pointee.limitReached = true
        return
    }
    let h = header!.pointee
    let timestamp = Int64(h.ts.tv_sec) &* 1_000_000_000 &+ Int64(h.ts.tv_usec) &* 1000
    context.pointee.processor.pointee.process(
        UnsafeRawPointer(bytes!), capturedLength: Int(h.caplen), wireLength: Int(h.len),
        linkType: context.pointee.linkType, timestamp: timestamp)
}

/// Completion tags: the kind in the high half, the slot in the low.
enum CompletionKind: UInt64 {
    case pcapReadable = 1
    case received = 2
    case doorbell = 3

    func tag(_ slot: Int) -> UInt64 { rawValue << 32 | UInt64(slot) }
}

/// The NAPI loop of a live-capture worker, an interrupt handler in all but
/// name: it sleeps in `io_uring_enter` until a completion arrives (a frame
/// received into one of its pages, a pcap handle turning readable, the
/// replay doorbell), then polls up to `budget` frames per source in atomic
/// context, and keeps polling while the budget runs out.
struct LiveWorkerLoop: ~Copyable {
    let shared: WorkerShared
    let inbox: ReplayInbox?
    let room: Room
    let options: WorkerOptions
    let sources: [LiveSourceOptions]
    let limit: CaptureLimit?
    let processor: UnsafeMutablePointer<PacketProcessor>

    init(
        shared: WorkerShared, inbox: ReplayInbox?, room: Room, options: WorkerOptions, sources: [LiveSourceOptions],
        limit: CaptureLimit?
    ) {
        self.shared = shared
        self.inbox = inbox
        self.room = room
        self.options = options
        self.sources = sources
        self.limit = limit
        processor = .allocate(capacity: 1)
        processor.initialize(
            to: PacketProcessor(
                room: room, counters: shared.counters, flowCapacity: options.flowCapacity,
                idleTimeout: options.idleTimeout, holdFrames: options.holdFrames,
                holdNanoseconds: options.holdNanoseconds))
    }

    deinit {
        processor.deinitialize(count: 1)
        processor.deallocate()
    }

    /// Opens the sources on this thread, reports the start, runs until
    /// stopped. Returns the flows it saw.
    mutating func run() -> [FlowRecord] {
        room.claim()
        let uring: IOURing
        do {
            uring = try IOURing(entries: 256, reapCapacity: Swift.max(options.budget, 64))
        } catch {
            return fail("\(error)")
        }
        let pcapSources = sources.enumerated().filter { $0.element.backend == .pcap }
        let uringSources = sources.enumerated().filter { $0.element.backend == .uring }
        let pcap = UnsafeMutablePointer<PcapSlot>.allocate(capacity: Swift.max(1, pcapSources.count))
        let sockets = UnsafeMutablePointer<UringSlot>.allocate(capacity: Swift.max(1, uringSources.count))
        var pcapCount = 0
        var socketCount = 0
        var failure: String? = nil
        for (index, source) in pcapSources {
            do {
                (pcap + pcapCount).initialize(to: PcapSlot(try PcapHandle(source), source: index))
                pcapCount += 1
            } catch {
                failure = "\(error)"
                break
            }
        }
        if failure == nil {
            for (i, (index, source)) in uringSources.enumerated() {
                do {
                    let socket = try PacketSocket(source)
                    var buffers = try ProvidedBuffers(
                        on: uring, entries: options.providedBuffers, group: UInt16(i), roomIndex: room.index)
                    room.refill(into: &buffers)
                    buffers.publish()
                    (sockets + socketCount).initialize(to: UringSlot(socket, buffers: buffers, source: index))
                    socketCount += 1
                } catch {
                    failure = "\(error)"
                    break
                }
            }
        }
        if let failure {
            for i in 0..<socketCount { returnPages((sockets + i).move()) }
            for i in 0..<pcapCount { _ = (pcap + i).move() }
            pcap.deallocate()
            sockets.deallocate()
            return fail(failure)
        }
        for i in 0..<pcapCount {
            for w in pcap[i].handle.warnings { shared.addNote("\(pcap[i].handle.interface): \(w)") }
        }
        if uring.downgraded { shared.addNote("io_uring: SINGLE_ISSUER/DEFER_TASKRUN not supported by this kernel") }
        if let inbox, inbox.arrivals.eventFD >= 0 {
            _ = curing_arm_poll(uring.ring, inbox.arrivals.eventFD, CompletionKind.doorbell.tag(0))
        }
        shared.startState.store(1, ordering: .releasing)

        let flows = loop(uring: uring, pcap: pcap, pcapCount: pcapCount, sockets: sockets, socketCount: socketCount)

        for i in 0..<socketCount { returnPages((sockets + i).move()) }
        for i in 0..<pcapCount { _ = (pcap + i).move() }
        pcap.deallocate()
        sockets.deallocate()
        _ = consume uring
        processor.pointee.releaseHeld()
        processor.pointee.publishFlowGauges()
        room.unclaim()
        shared.exitedFlag.store(true, ordering: .releasing)
        return flows
    }

    /// Takes a socket's pages back from the kernel and closes it.
    func returnPages(_ slot: consuming UringSlot) {
        let message = slot.message
        slot.buffers.returnPages(to: room)
        message.deallocate()
    }

    func fail(_ message: String) -> [FlowRecord] {
        shared.setStartError(message)
        room.unclaim()
        shared.exitedFlag.store(true, ordering: .releasing)
        return []
    }

    mutating func loop(
        uring: borrowing IOURing, pcap: UnsafeMutablePointer<PcapSlot>, pcapCount: Int,
        sockets: UnsafeMutablePointer<UringSlot>, socketCount: Int
    ) -> [FlowRecord] {
        let c = shared.counters
        let budget = options.budget
        let stallAt = options.stallWorker == shared.index ? Int64(lab_monotonic_ns()) &+ options.stallAfter : nil
        var context = PcapDispatchContext(processor: processor, linkType: .ethernet, limit: limit)
        var lastTick: UInt64 = 0
        let ring = inbox?.ring
        var stopping = false
        while true {
            if _slowPath(stallAt != nil) && Int64(lab_monotonic_ns()) > stallAt! {
                shared.stallUntilStopped()
                break
            }
            c.add(WorkerCounter.heartbeat.rawValue, 1)
            var n = 0
            var more = false
            AtomicContext.enter()
            // The replay queue, if this worker has one.
            if let ring {
                var r = 0
                while r < budget, let d = ring.pop() {
                    processor.pointee.process(
                        UnsafeRawPointer(bitPattern: d.address)!, capturedLength: Int(d.capturedLength),
                        wireLength: Int(d.wireLength), linkType: LinkType(rawValue: d.linkType), timestamp: d.timestamp,
                        flowHash: d.flowHash)
                    r &+= 1
                }
                if r > 0 { c.add(WorkerCounter.replayFrames.rawValue, r) }
                if r > 0, ring.count <= ring.capacity / 2 { inbox!.space.ring() }
                if r == budget { more = true }
                n &+= r
            }
            // Completions: frames received into pages, readiness.
            let k = uring.reap(max: budget)
            let batchTime = k > 0 && socketCount > 0 ? Self.wallClock() : 0
            for i in 0..<k {
                let tag = uring.tag(i)
                let slot = Int(tag & 0xFFFF_FFFF)
                switch CompletionKind(rawValue: tag >> 32) {
                case .received?:
                    n &+= received(
                        uring.result(i), flags: uring.completionFlags(i), slot: &sockets[slot], time: batchTime)
                case .pcapReadable?:
                    pcap[slot].ready = true
                    if !curing_cqe_more(uring.completionFlags(i)) { pcap[slot].armed = false }
                case .doorbell?:
                    if !curing_cqe_more(uring.completionFlags(i)) {
                        _ = curing_arm_poll(uring.ring, inbox!.arrivals.eventFD, CompletionKind.doorbell.tag(0))
                    }
                case nil:
                    break
                }
            }
            if k == uring.reapCapacity { more = true }
            // libpcap handles that turned readable: dispatch up to budget.
            for s in 0..<pcapCount where pcap[s].ready {
                context.linkType = pcap[s].linkType
                let m = withUnsafeMutablePointer(to: &context) { ctx in
                    ctx.withMemoryRebound(to: UInt8.self, capacity: MemoryLayout<PcapDispatchContext>.size) {
                        pcap_dispatch(pcap[s].handle.handle, Int32(budget), pcapCallback, $0)
                    }
                }
                // A dispatch ends at a block's end as well as at the budget:
                // the handle is drained only when one finds nothing.
                if m > 0 {
                    more = true
                } else {
                    pcap[s].ready = false
                    if m < 0 && m != -2 { c.add(WorkerCounter.receiveErrors.rawValue, 1) }
                }
                if m > 0 { n &+= Int(m) }
            }
            AtomicContext.exit()
            // Give the kernel pages again and re-arm what ended.
            var starved = false
            for s in 0..<socketCount {
                room.refill(into: &sockets[s].buffers)
                sockets[s].buffers.publish()
                if !sockets[s].armed {
                    if sockets[s].buffers.inRing > 0 {
                        _ = curing_arm_recvmsg(
                            uring.ring, sockets[s].socket.fd, sockets[s].message, sockets[s].buffers.group,
                            CompletionKind.received.tag(s))
                        sockets[s].armed = true
                    } else {
                        starved = true
                    }
                }
            }
            for s in 0..<pcapCount where !pcap[s].armed {
                _ = curing_arm_poll(uring.ring, pcap[s].handle.fileDescriptor, CompletionKind.pcapReadable.tag(s))
                pcap[s].armed = true
            }
            processor.pointee.releaseExpiredHeld()
            let now = lab_monotonic_ns()
            if now &- lastTick >= 100_000_000 || stopping {
                lastTick = now
                publishKernelCounts(pcap: pcap, pcapCount: pcapCount, sockets: sockets, socketCount: socketCount)
                processor.pointee.publishFlowGauges()
            }
            shared.answerFlowRequest(from: processor.pointee)
            if _slowPath(
                shared.filterGeneration.load(ordering: .relaxed) != shared.filterApplied.load(ordering: .relaxed))
            {
                applyFilters(pcap: pcap, pcapCount: pcapCount, sockets: sockets, socketCount: socketCount)
            }
            if context.limitReached { stopping = true }
            if n > 0 { c.add(WorkerCounter.polls.rawValue, 1) }
            if n >= budget { c.add(WorkerCounter.budgetExhausted.rawValue, 1) }
            if stopping { break }
            if more {
                // Receives complete only inside io_uring_enter (DEFER_TASKRUN);
                // a pcap-only worker enters only to submit.
                if socketCount > 0 || curing_sq_pending(uring.ring) > 0 { uring.submit(waitingNanoseconds: 0) }
                continue
            }
            if shared.stopFlag.load(ordering: .acquiring) && (ring?.count ?? 0) == 0 {
                stopping = true
                continue  // one last pass: read the kernel's counts
            }
            if options.busyPoll {
                uring.submit(waitingNanoseconds: 0)
                continue
            }
            c.add(WorkerCounter.sleeps.rawValue, 1)
            // Starved of pages: look again soon, the room may have refilled.
            let timeout: Int64 = starved ? 1_000_000 : 100_000_000
            if let inbox {
                inbox.arrivals.wait(
                    until: {
                        (ring?.count ?? 0) != 0 || shared.stopFlag.load(ordering: .acquiring)
                    }, sleep: { uring.submit(waitingNanoseconds: timeout) })
            } else {
                uring.submit(waitingNanoseconds: timeout)
            }
        }
        // Frames already in pages when the stop came are still processed.
        drainAfterStop(uring: uring, sockets: sockets, socketCount: socketCount)
        publishKernelCounts(pcap: pcap, pcapCount: pcapCount, sockets: sockets, socketCount: socketCount)
        shared.answerFlowRequest(from: processor.pointee)
        return processor.pointee.flowRecords()
    }

    /// One completion of a socket's multishot recvmsg.
    @inline(__always)
    mutating func received(_ result: Int32, flags: UInt32, slot: inout UringSlot, time: Int64) -> Int {
        let c = shared.counters
        if !curing_cqe_more(flags) { slot.armed = false }
        guard result >= 0 else {
            if result == -ENOBUFS {
                c.add(WorkerCounter.noBuffers.rawValue, 1)
            } else if result != -ECANCELED {
                c.add(WorkerCounter.receiveErrors.rawValue, 1)
            }
            return 0
        }
        guard curing_cqe_has_buffer(flags), let raw = slot.buffers.take(curing_cqe_buffer_id(flags)) else {
            c.add(WorkerCounter.receiveErrors.rawValue, 1)
            return 0
        }
        let page = room.adopt(raw)
        var payload: UnsafeMutablePointer<UInt8>? = nil
        var captured: UInt32 = 0
        var real: UInt32 = 0
        var pktType: UInt8 = 0
        var timestamp: Int64 = 0
        let parsed = curing_recvmsg_parse(
            page.baseAddress, result, slot.message, &payload, &captured, &real, &timestamp, &pktType)
        guard parsed == 0, let payload else {
            c.add(WorkerCounter.receiveErrors.rawValue, 1)
            room.free(page)
            return 0
        }
        // On loopback every frame is seen leaving and arriving: keep one,
        // as libpcap does.
        if _slowPath(slot.loopback && pktType == curing_packet_outgoing()) {
            room.free(page)
            return 0
        }
        if let limit, !limit.take() {
            room.free(page)
            return 0
        }
        if _slowPath(real > captured) { c.add(WorkerCounter.bufferTruncated.rawValue, 1) }
        let offset = UnsafeMutableRawPointer(payload) - page.baseAddress
        processor.pointee.processInPlace(
            page, offset: offset, capturedLength: Int(captured), wireLength: Int(real), linkType: .ethernet,
            timestamp: timestamp != 0 ? timestamp : time)
        return 1
    }

    /// Nanoseconds since the epoch (vDSO, no syscall).
    static func wallClock() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) &* 1_000_000_000 &+ Int64(ts.tv_nsec)
    }

    /// After the stop: cancels the receives and processes what already sat
    /// in pages, so that no page is in the kernel's hands afterwards.
    mutating func drainAfterStop(uring: borrowing IOURing, sockets: UnsafeMutablePointer<UringSlot>, socketCount: Int) {
        guard socketCount > 0 else { return }
        for s in 0..<socketCount where sockets[s].armed {
            _ = curing_cancel_fd(uring.ring, sockets[s].socket.fd)
        }
        var rounds = 0
        while (0..<socketCount).contains(where: { sockets[$0].armed }) && rounds < 1000 {
            rounds += 1
            uring.submit(waitingNanoseconds: 10_000_000)
            let k = uring.reap(max: uring.reapCapacity)
            AtomicContext.enter()
            for i in 0..<k {
                let tag = uring.tag(i)
                if CompletionKind(rawValue: tag >> 32) == .received {
                    _ = received(
                        uring.result(i), flags: uring.completionFlags(i), slot: &sockets[Int(tag & 0xFFFF_FFFF)],
                        time: Self.wallClock())
                }
            }
            AtomicContext.exit()
        }
    }

    func publishKernelCounts(
        pcap: UnsafeMutablePointer<PcapSlot>, pcapCount: Int, sockets: UnsafeMutablePointer<UringSlot>, socketCount: Int
    ) {
        var packets: UInt64 = 0
        var drops: UInt64 = 0
        for s in 0..<pcapCount {
            pcap[s].kernel.read(fd: pcap[s].handle.fileDescriptor)
            packets &+= pcap[s].kernel.packets
            drops &+= pcap[s].kernel.drops
        }
        for s in 0..<socketCount {
            sockets[s].kernel.read(fd: sockets[s].socket.fd)
            packets &+= sockets[s].kernel.packets
            drops &+= sockets[s].kernel.drops
        }
        shared.counters.store(WorkerCounter.kernelPackets.rawValue, Int(truncatingIfNeeded: packets))
        shared.counters.store(WorkerCounter.kernelDrops.rawValue, Int(truncatingIfNeeded: drops))
    }

    /// Applies the filters the control plane posted (a reload): on the
    /// worker's own thread, as libpcap handles are not thread-safe.
    func applyFilters(
        pcap: UnsafeMutablePointer<PcapSlot>, pcapCount: Int, sockets: UnsafeMutablePointer<UringSlot>, socketCount: Int
    ) {
        let generation = shared.filterGeneration.load(ordering: .acquiring)
        let filters = shared.postedFilters()
        for s in 0..<pcapCount where pcap[s].source < filters.count {
            do {
                try pcap[s].handle.setFilter(filters[pcap[s].source] ?? "")
            } catch {
                shared.addNote("\(error)")
            }
        }
        for s in 0..<socketCount where sockets[s].source < filters.count {
            do {
                try sockets[s].socket.setFilter(filters[sockets[s].source], snaplen: 262_144)
            } catch {
                shared.addNote("\(error)")
            }
        }
        shared.filterApplied.store(generation, ordering: .releasing)
    }
}
