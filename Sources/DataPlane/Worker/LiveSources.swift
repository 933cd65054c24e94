import CLinux
import CPcap
import CRoomsSupport
import CURing
import Capture
import Packet
import Rooms
import Synchronization
import Syscalls

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
    let header: ReceiveHeader
    let loopback: Bool
    var armed = false
    var kernel = KernelCounts()

    init(_ socket: consuming PacketSocket, buffers: consuming ProvidedBuffers, source: Int, timestamps: Bool) {
        self.source = source
        loopback = PacketSocket.isLoopback(socket.interface)
        self.socket = socket
        self.buffers = buffers
        // Room for the sockaddr_ll, PACKET_AUXDATA and, when asked for,
        // SO_TIMESTAMPNS.
        header = ReceiveHeader(
            nameBytes: MemoryLayout<sockaddr_ll>.size, controlBytes: Int(curing_receive_control_bytes(timestamps)))
    }
}

/// A worker's TPACKET_V3 source: the ring and whether its fd is readable.
struct TPacketSlot: ~Copyable {
    let source: Int
    var ring: TPacketRing
    var armed = false
    var ready = false
    var kernel = KernelCounts()

    init(_ ring: consuming TPacketRing, source: Int) {
        self.source = source
        self.ring = ring
    }
}

/// What the C callback of `pcap_dispatch` needs: the worker's processor and
/// the count limit.
struct PcapDispatchContext {
    let processor: UnsafeMutablePointer<PacketProcessor>
    var linkType: LinkType
    /// What a unit of `ts.tv_usec` is worth in ns: 1 (nanosecond
    /// precision) or 1000.
    var subsecondUnit: Int64 = 1
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
    let timestamp = Int64(h.ts.tv_sec) &* 1_000_000_000 &+ Int64(h.ts.tv_usec) &* context.pointee.subsecondUnit
    context.pointee.processor.pointee.stage(
        UnsafeRawPointer(bytes!), capturedLength: Int(h.caplen), wireLength: Int(h.len),
        linkType: context.pointee.linkType, timestamp: timestamp)
}

/// Completion tags: the kind in the high half, the slot in the low.
enum CompletionKind: UInt64 {
    case pcapReadable = 1
    case received = 2
    case doorbell = 3
    /// A recording's write completed.
    case write = 4
    /// A TPACKET_V3 ring's socket turned readable (a block was retired).
    case tpacketReadable = 5

    func tag(_ slot: Int) -> UInt64 { rawValue << 32 | UInt64(slot) }
}

/// A live-capture worker's sources on its own io_uring: libpcap handles
/// (their fds polled for readiness) and AF_PACKET sockets (multishot recvmsg
/// straight into pages of the room), plus the replay doorbell as an eventfd.
/// Opened on the worker's own thread (SINGLE_ISSUER binds the ring there).
struct LiveSources: ~Copyable, WorkerSources {
    /// Live sources age flows on the wall clock; a recording replay-only
    /// worker (no sources, the ring for its writes) on the packets'.
    var usesWallClock: Bool { pcap.count > 0 || sockets.count > 0 || rings.count > 0 }
    let uring: IOURing
    var pcap: FixedArray<PcapSlot>
    var sockets: FixedArray<UringSlot>
    var rings: FixedArray<TPacketSlot>
    let doorbellFD: Int32
    var dispatch: PcapDispatchContext

