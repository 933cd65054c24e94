import Capture
import DataPlane
import Packet
import Rooms
import Sinks
import StatsProtocol

/// The stats socket's commands: one JSON request in, one JSON reply out,
/// through the typed schema of `StatsProtocol` (``Command``, the request
/// types and their replies). `{"command":"stats"}` →
/// `{"ok":true,"result":{…}}`; any error → `{"ok":false,"error":"…"}`.
public struct CommandProcessor: Sendable {
    public let state: DaemonState

    public init(state: DaemonState) {
        self.state = state
    }

    /// What a request line needs: an answer now, or an asynchronous one.
    public enum Prepared: Sendable {
        case reply(JSON)
        /// Needs the workers (top flows, a flush): `await finish(_:)`.
        case deferred(any StatsRequest)
        /// A live tap: its filter compiles off the event loop
        /// (``tapSetup(_:)``), then the connection becomes its stream
        /// (``TapStream``).
        case tap(TapPlan)
        /// An extraction: its filter compiles off the event loop
        /// (``extractSetup(_:)``), then the connection carries its answer
        /// (``ExtractStream``).
        case extract(ExtractPlan)
    }

    /// Answers one request line from a client with `access` (and, for a
    /// replay by path, the `peer`'s rights to the file; nil: a caller in
    /// this process, such as a test or a fuzzer).
    public func handle(line: String, access: Access = .act, peer: Peer? = nil) async -> JSON {
        switch prepare(line: line, access: access, peer: peer) {
        case .reply(let reply): return reply
        case .deferred(let request): return await finish(request)
        case .tap: return ReplyEnvelope.error("\"dump\" streams pcapng: send it on a stats socket connection")
        case .extract:
            return ReplyEnvelope.error("\"extract\" streams pcapng: send it on a stats socket connection")
        }
    }

    /// Parses, checks and answers a request at once where it can: every
    /// command but `flows` reads counters without waiting on anybody, so the
    /// server answers those on its event loop without a task hop.
    public func prepare(line: String, access: Access, peer: Peer? = nil) -> Prepared {
        let request: JSON
        do {
            request = try JSON.parse(line)
        } catch {
            return .reply(
                ReplyEnvelope.error(
                    "not JSON: \(error). Send one object per line, e.g. {\"command\":\"stats\"}"))
        }
        let command: Command
        let decoded: any StatsRequest
        do throws(RequestError) {
            (command, decoded) = try Command.request(from: request)
        } catch {
            return .reply(ReplyEnvelope.error(error.message))
        }
        if command.access == .act && access == .read {
            return .reply(ReplyEnvelope.error(refusal(command)))
        }
        do throws(RequestError) {
            return try answer(decoded, peer: peer)
        } catch {
            return .reply(ReplyEnvelope.error(error.message))
        }
    }

    /// Why a reader may not send `command`: it names the group needed.
    func refusal(_ command: Command) -> String {
        let group = state.config.daemon.adminGroup.map { "membership in the admin group \"\($0)\"" }
        return "permission denied: \"\(command.rawValue)\" needs root or "
            + (group ?? "an admin group (daemon.admin_group is not set)")
            + "; the socket group may only read counters"
    }

