import CRoomsSupport
import DataPlane
import Packet
import Rooms
import Synchronization

/// What the control plane knows about the running daemon: the workers'
/// shared state, the rooms, the replay queue and the configuration. Reading
/// counters takes no lock a worker takes: they are single-writer atomics.
public final class DaemonState: Sendable {
    public static let version = "0.3.0"

    public let workers: [WorkerShared]
    public let rooms: [Room]
    public let replay: ReplayQueue
    /// The IPFIX exporter, when `[ipfix]` names collectors.
    public let exporter: FlowExporter?
    /// The `[[sink]]` recording, when the daemon records.
    public let recorder: Recorder?
    /// The live taps' board, when taps are allowed (daemon.max_taps > 0).
    public let taps: TapBoard?
    public let started: UInt64
    /// The stats socket's answer budget (daemon.max_requests_per_second).
    public let requestBudget: RequestBudget
    private let configuration: Mutex<DaemonConfiguration>
    private let allowed: Mutex<AllowedDirectories>
    /// Per worker: the heartbeat seen last and when it last moved (ns).
    private let heartbeats: Mutex<[(beat: Int, moved: UInt64)]>

    /// The HTTP metrics endpoint's own counters (in the exposition when
    /// `[metrics] listen` is set).
    public let metricsHTTP = MetricsServer.Counters()

    public init(
        workers: [WorkerShared], rooms: [Room], replay: ReplayQueue, configuration: DaemonConfiguration,
        exporter: FlowExporter? = nil, recorder: Recorder? = nil, taps: TapBoard? = nil
    ) {
        self.workers = workers
        self.exporter = exporter
        self.recorder = recorder
        self.taps = taps
        self.rooms = rooms
        self.replay = replay
        self.configuration = Mutex(configuration)
        allowed = Mutex(AllowedDirectories(configuration.replay.allowedDirectories))
        started = lab_monotonic_ns()
        requestBudget = RequestBudget(perSecond: configuration.daemon.maxRequestsPerSecond)
        heartbeats = Mutex(workers.map { ($0.heartbeat, lab_monotonic_ns()) })
    }

    public var config: DaemonConfiguration {
        get { configuration.withLock { $0 } }
        set { configuration.withLock { $0 = newValue } }
    }

    /// The directories a client may name files in (reopened on reload).
    public var allowedDirectories: AllowedDirectories {
        get { allowed.withLock { $0 } }
        set { allowed.withLock { $0 = newValue } }
    }

    public var uptime: Double { Double(lab_monotonic_ns() - started) / 1e9 }

    /// The monotonic clock (ns).
    func clock() -> UInt64 { lab_monotonic_ns() }

    /// Rings every worker's doorbell: an idle worker looks at its requests
    /// (and the taps' board) now, not at its next timeout.
    public func wakeWorkers() { replay.replayer.pool.wakeWorkers() }

    /// Looks at every heartbeat: returns the workers whose heartbeat has not
    /// moved for longer than `stalledAfter` seconds.
    public func stalledWorkers(after stalledAfter: Double) -> [Int] {
        let now = lab_monotonic_ns()
        return heartbeats.withLock { seen in
            var stalled: [Int] = []
            for (i, w) in workers.enumerated() {
                let beat = w.heartbeat
                if beat != seen[i].beat {
                    seen[i] = (beat, now)
                } else if Double(now - seen[i].moved) / 1e9 > stalledAfter && !w.exited {
                    stalled.append(i)
                }
            }
            return stalled
        }
    }

    /// Seconds since a worker's heartbeat last moved (as of the last check).
    public func silence(_ worker: Int) -> Double {
        let now = lab_monotonic_ns()
        return heartbeats.withLock { Double(now - $0[worker].moved) / 1e9 }
    }

    // MARK: Totals

    public func total(_ c: WorkerCounter) -> Int { workers.reduce(0) { $0 + $1.counter(c) } }
    public func total(_ m: Malformation) -> Int { workers.reduce(0) { $0 + $1.malformed(m) } }
    public var received: Int { workers.reduce(0) { $0 + $1.received } }
    public var rxMissed: Int { replay.replayer.counter(.rxMissed) }

