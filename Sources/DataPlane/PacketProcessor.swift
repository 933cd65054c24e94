import CRoomsSupport
import Capture
import Packet
import Rooms

/// The per-packet work of a worker, in interrupt context: copy the frame
/// into a page of the worker's own room (`.atomic`; a failure is a counted
/// drop), decode it, account it and its flow, free the page. No heap, no
/// locks, no syscalls.
public struct PacketProcessor: ~Copyable {
    @usableFromInline let room: Room
    @usableFromInline let counters: SingleWriterCounters
    @usableFromInline var flows: FlowTable
    /// The latest packet time seen: the flow table's clock in replay.
    @usableFromInline var latest: Int64 = 0
    /// The interface frames come in on (its ifindex; 0 in replay).
    @usableFromInline var ingress: UInt32 = 0
    /// The clock the last sweep ran at.
    var lastSweep: Int64 = 0
    /// Replay: the flow table's timer runs on the packets (every 64 of
    /// them, on their clock), so that when flows end depends on the frames
    /// alone, never on how polls happened to batch them.
    @usableFromInline var timerOnPackets = true
    @usableFromInline var packetsSinceTick = 0
    /// Frames copied into pages whose decode waits a few frames, while
    /// their flow's slot loads (live capture through libpcap, whose
    /// callback sees one frame at a time).
    var staged: StagedFrames
    /// The recording, when the run records (disabled otherwise).
    var writer: FrameWriter
    @usableFromInline var recording = false
    /// The recording's own filter, if it has one.
    var sinkFilter: FilterTable? = nil
    /// The source the frames come from now (its recording interface), or
    /// -1 for replayed frames (their link type picks the interface).
    @usableFromInline var sourceKey = -1
    /// The live taps open now (see ``TapBoard``): `taps.mask` is 0 when
    /// none is, the one thing the packet path reads then.
    var taps: TapViews
    #if DEBUG
    /// Test hook: when set, pages are kept (up to this many frames) before
    /// being freed: packets that hold their pages.
    @usableFromInline var holdFrames: Int
    /// With the hook: a held page goes home after this long (0: only when
    /// newer frames push it out).
    let holdNanoseconds: Int64
    var held: HeldPages
    #endif

    public init(
        room: Room, counters: SingleWriterCounters, flowCapacity: Int, timeouts: FlowTimeouts,
        export: FlowExportRing? = nil
    ) {
        self.room = room
        self.counters = counters
        self.flows = FlowTable(capacity: flowCapacity, timeouts: timeouts, export: export)
        staged = StagedFrames()
        writer = FrameWriter()
        taps = TapViews()
        #if DEBUG
        holdFrames = 0
        holdNanoseconds = 0
        held = HeldPages(capacity: 1)
        #endif
    }

    #if DEBUG
    /// With the test hook that keeps pages (debug builds only).
    public init(
        room: Room, counters: SingleWriterCounters, flowCapacity: Int, timeouts: FlowTimeouts,
        export: FlowExportRing? = nil, hooks: WorkerTestHooks
    ) {
        self.room = room
        self.counters = counters
        self.flows = FlowTable(capacity: flowCapacity, timeouts: timeouts, export: export)
        staged = StagedFrames()
        writer = FrameWriter()
        taps = TapViews()
        holdFrames = hooks.holdFrames
        holdNanoseconds = hooks.holdNanoseconds
        held = HeldPages(capacity: Swift.max(1, hooks.holdFrames))
    }
    #endif

    /// The largest frame a page can hold.
    @inlinable static var largestBlock: Int { Room.pageSize << Room.maxOrder }

    /// The order of the smallest block that holds `bytes`.
    @inlinable @inline(__always)
    static func order(for bytes: Int) -> Int {
        if bytes <= Room.pageSize { return 0 }
        let pages = (bytes &+ Room.pageSize &- 1) &>> Room.pageShift
        return Int.bitWidth &- (pages &- 1).leadingZeroBitCount
    }

