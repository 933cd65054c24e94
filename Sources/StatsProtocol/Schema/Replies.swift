// The stats socket's replies: `{"ok":true,"result":RESULT}` or
// `{"ok":false,"error":"…"}`, one per request line, in order. RESULT is the
// request type's `Reply`.

/// The envelope of every reply.
public enum ReplyEnvelope {
    /// `{"ok":true,"result":…}`.
    public static func ok(_ result: some Encodable) -> JSON {
        .object([("ok", .bool(true)), ("result", JSONCoding.encode(result))])
    }

    /// `{"ok":false,"error":…}`.
    public static func error(_ message: String) -> JSON {
        .object([("ok", .bool(false)), ("error", .string(message))])
    }

    /// The result of a reply, or the daemon's error message.
    public static func result(of reply: JSON) -> Result<JSON, RequestError> {
        if reply["ok"] == .bool(true), let result = reply["result"] { return .success(result) }
        return .failure(RequestError(reply["error"]?.stringValue ?? "an unreadable reply: \(reply.text)"))
    }
}

/// `version`.
public struct VersionInfo: Codable, Sendable, Equatable {
    public var version: String
    public var name: String
    public init(version: String, name: String = "labyrinthd") {
        self.version = version
        self.name = name
    }
}

/// `help`: one entry per command.
public struct CommandHelp: Codable, Sendable, Equatable {
    public var command: String
    public var description: String
    /// `read` (the socket group) or `act` (root or the admin group).
    public var access: String
    /// Each field with its type and range.
    public var fields: [String]

    public init(_ command: Command) {
        self.command = command.rawValue
        description = command.summary
        access = command.access.rawValue
        fields = command.fields.map(\.description)
    }
}

/// `uptime`.
public struct Uptime: Codable, Sendable, Equatable {
    public var seconds: Double
    public init(seconds: Double) { self.seconds = seconds }
}

/// `flush`: how many flows the workers ended, and who did not answer.
public struct FlushReply: Codable, Sendable, Equatable {
    /// Flows ended by this flush, over the workers that answered.
    public var flowsEnded: Int
    /// Ended flows handed to the exporter so far (all flushes and timeouts).
    public var recordsExported: Int
    /// Workers that did not answer within two seconds.
    public var workersNotAnswering: [Int]

    public init(flowsEnded: Int, recordsExported: Int, workersNotAnswering: [Int]) {
        self.flowsEnded = flowsEnded
        self.recordsExported = recordsExported
        self.workersNotAnswering = workersNotAnswering
    }
}

/// `rotate`: the files each worker writes now, and who had not moved on
/// within two seconds (no prepared file yet, or a full disk).
public struct RotateReply: Codable, Sendable, Equatable {
    /// Each worker's current file after the rotation ("" between files).
    public var currentFiles: [String]
    /// Files finished so far by this daemon, over every worker.
    public var filesWritten: Int
    /// Workers still on their old file after two seconds.
    public var workersNotRotated: [Int]

    public init(currentFiles: [String], filesWritten: Int, workersNotRotated: [Int]) {
        self.currentFiles = currentFiles
        self.filesWritten = filesWritten
        self.workersNotRotated = workersNotRotated
    }
}

/// `dump`'s first line: the tap is open on every worker, and pcapng follows.
public struct DumpReply: Codable, Sendable, Equatable {
    /// The tap's slot (0..<`daemon.max_taps`).
    public var tap: Int
    public var filter: String?
    public var interface: String?
    /// The link types the filter compiled for (all the decoder knows
    /// when there is no filter).
    public var linkTypes: [Int]
    /// Bytes of the tap's ring on each worker.
    public var bufferBytes: Int
    public var workers: Int

    public init(tap: Int, filter: String?, interface: String?, linkTypes: [Int], bufferBytes: Int, workers: Int) {
        self.tap = tap
        self.filter = filter
        self.interface = interface
        self.linkTypes = linkTypes
        self.bufferBytes = bufferBytes
        self.workers = workers
    }
}

/// `extract`'s first line: the answer follows.
public struct ExtractReply: Codable, Sendable, Equatable {
    /// The ring's directory, and the bound on the bytes read per second.
    public var directory: String
    public var readRate: Int
    public var format: String

