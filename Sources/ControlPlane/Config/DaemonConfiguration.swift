import Capture
import DataPlane
import Rooms
import Sinks
import StatsProtocol
import Syscalls

#if canImport(Glibc)
import Glibc
#endif

/// How loud the daemon's log is.
public enum LogLevel: String, Sendable, CaseIterable, Comparable {
    case debug, info, notice, warning, error

    var rank: Int { LogLevel.allCases.firstIndex(of: self)! }
    public static func < (a: LogLevel, b: LogLevel) -> Bool { a.rank < b.rank }
}

/// Everything `labyrinthd run` reads from its TOML file. Every key has a
/// default; `config/labyrinth.toml` lists them all, commented.
public struct DaemonConfiguration: Sendable, Equatable {
    public struct Daemon: Sendable, Equatable {
        public var socket = "/run/labyrinth/labyrinthd.sock"
        /// The socket that takes replays with the file's descriptor
        /// (SCM_RIGHTS); nil: beside `socket`, as `NAME-replay.sock`; "":
        /// none.
        public var replaySocket: String? = nil
        /// The group that may connect besides root (nil: root only).
        public var socketGroup: String? = nil
        /// The group that may act (replay, dump, rotate, flush) besides root and the daemon's user (nil: nobody else).
        public var adminGroup: String? = nil
        public var socketMode: UInt32 = 0o660
        public var logLevel: LogLevel = .info
        /// Connections of readers (the socket group) open at once, at most.
        public var maxClients = 64
        /// Connections one user (uid) may hold at once, at most; root and
        /// the daemon's user are exempt. nil: an eighth of `maxClients`.
        public var maxClientsPerUser: Int? = nil
        /// Connections kept beyond `maxClients` for root, the daemon's user
        /// and the admin group: a socket full of readers still answers them.
        public var reservedClients = 8
        /// Seconds the stop (SIGTERM, SIGINT) may take, from the signal to
        /// exit: replays cancelled, workers stopped, recordings finished,
        /// flows exported, the leak check. Past it the daemon says which
        /// step hung and exits 1 rather than waiting for systemd's SIGKILL
        /// (the unit's TimeoutStopSec is 30 s: 5 s of margin).
        public var stopTimeout = 25.0
        /// Seconds a client may stay silent between requests.
        public var clientIdleTimeout = 30.0
        /// Seconds a request may take to arrive once it has started.
        public var requestTimeout = 5.0
        public var requestMaxBytes = 4096
        /// Requests answered per second over all clients (0: no limit);
        /// beyond it replies are delayed, so the control plane's CPU time
        /// stays bounded however hard clients poll.
        public var maxRequestsPerSecond = 2000
        /// Seconds between STATUS= updates to systemd.
        public var statusInterval = 5.0
        /// Live taps (`dump`) open at once, at most (0: no taps).
        public var maxTaps = 4
        /// Bytes of each tap's ring per worker: frames wait there for a
        /// tap's reader, and a reader behind by more costs tap drops.
        public var tapBuffer = 4 << 20

        /// The per-user cap after its default.
        public var clientsPerUser: Int { maxClientsPerUser ?? Swift.max(1, maxClients / 8) }
    }

    public struct RoomsSection: Sendable, Equatable {
        public var pagesPerRoom = 4096
        public var lock: LockPolicy = .required
        public var hugePages: HugePagePolicy = .transparent
        public var watermarks: Watermarks? = nil
        public var cache: Int? = nil
        public var cacheBatch: Int? = nil
        /// Frames share chunks of this many bytes (a block of 1 to 16 pages).
        public var chunkSize = 64 << 10

        /// The chunks' order.
        public var chunkOrder: Int { (0...4).first { 4096 << $0 == chunkSize } ?? 4 }
    }

    public struct Workers: Sendable, Equatable {
        /// nil: one per CPU the process may use.
        public var count: Int? = nil
        public var cpus: [Int]? = nil
        /// SCHED_FIFO priority, or nil for SCHED_OTHER.
        public var priority: Int? = nil
        public var budget = 64
        public var busyPoll = false
        public var flowCapacity = 65_536
        public var flowIdleTimeout = 120.0
        /// Seconds after which a flow's record is exported and its counters
        /// start afresh (IPFIX active timeout).
        public var flowActiveTimeout = 60.0
        /// Seconds a TCP flow lingers after FIN both ways or RST.
        public var flowTCPLinger = 2.0
        /// Lock every current and future page of the process (mlockall).
        public var mlockall = false
        #if DEBUG
        /// Test hooks (debug builds only; a release build's configuration
        /// cannot name them): frames whose pages a worker keeps, and a
        /// worker that stops moving its heartbeat after a while, to prove
        /// the watchdog.
        public var hooks = WorkerTestHooks()
        #endif
    }

