import Capture
import DataPlane
import Synchronization

/// Replays asked for over the stats socket, as Suricata's `pcap-file`: a
/// queue of files pushed, one at a time, through the running workers by a
/// reader thread of their own. The control plane reads progress; the queue's
/// lock is never taken by a worker.
public final class ReplayQueue: Sendable {
    public enum State: String, Sendable {
        case queued, running, done, failed
    }

    /// One file's replay.
    public struct Job: Sendable {
        public var id: Int
        public var file: String
        public var pacing: Pacing
        public var state: State
        public var result: FileReplayResult?
        /// Counters at the start, to show this job's progress while it runs.
        var startPackets = 0
        var startBytes = 0
    }

    private struct Inner: ~Copyable {
        var jobs: [Job] = []
        var nextID = 1
        var stopping = false
    }

    private let inner = Mutex(Inner())
    private let wakeup = Doorbell()
    public let replayer: FileReplayer
    /// Finished jobs kept for status queries.
    public static let history = 64

    public init(pool: WorkerPool) {
        replayer = FileReplayer(pool: pool)
    }

    /// Queues a file; returns its job.
    public func submit(file: String, pacing: Pacing) -> Job {
        let job = inner.withLock { state -> Job in
            let job = Job(id: state.nextID, file: file, pacing: pacing, state: .queued)
            state.nextID += 1
            state.jobs.append(job)
            let finished = state.jobs.filter { $0.state == .done || $0.state == .failed }
            if finished.count > ReplayQueue.history, let oldest = finished.first {
                state.jobs.removeAll { $0.id == oldest.id }
            }
            return job
        }
        wakeup.ring()
        return job
    }

    /// A job's state, with live progress while it runs.
    public func job(_ id: Int) -> Job? {
        inner.withLock { state in state.jobs.first { $0.id == id } }.map(withProgress)
    }

    /// Every job still remembered.
    public var jobs: [Job] { inner.withLock { $0.jobs }.map(withProgress) }

    private func withProgress(_ job: Job) -> Job {
        guard job.state == .running else { return job }
        var j = job
        let packets = replayer.counter(.packets) - job.startPackets
        let bytes = replayer.counter(.bytes) - job.startBytes
        j.result = FileReplayResult(path: job.file, packets: packets, bytes: bytes, wireBytes: 0, elapsed: 0)
        return j
    }

    /// The reader thread's loop: runs jobs until ``stop()``.
    public func run() {
        let clock = MonotonicClock()
        while true {
            let next = inner.withLock { state -> Job? in
                if state.stopping { return nil }
                guard let i = state.jobs.firstIndex(where: { $0.state == .queued }) else { return nil }
                state.jobs[i].state = .running
                state.jobs[i].startPackets = replayer.counter(.packets)
                state.jobs[i].startBytes = replayer.counter(.bytes)
                return state.jobs[i]
            }
            guard let job = next else {
                if inner.withLock({ $0.stopping }) { return }
                wakeup.wait(timeoutNanoseconds: 200_000_000) {
                    inner.withLock { state in state.stopping || state.jobs.contains { $0.state == .queued } }
                }
                continue
            }
            let result = replayer.replay(path: job.file, pacing: job.pacing, clock: clock)
            inner.withLock { state in
                if let i = state.jobs.firstIndex(where: { $0.id == job.id }) {
                    state.jobs[i].state = result.error == nil ? .done : .failed
                    state.jobs[i].result = result
                }
            }
        }
    }

    /// Ends the loop after the current job; queued jobs are left undone.
    public func stop() {
        inner.withLock { $0.stopping = true }
        wakeup.ring()
    }
}
