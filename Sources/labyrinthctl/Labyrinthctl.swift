import ArgumentParser
import StatsProtocol
import Syscalls

#if canImport(Glibc)
import Glibc
#endif

@main
struct Labyrinthctl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "labyrinthctl",
        abstract: "Ask a running labyrinthd over its stats socket.",
        discussion:
            "The socket is --socket (before or after the subcommand), else $LABYRINTH_SOCKET, else /run/labyrinth/labyrinthd.sock. Exit status: 0, or 1 when the daemon answered with an error, 69 when the socket cannot be reached, 77 when permission is denied, 76 when the reply is unreadable.",
        subcommands: [
            Stats.self, Workers.self, Rooms.self, Flows.self, Flush.self, Rotate.self, Replay.self, Dump.self,
            ExtractCommand.self,
            Prometheus.self,
            Watch.self,
            Version.self, Uptime.self, Config.self, Raw.self,
        ]
    )

    @OptionGroup var connection: Connection
}

/// Where the daemon listens and how to print its answers: declared on the
/// root command and on every subcommand, so `--socket` goes before or
/// after the subcommand.
struct Connection: ParsableArguments {
    static let defaultSocket = "/run/labyrinth/labyrinthd.sock"

    @Option(help: "The daemon's stats socket (default: $LABYRINTH_SOCKET, else \(Connection.defaultSocket)).")
    var socket: String?

    @Option(help: "The daemon's replay socket, which takes files by descriptor (default: beside the stats socket).")
    var replaySocket: String?

    @Flag(help: "Print the daemon's JSON result instead of a table.")
    var json = false

    /// The flag, then the environment (empty counts as unset), then the default.
    var path: String {
        if let socket { return socket }
        if let env = getenv("LABYRINTH_SOCKET"), env.pointee != 0 { return String(cString: env) }
        return Connection.defaultSocket
    }

    /// The replay socket: the flag, or the stats socket's path with
    /// `-replay.sock` for `.sock` (the daemon's default).
    var replayPath: String {
        if let replaySocket { return replaySocket }
        let stem = path.hasSuffix(".sock") ? String(path.dropLast(5)) : path
        return stem + "-replay.sock"
    }

    func connect() -> StatsClient {
        do {
            return try StatsClient(path: path)
        } catch {
            fail(error.description, code: error.exitCode)
        }
    }

    /// One typed request on `client`; prints the daemon's error and exits on
    /// failure.
    func ask<R: StatsRequest>(_ request: R, on client: inout StatsClient) -> (json: JSON, value: R.Reply) {
        do {
            switch try client.ask(request) {
            case .success(let reply): return reply
            case .failure(let e): fail("the daemon said: \(e.message)", code: 1)
            }
        } catch {
            fail(error.description, code: error.exitCode)
        }
    }

    /// One typed request on a connection of its own.
    func ask<R: StatsRequest>(_ request: R) -> (json: JSON, value: R.Reply) {
        var client = connect()
        return ask(request, on: &client)
    }

    /// Prints the result: the daemon's JSON with `--json`, else the table.
    func show<T>(_ reply: (json: JSON, value: T), table: (T) -> String) {
        print(json ? reply.json.prettyText : table(reply.value))
    }
}

func fail(_ message: String, code: Int32) -> Never {
    var text = "labyrinthctl: \(message)\n"
    text.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
    exit(code)
}

// MARK: Commands