    /// Where a copied frame of `length` bytes goes: after the headroom with
    /// the tailroom behind it (``PageLayout``), or at the block's start when
    /// only the largest block holds it.
    @inlinable @inline(__always)
    static func placement(_ length: Int) -> (order: Int, offset: Int) {
        let framed = PageLayout.headroom &+ length &+ PageLayout.tailroom
        if framed <= largestBlock { return (order(for: framed), PageLayout.headroom) }
        return (order(for: length), 0)
    }

    /// Handles one frame. `now` is the frame's timestamp (ns).
    @inlinable
    public mutating func process(
        _ frame: UnsafeRawPointer, capturedLength: Int, wireLength: Int, linkType: LinkType, timestamp: Int64,
        flowHash: UInt32 = 0
    ) {
        let c = counters
        c.add(WorkerCounter.bytes.rawValue, capturedLength)
        var length = capturedLength
        let cut = length > PacketProcessor.largestBlock
        if _slowPath(cut) {
            c.add(WorkerCounter.oversized.rawValue, 1)
            length = PacketProcessor.largestBlock
        }
        let (order, offset) = PacketProcessor.placement(length)
        guard let page = room.allocate(order: order, .atomic) else {
            c.add(WorkerCounter.droppedNoMemory.rawValue, 1)
            return
        }
        let copy = page.baseAddress + offset
        copy.copyMemory(from: frame, byteCount: length)
        // A frame cut to 64 KiB decodes as cut by a snap length.
        let wire = Swift.max(wireLength, capturedLength)
        let d = decodePacket(UnsafeRawBufferPointer(start: copy, count: length), wireLength: wire, linkType: linkType)
        account(d, bytes: capturedLength, timestamp: timestamp, flowHash: flowHash)
        c.add(WorkerCounter.processed.rawValue, 1)
        finish(page, offset: offset, captured: length, wire: wire, time: timestamp, linkType: linkType, cut: cut)
    }

    /// Handles one frame as ``process(_:capturedLength:wireLength:linkType:timestamp:flowHash:)``
    /// does, a few frames later: the frame is copied into its page now and
    /// its flow's slot starts loading, and the frame staged that many
    /// frames ago is decoded and accounted. Call ``processStaged()`` when
    /// the batch ends.
    public mutating func stage(
        _ frame: UnsafeRawPointer, capturedLength: Int, wireLength: Int, linkType: LinkType, timestamp: Int64
    ) {
        let c = counters
        c.add(WorkerCounter.bytes.rawValue, capturedLength)
        var length = capturedLength
        let cut = length > PacketProcessor.largestBlock
        if _slowPath(cut) {
            c.add(WorkerCounter.oversized.rawValue, 1)
            length = PacketProcessor.largestBlock
        }
        let (order, offset) = PacketProcessor.placement(length)
        guard let page = room.allocate(order: order, .atomic) else {
            c.add(WorkerCounter.droppedNoMemory.rawValue, 1)
            return
        }
        let copy = page.baseAddress + offset
        copy.copyMemory(from: frame, byteCount: length)
        var hash: UInt32 = 0
        if linkType == .ethernet, let h = FlowKey.quickHash(UnsafeRawPointer(copy), captured: length) {
            hash = UInt32(truncatingIfNeeded: h)
            flows.prefetch(hash: hash)
        }
        if staged.isFull { decodeOldestStaged() }
        staged.append(
            StagedFrame(
                page: page.intoRaw(), offset: Int32(truncatingIfNeeded: offset),
                length: Int32(truncatingIfNeeded: length),
                wireLength: Int32(truncatingIfNeeded: Swift.max(wireLength, capturedLength)),
                capturedLength: Int32(truncatingIfNeeded: capturedLength), linkType: linkType, hash: hash,
                timestamp: timestamp, cut: cut))
    }

    /// Decodes and accounts every staged frame.
    public mutating func processStaged() {
        while staged.count > 0 { decodeOldestStaged() }
    }

