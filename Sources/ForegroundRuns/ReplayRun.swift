import Capture
import DataPlane
import Rooms
import Sinks
import StatsProtocol
import Synchronization
import Syscalls
import UnixSignals

#if canImport(Glibc)
import Glibc
#endif

/// How to run a replay.
public struct ReplayConfiguration: Sendable {
    /// One worker (and one room) each.
    public var workers: Int
    /// `cpus[i]` pins worker i; nil pins worker i to the i-th CPU the process
    /// may use; an empty list leaves workers unpinned.
    public var cpus: [Int]?
    public var fifoPriority: Int?
    public var pagesPerRoom: Int = 4096
    public var watermarks: Watermarks?
    public var lock: LockPolicy = .required
    public var hugePages: HugePagePolicy = .transparent
    public var pacing: Pacing = .maximum
    /// The longest wait between two paced frames (ns; nil: no limit).
    public var maximumGap: Int64? = 1_000_000_000
    public var loops: Int = 1
    /// Descriptors each worker's queue holds.
    public var ringCapacity: Int = 65_536
    public var worker = WorkerOptions()
    public var topFlows: Int = 10
    /// Export ended flows as IPFIX (nil: no export).
    public var export: FlowExportOptions?
    /// Record the frames (`-w`; nil: no recording).
    public var recording: RecordingOptions?
    /// A BPF filter over the whole replay (`-f`), in user space.
    public var filter: String?
    /// Whether one worker, at maximum speed, without a filter or a
    /// recording, is handed runs of plain pcap records to walk rather than
    /// a descriptor a frame (``FileReplayer/handsRuns``). On unless a test
    /// compares the two.
    public var recordRuns = true

    public init(workers: Int) {
        self.workers = workers
    }

    /// The CPU each worker is pinned to, or nil when unpinned.
    public func pinning() -> [Int]? {
        if let cpus { return cpus.isEmpty ? nil : cpus }
        let allowed = PinnedThread.currentAffinity
        return allowed.isEmpty ? nil : (0..<workers).map { allowed[$0 % allowed.count] }
    }

    /// The CPU for the reader (and the exporter): the first the process may
    /// use that no worker does, or nil when every CPU has a worker (then the
    /// reader is left to the scheduler).
    public func readerCPU() -> Int? {
        guard let pinned = pinning() else { return nil }
        return PinnedThread.currentAffinity.first { !pinned.contains($0) }
    }
}

/// A whole replay: build the arena and rooms, start the workers, push every
/// file through them, stop, check for leaks and report. SIGINT or SIGTERM
/// ends it early: the file in progress stops at the next batch, and the
/// report covers everything read.
public enum ReplayRun {
    public typealias Failure = RunFailure

