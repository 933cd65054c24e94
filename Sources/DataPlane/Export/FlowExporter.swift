import CRoomsSupport
import Sinks
import StatsProtocol
import Synchronization
import Syscalls

#if canImport(Glibc)
import Glibc
#endif

/// What the exporter counted; `attempted = sent + failed` for messages.
public struct FlowExporterCounters: Sendable, Equatable {
    public var records = 0
    public var flows = 0
    public var messagesSent = 0
    public var messagesFailed = 0
    /// Messages that could not be encoded; the last one's error is
    /// `lastError`.
    public var encodingFailures = 0
    public var templateRecords = 0
    public var bytesSent = 0
    public var lastError: String? = nil
}

/// The exporter thread: drains the workers' rings of ended flows, encodes
/// them as IPFIX (RFC 7011) and sends them over UDP to every collector,
/// each with its own sequence numbers. It never blocks a worker: a worker
/// whose ring is full counts a drop. A collector that refuses (ECONNREFUSED
/// on a later send, ENOBUFS) costs counted, rate-limited-logged failures,
/// never a wait.
public final class FlowExporter: @unchecked Sendable {
    public let options: FlowExportOptions
    let rings: [FlowExportRing]
    /// One connected socket per collector, closed with the exporter.
    private let sockets: [SharedDescriptor]
    private var sessions: [IPFIXExportSession]
    /// The errno of each collector's last failed send: the error text is
    /// built when it changes, not for every message a dead collector costs.
    private var lastErrnos: [Int32]
    private let stopFlag = Atomic<Int>(0)
    private let state = Mutex(FlowExporterCounters())
    private var thread: PinnedThread? = nil
    private var ringDropsSeen = (records: 0, packets: 0, octets: 0)

    /// Opens a connected UDP socket to each collector (resolving names once).
    public init(options: FlowExportOptions, rings: [FlowExportRing]) throws(ExportError) {
        self.options = options
        self.rings = rings
        if let problem = options.ipfix.problem { throw ExportError("IPFIX: \(problem)") }
        var sockets: [SharedDescriptor] = []
        var sessions: [IPFIXExportSession] = []
        for collector in options.collectors {
            do {
                sockets.append(SharedDescriptor(try Self.connect(collector)))
                sessions.append(try IPFIXExportSession(options.ipfix))
            } catch let e as ExportError {
                throw e
            } catch {
                throw ExportError("IPFIX: \(error)")
            }
        }
        self.sockets = sockets
        self.sessions = sessions
        lastErrnos = Array(repeating: 0, count: sessions.count)
    }

    public struct ExportError: ErrnoCarrying, Sendable, CustomStringConvertible {
        public var description: String
        public var errno: Errno?
        init(_ description: String, errno: Errno? = nil) {
            self.description = errno.map { "\(description): \($0)" } ?? description
            self.errno = errno
        }
    }

