import Capture
import Rooms
import Syscalls

/// One run's data plane, built in order and torn down in reverse, in one
/// place for the three runs that have one (`labyrinthd run`, `replay` and
/// `capture`): the arena, the recording (its first files prepared), the
/// worker pool (each worker opening its live sources on its own thread),
/// the recording's control thread, then the flow exporter. The reader
/// (a replay's, the daemon's job queue) is the caller's, on top.
///
/// A stage that fails to start undoes every stage before it, in reverse:
/// the workers stop and are joined, the recording's prepared files are
/// removed (nothing named, no `.part` left; what live sources delivered
/// before the failure is kept), the exporter's thread joined,
/// and the arena is checked for leaks before it goes; the error says which
/// stage failed, why, and what the check found. ``finish()`` stops a
/// running pipeline the same way, and dropping one does too.
public struct Pipeline: ~Copyable {
    public let arena: Arena
    public let recorder: Recorder?
    public let pool: WorkerPool
    public let exporter: FlowExporter?
    /// Set by ``finish()``: the teardown has run.
    private var finished = false

    /// A stage of the build, in order.
    public enum Stage: String, Sendable, CaseIterable, Codable {
        case arena, workers, recorder, exporter
    }

    /// Why the build stopped: the stage, its error, and the leak check of
    /// the arena once everything before it was undone.
    public struct StartError: ErrnoCarrying, CustomStringConvertible {
        public var stage: Stage
        public var error: any Error
        public var leaks: LeakReport?
        public var description: String { "\(error)" }
        /// The stage's system call error, kept to the exit code.
        public var errno: Errno? { Errno.behind(error) }
    }

    /// Builds the pipeline.
    ///
    /// - Parameters:
    ///   - arenaConfiguration: the rooms, one per worker.
    ///   - recorder: the recording, its files prepared (nil: none); the
    ///     pipeline owns its teardown from here, failure or not.
    ///   - recorderCPUs: where its control thread and the io-wq helpers run.
    ///   - options: how the workers run; `taps`: the daemon's live taps.
    ///   - exporter: makes the flow exporter from the workers' rings (nil:
    ///     no export); `exporterCPUs` is where its thread runs.
    public init(
        arena arenaConfiguration: ArenaConfiguration, recorder: Recorder?, recorderCPUs: [Int]?,
        workers options: WorkerOptions, taps: TapBoard? = nil, cpus: [Int]?, fifoPriority: Int?, ringCapacity: Int,
        sources: [LiveSourceOptions] = [], limit: CaptureLimit? = nil,
        exporter makeExporter: ((WorkerPool) throws -> FlowExporter)? = nil, exporterCPUs: [Int]? = nil
    ) throws(StartError) {
        let arena: Arena
        do {
            arena = try Arena(arenaConfiguration)
        } catch {
            recorder?.abandon()
            throw StartError(stage: .arena, error: error, leaks: nil)
        }
        var options = options
        if recorder != nil { options.ioHelperCPUs = recorderCPUs ?? [] }
        let pool: WorkerPool
        do {
            pool = try WorkerPool(
                rooms: arena.rooms, cpus: cpus, fifoPriority: fifoPriority, options: options,
                attachments: WorkerAttachments(recorder: recorder, taps: taps), ringCapacity: ringCapacity,
                sources: sources, limit: limit)
        } catch {
            recorder?.abandon()
            throw StartError(stage: .workers, error: error, leaks: arena.checkForLeaks())
        }
        if let recorder {
            recorder.attach(pool.workers)
            do {
                try recorder.start(cpus: recorderCPUs)
            } catch {
                _ = pool.finish()
                recorder.abandon()
                throw StartError(stage: .recorder, error: error, leaks: arena.checkForLeaks())
            }
        }
        var exporter: FlowExporter? = nil
        if let makeExporter {
            do {
                let made = try makeExporter(pool)
                exporter = made
                try made.start(cpus: exporterCPUs)
            } catch {
                _ = pool.finish()
                exporter?.finish()
                recorder?.abandon()
                throw StartError(stage: .exporter, error: error, leaks: arena.checkForLeaks())
            }
        }
        self.arena = arena
        self.recorder = recorder
        self.pool = pool
        self.exporter = exporter
    }

    /// What a finished pipeline leaves: each worker's flows, the leak
    /// check, the rooms' final counters and the arena's notes.
    public struct End {
        public var flows: [[FlowRecord]]
        public var leaks: LeakReport
        public var rooms: [RoomStats]
        public var notes: [String]
    }

    /// Stops in reverse: the workers stop (ending their flows, each
    /// retiring its last file), the recording finishes its files, the
    /// exporter sends what the rings hold; then the leak check.
    public consuming func finish() -> End {
        let flows = pool.finish()
        recorder?.finish()
        exporter?.finish()
        let leaks = arena.checkForLeaks()
        finished = true
        return End(flows: flows, leaks: leaks, rooms: arena.rooms.map(\.stats), notes: arena.layout.notes)
    }

    deinit {
        if !finished {
            _ = pool.finish()
            recorder?.finish()
            exporter?.finish()
        }
    }
}