    public init(directory: String, readRate: Int, format: String) {
        self.directory = directory
        self.readRate = readRate
        self.format = format
    }
}

/// The live taps, in `stats`.
public struct TapReport: Codable, Sendable, Equatable {
    /// Taps open now, the most at once (daemon.max_taps), and opened since start.
    public var open: Int
    public var limit: Int
    public var opened: Int
    /// Frames the workers copied for taps, and frames a tap matched but
    /// had no room for (its reader was behind or gone).
    public var copied: Int
    public var dropped: Int
    /// Frames sent to tap clients.
    public var delivered: Int

    public init(open: Int, limit: Int, opened: Int, copied: Int, dropped: Int, delivered: Int) {
        self.open = open
        self.limit = limit
        self.opened = opened
        self.copied = copied
        self.dropped = dropped
        self.delivered = delivered
    }
}

/// A live source, as `stats` shows it.
public struct SourceSummary: Codable, Sendable, Equatable {
    public var interface: String
    public var backend: String
    /// The fanout mode, or null when a lone worker joined no group.
    public var fanout: String?
    public var filter: String?
    public var snaplen: Int

    public init(interface: String, backend: String, fanout: String?, filter: String?, snaplen: Int) {
        self.interface = interface
        self.backend = backend
        self.fanout = fanout
        self.filter = filter
        self.snaplen = snaplen
    }
}

/// The kernel's counts for the live sockets (PACKET_STATISTICS): `packets`
/// includes `drops`.
public struct KernelTotals: Codable, Sendable, Equatable {
    public var packets = 0
    public var drops = 0
    public init() {}
}

/// The rooms, summed.
public struct RoomTotals: Codable, Sendable, Equatable {
    public var freePages = 0
    public var inUsePages = 0
    public var allocFail = 0
    public var reserveDips = 0
    public init() {}
}

/// The replay jobs by state.
public struct JobCounts: Codable, Sendable, Equatable {
    public var queued = 0
    public var running = 0
    public var done = 0
    public var failed = 0
    public var cancelled = 0
    /// Records the replay reader has read, all jobs.
    public var packets = 0
    public init() {}
}

/// `stats`: totals over all workers.
public struct Stats: Codable, Sendable, Equatable {
    public var uptimeSeconds: Double
    /// How many workers.
    public var workers: Int
    public var traffic: TrafficTotals
    public var kernel: KernelTotals
    /// uring: receives that found no page in the provided-buffer ring.
    public var noBuffers: Int
    public var sources: [SourceSummary]
    public var rooms: RoomTotals
    public var replay: JobCounts
    /// The IPFIX exporter, when flows are exported.
    public var export: ExportReport?
    /// The `[[sink]]` recording, when the daemon records.
    public var recording: RecordingReport?
    /// The live taps, when the daemon allows them.
    public var taps: TapReport?

    public init(
        uptimeSeconds: Double, workers: Int, traffic: TrafficTotals, kernel: KernelTotals, noBuffers: Int,
        sources: [SourceSummary], rooms: RoomTotals, replay: JobCounts, export: ExportReport? = nil,
        recording: RecordingReport? = nil, taps: TapReport? = nil
    ) {
        self.uptimeSeconds = uptimeSeconds
        self.workers = workers
        self.traffic = traffic
        self.kernel = kernel
        self.noBuffers = noBuffers
        self.sources = sources
        self.rooms = rooms
        self.replay = replay
        self.export = export
        self.recording = recording
        self.taps = taps
    }