struct Stats: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Totals over all workers.")
    @OptionGroup var connection: Connection

    func run() throws {
        connection.show(connection.ask(StatsCommandRequest())) { r in
            let t = r.traffic
            let d = t.decoded
            var lines: [String] = []
            lines.append("uptime \(TextFormat.duration(r.uptimeSeconds)), \(r.workers) workers")
            lines.append("packets \(t.packets)  bytes \(t.bytes)  received \(t.received)  processed \(t.processed)")
            lines.append(
                "decoded  ipv4 \(d.ipv4)  ipv6 \(d.ipv6)  tcp \(d.tcp)  udp \(d.udp)  icmp \(d.icmp)  icmpv6 \(d.icmpv6)  arp \(d.arp)  vlan \(d.vlan)  other \(d.other)  fragments \(d.fragments)"
            )
            lines.append(
                "truncated \(t.truncated)  oversized \(t.oversized)  unsupported_linktype \(t.unsupportedLinktype)")
            let bad = t.malformed.reasons.filter { $0.count > 0 }
            lines.append(
                "malformed " + (bad.isEmpty ? "none" : bad.map { "\($0.name) \($0.count)" }.joined(separator: "  ")))
            lines.append(
                "dropped  nomem \(t.dropped.nomem)  rx_missed \(t.dropped.rxMissed)  kernel \(t.dropped.kernel)")
            let f = t.flows
            lines.append(
                "flows    total \(f.total)  tcp/udp \(f.tcpUdp)  icmp \(f.icmp)  active \(f.active)  expired \(f.expired)  evicted \(f.evicted)  exported \(f.exported)"
            )
            let rm = r.rooms
            lines.append(
                "rooms    free \(rm.freePages) pages  in use \(rm.inUsePages)  alloc_fail \(rm.allocFail)  reserve_dips \(rm.reserveDips)"
            )
            let rp = r.replay
            lines.append(
                "replay   queued \(rp.queued)  running \(rp.running)  done \(rp.done)  failed \(rp.failed)  cancelled \(rp.cancelled)  packets \(rp.packets)"
            )
            if let x = r.export {
                lines.append(
                    "ipfix    to \(x.collectors.joined(separator: ", "))  flows \(x.flows)  records \(x.records)  messages \(x.messagesSent)  failed \(x.messagesFailed)  dropped \(x.dropped)\(x.lastError.map { "  last error: \($0)" } ?? "")"
                )
            }
            if let w = r.recording {
                let u = w.unwritten
                lines.append(
                    "record   \(w.path) (\(w.format))  written \(w.written)  unwritten \(u.total) (overload \(u.overload), disk_full \(u.diskFull), error \(u.error), oversized \(u.oversized), filtered \(u.filtered))  files \(w.filesWritten) done, \(w.filesStarted) started\(w.writtenLate > 0 ? "  late \(w.writtenLate)" : "")\(w.lastError.map { "  last error: \($0)" } ?? "")"
                )
                for (i, f) in w.currentFiles.enumerated() where !f.isEmpty {
                    lines.append("         worker \(i): \(f)")
                }
            }
            if !r.sources.isEmpty {
                lines.append(
                    "kernel   packets \(r.kernel.packets)  drops \(r.kernel.drops)  no_buffers \(r.noBuffers)")
                for s in r.sources {
                    lines.append("source   \(s.interface) (\(s.backend)\(s.filter.map { ", filter \"\($0)\"" } ?? ""))")
                }
            }
            return lines.joined(separator: "\n")
        }
    }
}

struct Workers: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Per worker: CPU, state, heartbeat and counters.")
    @OptionGroup var connection: Connection

    func run() throws {
        connection.show(connection.ask(WorkersRequest())) { workers in
            TextTable(
                [
                    "worker", "cpu", "state", "heartbeat", "received", "processed", "nomem", "malformed", "flows",
                    "polls",
                    "sleeps",
                ],
                workers.map { w in
                    [
                        "\(w.worker)", w.cpu.map(String.init) ?? "-", w.state ?? "?", "\(w.counters.heartbeat)",
                        "\(w.received)", "\(w.counters.processed)", "\(w.counters.droppedNomem)",
                        "\(w.counters.malformed)", "\(w.counters.flowsCreated + w.counters.icmpFlowsCreated)",
                        "\(w.counters.polls)", "\(w.counters.sleeps)",
                    ]
                }
            ).text
        }
    }
}

struct Rooms: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Per room: the page allocator's counters.")
    @OptionGroup var connection: Connection

    func run() throws {
        connection.show(connection.ask(RoomsRequest())) { rooms in
            TextTable(
                [
                    "room", "pages", "free", "in_use", "high_water", "alloc_fast", "alloc_slow", "alloc_fail",
                    "reserve_dips", "low_wm", "free_remote", "reclaimed",
                ],
                rooms.map { x in
                    [
                        "\(x.room)", "\(x.pages)", "\(x.freePages)", "\(x.inUsePages)", "\(x.inUseHighWater)",
                        "\(x.allocFast)", "\(x.allocSlow)", "\(x.failures)", "\(x.reserveDips)",
                        "\(x.lowWatermarkEvents)", "\(x.freeRemote)", "\(x.reclaimed)",
                    ]
                }
            ).text
        }
    }
}

extension FlowOrder: ExpressibleByArgument {}