    /// Answers a decoded request.
    func answer(_ request: any StatsRequest, peer: Peer?) throws(RequestError) -> Prepared {
        switch request {
        case is VersionRequest: return .reply(ReplyEnvelope.ok(VersionInfo(version: DaemonState.version)))
        case is HelpRequest: return .reply(ReplyEnvelope.ok(Command.allCases.map(CommandHelp.init)))
        case is StatsCommandRequest: return .reply(ReplyEnvelope.ok(stats()))
        case is WorkersRequest: return .reply(ReplyEnvelope.ok(workers()))
        case is RoomsRequest: return .reply(ReplyEnvelope.ok(state.rooms.map { RoomReport($0.stats) }))
        case let flows as FlowsRequest: return .deferred(flows)
        case is ConfigRequest: return .reply(ReplyEnvelope.ok(ConfigReport(state.config)))
        case is UptimeRequest: return .reply(ReplyEnvelope.ok(Uptime(seconds: state.uptime)))
        case let replay as ReplayRequest: return .reply(ReplyEnvelope.ok(try self.replay(replay, peer: peer)))
        case let cancel as CancelRequest:
            let id = cancel.job ?? 0
            guard let job = state.replay.cancel(id, by: "a client's cancel") else {
                throw RequestError("no replay job \(id)")
            }
            return .reply(ReplyEnvelope.ok(job.report))
        case is PrometheusRequest: return .reply(ReplyEnvelope.ok(prometheus()))
        case let flush as FlushRequest: return .deferred(flush)
        case let rotate as RotateRequest:
            guard state.recorder != nil else {
                throw RequestError("nothing is recorded: the configuration has no [[sink]]")
            }
            return .deferred(rotate)
        case let dump as DumpRequest: return .tap(try tapPlan(dump))
        case let extract as ExtractRecordingRequest: return .extract(try extractPlan(extract))
        default: throw RequestError("no handler for \(type(of: request).command.rawValue)")
        }
    }

    /// The asynchronous part of a deferred request.
    public func finish(_ request: any StatsRequest) async -> JSON {
        switch request {
        case let request as FlowsRequest:
            let (flows, missing) = await state.topFlows(request.count, byPackets: request.order == .packets)
            return ReplyEnvelope.ok(
                TopFlows(by: request.order, flows: flows.map(FlowEntry.init), workersNotAnswering: missing))
        case is FlushRequest:
            let (ended, missing) = await state.flushFlows()
            return ReplyEnvelope.ok(
                FlushReply(
                    flowsEnded: ended, recordsExported: state.total(.flowRecordsExported),
                    workersNotAnswering: missing))
        case is RotateRequest:
            guard let missing = await state.rotateRecording(), let recorder = state.recorder else {
                return ReplyEnvelope.error("nothing is recorded: the configuration has no [[sink]]")
            }
            let counters = recorder.counters
            return ReplyEnvelope.ok(
                RotateReply(
                    currentFiles: counters.currentFiles, filesWritten: counters.filesWritten, workersNotRotated: missing
                ))
        default:
            return ReplyEnvelope.error("no handler for \(type(of: request).command.rawValue)")
        }
    }

    // MARK: Results

    /// The counters every report shares, over all workers.
    public var traffic: TrafficTotals {
        TrafficTotals(
            total: state.total, malformed: state.total,
            unsupported: (
                state.replay.replayer.counter(.unsupportedLinkType), state.replay.replayer.counter(.unsupportedBytes)
            ),
            missed: (state.replay.replayer.counter(.rxMissed), state.replay.replayer.counter(.rxMissedBytes)))
    }

    public func stats() -> Stats {
        let rooms = state.rooms.map(\.stats)
        let jobs = state.replay.jobs
        var kernel = KernelTotals()
        kernel.packets = state.total(.kernelPackets)
        kernel.drops = state.total(.kernelDrops)
        var roomTotals = RoomTotals()
        roomTotals.freePages = rooms.reduce(0) { $0 + $1.freePages }
        roomTotals.inUsePages = rooms.reduce(0) { $0 + $1.inUsePages }
        roomTotals.allocFail = rooms.reduce(0) { $0 + $1.failures }
        roomTotals.reserveDips = rooms.reduce(0) { $0 + $1.reserveDips }
        var counts = JobCounts()
        counts.queued = jobs.filter { $0.state == .queued }.count
        counts.running = jobs.filter { $0.state == .running }.count
        counts.done = jobs.filter { $0.state == .done }.count
        counts.failed = jobs.filter { $0.state == .failed }.count
        counts.cancelled = jobs.filter { $0.state == .cancelled }.count
        counts.packets = state.replay.replayer.counter(.packets)
        let single = state.workers.count == 1
        return Stats(
            uptimeSeconds: state.uptime, workers: state.workers.count, traffic: traffic, kernel: kernel,
            noBuffers: state.total(.noBuffers),
            sources: state.config.sources.map { s in
                SourceSummary(
                    interface: s.interface, backend: s.backend.rawValue,
                    fanout: single && s.fanoutGroup == nil ? nil : s.fanout.rawValue, filter: s.filter,
                    snaplen: s.snaplen)
            },
            rooms: roomTotals, replay: counts,
            export: state.exporter.map { ExportReport($0, workers: state.workers) },
            recording: state.recorder.map { RecordingReport($0, workers: state.workers) },
            taps: state.taps.map { board in
                let (open, opened) = board.counts
                return TapReport(
                    open: open, limit: board.limit, opened: opened, copied: state.total(.tapCopied),
                    dropped: state.total(.tapDropped), delivered: board.delivered.load(ordering: .relaxed))
            })
    }

