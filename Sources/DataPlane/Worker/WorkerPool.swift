import CRoomsSupport
import Capture
import Rooms
import Synchronization
import Syscalls

#if canImport(Glibc)
import Glibc
#endif

/// N workers, one per room, each a pinned thread named `lab-irq/N` with its
/// own replay inbox, counters and flow table, and, for live capture, its own
/// handle on every source (all joined to the source's fanout group).
public final class WorkerPool: @unchecked Sendable {
    public let workers: [WorkerShared]
    public let inboxes: ReplayInboxes
    private var threads: ThreadGroup
    private let results: [FlowsBox]

    final class FlowsBox: @unchecked Sendable {
        var flows: [FlowRecord] = []
    }

    /// Why a pool could not start: a thread, an inbox, or a live source.
    public enum StartError: ErrnoCarrying, Sendable, CustomStringConvertible {
        case thread(ThreadStartError)
        case inbox(Errno)
        case source(LiveCaptureError)

        public var errno: Errno? {
            switch self {
            case .thread(let e): return e.errno
            case .inbox(let e): return e
            case .source(let e): return e.errno
            }
        }

        public var description: String {
            switch self {
            case .thread(let e): return "\(e)"
            case .inbox(let e): return "replay doorbell (eventfd): \(e)"
            case .source(let e): return "\(e)"
            }
        }
    }

    /// Starts one worker per room, each opening its own handle on every
    /// live source on its own thread; returns once all run, or throws the
    /// first failure (after stopping the others). `limit` ends a capture
    /// after that many frames over all workers.
    ///
    /// - Parameters:
    ///   - cpus: `cpus[i]` pins worker i (nil: unpinned).
    ///   - ringCapacity: descriptors each worker's replay queue holds.
    public init(
        rooms: [Room], cpus: [Int]?, fifoPriority: Int? = nil, options: WorkerOptions,
        attachments: WorkerAttachments = WorkerAttachments(), ringCapacity: Int,
        sources: [LiveSourceOptions] = [], limit: CaptureLimit? = nil
    ) throws(StartError) {
        let live = !sources.isEmpty
        // A recording worker sleeps in its io_uring (its writes complete there).
        let ringWorkers = live || attachments.recorder != nil
        // One worker and no group named: nothing to fan out to.
        let sources = sources.map {
            var s = $0
            s.joinsFanout = rooms.count > 1 || s.fanoutGroup != nil
            return s
        }
        let inboxes: ReplayInboxes
        do {
            inboxes = try ReplayInboxes(count: rooms.count, capacity: ringCapacity, eventFDs: ringWorkers)
        } catch {
            throw .inbox(error)
        }
        let results = rooms.map { _ in FlowsBox() }
        workers = rooms.indices.map { i in
            WorkerShared(
                index: i, cpu: cpus.flatMap { $0.isEmpty ? nil : $0[i % $0.count] },
                exportRing: options.exportRing.map { FlowExportRing(capacity: $0) })
        }
        self.inboxes = inboxes
        self.results = results
        var group = ThreadGroup(capacity: rooms.count)
        do {
            for (i, room) in rooms.enumerated() {
                let worker = workers[i]
                let box = results[i]
                try group.start(name: "lab-irq/\(i)", cpus: worker.cpu.map { [$0] }, fifoPriority: fifoPriority) {
                    box.flows = WorkerPool.runWorker(
                        shared: worker, inboxes: inboxes, room: room, options: options, attachments: attachments,
                        sources: sources, limit: limit)
                }
            }
        } catch {
            for w in workers { w.stopFlag.store(true, ordering: .releasing) }
            for i in 0..<inboxes.count { inboxes.storage[i].arrivals.ring() }
            group.joinAll()
            throw .thread(error)
        }
        threads = group
        if ringWorkers {
            // Wait for every worker to open its sources (or fail to).
            let deadline = lab_monotonic_ns() + 30_000_000_000
            while workers.contains(where: { $0.startState.load(ordering: .acquiring) == 0 })
                && lab_monotonic_ns() < deadline
            {
                var ts = timespec(tv_sec: 0, tv_nsec: 1_000_000)
                nanosleep(&ts, nil)
            }
            if let failed = workers.first(where: { $0.startState.load(ordering: .acquiring) != 1 }) {
                let error =
                    failed.startFailure
                    ?? LiveCaptureError(interface: "worker \(failed.index)", "did not start within 30 s")
                stop()
                threads.joinAll()
                throw .source(error)
            }
        }
    }