struct Flows: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "The top flows over all workers.")
    @OptionGroup var connection: Connection
    @Option(help: "How many (1...\(FlowsRequest.maximumTop)).") var top: Int = 10
    @Option(help: "bytes or packets.") var by: FlowOrder = .bytes

    func run() throws {
        connection.show(connection.ask(FlowsRequest(top: top, by: by))) { r in
            var text = TextTable(
                ["proto", "packets", "bytes", "a->b", "b->a", "flags", "a", "b"],
                r.flows.map { f in
                    [
                        f.protocol, "\(f.packets)", "\(f.bytes)", "\(f.packetsAToB)", "\(f.packetsBToA)", f.tcpFlags,
                        f.a, f.b,
                    ]
                }
            ).text
            if !r.workersNotAnswering.isEmpty {
                text +=
                    "\nworkers that did not answer: \(r.workersNotAnswering.map(String.init).joined(separator: ", "))"
            }
            return text
        }
    }
}

struct Flush: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "End every flow now (IPFIX forced end); exported flows reach the collectors.",
        discussion: "Needs root or the admin group.")
    @OptionGroup var connection: Connection

    func run() throws {
        connection.show(connection.ask(FlushRequest())) { r in
            var text = "ended \(r.flowsEnded) flows; \(r.recordsExported) flow records exported in all"
            if !r.workersNotAnswering.isEmpty {
                text +=
                    "\nworkers that did not answer: \(r.workersNotAnswering.map(String.init).joined(separator: ", "))"
            }
            return text
        }
    }
}

struct Rotate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Close every worker's recording file and start the next ([[sink]]).",
        discussion: "Needs root or the admin group. Exits 1 when the daemon records nothing.")
    @OptionGroup var connection: Connection

    func run() throws {
        connection.show(connection.ask(RotateRequest())) { r in
            var text = r.currentFiles.enumerated().map { "worker \($0.offset): \($0.element)" }.joined(separator: "\n")
            text += "\n\(r.filesWritten) files finished in all"
            if !r.workersNotRotated.isEmpty {
                text +=
                    "\nworkers still on their old file: \(r.workersNotRotated.map(String.init).joined(separator: ", "))"
            }
            return text
        }
    }
}

extension ReplaySpeed: ExpressibleByArgument {}

struct Replay: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Push a capture through the running workers and follow it to the end.",
        discussion: """
            The file is opened here, with your rights, and its descriptor goes to the daemon over \
            the replay socket: the daemon reads what you may read, wherever it is (even in a \
            PrivateTmp /tmp). With --by-path, the daemon opens the path itself, which it does \
            only beneath its replay.allowed_directories. --cancel JOB cancels a job instead: a \
            queued one never runs, a running one stops at its next batch. Needs root or the \
            admin group.
            """)
    @OptionGroup var connection: Connection
    @Argument(help: "The capture file.") var file: String?
    @Option(help: "Cancel this replay job (its number, as the job list shows it) instead of queuing a file.")
    var cancel: Int?
    @Flag(help: "Send the path for the daemon to open (beneath replay.allowed_directories) instead of the file.")
    var byPath = false
    @Option(help: "max or original.") var speed: ReplaySpeed?
    @Option(help: "With --speed original: this many times faster.") var multiplier: Double?
    @Option(help: "Packets per second.") var pps: Double?
    @Option(help: "Megabits per second.") var mbps: Double?
    @Flag(help: "Queue it and return without waiting.") var noWait = false

    func validate() throws {
        if (file == nil) == (cancel == nil) { throw ValidationError("give a capture file, or --cancel JOB") }
        if let cancel, cancel < 1 { throw ValidationError("--cancel takes a job number (1 or more), not \(cancel)") }
    }

    func run() throws {
        if let cancel {
            var client = connection.connect()
            var reply = connection.ask(CancelRequest(job: cancel), on: &client)
            // A running job stops at the reader's next batch: follow it there.
            let clock = ContinuousClock()
            let deadline = clock.now + .seconds(10)
            while reply.value.state == .running && clock.now < deadline {
                let next = clock.now + .milliseconds(20)
                while clock.now < next { clock.sleep(until: next) }
                let latest = connection.ask(ReplayRequest(job: cancel), on: &client)
                guard let job = latest.value.job else { fail("no job in the reply", code: 76) }
                reply = (latest.json, job)
            }
            connection.show(reply) { Self.describe($0) }
            return
        }
        guard let file else { throw ValidationError("give a capture file") }
        var path = file
        if !path.hasPrefix("/") {
            var buffer = [CChar](repeating: 0, count: 4096)
            if getcwd(&buffer, buffer.count) != nil { path = String(nulTerminated: buffer) + "/" + file }
        }
        var client = connection.connect()
        var reply: (json: JSON, value: ReplayReply)
        if byPath {
            reply = connection.ask(
                ReplayRequest(file: path, speed: speed, multiplier: multiplier, pps: pps, mbps: mbps), on: &client)
        } else {
            reply = send(path)
        }
        guard var job = reply.value.job else { fail("no job in the reply", code: 76) }
        if !noWait {
            var last = ""
            let clock = ContinuousClock()
            while job.state == .queued || job.state == .running {
                let line = "job \(job.job): \(job.state.rawValue), \(job.packets ?? 0) packets"
                if !connection.json && isatty(1) != 0 && line != last {
                    print("\r" + line, terminator: "")
                    fflush(nil)
                    last = line
                }
                let next = clock.now + .milliseconds(100)
                while clock.now < next { clock.sleep(until: next) }
                reply = connection.ask(ReplayRequest(job: job.job), on: &client)
                guard let latest = reply.value.job else { fail("no job in the reply", code: 76) }
                job = latest
            }
            if !connection.json && isatty(1) != 0 && !last.isEmpty { print("") }
        }
        connection.show((reply.json, job)) { Self.describe($0) }
        if job.state == .failed { throw ExitCode(1) }
    }

    /// A job as the table shows it.
    static func describe(_ j: JobReport) -> String {
        var text = "job \(j.job): \(j.state.rawValue): \(j.file)"
        if let by = j.cancelledBy { text += " (cancelled by \(by))" }
        if let packets = j.packets {
            text += "\n\(packets) packets, \(j.bytes ?? 0) bytes"
            if let s = j.elapsedSeconds { text += " in \(TextFormat.fixed(s, 3)) s" }
        }
        if let cut = j.gapsCut { text += "\n\(cut) gaps longer than replay.max_gap cut to it" }
        if let e = j.error {
            text +=
                "\nerror: \(e.file): record \(e.record.map(String.init) ?? "-") at byte offset \(e.offset.map(String.init) ?? "-"): \(e.message)"
        }
        return text
    }
}