    public struct ReplaySection: Sendable, Equatable {
        public var ring = 65_536
        public var pacing: Pacing = .maximum
        /// Directories beneath which a client may name a file to replay by
        /// path (none by default: clients pass the file itself).
        public var allowedDirectories: [String] = []
        /// Replays queued or running with a file the daemon holds open.
        public var maxOpenJobs = 16
        /// The longest wait between two paced frames, in seconds (0: no
        /// limit), as tcpreplay's `--maxsleep`: one absurd timestamp must
        /// not hold the queue for years.
        public var maxGap = 1.0

        /// ``maxGap`` in nanoseconds, nil for no limit.
        public var maximumGapNanoseconds: Int64? { maxGap > 0 ? Int64(maxGap * 1e9) : nil }
    }

    public struct Source: Sendable, Equatable {
        public var backend: CaptureBackend = .pcap
        public var interface = ""
        public var fanout: FanoutMode = .hash
        /// The PACKET_FANOUT group id (nil: derived from the interface index).
        public var fanoutGroup: Int? = nil
        public var snaplen = 262_144
        public var filter: String? = nil
        public var promiscuous = true
        public var bufferBytes = 32 << 20
        public var immediate = false
        public var timeoutMilliseconds = 100
        public var kernelTimestamps = false
        /// The line of the source's [[source]] header, for errors.
        public var line = 0

        /// What the workers open.
        public var liveOptions: LiveSourceOptions {
            var o = LiveSourceOptions(interface: interface)
            o.backend = backend
            o.fanout = fanout
            o.fanoutGroup = fanoutGroup.map { UInt16(truncatingIfNeeded: $0) }
            o.snaplen = snaplen
            o.filter = filter
            o.promiscuous = promiscuous
            o.bufferBytes = bufferBytes
            o.immediate = immediate
            o.timeoutMilliseconds = timeoutMilliseconds
            o.kernelTimestamps = kernelTimestamps
            return o
        }
    }

    public var daemon = Daemon()
    public var rooms = RoomsSection()
    public var workers = Workers()
    public var replay = ReplaySection()
    public var sources: [Source] = []
    public var ipfix = IPFIXSection()
    public var metrics = MetricsSection()
    /// `[[sink]]`: the recording (one at most).
    public var sink: SinkSection? = nil

    /// `[[sink]]`: every worker writes the frames it sees (live sources and
    /// replay jobs) to files of its own, as `labyrinthd capture -w` does.
    public struct SinkSection: Sendable, Equatable {
        /// The path template (strftime fields, `{worker}`, `{seq}`).
        public var path = "/var/lib/labyrinth/labyrinth-%Y%m%d-%H%M%S.pcapng"
        public var format = "pcapng"
        /// `-C`, `-G`, `-W`, `min_free`.
        public var rotateSize: Int? = nil
        public var rotateSeconds: Int64? = nil
        public var maxFiles: Int? = nil
        /// Bytes kept free on the recording's file system; nil: the default,
        /// ``defaultMinimumFree(totalBytes:)`` of the file system; 0: none.
        public var minFree: Int? = nil

        /// The default free-space floor: 1 GiB, or 5 % of a smaller file
        /// system. Never 0: a flood of records (4.5 M empty ones a second
        /// from a sparse file) must not fill the disk the system runs on.
        public static func defaultMinimumFree(totalBytes: Int) -> Int {
            Swift.max(1, Swift.min(1 << 30, totalBytes / 20))
        }
        /// `-s`: bytes of each frame written (nil: whole).
        public var snaplen: Int? = nil
        public var flushMilliseconds = 1000
        public var pagesInFlight: Int? = nil
        public var cacheWrites = false
        /// Each finished file gets its index (`index = false`: none).
        public var index = true
        /// Bytes per second an `extract` over the recordings may read.
        public var extractReadRate = 64 << 20
        public var mode: mode_t = 0o640
        /// The files' group: nil, `labyrinth` where that group exists; "",
        /// the daemon's own.
        public var group: String? = nil
        /// The sink's own BPF filter: frames it does not match are not
        /// written (`unwritten.filtered`); they are processed as ever.
        public var filter: String? = nil
        public var line = 0

