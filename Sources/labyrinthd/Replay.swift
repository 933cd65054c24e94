import ArgumentParser
import Capture
import ControlPlane
import DataPlane
import ForegroundRuns
import Rooms
import Sinks
import StatsProtocol

#if canImport(Glibc)
import Glibc
#endif

struct Replay: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Replay pcap/pcapng files through the pinned workers and print a report.",
        discussion: """
            Frames go to workers by a symmetric flow hash; each worker copies them into pages \
            of its own room, decodes and accounts them. At --speed max (the default) nothing is \
            lost; paced replays drop and count frames when a worker's queue is full (rx_missed). \
            Exits 1 when a file could not be read (whole or in part); the report still covers \
            everything read.
            """
    )

    @Argument(help: "Capture files (pcap or pcapng).")
    var files: [String]

    @OptionGroup var placement: WorkerPlacement

    @Option(help: "max (default) or original: the capture's own timing.")
    var speed: String = "max"

    @Option(help: "With --speed original: replay this many times faster.")
    var multiplier: Double?

    @Option(help: "Pace at this many packets per second.")
    var pps: Double?

    @Option(help: "Pace at this many megabits per second (wire length).")
    var mbps: Double?

    @Option(
        help:
            "Paced replays: wait at most this many seconds between two frames (0: no limit); longer gaps are cut, as tcpreplay's --maxsleep."
    )
    var maxGap: Double = 1

    @Option(help: "Replay each file this many times.")
    var loop: Int = 1

    @Option(help: "Frames each worker's queue holds (32 bytes each).")
    var ring: Int = 65_536

    @Option(
        name: .shortAndLong,
        help:
            "Replay only the frames that match this BPF filter (tcpdump syntax, run in user space with pcap_offline_filter; others are counted filtered)."
    )
    var filter: String?

    @OptionGroup var processing: ProcessingOptions

    @OptionGroup var export: ExportFlags

    @OptionGroup var record: RecordFlags

    @OptionGroup var arena: ArenaOptions

    func validate() throws {
        if files.isEmpty { throw ValidationError("name at least one capture file") }
        if loop < 1 || loop > 1_000_000 { throw ValidationError("--loop must be within 1...1000000") }
        if ring < 1 || ring > 1 << 24 { throw ValidationError("--ring must be within 1...16777216") }
        if !(maxGap.isFinite && (0...31_536_000).contains(maxGap)) {
            throw ValidationError("--max-gap must be within 0...31536000 seconds, not \(maxGap)")
        }
        let paced = [pps != nil, mbps != nil, speed != "max" || multiplier != nil].filter { $0 }.count
        if paced > 1 { throw ValidationError("choose one of --speed original/--multiplier, --pps and --mbps") }
        if speed != "max" && speed != "original" { throw ValidationError("--speed is max or original, not '\(speed)'") }
        // The same fields and ranges as the stats socket's replay request.
        let checks: [(String, Double?, ClosedRange<Double>)] = [
            ("--multiplier", multiplier, ReplayRequest.multiplierRange), ("--pps", pps, ReplayRequest.ppsRange),
            ("--mbps", mbps, ReplayRequest.mbpsRange),
        ]
        for (flag, value, range) in checks {
            if let value, !(value.isFinite && range.contains(value)) {
                throw ValidationError(
                    "\(flag) must be within \(TextFormat.fixed(range.lowerBound, 3))...\(TextFormat.fixed(range.upperBound, 0)), not \(value)"
                )
            }
        }
    }

    func run() async throws {
        var c = ReplayConfiguration(workers: placement.replayCount)
        c.cpus = try placement.cpuList()
        c.fifoPriority = placement.priority
        c.pagesPerRoom = arena.pagesPerRoom
        c.lock = arena.lockPolicy
        c.worker.fragments = try arena.fragments()
        if let pps {
            c.pacing = .packetsPerSecond(pps)
        } else if let mbps {
            c.pacing = .megabitsPerSecond(mbps)
        } else if speed == "original" || multiplier != nil {
            c.pacing = .original(multiplier: multiplier ?? 1)
        }
        c.loops = loop
        c.maximumGap = maxGap > 0 ? Int64(maxGap * 1e9) : nil
        c.ringCapacity = ring
        processing.apply(to: &c.worker)
        c.topFlows = processing.top
        c.export = try export.options()
        c.filter = filter
        do {
            c.recording = try record.options(workers: c.workers)
        } catch {
            FileStandardError.write("labyrinthd: \(error)\n")
            throw ExitCode(2)
        }

        let (report, leaks) = try await processing.show(reportToStandardError: record.write == "-") {
            let (report, leaks) = try await ReplayRun.run(files: files, configuration: c)
            return (report, report.json, report.human, leaks)
        }
        for e in report.errors { FileStandardError.write("labyrinthd: \(e)\n") }
        if !leaks.isClean {
            FileStandardError.write("labyrinthd: \(leaks)\n")
            throw ExitCode(3)
        }
        if !report.errors.isEmpty { throw ExitCode(1) }
        if let signal = report.interruptedBy {
            FileStandardError.write("labyrinthd: stopped by \(signal)\n")
            throw ExitCode(130)
        }
    }
}

/// Builds the arena for the default shape and prints its layout.
struct Layout: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Build the arena and rooms, print their layout and run the leak check."
    )

    @Option(help: "Rooms, one per worker (default: one per online CPU).")
    var rooms: Int?

    @OptionGroup var arena: ArenaOptions

    func run() throws {
        let configuration = ArenaConfiguration(
            rooms: rooms ?? PinnedThread.onlineCPUs, pagesPerRoom: arena.pagesPerRoom, lock: arena.lockPolicy)
        let built: Arena
        do {
            built = try Arena(configuration)
        } catch {
            throw ValidationError("\(error)")
        }
        print(built.layout)
        print(built.checkForLeaks())
    }
}
