import CRoomsSupport
import Packet
import Rooms

#if canImport(Glibc)
import Glibc
#endif

/// What a worker polls besides its replay queue, and how it sleeps: nothing
/// but a futex doorbell (``ReplayOnly``), or live capture sources on the
/// worker's io_uring (``LiveSources``). The worker loop is generic over it,
/// so each kind gets its own specialised loop with no runtime branch.
protocol WorkerSources: ~Copyable {
    /// Polls every source for up to `budget` frames each, in atomic context.
    /// Returns the frames taken and whether a source has more waiting.
    mutating func poll(budget: Int, context: borrowing WorkerContext) -> (frames: Int, more: Bool)
    /// Between polls, out of atomic context: refills and re-arms, publishes
    /// the kernel's counts, applies posted filters. Returns true when
    /// starved of pages (the worker should look again soon).
    mutating func service(context: borrowing WorkerContext, publishCounts: Bool) -> Bool
    /// The flow table's clock: the wall clock for live sources, the packets'
    /// own (the latest seen) for replay alone.
    var usesWallClock: Bool { get }
    /// Asks the kernel for completions without sleeping: when more work is
    /// pending (`always` false: only if the sources need an enter for it),
    /// or on every loop when busy polling (`always` true).
    func kick(always: Bool, context: borrowing WorkerContext)
    /// Sleeps until the inbox's doorbell rings, a source has work, or
    /// `timeoutNanoseconds` pass; returns at once when `ready()` holds.
    func sleep(
        inbox: borrowing ReplayInbox, timeoutNanoseconds: Int64, context: borrowing WorkerContext,
        until ready: () -> Bool)
    /// Sleeps until a recording's write completes (or a short while).
    func waitForWrites(context: borrowing WorkerContext)
    /// After the stop: processes what the kernel already put in pages and
    /// publishes the last counts.
    mutating func drain(context: borrowing WorkerContext)
    /// Gives every page back to the room and closes the sources.
    consuming func close(context: borrowing WorkerContext)
}

/// What every step of a worker's loop works with: its shared state, its
/// room, its processor and its inbox's index.
struct WorkerContext {
    let shared: WorkerShared
    let room: Room
    let options: WorkerOptions
    let attachments: WorkerAttachments
    let processor: UnsafeMutablePointer<PacketProcessor>
    let limit: CaptureLimit?

    @inline(__always) var counters: SingleWriterCounters { shared.counters }
}

/// The one NAPI loop of a worker, an interrupt handler in all but name: it
/// sleeps until its "interrupt" (the replay doorbell, or a completion on its
/// io_uring: a frame received into one of its pages, a pcap handle turning
/// readable), then polls up to `budget` frames per source in atomic context,
/// and keeps polling while the budget runs out.
struct WorkerLoop<Sources: WorkerSources & ~Copyable>: ~Copyable {
    let context: WorkerContext
    let inboxes: ReplayInboxes
    var sources: Sources

    init(context: consuming WorkerContext, inboxes: ReplayInboxes, sources: consuming Sources) {
        self.context = context
        self.inboxes = inboxes
        self.sources = sources
    }

