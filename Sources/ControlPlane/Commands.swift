import Capture
import DataPlane
import Packet
import Rooms
import StatsProtocol

/// The stats socket's commands: one JSON request in, one JSON reply out.
/// `{"command":"stats"}` → `{"ok":true,"result":{…}}`; any error →
/// `{"ok":false,"error":"…"}`.
public struct CommandProcessor: Sendable {
    public let state: DaemonState

    public init(state: DaemonState) {
        self.state = state
    }

    public static let commands: [(String, String)] = [
        ("version", "the daemon's version"),
        ("help", "this list"),
        ("stats", "totals over all workers: packets, decoded protocols, malformations, drops, flows, rooms"),
        ("workers", "per worker: CPU, heartbeat, state and counters"),
        ("rooms", "per room: the page allocator's counters and watermarks"),
        ("flows", "the top flows; \"top\": N (default 10), \"by\": \"bytes\" or \"packets\""),
        ("config", "the running configuration"),
        ("uptime", "seconds since start"),
        (
            "replay",
            "\"file\": PATH queues a capture through the workers (optional \"speed\", \"multiplier\", \"pps\", \"mbps\"); \"job\": N shows one job; nothing lists them"
        ),
        ("prometheus", "the counters in Prometheus text exposition format"),
    ]

    static func error(_ message: String) -> JSON { .object([("ok", false), ("error", .string(message))]) }
    static func ok(_ result: JSON) -> JSON { .object([("ok", true), ("result", result)]) }

    /// What a request line needs: an answer now, or an asynchronous one.
    public enum Prepared: Sendable {
        case reply(JSON)
        /// Needs the workers (top flows): `await finish(_:)`.
        case deferred(JSON)
    }

    /// Answers one request line.
    public func handle(line: String) async -> JSON {
        switch prepare(line: line) {
        case .reply(let reply): return reply
        case .deferred(let request): return await finish(request)
        }
    }

    /// Parses a request and answers it at once where it can: every command
    /// but `flows` reads counters without waiting on anybody, so the server
    /// answers those on its event loop without a task hop.
    public func prepare(line: String) -> Prepared {
        let request: JSON
        do {
            request = try JSON.parse(line)
        } catch {
            return .reply(Self.error("not JSON: \(error). Send one object per line, e.g. {\"command\":\"stats\"}"))
        }
        guard case .object = request else {
            return .reply(Self.error("the request must be a JSON object with a \"command\""))
        }
        guard let command = request["command"]?.stringValue else {
            return .reply(Self.error("missing \"command\" (a string); try {\"command\":\"help\"}"))
        }
        switch command {
        case "version":
            return .reply(Self.ok(.object([("version", .string(DaemonState.version)), ("name", "labyrinthd")])))
        case "help":
            return .reply(
                Self.ok(
                    .array(Self.commands.map { .object([("command", .string($0.0)), ("description", .string($0.1))]) }))
            )
        case "stats": return .reply(Self.ok(stats()))
        case "workers": return .reply(Self.ok(workers()))
        case "rooms": return .reply(Self.ok(.array(state.rooms.map { ReplayReport.roomJSON($0.stats) })))
        case "flows": return .deferred(request)
        case "config": return .reply(Self.ok(configJSON(state.config)))
        case "uptime": return .reply(Self.ok(.object([("seconds", .double(state.uptime))])))
        case "replay": return .reply(replay(request))
        case "prometheus": return .reply(Self.ok(.string(prometheus())))
        default:
            return .reply(
                Self.error("unknown command \"\(command)\"; known: \(Self.commands.map(\.0).joined(separator: ", "))"))
        }
    }

    /// The asynchronous part of a deferred request.
    public func finish(_ request: JSON) async -> JSON {
        await flows(request)
    }

    // MARK: Results