    /// Opens every source; on failure closes what was opened, gives its
    /// pages back and throws the reason.
    init(
        _ sources: [LiveSourceOptions], doorbellFD: Int32, context: borrowing WorkerContext
    ) throws(LiveCaptureError) {
        let options = context.options
        let uring: IOURing
        do {
            uring = try IOURing(entries: 256, reapCapacity: Swift.max(options.budget, 64))
        } catch {
            throw LiveCaptureError(interface: "io_uring", "io_uring_queue_init", errno: error)
        }
        let pcapSources = sources.enumerated().filter { $0.element.backend == .pcap }
        let uringSources = sources.enumerated().filter { $0.element.backend == .uring }
        let tpacketSources = sources.enumerated().filter { $0.element.backend == .tpacket }
        var pcap = FixedArray<PcapSlot>(capacity: pcapSources.count)
        var sockets = FixedArray<UringSlot>(capacity: uringSources.count)
        var rings = FixedArray<TPacketSlot>(capacity: tpacketSources.count)
        var failure: LiveCaptureError? = nil
        for (index, source) in pcapSources {
            do {
                pcap.append(PcapSlot(try PcapHandle(source), source: index))
            } catch {
                failure = error
                break
            }
        }
        if failure == nil {
            for (index, source) in tpacketSources {
                do {
                    rings.append(TPacketSlot(try TPacketRing(source), source: index))
                } catch {
                    failure = error
                    break
                }
            }
        }
        if failure == nil {
            for (i, (index, source)) in uringSources.enumerated() {
                do throws(LiveCaptureError) {
                    let socket = try PacketSocket(source)
                    var buffers: ProvidedBuffers
                    do throws(Errno) {
                        buffers = try ProvidedBuffers(
                            on: uring, entries: options.providedBuffers, group: UInt16(truncatingIfNeeded: i),
                            roomIndex: context.room.index)
                    } catch {
                        throw LiveCaptureError(interface: source.interface, "provided buffer ring", errno: error)
                    }
                    context.room.refill(into: &buffers)
                    buffers.publish()
                    sockets.append(
                        UringSlot(socket, buffers: buffers, source: index, timestamps: source.kernelTimestamps))
                } catch {
                    failure = error
                    break
                }
            }
        }
        if let failure {
            while let slot = sockets.popLast() { slot.buffers.close(on: uring, returningPagesTo: context.room) }
            throw failure
        }
        for i in 0..<pcap.count {
            for w in pcap[i].handle.warnings { context.shared.addNote("\(pcap[i].handle.interface): \(w)") }
        }
        if uring.downgraded {
            context.shared.addNote("io_uring: SINGLE_ISSUER/DEFER_TASKRUN not supported by this kernel")
        }
        if context.attachments.recorder != nil {
            // Writes that would block run on io-wq helpers: at most two of
            // each kind, and off the workers' CPUs when any CPU is left.
            let helpers = options.ioHelperCPUs
            do throws(Errno) {
                try uring.limitHelpers(cpus: helpers, maximum: 2)
            } catch {
                context.shared.addNote("io_uring: limiting io-wq helpers: \(error)")
            }
        }
        if doorbellFD >= 0 {
            do throws(Errno) {
                try uring.armPoll(fd: doorbellFD, tag: CompletionKind.doorbell.tag(0))
            } catch {
                while let slot = sockets.popLast() { slot.buffers.close(on: uring, returningPagesTo: context.room) }
                throw LiveCaptureError(interface: "io_uring", "polling the replay doorbell", errno: error)
            }
        }
        self.uring = uring
        self.pcap = pcap
        self.sockets = sockets
        self.rings = rings
        self.doorbellFD = doorbellFD
        dispatch = PcapDispatchContext(processor: context.processor, linkType: .ethernet, limit: context.limit)
    }

    // MARK: Polling

