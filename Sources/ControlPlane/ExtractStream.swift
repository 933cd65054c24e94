import CLinux
import Capture
import DataPlane
import Extraction
import Logging
import NIOCore
import NIOPosix
import StatsProtocol
import Synchronization
import Syscalls

#if canImport(Glibc)
import Glibc
#endif

/// An `extract` request, checked: the ring's directory, the bound on
/// its reads, the window and the flow parsed (the filter compiles in
/// ``CommandProcessor/extractSetup(_:)``, off the event loop).
public struct ExtractPlan: Sendable {
    public var request: ExtractRecordingRequest
    public var directory: String
    public var readRate: Int
}

extension CommandProcessor {
    func extractPlan(_ request: ExtractRecordingRequest) throws(RequestError) -> ExtractPlan {
        guard let sink = state.config.sink, let recorder = state.recorder else {
            throw RequestError("nothing is recorded: the configuration has no [[sink]]")
        }
        let naming = recorder.options.naming
        guard !naming.isStandardOutput else { throw RequestError("the [[sink]] writes to standard output: no ring") }
        let template = naming.template
        let directory = template.lastIndex(of: "/").map { String(template[..<$0]) } ?? "."
        guard !directory.contains("%"), !directory.contains("{") else {
            throw RequestError("the [[sink]] path's directory has fields (\(directory)): extract reads one directory")
        }
        var from = Int64.min
        var to = Int64.max
        for (name, text) in [("from", request.from), ("to", request.to)] {
            guard let text else { continue }
            guard let t = ExtractTime.parse(text) else {
                throw RequestError(
                    "\"\(name)\": \(RequestField.shown(.string(text))) is not a time (epoch seconds such as 1700000000.5, or RFC 3339)"
                )
            }
            if name == "from" { from = t } else { to = t }
        }
        guard from < to else { throw RequestError("\"from\" must come before \"to\"") }
        if let flow = request.flow {
            do {
                _ = try FlowSelector(flow)
            } catch {
                throw RequestError(ClientText.escaped(error.description))
            }
        }
        guard ExtractStream.running.load(ordering: .relaxed) < ExtractStream.limit else {
            throw RequestError("\(ExtractStream.limit) extractions are running; try again when one ends")
        }
        return ExtractPlan(request: request, directory: directory, readRate: sink.extractReadRate)
    }

    /// Compiles the plan's filter off the event loop, bounded in time and
    /// size (``FilterCompiler``): a filter that does not compile is an
    /// error reply, not a stream that ends at once.
    public func extractSetup(_ plan: ExtractPlan) async -> Result<ExtractPlan, RequestError> {
        if let expression = plan.request.filter, !expression.allSatisfy({ $0 == " " }) {
            if case .failure(let refusal) = await FilterCompiler.compile(
                expression, linkTypes: FilterPrograms.decodedLinkTypes)
            {
                return .failure(RequestError(refusal.description))
            }
        }
        return .success(plan)
    }
}

/// One `extract` answer on its way to a client: `labyrinthd extract`, the
/// daemon's own binary, runs as a child at the idle scheduling class (it
/// gets a CPU only when no worker wants it) and the idle I/O class, its
/// reads bounded by `[[sink]] extract_read_rate`; its standard output is a
/// pipe this event loop forwards to the client, reading no faster than
/// the client takes. Its report (standard error, a memfd) is logged when
/// it exits. A client that goes kills it.
final class ExtractStream: @unchecked Sendable {
    static let running = Atomic<Int>(0)
    static let limit = 2

    let pid: pid_t
    /// The pipe's read end, until `start` hands it to SwiftNIO.
    private var output: Descriptor
    /// The child's standard error, read for its report when it ends.
    let report: SharedDescriptor
    let client: any Channel
    /// The `ok` line, sent with the child's first bytes: a child that ends
    /// before it writes any (a bad request, every file damaged) is an error
    /// reply instead, never an empty stream.
    let answer: JSON
    var answered = false
    var pipe: (any Channel)? = nil
    var ended = false
    var reaped = false