        /// The recording's options for `workers` workers (the group's id
        /// resolved by the caller); the interfaces are the live sources'.
        public func options(workers: Int) throws(FileNamingError) -> RecordingOptions {
            let rotation = RotationConfiguration(
                maximumFileSize: rotateSize, intervalSeconds: rotateSeconds, ringSize: maxFiles,
                minimumFreeBytes: minFree == 0 ? nil : minFree)
            var o = RecordingOptions(
                naming: try FileNaming(template: path, workers: workers, rotation: rotation))
            o.format = RecordFormat(rawValue: format) ?? .pcapng
            o.snapLength = snaplen
            o.flushMilliseconds = flushMilliseconds
            o.pagesInFlight = pagesInFlight
            o.dontCache = !cacheWrites
            o.index = index
            o.fileMode = mode
            o.wallClockRotation = true
            return o
        }
    }

    /// `[ipfix]`: export ended flows to collectors.
    /// `[metrics]`: the HTTP endpoint Prometheus scrapes (`GET /metrics`).
    /// Off unless `listen` is given: on a TCP port every local user (and,
    /// off loopback, every host that reaches it) reads what the stats
    /// socket shows only to its group, the recording's file names among it.
    public struct MetricsSection: Sendable, Equatable {
        /// The address to listen on, an IP literal and a port; nil: off.
        public var listen: IPFIXCollector? = nil
        /// Peers allowed to connect, as IP addresses in canonical form;
        /// empty: any peer that reaches the address.
        public var allow: [String] = []
        /// Connections open at once; a new one past it closes the oldest
        /// idle one, or is refused (503) when none is idle.
        public var maxConnections = 64
        /// Connections one peer address may hold at once; nil: a quarter of
        /// ``maxConnections`` (at least 1). One address cannot take every slot.
        public var maxConnectionsPerPeer: Int? = nil
        /// Silence on a connection before it is closed, in seconds.
        public var idleTimeout = 30.0
        /// Time a request may take to arrive once its first byte has.
        public var requestTimeout = 5.0
        /// The most bytes a request (line, headers and any body) may have.
        public var requestMaxBytes = 8192
        public var line = 0

        /// The per-peer cap after its default.
        public var connectionsPerPeer: Int { maxConnectionsPerPeer ?? Swift.max(1, maxConnections / 4) }
    }

    public struct IPFIXSection: Sendable, Equatable {
        /// `HOST:PORT` or `[IPv6]:PORT`; none: no export.
        public var collectors: [IPFIXCollector] = []
        public var observationDomain: UInt32 = 1
        public var mtu = 1400
        public var templateRefresh: Int64 = 60
        public var templateRefreshMessages = 100
        /// Records a second at most; nil: no limit.
        public var rate: Int? = nil
        /// Ended flows each worker's ring holds.
        public var ring = 16_384
        public var line = 0

        /// The exporter's options, or nil without collectors.
        public var options: FlowExportOptions? {
            guard !collectors.isEmpty else { return nil }
            return FlowExportOptions(
                collectors: collectors,
                ipfix: IPFIXExportConfiguration(
                    observationDomains: [observationDomain], maximumMessageLength: mtu,
                    templateRefreshSeconds: templateRefresh, templateRefreshMessages: templateRefreshMessages),
                recordsPerSecond: rate, ringCapacity: ring)
        }
    }

    public init() {}

    /// The replay socket's path after defaults, or nil for none.
    public var replaySocketPath: String? {
        if let path = daemon.replaySocket { return path.isEmpty ? nil : path }
        let socket = daemon.socket
        let stem = socket.hasSuffix(".sock") ? String(socket.dropLast(5)) : socket
        let path = stem + "-replay.sock"
        return path.utf8.count <= 107 ? path : nil
    }

    /// The worker count after defaults.
    public var workerCount: Int { workers.count ?? workers.cpus?.count ?? max(1, PinnedThread.currentAffinity.count) }

    /// The arena this configuration asks for.
    public var arena: ArenaConfiguration {
        ArenaConfiguration(
            rooms: workerCount, pagesPerRoom: rooms.pagesPerRoom, watermarks: rooms.watermarks,
            lock: rooms.lock, hugePages: rooms.hugePages, cacheCapacity: rooms.cache, cacheBatch: rooms.cacheBatch)
    }