    @inline(__always)
    mutating func poll(budget: Int, context: borrowing WorkerContext) -> (frames: Int, more: Bool) {
        var n = 0
        var more = false
        // Completions: frames received into pages, readiness.
        let k = uring.reap(max: budget)
        let batchTime = k > 0 && sockets.count > 0 ? Self.wallClock() : 0
        for i in 0..<k {
            let tag = uring.tag(i)
            let slot = Int(tag & 0xFFFF_FFFF)
            switch CompletionKind(rawValue: tag >> 32) {
            case .received?:
                n &+= received(completion: i, slot: slot, time: batchTime, context: context)
            case .pcapReadable?:
                pcap[slot].ready = true
                if !uring.isStillArmed(i) { pcap[slot].armed = false }
            case .tpacketReadable?:
                rings[slot].ready = true
                if !uring.isStillArmed(i) { rings[slot].armed = false }
            case .doorbell?:
                if !uring.isStillArmed(i) { rearmDoorbell(context: context) }
            case .write?:
                context.processor.pointee.writeCompleted(uring.result(i), uring: uring)
            case nil:
                break
            }
        }
        if k == uring.reapCapacity { more = true }
        // libpcap handles that turned readable: dispatch up to budget.
        for s in 0..<pcap.count where pcap[s].ready {
            dispatch.linkType = pcap[s].linkType
            context.processor.pointee.sourceKey = pcap[s].source
            dispatch.subsecondUnit = pcap[s].handle.nanosecondTimestamps ? 1 : 1000
            context.processor.pointee.ingress = UInt32(bitPattern: pcap[s].handle.interfaceIndex)
            let handle = pcap[s].handle.handle
            let m = withUnsafeMutablePointer(to: &dispatch) { ctx in
                ctx.withMemoryRebound(to: UInt8.self, capacity: MemoryLayout<PcapDispatchContext>.size) {
                    pcap_dispatch(handle, Int32(truncatingIfNeeded: budget), pcapCallback, $0)
                }
            }
            // The last few frames were staged for their flows' slots to load.
            context.processor.pointee.processBatch()
            // A dispatch ends at a block's end as well as at the budget:
            // the handle is drained only when one finds nothing.
            if m > 0 {
                more = true
                n &+= Int(m)
            } else {
                pcap[s].ready = false
                if m < 0 && m != -2 { context.counters.add(WorkerCounter.receiveErrors.rawValue, 1) }
            }
        }
        // TPACKET_V3 rings that turned readable: whole blocks, up to budget.
        for s in 0..<rings.count where rings[s].ready {
            let (m, left) = readBlocks(slot: s, budget: budget, context: context)
            n &+= m
            if left { more = true } else { rings[s].ready = false }
        }
        if dispatch.limitReached { more = false }
        return (n, more)
    }

    /// Pass 1 over whole blocks of a TPACKET_V3 ring: each frame is copied
    /// into its fragment (its VLAN tag put back), hashed and its flow slot
    /// prefetched, and the block goes back to the kernel at once; pass 2
    /// runs as the batch fills and at the end. Returns the frames taken and
    /// whether another block is ready.
    @inline(__always)
    mutating func readBlocks(slot s: Int, budget: Int, context: borrowing WorkerContext) -> (Int, Bool) {
        let processor = context.processor
        processor.pointee.sourceKey = rings[s].source
        processor.pointee.ingress = UInt32(bitPattern: rings[s].ring.interfaceIndex)
        let loopback = rings[s].ring.loopback
        let snaplen = rings[s].ring.snaplen
        let outgoing = clinux_packet_outgoing()
        var n = 0
        while n < budget, let block = rings[s].ring.readyBlock() {
            let count = Int(clinux_tpacket_block_frames(block))
            var header = block + Int(clinux_tpacket_block_first(block))
            for i in 0..<count {
                let f = clinux_tpacket_frame_at(header)
                // The next frame's header and bytes start loading now.
                if i &+ 1 < count { lab_prefetch(UnsafeRawPointer(header + Int(f.next_offset))) }
                if !(loopback && f.pkttype == outgoing) {
                    if let limit = context.limit, !limit.take() {
                        dispatch.limitReached = true
                    } else {
                        processor.pointee.stage(
                            UnsafeRawPointer(header + Int(f.mac)), capturedLength: Swift.min(Int(f.captured), snaplen),
                            wireLength: Int(f.wire), linkType: .ethernet,
                            timestamp: Int64(f.sec) &* 1_000_000_000 &+ Int64(f.nsec),
                            vlan: f.vlan_tpid == 0 ? 0 : UInt32(f.vlan_tpid) << 16 | UInt32(f.vlan_tci))
                        if f.vlan_tpid != 0 { context.counters.add(WorkerCounter.vlanFromMetadata.rawValue, 1) }
                        n &+= 1
                    }
                }
                header += Int(f.next_offset)
            }
            rings[s].ring.release(block)
        }
        processor.pointee.processBatch()
        return (n, rings[s].ring.readyBlock() != nil)
    }

