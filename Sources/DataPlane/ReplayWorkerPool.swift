import Rooms
import Synchronization

/// N replay workers, one per room, each a pinned thread named `lab-irq/N`
/// with its own inbox, counters and flow table.
public final class ReplayWorkerPool: @unchecked Sendable {
    public let workers: [WorkerShared]
    public let inboxes: ReplayInboxes
    private var threads: ThreadGroup
    private let results: [FlowsBox]

    final class FlowsBox: @unchecked Sendable {
        var flows: [FlowRecord] = []
    }

    /// Starts one worker per room. `cpus[i]` pins worker i (nil: unpinned).
    public init(
        rooms: [Room], cpus: [Int]?, fifoPriority: Int? = nil, options: WorkerOptions, ringCapacity: Int
    ) throws(ThreadStartError) {
        var shared: [WorkerShared] = []
        var results: [FlowsBox] = []
        let inboxes = ReplayInboxes(count: rooms.count, capacity: ringCapacity)
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
                    var loop = ReplayWorkerLoop(shared: worker, inbox: inbox, room: room, options: options)
                    box.flows = loop.run()
                }
            }
        } catch {
            for w in shared { w.stopFlag.store(true, ordering: .releasing) }
            for i in 0..<inboxes.count { inboxes[i].arrivals.ring() }
            group.joinAll()
            throw error
        }
        threads = group
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