extension Replay {
    /// Opens `path` and sends its descriptor with the request to the
    /// replay socket; the daemon's answer.
    func send(_ path: String) -> (json: JSON, value: ReplayReply) {
        let file: Descriptor
        switch Descriptor.open(path, O_RDONLY | O_CLOEXEC) {
        case .success(let d): file = d
        case .failure(let e): fail("\(path): \(e)", code: 66)
        }
        let fd = file.rawValue
        let request = ReplayRequest(
            fd: true, name: path, speed: speed, multiplier: multiplier, pps: pps, mbps: mbps)
        do {
            var client = try StatsClient(path: connection.replayPath)
            let reply = try client.request(request.json, passing: fd)
            switch ReplyEnvelope.result(of: reply) {
            case .failure(let e): fail("the daemon said: \(e.message)", code: 1)
            case .success(let result):
                do {
                    return (result, try JSONCoding.decode(ReplayReply.self, from: result))
                } catch {
                    fail("unreadable replay reply: \(error)", code: 76)
                }
            }
        } catch {
            fail(error.description, code: error.exitCode)
        }
    }
}

extension ContinuousClock {
    /// Blocks the calling thread until `deadline` (a command-line tool's
    /// pause between polls; no async context here).
    func sleep(until deadline: Instant) {
        let left = now.duration(to: deadline).components
        guard left.seconds >= 0 else { return }
        var ts = timespec(tv_sec: Int(left.seconds), tv_nsec: Int(left.attoseconds / 1_000_000_000))
        nanosleep(&ts, nil)
    }
}

struct Prometheus: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "The counters in Prometheus text format.")
    @OptionGroup var connection: Connection

    func run() throws {
        let reply = connection.ask(PrometheusRequest())
        print(connection.json ? reply.json.prettyText : reply.value, terminator: "")
    }
}

struct Version: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "The daemon's version.")
    @OptionGroup var connection: Connection
    func run() throws {
        connection.show(connection.ask(VersionRequest())) { "\($0.name) \($0.version)" }
    }
}

struct Uptime: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "How long the daemon has run.")
    @OptionGroup var connection: Connection
    func run() throws {
        connection.show(connection.ask(UptimeRequest())) { TextFormat.duration($0.seconds) }
    }
}

struct Config: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "The running configuration (JSON).")
    @OptionGroup var connection: Connection
    func run() throws {
        print(connection.ask(ConfigRequest()).json.prettyText)
    }
}

struct Raw: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Send one raw JSON request line and print the reply.")
    @OptionGroup var connection: Connection
    @Argument(help: "The request, e.g. '{\"command\":\"help\"}'.") var request: String

    func run() throws {
        let parsed: JSON
        do {
            parsed = try JSON.parse(request)
        } catch {
            fail("the request is not JSON: \(error)", code: 64)
        }
        var client = connection.connect()
        do {
            print(try client.request(parsed).prettyText)
        } catch {
            fail(error.description, code: error.exitCode)
        }
    }
}