    /// A non-blocking UDP socket connected to `collector`.
    static func connect(_ collector: IPFIXCollector) throws -> Descriptor {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_DGRAM.rawValue)
        hints.ai_flags = AI_NUMERICSERV
        var result: UnsafeMutablePointer<addrinfo>? = nil
        let rc = getaddrinfo(collector.host, String(collector.port), &hints, &result)
        guard rc == 0, let first = result else {
            throw ExportError("IPFIX collector \(collector): \(String(cString: gai_strerror(rc)))")
        }
        defer { freeaddrinfo(result) }
        let owned = Descriptor(
            adopting: socket(
                first.pointee.ai_family,
                Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0))
        guard owned.isOpen else { throw ExportError("IPFIX collector \(collector): socket", errno: .current) }
        let fd = owned.rawValue
        // A large send buffer: bursts of records leave without ENOBUFS.
        var size: Int32 = 4 << 20
        _ = setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        if Glibc.connect(fd, first.pointee.ai_addr, first.pointee.ai_addrlen) != 0 {
            throw ExportError("IPFIX collector \(collector): connect", errno: .current)
        }
        return owned
    }

    /// Starts the thread, on `cpus` (nil: where the caller runs).
    public func start(cpus: [Int]?) throws(ThreadStartError) {
        thread = try PinnedThread(name: "ctl-ipfix", cpus: cpus) { [self] in run() }
    }

    /// Exports what the rings still hold, then stops. Call after the
    /// workers have stopped (and flushed their flows) for a complete export.
    public func finish() {
        stopFlag.store(1, ordering: .releasing)
        if let t = thread.take() { t.join() }
    }

    public var counters: FlowExporterCounters { state.withLock { $0 } }

    // MARK: The loop

    func run() {
        let buffer = UnsafeMutableRawBufferPointer.allocate(
            byteCount: Swift.max(options.ipfix.maximumMessageLength, IPFIXExportConfiguration.minimumMessageLength),
            alignment: 8)
        defer { buffer.deallocate() }
        let batchCapacity = 256
        let batch = UnsafeMutablePointer<FlowExportRecord>.allocate(capacity: batchCapacity)
        defer { batch.deallocate() }
        var tokens = Double(options.recordsPerSecond ?? 0)
        var lastRefill = Self.monotonic()
        while true {
            let stopping = stopFlag.load(ordering: .acquiring) != 0
            var moved = 0
            for ring in rings {
                var n = 0
                while n < batchCapacity, let r = ring.ring.pop() {
                    batch[n] = r
                    n &+= 1
                }
                if n == 0 { continue }
                moved &+= n
                let records = send(UnsafeBufferPointer(start: batch, count: n), buffer: buffer)
                if let rate = options.recordsPerSecond {
                    // Data records a second at most (a flow with traffic
                    // both ways is two): wait for the tokens these cost.
                    tokens -= Double(records)
                    while tokens < 0 {
                        var ts = timespec(tv_sec: 0, tv_nsec: 1_000_000)
                        nanosleep(&ts, nil)
                        let now = Self.monotonic()
                        tokens = Swift.min(Double(rate), tokens + Double(now - lastRefill) / 1e9 * Double(rate))
                        lastRefill = now
                    }
                }
            }
            countRingDrops()
            if stopping && moved == 0 {
                // The last round of statistics, with every count final.
                for c in sessions.indices { sessions[c].requestStatistics() }
                statisticsAndTemplates(buffer: buffer)
                break
            }
            statisticsAndTemplates(buffer: buffer)
            if moved == 0 {
                var ts = timespec(tv_sec: 0, tv_nsec: 2_000_000)
                nanosleep(&ts, nil)
            }
        }
    }

    /// Flows the workers' rings had no room for count as not sent (RFC 7011
    /// section 4.3) in every collector's statistics.
    func countRingDrops() {
        var total = (records: 0, packets: 0, octets: 0)
        for ring in rings {
            let d = ring.droppedTotals
            total.records &+= d.records
            total.packets &+= d.packets
            total.octets &+= d.octets
        }
        guard total != ringDropsSeen else { return }
        let now = Self.wallClock()
        for c in sessions.indices {
            sessions[c].flowsNotSent(
                records: UInt64(clamping: total.records &- ringDropsSeen.records),
                packets: UInt64(clamping: total.packets &- ringDropsSeen.packets),
                octets: UInt64(clamping: total.octets &- ringDropsSeen.octets), now: now)
        }
        ringDropsSeen = total
    }

    /// Sends `records` to every collector, as many messages as they take.
    /// Returns the data records they made (for one collector: each gets
    /// the same).
    @discardableResult
    func send(_ records: UnsafeBufferPointer<FlowExportRecord>, buffer: UnsafeMutableRawBufferPointer) -> Int {
        let now = Self.wallClock()
        var made = 0
        for c in sessions.indices {
            var source = FlowExportBufferSource(records)
            while !source.isEmpty {
                let summary: IPFIXMessageSummary
                do {
                    summary = try sessions[c].nextMessage(into: buffer, domain: 0, from: &source, now: now)
                } catch {
                    encodingFailed(error)
                    break
                }
                guard summary.byteCount > 0 else { continue }
                if c == 0 { made &+= summary.flowRecords }
                transmit(summary, collector: c, buffer: buffer, now: now)
            }
        }
        return made
    }

    /// Templates on their period, and the exporter's statistics, even when
    /// no flow ends.
    func statisticsAndTemplates(buffer: UnsafeMutableRawBufferPointer) {
        let now = Self.wallClock()
        for c in sessions.indices {
            var none = FlowExportBufferSource(UnsafeBufferPointer<FlowExportRecord>(start: nil, count: 0))
            do {
                let summary = try sessions[c].nextMessage(into: buffer, domain: 0, from: &none, now: now)
                if summary.byteCount > 0 { transmit(summary, collector: c, buffer: buffer, now: now) }
            } catch {
                encodingFailed(error)
            }
            while sessions[c].statisticsDue(now: now) {
                let summary: IPFIXMessageSummary
                do {
                    summary = try sessions[c].nextStatisticsMessage(into: buffer, now: now)
                } catch {
                    // Counted and logged; the session's statistics stay due
                    // and are tried again at the next period, not sent short.
                    encodingFailed(error)
                    break
                }
                guard summary.byteCount > 0 else { break }
                transmit(summary, collector: c, buffer: buffer, now: now)
            }
        }
    }

    func transmit(_ summary: IPFIXMessageSummary, collector c: Int, buffer: UnsafeMutableRawBufferPointer, now: Int64) {
        let n = Glibc.send(
            sockets[c].rawValue, buffer.baseAddress, summary.byteCount, Int32(MSG_DONTWAIT) | Int32(MSG_NOSIGNAL))
        if n == summary.byteCount {
            state.withLock {
                $0.messagesSent &+= 1
                $0.bytesSent &+= n
                $0.records &+= summary.flowRecords
                $0.flows &+= summary.flows
                $0.templateRecords &+= summary.templateRecords
            }
        } else {
            let e = errno
            sessions[c].messageNotSent(summary, now: now)
            let changed = e != lastErrnos[c]
            lastErrnos[c] = e
            let text = changed ? "\(options.collectors[c]): \(Errno(rawValue: e))" : nil
            state.withLock {
                $0.messagesFailed &+= 1
                if let text { $0.lastError = text }
            }
        }
    }

    func note(_ message: String) {
        state.withLock { $0.lastError = message }
    }

    /// An IPFIX message could not be encoded: counted, and its error kept
    /// as the last error (the daemon logs a change of it, rate-limited).
    func encodingFailed(_ error: any Error) {
        let text = "IPFIX encoding: \(error)"
        state.withLock {
            $0.encodingFailures &+= 1
            $0.lastError = text
        }
    }

    static func monotonic() -> UInt64 { lab_monotonic_ns() }

    static func wallClock() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) &* 1_000_000_000 &+ Int64(ts.tv_nsec)
    }
}

extension ExportReport {
    /// What `exporter` sent, and what the `workers`' rings dropped.
    public init(_ exporter: FlowExporter, workers: [WorkerShared]) {
        let c = exporter.counters
        self.init(
            collectors: exporter.options.collectors.map(\.description), records: c.records, flows: c.flows,
            messagesSent: c.messagesSent, messagesFailed: c.messagesFailed, templateRecords: c.templateRecords,
            bytesSent: c.bytesSent, dropped: workers.reduce(0) { $0 + $1.counter(.flowExportDropped) },
            lastError: c.lastError)
        encodingFailures = c.encodingFailures
    }
}
