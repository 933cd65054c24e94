import CRoomsSupport
import Capture
import Packet
import Rooms

#if canImport(Glibc)
import Glibc
#endif

/// How a frame is laid down in its fragment so that a recording writes it
/// as it lies: the block header before the frame, the trailer after it,
/// and nothing between one block and the next in a chunk (fragments of a
/// recording are packed at the block's own granularity), so that a chunk's
/// used span is one contiguous run of whole blocks.
public struct BlockLayout: Sendable, Equatable {
    /// Bytes reserved before the frame: a pcapng Enhanced Packet Block's
    /// header (28), a pcap record header (16), or none.
    public var header: Int
    /// Bytes after the frame: an EPB's padding to 4 and its trailing length
    /// (4), or none.
    public var trailer: Int
    /// Whether the frame is padded to 4 bytes (pcapng).
    public var padded: Bool
    /// Fragments start at multiples of this: the block's granularity when
    /// recording (4 for pcapng, 1 for pcap), a cache line otherwise.
    public var alignment: Int

    /// No recording: the frame alone.
    public static let bare = BlockLayout(header: 0, trailer: 0, padded: false, alignment: 64)
    public static let pcapng = BlockLayout(header: 28, trailer: 4, padded: true, alignment: 4)
    public static let pcap = BlockLayout(header: 16, trailer: 0, padded: false, alignment: 1)

    /// The bytes a frame of `length` takes, header and trailer included.
    @inlinable @inline(__always)
    public func blockBytes(_ length: Int) -> Int {
        header &+ (padded ? (length &+ 3) & ~3 : length) &+ trailer
    }
}

/// The per-packet work of a worker, in interrupt context, a batch at a
/// time as VPP and DPDK work a vector: pass 1 copies each frame once into a
/// fragment of the worker's own room (`.atomic`; a failure is a counted
/// drop), laid down as the block a recording writes, computes its flow hash
/// and starts its flow slot loading; pass 2 decodes each, accounts it and
/// its flow, and gives the fragment back (or to the recording). No heap, no
/// locks, no syscalls.
public struct PacketProcessor: ~Copyable {
    @usableFromInline let room: Room
    @usableFromInline let counters: SingleWriterCounters
    @usableFromInline var flows: FlowTable
    /// The worker's fragments: many frames to a chunk of its room.
    @usableFromInline var frags: FragmentCache
    /// Where a frame goes in its fragment (the recording's block shape).
    @usableFromInline var layout = BlockLayout.bare
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
    /// Frames copied in pass 1, waiting for pass 2.
    @usableFromInline var batch: FrameBatch
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
    /// Test hook: when set, fragments are kept (up to this many frames)
    /// before being freed: packets that hold their memory.
    @usableFromInline var holdFrames: Int
    /// With the hook: a held fragment goes home after this long (0: only
    /// when newer frames push it out).
    let holdNanoseconds: Int64
    var held: HeldFragments
    #endif

    public init(
        room: Room, counters: SingleWriterCounters, flowCapacity: Int, timeouts: FlowTimeouts,
        export: FlowExportRing? = nil, fragments: FragmentOptions = FragmentOptions()
    ) {
        self.room = room
        self.counters = counters
        self.flows = FlowTable(capacity: flowCapacity, timeouts: timeouts, export: export)
        frags = FragmentCache(room: room, chunkOrder: fragments.chunkOrder, alignment: fragments.alignment)
        layout.alignment = fragments.alignment
        batch = FrameBatch(capacity: fragments.batch)
        writer = FrameWriter()
        taps = TapViews()
        #if DEBUG
        holdFrames = 0
        holdNanoseconds = 0
        held = HeldFragments(capacity: 1)
        #endif
    }

    #if DEBUG
    /// With the test hook that keeps fragments (debug builds only).
    public init(
        room: Room, counters: SingleWriterCounters, flowCapacity: Int, timeouts: FlowTimeouts,
        export: FlowExportRing? = nil, fragments: FragmentOptions = FragmentOptions(), hooks: WorkerTestHooks
    ) {
        self.room = room
        self.counters = counters
        self.flows = FlowTable(capacity: flowCapacity, timeouts: timeouts, export: export)
        frags = FragmentCache(room: room, chunkOrder: fragments.chunkOrder, alignment: fragments.alignment)
        layout.alignment = fragments.alignment
        batch = FrameBatch(capacity: fragments.batch)
        writer = FrameWriter()
        taps = TapViews()
        holdFrames = hooks.holdFrames
        holdNanoseconds = hooks.holdNanoseconds
        held = HeldFragments(capacity: Swift.max(1, hooks.holdFrames))
    }
    #endif