    public func stats() -> JSON {
        let rooms = state.rooms.map(\.stats)
        let jobs = state.replay.jobs
        return .object([
            ("uptime_seconds", .double(state.uptime)),
            ("workers", .int(state.workers.count)),
            ("packets", .int(state.received)),
            ("bytes", .int(state.total(.bytes))),
            ("processed", .int(state.total(.processed))),
            (
                "decoded",
                .object([
                    ("ipv4", .int(state.total(.ipv4))), ("ipv6", .int(state.total(.ipv6))),
                    ("tcp", .int(state.total(.tcp))),
                    ("udp", .int(state.total(.udp))), ("icmp", .int(state.total(.icmp))),
                    ("icmpv6", .int(state.total(.icmpv6))),
                    ("arp", .int(state.total(.arp))), ("vlan", .int(state.total(.vlan))),
                    ("other", .int(state.total(.other))),
                    ("fragments", .int(state.total(.fragments))),
                ])
            ),
            ("truncated", .int(state.total(.truncated))),
            ("oversized", .int(state.total(.oversized))),
            ("malformed", .object(Malformation.allCases.dropFirst().map { ($0.description, .int(state.total($0))) })),
            (
                "dropped",
                .object([
                    ("nomem", .int(state.total(.droppedNoMemory))), ("rx_missed", .int(state.rxMissed)),
                    ("kernel", .int(state.total(.kernelDrops))),
                ])
            ),
            (
                "kernel",
                .object([("packets", .int(state.total(.kernelPackets))), ("drops", .int(state.total(.kernelDrops)))])
            ),
            ("no_buffers", .int(state.total(.noBuffers))),
            (
                "sources",
                .array(
                    state.config.sources.map { s in
                        .object([
                            ("interface", .string(s.interface)), ("backend", .string(s.backend.rawValue)),
                            ("fanout", .string(s.fanout.rawValue)), ("filter", s.filter.map { .string($0) } ?? .null),
                        ])
                    })
            ),
            (
                "flows",
                .object([
                    ("total", .int(state.total(.flowsCreated) + state.total(.icmpFlowsCreated))),
                    ("tcp_udp", .int(state.total(.flowsCreated))), ("icmp", .int(state.total(.icmpFlowsCreated))),
                    ("expired", .int(state.total(.flowsExpired))), ("active", .int(state.total(.flowsActive))),
                    ("table_full", .int(state.total(.flowTableFull))),
                ])
            ),
            (
                "rooms",
                .object([
                    ("free_pages", .int(rooms.reduce(0) { $0 + $1.freePages })),
                    ("in_use_pages", .int(rooms.reduce(0) { $0 + $1.inUsePages })),
                    ("alloc_fail", .int(rooms.reduce(0) { $0 + $1.failures })),
                    ("reserve_dips", .int(rooms.reduce(0) { $0 + $1.reserveDips })),
                ])
            ),
            (
                "replay",
                .object([
                    ("queued", .int(jobs.filter { $0.state == .queued }.count)),
                    ("running", .int(jobs.filter { $0.state == .running }.count)),
                    ("done", .int(jobs.filter { $0.state == .done }.count)),
                    ("failed", .int(jobs.filter { $0.state == .failed }.count)),
                    ("packets", .int(state.replay.replayer.counter(.packets))),
                ])
            ),
        ])
    }

    public func workers() -> JSON {
        _ = state.stalledWorkers(after: 1)
        return .array(
            state.workers.enumerated().map { i, w in
                var members: [(String, JSON)] = [
                    ("worker", .int(i)), ("name", .string("lab-irq/\(i)")), ("cpu", w.cpu.map { .int($0) } ?? .null),
                    ("state", .string(w.exited ? "exited" : state.silence(i) > 1 ? "stalled" : "running")),
                    ("heartbeat", .int(w.heartbeat)), ("received", .int(w.received)),
                ]
                for c in WorkerCounter.allCases where c != .malformedBase && c != .heartbeat {
                    members.append((c.name, .int(w.counter(c))))
                }
                members.append(
                    ("malformed", .int(Malformation.allCases.dropFirst().reduce(0) { $0 + w.malformed($1) })))
                return .object(members)
            })
    }

