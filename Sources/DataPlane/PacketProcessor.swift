import CRoomsSupport
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

    /// Handles one frame. `now` is the frame's timestamp (ns).
    @inlinable
    public mutating func process(
        _ frame: UnsafeRawPointer, capturedLength: Int, wireLength: Int, linkType: LinkType, timestamp: Int64,
        flowHash: UInt32 = 0
    ) {
        let c = counters
        c.add(WorkerCounter.bytes.rawValue, capturedLength)
        var length = capturedLength
        if _slowPath(length > PacketProcessor.largestBlock) {
            c.add(WorkerCounter.oversized.rawValue, 1)
            length = PacketProcessor.largestBlock
        }
        guard let page = room.allocate(order: PacketProcessor.order(for: length), .atomic) else {
            c.add(WorkerCounter.droppedNoMemory.rawValue, 1)
            return
        }
        page.baseAddress.copyMemory(from: frame, byteCount: length)
        // A frame cut to 64 KiB decodes as cut by a snap length.
        let d = decodePacket(
            UnsafeRawBufferPointer(start: page.baseAddress, count: length),
            wireLength: Swift.max(wireLength, capturedLength),
            linkType: linkType)
        account(d, bytes: capturedLength, timestamp: timestamp, flowHash: flowHash)
        finish(page)
        c.add(WorkerCounter.processed.rawValue, 1)
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
        let d = decodePacket(
            UnsafeRawBufferPointer(start: page.baseAddress + offset, count: capturedLength),
            wireLength: Swift.max(wireLength, capturedLength), linkType: linkType)
        account(d, bytes: capturedLength, timestamp: timestamp, flowHash: 0)
        finish(page)
        c.add(WorkerCounter.processed.rawValue, 1)
    }

    /// The frame is done with: its page goes home (or, in a debug build
    /// with the hold hook set, is kept a while).
    @inlinable @inline(__always)
    mutating func finish(_ page: consuming Page) {
        #if DEBUG
        if _slowPath(holdFrames > 0) {
            hold(page)
            return
        }
        #endif
        room.free(page)
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
    }

    /// The flow table's timer, between polls: sweeps a share of the table
    /// on the clock at `now` (the wall clock live, ``latest`` in replay),
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
    public mutating func flushFlows() {
        flows.flushAll(reason: .forcedEnd)
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

    /// Frees pages the hold hook kept (nothing in a release build).
    public mutating func releaseHeld() {
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