    private init(
        pid: pid_t, output: consuming Descriptor, report: consuming Descriptor, client: any Channel, answer: JSON
    ) {
        self.pid = pid
        self.output = output
        self.report = SharedDescriptor(report)
        self.client = client
        self.answer = answer
    }

    /// Starts the child; an error when it cannot start.
    static func spawn(_ plan: ExtractPlan, client: any Channel, answer: JSON) -> Result<ExtractStream, RequestError> {
        var fds: [Int32] = [-1, -1]
        let piped = fds.withUnsafeMutableBufferPointer { clinux_pipe($0.baseAddress) }
        guard piped == 0 else { return .failure(RequestError("cannot make a pipe: \(Errno(rawValue: -piped))")) }
        let readEnd = Descriptor(adopting: fds[0])
        let writeEnd = Descriptor(adopting: fds[1])
        let memfd = Descriptor(adopting: clinux_memfd("labyrinth-extract-report"))
        guard memfd.isOpen else {
            return .failure(RequestError("cannot make a memfd: \(Errno(rawValue: -memfd.rawValue))"))
        }
        let r = plan.request
        // Values go as `--name=value`, so that one starting with "-" (a
        // negative time) is never read as an option; the filter goes through
        // standard input, out of the command line that `ps` shows.
        var arguments = [
            "/proc/self/exe", "extract", "--background", "--json", "--dir=\(plan.directory)", "-w", "-",
            "--read-rate=\(plan.readRate)B", "--format=\(r.format ?? "pcapng")",
        ]
        if let from = r.from { arguments.append("--from=\(from)") }
        if let to = r.to { arguments.append("--to=\(to)") }
        if let flow = r.flow { arguments.append("--flow=\(flow)") }
        var input = Descriptor(adopting: -1)
        if let filter = r.filter, !filter.allSatisfy({ $0 == " " }) {
            arguments.append("--filter-from-stdin")
            switch FilterPipe.holding(filter) {
            case .success(let d): input = d
            case .failure(let e): return .failure(RequestError("cannot pass the filter: \(e)"))
            }
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if input.isOpen {
            posix_spawn_file_actions_adddup2(&actions, input.rawValue, 0)
        } else {
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        }
        posix_spawn_file_actions_adddup2(&actions, writeEnd.rawValue, 1)
        posix_spawn_file_actions_adddup2(&actions, memfd.rawValue, 2)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // The daemon blocks SIGTERM and SIGINT for its signal handling:
        // the child starts with none blocked.
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK))
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        // Idle from its first instruction: the child's constructor reads
        // LABYRINTH_IDLE before any thread starts, so all of them inherit
        // SCHED_IDLE and the idle I/O class.
        var environment: [UnsafeMutablePointer<CChar>?] = [strdup("LABYRINTH_IDLE=1")]
        var e = environ
        while let entry = e.pointee {
            if strncmp(entry, "LABYRINTH_IDLE=", 15) != 0 { environment.append(strdup(entry)) }
            e += 1
        }
        environment.append(nil)
        defer { for p in environment { free(p) } }
        var pid = pid_t()
        let rc = posix_spawn(&pid, "/proc/self/exe", &actions, &attributes, &argv, &environment)
        writeEnd.close()
        guard rc == 0 else {
            return .failure(RequestError("cannot start the extraction: \(Errno(rawValue: rc))"))
        }
        running.wrappingAdd(1, ordering: .relaxed)
        return .success(ExtractStream(pid: pid, output: readEnd, report: memfd, client: client, answer: answer))
    }

    /// Forwards the child's output to the client on `loop`.
    func start(on loop: any EventLoop) {
        let stream = self
        // SwiftNIO's from here: the channel closes it.
        let input = output.take().release()
        let future = NIOPipeBootstrap(group: loop)
            .channelOption(.autoRead, value: true)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ExtractForwarder(stream: stream))
                }
            }
            .takingOwnershipOfDescriptor(input: input)
        future.assumeIsolated().whenComplete { result in
            switch result {
            case .success(let channel):
                stream.pipe = channel
                if stream.ended { channel.close(promise: nil) }
            case .failure:
                // No channel took it: ours again, to close.
                Descriptor(adopting: input).close()
                stream.abandon()
            }
        }
    }

    /// The client can take more: read on.
    func resume() {
        guard let pipe, !ended else { return }
        pipe.setOption(ChannelOptions.autoRead, value: true).whenSuccess { pipe.read() }
    }

    /// The first bytes are here: the client gets the `ok` line first.
    func sendAnswer() {
        guard !answered else { return }
        answered = true
        StatsConnectionHandler.write(client, answer, close: false)
    }

    /// The child's output ended: the client gets the rest, then the close;
    /// or, when it wrote nothing, the child's error as the reply.
    func finished() {
        guard !ended else { return }
        ended = true
        let client = self.client
        if answered {
            client.writeAndFlush(client.allocator.buffer(capacity: 0)).whenComplete { _ in client.close(promise: nil) }
            reap(kill: false)
        } else {
            reap(kill: false) { code, last in
                client.eventLoop.execute {
                    let message =
                        code == 0
                        ? "the extraction wrote nothing (\(ClientText.escaped(last)))"
                        : "the extraction failed (exit \(code)): \(ClientText.escaped(last))"
                    StatsConnectionHandler.write(client, ReplyEnvelope.error(message), close: true)
                }
            }
        }
    }

    /// The client went: the child is killed.
    func abandon() {
        guard !ended else { return }
        ended = true
        pipe?.close(promise: nil)
        reap(kill: true)
    }

    /// Waits for the child on a thread of its own, then logs its report.
    func reap(kill killing: Bool, then: (@Sendable (Int32, String) -> Void)? = nil) {
        guard !reaped else { return }
        reaped = true
        let pid = self.pid
        let report = self.report
        if killing { kill(pid, SIGTERM) }
        let reaper: @Sendable () -> Void = {
            let status = (try? Syscall.waitForChild(pid).get()) ?? 0
            ExtractStream.running.wrappingSubtract(1, ordering: .relaxed)
            var text = [UInt8](repeating: 0, count: 65_536)
            let n = text.withUnsafeMutableBytes { pread(report.rawValue, $0.baseAddress, $0.count, 0) }
            let lines = String(decoding: text.prefix(Swift.max(0, n)), as: UTF8.self).split(separator: "\n")
            let last = lines.last.map(String.init) ?? ""
            let logger = Logger(label: "labyrinthd")
            let code = (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
            if killing {
                logger.info("extract: the client went; the extraction stopped")
            } else if code == 0 {
                logger.info("extract: \(ClientText.escaped(last))")
            } else {
                logger.warning("extract: exit \(code): \(ClientText.escaped(last))")
            }
            then?(code, last)
        }
        do throws(ThreadStartError) {
            try PinnedThread(name: "ctl-extract") { reaper() }.detach()
        } catch {
            reaper()
        }
    }
}

/// The pipe's handler: each read goes to the client; reading stops while
/// the client's socket is full, and resumes when it drains.
final class ExtractForwarder: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    let stream: ExtractStream

    init(stream: ExtractStream) { self.stream = stream }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        guard stream.client.isActive else { return }
        stream.sendAnswer()
        stream.client.write(buffer, promise: nil)
        if !stream.client.isWritable {
            stream.client.flush()
            _ = context.channel.setOption(ChannelOptions.autoRead, value: false)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        stream.client.flush()
    }

    func channelInactive(context: ChannelHandlerContext) {
        stream.finished()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let e = event as? ChannelEvent, e == .inputClosed { context.close(promise: nil) }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