    /// Runs until stopped and drained, then closes the sources. Returns the
    /// flows the worker saw.
    consuming func run() -> [FlowRecord] {
        let shared = context.shared
        let c = context.counters
        let budget = context.options.budget
        let index = shared.index
        context.processor.pointee.timerOnPackets = !sources.usesWallClock
        #if DEBUG
        let hooks = context.options.hooks
        let stallAt = hooks.stallWorker == index ? Int64(lab_monotonic_ns()) &+ hooks.stallAfter : nil
        #endif
        var lastTick: UInt64 = 0
        var stopping = false
        let taps = context.attachments.taps
        let processor = context.processor
        while true {
            #if DEBUG
            if _slowPath(stallAt != nil) && Int64(lab_monotonic_ns()) > stallAt! {
                shared.stallUntilStopped()
                break
            }
            #endif
            c.add(WorkerCounter.heartbeat.rawValue, 1)
            // A recording that cannot take another frame holds the replay
            // back (its reader waits for queue space: nothing is lost)
            // until its writes complete.
            let held =
                context.processor.pointee.writer.enabled
                && !context.processor.pointee.writerCanTakeStaged(plus: PacketProcessor.largestBlock)
            AtomicContext.enter()
            let replayed = held ? 0 : pollReplay(budget: budget)
            let (captured, capturedMore) = sources.poll(budget: budget, context: context)
            AtomicContext.exit()
            let n = replayed &+ captured
            let more = capturedMore || replayed >= budget

            // Between polls: the kernel's rings, held pages, gauges, requests.
            let now = lab_monotonic_ns()
            let tick = now &- lastTick >= 100_000_000 || stopping
            if tick { lastTick = now }
            let starved = sources.service(context: context, publishCounts: tick)
            context.processor.pointee.releaseExpiredHeld()
            if tick { context.processor.pointee.publishFragments() }
            // The flow table's timer on the wall clock: flows end on an idle
            // link too. (On the packets' clock it runs with the packets.)
            if sources.usesWallClock { context.processor.pointee.tick(now: LiveSources.wallClock()) }
            // A flush with no live source (the end of a replay job) waits
            // for the exporter's ring; with live sources it never waits.
            shared.answerFlush(&context.processor.pointee, waitingForExport: !sources.usesWallClock)
            if replayed > 0 || tick { context.processor.pointee.publishFlowGauges() }
            shared.answerFlowRequest(from: context.processor.pointee)
            if let taps, taps.hasNews(since: processor.pointee.taps.generation) {
                taps.refresh(worker: index, &processor.pointee.taps)
            }
            if let limit = context.limit, limit.isSpent { stopping = true }
            if n > 0 {
                c.add(WorkerCounter.polls.rawValue, 1)
                c.observe(.framesPerPoll, n)
            }
            if n >= budget { c.add(WorkerCounter.budgetExhausted.rawValue, 1) }
            if stopping { break }
            if held && context.processor.pointee.writer.inFlight {
                sources.waitForWrites(context: context)
                continue
            }
            if more {
                sources.kick(always: false, context: context)
                continue
            }
            // Nothing more queued.
            if shared.stopFlag.load(ordering: .acquiring) && inboxes.storage[index].ring.count == 0 {
                stopping = true
                continue  // one last pass: the kernel's counts, the last frames
            }
            if context.options.busyPoll {
                sources.kick(always: true, context: context)
                lab_cpu_relax()
                continue
            }
            // A live worker's wait returns on a completion or the inbox's
            // doorbell alike: spinning on the inbox alone would burn the
            // CPU its frames arrive on (a quarter of it, by perf, at 64 B).
            if !sources.usesWallClock && spinForArrivals(inbox: inboxes.storage[index]) { continue }
            c.add(WorkerCounter.sleeps.rawValue, 1)
            // Starved of pages: look again soon, the room may have refilled.
            sources.sleep(
                inbox: inboxes.storage[index], timeoutNanoseconds: starved ? 1_000_000 : 100_000_000,
                context: context
            ) {
                inboxes.storage[index].ring.count != 0 || shared.stopFlag.load(ordering: .acquiring)
                    || shared.flowRequestPending || taps?.hasNews(since: processor.pointee.taps.generation) == true
            }
        }
        // Frames already in pages when the stop came are still processed.
        sources.drain(context: context)
        shared.answerFlowRequest(from: context.processor.pointee)
        context.processor.pointee.releaseHeld()
        context.processor.pointee.publishFlowGauges()
        let flows = context.processor.pointee.flowRecords()
        // Exported flows are forced out at the end (of a replay, a capture,
        // the daemon): each becomes a record.
        if shared.exportRing != nil {
            let active = context.counters.load(WorkerCounter.flowsActive.rawValue)
            context.processor.pointee.flushFlows(waitingForExport: true)
            context.processor.pointee.publishFlowGauges()
            // "Active at the end" still says what the tables held.
            context.counters.store(WorkerCounter.flowsActive.rawValue, active)
        }
        sources.close(context: context)
        return flows
    }

    /// The replay queue: up to `budget` frames, a batch at a time. Pass 1
    /// copies each into a fragment of the room, laid down as its block,
    /// and starts its flow slot loading (the reader computed its hash, as
    /// a NIC's RSS does), with the source bytes of the frame `prefetch`
    /// places ahead prefetched (``FragmentOptions``); pass 2 decodes and
    /// accounts them.
    @inline(__always)
    func pollReplay(budget: Int) -> Int {
        Self.poll(inboxes.storage[context.shared.index], budget: budget, context: context)
    }

