import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Sinks
import Synchronization

/// Limits that keep hostile HTTP clients from hurting the daemon.
public struct MetricsServerLimits: Sendable {
    /// Connections open at once.
    public var maxConnections: Int
    /// Connections one peer address may hold at once.
    public var maxConnectionsPerPeer: Int
    /// Silence on a connection before it is closed.
    public var idleTimeout: TimeAmount
    /// Time a request may take to arrive once its first byte has.
    public var requestTimeout: TimeAmount
    /// Bytes a request may have: its line, headers and any body.
    public var requestMaxBytes: Int
    /// Peers allowed (canonical IP text); empty: any.
    public var allow: Set<String>

    public init(_ m: DaemonConfiguration.MetricsSection) {
        maxConnections = m.maxConnections
        maxConnectionsPerPeer = m.connectionsPerPeer
        idleTimeout = .milliseconds(Int64(m.idleTimeout * 1000))
        requestTimeout = .milliseconds(Int64(m.requestTimeout * 1000))
        requestMaxBytes = m.requestMaxBytes
        allow = Set(m.allow)
    }
}

/// `GET /metrics` over HTTP/1.1 for Prometheus, on the stats socket's event
/// loop (NIOHTTP1 parses; the rest is here). It serves what
/// `labyrinthctl prometheus` prints, from the same function
/// (``CommandProcessor/prometheus(_:)``), in the text format or, to a
/// scraper that asks (`Accept: application/openmetrics-text`), in
/// OpenMetrics. A scrape reads counters only: the workers never know.
///
/// Anything but `GET`/`HEAD` is 405, any other path 404. A request larger
/// than `request_max_bytes` is 431, one slower than `request_timeout` 408,
/// a silent connection closes after `idle_timeout`, a peer outside `allow`
/// gets 403. A new connection is never refused for room while another can
/// give way: at `max_connections` (or at its peer's
/// `max_connections_per_peer`), it closes the oldest idle connection (of
/// that peer), else the oldest one still mid-request. A connection whose
/// request has arrived whole is being answered and never closed for room;
/// only when every one is, the newcomer gets 503. So one address that
/// holds every slot with partial requests cannot keep a scraper out.
public final class MetricsServer: Sendable {
    let channel: any Channel
    public let counters: Counters
    /// Where it listens, `ADDRESS:PORT`.
    public let address: String

    public final class Counters: Sendable {
        public init() {}
        /// Connections open now, accepted in all, refused (403, 503), and
        /// closed to make room for a new one.
        public let open = Atomic<Int>(0)
        public let accepted = Atomic<Int>(0)
        public let refused = Atomic<Int>(0)
        public let evicted = Atomic<Int>(0)
        /// Requests answered 200, and answered otherwise (4xx, 5xx).
        public let scrapes = Atomic<Int>(0)
        public let rejected = Atomic<Int>(0)
    }

    public init(
        listen: IPFIXCollector, limits: MetricsServerLimits, processor: CommandProcessor, loop: any EventLoop,
        logger: Logger
    ) async throws {
        let counters = processor.state.metricsHTTP
        let table = try await loop.submit { NIOLoopBound(MetricsConnections(), eventLoop: loop) }.get()
        let bootstrap = ServerBootstrap(group: loop)
            .serverChannelOption(ChannelOptions.backlog, value: 1024)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let window = RequestWindow()
                    let sync = channel.pipeline.syncOperations
                    try sync.addHandler(
                        MetricsGate(limits: limits, counters: counters, table: table, window: window))
                    try sync.addHandler(IdleStateHandler(readTimeout: limits.idleTimeout))
                    try sync.addHandler(RequestLimiter(limits: limits, counters: counters, window: window))
                    try sync.configureHTTPServerPipeline(withPipeliningAssistance: true, withErrorHandling: true)
                    try sync.addHandler(MetricsHandler(processor: processor, counters: counters, window: window))
                }
            }
        channel = try await bootstrap.bind(host: listen.host, port: Int(listen.port)).get()
        self.counters = counters
        self.address = listen.description
        logger.info("metrics: http://\(listen)/metrics")
    }

    /// Stops accepting and closes the listening socket (connections go with
    /// the event loop).
    public func close() async {
        try? await channel.close()
    }

    /// A whole response written by hand, for the handlers in front of the
    /// HTTP codec (they refuse before any request is parsed). Once it is
    /// out, the connection half-closes and reads (and drops) what the client
    /// still sends until it closes, at most a second: closing with its
    /// request unread would reset the connection, and a reset can destroy
    /// the answer before the client reads it.
    static func refuse(_ context: ChannelHandlerContext, _ status: HTTPResponseStatus, _ message: String) {
        let body = message + "\n"
        let text =
            "HTTP/1.1 \(status.code) \(status.reasonPhrase)\r\nContent-Type: text/plain; charset=utf-8\r\n"
            + "Content-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)"
        let channel = context.channel
        let written = context.writeAndFlush(NIOAny(channel.allocator.buffer(string: text)))
        let deadline = channel.eventLoop.scheduleTask(in: .seconds(1)) { channel.close(promise: nil) }
        written.whenComplete { result in
            guard case .success = result else {
                deadline.cancel()
                channel.close(promise: nil)
                return
            }
            channel.close(mode: .output, promise: nil)
        }
    }
}

