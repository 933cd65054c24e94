import Capture
import DataPlane
import Rooms
import Sinks
import StatsProtocol

/// Every key of the configuration file, in the order of
/// `config/labyrinth.toml`. See ``ConfigKey``.
public enum ConfigKeys {
    /// The table.
    public static let all: [ConfigKey] = daemon + rooms + workers + replay + source + ipfix + metrics + sink

    /// The keys of one section, by name.
    static let bySection: [ConfigSection: [String: ConfigKey]] = Dictionary(
        grouping: all, by: \.section
    ).mapValues { Dictionary(uniqueKeysWithValues: $0.map { ($0.name, $0) }) }

    /// The key `name` of `section`, if the table has it.
    public static func key(_ section: ConfigSection, _ name: String) -> ConfigKey? { bySection[section]?[name] }

    /// The key names of a section, in the table's order.
    static func names(in section: ConfigSection) -> [String] { all.filter { $0.section == section }.map(\.name) }

    /// A configuration of defaults with one instance of `section` (a
    /// `[[source]]` or `[[sink]]` of defaults where it is an array).
    static func defaults(for section: ConfigSection) -> DaemonConfiguration {
        var c = DaemonConfiguration()
        if section == .source { c.sources = [DaemonConfiguration.Source()] }
        if section == .sink { c.sink = DaemonConfiguration.SinkSection() }
        return c
    }

    static let daemon: [ConfigKey] = [
        .key(
            .daemon, "socket", \.daemon.socket, .string, .restart, example: "\"/run/labyrinth/other.sock\"",
            "The stats socket's path (absolute, at most 107 bytes)."),
        .key(
            .daemon, "replay_socket", \.daemon.replaySocket, .string, .restart,
            example: "\"/run/labyrinth/replays.sock\"",
            derived: "beside socket, as NAME-replay.sock",
            "The socket that takes replays with the file's descriptor (SCM_RIGHTS); \"\" for none."),
        .key(
            .daemon, "socket_group", \.daemon.socketGroup, .string, .restart, example: "\"labyrinth\"",
            derived: "none: root and the daemon's user only", "The group that may connect and read."),
        .key(
            .daemon, "admin_group", \.daemon.adminGroup, .string, .restart, example: "\"labyrinth-admin\"",
            derived: "none: root and the daemon's user only",
            "The group that may act (replay, dump, extract, rotate, flush) besides root and the daemon's user."),
        .computed(
            .daemon, "socket_mode", .mode(0o777), .restart, example: "\"0600\"",
            "The stats socket's file mode.", value: { ConfigText.octal($0.daemon.socketMode) }),
        .key(
            .daemon, "log_level", \.daemon.logLevel, .choice(LogLevel.allCases.map(\.rawValue)), .live,
            example: "\"debug\"", "How loud the log is."),
        .key(
            .daemon, "max_clients", \.daemon.maxClients, .integer(1...100_000), .restart, example: "32",
            "Readers' connections open at once, at most."),
        .key(
            .daemon, "max_clients_per_user", \.daemon.maxClientsPerUser, .integer(1...100_000), .restart,
            example: "4", derived: "an eighth of max_clients, at least 1",
            "Connections one uid may hold at once; root and the daemon's user are exempt."),
        .key(
            .daemon, "reserved_clients", \.daemon.reservedClients, .integer(0...100_000), .restart, example: "4",
            "Connections kept beyond max_clients for root, the daemon's user and the admin group."),
        .key(
            .daemon, "stop_timeout", \.daemon.stopTimeout, .number(1...3600), .live, example: "20",
            "Seconds the stop may take before the daemon names the step that hung and exits 1."),
        .key(
            .daemon, "client_idle_timeout", \.daemon.clientIdleTimeout, .number(0.1...86_400), .restart,
            example: "60", "Seconds a client may stay silent between requests."),
        .key(
            .daemon, "request_timeout", \.daemon.requestTimeout, .number(0.1...3600), .restart, example: "10",
            "Seconds a request may take to arrive once it has started."),
        .key(
            .daemon, "request_max_bytes", \.daemon.requestMaxBytes, .integer(64...1 << 20), .restart,
            example: "8192", "The longest request line, in bytes."),
        .key(
            .daemon, "max_requests_per_second", \.daemon.maxRequestsPerSecond, .integer(0...10_000_000), .live,
            example: "500", "Requests answered per second over all clients (0: no limit); beyond it replies wait."),
        .key(
            .daemon, "status_interval", \.daemon.statusInterval, .number(0.1...3600), .restart, example: "10",
            "Seconds between STATUS= updates to systemd."),
        .key(
            .daemon, "max_taps", \.daemon.maxTaps, .integer(0...64), .restart, example: "2",
            "Live taps (labyrinthctl dump) open at once (0: no taps)."),
        .key(
            .daemon, "tap_buffer", \.daemon.tapBuffer, .size((256 << 10)...(1 << 30)), .restart,
            example: "\"8MiB\"", "Bytes of each tap's ring per worker."),
    ]