    /// Asks every worker to end all its flows (IPFIX forced end) and waits
    /// at most `timeout` for their answers: the flows ended, and the
    /// workers that did not answer.
    public func flushFlows(timeout: Duration = .seconds(2)) async -> (ended: Int, missing: [Int]) {
        let before = workers.map { $0.counter(.flowsForced) }
        let requests = workers.map { $0.requestFlush() }
        replay.replayer.pool.wakeWorkers()
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while zip(workers, requests).contains(where: { !$0.flushed($1) }) && clock.now < deadline {
            // Cancelled: stop polling at once (not a spin until the deadline).
            guard (try? await Task.sleep(for: .milliseconds(1))) != nil else { break }
        }
        let missing = workers.indices.filter { !workers[$0].flushed(requests[$0]) }
        let ended = workers.indices.reduce(0) { $0 + workers[$1].counter(.flowsForced) - before[$1] }
        return (ended, missing)
    }

    /// Asks every worker of the recording to start its next file, and
    /// waits at most `timeout` for each to have done so: the workers that
    /// have not (nil: nothing is recorded).
    public func rotateRecording(timeout: Duration = .seconds(2)) async -> [Int]? {
        guard let recorder else { return nil }
        let before = workers.map { $0.counter(.filesStarted) }
        let named = recorder.counters.currentFiles
        let finishedBefore = recorder.counters.filesWritten
        let open = named.filter { !$0.isEmpty }.count
        recorder.rotate()
        replay.replayer.pool.wakeWorkers()
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        // Moved on: the worker took its next file, and the control thread
        // finished the old one and named the new (a name never repeats).
        func pending() -> [Int] {
            let now = recorder.counters.currentFiles
            return workers.indices.filter {
                (workers[$0].counter(.filesStarted) == before[$0] || now[$0] == named[$0]) && !workers[$0].exited
            }
        }
        // ... and the old files are finished (statistics, closed), so that
        // whoever asked may take them at once.
        while (!pending().isEmpty || recorder.counters.filesWritten < finishedBefore + open) && clock.now < deadline {
            // Cancelled: stop polling at once (not a spin until the deadline).
            guard (try? await Task.sleep(for: .milliseconds(1))) != nil else { break }
        }
        return pending()
    }

    /// The top flows over all workers, asked of each worker (they answer
    /// between polls). Waits at most `timeout`; nil for a worker that did not
    /// answer in time.
    public func topFlows(_ count: Int, byPackets: Bool, timeout: Duration = .seconds(1)) async -> (
        flows: [FlowRecord], missing: [Int]
    ) {
        let requests = workers.map { $0.requestTopFlows(count, byPackets: byPackets) }
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        var answers: [[FlowRecord]?] = Array(repeating: nil, count: workers.count)
        while clock.now < deadline {
            for (i, w) in workers.enumerated() where answers[i] == nil {
                answers[i] = w.topFlows(answering: requests[i])
            }
            if answers.allSatisfy({ $0 != nil }) { break }
            // Cancelled: stop polling at once (not a spin until the deadline).
            guard (try? await Task.sleep(for: .milliseconds(1))) != nil else { break }
        }
        let flows = answers.compactMap { $0 }.flatMap { $0 }
        let weight: (FlowRecord) -> UInt64 = byPackets ? { $0.packets } : { $0.bytes }
        let top = Array(flows.sorted { weight($0) > weight($1) }.prefix(count))
        return (top, answers.indices.filter { answers[$0] == nil })
    }
}

/// A token bucket for the stats socket: at most `perSecond` answers a second
/// over all clients, with bursts of a quarter second's worth (at least 16).
/// Only the control plane touches it.
public final class RequestBudget: Sendable {
    private let rate: Atomic<Int>
    private let bucket: Mutex<(tokens: Double, last: UInt64)>

    public init(perSecond: Int) {
        rate = Atomic(perSecond)
        bucket = Mutex((Double(Self.burst(perSecond)), lab_monotonic_ns()))
    }

    static func burst(_ rate: Int) -> Int { max(16, rate / 4) }

    public var perSecond: Int {
        get { rate.load(ordering: .relaxed) }
        set { rate.store(newValue, ordering: .relaxed) }
    }

    /// Takes one answer's token: nil when granted, else the nanoseconds
    /// until one is due.
    public func take(now: UInt64 = lab_monotonic_ns()) -> UInt64? {
        let rate = perSecond
        guard rate > 0 else { return nil }
        return bucket.withLock { b in
            let refill = Double(now &- b.last) / 1e9 * Double(rate)
            b.tokens = min(Double(Self.burst(rate)), b.tokens + refill)
            b.last = now
            if b.tokens >= 1 {
                b.tokens -= 1
                return nil
            }
            return UInt64((1 - b.tokens) / Double(rate) * 1e9) + 1
        }
    }
}