struct Watch: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "A live view with per-second rates, refreshed in place (Ctrl-C ends it).")
    @OptionGroup var connection: Connection
    @Option(help: "Seconds between refreshes (0.1...3600).") var interval: Double = 1
    @Option(help: "Stop after this many refreshes (0: never).") var count: Int = 0

    func validate() throws {
        guard interval.isFinite && interval >= 0.1 && interval <= 3600 else {
            throw ValidationError("--interval must be within 0.1...3600")
        }
        guard count >= 0 else { throw ValidationError("--count must be 0 or more") }
    }

    func run() throws {
        var client = connection.connect()
        var previous: (workers: [WorkerReport], rooms: [RoomReport], at: ContinuousClock.Instant)? = nil
        var refreshes = 0
        let clear = isatty(1) != 0 && !connection.json
        let clock = ContinuousClock()
        while count == 0 || refreshes < count {
            let stats = connection.ask(StatsCommandRequest(), on: &client)
            let workers = connection.ask(WorkersRequest(), on: &client)
            let rooms = connection.ask(RoomsRequest(), on: &client)
            let now = clock.now
            if connection.json {
                print(JSON.object([("stats", stats.json), ("workers", workers.json), ("rooms", rooms.json)]).text)
            } else {
                print(screen(stats.value, workers.value, rooms.value, previous: previous, now: now, clear: clear))
            }
            fflush(nil)
            previous = (workers.value, rooms.value, now)
            refreshes += 1
            if count == 0 || refreshes < count { clock.sleep(until: now + .milliseconds(Int(interval * 1000))) }
        }
    }

    func screen(
        _ stats: StatsProtocol.Stats, _ ws: [WorkerReport], _ rs: [RoomReport],
        previous: (workers: [WorkerReport], rooms: [RoomReport], at: ContinuousClock.Instant)?,
        now: ContinuousClock.Instant, clear: Bool
    ) -> String {
        let t = stats.traffic
        var out = clear ? "\u{1B}[H\u{1B}[2J" : ""
        out += "labyrinthd  up \(TextFormat.duration(stats.uptimeSeconds))  "
        out += "packets \(t.packets)  flows \(t.flows.total)  "
        out += "dropped \(t.dropped.nomem + t.dropped.rxMissed + t.dropped.kernel)\n\n"
        let seconds: Double =
            previous.map {
                let c = $0.at.duration(to: now).components
                return Double(c.seconds) + Double(c.attoseconds) / 1e18
            } ?? 0
        func rate(_ now: Int, _ then: Int?) -> String {
            guard let then, seconds > 0 else { return "-" }
            return TextFormat.fixed(Double(now - then) / seconds, 0)
        }
        let oldWorkers = previous.map { Dictionary(uniqueKeysWithValues: $0.workers.map { ($0.worker, $0) }) } ?? [:]
        out +=
            TextTable(
                ["worker", "cpu", "state", "pps", "Mbps", "nomem/s", "flows/s", "received", "heartbeat/s"],
                ws.map { w in
                    let o = oldWorkers[w.worker]
                    let mbps: String = {
                        guard let o, seconds > 0 else { return "-" }
                        return TextFormat.fixed(Double(w.counters.bytes - o.counters.bytes) * 8 / seconds / 1e6, 2)
                    }()
                    return [
                        "\(w.worker)", w.cpu.map(String.init) ?? "-", w.state ?? "?", rate(w.received, o?.received),
                        mbps,
                        rate(w.counters.droppedNomem, o?.counters.droppedNomem),
                        rate(w.counters.flowsCreated, o?.counters.flowsCreated), "\(w.received)",
                        rate(w.counters.heartbeat, o?.counters.heartbeat),
                    ]
                }
            ).text
        out += "\n\n"
        let oldRooms = previous.map { Dictionary(uniqueKeysWithValues: $0.rooms.map { ($0.room, $0) }) } ?? [:]
        out +=
            TextTable(
                ["room", "free", "in_use", "allocs/s", "fail/s", "dips/s", "reclaimed/s"],
                rs.map { r in
                    let o = oldRooms[r.room]
                    return [
                        "\(r.room)", "\(r.freePages)", "\(r.inUsePages)",
                        rate(r.allocFast + r.allocSlow, o.map { $0.allocFast + $0.allocSlow }),
                        rate(r.failures, o?.failures), rate(r.reserveDips, o?.reserveDips),
                        rate(r.reclaimed, o?.reclaimed),
                    ]
                }
            ).text
        return out
    }
}