    mutating func decodeOldestStaged() {
        let f = staged.removeOldest()
        let page = room.adopt(f.page)
        let copy = page.baseAddress + Int(f.offset)
        let d = decodePacket(
            UnsafeRawBufferPointer(start: copy, count: Int(f.length)), wireLength: Int(f.wireLength),
            linkType: f.linkType)
        account(d, bytes: Int(f.capturedLength), timestamp: f.timestamp, flowHash: f.hash)
        counters.add(WorkerCounter.processed.rawValue, 1)
        finish(
            page, offset: Int(f.offset), captured: Int(f.length), wire: Int(f.wireLength), time: f.timestamp,
            linkType: f.linkType, cut: f.cut)
    }

    /// Handles a frame that already sits in a page of this room (received
    /// into it by the kernel): decodes it where it is, then frees the page.
    /// `wireLength` above `capturedLength` means the frame was cut.
    @inlinable
    public mutating func processInPlace(
        _ page: consuming Page, offset: Int, capturedLength: Int, wireLength: Int, linkType: LinkType, timestamp: Int64
    ) {
        let c = counters
        c.add(WorkerCounter.bytes.rawValue, capturedLength)
        let wire = Swift.max(wireLength, capturedLength)
        let d = decodePacket(
            UnsafeRawBufferPointer(start: page.baseAddress + offset, count: capturedLength), wireLength: wire,
            linkType: linkType)
        account(d, bytes: capturedLength, timestamp: timestamp, flowHash: 0)
        c.add(WorkerCounter.processed.rawValue, 1)
        finish(
            page, offset: offset, captured: capturedLength, wire: wire, time: timestamp, linkType: linkType, cut: false)
    }

    /// The frame is done with: it goes to the recording, or its page goes
    /// home (or, in a debug build with the hold hook set, is kept a while).
    @inlinable @inline(__always)
    mutating func finish(
        _ page: consuming Page, offset: Int, captured: Int, wire: Int, time: Int64, linkType: LinkType, cut: Bool
    ) {
        if _slowPath(tapping) {
            tap(page.baseAddress + offset, captured: captured, wire: wire, time: time, linkType: linkType)
        }
        if _slowPath(recording) {
            record(page, offset: offset, captured: captured, wire: wire, time: time, linkType: linkType, cut: cut)
            return
        }
        #if DEBUG
        if _slowPath(holdFrames > 0) {
            hold(page)
            return
        }
        #endif
        room.free(page)
    }

    /// Whether a live tap is open.
    @usableFromInline var tapping: Bool { taps.mask != 0 }

    /// The frame is offered to every open tap: each copies it into its
    /// ring when it is the tap's and fits, and counts a drop when it does
    /// not fit. The reader's pace never reaches the worker.
    @usableFromInline
    mutating func tap(_ frame: UnsafeRawPointer, captured: Int, wire: Int, time: Int64, linkType: LinkType) {
        var bits = taps.mask
        while bits != 0 {
            let s = bits.trailingZeroBitCount
            bits &= bits &- 1
            switch taps.views[s].offer(
                frame, captured: captured, wire: wire, source: sourceKey, linkType: linkType.rawValue,
                timestamp: time)
            {
            case true?: counters.add(WorkerCounter.tapCopied.rawValue, 1)
            case false?: counters.add(WorkerCounter.tapDropped.rawValue, 1)
            case nil: break
            }
        }
    }

    /// The frame goes to the recording.
    @usableFromInline
    mutating func record(
        _ page: consuming Page, offset: Int, captured: Int, wire: Int, time: Int64, linkType: LinkType, cut: Bool
    ) {
        if let sinkFilter,
            !sinkFilter.matches(
                linkType: linkType.rawValue, frame: page.baseAddress + offset, captured: captured, wire: wire)
        {
            counters.add(WorkerCounter.unwrittenFiltered.rawValue, 1)
            room.free(page)
            return
        }
        let key = sourceKey >= 0 ? sourceKey : writer.key(replayed: linkType.rawValue)
        writer.append(
            page, frameOffset: offset, captured: captured, wire: wire, time: time, key: key, cut: cut, room: room,
            counters: counters)
    }

