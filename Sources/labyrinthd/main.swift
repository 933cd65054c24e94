import ArgumentParser
import Capture
import ControlPlane
import DataPlane
import Rooms
import Runs
import Sinks
import StatsProtocol

extension LockPolicy: ExpressibleByArgument {}

#if canImport(Glibc)
import Glibc
#endif

@main
struct Labyrinthd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "labyrinthd",
        abstract: "Labyrinth packet data-plane daemon.",
        version: DaemonState.version,
        subcommands: [
            Run.self, CheckConfig.self, Replay.self, CaptureCommand.self, Layout.self, CompileFilter.self,
        ],
        defaultSubcommand: nil
    )
}

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the daemon in the foreground until SIGTERM or SIGINT (SIGHUP reloads).",
        discussion:
            "Builds the arena and rooms, starts the pinned workers, serves the stats socket and tells systemd (Type=notify) when it is ready. Exit status: 0 after a clean stop, 78 for a configuration error, 1 when it could not start, 3 when the leak check failed."
    )

    @Option(help: "The configuration file.")
    var config: String = "/etc/labyrinth/labyrinth.toml"

    func run() async throws {
        let code = await Daemon.run(configPath: config)
        if code != 0 { throw ExitCode(code) }
    }
}

/// The daemon's filter compiler (``FilterCompiler``): a child process that
/// compiles one expression for several link types and writes the programs
/// to standard output, under limits of its own. Not for people.
struct CompileFilter: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compile-filter",
        abstract: "Compile a BPF filter for the daemon (internal: the daemon runs it as a child).",
        shouldDisplay: false
    )

    @Option var snaplen: Int32 = 262_144
    @Option var linkTypes: String
    @Argument var expression: String

    func run() throws {
        // A backstop to the parent's deadline and kill: CPU time and memory.
        var cpu = rlimit(rlim_cur: 10, rlim_max: 11)
        _ = setrlimit(Int32(RLIMIT_CPU.rawValue), &cpu)
        // A sanitizer's runtime (TSan, ASan: test builds only) maps terabytes
        // of shadow address space and keeps mapping: under an address-space
        // limit it dies at its next mapping (exit 66), so it goes without.
        let sanitized = ["__tsan_init", "__asan_init"].contains { (name: String) in
            dlsym(UnsafeMutableRawPointer(bitPattern: 0), name) != nil
        }
        if !sanitized {
            var memory = rlimit(
                rlim_cur: rlim_t(FilterCompiler.memoryLimit), rlim_max: rlim_t(FilterCompiler.memoryLimit))
            _ = setrlimit(Int32(RLIMIT_AS.rawValue), &memory)
        }
        let types = linkTypes.split(separator: ",").compactMap { UInt32($0) }
        let bytes = FilterPrograms.compiledOutput(expression, linkTypes: types, snaplen: snaplen)
        var at = 0
        while at < bytes.count {
            let n = bytes[at...].withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw ExitCode(1) }
            at += n
        }
    }
}

struct CheckConfig: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Validate a configuration file and exit (0: valid; 78: not, naming the key and line)."
    )

    @Argument(help: "The configuration file.")
    var path: String

    func run() throws {
        do {
            let c = try DaemonConfiguration.load(path: path)
            print(
                "\(path): valid (\(c.workerCount) workers, rooms of \(c.rooms.pagesPerRoom) pages, \(c.sources.count) sources)"
            )
        } catch {
            FileStandardError.write("\(error)\n")
            throw ExitCode(78)
        }
    }
}

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
        o.replaceExisting = true  // as tcpdump -w
        o.version = DaemonState.version
        return o
    }
}

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

enum FileStandardError {
    static func write(_ s: String) {
        var s = s
        s.withUTF8 { _ = Glibc.write(2, $0.baseAddress, $0.count) }
    }
}