    static let rooms: [ConfigKey] = [
        .computed(
            .rooms, "size", .size(4096...(1 << 40)), .restart, example: "\"32MiB\"",
            "Each room's size (a multiple of 64 KiB); instead of pages_per_room.",
            value: { String($0.rooms.pagesPerRoom * 4096) }),
        .key(
            .rooms, "pages_per_room", \.rooms.pagesPerRoom, .integer(1...Int(Int32.max)), .restart,
            example: "8192", "Each room's 4 KiB pages (a multiple of 16)."),
        .key(
            .rooms, "lock", \.rooms.lock, .choice(LockPolicy.allCases.map(\.rawValue)), .restart,
            example: "\"off\"", "Whether the arena must be locked in memory (mlock)."),
        .key(
            .rooms, "hugepages", \.rooms.hugePages, .choice(HugePagePolicy.allCases.map(\.rawValue)), .restart,
            example: "\"none\"", "Huge pages for the arena."),
        .computed(
            .rooms, "min", .integer(0...Int(Int32.max)), .restart, example: "70",
            derived: "about pages/32, as the kernel derives it",
            "The min watermark, in pages (set min, low and high together).",
            value: { $0.rooms.watermarks.map { String($0.min) } }),
        .computed(
            .rooms, "low", .integer(0...Int(Int32.max)), .restart, example: "85",
            derived: "min + max(min/4, pages/1000)", "The low watermark, in pages.",
            value: { $0.rooms.watermarks.map { String($0.low) } }),
        .computed(
            .rooms, "high", .integer(0...Int(Int32.max)), .restart, example: "100",
            derived: "low + the same delta", "The high watermark, in pages.",
            value: { $0.rooms.watermarks.map { String($0.high) } }),
        .key(
            .rooms, "cache", \.rooms.cache, .integer(1...Int(Int32.max)), .restart, example: "128",
            derived: "pages/8, within 16…256", "Order-0 pages each room keeps in its cache."),
        .key(
            .rooms, "cache_batch", \.rooms.cacheBatch, .integer(1...Int(Int32.max)), .restart, example: "32",
            derived: "a quarter of the cache", "Pages the cache takes from or gives to the buddy lists at once."),
        .key(
            .rooms, "chunk_size", \.rooms.chunkSize, .size(4096...(64 << 10)), .restart, example: "\"16KiB\"",
            "Frames share chunks of this many bytes: 4KiB, 8KiB, 16KiB, 32KiB or 64KiB."),
    ]