    /// One completion of a socket's multishot recvmsg.
    @inline(__always)
    mutating func received(completion i: Int, slot s: Int, time: Int64, context: borrowing WorkerContext) -> Int {
        let c = context.counters
        let room = context.room
        if !uring.isStillArmed(i) { sockets[s].armed = false }
        let result = uring.result(i)
        guard result >= 0 else {
            if result == -ENOBUFS {
                c.add(WorkerCounter.noBuffers.rawValue, 1)
            } else if result != -ECANCELED {
                c.add(WorkerCounter.receiveErrors.rawValue, 1)
            }
            return 0
        }
        guard let id = uring.bufferID(i), let raw = sockets[s].buffers.take(id) else {
            c.add(WorkerCounter.receiveErrors.rawValue, 1)
            return 0
        }
        let page = room.adopt(raw)
        var frame = curing_received_frame()
        let parsed = curing_recvmsg_frame(page.baseAddress, result, sockets[s].header.message, &frame)
        guard parsed == 0, let payload = frame.payload else {
            c.add(WorkerCounter.receiveErrors.rawValue, 1)
            room.free(page)
            return 0
        }
        // On loopback every frame is seen leaving and arriving: keep one,
        // as libpcap does.
        if _slowPath(sockets[s].loopback && frame.pkttype == clinux_packet_outgoing()) {
            room.free(page)
            return 0
        }
        if let limit = context.limit, !limit.take() {
            dispatch.limitReached = true
            room.free(page)
            return 0
        }
        if _slowPath(frame.real > frame.captured) { c.add(WorkerCounter.bufferTruncated.rawValue, 1) }
        if frame.vlan_reinserted { c.add(WorkerCounter.vlanFromMetadata.rawValue, 1) }
        let offset = UnsafeMutableRawPointer(payload) - page.baseAddress
        context.processor.pointee.ingress = UInt32(bitPattern: sockets[s].socket.interfaceIndex)
        context.processor.pointee.sourceKey = sockets[s].source
        context.processor.pointee.processInPlace(
            page, offset: offset, capturedLength: Int(frame.captured), wireLength: Int(frame.real), linkType: .ethernet,
            timestamp: frame.timestamp_ns != 0 ? frame.timestamp_ns : time)
        return 1
    }

    // MARK: Between polls

    @inline(__always)
    mutating func service(context: borrowing WorkerContext, publishCounts: Bool) -> Bool {
        // Give the kernel pages again and re-arm what ended.
        var starved = false
        for s in 0..<sockets.count {
            context.room.refill(into: &sockets[s].buffers)
            sockets[s].buffers.publish()
            if !sockets[s].armed {
                if sockets[s].buffers.inRing > 0 {
                    do throws(Errno) {
                        try uring.armReceiveMessages(
                            fd: sockets[s].socket.fd, header: sockets[s].header, group: sockets[s].buffers.group,
                            tag: CompletionKind.received.tag(s))
                        sockets[s].armed = true
                    } catch {
                        uringError(error, context: context)
                    }
                } else {
                    starved = true
                }
            }
        }
        for s in 0..<pcap.count where !pcap[s].armed {
            do throws(Errno) {
                try uring.armPoll(fd: pcap[s].handle.fileDescriptor, tag: CompletionKind.pcapReadable.tag(s))
                pcap[s].armed = true
            } catch {
                uringError(error, context: context)
            }
        }
        for s in 0..<rings.count where !rings[s].armed {
            do throws(Errno) {
                try uring.armPoll(fd: rings[s].ring.fd, tag: CompletionKind.tpacketReadable.tag(s))
                rings[s].armed = true
            } catch {
                uringError(error, context: context)
            }
        }
        if publishCounts { publishKernelCounts(context: context) }
        if _slowPath(context.shared.filters.hasNews) { applyFilters(context: context) }
        if context.processor.pointee.writer.enabled {
            context.processor.pointee.serviceWriter(uring: uring, now: Self.wallClock(), draining: false)
        }
        return starved
    }

