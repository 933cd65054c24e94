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

/// Options shared by the commands that build an arena.
struct ArenaOptions: ParsableArguments {
    @Option(help: "Pages of 4 KiB per room (a multiple of 16).")
    var pagesPerRoom: Int = 4096

    @Option(help: "Lock the arena in memory: required, best-effort (lock if RLIMIT_MEMLOCK allows) or off.")
    var lock: LockPolicy = .bestEffort

    @Flag(help: "Same as --lock off.")
    var noLock = false

    @Option(help: "Frames share chunks of this many bytes of the room (4KiB, 8KiB, 16KiB, 32KiB or 64KiB).")
    var chunkSize: String = "64KiB"

    @Option(help: "Without recording, fragments start at multiples of this many bytes (8 or 64).")
    var fragmentAlignment: Int = 64

    @Option(help: "Frames per batch between the copy pass and the decode pass.")
    var batch: Int = 64

    @Option(help: "Replay: the copy pass prefetches the frame this many places ahead (0: none).")
    var prefetch: Int = 4

    var lockPolicy: LockPolicy { noLock ? .off : lock }

    func validate() throws {
        _ = try fragments()
    }

    /// The fragment options these flags ask for.
    func fragments() throws -> FragmentOptions {
        var f = FragmentOptions()
        let bytes: Int
        do {
            bytes = try ByteSize.parse(chunkSize)
        } catch {
            throw ValidationError("--chunk-size: \(error)")
        }
        guard let order = (0...4).first(where: { 4096 << $0 == bytes }) else {
            throw ValidationError("--chunk-size must be 4KiB, 8KiB, 16KiB, 32KiB or 64KiB, not \(chunkSize)")
        }
        guard fragmentAlignment == 8 || fragmentAlignment == 64 else {
            throw ValidationError("--fragment-alignment must be 8 or 64")
        }
        guard (1...4096).contains(batch) else { throw ValidationError("--batch must be within 1...4096") }
        guard (0...64).contains(prefetch) else { throw ValidationError("--prefetch must be within 0...64") }
        f.prefetch = prefetch
        f.chunkOrder = order
        f.alignment = fragmentAlignment
        f.batch = batch
        return f
    }
}

/// Options shared by the commands that start workers.
struct WorkerPlacement: ParsableArguments {
    @Option(
        help:
            "Workers, one per room (default: one per CPU the process may use; for replay one less, for the reader).")
    var workers: Int?

    @Option(
        help: "Comma-separated CPUs to pin workers to, in order (default: the allowed CPUs in order; none: unpinned).")
    var cpus: String?

    @Option(help: "Run workers under SCHED_FIFO at this priority (1-99).")
    var priority: Int?

    func validate() throws {
        if let w = workers, w < 1 { throw ValidationError("--workers must be at least 1") }
        _ = try cpuList()
    }

    /// How many workers: as asked, or one per CPU the process may use.
    var count: Int { Swift.max(1, workers ?? PinnedThread.currentAffinity.count) }

    /// For replay: as asked, or one per CPU less one, which the reader gets
    /// to itself (on 2 CPUs, one worker and the reader: the fastest there,
    /// BENCHMARKS.md says why).
    var replayCount: Int { Swift.max(1, workers ?? (PinnedThread.currentAffinity.count - 1)) }

    /// The CPUs asked for: nil for the default, empty for "none".
    func cpuList() throws -> [Int]? {
        guard let cpus else { return nil }
        if cpus == "none" { return [] }
        let list = cpus.split(separator: ",").map { Int($0.trimmingCharacters()) }
        guard list.allSatisfy({ $0 != nil && $0! >= 0 }) else {
            throw ValidationError("--cpus takes comma-separated CPU numbers, not '\(cpus)'")
        }
        return list.map { $0! }
    }
}

/// Options shared by replay and capture: the NAPI budget, the flow
/// tables, the report.
struct ProcessingOptions: ParsableArguments {
    @Option(help: "Frames a worker polls (per source) before checking in (NAPI budget).")
    var budget: Int = 64

    @Option(help: "Flow table slots per worker.")
    var flows: Int = 65_536

    @Option(help: "Seconds of silence (on the capture's clock in replay) after which a flow ends.")
    var idleTimeout: Double = 120

    @Option(help: "Seconds after which a flow's record is exported and its counters start afresh.")
    var activeTimeout: Double = 60