    static var workers: [ConfigKey] {
        var keys: [ConfigKey] = [
            .key(
                .workers, "count", \.workers.count, .integer(1...4096), .restart, example: "2",
                derived: "one per CPU the process may use", "Workers (pinned pthreads, lab-irq/N)."),
            .computed(
                .workers, "cpus", .integers(0...4095), .restart, example: "[0]",
                derived: "the CPUs the process may use", "The CPUs the workers are pinned to, in order.",
                value: { $0.workers.cpus.map(ConfigText.integers) }),
            .computed(
                .workers, "priority", .integer(0...99), .restart, example: "10",
                "SCHED_FIFO priority (0: SCHED_OTHER).", value: { String($0.workers.priority ?? 0) }),
            .key(
                .workers, "budget", \.workers.budget, .integer(1...65_536), .restart, example: "32",
                "Frames a worker takes per poll (NAPI budget)."),
            .key(
                .workers, "busy_poll", \.workers.busyPoll, .boolean, .restart, example: "true",
                "Never sleep: poll without waiting for an interrupt."),
            .key(
                .workers, "flow_capacity", \.workers.flowCapacity, .integer(16...(1 << 28)), .restart,
                example: "131072", "Flows each worker's table holds."),
            .key(
                .workers, "flow_idle_timeout", \.workers.flowIdleTimeout, .number(0.001...31_536_000), .restart,
                example: "60", "Seconds of silence after which a flow ends."),
            .key(
                .workers, "flow_active_timeout", \.workers.flowActiveTimeout, .number(0.001...31_536_000),
                .restart, example: "30", "Seconds after which a flow's record is exported and its counters restart."),
            .key(
                .workers, "flow_tcp_linger", \.workers.flowTCPLinger, .number(0.001...3600), .restart,
                example: "1", "Seconds a TCP flow lingers after FIN both ways or RST."),
            .key(
                .workers, "mlockall", \.workers.mlockall, .boolean, .restart, example: "true",
                "Lock every current and future page of the process."),
        ]
        #if DEBUG
        keys += [
            .computed(
                .workers, "test_hold_frames", .integer(0...1_000_000), .restart, example: "1",
                "Debug builds only: frames whose pages a worker keeps.",
                value: { String($0.workers.hooks.holdFrames) }),
            .computed(
                .workers, "test_stall_worker", .integer(0...4095), .restart, example: "0", derived: "none",
                "Debug builds only: the worker that stops its heartbeat.",
                value: { $0.workers.hooks.stallWorker.map(String.init) }),
            .computed(
                .workers, "test_stall_after", .number(0...86_400), .restart, example: "1",
                "Debug builds only: seconds before it stalls.",
                value: { ConfigText.number(Double($0.workers.hooks.stallAfter) / 1e9) }),
        ]
        #endif
        return keys
    }

    static let replay: [ConfigKey] = [
        .key(
            .replay, "ring", \.replay.ring, .integer(16...(1 << 24)), .restart, example: "4096",
            "Frames each worker's replay ring holds."),
        .computed(
            .replay, "speed", .choice(["max", "original"]), .live, example: "\"original\"",
            "Replays' default pacing: as fast as the workers take frames, or the capture's own timing.",
            value: {
                switch $0.replay.pacing {
                case .original: return ConfigText.string("original")
                default: return ConfigText.string("max")
                }
            }, copy: { $0.replay.pacing = $1.replay.pacing }),
        .computed(
            .replay, "multiplier", .number(ReplayRequest.multiplierRange), .live, example: "2",
            derived: "1 with speed = \"original\"", "Scales the original timing (2: twice as fast).",
            value: {
                if case .original(let m) = $0.replay.pacing, m != 1 { return ConfigText.number(m) }
                return nil
            }, copy: { $0.replay.pacing = $1.replay.pacing }),
        .computed(
            .replay, "pps", .number(ReplayRequest.ppsRange), .live, example: "1000", derived: "none",
            "Replays' default rate in frames per second (instead of speed).",
            value: {
                if case .packetsPerSecond(let p) = $0.replay.pacing { return ConfigText.number(p) }
                return nil
            }, copy: { $0.replay.pacing = $1.replay.pacing }),
        .computed(
            .replay, "mbps", .number(ReplayRequest.mbpsRange), .live, example: "100", derived: "none",
            "Replays' default rate in megabits per second (instead of speed).",
            value: {
                if case .megabitsPerSecond(let m) = $0.replay.pacing { return ConfigText.number(m) }
                return nil
            }, copy: { $0.replay.pacing = $1.replay.pacing }),
        .key(
            .replay, "allowed_directories", \.replay.allowedDirectories, .strings, .live,
            example: "[\"/var/lib/labyrinth/captures\"]",
            "Directories beneath which a client may name a file to replay by path (none: clients pass the file)."),
        .key(
            .replay, "max_open_jobs", \.replay.maxOpenJobs, .integer(1...1024), .live, example: "8",
            "Replays queued or running with a file the daemon holds open."),
        .key(
            .replay, "max_gap", \.replay.maxGap, .number(0...31_536_000), .live, example: "5",
            "The longest wait between two paced frames, in seconds (0: no limit)."),
    ]