extension Substring {
    func trimmingCharacters() -> String {
        String(self.drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}

extension CaptureBackend: ExpressibleByArgument {}
extension FanoutMode: ExpressibleByArgument {}

struct CaptureCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "capture",
        abstract: "Capture from an interface through the pinned workers and print a report.",
        discussion: """
            Every worker opens its own handle on the interface, all joined to one PACKET_FANOUT \
            group, and waits for frames in io_uring. pcap: libpcap live capture, each frame copied \
            into a page of the worker's room (.atomic; a failure is a counted drop). uring: a raw \
            AF_PACKET socket per worker, multishot recvmsg straight into pages of the room. Runs \
            until --duration, --count or SIGINT/SIGTERM. Exit status 0, or 2 when it cannot start \
            (the error names the interface, the filter or the setting), 3 when a page leaked.
            """
    )
    @Option(name: .shortAndLong, help: "The interface.")
    var interface: String
    @Option(help: "pcap, tpacket or uring (default: tpacket on an Ethernet or loopback interface, else pcap).")
    var backend: CaptureBackend?
    @OptionGroup var placement: WorkerPlacement
    @Flag(help: "mlockall(MCL_CURRENT | MCL_FUTURE) the whole process.")
    var mlockall = false
    @Option(name: .shortAndLong, help: "A BPF filter in tcpdump syntax, run in the kernel.")
    var filter: String?
    @Option(help: "Stop after this many seconds.")
    var duration: Double?
    @Option(name: [.customShort("c"), .long], help: "Stop after this many packets (over all workers).")
    var count: Int?
    @Option(help: "hash, lb, cpu or qm.")
    var fanout: FanoutMode = .hash
    @Option(help: "The PACKET_FANOUT group id (default: derived from the process and interface).")
    var fanoutGroup: UInt16?
    @Option(help: "Bytes kept per frame (pcap).")
    var snaplen: Int = 262_144
    @Flag(help: "Do not put the interface in promiscuous mode.")
    var noPromiscuous = false
    @Option(help: "Kernel buffer per handle in MiB (pcap's ring, or the socket buffer for uring; default 32).")
    var bufferMib: Int?
    @Flag(help: "pcap: deliver frames at once instead of by filled block.")
    var immediate = false
    @Option(help: "pcap: the block timeout in milliseconds.")
    var timeoutMs: Int = 100
    @Flag(help: "uring: kernel receive timestamps per frame (SO_TIMESTAMPNS) instead of the batch's time.")
    var kernelTimestamps = false
    @Flag(help: "Poll without ever sleeping.")
    var busyPoll = false
    @Option(help: "uring: pages each socket lends the kernel (a power of two).")
    var buffers: Int = 256
    @OptionGroup var processing: ProcessingOptions
    @OptionGroup var export: ExportFlags
    @OptionGroup var record: RecordFlags
    #if DEBUG
    @OptionGroup var hooks: CaptureTestHooks
    #endif
    @OptionGroup var arena: ArenaOptions

    func validate() throws {
        if let c = count, c < 1 { throw ValidationError("--count must be at least 1") }
        if let d = duration, !(d > 0 && d <= 31_536_000) {
            throw ValidationError("--duration must be within 0...31536000 seconds")
        }
        if let b = bufferMib, b < 1 || b > 4096 { throw ValidationError("--buffer-mib must be within 1...4096") }
        if timeoutMs < 0 || timeoutMs > 60_000 { throw ValidationError("--timeout-ms must be within 0...60000") }
        if buffers < 1 || buffers > 32768 || buffers & (buffers - 1) != 0 {
            throw ValidationError("--buffers must be a power of two up to 32768")
        }
        if snaplen < 64 || snaplen > 262_144 { throw ValidationError("--snaplen must be within 64...262144") }
    }

    func run() async throws {
        var source = LiveSourceOptions(interface: interface)
        source.backend = backend ?? CaptureBackend.preferred(for: interface)
        source.filter = filter
        source.fanout = fanout
        source.fanoutGroup = fanoutGroup
        source.snaplen = snaplen
        source.promiscuous = !noPromiscuous
        source.bufferBytes = (bufferMib ?? 32) << 20
        source.immediate = immediate
        source.timeoutMilliseconds = timeoutMs
        source.kernelTimestamps = kernelTimestamps
        var c = CaptureConfiguration(sources: [source], workers: placement.count)
        c.cpus = try placement.cpuList()
        c.fifoPriority = placement.priority
        c.mlockall = mlockall
        c.pagesPerRoom = arena.pagesPerRoom
        c.lock = arena.lockPolicy
        c.worker.fragments = try arena.fragments()
        c.duration = duration
        c.count = count
        c.topFlows = processing.top
        processing.apply(to: &c.worker)
        c.export = try export.options()
        c.worker.busyPoll = busyPoll
        c.worker.providedBuffers = buffers
        #if DEBUG
        c.worker.hooks.holdFrames = hooks.testHoldFrames
        c.worker.hooks.holdNanoseconds = Int64(hooks.testHoldMs) * 1_000_000
        #endif
        do {
            c.recording = try record.options(workers: c.workers)
        } catch {
            FileStandardError.write("labyrinthd: \(error)\n")
            throw ExitCode(2)
        }
        let (_, leaks) = try await processing.show(reportToStandardError: record.write == "-") {
            let (report, leaks) = try await CaptureRun.run(configuration: c)
            return (report, report.json, report.human, leaks)
        }
        if !leaks.isClean { throw ExitCode(3) }
    }
}

#if DEBUG
/// Test hooks of `labyrinthd capture`, in debug builds only.
struct CaptureTestHooks: ParsableArguments {
    @Option(help: "Test hook: keep the pages of this many frames per worker.")
    var testHoldFrames: Int = 0
    @Option(help: "Test hook: with --test-hold-frames, give a held page back after this many milliseconds.")
    var testHoldMs: Int = 0

    func validate() throws {
        if testHoldFrames < 0 || testHoldFrames > 1_000_000 {
            throw ValidationError("--test-hold-frames must be within 0...1000000")
        }
        if testHoldMs < 0 || testHoldMs > 3_600_000 {
            throw ValidationError("--test-hold-ms must be within 0...3600000")
        }
    }
}
#endif
