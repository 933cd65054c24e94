import CRoomsSupport
import Capture
import Rooms
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// N workers, one per room, each a pinned thread named `lab-irq/N` with its
/// own replay inbox, counters and flow table, and, for live capture, its own
/// handle on every source (all joined to the source's fanout group).
public final class ReplayWorkerPool: @unchecked Sendable {
    public let workers: [WorkerShared]
    public let inboxes: ReplayInboxes
    private var threads: ThreadGroup
    private let results: [FlowsBox]

    final class FlowsBox: @unchecked Sendable {
        var flows: [FlowRecord] = []
    }

    /// Starts one worker per room. `cpus[i]` pins worker i (nil: unpinned).
    public convenience init(
        rooms: [Room], cpus: [Int]?, fifoPriority: Int? = nil, options: WorkerOptions, ringCapacity: Int
    ) throws(ThreadStartError) {
        do {
            try self.init(
                rooms: rooms, cpus: cpus, fifoPriority: fifoPriority, options: options, ringCapacity: ringCapacity,
                sources: [], limit: nil)
        } catch let error as ThreadStartError {
            throw error
        } catch {
            fatalError("no live sources, yet: \(error)")
        }
    }

    /// Starts one worker per room, each opening its own handle on every
    /// source on its own thread; returns once all run, or throws the first
    /// failure (after stopping the others). `limit` ends the capture after
    /// that many frames over all workers.
    public init(
        rooms: [Room], cpus: [Int]?, fifoPriority: Int? = nil, options: WorkerOptions, ringCapacity: Int,
        sources: [LiveSourceOptions], limit: CaptureLimit?
    ) throws {
        var shared: [WorkerShared] = []
        var results: [FlowsBox] = []
        let live = !sources.isEmpty
        // One worker and no group named: nothing to fan out to.
        let sources = sources.map {
            var s = $0
            s.joinsFanout = rooms.count > 1 || s.fanoutGroup != nil
            return s
        }
        let inboxes = ReplayInboxes(count: rooms.count, capacity: ringCapacity, eventFDs: live)
        for (i, _) in rooms.enumerated() {
            shared.append(WorkerShared(index: i, cpu: cpus.map { $0[i % $0.count] }))
            results.append(FlowsBox())
        }
        self.workers = shared
        self.inboxes = inboxes
        self.results = results
        var group = ThreadGroup(capacity: rooms.count)
        do {
            for (i, room) in rooms.enumerated() {
                let worker = shared[i]
                let inbox = inboxes[i]
                let box = results[i]
                try group.start(name: "lab-irq/\(i)", cpus: worker.cpu.map { [$0] }, fifoPriority: fifoPriority) {
                    if live {
                        var loop = LiveWorkerLoop(
                            shared: worker, inbox: inbox, room: room, options: options, sources: sources, limit: limit)
                        box.flows = loop.run()
                    } else {
                        var loop = ReplayWorkerLoop(shared: worker, inbox: inbox, room: room, options: options)
                        box.flows = loop.run()
                    }
                }
            }
        } catch {
            for w in shared { w.stopFlag.store(true, ordering: .releasing) }
            for i in 0..<inboxes.count { inboxes[i].arrivals.ring() }
            group.joinAll()
            throw error
        }
        threads = group
        if live {
            // Wait for every worker to open its sources (or fail to).
            let deadline = lab_monotonic_ns() + 30_000_000_000
            while shared.contains(where: { $0.startState.load(ordering: .acquiring) == 0 })
                && lab_monotonic_ns() < deadline
            {
                usleep(1000)
            }
            if let failed = shared.first(where: { $0.startState.load(ordering: .acquiring) != 1 }) {
                let message = failed.startError ?? "worker \(failed.index) did not start within 30 s"
                stop()
                threads.joinAll()
                throw LiveCaptureError(interface: "worker \(failed.index)", message)
            }
        }
    }

    deinit {
        stop()
        threads.joinAll()
    }

    /// Asks every worker to finish what is queued and exit.
    public func stop() {
        for w in workers { w.stopFlag.store(true, ordering: .releasing) }
        for i in 0..<inboxes.count { inboxes[i].arrivals.ring() }
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