    public static func run(files: [String], configuration c: ReplayConfiguration) async throws(Failure) -> (
        ReplayReport, LeakReport
    ) {
        guard c.workers >= 1 else { throw Failure(description: "--workers must be at least 1") }
        var options = c.worker
        // The reader needs a CPU too: with every CPU taken by a worker,
        // workers sleep at once instead of spinning against it.
        if c.workers + 1 > PinnedThread.currentAffinity.count { options.spinBeforeSleep = 0 }
        if let export = c.export { options.exportRing = export.ringCapacity }
        let readerCPU = c.readerCPU()
        var recorder: Recorder? = nil
        if var recording = c.recording {
            recording.wallClockRotation = false
            do {
                recorder = try Recorder(options: recording)
            } catch {
                throw Failure(error)
            }
            // Its problems on standard error, as tcpdump's.
            recorder?.warn = { message in
                var line = "labyrinthd: recording: \(message)\n"
                line.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
            }
        }
        let signals = await UnixSignalsSequence(trapping: .sigint, .sigterm)
        // Arena, recording, workers, exporter: built in order, undone in
        // reverse if a stage fails (Pipeline).
        var pipeline: Pipeline
        do {
            pipeline = try Pipeline(
                arena: ArenaConfiguration(
                    rooms: c.workers, pagesPerRoom: c.pagesPerRoom, watermarks: c.watermarks,
                    lock: c.lock, hugePages: c.hugePages),
                recorder: recorder, recorderCPUs: readerCPU.map { [$0] }, workers: options, cpus: c.pinning(),
                fifoPriority: c.fifoPriority, ringCapacity: c.ringCapacity,
                exporter: c.export.map { export in
                    { pool in try FlowExporter(options: export, rings: pool.exportRings) }
                }, exporterCPUs: readerCPU.map { [$0] })
        } catch {
            throw Failure(error)
        }
        let pool = pipeline.pool
        let exporter = pipeline.exporter
        let replayer = FileReplayer(pool: pool)
        if let filter = c.filter { replayer.filter = OfflineFilter(filter) }
        replayer.maximumGap = c.maximumGap
        replayer.handsRuns = c.recordRuns && c.recording == nil && c.workers == 1
        let clock = MonotonicClock()
        let start = clock.now()
        let results: [FileReplayResult]
        let interruption: String?
        do {
            (results, interruption) = try await ReaderThread.run(
                replayer: replayer, signals: signals, cpus: readerCPU.map { [$0] }
            ) {
                files.map { replayer.replay(path: $0, pacing: c.pacing, loops: c.loops, clock: clock) }
            }
        } catch {
            throw Failure(error)
        }
        // The workers force their flows out as they stop; the exporter
        // sends what the rings hold, then ends.
        let end = pipeline.finish()
        let elapsed = clock.now() - start
        let leaks = end.leaks
        var report = ReplayReport(
            files: results, pacing: c.pacing, loops: c.loops, elapsed: elapsed, replayer: replayer,
            flows: end.flows, rooms: end.rooms, topFlows: c.topFlows)
        report.notes = end.notes
        let cut = results.reduce(0) { $0 + $1.gapsCut }
        if cut > 0, let gap = c.maximumGap {
            report.notes.append(
                "\(cut) gap\(cut == 1 ? "" : "s") between frames longer than --max-gap (\(Double(gap) / 1e9) s) cut to it"
            )
        }
        if let exporter {
            report.export = ExportReport(exporter, workers: pool.workers)
        }
        if let recorder {
            report.recording = RecordingReport(recorder, workers: pool.workers)
        }
        if let problem = replayer.filterError { throw Failure(description: problem) }
        if let interruption {
            report.interruptedBy = interruption
            report.notes.append("stopped by \(interruption) after \(report.packets) packets")
        }
        return (report, leaks)
    }
}

/// The replay reader on a thread of its own (`lab-reader`), awaited from
/// async code; SIGINT or SIGTERM cancels the replay at the reader's next
/// batch. Returns the body's result and the signal that cut it short.
enum ReaderThread {
    static func run<T: Sendable>(
        replayer: FileReplayer, signals: UnixSignalsSequence, cpus: [Int]?, _ body: @escaping @Sendable () -> T
    ) async throws(ThreadStartError) -> (T, String?) {
        let interruption = Mutex<String?>(nil)
        let watcher = Task {
            for await signal in signals {
                interruption.withLock { $0 = signal == .sigint ? "SIGINT" : "SIGTERM" }
                replayer.cancel()
                return
            }
        }
        defer { watcher.cancel() }
        let result: Result<T, ThreadStartError> = await withCheckedContinuation { continuation in
            do throws(ThreadStartError) {
                // The thread's last act is to resume the continuation; it is
                // detached, so nothing blocks to join it.
                try PinnedThread(name: "lab-reader", cpus: cpus) { continuation.resume(returning: .success(body())) }
                    .detach()
            } catch {
                continuation.resume(returning: .failure(error))
            }
        }
        return (try result.get(), interruption.withLock { $0 })
    }
}