    public func workers() -> [WorkerReport] {
        _ = state.stalledWorkers(after: 1)
        return state.workers.enumerated().map { i, w in
            w.report(
                state: w.exited ? "exited" : state.silence(i) > 1 ? "stalled" : "running",
                rxMissed: state.replay.replayer.missed.load(i))
        }
    }

    func replay(_ request: ReplayRequest, peer: Peer?) throws(RequestError) -> ReplayReply {
        if let id = request.job {
            guard let job = state.replay.job(id) else { throw RequestError("no replay job \(id)") }
            return .job(job.report)
        }
        if request.fd == true {
            let where_ =
                state.config.replaySocketPath.map { "to the replay socket \($0)" } ?? "(no replay socket is configured)"
            throw RequestError("a request with \"fd\": true carries a descriptor: send it \(where_)")
        }
        guard let file = request.file else { return .jobs(state.replay.jobs.map(\.report)) }
        // The daemon opens a path only beneath an allowed directory, only
        // when the asking user could open it too, and the answer to any
        // other path is the same whatever the file is.
        let allowed = state.allowedDirectories
        guard let opened = allowed.open(file, for: peer) else { throw RequestError(allowed.refusal) }
        return .job(try submit(.file(opened), request: request))
    }

    /// Queues a replay of `source` paced as `request` asks (the
    /// configuration's pacing otherwise).
    func submit(_ source: ReplaySource, request: ReplayRequest) throws(RequestError) -> JobReport {
        let pacing = request.pacing(otherwise: state.config.replay.pacing)
        let maximum = state.config.replay.maxOpenJobs
        guard let job = state.replay.submit(source, pacing: pacing, maximumOpen: maximum) else {
            throw RequestError(
                "\(maximum) replays with open files are queued already (replay.max_open_jobs); try again later")
        }
        return job.report
    }

    // MARK: Prometheus

    /// The two exposition formats `/metrics` serves.
    public enum ExpositionFormat: Sendable {
        case text, openMetrics

        public var contentType: String {
            switch self {
            case .text: return "text/plain; version=0.0.4; charset=utf-8"
            case .openMetrics: return "application/openmetrics-text; version=1.0.0; charset=utf-8"
            }
        }
    }