/// One connection's request in progress: its bytes so far and its deadline.
/// Shared by the handlers of one channel, on its event loop.
final class RequestWindow {
    var bytes = 0
    var deadline: Scheduled<Void>?
    /// A refusal is on its way: read nothing more.
    var closing = false
    /// The handler is answering a request.
    var answering = false

    /// Between requests: nothing sent, nothing owed.
    var idle: Bool { bytes == 0 && !answering }

    func reset() {
        bytes = 0
        answering = false
        deadline?.cancel()
        deadline = nil
    }
}

/// The open connections, oldest first, to close one when full.
final class MetricsConnections {
    struct Entry {
        let id: ObjectIdentifier
        let channel: any Channel
        let window: RequestWindow
        let peer: String
    }
    var entries: [Entry] = []

    func remove(_ id: ObjectIdentifier) {
        entries.removeAll { $0.id == id }
    }

    func count(of peer: String) -> Int { entries.reduce(0) { $0 + ($1.peer == peer ? 1 : 0) } }

    /// The connection to close for room (of `peer`, or of anyone): the
    /// oldest between requests, else the oldest still mid-request; nil when
    /// every one is being answered.
    func victim(of peer: String?) -> Entry? {
        let candidates = entries.lazy.filter { peer == nil || $0.peer == peer }
        return candidates.first { $0.window.idle } ?? candidates.first { !$0.window.answering }
    }
}

/// Admission: the allow list and the connection cap.
final class MetricsGate: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    let limits: MetricsServerLimits
    let counters: MetricsServer.Counters
    let table: NIOLoopBound<MetricsConnections>
    let window: RequestWindow
    var admitted = false

    init(
        limits: MetricsServerLimits, counters: MetricsServer.Counters, table: NIOLoopBound<MetricsConnections>,
        window: RequestWindow
    ) {
        self.limits = limits
        self.counters = counters
        self.table = table
        self.window = window
    }

    func channelActive(context: ChannelHandlerContext) {
        counters.open.wrappingAdd(1, ordering: .relaxed)
        let peer = context.channel.remoteAddress?.ipAddress ?? "?"
        if !limits.allow.isEmpty && !limits.allow.contains(peer) {
            counters.refused.wrappingAdd(1, ordering: .relaxed)
            window.closing = true
            MetricsServer.refuse(context, .forbidden, "forbidden: \(peer) is not in metrics.allow")
            return
        }
        let connections = table.value
        let full: [(peer: String?, limit: String)] = [
            connections.count(of: peer) >= limits.maxConnectionsPerPeer
                ? (peer, "\(limits.maxConnectionsPerPeer) from \(peer), metrics.max_connections_per_peer") : nil,
            connections.entries.count >= limits.maxConnections
                ? (nil, "\(limits.maxConnections), metrics.max_connections") : nil,
        ].compactMap { $0 }
        for (whose, limit) in full {
            // The per-peer eviction may have made room already.
            if whose == nil && connections.entries.count < limits.maxConnections { continue }
            guard let victim = connections.victim(of: whose) else {
                counters.refused.wrappingAdd(1, ordering: .relaxed)
                window.closing = true
                MetricsServer.refuse(
                    context, .serviceUnavailable, "too many connections (\(limit)), each being answered; try again")
                return
            }
            connections.remove(victim.id)
            counters.evicted.wrappingAdd(1, ordering: .relaxed)
            victim.window.closing = true
            victim.channel.close(promise: nil)
        }
        connections.entries.append(
            .init(id: ObjectIdentifier(self), channel: context.channel, window: window, peer: peer))
        admitted = true
        counters.accepted.wrappingAdd(1, ordering: .relaxed)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        counters.open.wrappingSubtract(1, ordering: .relaxed)
        if admitted { table.value.remove(ObjectIdentifier(self)) }
        window.reset()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // A refused connection reads nothing further.
        if window.closing { return }
        context.fireChannelRead(data)
    }
}