    enum CodingKeys: String, CodingKey {
        case uptimeSeconds, workers, kernel, noBuffers, sources, rooms, replay, export, recording, taps
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        uptimeSeconds = try c.decode(Double.self, forKey: .uptimeSeconds)
        workers = try c.decode(Int.self, forKey: .workers)
        traffic = try TrafficTotals(from: decoder)
        kernel = try c.decode(KernelTotals.self, forKey: .kernel)
        noBuffers = try c.decode(Int.self, forKey: .noBuffers)
        sources = try c.decode([SourceSummary].self, forKey: .sources)
        rooms = try c.decode(RoomTotals.self, forKey: .rooms)
        replay = try c.decode(JobCounts.self, forKey: .replay)
        export = try c.decodeIfPresent(ExportReport.self, forKey: .export)
        recording = try c.decodeIfPresent(RecordingReport.self, forKey: .recording)
        taps = try c.decodeIfPresent(TapReport.self, forKey: .taps)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(uptimeSeconds, forKey: .uptimeSeconds)
        try c.encode(workers, forKey: .workers)
        try traffic.encode(to: encoder)
        try c.encode(kernel, forKey: .kernel)
        try c.encode(noBuffers, forKey: .noBuffers)
        try c.encode(sources, forKey: .sources)
        try c.encode(rooms, forKey: .rooms)
        try c.encode(replay, forKey: .replay)
        try c.encodeIfPresent(export, forKey: .export)
        try c.encodeIfPresent(recording, forKey: .recording)
        try c.encodeIfPresent(taps, forKey: .taps)
    }
}

/// `flows`.
public struct TopFlows: Codable, Sendable, Equatable {
    public var by: FlowOrder
    public var flows: [FlowEntry]
    /// Workers that did not answer within a second (their flows are missing).
    public var workersNotAnswering: [Int]

    public init(by: FlowOrder, flows: [FlowEntry], workersNotAnswering: [Int]) {
        self.by = by
        self.flows = flows
        self.workersNotAnswering = workersNotAnswering
    }
}

/// Where a capture file went wrong: the file, the 1-based record and the
/// byte offset when the damage is inside it.
public struct FileErrorReport: Codable, Sendable, Equatable {
    public var file: String
    public var record: Int?
    public var offset: Int?
    public var message: String

    public init(file: String, record: Int?, offset: Int?, message: String) {
        self.file = file
        self.record = record
        self.offset = offset
        self.message = message
    }
}

/// One replay job of the daemon.
public struct JobReport: Codable, Sendable, Equatable {
    public enum State: String, Codable, Sendable {
        case queued, running, done, failed, cancelled

        /// Whether the job is over.
        public var isFinished: Bool { self == .done || self == .failed || self == .cancelled }
    }
    public var job: Int
    public var file: String
    public var state: State
    public var pacing: String
    /// Records read so far (or in all).
    public var packets: Int?
    public var bytes: Int?
    /// When finished:
    public var wireBytes: Int?
    public var elapsedSeconds: Double?
    public var format: String?
    public var error: FileErrorReport?
    /// Cancelled: by whom (a client's `cancel`, the daemon's stop).
    public var cancelledBy: String?
    /// Gaps between paced frames longer than `replay.max_gap`, cut to it.
    public var gapsCut: Int?

    public init(job: Int, file: String, state: State, pacing: String) {
        self.job = job
        self.file = file
        self.state = state
        self.pacing = pacing
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(job, forKey: .job)
        try c.encode(file, forKey: .file)
        try c.encode(state, forKey: .state)
        try c.encode(pacing, forKey: .pacing)
        try c.encodeIfPresent(packets, forKey: .packets)
        try c.encodeIfPresent(bytes, forKey: .bytes)
        if state.isFinished {
            try c.encode(wireBytes, forKey: .wireBytes)
            try c.encode(elapsedSeconds, forKey: .elapsedSeconds)
            try c.encode(format, forKey: .format)
        }
        try c.encodeIfPresent(error, forKey: .error)
        try c.encodeIfPresent(cancelledBy, forKey: .cancelledBy)
        try c.encodeIfPresent(gapsCut, forKey: .gapsCut)
    }
}