    /// A label value escaped as the exposition format asks: backslash,
    /// double quote and line feed.
    static func labelValue(_ text: String) -> String {
        var out = ""
        for c in text.unicodeScalars {
            switch c {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    /// The counters in an exposition format: Prometheus text (version
    /// 0.0.4; `labyrinthctl prometheus`, and `/metrics` by default) or
    /// OpenMetrics 1.0 (`/metrics` to a scraper that asks for it). Counters'
    /// samples end in `_total` (in OpenMetrics their family's name does
    /// not), gauges' do not; every family has HELP and TYPE. One function
    /// for both, so the socket and HTTP never differ.
    public func prometheus(_ format: ExpositionFormat = .text) -> String {
        var out = ""
        func family(_ name: String, _ type: String, _ help: String, _ samples: [(String, Int)]) {
            var familyName = name
            var familyType = type
            if format == .openMetrics {
                if type == "counter" && name.hasSuffix("_total") {
                    familyName = String(name.dropLast("_total".count))
                } else if type == "gauge" && name.hasSuffix("_info") {
                    familyName = String(name.dropLast("_info".count))
                    familyType = "info"
                }
            }
            out += "# HELP \(familyName) \(help)\n# TYPE \(familyName) \(familyType)\n"
            for (labels, value) in samples { out += "\(name)\(labels.isEmpty ? "" : "{\(labels)}") \(value)\n" }
        }
        let ws = Array(state.workers.enumerated())
        /// A worker's histogram, cumulative buckets with `le`, then the sum
        /// and the count (the buckets' total, from the same loads).
        func histogram(_ h: WorkerHistogram) {
            out += "# HELP \(h.metricName) \(h.help)\n# TYPE \(h.metricName) histogram\n"
            for (i, w) in ws {
                let r = w.counters.reading(h)
                var cumulative = 0
                for (b, n) in r.buckets.enumerated() {
                    cumulative &+= n
                    let le = b < WorkerHistogram.finiteBuckets ? "\(Double(h.bound(b)) / h.scale)" : "+Inf"
                    out += "\(h.metricName)_bucket{worker=\"\(i)\",le=\"\(le)\"} \(cumulative)\n"
                }
                let sum = h.scale == 1 ? "\(r.sum)" : "\(Double(r.sum) / h.scale)"
                out += "\(h.metricName)_sum{worker=\"\(i)\"} \(sum)\n"
                out += "\(h.metricName)_count{worker=\"\(i)\"} \(cumulative)\n"
            }
        }
        // The workers' counters, from the table; two families carry a
        // series that is not a worker's counter.
        var extras: [String: [(String, Int)]] = [
            "labyrinth_dropped_total": ws.map {
                ("worker=\"\($0.offset)\",reason=\"rx_missed\"", state.replay.replayer.missed.load($0.offset))
            }
        ]
        if let board = state.taps {
            extras["labyrinth_tap_frames_total"] = [("result=\"delivered\"", board.delivered.load(ordering: .relaxed))]
        }
        family(
            "labyrinth_packets_received_total", "counter", "Frames the workers took from their sources.",
            ws.map { ("worker=\"\($0.offset)\"", $0.element.received) })
        for f in Exposition.workerFamilies {
            switch f.shown {
            case .always: break
            case .recording: if state.recorder == nil { continue }
            case .taps: if state.taps == nil { continue }
            }
            var samples: [(String, Int)]
            if f.total {
                samples = f.series.map { s in (s.labels, state.total(s.counter)) }
            } else {
                samples = ws.flatMap { w in
                    f.series.map { s in
                        (
                            "worker=\"\(w.offset)\"" + (s.labels.isEmpty ? "" : "," + s.labels),
                            w.element.counter(s.counter)
                        )
                    }
                }
            }
            family(f.name, f.type, f.help, samples + (extras[f.name] ?? []))
        }
        family(
            "labyrinth_malformed_total", "counter", "Malformed frames by reason.",
            ws.flatMap { w in
                MalformedCounts(w.element.malformed).reasons.map {
                    ("worker=\"\(w.offset)\",reason=\"\($0.name)\"", $0.count)
                }
            })
        if let exporter = state.exporter {
            let c = exporter.counters
            family(
                "labyrinth_ipfix_messages_total", "counter", "IPFIX messages, by outcome of their send.",
                [
                    ("result=\"sent\"", c.messagesSent), ("result=\"failed\"", c.messagesFailed),
                    ("result=\"not_encoded\"", c.encodingFailures),
                ])
            family("labyrinth_ipfix_data_records_total", "counter", "IPFIX data records sent.", [("", c.records)])
            family("labyrinth_ipfix_bytes_total", "counter", "Bytes of IPFIX messages sent.", [("", c.bytesSent)])
        }
        if let recorder = state.recorder {
            // What the recording thread counts (the workers' counts are above).
            let r = RecordingReport(recorder, workers: state.workers)
            family(
                "labyrinth_recording_files_written_total", "counter", "Files finished (statistics written, closed).",
                [("", r.filesWritten)])
            family(
                "labyrinth_recording_file_bytes_total", "counter", "Bytes of the finished files.",
                [("", r.bytesWritten)])
            family(
                "labyrinth_recording_files_removed_total", "counter", "Files removed, by reason.",
                [("reason=\"ring\"", r.unlinkedRing), ("reason=\"min_free\"", r.unlinkedFreeSpace)])
            family(
                "labyrinth_recording_current_file_info", "gauge", "The file each worker writes now (value 1).",
                r.currentFiles.enumerated().filter { !$0.element.isEmpty }.map {
                    ("worker=\"\($0.offset)\",path=\"\(Self.labelValue($0.element))\"", 1)
                })
        }
        if state.config.metrics.listen != nil {
            let m = state.metricsHTTP
            family(
                "labyrinth_metrics_http_connections_open", "gauge", "Connections to the metrics endpoint open now.",
                [("", m.open.load(ordering: .relaxed))])
            family(
                "labyrinth_metrics_http_connections_total", "counter",
                "Connections to the HTTP metrics endpoint: accepted, refused (403, 503), closed for a new one (evicted).",
                [
                    ("result=\"accepted\"", m.accepted.load(ordering: .relaxed)),
                    ("result=\"refused\"", m.refused.load(ordering: .relaxed)),
                    ("result=\"evicted\"", m.evicted.load(ordering: .relaxed)),
                ])
            family(
                "labyrinth_metrics_http_requests_total", "counter",
                "Requests to the HTTP metrics endpoint: answered with the exposition (200), or refused (4xx, 5xx).",
                [
                    ("result=\"answered\"", m.scrapes.load(ordering: .relaxed)),
                    ("result=\"refused\"", m.rejected.load(ordering: .relaxed)),
                ])
        }
        if let board = state.taps {
            family("labyrinth_taps_open", "gauge", "Live taps open now.", [("", board.counts.open)])
        }
        histogram(.framesPerPoll)
        if state.recorder != nil { histogram(.writeLatency) }
        // The rooms' counters, from the table.
        let rooms = state.rooms.map(\.stats)
        for f in Exposition.roomFamilies {
            family(
                f.name, f.type, f.help,
                rooms.flatMap { r in
                    f.series.map { s in ("room=\"\(r.room)\"" + (s.labels.isEmpty ? "" : "," + s.labels), s.value(r)) }
                })
        }
        family(
            "labyrinth_replay_packets_total", "counter", "Records read by replays.",
            [("", state.replay.replayer.counter(.packets))])
        family("labyrinth_uptime_seconds", "gauge", "Seconds since the daemon started.", [("", Int(state.uptime))])
        if format == .openMetrics { out += "# EOF\n" }
        return out
    }
}

extension ConfigReport {
    /// The running configuration as `config` shows it.
    init(_ c: DaemonConfiguration) {
        self.init(
            daemon: Daemon(
                socket: c.daemon.socket, socketGroup: c.daemon.socketGroup,
                socketMode: "0" + String(c.daemon.socketMode, radix: 8), logLevel: c.daemon.logLevel.rawValue,
                maxClients: c.daemon.maxClients, clientIdleTimeout: c.daemon.clientIdleTimeout,
                requestTimeout: c.daemon.requestTimeout, requestMaxBytes: c.daemon.requestMaxBytes,
                maxRequestsPerSecond: c.daemon.maxRequestsPerSecond, statusInterval: c.daemon.statusInterval,
                maxTaps: c.daemon.maxTaps, tapBuffer: c.daemon.tapBuffer,
                maxClientsPerUser: c.daemon.clientsPerUser, reservedClients: c.daemon.reservedClients,
                stopTimeout: c.daemon.stopTimeout),
            rooms: Rooms(
                pagesPerRoom: c.rooms.pagesPerRoom, lock: c.rooms.lock.rawValue, hugepages: c.rooms.hugePages.rawValue,
                watermarks: c.rooms.watermarks.map { RoomReport.Watermarks(min: $0.min, low: $0.low, high: $0.high) }),
            workers: Workers(
                count: c.workerCount, cpus: c.workers.cpus, priority: c.workers.priority, budget: c.workers.budget,
                busyPoll: c.workers.busyPoll, flowCapacity: c.workers.flowCapacity,
                flowIdleTimeout: c.workers.flowIdleTimeout, flowActiveTimeout: c.workers.flowActiveTimeout,
                flowTcpLinger: c.workers.flowTCPLinger, mlockall: c.workers.mlockall),
            replay: Replay(ring: c.replay.ring, pacing: c.replay.pacing.description, maxGap: c.replay.maxGap),
            sources: c.sources.map { s in
                Source(
                    backend: s.backend.rawValue, interface: s.interface, fanout: s.fanout.rawValue,
                    snaplen: s.snaplen, filter: s.filter, promiscuous: s.promiscuous)
            },
            ipfix: c.ipfix.collectors.isEmpty
                ? nil
                : IPFIX(
                    collectors: c.ipfix.collectors.map(\.description),
                    observationDomain: Int(c.ipfix.observationDomain),
                    mtu: c.ipfix.mtu, templateRefresh: Int(c.ipfix.templateRefresh),
                    templateRefreshMessages: c.ipfix.templateRefreshMessages, rate: c.ipfix.rate, ring: c.ipfix.ring),
            sink: c.sink.map { k in
                Sink(
                    path: k.path, format: k.format, rotateSize: k.rotateSize,
                    rotateSeconds: k.rotateSeconds.map { Int($0) },
                    maxFiles: k.maxFiles, minFree: k.minFree, snaplen: k.snaplen, flushMs: k.flushMilliseconds,
                    pagesInFlight: k.pagesInFlight, cacheWrites: k.cacheWrites, mode: "0" + String(k.mode, radix: 8),
                    group: k.group, filter: k.filter)
            },
            metrics: c.metrics.listen.map { listen in
                Metrics(
                    url: "http://\(listen)/metrics", allow: c.metrics.allow,
                    maxConnections: c.metrics.maxConnections, idleTimeout: c.metrics.idleTimeout,
                    requestTimeout: c.metrics.requestTimeout, requestMaxBytes: c.metrics.requestMaxBytes)
            })
        keys = ConfigKeys.all.flatMap { key in
            key.values(in: c).enumerated().map { i, value in
                Key(key: key.dotted(instance: i), value: value, change: key.change.rawValue)
            }
        }
    }
}

extension ReplayQueue.Job {
    /// The job as `replay` shows it.
    var report: JobReport {
        // The name and the path are the client's: escaped, as in the log.
        var r = JobReport(
            job: id, file: ClientText.escaped(file), state: JobReport.State(rawValue: state.rawValue) ?? .failed,
            pacing: pacing.description)
        r.cancelledBy = cancelledBy
        if let result {
            r.packets = result.packets
            r.bytes = result.bytes
            if state.isFinished {
                r.wireBytes = result.wireBytes
                r.elapsedSeconds = Double(result.elapsed) / 1e9
                r.format = result.format
                r.gapsCut = result.gapsCut > 0 ? result.gapsCut : nil
            }
            r.error = result.error.map {
                FileErrorReport(
                    file: ClientText.escaped($0.file), record: $0.record, offset: $0.offset,
                    message: ClientText.escaped(contentPrivate ? $0.contentFree : $0.message))
            }
        }
        return r
    }
}