    func rearmDoorbell(context: borrowing WorkerContext) {
        do throws(Errno) {
            try uring.armPoll(fd: doorbellFD, tag: CompletionKind.doorbell.tag(0))
        } catch {
            uringError(error, context: context)
        }
    }

    /// A request the ring refused: counted, and noted once.
    func uringError(_ error: Errno, context: borrowing WorkerContext) {
        if context.counters.load(WorkerCounter.uringErrors.rawValue) == 0 {
            context.shared.addNote("io_uring: \(error)")
        }
        context.counters.add(WorkerCounter.uringErrors.rawValue, 1)
    }

    func kick(always: Bool, context: borrowing WorkerContext) {
        // Receives complete only inside io_uring_enter (DEFER_TASKRUN); a
        // pcap-only worker with more to read enters only to submit, but a
        // busy-polling one enters every time to see readiness.
        guard
            always || sockets.count > 0 || uring.pendingSubmissions > 0 || context.processor.pointee.writer.inFlight
        else { return }
        do throws(Errno) {
            try uring.submit(waitingNanoseconds: 0)
        } catch {
            uringError(error, context: context)
        }
    }

    func sleep(
        inbox: borrowing ReplayInbox, timeoutNanoseconds: Int64, context: borrowing WorkerContext,
        until ready: () -> Bool
    ) {
        inbox.arrivals.wait(until: ready) {
            do throws(Errno) {
                try uring.submit(waitingNanoseconds: timeoutNanoseconds)
            } catch {
                uringError(error, context: context)
            }
        }
    }

    func waitForWrites(context: borrowing WorkerContext) {
        do throws(Errno) {
            try uring.submit(waitingNanoseconds: 10_000_000)
        } catch {
            uringError(error, context: context)
        }
    }

    mutating func publishKernelCounts(context: borrowing WorkerContext) {
        var packets: UInt64 = 0
        var drops: UInt64 = 0
        for s in 0..<pcap.count {
            if case .failure(let e) = pcap[s].kernel.read(fd: pcap[s].handle.fileDescriptor) {
                kernelCountError(e, interface: pcap[s].handle.interface, context: context)
            }
            packets &+= pcap[s].kernel.packets
            drops &+= pcap[s].kernel.drops
        }
        for s in 0..<sockets.count {
            if case .failure(let e) = sockets[s].kernel.read(fd: sockets[s].socket.fd) {
                kernelCountError(e, interface: sockets[s].socket.interface, context: context)
            }
            packets &+= sockets[s].kernel.packets
            drops &+= sockets[s].kernel.drops
        }
        for s in 0..<rings.count {
            if case .failure(let e) = rings[s].kernel.read(fd: rings[s].ring.fd) {
                kernelCountError(e, interface: rings[s].ring.interface, context: context)
            }
            packets &+= rings[s].kernel.packets
            drops &+= rings[s].kernel.drops
        }
        let c = context.counters
        c.store(WorkerCounter.kernelPackets.rawValue, Int(truncatingIfNeeded: packets))
        c.store(WorkerCounter.kernelDrops.rawValue, Int(truncatingIfNeeded: drops))
    }

    func kernelCountError(_ error: Errno, interface: String, context: borrowing WorkerContext) {
        if context.counters.load(WorkerCounter.kernelCountErrors.rawValue) == 0 {
            context.shared.addNote("\(interface): PACKET_STATISTICS: \(error)")
        }
        context.counters.add(WorkerCounter.kernelCountErrors.rawValue, 1)
    }