    func flows(_ request: JSON) async -> JSON {
        let top = request["top"]?.intValue ?? 10
        guard top >= 1 && top <= WorkerShared.maximumTopFlows else {
            return Self.error("\"top\" must be within 1...\(WorkerShared.maximumTopFlows)")
        }
        let by = request["by"]?.stringValue ?? "bytes"
        guard by == "bytes" || by == "packets" else { return Self.error("\"by\" must be \"bytes\" or \"packets\"") }
        let (flows, missing) = await state.topFlows(top, byPackets: by == "packets")
        return Self.ok(
            .object([
                ("by", .string(by)),
                ("flows", .array(flows.map(ReplayReport.flowJSON))),
                ("workers_not_answering", .array(missing.map { .int($0) })),
            ]))
    }

    func replay(_ request: JSON) -> JSON {
        if let id = request["job"]?.intValue {
            guard let job = state.replay.job(id) else { return Self.error("no replay job \(id)") }
            return Self.ok(jobJSON(job))
        }
        guard let file = request["file"]?.stringValue else {
            return Self.ok(.array(state.replay.jobs.map(jobJSON)))
        }
        guard file.hasPrefix("/") else {
            return Self.error("\"file\" must be an absolute path (the daemon does not share your working directory)")
        }
        var pacing = state.config.replay.pacing
        if let pps = request["pps"]?.doubleValue {
            guard pps > 0 else { return Self.error("\"pps\" must be above 0") }
            pacing = .packetsPerSecond(pps)
        } else if let mbps = request["mbps"]?.doubleValue {
            guard mbps > 0 else { return Self.error("\"mbps\" must be above 0") }
            pacing = .megabitsPerSecond(mbps)
        } else if let speed = request["speed"]?.stringValue {
            switch speed {
            case "max": pacing = .maximum
            case "original": pacing = .original(multiplier: request["multiplier"]?.doubleValue ?? 1)
            default: return Self.error("\"speed\" must be \"max\" or \"original\"")
            }
        }
        return Self.ok(jobJSON(state.replay.submit(file: file, pacing: pacing)))
    }

    func jobJSON(_ job: ReplayQueue.Job) -> JSON {
        var members: [(String, JSON)] = [
            ("job", .int(job.id)), ("file", .string(job.file)), ("state", .string(job.state.rawValue)),
            ("pacing", .string(job.pacing.description)),
        ]
        if let r = job.result {
            members.append(("packets", .int(r.packets)))
            members.append(("bytes", .int(r.bytes)))
            if job.state == .done || job.state == .failed {
                members.append(("wire_bytes", .int(r.wireBytes)))
                members.append(("elapsed_seconds", .double(Double(r.elapsed) / 1e9)))
                members.append(("format", r.format.map { .string($0) } ?? .null))
            }
            if let e = r.error {
                members.append(
                    (
                        "error",
                        .object([
                            ("file", .string(e.file)), ("record", e.record.map { .int($0) } ?? .null),
                            ("offset", e.offset.map { .int($0) } ?? .null), ("message", .string(e.message)),
                        ])
                    ))
            }
        }
        return .object(members)
    }