    /// The largest block a frame can have: the largest order.
    @inlinable static var largestBlock: Int { Room.pageSize << Room.maxOrder }

    /// Handles one frame at once: pass 1 and pass 2 for it alone.
    @inlinable
    public mutating func process(
        _ frame: UnsafeRawPointer, capturedLength: Int, wireLength: Int, linkType: LinkType, timestamp: Int64,
        flowHash: UInt32 = 0
    ) {
        stage(
            frame, capturedLength: capturedLength, wireLength: wireLength, linkType: linkType,
            timestamp: timestamp, flowHash: flowHash)
        processBatch()
    }

    /// Pass 1 for one frame: copies it once into a fragment, laid down as
    /// its block (``layout``), computes its flow hash when the source gave
    /// none, and starts its flow slot loading. Call ``processBatch()`` when
    /// the source's batch ends (a full batch is processed by itself).
    /// `vlan` (TPID << 16 | TCI, 0: none) is a tag the kernel took out of
    /// the frame: it goes back in after the MAC addresses as the frame is
    /// copied, as libpcap puts it back.
    @inlinable
    public mutating func stage(
        _ frame: UnsafeRawPointer, capturedLength captured: Int, wireLength wired: Int, linkType: LinkType,
        timestamp: Int64, flowHash: UInt32 = 0, vlan: UInt32 = 0
    ) {
        if _slowPath(batch.isFull) { processBatch() }
        let tagged = vlan != 0 && captured >= 12
        let capturedLength = tagged ? captured &+ 4 : captured
        let wireLength = tagged ? wired &+ 4 : wired
        let c = counters
        c.add(WorkerCounter.bytes.rawValue, capturedLength)
        var length = capturedLength
        var block = layout.blockBytes(length)
        var offset = layout.header
        let cut = length > PacketProcessor.largestBlock
        if _slowPath(block > PacketProcessor.largestBlock) {
            // Only the largest block holds it: the frame at its start (the
            // recording puts the block's header and trailer elsewhere), cut
            // to 64 KiB if longer.
            if cut {
                c.add(WorkerCounter.oversized.rawValue, 1)
                length = PacketProcessor.largestBlock
            }
            block = PacketProcessor.largestBlock
            offset = 0
        }
        guard let fragment = frags.allocate(block) else {
            c.add(WorkerCounter.droppedNoMemory.rawValue, 1)
            return
        }
        let copy = fragment.baseAddress + offset
        if _slowPath(tagged) {
            copy.copyMemory(from: frame, byteCount: 12)
            copy.storeBytes(of: vlan.bigEndian, toByteOffset: 12, as: UInt32.self)
            (copy + 16).copyMemory(from: frame + 12, byteCount: length &- 16)
        } else {
            copy.copyMemory(from: frame, byteCount: length)
        }
        var hash = flowHash
        if hash == 0 && linkType == .ethernet, let h = FlowKey.quickHash(UnsafeRawPointer(copy), captured: length) {
            hash = UInt32(truncatingIfNeeded: h)
        }
        if hash != 0 { flows.prefetch(hash: hash) }
        batch.append(
            StagedFrame(
                fragment: fragment.intoRaw(), offset: Int32(truncatingIfNeeded: offset),
                length: Int32(truncatingIfNeeded: length),
                wireLength: Int32(truncatingIfNeeded: Swift.max(wireLength, capturedLength)),
                capturedLength: Int32(truncatingIfNeeded: capturedLength), linkType: linkType, hash: hash,
                timestamp: timestamp, cut: cut))
    }