    @Option(help: "Seconds a TCP flow lingers after FIN both ways or RST, for the last ACKs.")
    var tcpLinger: Double = 2

    @Option(help: "Top flows to list.")
    var top: Int = 10

    @Flag(help: "Print one JSON object instead of the summary.")
    var json = false

    func validate() throws {
        if budget < 1 || budget > 65_536 { throw ValidationError("--budget must be within 1...65536") }
        if flows < 16 || flows > 1 << 28 { throw ValidationError("--flows must be within 16...268435456") }
        for (flag, value) in [
            ("--idle-timeout", idleTimeout), ("--active-timeout", activeTimeout), ("--tcp-linger", tcpLinger),
        ]
        where !(value >= 0.001 && value <= 31_536_000) {
            throw ValidationError("\(flag) must be within 0.001...31536000 seconds")
        }
        if top < 0 || top > 100_000 { throw ValidationError("--top must be within 0...100000") }
    }

    /// Runs a replay or a capture and prints its report (JSON with `--json`),
    /// then the leak check; a run that cannot start is exit 2 with the reason.
    func show<Report>(
        reportToStandardError: Bool = false, _ body: () async throws -> (Report, JSON, String, LeakReport)
    ) async throws -> (Report, LeakReport) {
        let outcome: (Report, JSON, String, LeakReport)
        do {
            outcome = try await body()
        } catch {
            FileStandardError.write("labyrinthd: \(error)\n")
            throw ExitCode(2)
        }
        let (report, json, human, leaks) = outcome
        // With `-w -` the frames own standard output: the report goes to
        // standard error, as tcpdump's does.
        let text = self.json ? json.prettyText + "\n" : human + "\n" + "\(leaks)" + "\n"
        if reportToStandardError {
            FileStandardError.write(text)
        } else {
            print(text, terminator: "")
        }
        return (report, leaks)
    }

    /// Applies the options to a worker's.
    func apply(to worker: inout WorkerOptions) {
        worker.budget = budget
        worker.flowCapacity = flows
        worker.timeouts = FlowTimeouts(
            idle: Int64(idleTimeout * 1e9), active: Int64(activeTimeout * 1e9), linger: Int64(tcpLinger * 1e9))
    }
}

/// IPFIX export of the flow tables' ended flows, for replay and capture.
struct ExportFlags: ParsableArguments {
    @Option(
        name: .customLong("ipfix"),
        help:
            "Export ended flows as IPFIX over UDP to HOST:PORT or [IPv6]:PORT (port 4739 by default); repeat for more collectors."
    )
    var collectors: [String] = []

    @Option(help: "The IPFIX observation domain.")
    var observationDomain: UInt32 = 1

    @Option(help: "The largest IPFIX message in bytes (304...65535).")
    var ipfixMTU: Int = 1400

    @Option(help: "Seconds between template refreshes (and after --template-refresh-messages messages).")
    var templateRefresh: Int64 = 60

    @Option(help: "Messages between template refreshes.")
    var templateRefreshMessages: Int = 100

    @Option(help: "Records a second at most (a collector on the same box keeps up); default: no limit.")
    var ipfixRate: Int?

    @Option(help: "Ended flows each worker's export ring holds (a full ring drops and counts).")
    var exportRing: Int = 16_384

    func validate() throws {
        _ = try options()
    }

    /// The export options, or nil without `--ipfix`.
    func options() throws -> FlowExportOptions? {
        guard !collectors.isEmpty else { return nil }
        var parsed: [IPFIXCollector] = []
        for text in collectors {
            switch IPFIXCollector.parse(text) {
            case .success(let c): parsed.append(c)
            case .failure(let e): throw ValidationError("--ipfix \(e)")
            }
        }
        let ipfix = IPFIXExportConfiguration(
            observationDomains: [observationDomain], maximumMessageLength: ipfixMTU,
            templateRefreshSeconds: templateRefresh, templateRefreshMessages: templateRefreshMessages)
        if let problem = ipfix.problem { throw ValidationError("IPFIX: \(problem)") }
        if let rate = ipfixRate, rate < 1 || rate > 100_000_000 {
            throw ValidationError("--ipfix-rate must be within 1...100000000")
        }
        guard exportRing >= 16 && exportRing <= 1 << 22 else {
            throw ValidationError("--export-ring must be within 16...4194304")
        }
        return FlowExportOptions(
            collectors: parsed, ipfix: ipfix, recordsPerSecond: ipfixRate, ringCapacity: exportRing)
    }
}