    func configJSON(_ c: DaemonConfiguration) -> JSON {
        .object([
            (
                "daemon",
                .object([
                    ("socket", .string(c.daemon.socket)),
                    ("socket_group", c.daemon.socketGroup.map { .string($0) } ?? .null),
                    ("socket_mode", .string("0" + String(c.daemon.socketMode, radix: 8))),
                    ("log_level", .string(c.daemon.logLevel.rawValue)),
                    ("max_clients", .int(c.daemon.maxClients)),
                    ("client_idle_timeout", .double(c.daemon.clientIdleTimeout)),
                    ("request_timeout", .double(c.daemon.requestTimeout)),
                    ("request_max_bytes", .int(c.daemon.requestMaxBytes)),
                    ("max_requests_per_second", .int(c.daemon.maxRequestsPerSecond)),
                    ("status_interval", .double(c.daemon.statusInterval)),
                ])
            ),
            (
                "rooms",
                .object([
                    ("pages_per_room", .int(c.rooms.pagesPerRoom)), ("lock", .string(c.rooms.lock.rawValue)),
                    ("hugepages", .string(c.rooms.hugePages.rawValue)),
                    (
                        "watermarks",
                        c.rooms.watermarks.map {
                            .object([("min", .int($0.min)), ("low", .int($0.low)), ("high", .int($0.high))])
                        } ?? .null
                    ),
                ])
            ),
            (
                "workers",
                .object([
                    ("count", .int(c.workerCount)),
                    ("cpus", c.workers.cpus.map { .array($0.map { .int($0) }) } ?? .null),
                    ("priority", c.workers.priority.map { .int($0) } ?? .null), ("budget", .int(c.workers.budget)),
                    ("busy_poll", .bool(c.workers.busyPoll)), ("flow_capacity", .int(c.workers.flowCapacity)),
                    ("flow_idle_timeout", .double(c.workers.flowIdleTimeout)), ("mlockall", .bool(c.workers.mlockall)),
                ])
            ),
            ("replay", .object([("ring", .int(c.replay.ring)), ("pacing", .string(c.replay.pacing.description))])),
            (
                "sources",
                .array(
                    c.sources.map { s in
                        .object([
                            ("backend", .string(s.backend.rawValue)), ("interface", .string(s.interface)),
                            ("fanout", .string(s.fanout.rawValue)), ("snaplen", .int(s.snaplen)),
                            ("filter", s.filter.map { .string($0) } ?? .null), ("promiscuous", .bool(s.promiscuous)),
                        ])
                    })
            ),
        ])
    }

    // MARK: Prometheus

