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
        case queued, running, done, failed, cancelled

        /// Whether the job is over.
        public var isFinished: Bool { self == .done || self == .failed || self == .cancelled }
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
        /// Why it was cancelled (a client's `cancel`, the daemon's stop).
        public var cancelledBy: String?
        /// The daemon opened the file by path: its errors say nothing
        /// built from the file's bytes (every admin sees the job list).
        public var contentPrivate = false
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

    /// The longest wait between two paced frames (ns; nil: no limit),
    /// `replay.max_gap`: read as each job starts.
    private let maximumGapNanoseconds: Atomic<Int64>

    public var maximumGap: Int64? {
        get {
            let v = maximumGapNanoseconds.load(ordering: .relaxed)
            return v > 0 ? v : nil
        }
        set { maximumGapNanoseconds.store(newValue ?? 0, ordering: .relaxed) }
    }

    public init(pool: WorkerPool, flushAfterEachJob: Bool = false, maximumGap: Int64? = nil) {
        replayer = FileReplayer(pool: pool)
        self.flushAfterEachJob = flushAfterEachJob
        maximumGapNanoseconds = Atomic(maximumGap ?? 0)
    }

    /// Queues a file by path; returns its job.
    public func submit(file: String, pacing: Pacing) -> Job {
        submit(.path(file), pacing: pacing)!
    }

    /// Queues a source; returns its job, or nil when it holds a file open
    /// and `maximumOpen` jobs already do (queued or running).
    public func submit(_ source: ReplaySource, pacing: Pacing, maximumOpen: Int = .max) -> Job? {
        let job = inner.withLock { state -> Job? in
            var job = Job(id: state.nextID, file: source.name, pacing: pacing, state: .queued, source: source)
            if case .file(let f) = source { job.contentPrivate = f.openedByDaemon }
            if job.holdsFile {
                let open = state.jobs.filter { ($0.state == .queued || $0.state == .running) && $0.holdsFile }.count
                if open >= maximumOpen { return nil }
            }
            state.nextID += 1
            state.jobs.append(job)
            let finished = state.jobs.filter { $0.state.isFinished }
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
                // Under the lock that `cancel` takes: a cancel of the job
                // before this one cannot reach this one.
                replayer.resetCancellation()
                replayer.maximumGap = maximumGap
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
                    state.jobs[i].state =
                        state.jobs[i].cancelledBy != nil ? .cancelled : result.error == nil ? .done : .failed
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

    /// Cancels a job: a queued one never runs (its file is closed now); a
    /// running one stops at the reader's next batch, or at once if its
    /// pacer waits out a gap. Returns the job (nil: no such job); one that
    /// was over already is returned as it was.
    public func cancel(_ id: Int, by reason: String) -> Job? {
        inner.withLock { state -> Job? in
            guard let i = state.jobs.firstIndex(where: { $0.id == id }) else { return nil }
            Self.cancel(&state.jobs[i], by: reason, replayer: replayer)
            return state.jobs[i]
        }.map(withProgress)
    }

    private static func cancel(_ job: inout Job, by reason: String, replayer: FileReplayer) {
        switch job.state {
        case .queued:
            job.state = .cancelled
            job.cancelledBy = reason
            job.source = nil
        case .running:
            job.cancelledBy = reason
            replayer.cancel()
        case .done, .failed, .cancelled:
            break
        }
    }

    /// Ends the loop: the running job is cancelled and stops at the
    /// reader's next batch (or at once, in a paced gap), and the queued
    /// ones are cancelled without running. Returns the jobs cancelled.
    @discardableResult
    public func stop(reason: String = "the daemon stopping") -> [Job] {
        let cancelled = inner.withLock { state -> [Job] in
            state.stopping = true
            var cancelled: [Job] = []
            for i in state.jobs.indices where !state.jobs[i].state.isFinished {
                Self.cancel(&state.jobs[i], by: reason, replayer: replayer)
                cancelled.append(state.jobs[i])
            }
            return cancelled
        }
        wakeup.ring()
        return cancelled
    }
}