/// Bounds a request's bytes and its time before the HTTP codec sees it, and
/// closes silent connections (the idle handler's event).
final class RequestLimiter: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    let limits: MetricsServerLimits
    let counters: MetricsServer.Counters
    let window: RequestWindow

    init(limits: MetricsServerLimits, counters: MetricsServer.Counters, window: RequestWindow) {
        self.limits = limits
        self.counters = counters
        self.window = window
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if window.closing { return }
        let n = unwrapInboundIn(data).readableBytes
        if window.bytes == 0 && n > 0 && window.deadline == nil {
            let window = self.window
            let counters = self.counters
            let timeout = limits.requestTimeout
            window.deadline = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) {
                guard !window.closing && !window.answering else { return }
                window.closing = true
                counters.rejected.wrappingAdd(1, ordering: .relaxed)
                MetricsServer.refuse(
                    context, .requestTimeout,
                    "request timeout: the request did not arrive within \(timeout.nanoseconds / 1_000_000) ms (metrics.request_timeout)"
                )
            }
        }
        window.bytes &+= n
        if window.bytes > limits.requestMaxBytes {
            window.closing = true
            window.deadline?.cancel()
            counters.rejected.wrappingAdd(1, ordering: .relaxed)
            MetricsServer.refuse(
                context, .payloadTooLarge,
                "request too large: more than \(limits.requestMaxBytes) bytes (metrics.request_max_bytes)")
            return
        }
        context.fireChannelRead(data)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }
}

/// Answers parsed requests: `GET /metrics` (and `HEAD`), 404, 405.
final class MetricsHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let processor: CommandProcessor
    let counters: MetricsServer.Counters
    let window: RequestWindow
    var head: HTTPRequestHead?

    init(processor: CommandProcessor, counters: MetricsServer.Counters, window: RequestWindow) {
        self.processor = processor
        self.counters = counters
        self.window = window
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h):
            head = h
            window.answering = true
        case .body:
            break
        case .end:
            guard let h = head.take() else { return }
            respond(context, h)
        }
    }

    /// What a request gets: status, content type and body.
    static func answer(
        method: HTTPMethod, uri: String, accept: String, processor: CommandProcessor
    ) -> (HTTPResponseStatus, String, String) {
        let path = uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        let plain = "text/plain; charset=utf-8"
        guard method == .GET || method == .HEAD else {
            return (.methodNotAllowed, plain, "method not allowed: \(method.rawValue); /metrics takes GET or HEAD\n")
        }
        guard path == "/metrics" else {
            return (.notFound, plain, "not found: this server has /metrics only\n")
        }
        let format: CommandProcessor.ExpositionFormat =
            accept.contains("application/openmetrics-text") ? .openMetrics : .text
        return (.ok, format.contentType, processor.prometheus(format))
    }

    func respond(_ context: ChannelHandlerContext, _ request: HTTPRequestHead) {
        let (status, type, body) = Self.answer(
            method: request.method, uri: request.uri, accept: request.headers["accept"].joined(separator: ","),
            processor: processor)
        if status == .ok {
            counters.scrapes.wrappingAdd(1, ordering: .relaxed)
        } else {
            counters.rejected.wrappingAdd(1, ordering: .relaxed)
        }
        let keepAlive = request.isKeepAlive && status != .methodNotAllowed
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: type)
        headers.add(name: "Content-Length", value: "\(body.utf8.count)")
        if status == .methodNotAllowed { headers.add(name: "Allow", value: "GET, HEAD") }
        headers.add(name: "Connection", value: keepAlive ? "keep-alive" : "close")
        context.write(
            wrapOutboundOut(.head(HTTPResponseHead(version: request.version, status: status, headers: headers))),
            promise: nil)
        if request.method != .HEAD {
            context.write(
                wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: body)))), promise: nil)
        }
        let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        window.reset()
        if !keepAlive {
            let channel = context.channel
            done.whenComplete { _ in channel.close(promise: nil) }
        }
    }
}