    /// The counters in the text exposition format (version 0.0.4): counters
    /// end in `_total`, gauges do not; every family has HELP and TYPE.
    public func prometheus() -> String {
        var out = ""
        func family(_ name: String, _ type: String, _ help: String, _ samples: [(String, Int)]) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
            for (labels, value) in samples { out += "\(name)\(labels.isEmpty ? "" : "{\(labels)}") \(value)\n" }
        }
        let ws = Array(state.workers.enumerated())
        func perWorker(_ c: WorkerCounter) -> [(String, Int)] {
            ws.map { ("worker=\"\($0.offset)\"", $0.element.counter(c)) }
        }
        family(
            "labyrinth_packets_received_total", "counter", "Frames the workers took from their sources.",
            ws.map { ("worker=\"\($0.offset)\"", $0.element.received) })
        family(
            "labyrinth_packets_processed_total", "counter", "Frames copied into a page and decoded.",
            perWorker(.processed))
        family("labyrinth_bytes_total", "counter", "Captured bytes of the frames taken.", perWorker(.bytes))
        let protocols: [(String, WorkerCounter)] = [
            ("ipv4", .ipv4), ("ipv6", .ipv6), ("tcp", .tcp), ("udp", .udp), ("icmp", .icmp), ("icmpv6", .icmpv6),
            ("arp", .arp), ("vlan", .vlan), ("other", .other), ("fragment", .fragments),
        ]
        family(
            "labyrinth_decoded_total", "counter", "Frames by protocol found.",
            ws.flatMap { w in protocols.map { ("worker=\"\(w.offset)\",protocol=\"\($0.0)\"", w.element.counter($0.1)) }
            })
        family(
            "labyrinth_truncated_total", "counter", "Frames with a header cut by the snap length.",
            perWorker(.truncated))
        family(
            "labyrinth_malformed_total", "counter", "Malformed frames by reason.",
            ws.flatMap { w in
                Malformation.allCases.dropFirst().map {
                    ("worker=\"\(w.offset)\",reason=\"\($0)\"", w.element.malformed($0))
                }
            })
        family(
            "labyrinth_dropped_total", "counter", "Frames dropped, by reason.",
            ws.map { ("worker=\"\($0.offset)\",reason=\"nomem\"", $0.element.counter(.droppedNoMemory)) }
                + ws.map {
                    ("worker=\"\($0.offset)\",reason=\"rx_missed\"", state.replay.replayer.missed.load($0.offset))
                }
                + ws.map { ("worker=\"\($0.offset)\",reason=\"kernel\"", $0.element.counter(.kernelDrops)) })
        family(
            "labyrinth_kernel_packets_total", "counter",
            "Frames the kernel counted for the workers' sockets (PACKET_STATISTICS, drops included).",
            perWorker(.kernelPackets))
        family(
            "labyrinth_no_buffers_total", "counter",
            "uring: receives that found no page in the provided-buffer ring (ENOBUFS).", perWorker(.noBuffers))
        family(
            "labyrinth_buffer_truncated_total", "counter", "uring: frames longer than their receive buffer.",
            perWorker(.bufferTruncated))
        family("labyrinth_receive_errors_total", "counter", "Failed receive completions.", perWorker(.receiveErrors))
        family("labyrinth_flows_created_total", "counter", "TCP and UDP flows started.", perWorker(.flowsCreated))
        family("labyrinth_flows_expired_total", "counter", "Flows that idled out.", perWorker(.flowsExpired))
        family("labyrinth_flows_active", "gauge", "Flows in the tables.", perWorker(.flowsActive))
        family(
            "labyrinth_flow_table_full_total", "counter", "Packets whose new flow found the table full.",
            perWorker(.flowTableFull))
        family("labyrinth_worker_heartbeat_total", "counter", "Loops of each worker's poll.", perWorker(.heartbeat))
        family("labyrinth_worker_polls_total", "counter", "Polls that found work.", perWorker(.polls))
        family(
            "labyrinth_worker_sleeps_total", "counter", "Times a worker slept waiting for its interrupt.",
            perWorker(.sleeps))
        let rooms = state.rooms.map(\.stats)
        func perRoom(_ value: (RoomStats) -> Int) -> [(String, Int)] {
            rooms.map { ("room=\"\($0.room)\"", value($0)) }
        }
        family("labyrinth_room_free_pages", "gauge", "Free pages in each room.", perRoom(\.freePages))
        family("labyrinth_room_in_use_pages", "gauge", "Pages allocated in each room.", perRoom(\.inUsePages))
        family(
            "labyrinth_room_in_use_high_water_pages", "gauge", "The most pages ever allocated at once.",
            perRoom(\.inUseHighWater))
        family(
            "labyrinth_room_alloc_total", "counter", "Allocations, by path.",
            rooms.flatMap {
                [
                    ("room=\"\($0.room)\",path=\"fast\"", $0.allocFast),
                    ("room=\"\($0.room)\",path=\"slow\"", $0.allocSlow),
                ]
            })
        family(
            "labyrinth_room_alloc_fail_total", "counter", "Failed allocations, by order.",
            rooms.flatMap { r in
                r.allocFail.enumerated().map { ("room=\"\(r.room)\",order=\"\($0.offset)\"", $0.element) }
            })
        family(
            "labyrinth_room_reserve_dips_total", "counter", "Atomic allocations served from the emergency reserve.",
            perRoom(\.reserveDips))
        family(
            "labyrinth_room_low_watermark_events_total", "counter", "Times free pages fell below low.",
            perRoom(\.lowWatermarkEvents))
        family("labyrinth_room_free_remote_total", "counter", "Blocks freed by other threads.", perRoom(\.freeRemote))
        family("labyrinth_room_reclaimed_total", "counter", "Remote frees brought home.", perRoom(\.reclaimed))
        family(
            "labyrinth_replay_packets_total", "counter", "Records read by replays.",
            [("", state.replay.replayer.counter(.packets))])
        family("labyrinth_uptime_seconds", "gauge", "Seconds since the daemon started.", [("", Int(state.uptime))])
        return out
    }
}