    /// The body of worker thread `shared.index`: claims the room, opens the
    /// live sources (if any) on this thread, runs the loop, releases the room.
    static func runWorker(
        shared: WorkerShared, inboxes: ReplayInboxes, room: Room, options: WorkerOptions,
        attachments: WorkerAttachments, sources: [LiveSourceOptions], limit: CaptureLimit?
    ) -> [FlowRecord] {
        room.claim()
        defer {
            room.unclaim()
            shared.exitedFlag.store(true, ordering: .releasing)
        }
        let processor = UnsafeMutablePointer<PacketProcessor>.allocate(capacity: 1)
        #if DEBUG
        processor.initialize(
            to: PacketProcessor(
                room: room, counters: shared.counters, flowCapacity: options.flowCapacity,
                timeouts: options.timeouts, export: shared.exportRing, fragments: options.fragments,
                hooks: options.hooks))
        #else
        processor.initialize(
            to: PacketProcessor(
                room: room, counters: shared.counters, flowCapacity: options.flowCapacity,
                timeouts: options.timeouts, export: shared.exportRing, fragments: options.fragments))
        #endif
        defer {
            processor.deinitialize(count: 1)
            processor.deallocate()
        }
        if let recorder = attachments.recorder, shared.index < recorder.slots.count {
            processor.pointee.startRecording(
                FrameWriter(
                    options: recorder.options, slot: recorder.slots[shared.index], headers: recorder.headers,
                    roomPages: room.pageCount),
                filter: recorder.options.filter?.table)
        }
        let context = WorkerContext(
            shared: shared, room: room, options: options, attachments: attachments, processor: processor, limit: limit)
        if sources.isEmpty && attachments.recorder == nil {
            return WorkerLoop(context: context, inboxes: inboxes, sources: ReplayOnly()).run()
        }
        let live: LiveSources
        do {
            live = try LiveSources(
                sources, doorbellFD: inboxes.storage[shared.index].arrivals.eventFD, context: context)
        } catch {
            shared.setStartError(error)
            return []
        }
        shared.startState.store(1, ordering: .releasing)
        return WorkerLoop(context: context, inboxes: inboxes, sources: live).run()
    }

    deinit {
        stop()
        threads.joinAll()
    }

    /// Asks every worker to finish what is queued and exit.
    public func stop() {
        for w in workers { w.stopFlag.store(true, ordering: .releasing) }
        for i in 0..<inboxes.count { inboxes.storage[i].arrivals.ring() }
    }

    /// Rings every worker's doorbell, so that an idle worker looks at its
    /// requests now rather than at its next timeout.
    public func wakeWorkers() {
        for i in 0..<inboxes.count { inboxes.storage[i].arrivals.ring() }
    }

    /// Whether every worker has taken every replayed frame from its inbox.
    public var inboxesEmpty: Bool {
        (0..<inboxes.count).allSatisfy { inboxes.storage[$0].ring.count == 0 }
    }

    /// The workers' export rings (empty when flows are not exported).
    public var exportRings: [FlowExportRing] { workers.compactMap(\.exportRing) }

    /// Asks every worker to end all its flows now (a forced end, exported
    /// when flows are) and waits until they have, at most `timeout` ns.
    public func flushFlows(timeout: UInt64 = 2_000_000_000) {
        let requests = workers.map { $0.requestFlush() }
        wakeWorkers()
        let deadline = lab_monotonic_ns() &+ timeout
        while zip(workers, requests).contains(where: { !$0.flushed($1) }) && lab_monotonic_ns() < deadline {
            var ts = timespec(tv_sec: 0, tv_nsec: 200_000)
            nanosleep(&ts, nil)
        }
    }

    /// Stops the workers, waits for them and returns each one's flows.
    public func finish() -> [[FlowRecord]] {
        stop()
        threads.joinAll()
        return results.map(\.flows)
    }

    /// Which worker a dispatch hash goes to: the hash's high half scaled to
    /// the worker count (the low bits index flow tables).
    @inlinable
    public static func worker(for hash: UInt64, count: Int) -> Int {
        Int(truncatingIfNeeded: ((hash &>> 32) &* UInt64(count)) &>> 32)
    }
}