/// `replay`: one job (queued, or asked for by number), or the list.
public enum ReplayReply: Codable, Sendable, Equatable {
    case job(JobReport)
    case jobs([JobReport])

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let list = try? c.decode([JobReport].self) {
            self = .jobs(list)
        } else {
            self = .job(try c.decode(JobReport.self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .job(let j): try c.encode(j)
        case .jobs(let list): try c.encode(list)
        }
    }

    public var job: JobReport? {
        if case .job(let j) = self { return j }
        return nil
    }
}

/// `config`: the running configuration, as the daemon understood it.
public struct ConfigReport: Codable, Sendable, Equatable {
    public struct Daemon: Codable, Sendable, Equatable {
        public var socket: String
        public var socketGroup: String?
        /// Octal, e.g. `"0660"`.
        public var socketMode: String
        public var logLevel: String
        public var maxClients: Int
        public var clientIdleTimeout: Double
        public var requestTimeout: Double
        public var requestMaxBytes: Int
        public var maxRequestsPerSecond: Int
        public var statusInterval: Double
        /// Live taps at once, and each tap's ring per worker (bytes).
        public var maxTaps: Int
        public var tapBuffer: Int
        /// Connections per uid, and those kept for root and the admins.
        public var maxClientsPerUser: Int?
        public var reservedClients: Int?
        /// Seconds the stop may take.
        public var stopTimeout: Double?
        public init(
            socket: String, socketGroup: String?, socketMode: String, logLevel: String, maxClients: Int,
            clientIdleTimeout: Double, requestTimeout: Double, requestMaxBytes: Int, maxRequestsPerSecond: Int,
            statusInterval: Double, maxTaps: Int = 4, tapBuffer: Int = 4 << 20, maxClientsPerUser: Int? = nil,
            reservedClients: Int? = nil, stopTimeout: Double? = nil
        ) {
            self.maxClientsPerUser = maxClientsPerUser
            self.reservedClients = reservedClients
            self.stopTimeout = stopTimeout
            self.socket = socket
            self.socketGroup = socketGroup
            self.socketMode = socketMode
            self.logLevel = logLevel
            self.maxClients = maxClients
            self.clientIdleTimeout = clientIdleTimeout
            self.requestTimeout = requestTimeout
            self.requestMaxBytes = requestMaxBytes
            self.maxRequestsPerSecond = maxRequestsPerSecond
            self.statusInterval = statusInterval
            self.maxTaps = maxTaps
            self.tapBuffer = tapBuffer
        }
    }
    public struct Rooms: Codable, Sendable, Equatable {
        public var pagesPerRoom: Int
        public var lock: String
        public var hugepages: String
        public var watermarks: RoomReport.Watermarks?
        public init(pagesPerRoom: Int, lock: String, hugepages: String, watermarks: RoomReport.Watermarks?) {
            self.pagesPerRoom = pagesPerRoom
            self.lock = lock
            self.hugepages = hugepages
            self.watermarks = watermarks
        }
    }
    public struct Workers: Codable, Sendable, Equatable {
        public var count: Int
        public var cpus: [Int]?
        public var priority: Int?
        public var budget: Int
        public var busyPoll: Bool
        public var flowCapacity: Int
        public var flowIdleTimeout: Double
        public var flowActiveTimeout: Double
        public var flowTcpLinger: Double
        public var mlockall: Bool
        public init(
            count: Int, cpus: [Int]?, priority: Int?, budget: Int, busyPoll: Bool, flowCapacity: Int,
            flowIdleTimeout: Double, flowActiveTimeout: Double, flowTcpLinger: Double, mlockall: Bool
        ) {
            self.count = count
            self.cpus = cpus
            self.priority = priority
            self.budget = budget
            self.busyPoll = busyPoll
            self.flowCapacity = flowCapacity
            self.flowIdleTimeout = flowIdleTimeout
            self.flowActiveTimeout = flowActiveTimeout
            self.flowTcpLinger = flowTcpLinger
            self.mlockall = mlockall
        }
    }
    public struct Replay: Codable, Sendable, Equatable {
        public var ring: Int
        public var pacing: String
        /// The longest wait between two paced frames, seconds (0: none).
        public var maxGap: Double?
        public init(ring: Int, pacing: String, maxGap: Double? = nil) {
            self.ring = ring
            self.pacing = pacing
            self.maxGap = maxGap
        }
    }
    public struct Source: Codable, Sendable, Equatable {
        public var backend: String
        public var interface: String
        public var fanout: String
        public var snaplen: Int
        public var filter: String?
        public var promiscuous: Bool
        public init(
            backend: String, interface: String, fanout: String, snaplen: Int, filter: String?, promiscuous: Bool
        ) {
            self.backend = backend
            self.interface = interface
            self.fanout = fanout
            self.snaplen = snaplen
            self.filter = filter
            self.promiscuous = promiscuous
        }
    }
    public struct IPFIX: Codable, Sendable, Equatable {
        public var collectors: [String]
        public var observationDomain: Int
        public var mtu: Int
        public var templateRefresh: Int
        public var templateRefreshMessages: Int
        public var rate: Int?
        public var ring: Int
        public init(
            collectors: [String], observationDomain: Int, mtu: Int, templateRefresh: Int,
            templateRefreshMessages: Int, rate: Int?, ring: Int
        ) {
            self.collectors = collectors
            self.observationDomain = observationDomain
            self.mtu = mtu
            self.templateRefresh = templateRefresh
            self.templateRefreshMessages = templateRefreshMessages
            self.rate = rate
            self.ring = ring
        }
    }
    /// `[[sink]]`: the recording.
    public struct Sink: Codable, Sendable, Equatable {
        public var path: String
        public var format: String
        public var rotateSize: Int?
        public var rotateSeconds: Int?
        public var maxFiles: Int?
        public var minFree: Int?
        public var snaplen: Int?
        public var flushMs: Int
        public var pagesInFlight: Int?
        public var cacheWrites: Bool
        public var mode: String
        public var group: String?
        public var filter: String?
        public init(
            path: String, format: String, rotateSize: Int?, rotateSeconds: Int?, maxFiles: Int?, minFree: Int?,
            snaplen: Int?, flushMs: Int, pagesInFlight: Int?, cacheWrites: Bool, mode: String, group: String?,
            filter: String? = nil
        ) {
            self.path = path
            self.format = format
            self.rotateSize = rotateSize
            self.rotateSeconds = rotateSeconds
            self.maxFiles = maxFiles
            self.minFree = minFree
            self.snaplen = snaplen
            self.flushMs = flushMs
            self.pagesInFlight = pagesInFlight
            self.cacheWrites = cacheWrites
            self.mode = mode
            self.group = group
            self.filter = filter
        }
    }
    /// `[metrics]`, when the HTTP endpoint is on.
    public struct Metrics: Codable, Sendable, Equatable {
        /// `http://ADDRESS:PORT/metrics`
        public var url: String
        public var allow: [String]
        public var maxConnections: Int
        public var idleTimeout: Double
        public var requestTimeout: Double
        public var requestMaxBytes: Int
        public init(
            url: String, allow: [String], maxConnections: Int, idleTimeout: Double, requestTimeout: Double,
            requestMaxBytes: Int
        ) {
            self.url = url
            self.allow = allow
            self.maxConnections = maxConnections
            self.idleTimeout = idleTimeout
            self.requestTimeout = requestTimeout
            self.requestMaxBytes = requestMaxBytes
        }
    }
    /// One key of the configuration's table, as the running daemon holds it.
    public struct Key: Codable, Sendable, Equatable {
        /// `daemon.max_clients`, `source[0].filter`.
        public var key: String
        /// TOML text; nil: unset, its default derived from other settings.
        public var value: String?
        /// `live` (a reload applies it) or `restart`.
        public var change: String
        public init(key: String, value: String?, change: String) {
            self.key = key
            self.value = value
            self.change = change
        }
    }
    public var daemon: Daemon
    public var rooms: Rooms
    public var workers: Workers
    public var replay: Replay
    public var sources: [Source]
    /// Every key of the table, with its running value.
    public var keys: [Key]?
    /// `[ipfix]`, when flows are exported.
    public var ipfix: IPFIX?
    /// `[[sink]]`, when the daemon records.
    public var sink: Sink?
    /// `[metrics]`, when Prometheus can scrape over HTTP.
    public var metrics: Metrics?

    public init(
        daemon: Daemon, rooms: Rooms, workers: Workers, replay: Replay, sources: [Source], ipfix: IPFIX? = nil,
        sink: Sink? = nil, metrics: Metrics? = nil
    ) {
        self.daemon = daemon
        self.rooms = rooms
        self.workers = workers
        self.replay = replay
        self.sources = sources
        self.ipfix = ipfix
        self.sink = sink
        self.metrics = metrics
    }
}