    /// Pass 2 for every staged frame, in order: decode, account, flows,
    /// then the fragment goes back or to the recording.
    @inlinable
    public mutating func processBatch() {
        var i = 0
        let n = batch.count
        while i < n {
            let f = batch.entries[i]
            let fragment = f.fragment.adopt()
            let copy = fragment.baseAddress + Int(f.offset)
            let d = decodePacket(
                UnsafeRawBufferPointer(start: copy, count: Int(f.length)), wireLength: Int(f.wireLength),
                linkType: f.linkType)
            account(d, bytes: Int(f.capturedLength), timestamp: f.timestamp, flowHash: f.hash)
            counters.add(WorkerCounter.processed.rawValue, 1)
            finish(
                fragment, offset: Int(f.offset), captured: Int(f.length), wire: Int(f.wireLength), time: f.timestamp,
                linkType: f.linkType, cut: f.cut)
            i &+= 1
        }
        batch.count = 0
        batch.bytes = 0
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
            Fragment(page), offset: offset, captured: capturedLength, wire: wire, time: timestamp, linkType: linkType,
            cut: false)
    }

    /// The frame is done with: it goes to the recording, or its fragment
    /// goes back (or, in a debug build with the hold hook set, is kept a
    /// while).
    @inlinable @inline(__always)
    mutating func finish(
        _ fragment: consuming Fragment, offset: Int, captured: Int, wire: Int, time: Int64, linkType: LinkType,
        cut: Bool
    ) {
        if _slowPath(tapping) {
            tap(fragment.baseAddress + offset, captured: captured, wire: wire, time: time, linkType: linkType)
        }
        if _slowPath(recording) {
            record(fragment, offset: offset, captured: captured, wire: wire, time: time, linkType: linkType, cut: cut)
            return
        }
        #if DEBUG
        if _slowPath(holdFrames > 0) {
            hold(fragment)
            return
        }
        #endif
        frags.free(fragment)
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
        _ fragment: consuming Fragment, offset: Int, captured: Int, wire: Int, time: Int64, linkType: LinkType,
        cut: Bool
    ) {
        if let sinkFilter,
            !sinkFilter.matches(
                linkType: linkType.rawValue, frame: fragment.baseAddress + offset, captured: captured, wire: wire)
        {
            counters.add(WorkerCounter.unwrittenFiltered.rawValue, 1)
            frags.free(fragment)
            return
        }
        let key = sourceKey >= 0 ? sourceKey : writer.key(replayed: linkType.rawValue)
        writer.append(
            fragment, frameOffset: offset, captured: captured, wire: wire, time: time, key: key, cut: cut,
            frags: &frags, counters: counters)
    }

    /// Starts recording (before the first frame): frames are laid down as
    /// the recording's blocks from now on.
    mutating func startRecording(_ writer: consuming FrameWriter, filter: FilterTable? = nil) {
        self.writer = writer
        sinkFilter = filter
        recording = self.writer.enabled
        if recording {
            layout = self.writer.format == .pcapng ? .pcapng : .pcap
            frags.alignment = layout.alignment
        }
    }

    /// Whether the recording can take every staged frame and one more of
    /// `length` bytes, whatever their fate: a replay holds its frames back
    /// when it cannot (nothing is lost: the reader waits).
    @inline(__always)
    func writerCanTakeStaged(plus length: Int) -> Bool {
        writer.canTake(
            frames: batch.count &+ 1, bytes: batch.bytes &+ Swift.min(layout.blockBytes(length), Self.largestBlock))
    }

    /// The recording's write completed (a completion on the worker's ring).
    mutating func writeCompleted(_ result: Int32, uring: borrowing IOURing) {
        writer.completed(result, uring: uring, frags: &frags, counters: counters)
    }

    /// The recording between polls: rotation on the wall clock, the next
    /// write, finished files.
    mutating func serviceWriter(uring: borrowing IOURing, now: Int64, draining: Bool) {
        writer.service(uring: uring, now: now, draining: draining, counters: counters)
    }

    /// Between polls: the fragment cache's counts reach the room's.
    @inline(__always)
    public func publishFragments() { frags.publish() }

    #if DEBUG
    @usableFromInline
    mutating func hold(_ fragment: consuming Fragment) {
        if held.count == holdFrames { frags.free(held.removeOldest().adopt()) }
        held.append(fragment.intoRaw(), at: Int64(lab_monotonic_ns()))
    }
    #endif

    /// Frees the held fragments whose time is up (the hook's frames come
    /// home); nothing in a release build.
    @inline(__always)
    public mutating func releaseExpiredHeld() {
        #if DEBUG
        guard holdFrames > 0, holdNanoseconds > 0, held.count > 0 else { return }
        let now = Int64(lab_monotonic_ns())
        while held.count > 0 && now &- held.oldestTime >= holdNanoseconds {
            frags.free(held.removeOldest().adopt())
        }
        if held.count == 0 {
            // The hook's frames are all home: a test waits for this line
            // (out of atomic context, in a debug build with the hook on).
            frags.publish()
            var line = "test hook: every held frame is home\n"
            line.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
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

    /// Processes any staged frame, frees what the hold hook kept (nothing
    /// in a release build), and lets go of the current chunk: at the end of
    /// the worker's run, before the leak check.
    public mutating func releaseHeld() {
        processBatch()
        #if DEBUG
        while held.count > 0 { frags.free(held.removeOldest().adopt()) }
        #endif
        frags.releaseCurrentChunk()
    }

    /// The flows in the table (after the worker stopped, or on its thread).
    public func flowRecords() -> [FlowRecord] { flows.flows() }

    /// The `count` biggest flows into `buffer`, biggest first; on the
    /// worker's thread. Returns how many.
    public func topFlows(_ count: Int, byPackets: Bool, into buffer: UnsafeMutablePointer<FlowRecord>) -> Int {
        flows.top(count, byPackets: byPackets, into: buffer)
    }
}

/// One frame between pass 1 and pass 2: its fragment, given up until its
/// decode, and what the decode needs.
@usableFromInline
struct StagedFrame {
    @usableFromInline var fragment: RawFragment
    @usableFromInline var offset: Int32
    @usableFromInline var length: Int32
    @usableFromInline var wireLength: Int32
    @usableFromInline var capturedLength: Int32
    @usableFromInline var linkType: LinkType
    @usableFromInline var hash: UInt32
    @usableFromInline var timestamp: Int64
    @usableFromInline var cut: Bool

    @inlinable
    init(
        fragment: RawFragment, offset: Int32, length: Int32, wireLength: Int32, capturedLength: Int32,
        linkType: LinkType, hash: UInt32, timestamp: Int64, cut: Bool
    ) {
        self.fragment = fragment
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

/// The frames of one batch between its two passes: a fixed array, filled
/// by pass 1 and emptied by pass 2 (a poll's budget, a `pcap_dispatch`, a
/// TPACKET block; a larger source batch is cut into these).
@usableFromInline
struct FrameBatch: ~Copyable {
    @usableFromInline let entries: UnsafeMutablePointer<StagedFrame>
    @usableFromInline let capacity: Int
    @usableFromInline var count = 0
    /// The staged frames' blocks, in bytes.
    @usableFromInline var bytes = 0

    // (Inlinable, init and deinit alike: a release build's inliner must
    // never meet a resilient deinit inside the fragile setter of
    // PacketProcessor.batch; Swift 6.3.1 asserts on it.)
    @inlinable
    init(capacity: Int) {
        self.capacity = Swift.max(1, capacity)
        entries = .allocate(capacity: self.capacity)
    }

    @inlinable
    deinit {
        entries.deallocate()
    }

    @inlinable var isFull: Bool { count == capacity }

    @inlinable @inline(__always)
    mutating func append(_ f: StagedFrame) {
        (entries + count).initialize(to: f)
        count &+= 1
        bytes &+= Int(f.fragment.bytes)
    }
}

#if DEBUG
/// The hold hook's fragments, oldest first: a fixed ring of raw fragments
/// and the times they were held.
struct HeldFragments: ~Copyable {
    let entries: UnsafeMutablePointer<(fragment: RawFragment, time: Int64)>
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

    mutating func append(_ fragment: RawFragment, at time: Int64) {
        (entries + (head &+ count) % capacity).initialize(to: (fragment, time))
        count &+= 1
    }

    var oldestTime: Int64 { entries[head].time }

    mutating func removeOldest() -> RawFragment {
        let e = (entries + head).move()
        head = (head &+ 1) % capacity
        count &-= 1
        return e.fragment
    }
}
#endif
