import Logging
import NIOCore
import NIOPosix
import StatsProtocol
import Synchronization
import Syscalls

#if canImport(Glibc)
import Glibc
#endif

/// Limits that keep hostile clients from hurting the daemon.
public struct StatsServerLimits: Sendable {
    /// Readers' connections (the socket group) open at once, at most.
    public var maxClients: Int
    /// Connections one uid may hold, at most (root and the daemon's user
    /// are exempt).
    public var maxClientsPerUser: Int
    /// Connections beyond `maxClients` that only root, the daemon's user
    /// and the admin group may take.
    public var reservedClients: Int
    public var requestMaxBytes: Int
    /// Silence between requests before the connection is closed.
    public var idleTimeout: Duration
    /// Time a request may take to arrive once its first byte has.
    public var requestTimeout: Duration
    /// The gid allowed to read counters besides root and the daemon's own
    /// user (nil: none).
    public var group: gid_t?
    /// The gid allowed to act (replay…) besides root and the daemon's own
    /// user (nil: none).
    public var adminGroup: gid_t?

    public init(
        maxClients: Int, requestMaxBytes: Int, idleTimeout: Duration, requestTimeout: Duration, group: gid_t?,
        adminGroup: gid_t? = nil, maxClientsPerUser: Int? = nil, reservedClients: Int = 8
    ) {
        self.maxClients = maxClients
        self.maxClientsPerUser = maxClientsPerUser ?? max(1, maxClients / 8)
        self.reservedClients = reservedClients
        self.requestMaxBytes = requestMaxBytes
        self.idleTimeout = idleTimeout
        self.requestTimeout = requestTimeout
        self.group = group
        self.adminGroup = adminGroup
    }
}

/// The stats socket: a Unix stream socket speaking newline-delimited JSON,
/// served by SwiftNIO on the control plane's own event loop.
public final class StatsServer: Sendable {
    let group: MultiThreadedEventLoopGroup
    let channel: any Channel
    let clients: Clients
    /// The socket path this server made (nil when systemd handed it over).
    public let path: String?

    final class Clients: Sendable {
        let count = Atomic<Int>(0)
        let accepted = Atomic<Int>(0)
        let refused = Atomic<Int>(0)
    }

    /// Serves on `listeningSocket` (socket activation) or binds `path` with
    /// `mode` and `gid`.
    public init(
        path: String, listeningSocket: Int32?, mode: UInt32, gid: gid_t?, limits: StatsServerLimits,
        processor: CommandProcessor, logger: Logger
    ) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let clients = Clients()
        let loop = group.next()
        let budget = processor.state.requestBudget
        let throttle = try await loop.submit { NIOLoopBound(Throttle(budget: budget), eventLoop: loop) }.get()
        let table = try await loop.submit { NIOLoopBound(ConnectionTable(), eventLoop: loop) }.get()
        let bootstrap = ServerBootstrap(group: loop)
            .serverChannelOption(ChannelOptions.backlog, value: 4096)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    try sync.addHandler(
                        IdleStateHandler(readTimeout: TimeAmount(limits.idleTimeout)), name: StatsServer.idleHandler)
                    try sync.addHandler(
                        StatsConnectionHandler(
                            limits: limits, processor: processor, clients: clients, throttle: throttle, table: table,
                            logger: logger))
                }
            }
        do {
            if let fd = listeningSocket {
                channel = try await bootstrap.withBoundSocket(fd).get()
                self.path = nil
            } else {
                try StatsServer.prepare(path: path)
                channel = try await bootstrap.bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true).get()
                if case .failure(let e) = Syscall.nothingOrErrno({ chmod(path, mode_t(mode)) }) {
                    throw StatsServerError("chmod \(path)", errno: e)
                }
                if let gid, case .failure(let e) = Syscall.nothingOrErrno({ chown(path, uid_t.max, gid) }) {
                    throw StatsServerError("chown \(path) to group \(gid)", errno: e)
                }
                self.path = path
            }
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
        self.group = group
        self.clients = clients
    }

    /// The idle timeout's handler, removed from a connection that becomes
    /// a live tap (a tap's client sends nothing).
    static let idleHandler = "idle"

    /// Creates the socket's directory when missing.
    /// Whether a process listens on the Unix socket at `path`.
    static func answers(on path: String) -> Bool {
        var existing = stat()
        guard lstat(path, &existing) == 0 && existing.st_mode & S_IFMT == S_IFSOCK else { return false }
        do throws(StatsClientError) {
            let client = try StatsClient(path: path, timeoutSeconds: 1)
            _ = consume client
            return true
        } catch {
            return false
        }
    }

    static func prepare(path: String) throws {
        // A socket file that answers belongs to a running daemon: binding
        // over it (SwiftNIO removes an existing socket file) would steal
        // its address. One that refuses is a dead daemon's, and goes.
        if answers(on: path) { throw StatsServerError("another process answers on \(path)", errno: .addressInUse) }
        let dir = String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)])
        guard !dir.isEmpty else { return }
        var st = stat()
        if stat(dir, &st) == 0 { return }
        if case .failure(let e) = Syscall.nothingOrErrno({ mkdir(dir, 0o755) }), e != .fileExists {
            throw StatsServerError("cannot create \(dir) for the stats socket", errno: e)
        }
    }

    /// Connections open now, accepted in all, refused in all.
    public var clientCount: (open: Int, accepted: Int, refused: Int) {
        (
            clients.count.load(ordering: .relaxed), clients.accepted.load(ordering: .relaxed),
            clients.refused.load(ordering: .relaxed)
        )
    }

    /// Stops accepting, closes every connection and removes the socket file.
    public func close() async {
        try? await channel.close()
        try? await group.shutdownGracefully()
        if let path { unlink(path) }
    }
}

