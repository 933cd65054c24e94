import DataPlane
import Rooms

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
    public var loops: Int = 1
    /// Descriptors each worker's queue holds.
    public var ringCapacity: Int = 65_536
    public var worker = WorkerOptions()
    public var topFlows: Int = 10

    public init(workers: Int) {
        self.workers = workers
    }

    /// The CPU each worker is pinned to, or nil when unpinned.
    public func pinning() -> [Int]? {
        if let cpus { return cpus.isEmpty ? nil : cpus }
        let allowed = PinnedThread.currentAffinity
        return allowed.isEmpty ? nil : (0..<workers).map { allowed[$0 % allowed.count] }
    }
}

/// A whole replay: build the arena and rooms, start the workers, push every
/// file through them, stop, check for leaks and report.
public enum ReplayRun {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    public static func run(files: [String], configuration c: ReplayConfiguration) throws(Failure) -> (
        ReplayReport, LeakReport
    ) {
        guard c.workers >= 1 else { throw Failure(description: "--workers must be at least 1") }
        let arena: Arena
        do {
            arena = try Arena(
                ArenaConfiguration(
                    rooms: c.workers, pagesPerRoom: c.pagesPerRoom, watermarks: c.watermarks,
                    lock: c.lock, hugePages: c.hugePages))
        } catch {
            throw Failure(description: "\(error)")
        }
        var options = c.worker
        // The reader needs a CPU too: with every CPU taken by a worker,
        // workers sleep at once instead of spinning against it.
        if c.workers + 1 > PinnedThread.currentAffinity.count { options.spinBeforeSleep = 0 }
        let pool: ReplayWorkerPool
        do {
            pool = try ReplayWorkerPool(
                rooms: arena.rooms, cpus: c.pinning(), fifoPriority: c.fifoPriority,
                options: options, ringCapacity: c.ringCapacity)
        } catch {
            throw Failure(description: "\(error)")
        }
        let notes = arena.layout.notes
        let replayer = FileReplayer(pool: pool)
        let clock = MonotonicClock()
        let start = clock.now()
        var results: [FileReplayResult] = []
        for file in files {
            results.append(replayer.replay(path: file, pacing: c.pacing, loops: c.loops, clock: clock))
        }
        let flows = pool.finish()
        let elapsed = clock.now() - start
        let leaks = arena.checkForLeaks()
        var report = ReplayReport(
            files: results, pacing: c.pacing, loops: c.loops, elapsed: elapsed, replayer: replayer,
            flows: flows, rooms: arena.rooms.map(\.stats), topFlows: c.topFlows)
        report.notes = notes
        return (report, leaks)
    }
}