    /// Starts recording (before the first frame).
    mutating func startRecording(_ writer: consuming FrameWriter, filter: FilterTable? = nil) {
        self.writer = writer
        sinkFilter = filter
        recording = self.writer.enabled
    }

    #if DEBUG
    @usableFromInline
    mutating func hold(_ page: consuming Page) {
        if held.count == holdFrames { room.free(room.adopt(held.removeOldest(room: room.index))) }
        held.append(page.intoRaw(), at: Int64(lab_monotonic_ns()))
    }
    #endif

    /// Frees the held pages whose time is up (the hook's pages come home);
    /// nothing in a release build.
    @inline(__always)
    public mutating func releaseExpiredHeld() {
        #if DEBUG
        guard holdFrames > 0, holdNanoseconds > 0, held.count > 0 else { return }
        let now = Int64(lab_monotonic_ns())
        while held.count > 0 && now &- held.oldestTime >= holdNanoseconds {
            room.free(room.adopt(held.removeOldest(room: room.index)))
        }
        #endif
    }

    @inlinable @inline(__always)
    mutating func account(_ d: DecodedPacket, bytes: Int, timestamp: Int64, flowHash: UInt32) {
        let c = counters
        var bits = d.protocols.rawValue
        while bits != 0 {
            c.add(WorkerCounter.vlan.rawValue &+ bits.trailingZeroBitCount, 1)
            bits &= bits &- 1
        }
        if d.truncated { c.add(WorkerCounter.truncated.rawValue, 1) }
        if d.malformation != .none { c.add(WorkerCounter.malformed(d.malformation), 1) }
        if timestamp > latest { latest = timestamp }
        if d.hasFlow {
            switch flows.update(
                key: d.key, hash: flowHash, forward: d.forward, bytes: bytes, octets: d.ipOctets,
                tcpFlags: d.tcpFlags, icmpTypeCode: d.icmpTypeCode, ingress: ingress, now: timestamp)
            {
            case .existing:
                break
            case .created, .createdAfterEnd, .createdAfterEviction:
                let icmp = d.key.proto == 1 || d.key.proto == 58
                c.add(icmp ? WorkerCounter.icmpFlowsCreated.rawValue : WorkerCounter.flowsCreated.rawValue, 1)
            }
        }
        if timerOnPackets {
            packetsSinceTick &+= 1
            if _slowPath(packetsSinceTick == 64) {
                packetsSinceTick = 0
                tick(now: latest)
            }
        }
    }

    /// The flow table's timer: sweeps a share of the table on the clock at
    /// `now` (between polls on the wall clock live; every 64 frames on
    /// ``latest`` in replay),
    /// so that flows end on an idle link too. The whole table is visited
    /// about once a second of that clock, at most 8192 slots a call.
    public mutating func tick(now: Int64) {
        guard now > lastSweep else { return }
        let elapsed = lastSweep == 0 ? 0 : now &- lastSweep
        let share = Int(
            Swift.min(Int64(flows.capacity), Int64(flows.capacity) &* Swift.min(elapsed, 1_000_000_000) / 1_000_000_000)
        )
        lastSweep = now
        if share > 0 { flows.sweep(now: now, slots: Swift.min(share, 8192)) }
    }

    /// Ends every flow now (forced: a flush, the end of a replay, shutdown).
    public mutating func flushFlows(waitingForExport: Bool = false) {
        flows.flushAll(reason: .forcedEnd, waitingForExport: waitingForExport)
    }

    /// Publishes the flow table's gauges; called between polls.
    public func publishFlowGauges() {
        let c = counters
        c.store(WorkerCounter.flowsExpired.rawValue, flows.ended(.idleTimeout))
        c.store(WorkerCounter.flowsActiveTimeout.rawValue, flows.ended(.activeTimeout))
        c.store(WorkerCounter.flowsClosed.rawValue, flows.ended(.endOfFlowDetected))
        c.store(WorkerCounter.flowsForced.rawValue, flows.ended(.forcedEnd))
        c.store(WorkerCounter.flowsEvicted.rawValue, flows.ended(.lackOfResources))
        c.store(WorkerCounter.flowsActive.rawValue, flows.count)
        c.store(WorkerCounter.flowRecordsExported.rawValue, flows.exported)
        c.store(WorkerCounter.flowExportDropped.rawValue, flows.exportDropped)
    }