/// A socket server that could not start (the stats, replay or metrics
/// socket), with the system call's `Errno` when one failed.
public struct StatsServerError: ErrnoCarrying, CustomStringConvertible {
    public var description: String
    public var errno: Errno?

    init(_ description: String) {
        self.description = description
        errno = nil
    }

    /// `context`, then the system call's error.
    init(_ context: String, errno: Errno) {
        description = "\(context): \(errno)"
        self.errno = errno
    }

    /// `error` said in `context`; its `Errno` kept (SwiftNIO's `IOError`
    /// included).
    init(_ context: String, wrapping error: any Error) {
        description = "\(context): \(error)"
        errno = Errno.behind(error) ?? (error as? IOError).map { Errno(rawValue: $0.errnoCode) }
    }
}

/// One client: frames requests by newline, enforces the size cap, the
/// request deadline, the idle timeout and the credential check, and answers
/// requests one at a time, in order.
final class StatsConnectionHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let limits: StatsServerLimits
    let processor: CommandProcessor
    let clients: StatsServer.Clients
    let logger: Logger
    var line: [UInt8] = []
    /// Skipping the rest of an oversized request until its newline.
    var discarding = false
    var requestDeadline: Scheduled<Void>?
    var queue: [Request] = []
    var busy = false
    var counted = false
    var closing = false
    /// Requests wait here until the peer's credentials have been checked.
    var verified = false
    /// What the peer may do, once checked.
    var access = Access.read
    /// Who the peer is (uid and groups), once checked.
    var peer: Peer?
    /// Waiting in the throttle's line for the answer budget to refill.
    var throttled = false
    /// The throttle took a token for this connection's next answer.
    var prepaid = false
    let throttle: NIOLoopBound<Throttle>
    /// Who holds the server's connections (per uid, readers, admins).
    let table: NIOLoopBound<ConnectionTable>
    /// This connection's place in the table, once admitted.
    var admitted: ConnectionTable.Holder?
    /// False while backpressure has stopped reading.
    var reading = true
    /// The live tap this connection has become, if it has.
    var tap: TapStream?
    var extract: ExtractStream?

    enum Request {
        case line(String)
        case oversized
    }

    init(
        limits: StatsServerLimits, processor: CommandProcessor, clients: StatsServer.Clients,
        throttle: NIOLoopBound<Throttle>, table: NIOLoopBound<ConnectionTable>, logger: Logger
    ) {
        self.limits = limits
        self.processor = processor
        self.clients = clients
        self.throttle = throttle
        self.table = table
        self.logger = logger
    }

    /// The connection policy (README, "Who may connect"):
    /// - at most `max_clients` readers (the socket group) at once;
    /// - at most `max_clients_per_user` connections of any one uid but
    ///   root's and the daemon's own;
    /// - `reserved_clients` more that only the admin group may take, so a
    ///   socket full of readers still answers them;
    /// - root and the daemon's own user always get in: no cap counts them.
    /// Every limit needs the peer's credentials (SO_PEERCRED, read at once),
    /// so ``admit(_:uid:access:)`` applies them all.
    func channelActive(context: ChannelHandlerContext) {
        clients.count.wrappingAdd(1, ordering: .relaxed)
        counted = true
        checkCredentials(context)
        context.fireChannelActive()
    }

    /// Takes this connection's place by its peer's uid and access; false
    /// (and refused) when a limit stands in the way.
    func admit(_ context: ChannelHandlerContext, uid: uid_t, access: Access) -> Bool {
        let table = self.table.value
        let place: ConnectionTable.Place =
            uid == 0 || uid == geteuid() ? .exempt : access == .act ? .admin : .reader
        switch place {
        case .exempt:
            break
        case .admin, .reader:
            if table.connections(of: uid) >= limits.maxClientsPerUser {
                refuseForLimit(
                    context,
                    "too many connections from uid \(uid) (\(limits.maxClientsPerUser) at once, daemon.max_clients_per_user); try again later"
                )
                return false
            }
            if place == .reader && table.readers >= limits.maxClients {
                refuseForLimit(
                    context,
                    "too many clients (\(table.readers) readers at once, daemon.max_clients = \(limits.maxClients)); try again later"
                )
                return false
            }
            let places = limits.maxClients + limits.reservedClients
            if place == .admin && table.readers + table.admins >= places {
                refuseForLimit(
                    context,
                    "too many clients (\(table.readers) readers and \(table.admins) of the admin group: all \(places) places, daemon.max_clients + daemon.reserved_clients, are taken); try again later"
                )
                return false
            }
        }
        admitted = table.admit(uid: uid, place: place)
        clients.accepted.wrappingAdd(1, ordering: .relaxed)
        return true
    }

    /// Refuses for a limit, giving the slot back at once: a client that
    /// does not read its refusal must not hold a place meanwhile.
    func refuseForLimit(_ context: ChannelHandlerContext, _ message: String) {
        clients.refused.wrappingAdd(1, ordering: .relaxed)
        if counted {
            clients.count.wrappingSubtract(1, ordering: .relaxed)
            counted = false
        }
        refuse(context, message)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if counted {
            clients.count.wrappingSubtract(1, ordering: .relaxed)
            counted = false
        }
        if let holder = admitted.take() { table.value.release(holder) }
        requestDeadline?.cancel()
        tap?.abandon()
        extract?.abandon()
        context.fireChannelInactive()
    }

    func checkCredentials(_ context: ChannelHandlerContext) {
        guard let provider = context.channel as? any SocketOptionProvider else {
            refuse(context, "cannot read your credentials (not a Unix socket)")
            return
        }
        let future: EventLoopFuture<PeerCredentials.Raw> = provider.unsafeGetSocketOption(
            level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(SO_PEERCRED))
        future.assumeIsolated().whenComplete { result in
            guard case .success(let cred) = result else {
                self.refuse(context, "cannot read your credentials (SO_PEERCRED)")
                return
            }
            let peer = Peer(
                uid: cred.uid,
                groups: [cred.gid]
                    + (cred.uid == 0 || cred.uid == geteuid() ? [] : PeerCredentials.supplementaryGroups(pid: cred.pid))
            )
            guard
                let access = PeerCredentials.access(peer, group: self.limits.group, adminGroup: self.limits.adminGroup)
            else {
                self.clients.refused.wrappingAdd(1, ordering: .relaxed)
                self.logger.warning(
                    "stats socket: refused a client", metadata: ["uid": "\(cred.uid)", "pid": "\(cred.pid)"])
                self.refuse(
                    context, "permission denied: uid \(cred.uid) is neither root nor in the daemon's socket group")
                return
            }
            guard self.admit(context, uid: cred.uid, access: access) else { return }
            self.access = access
            self.peer = peer
            self.verified = true
            self.drain(context)
        }
    }

    func refuse(_ context: ChannelHandlerContext, _ message: String) {
        closing = true
        Self.write(context.channel, ReplyEnvelope.error(message), close: true)
    }

    /// Writes one reply line. With `close`, stops reading and closes once
    /// the line is out, or after a second if the client does not read.
    static func write(_ channel: any Channel, _ reply: JSON, close: Bool) {
        var bytes = reply.bytes
        bytes.append(UInt8(ascii: "\n"))
        let buffer = channel.allocator.buffer(bytes: bytes)
        let written = channel.writeAndFlush(buffer)
        guard close else { return }
        _ = channel.setOption(ChannelOptions.autoRead, value: false)
        let deadline = channel.eventLoop.scheduleTask(in: .seconds(1)) { channel.close(promise: nil) }
        written.whenComplete { _ in
            deadline.cancel()
            channel.close(promise: nil)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // A tap's client says it is done by sending anything: the frames
        // taken so far still go out, then the statistics.
        if let tap {
            tap.end()
            return
        }
        if closing || extract != nil { return }
        let buffer = unwrapInboundIn(data)
        for byte in buffer.readableBytesView {
            if line.isEmpty && !discarding && requestDeadline == nil {
                startDeadline(context)
            }
            if byte == UInt8(ascii: "\n") {
                requestDeadline?.cancel()
                requestDeadline = nil
                if discarding {
                    queue.append(.oversized)
                    discarding = false
                } else {
                    var text = String(decoding: line, as: UTF8.self)
                    if text.hasSuffix("\r") { text.removeLast() }
                    if !text.allSatisfy({ $0 == " " || $0 == "\t" }) { queue.append(.line(text)) }
                }
                line.removeAll(keepingCapacity: true)
                drain(context)
                if closing { return }
                continue
            }
            if discarding { continue }
            line.append(byte)
            if line.count > limits.requestMaxBytes {
                discarding = true
                line.removeAll(keepingCapacity: false)
            }
        }
        drain(context)
        // Backpressure: a client far ahead of its answers (pipelining past
        // the answer budget, or not reading its replies) is not read from
        // until it catches up; if it never does, the idle timeout ends it.
        if queue.count >= Self.maxQueued && reading {
            reading = false
            _ = context.channel.setOption(ChannelOptions.autoRead, value: false)
        }
    }

    func startDeadline(_ context: ChannelHandlerContext) {
        let channel = context.channel
        let timeout = limits.requestTimeout
        requestDeadline = context.eventLoop.scheduleTask(in: TimeAmount(timeout)) {
            Self.write(
                channel, ReplyEnvelope.error("request not finished within \(timeout) (send a whole line at once)"),
                close: true)
        }
    }

    /// Answers queued requests one at a time, in order.
    /// Requests a client may have waiting before the server stops reading
    /// from it (reading resumes below half of it).
    static let maxQueued = 256

    func drain(_ context: ChannelHandlerContext) {
        while verified, !closing, !busy, !throttled, tap == nil, extract == nil, !queue.isEmpty,
            context.channel.isWritable
        {
            if prepaid {
                prepaid = false
            } else if let wait = processor.state.requestBudget.take() {
                throttled = true
                throttle.value.wait(after: wait, on: context.eventLoop) {
                    self.throttled = false
                    self.prepaid = true
                    self.drain(context)
                }
                return
            }
            let request = queue.removeFirst()
            if !reading && queue.count < Self.maxQueued / 2 {
                reading = true
                _ = context.channel.setOption(ChannelOptions.autoRead, value: true)
                context.read()
            }
            switch request {
            case .oversized:
                Self.write(
                    context.channel,
                    ReplyEnvelope.error("request larger than \(limits.requestMaxBytes) bytes: ignored"), close: false
                )
            case .line(let text):
                switch processor.prepare(line: text, access: access, peer: peer) {
                case .reply(let reply):
                    Self.write(context.channel, reply, close: false)
                case .tap(let plan):
                    // The filter compiles on a thread of its own: this loop
                    // goes on serving everyone else meanwhile.
                    busy = true
                    let processor = self.processor
                    let setup = context.eventLoop.makeFutureWithTask { await processor.tapSetup(plan) }
                    setup.assumeIsolated().whenSuccess { result in
                        self.busy = false
                        // A client gone meanwhile gets no tap.
                        guard context.channel.isActive, !self.closing else { return }
                        switch result {
                        case .success(let setup): self.startTap(context, setup)
                        case .failure(let error):
                            Self.write(context.channel, ReplyEnvelope.error(error.message), close: false)
                            self.drain(context)
                        }
                    }
                    return
                case .extract(let plan):
                    // The filter compiles on a thread of its own, as a tap's.
                    busy = true
                    let processor = self.processor
                    let setup = context.eventLoop.makeFutureWithTask { await processor.extractSetup(plan) }
                    setup.assumeIsolated().whenSuccess { result in
                        self.busy = false
                        guard context.channel.isActive, !self.closing else { return }
                        switch result {
                        case .success(let plan): self.startExtract(context, plan)
                        case .failure(let error):
                            Self.write(context.channel, ReplyEnvelope.error(error.message), close: false)
                            self.drain(context)
                        }
                    }
                    return
                case .deferred(let request):
                    busy = true
                    let processor = self.processor
                    let reply = context.eventLoop.makeFutureWithTask { await processor.finish(request) }
                    reply.assumeIsolated().whenSuccess { reply in
                        Self.write(context.channel, reply, close: false)
                        self.busy = false
                        self.drain(context)
                    }
                }
            }
        }
    }

    /// Turns this connection into a live tap: opens it on the board, waits
    /// (at most 2 s) for every worker to take it up, then answers and
    /// streams. Requests queued behind it are dropped: the connection
    /// carries pcapng from here on.
    func startTap(_ context: ChannelHandlerContext, _ setup: TapSetup) {
        let state = processor.state
        guard let board = state.taps else { return }
        let exited: (Int) -> Bool = { state.workers[$0].exited }
        guard let (slot, generation) = board.open(setup.spec, exited: exited) else {
            Self.write(
                context.channel,
                ReplyEnvelope.error(
                    "\(board.limit) live taps are open (daemon.max_taps), or one just ended; try again later"),
                close: false)
            return
        }
        queue.removeAll()
        requestDeadline?.cancel()
        requestDeadline = nil
        let channel = context.channel
        let stream = TapStream(channel: channel, board: board, state: state, setup: setup, slot: slot) {}
        tap = stream
        state.wakeWorkers()
        let giveUp = state.clock() &+ 2_000_000_000
        let loop = context.eventLoop
        func begin() {
            if stream.ended { return }
            if !board.applied(generation, exited: exited) && state.clock() < giveUp {
                loop.assumeIsolated().scheduleTask(in: .milliseconds(1)) { begin() }
                return
            }
            _ = context.pipeline.syncOperations.removeHandler(name: StatsServer.idleHandler)
            let reply = DumpReply(
                tap: slot, filter: setup.request.filter, interface: setup.request.interface,
                linkTypes: (setup.spec.filter?.linkTypes ?? TapSetup.linkTypes).map { Int($0) },
                bufferBytes: board.ringCapacity, workers: state.workers.count)
            Self.write(channel, ReplyEnvelope.ok(reply), close: false)
            stream.start()
        }
        begin()
    }

    /// Turns this connection into an extraction's answer: starts the child,
    /// answers, then forwards its output. Requests queued behind it are
    /// dropped: the connection carries pcapng from here on.
    func startExtract(_ context: ChannelHandlerContext, _ plan: ExtractPlan) {
        let stream: ExtractStream
        let reply = ExtractReply(
            directory: plan.directory, readRate: plan.readRate, format: plan.request.format ?? "pcapng")
        switch ExtractStream.spawn(plan, client: context.channel, answer: ReplyEnvelope.ok(reply)) {
        case .success(let s): stream = s
        case .failure(let error):
            Self.write(context.channel, ReplyEnvelope.error(error.message), close: false)
            drain(context)
            return
        }
        queue.removeAll()
        requestDeadline?.cancel()
        requestDeadline = nil
        extract = stream
        _ = context.pipeline.syncOperations.removeHandler(name: StatsServer.idleHandler)
        stream.start(on: context.eventLoop)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if let extract, context.channel.isWritable { extract.resume() }
        if let tap, context.channel.isWritable { tap.drain(final: false) }
        drain(context)
        context.fireChannelWritabilityChanged()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            if tap != nil || extract != nil { return }
            refuse(context, "idle for \(limits.idleTimeout): closing")
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

/// Who holds the stats socket's connections: per uid, and how many are
/// readers, how many of the admin group, and how many root's or the
/// daemon's user's. Lives on the server's one event loop.
final class ConnectionTable {
    /// Which limit a connection counts against.
    enum Place {
        /// The socket group: `max_clients`.
        case reader
        /// The admin group: `max_clients` + `reserved_clients`, with the readers.
        case admin
        /// Root and the daemon's user: no limit.
        case exempt
    }

    private var byUser: [uid_t: Int] = [:]
    private(set) var readers = 0
    private(set) var admins = 0
    private(set) var exempt = 0

    /// A connection's place, given back by ``release(_:)``.
    struct Holder {
        let uid: uid_t
        let place: Place
    }

    func connections(of uid: uid_t) -> Int { byUser[uid] ?? 0 }

    func admit(uid: uid_t, place: Place) -> Holder {
        byUser[uid, default: 0] += 1
        switch place {
        case .reader: readers += 1
        case .admin: admins += 1
        case .exempt: exempt += 1
        }
        return Holder(uid: uid, place: place)
    }

    func release(_ holder: Holder) {
        let left = (byUser[holder.uid] ?? 1) - 1
        byUser[holder.uid] = left > 0 ? left : nil
        switch holder.place {
        case .reader: readers -= 1
        case .admin: admins -= 1
        case .exempt: exempt -= 1
        }
    }
}

/// The line of connections waiting for the answer budget: one timer for
/// all of them, tokens handed out in arrival order (no thundering herd of
/// per-connection retries). Lives on the server's one event loop.
final class Throttle {
    let budget: RequestBudget
    var waiting: [() -> Void] = []
    var timer = false

    init(budget: RequestBudget) {
        self.budget = budget
    }

    /// Queues `resume`, to be called with a token taken for it.
    func wait(after nanoseconds: UInt64, on loop: any EventLoop, _ resume: @escaping () -> Void) {
        waiting.append(resume)
        schedule(after: nanoseconds, on: loop)
    }

    func schedule(after nanoseconds: UInt64, on loop: any EventLoop) {
        guard !timer else { return }
        timer = true
        loop.assumeIsolated().scheduleTask(in: .nanoseconds(Int64(nanoseconds))) {
            self.timer = false
            self.release(on: loop)
        }
    }

    func release(on loop: any EventLoop) {
        while !waiting.isEmpty {
            if let next = budget.take() {
                schedule(after: next, on: loop)
                return
            }
            waiting.removeFirst()()
        }
    }
}

/// Who may use the stats socket: root, the daemon's own user, and members
/// of the configured group (primary or supplementary, as the kernel sees
/// the peer process).
enum PeerCredentials {
    /// `struct ucred` (SO_PEERCRED), which glibc hides without _GNU_SOURCE.
    struct Raw: Sendable {
        var pid: pid_t
        var uid: uid_t
        var gid: gid_t
    }

    /// What a peer may do: act (root, the daemon's user, the admin group),
    /// read (the socket group), or nothing (nil).
    static func access(uid: uid_t, gid: gid_t, pid: pid_t, group: gid_t?, adminGroup: gid_t?) -> Access? {
        access(Peer(uid: uid, groups: [gid] + supplementaryGroups(pid: pid)), group: group, adminGroup: adminGroup)
    }

    /// What `peer` may do (its groups read already).
    static func access(_ peer: Peer, group: gid_t?, adminGroup: gid_t?) -> Access? {
        if peer.uid == 0 || peer.uid == geteuid() { return .act }
        if let adminGroup, peer.groups.contains(adminGroup) { return .act }
        if let group, peer.groups.contains(group) { return .read }
        return nil
    }

    /// The "Groups:" line of /proc/PID/status.
    static func supplementaryGroups(pid: pid_t) -> [gid_t] {
        guard let f = fopen("/proc/\(pid)/status", "r") else { return [] }
        defer { fclose(f) }
        var buffer = [CChar](repeating: 0, count: 4096)
        while fgets(&buffer, Int32(buffer.count), f) != nil {
            let text = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if text.hasPrefix("Groups:") {
                return text.dropFirst(7).split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).compactMap {
                    gid_t($0)
                }
            }
        }
        return []
    }
}

extension TimeAmount {
    init(_ d: Duration) {
        let (s, a) = d.components
        self = .nanoseconds(s * 1_000_000_000 + a / 1_000_000_000)
    }
}