    static let source: [ConfigKey] = [
        .source(
            "backend", \.backend, .choice(CaptureBackend.allCases.map(\.rawValue)), .restart,
            example: "\"tpacket\"", derived: "tpacket (pcap on loopback)", "How the workers capture."),
        .source(
            "interface", \.interface, .string, .restart, example: "\"eth0\"", derived: "none: required",
            "The interface to capture on."),
        .source(
            "fanout", \.fanout, .choice(FanoutMode.allCases.map(\.rawValue)), .restart, example: "\"lb\"",
            "How PACKET_FANOUT spreads frames over the workers."),
        .source(
            "fanout_group", \.fanoutGroup, .integer(0...0xFFFF), .restart, example: "42",
            derived: "from the interface index", "The PACKET_FANOUT group id."),
        .source(
            "snaplen", \.snaplen, .integer(64...262_144), .restart, example: "1500",
            "Bytes of each frame captured."),
        .source(
            "filter", \.filter, .string, .live, example: "\"udp\"", derived: "none",
            "A BPF filter (tcpdump syntax), compiled and attached in the kernel; a reload swaps it."),
        .source(
            "promiscuous", \.promiscuous, .boolean, .restart, example: "false", "Promiscuous mode."),
        .source(
            "buffer", \.bufferBytes, .size((64 << 10)...(1 << 31)), .restart, example: "\"16MiB\"",
            "The kernel ring per handle."),
        .source(
            "immediate", \.immediate, .boolean, .restart, example: "true",
            "Deliver each frame at once (pcap: TPACKET_V2)."),
        .source(
            "timeout_ms", \.timeoutMilliseconds, .integer(0...60_000), .restart, example: "50",
            "Milliseconds the kernel holds a block before it hands it over."),
        .source(
            "kernel_timestamps", \.kernelTimestamps, .boolean, .restart, example: "true",
            "uring: SO_TIMESTAMPNS per frame."),
    ]

    static let ipfix: [ConfigKey] = [
        .computed(
            .ipfix, "collectors", .strings, .restart, example: "[\"127.0.0.1:4739\"]", derived: "none: no export",
            "Collectors, as HOST:PORT or [IPv6]:PORT.",
            value: { ConfigText.strings($0.ipfix.collectors.map(\.description)) }),
        .computed(
            .ipfix, "observation_domain", .integer(1...Int(UInt32.max)), .restart, example: "7",
            "The observation domain id.", value: { String($0.ipfix.observationDomain) }),
        .key(
            .ipfix, "mtu", \.ipfix.mtu, .integer(IPFIXExportConfiguration.minimumMessageLength...65_535), .restart,
            example: "1200", "Bytes per message: keep under the path MTU."),
        .computed(
            .ipfix, "template_refresh", .integer(1...86_400), .restart, example: "30",
            "Resend templates every N seconds.", value: { String($0.ipfix.templateRefresh) }),
        .key(
            .ipfix, "template_refresh_messages", \.ipfix.templateRefreshMessages, .integer(1...1_000_000),
            .restart, example: "50", "… or every N messages."),
        .key(
            .ipfix, "rate", \.ipfix.rate, .integer(1...100_000_000), .restart, example: "200000",
            derived: "no limit", "Records a second at most."),
        .key(
            .ipfix, "ring", \.ipfix.ring, .integer(16...(1 << 22)), .restart, example: "4096",
            "Ended flows each worker's ring holds."),
    ]