    /// Starts loading what the next frame will need: its first bytes and its
    /// flow's slot.
    @inline(__always)
    public func prefetch(_ d: PacketDescriptor) {
        lab_prefetch(UnsafeRawPointer(bitPattern: d.address))
        if d.flowHash != 0 { flows.prefetch(hash: d.flowHash) }
    }

    /// Frees pages the hold hook kept (nothing in a release build), and
    /// decodes any staged frame.
    public mutating func releaseHeld() {
        processStaged()
        #if DEBUG
        while held.count > 0 { room.free(room.adopt(held.removeOldest(room: room.index))) }
        #endif
    }

    /// The flows in the table (after the worker stopped, or on its thread).
    public func flowRecords() -> [FlowRecord] { flows.flows() }

    /// The `count` biggest flows into `buffer`, biggest first; on the
    /// worker's thread. Returns how many.
    public func topFlows(_ count: Int, byPackets: Bool, into buffer: UnsafeMutablePointer<FlowRecord>) -> Int {
        flows.top(count, byPackets: byPackets, into: buffer)
    }
}

/// One staged frame: its page, given up until its decode.
struct StagedFrame {
    var page: RawPage
    var offset: Int32
    var length: Int32
    var wireLength: Int32
    var capturedLength: Int32
    var linkType: LinkType
    var hash: UInt32
    var timestamp: Int64
    var cut: Bool

    init(
        page: RawPage, offset: Int32, length: Int32, wireLength: Int32, capturedLength: Int32, linkType: LinkType,
        hash: UInt32, timestamp: Int64, cut: Bool
    ) {
        self.page = page
        self.offset = offset
        self.cut = cut
        self.length = length
        self.wireLength = wireLength
        self.capturedLength = capturedLength
        self.linkType = linkType
        self.hash = hash
        self.timestamp = timestamp
    }
}

/// The frames waiting for their decode: a fixed ring of ``depth``, the
/// prefetch distance (far enough for a slot's line to arrive from memory
/// while the frames between are copied and decoded).
struct StagedFrames: ~Copyable {
    static let depth = 4
    let entries: UnsafeMutablePointer<StagedFrame>
    var head = 0
    var count = 0

    @usableFromInline
    init() {
        entries = .allocate(capacity: StagedFrames.depth)
    }

    deinit {
        entries.deallocate()
    }

    @inlinable var isFull: Bool { count == StagedFrames.depth }

    mutating func append(_ f: StagedFrame) {
        (entries + ((head &+ count) & (StagedFrames.depth &- 1))).initialize(to: f)
        count &+= 1
    }

    mutating func removeOldest() -> StagedFrame {
        let f = (entries + head).move()
        head = (head &+ 1) & (StagedFrames.depth &- 1)
        count &-= 1
        return f
    }
}

#if DEBUG
/// The hold hook's pages, oldest first: a fixed ring of raw pages and the
/// times they were held.
struct HeldPages: ~Copyable {
    let entries: UnsafeMutablePointer<(address: UnsafeMutableRawPointer, order: Int, time: Int64)>
    let capacity: Int
    var head = 0
    var count = 0

    init(capacity: Int) {
        self.capacity = capacity
        entries = .allocate(capacity: capacity)
    }

    deinit {
        entries.deallocate()
    }

    mutating func append(_ page: RawPage, at time: Int64) {
        (entries + (head &+ count) % capacity).initialize(to: (page.address, page.order, time))
        count &+= 1
    }

    var oldestTime: Int64 { entries[head].time }

    mutating func removeOldest(room: Int) -> RawPage {
        let e = (entries + head).move()
        head = (head &+ 1) % capacity
        count &-= 1
        return RawPage(address: e.address, order: e.order, roomIndex: room)
    }
}
#endif
