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