    static let metrics: [ConfigKey] = [
        .computed(
            .metrics, "listen", .string, .restart, example: "\"127.0.0.1:9469\"", derived: "none: off",
            "The address GET /metrics listens on: an IP address and a port.",
            value: { $0.metrics.listen.map { ConfigText.string($0.description) } }),
        .key(
            .metrics, "allow", \.metrics.allow, .strings, .restart, example: "[\"127.0.0.1\"]",
            "Peers allowed to connect (IP addresses); empty: any."),
        .key(
            .metrics, "max_connections", \.metrics.maxConnections, .integer(1...10_000), .restart, example: "16",
            "Connections open at once; past it the oldest idle or partial one closes."),
        .key(
            .metrics, "max_connections_per_peer", \.metrics.maxConnectionsPerPeer, .integer(1...10_000), .restart,
            example: "4", derived: "a quarter of max_connections, at least 1",
            "Connections one peer address may hold at once."),
        .key(
            .metrics, "idle_timeout", \.metrics.idleTimeout, .number(0.1...86_400), .restart, example: "10",
            "Seconds of silence before a connection closes."),
        .key(
            .metrics, "request_timeout", \.metrics.requestTimeout, .number(0.1...3600), .restart, example: "2",
            "Seconds for a request to arrive once its first byte has."),
        .key(
            .metrics, "request_max_bytes", \.metrics.requestMaxBytes, .integer(256...1 << 20), .restart,
            example: "4096", "The request line, headers and body together, in bytes."),
    ]

    static let sink: [ConfigKey] = [
        .sink(
            "path", \.path, .string, .restart, example: "\"/var/lib/labyrinth/other-%Y%m%d-%H%M%S.pcapng\"",
            "The path template (strftime fields, {worker}, {seq})."),
        .sink(
            "format", \.format, .choice(["pcapng", "pcap"]), .restart, example: "\"pcap\"",
            "pcapng, or pcap (nanosecond timestamps, one link type)."),
        .sink(
            "rotate_size", \.rotateSize, .size(1...Int.max), .restart, example: "\"256MiB\"", derived: "none",
            "A new file at this size (tcpdump -C)."),
        .sink(
            "rotate_seconds", \.rotateSeconds, .integer(1...Int(RotationConfiguration.maximumIntervalSeconds)),
            .restart, example: "3600", derived: "none", "A new file every N seconds, on the wall clock (-G)."),
        .sink(
            "max_files", \.maxFiles, .integer(1...1_000_000), .restart, example: "48", derived: "none",
            "Keep the newest N files per worker (a ring; needs rotate_size or rotate_seconds)."),
        .sink(
            "min_free", \.minFree, .size(0...Int.max), .restart, example: "\"2GiB\"",
            derived: "1 GiB, or 5 % of a smaller file system",
            "Bytes kept free on the recording's file system (0: none)."),
        .sink(
            "snaplen", \.snaplen, .integer(1...262_144), .restart, example: "128", derived: "whole frames",
            "Bytes of each frame written."),
        .sink(
            "flush_ms", \.flushMilliseconds, .integer(1...600_000), .restart, example: "500",
            "Data reaches the file within this many milliseconds."),
        .sink(
            "pages_in_flight", \.pagesInFlight, .integer(16...(1 << 24)), .restart, example: "1024",
            derived: "a quarter of the worker's room", "Pages each worker may have waiting to be written."),
        .sink(
            "cache_writes", \.cacheWrites, .boolean, .restart, example: "true",
            "true: write through the page cache (no RWF_DONTCACHE)."),
        .sink(
            "index", \.index, .boolean, .restart, example: "false",
            "Each finished file gets its sidecar index (.NAME.idx)."),
        .sink(
            "extract_read_rate", \.extractReadRate, .size(1...Int.max), .live, example: "\"16MiB\"",
            "Bytes per second a labyrinthctl extract may read, over every file it reads."),
        .computed(
            .sink, "mode", .mode(0o666), .restart, example: "\"0600\"", "The files' mode.",
            value: { $0.sink.map { ConfigText.octal($0.mode) } }),
        .sink(
            "group", \.group, .string, .restart, example: "\"\"", derived: "labyrinth where it exists",
            "The files' group (\"\": the daemon's own)."),
        .sink(
            "filter", \.filter, .string, .restart, example: "\"not port 22\"", derived: "none",
            "The sink's own BPF filter: frames it does not match are not written."),
    ]
}
