import CRoomsSupport
import Capture
import DataPlane
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

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
        /// What to read; dropped (and an open file closed) once done.
        var source: ReplaySource?
        /// Whether the job holds a file open (a client's descriptor, or a
        /// path opened beneath an allowed directory).
        var holdsFile: Bool {
            if case .file? = source { return true }
            return false
        }
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

    /// Whether every job ends with a flush of the flow tables, so that an
    /// exporter sees each capture's flows end with it (replay alone, with
    /// flows aging on the packets' clock, would otherwise keep the last
    /// ones until the next job).
    let flushAfterEachJob: Bool

    public init(pool: WorkerPool, flushAfterEachJob: Bool = false) {
        replayer = FileReplayer(pool: pool)
        self.flushAfterEachJob = flushAfterEachJob
    }

    /// Queues a file by path; returns its job.
    public func submit(file: String, pacing: Pacing) -> Job {
        submit(.path(file), pacing: pacing)!
    }

    /// Queues a source; returns its job, or nil when it holds a file open
    /// and `maximumOpen` jobs already do (queued or running).
    public func submit(_ source: ReplaySource, pacing: Pacing, maximumOpen: Int = .max) -> Job? {
        let job = inner.withLock { state -> Job? in
            let job = Job(id: state.nextID, file: source.name, pacing: pacing, state: .queued, source: source)
            if job.holdsFile {
                let open = state.jobs.filter { ($0.state == .queued || $0.state == .running) && $0.holdsFile }.count
                if open >= maximumOpen { return nil }
            }
            state.nextID += 1
            state.jobs.append(job)
            let finished = state.jobs.filter { $0.state == .done || $0.state == .failed }
            if finished.count > ReplayQueue.history, let oldest = finished.first {
                state.jobs.removeAll { $0.id == oldest.id }
            }
            return job
        }
        if job != nil { wakeup.ring() }
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
            let result = replayer.replay(job.source ?? .path(job.file), pacing: job.pacing, clock: clock)
            if flushAfterEachJob { flushWhenDrained() }
            inner.withLock { state in
                if let i = state.jobs.firstIndex(where: { $0.id == job.id }) {
                    state.jobs[i].state = result.error == nil ? .done : .failed
                    state.jobs[i].result = result
                    state.jobs[i].source = nil
                }
            }
        }
    }

    /// Waits (at most 5 s) until the workers have taken every frame of the
    /// job, then has them end all their flows.
    func flushWhenDrained() {
        let pool = replayer.pool
        let deadline = lab_monotonic_ns() &+ 5_000_000_000
        while !pool.inboxesEmpty && lab_monotonic_ns() < deadline {
            var ts = timespec(tv_sec: 0, tv_nsec: 500_000)
            nanosleep(&ts, nil)
        }
        pool.flushFlows()
    }

    /// Ends the loop after the current job; queued jobs are left undone.
    public func stop() {
        inner.withLock { $0.stopping = true }
        wakeup.ring()
    }
}