    @inline(__always)
    static func poll(_ inbox: borrowing ReplayInbox, budget: Int, context: borrowing WorkerContext) -> Int {
        let processor = context.processor
        var n = 0
        processor.pointee.ingress = 0  // replayed: no interface
        processor.pointee.sourceKey = -1  // recorded by link type
        // A recording that cannot take the batch's frames holds the rest
        // back (the reader waits: nothing is lost).
        let recording = processor.pointee.writer.enabled
        let k = context.options.fragments.prefetch
        while n < budget, let d = inbox.ring.peek(ahead: 0) {
            if d.isRun {
                // A run of records (never handed to a recording worker):
                // walked here, each frame staged as the reader would have
                // handed it, its hash computed from the file's bytes.
                _ = inbox.ring.pop()
                n &+= walk(run: d, processor: processor)
                continue
            }
            if recording && !processor.pointee.writerCanTakeStaged(plus: Int(d.capturedLength)) { break }
            _ = inbox.ring.pop()
            if k > 0, let ahead = inbox.ring.peek(ahead: k) {
                lab_prefetch(UnsafeRawPointer(bitPattern: ahead.address))
            }
            processor.pointee.stage(
                UnsafeRawPointer(bitPattern: d.address)!, capturedLength: Int(d.capturedLength),
                wireLength: Int(d.wireLength), linkType: LinkType(rawValue: d.linkType), timestamp: d.timestamp,
                flowHash: d.flowHash)
            n &+= 1
        }
        processor.pointee.processBatch()
        if n > 0 {
            context.counters.add(WorkerCounter.replayFrames.rawValue, n)
            // A reader waiting for room sleeps until half the queue is free.
            if inbox.ring.count <= inbox.ring.capacity / 2 { inbox.space.ring() }
        }
        return n
    }

    /// Stages every frame of a run of pcap records (see
    /// ``PacketDescriptor/isRun``), the next records' bytes loading ahead;
    /// returns how many.
    @inline(__always)
    static func walk(run d: PacketDescriptor, processor: UnsafeMutablePointer<PacketProcessor>) -> Int {
        let frames = Int(d.capturedLength)
        let flags = d.wireLength
        let linkType = LinkType(rawValue: d.linkType & ~PacketDescriptor.runMark)
        let ethernet = linkType == .ethernet
        var header = UnsafeRawPointer(bitPattern: d.address)!
        var i = 0
        while i < frames {
            let r = PacketDescriptor.pcapRecord(at: header, flags: flags)
            lab_prefetch(header + 1024)
            // The hash from the file's bytes, not the copy's: read back at
            // once, the copy's bytes wait for its stores (a fifth of the
            // walk's samples when they did).
            var hash: UInt32 = 0
            if ethernet, let h = FlowKey.quickHash(header + 16, captured: r.captured) {
                hash = UInt32(truncatingIfNeeded: h)
            }
            processor.pointee.stage(
                header + 16, capturedLength: r.captured, wireLength: r.wire, linkType: linkType,
                timestamp: r.timestamp, flowHash: hash)
            header += 16 &+ r.captured
            i &+= 1
        }
        return frames
    }

    /// A short spin catches back-to-back arrivals without a sleep, unless
    /// the worker shares its CPU with its feeder (then spinning starves the
    /// thread it waits for). True when something arrived.
    @inline(__always)
    func spinForArrivals(inbox: borrowing ReplayInbox) -> Bool {
        let limit = context.options.spinBeforeSleep
        guard limit > 0 else { return false }
        var spins = 0
        while spins < limit && inbox.ring.count == 0 && !context.shared.stopFlag.load(ordering: .relaxed) {
            lab_cpu_relax()
            spins &+= 1
        }
        return inbox.ring.count != 0
    }
}

/// A replay-only worker's sources: none. It sleeps on its inbox's futex
/// doorbell, and its flows age on the packets' own clock.
struct ReplayOnly: WorkerSources {
    var usesWallClock: Bool { false }

    @inline(__always)
    mutating func poll(budget: Int, context: borrowing WorkerContext) -> (frames: Int, more: Bool) { (0, false) }

    @inline(__always)
    mutating func service(context: borrowing WorkerContext, publishCounts: Bool) -> Bool { false }

    @inline(__always)
    func kick(always: Bool, context: borrowing WorkerContext) {}

    func sleep(
        inbox: borrowing ReplayInbox, timeoutNanoseconds: Int64, context: borrowing WorkerContext,
        until ready: () -> Bool
    ) {
        inbox.arrivals.wait(timeoutNanoseconds: timeoutNanoseconds, until: ready)
    }

    func waitForWrites(context: borrowing WorkerContext) {}

    mutating func drain(context: borrowing WorkerContext) {}

    consuming func close(context: borrowing WorkerContext) {}
}

extension WorkerShared {
    #if DEBUG
    /// Worker side, the stall test hook: stop polling (the heartbeat stops
    /// too), as a worker stuck in a bug would, until the daemon stops it.
    func stallUntilStopped() {
        while !stopFlag.load(ordering: .acquiring) {
            var ts = timespec(tv_sec: 0, tv_nsec: 50_000_000)
            nanosleep(&ts, nil)
        }
    }
    #endif
}