/// Recording: `-w` and its rotation, for replay and capture.
struct RecordFlags: ParsableArguments {
    @Option(
        name: [.customShort("w"), .customLong("write")],
        help: ArgumentHelp(
            "Write the frames to PATH (- for standard output, one worker).",
            discussion:
                "Each worker writes its own files. PATH may hold strftime fields (%Y%m%d-%H%M%S), {worker} and {seq}; without {worker}, several workers add .w<N> before the extension, and rotation without {seq} or a time field adds .<seq>."
        ))
    var write: String?

    @Option(
        name: [.customShort("C"), .customLong("rotate-size")],
        help:
            "Start a new file once this one holds SIZE: a bare number is millions of bytes (as tcpdump's -C), or 200KiB, 512MB, 1GiB."
    )
    var rotateSize: String?

    @Option(
        name: [.customShort("G"), .customLong("rotate-seconds")],
        help:
            "Start a new file every N seconds, the files aligned to multiples of N since the epoch (the wall clock live, the packets' own clock in a replay); a quiet link still rotates."
    )
    var rotateSeconds: Int64?

    @Option(
        name: [.customShort("W"), .customLong("max-files")],
        help:
            "Keep only the newest N files of this run, removing older ones: a ring, with -C and/or -G (not tcpdump's -W, which exits after N files with -G)."
    )
    var maxFiles: Int?

    @Option(
        help:
            "pcapng (default; interface and statistics blocks) or pcap (classic, nanosecond timestamps, one link type)."
    )
    var format: String = "pcapng"

    @Option(
        name: [.customShort("s"), .customLong("write-snaplen")], help: "Write at most this many bytes of each frame.")
    var writeSnaplen: Int?

    @Option(
        help: "Data reaches the file within this many milliseconds, even at low rates (as tcpdump's -U does at once).")
    var flushMs: Int = 1000

    @Option(
        help:
            "Below this much free space (e.g. 2GiB): remove the oldest files with -W, else stop writing (counted unwritten.disk_full) until space comes back."
    )
    var minFree: String?

    @Option(
        help:
            "Pages each worker may hold in flight to the disk (default: a quarter of its room); beyond, frames are counted unwritten.overload."
    )
    var pagesInFlight: Int?

    @Flag(help: "Do not ask for RWF_DONTCACHE (written pages then stay in the page cache).")
    var cacheWrites = false

    @Flag(help: "Write no index beside each finished file (labyrinthd extract then scans them).")
    var noIndex = false

    func validate() throws {
        guard write != nil else {
            if rotateSize != nil || rotateSeconds != nil || maxFiles != nil || minFree != nil || writeSnaplen != nil {
                throw ValidationError("-C, -G, -W, -s and --min-free go with -w")
            }
            return
        }
        guard RecordFormat(rawValue: format) != nil else { throw ValidationError("--format is pcapng or pcap") }
        if let s = writeSnaplen, s < 1 || s > 262_144 { throw ValidationError("-s must be within 1...262144") }
        if flushMs < 1 || flushMs > 600_000 { throw ValidationError("--flush-ms must be within 1...600000") }
        if let p = pagesInFlight, p < 16 || p > 1 << 24 {
            throw ValidationError("--pages-in-flight must be within 16...16777216")
        }
    }

    /// The recording for `workers` workers, or nil without `-w`.
    func options(workers: Int) throws -> RecordingOptions? {
        guard let write else { return nil }
        var rotation = RotationConfiguration()
        do {
            if let size = rotateSize { rotation.maximumFileSize = try ByteSize.parse(size) }
            if let floor = minFree { rotation.minimumFreeBytes = try ByteSize.parse(floor) }
        } catch {
            throw ValidationError("\(error)")
        }
        rotation.intervalSeconds = rotateSeconds
        rotation.ringSize = maxFiles
        let naming: FileNaming
        do {
            naming = try FileNaming(template: write, workers: workers, rotation: rotation)
        } catch {
            throw ValidationError("-w \(write): \(error)")
        }
        var o = RecordingOptions(naming: naming)
        o.format = RecordFormat(rawValue: format) ?? .pcapng
        o.snapLength = writeSnaplen
        o.flushMilliseconds = flushMs
        o.pagesInFlight = pagesInFlight
        o.dontCache = !cacheWrites
        o.index = !noIndex
        o.replaceExisting = true  // as tcpdump -w
        o.version = DaemonState.version
        return o
    }
}