    /// Reads and checks a configuration file. A file read for a reload
    /// must also hold a setting and end with a newline: an empty or cut file
    /// would otherwise reset every live key it lost to its default.
    public static func load(path: String, reloading: Bool = false) throws(ConfigError) -> DaemonConfiguration {
        let file: Descriptor
        switch Descriptor.open(path, O_RDONLY | O_CLOEXEC) {
        case .success(let opened): file = opened
        case .failure(let e): throw ConfigError(file: path, line: 0, key: "", message: "cannot open: \(e)")
        }
        let fd = file.rawValue
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n: Int
            switch Syscall.valueOrErrno({ read(fd, &chunk, chunk.count) }) {
            case .success(let got): n = got
            case .failure(let e): throw ConfigError(file: path, line: 0, key: "", message: "cannot read: \(e)")
            }
            if n == 0 { break }
            bytes += chunk[0..<n]
            if bytes.count > 1 << 20 {
                throw ConfigError(file: path, line: 0, key: "", message: "larger than 1 MiB: not a configuration")
            }
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw ConfigError(file: path, line: 0, key: "", message: "not valid UTF-8")
        }
        if reloading {
            let settings = text.split(whereSeparator: \.isNewline).contains {
                let line = String($0).trimmingBlanks
                return !line.isEmpty && !line.hasPrefix("#")
            }
            guard settings else {
                throw ConfigError(
                    file: path, line: 0, key: "",
                    message: "holds no settings (\(bytes.count) bytes): an empty file would reset every live key")
            }
            guard text.hasSuffix("\n") else {
                let lines = text.split(separator: "\n", omittingEmptySubsequences: false).count
                throw ConfigError(
                    file: path, line: lines, key: "",
                    message:
                        "does not end with a newline: it looks truncated (a file still being written?); a whole configuration file ends with one"
                )
            }
        }
        return try parse(text, file: path)
    }

    /// Parses and checks configuration text; `file` names it in errors.
    public static func parse(_ text: String, file: String) throws(ConfigError) -> DaemonConfiguration {
        let root: TOML.Table
        do {
            root = try TOML.parse(text)
        } catch {
            throw ConfigError(file: file, line: error.line, key: error.key ?? "", message: error.message)
        }
        var c = DaemonConfiguration()
        var top = Section(file: file, name: "", table: root)
        let sections = ConfigSection.allCases.map(\.rawValue)
        for (k, n) in root.entries {
            if case .table = n.value { continue }
            if case .tableArray = n.value { continue }
            throw ConfigError(
                file: file, line: n.line, key: k,
                message:
                    "a key outside any section; put it under [daemon], [rooms], [workers], [replay], [ipfix], [metrics], [[source]] or [[sink]]"
            )
        }
        if let n = top.node("daemon") { c.daemon = try readDaemon(try table(n, "daemon", file)) }
        if let n = top.node("rooms") { c.rooms = try readRooms(try table(n, "rooms", file)) }
        if let n = top.node("workers") { c.workers = try readWorkers(try table(n, "workers", file)) }
        if let n = top.node("replay") { c.replay = try readReplay(try table(n, "replay", file)) }
        if let n = top.node("ipfix") { c.ipfix = try readIPFIX(try table(n, "ipfix", file)) }
        if let n = top.node("metrics") { c.metrics = try readMetrics(try table(n, "metrics", file)) }
        if let n = top.node("source") {
            guard case .tableArray(let tables) = n.value else {
                throw ConfigError(
                    file: file, line: n.line, key: "source", message: "must be an array of tables: write [[source]]")
            }
            for (i, t) in tables.enumerated() {
                c.sources.append(try readSource(Section(file: file, name: "source[\(i)]", table: t)))
            }
        }
        if let n = top.node("sink") {
            guard case .tableArray(let tables) = n.value else {
                throw ConfigError(
                    file: file, line: n.line, key: "sink", message: "must be an array of tables: write [[sink]]")
            }
            guard tables.count == 1 else {
                throw ConfigError(
                    file: file, line: tables.count > 1 ? tables[1].line : n.line, key: "sink",
                    message:
                        "one [[sink]] per daemon (every worker writes its own files already); found \(tables.count)"
                )
            }
            c.sink = try readSink(Section(file: file, name: "sink[0]", table: tables[0]), workers: c.workerCount)
        }
        try top.finish(known: sections)
        try c.check(file: file, root: root)
        return c
    }

    static func table(_ n: TOML.Node, _ name: String, _ file: String) throws(ConfigError) -> Section {
        guard case .table(let t) = n.value else {
            throw ConfigError(file: file, line: n.line, key: name, message: "must be a table: write [\(name)]")
        }
        return Section(file: file, name: name, table: t)
    }

    static func readDaemon(_ s: Section) throws(ConfigError) -> Daemon {
        var s = s
        var d = Daemon()
        d.socket = try s.string("socket", default: d.socket)!
        if d.socket.isEmpty || !d.socket.hasPrefix("/") { throw s.error("socket", "must be an absolute path") }
        if d.socket.utf8.count > 107 { throw s.error("socket", "is longer than a Unix socket path may be (107 bytes)") }
        if let replay = try s.string("replay_socket", default: nil) {
            if !replay.isEmpty && !replay.hasPrefix("/") { throw s.error("replay_socket", "must be an absolute path") }
            if replay.utf8.count > 107 {
                throw s.error("replay_socket", "is longer than a Unix socket path may be (107 bytes)")
            }
            if replay == d.socket { throw s.error("replay_socket", "must differ from daemon.socket") }
            d.replaySocket = replay
        }
        d.socketGroup = try s.string("socket_group", default: nil)
        d.adminGroup = try s.string("admin_group", default: nil)
        if let mode = try s.string("socket_mode", default: nil) {
            guard let m = UInt32(mode, radix: 8), m <= 0o777 else {
                throw s.error("socket_mode", "must be an octal mode such as \"0660\", not \"\(mode)\"")
            }
            d.socketMode = m
        }
        d.logLevel = try s.choice("log_level", default: d.logLevel)
        d.maxClients = try s.int("max_clients", default: d.maxClients)
        d.maxClientsPerUser = try s.optionalInt("max_clients_per_user")
        if let perUser = d.maxClientsPerUser, perUser > d.maxClients {
            throw s.error("max_clients_per_user", "must not exceed daemon.max_clients (\(perUser) > \(d.maxClients))")
        }
        d.reservedClients = try s.int("reserved_clients", default: d.reservedClients)
        d.stopTimeout = try s.double("stop_timeout", default: d.stopTimeout)
        d.clientIdleTimeout = try s.double("client_idle_timeout", default: d.clientIdleTimeout)
        d.requestTimeout = try s.double("request_timeout", default: d.requestTimeout)
        d.requestMaxBytes = try s.int("request_max_bytes", default: d.requestMaxBytes)
        d.maxRequestsPerSecond = try s.int(
            "max_requests_per_second", default: d.maxRequestsPerSecond)
        d.statusInterval = try s.double("status_interval", default: d.statusInterval)
        d.maxTaps = try s.int("max_taps", default: d.maxTaps)
        d.tapBuffer = try s.size("tap_buffer", default: d.tapBuffer)
        try s.finish()
        return d
    }

    static func readMetrics(_ s: Section) throws(ConfigError) -> MetricsSection {
        var s = s
        var m = MetricsSection()
        m.line = s.table.line
        if let text = try s.string("listen", default: nil) {
            switch IPFIXCollector.parse(text) {
            case .failure(let e): throw s.error("listen", "\(e)")
            case .success(let address):
                guard text.contains(":"), let canonical = IPAddressText.canonical(address.host) else {
                    throw s.error(
                        "listen",
                        "must be an IP address and a port, e.g. \"127.0.0.1:9469\" or \"[::1]:9469\", not \"\(text)\"")
                }
                var listen = address
                listen.host = canonical
                m.listen = listen
            }
        }
        for text in try s.stringArray("allow") ?? [] {
            guard let canonical = IPAddressText.canonical(text) else {
                throw s.error("allow", "must list IP addresses, e.g. [\"127.0.0.1\", \"::1\"]; \"\(text)\" is not one")
            }
            m.allow.append(canonical)
        }
        m.maxConnections = try s.int("max_connections", default: m.maxConnections)
        m.maxConnectionsPerPeer = try s.optionalInt("max_connections_per_peer")
        if let perPeer = m.maxConnectionsPerPeer, perPeer > m.maxConnections {
            throw s.error(
                "max_connections_per_peer",
                "must not exceed metrics.max_connections (\(perPeer) > \(m.maxConnections))")
        }
        m.idleTimeout = try s.double("idle_timeout", default: m.idleTimeout)
        m.requestTimeout = try s.double("request_timeout", default: m.requestTimeout)
        m.requestMaxBytes = try s.int("request_max_bytes", default: m.requestMaxBytes)
        try s.finish()
        return m
    }

    static func readRooms(_ s: Section) throws(ConfigError) -> RoomsSection {
        var s = s
        var r = RoomsSection()
        if s.table["size"] != nil && s.table["pages_per_room"] != nil {
            throw s.error("size", "give either rooms.size or rooms.pages_per_room, not both")
        }
        if s.table["size"] != nil {
            let bytes = try s.size("size", default: 16 << 20)
            guard bytes % (64 << 10) == 0 else {
                throw s.error("size", "must be a multiple of 64 KiB (one order-4 block), not \(bytes) bytes")
            }
            r.pagesPerRoom = bytes / 4096
        }
        r.pagesPerRoom = try s.int("pages_per_room", default: r.pagesPerRoom)
        if r.pagesPerRoom % 16 != 0 {
            let key = s.table["size"] != nil ? "size" : "pages_per_room"
            throw s.error(key, "must be a multiple of 16 pages (one order-4 block, 64 KiB), not \(r.pagesPerRoom)")
        }
        r.lock = try s.choice("lock", default: r.lock)
        r.hugePages = try s.choice("hugepages", default: r.hugePages)
        let min = try s.optionalInt("min")
        let low = try s.optionalInt("low")
        let high = try s.optionalInt("high")
        if min != nil || low != nil || high != nil {
            guard let min, let low, let high else {
                let missing = ["min", "low", "high"].first { s.table[$0] == nil }!
                throw s.error(
                    missing, "set all three watermarks (min, low, high) or none",
                    line: s.line(["min", "low", "high"].first { s.table[$0] != nil }!))
            }
            if min > low { throw s.error("min", "must not exceed rooms.low (\(min) > \(low))") }
            if low > high { throw s.error("low", "must not exceed rooms.high (\(low) > \(high))") }
            if high >= r.pagesPerRoom {
                throw s.error("high", "must be below the room's \(r.pagesPerRoom) pages (got \(high))")
            }
            r.watermarks = Watermarks(min: min, low: low, high: high)
        }
        r.chunkSize = try s.size("chunk_size", default: r.chunkSize)
        guard (0...4).contains(where: { 4096 << $0 == r.chunkSize }) else {
            throw s.error(
                "chunk_size",
                "must be 4KiB, 8KiB, 16KiB, 32KiB or 64KiB (a block of the room), not \(r.chunkSize) bytes")
        }
        r.cache = try s.optionalInt("cache")
        r.cacheBatch = try s.optionalInt("cache_batch")
        if let cache = r.cache, cache > r.pagesPerRoom {
            throw s.error("cache", "must not exceed the room's \(r.pagesPerRoom) pages")
        }
        let capacity = r.cache ?? Swift.max(16, Swift.min(256, r.pagesPerRoom / 8))
        if let batch = r.cacheBatch, batch > capacity {
            throw s.error("cache_batch", "must not exceed the cache (\(capacity))")
        }
        try s.finish()
        return r
    }

    static func readWorkers(_ s: Section) throws(ConfigError) -> Workers {
        var s = s
        var w = Workers()
        w.count = try s.optionalInt("count")
        w.cpus = try s.intArray("cpus")
        if let cpus = w.cpus {
            if cpus.isEmpty { throw s.error("cpus", "must list at least one CPU (or leave it out)") }
            let online = PinnedThread.onlineCPUs
            if let bad = cpus.first(where: { $0 >= online }) {
                throw s.error(
                    "cpus", "CPU \(bad) does not exist (this machine has \(online) online CPUs: 0...\(online - 1))")
            }
            if let count = w.count, count > cpus.count {
                throw s.error(
                    "count",
                    "\(count) workers but only \(cpus.count) CPUs listed in workers.cpus (line \(s.line("cpus")))")
            }
        }
        let priority = try s.int("priority", default: 0)
        w.priority = priority == 0 ? nil : priority
        w.budget = try s.int("budget", default: w.budget)
        w.busyPoll = try s.bool("busy_poll", default: w.busyPoll)
        w.flowCapacity = try s.int("flow_capacity", default: w.flowCapacity)
        w.flowIdleTimeout = try s.double("flow_idle_timeout", default: w.flowIdleTimeout)
        w.flowActiveTimeout = try s.double(
            "flow_active_timeout", default: w.flowActiveTimeout)
        w.flowTCPLinger = try s.double("flow_tcp_linger", default: w.flowTCPLinger)
        w.mlockall = try s.bool("mlockall", default: w.mlockall)
        #if DEBUG
        w.hooks.holdFrames = try s.int("test_hold_frames", default: 0)
        w.hooks.stallWorker = try s.optionalInt("test_stall_worker")
        w.hooks.stallAfter = Int64(try s.double("test_stall_after", default: 0) * 1e9)
        #endif
        try s.finish()
        return w
    }

    static func readReplay(_ s: Section) throws(ConfigError) -> ReplaySection {
        var s = s
        var r = ReplaySection()
        r.ring = try s.int("ring", default: r.ring)
        r.pacing = try readPacing(&s)
        r.allowedDirectories = try s.stringArray("allowed_directories") ?? []
        for d in r.allowedDirectories where !d.hasPrefix("/") || d.utf8.contains(0) {
            throw s.error("allowed_directories", "must hold absolute paths, not \"\(d)\"")
        }
        r.maxOpenJobs = try s.int("max_open_jobs", default: r.maxOpenJobs)
        r.maxGap = try s.double("max_gap", default: r.maxGap)
        try s.finish()
        return r
    }

    static func readSink(_ s: Section, workers: Int) throws(ConfigError) -> SinkSection {
        var s = s
        var k = SinkSection()
        k.line = s.table.line
        k.path = try s.string("path", default: k.path)!
        if !k.path.hasPrefix("/") { throw s.error("path", "must be an absolute path (the daemon's directory is /)") }
        k.format = try s.string("format", default: k.format)!
        guard RecordFormat(rawValue: k.format) != nil else {
            throw s.error("format", "is \"pcapng\" or \"pcap\", not \"\(k.format)\"")
        }
        func byteSize(_ key: String, zero: Bool = false) throws(ConfigError) -> Int? {
            guard let n = s.node(key) else { return nil }
            switch n.value {
            case .integer(let i):
                if zero && i == 0 { return 0 }
                guard i >= 1 else {
                    throw s.error(key, "must be at least 1 byte\(zero ? " (or 0 for none)" : ""), not \(i)")
                }
                return i
            case .string(let text):
                if zero && text.trimmingBlanks == "0" { return 0 }
                do {
                    return try ByteSize.parse(text)
                } catch {
                    throw s.error(key, "\(error)")
                }
            default:
                throw s.error(
                    key, "must be a size (bytes, or a string such as \"512MiB\" or \"1GB\"), not \(n.value.typeName)")
            }
        }
        k.rotateSize = try byteSize("rotate_size")
        k.minFree = try byteSize("min_free", zero: true)
        k.rotateSeconds = try s.optionalInt(
            "rotate_seconds"
        ).map { Int64($0) }
        k.maxFiles = try s.optionalInt("max_files")
        if k.maxFiles != nil && k.rotateSize == nil && k.rotateSeconds == nil {
            throw s.error("max_files", "keeps a ring of rotated files: set rotate_size or rotate_seconds too")
        }
        k.snaplen = try s.optionalInt("snaplen")
        k.flushMilliseconds = try s.int("flush_ms", default: k.flushMilliseconds)
        k.pagesInFlight = try s.optionalInt("pages_in_flight")
        k.cacheWrites = try s.bool("cache_writes", default: k.cacheWrites)
        k.index = try s.bool("index", default: k.index)
        k.extractReadRate = try byteSize("extract_read_rate") ?? k.extractReadRate
        if let mode = try s.string("mode", default: nil) {
            guard let m = UInt32(mode, radix: 8), m <= 0o666 else {
                throw s.error("mode", "must be an octal file mode such as \"0640\", not \"\(mode)\"")
            }
            k.mode = m
        }
        k.group = try s.string("group", default: nil)
        if let filter = try s.string("filter", default: nil), !filter.allSatisfy({ $0 == " " }) {
            guard filter.utf8.count <= 8192 else { throw s.error("filter", "is longer than 8192 bytes") }
            do {
                _ = try FilterPrograms(filter, linkTypes: FilterPrograms.decodedLinkTypes)
            } catch {
                throw s.error("filter", error.message)
            }
            k.filter = filter
        }
        do {
            _ = try k.options(workers: workers)
        } catch {
            throw s.error("path", "\(error)")
        }
        try s.finish()
        return k
    }

    static func readIPFIX(_ s: Section) throws(ConfigError) -> IPFIXSection {
        var s = s
        var x = IPFIXSection()
        x.line = s.table.line
        for text in try s.stringArray("collectors") ?? [] {
            switch IPFIXCollector.parse(text) {
            case .success(let c): x.collectors.append(c)
            case .failure(let e): throw s.error("collectors", "\(e)")
            }
        }
        x.observationDomain = UInt32(try s.int("observation_domain", default: 1))
        x.mtu = try s.int("mtu", default: x.mtu)
        x.templateRefresh = Int64(try s.int("template_refresh", default: 60))
        x.templateRefreshMessages = try s.int("template_refresh_messages", default: 100)
        x.rate = try s.optionalInt("rate")
        x.ring = try s.int("ring", default: x.ring)
        try s.finish()
        return x
    }

    static func readPacing(_ s: inout Section) throws(ConfigError) -> Pacing {
        let speed = try s.string("speed", default: "max")!
        // The same ranges as the stats socket's replay request.
        let multiplier =
            s.table["multiplier"] == nil
            ? nil : try s.double("multiplier", default: 1)
        let pps = s.table["pps"] == nil ? nil : try s.double("pps", default: 1)
        let mbps = s.table["mbps"] == nil ? nil : try s.double("mbps", default: 1)
        guard speed == "max" || speed == "original" else {
            throw s.error("speed", "must be \"max\" or \"original\", not \"\(speed)\"")
        }
        if multiplier != nil && s.table["speed"] != nil && speed == "max" {
            throw s.error("multiplier", "applies to speed = \"original\", not \"max\"")
        }
        let set = [speed == "original" || multiplier != nil, pps != nil, mbps != nil].filter { $0 }.count
        if set > 1 {
            throw s.error(
                pps != nil ? "pps" : "mbps", "choose one of speed = \"original\" (with multiplier), pps and mbps")
        }
        if let pps { return .packetsPerSecond(pps) }
        if let mbps { return .megabitsPerSecond(mbps) }
        if speed == "original" || multiplier != nil { return .original(multiplier: multiplier ?? 1) }
        return .maximum
    }

    static func readSource(_ s: Section) throws(ConfigError) -> Source {
        var s = s
        var src = Source()
        src.line = s.table.line
        guard let interface = try s.string("interface", default: nil), !interface.isEmpty else {
            throw s.error("interface", "every [[source]] needs an interface", line: s.table.line)
        }
        if interface.utf8.count >= 16 {
            throw s.error("interface", "\"\(interface)\" is longer than an interface name may be (15 bytes)")
        }
        src.backend = try s.choice("backend", default: CaptureBackend.preferred(for: interface))
        src.interface = interface
        src.fanout = try s.choice("fanout", default: src.fanout)
        src.fanoutGroup = try s.optionalInt("fanout_group")
        src.snaplen = try s.int("snaplen", default: src.snaplen)
        src.filter = try s.string("filter", default: nil)
        if let filter = src.filter {
            do {
                _ = try BPFProgram(filter, linkType: 1, snaplen: 262_144, interface: src.interface)
            } catch {
                throw s.error("filter", "does not compile: \(error.message)")
            }
        }
        src.promiscuous = try s.bool("promiscuous", default: src.promiscuous)
        src.bufferBytes = try s.size("buffer", default: src.bufferBytes)
        src.immediate = try s.bool("immediate", default: src.immediate)
        src.timeoutMilliseconds = try s.int("timeout_ms", default: src.timeoutMilliseconds)
        src.kernelTimestamps = try s.bool("kernel_timestamps", default: src.kernelTimestamps)
        try s.finish()
        return src
    }

    /// Checks that need more than one key.
    func check(file: String, root: TOML.Table) throws(ConfigError) {
        func line(_ section: String, _ key: String) -> Int {
            if case .table(let t)? = root[section]?.value { return t[key]?.line ?? t.line }
            return 0
        }
        do {
            try arena.validate()
        } catch {
            throw ConfigError(file: file, line: line("rooms", "pages_per_room"), key: "rooms", message: "\(error)")
        }
        #if DEBUG
        if let stall = workers.hooks.stallWorker, stall >= workerCount {
            throw ConfigError(
                file: file, line: line("workers", "test_stall_worker"), key: "workers.test_stall_worker",
                message: "worker \(stall) does not exist (\(workerCount) workers)")
        }
        #endif
    }
}

extension String {
    /// Without leading and trailing spaces and tabs.
    var trimmingBlanks: String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" { s.removeLast() }
        return String(s)
    }
}