    /// Applies the filters the control plane posted (a reload): on the
    /// worker's own thread, as libpcap handles are not thread-safe.
    /// Replacing a socket filter is atomic in the kernel, so no frame goes
    /// unfiltered or is lost.
    func applyFilters(context: borrowing WorkerContext) {
        guard let (filters, generation) = context.shared.filters.take() else { return }
        for s in 0..<pcap.count where pcap[s].source < filters.count {
            do {
                try pcap[s].handle.setFilter(filters[pcap[s].source] ?? "")
            } catch {
                context.shared.addNote("\(error)")
            }
        }
        for s in 0..<sockets.count where sockets[s].source < filters.count {
            do {
                try sockets[s].socket.setFilter(filters[sockets[s].source], snaplen: 262_144)
            } catch {
                context.shared.addNote("\(error)")
            }
        }
        for s in 0..<rings.count where rings[s].source < filters.count {
            do {
                try rings[s].ring.setFilter(filters[rings[s].source], snaplen: 262_144)
            } catch {
                context.shared.addNote("\(error)")
            }
        }
        context.shared.filters.acknowledge(generation)
    }

    // MARK: The end

    /// Cancels the receives and processes what already sat in pages, so
    /// that no page is in the kernel's hands afterwards.
    mutating func drain(context: borrowing WorkerContext) {
        defer {
            publishKernelCounts(context: context)
            drainWrites(context: context)
        }
        guard sockets.count > 0 else { return }
        for s in 0..<sockets.count where sockets[s].armed {
            do throws(Errno) {
                try uring.cancel(fd: sockets[s].socket.fd)
            } catch {
                uringError(error, context: context)
            }
        }
        var rounds = 0
        while (0..<sockets.count).contains(where: { sockets[$0].armed }) && rounds < 1000 {
            rounds += 1
            do throws(Errno) {
                try uring.submit(waitingNanoseconds: 10_000_000)
            } catch {
                uringError(error, context: context)
            }
            let k = uring.reap(max: uring.reapCapacity)
            AtomicContext.enter()
            for i in 0..<k {
                let tag = uring.tag(i)
                switch CompletionKind(rawValue: tag >> 32) {
                case .received?:
                    _ = received(completion: i, slot: Int(tag & 0xFFFF_FFFF), time: Self.wallClock(), context: context)
                case .write?:
                    context.processor.pointee.writeCompleted(uring.result(i), uring: uring)
                default:
                    break
                }
            }
            AtomicContext.exit()
        }
    }

    /// The recording's last writes: submitted, and waited for (their pages
    /// are the kernel's until they complete), then the file is handed back.
    mutating func drainWrites(context: borrowing WorkerContext) {
        guard context.processor.pointee.writer.enabled else { return }
        context.processor.pointee.processBatch()
        while true {
            context.processor.pointee.serviceWriter(uring: uring, now: Self.wallClock(), draining: true)
            if !context.processor.pointee.writer.inFlight && !context.processor.pointee.writer.hasQueuedFrames {
                // Every frame is on disk: the file goes back, and the events
                // reach the control thread (still running, it takes them).
                context.processor.pointee.writer.retireCurrent()
                context.processor.pointee.writer.flushDeferred()
                if !context.processor.pointee.writer.busy { break }
            }
            do throws(Errno) {
                try uring.submit(waitingNanoseconds: 10_000_000)
            } catch {
                uringError(error, context: context)
            }
            let k = uring.reap(max: uring.reapCapacity)
            for i in 0..<k where CompletionKind(rawValue: uring.tag(i) >> 32) == .write {
                context.processor.pointee.writeCompleted(uring.result(i), uring: uring)
            }
        }
    }

    consuming func close(context: borrowing WorkerContext) {
        while let slot = sockets.popLast() { slot.buffers.close(on: uring, returningPagesTo: context.room) }
    }

    /// Nanoseconds since the epoch (vDSO, no syscall).
    static func wallClock() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) &* 1_000_000_000 &+ Int64(ts.tv_nsec)
    }
}
