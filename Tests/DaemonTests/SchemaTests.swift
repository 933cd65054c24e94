import StatsProtocol
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The one schema of the stats socket and the reports, checked against the
/// running daemon: every reply decodes into its type, and a replay's report
/// says what the daemon's `stats` says, key by key.
@Suite("Stats schema", .serialized)
struct SchemaTests {
    /// Sends `request` and decodes the reply as `R.Reply`; records an issue
    /// naming the field when it does not decode.
    func check<R: StatsRequest>(_ request: R, on daemon: DaemonProcess, timeoutSeconds: Int = 10) throws {
        var client = try StatsClient(path: daemon.socket, timeoutSeconds: timeoutSeconds)
        switch try client.ask(request) {
        case .success:
            break
        case .failure(let e):
            Issue.record("\(R.command.rawValue): the daemon refused it: \(e)")
        }
    }

    @Test("every command's reply decodes into its type")
    func everyReplyDecodes() throws {
        // With a recording, so that `rotate` has something to rotate.
        let directory = temporaryDirectory("schema-sink")
        let daemon = try DaemonProcess(
            workers: 2, more: "\n[[sink]]\npath = \"\(directory)/schema.pcapng\"\ngroup = \"\"")
        defer {
            #expect(daemon.stop() == 0)
            for name in ["schema.w0.pcapng", "schema.w1.pcapng", "schema-1.w0.pcapng", "schema-1.w1.pcapng"] {
                unlink(directory + "/" + name)
                unlink(directory + "/." + name + ".idx")
            }
            #expect(rmdir(directory) == 0, "files left in \(directory)")
        }
        let job = try waitForJob(
            daemon, try daemon.ask(["command": "replay", "file": .string(packageRoot + "/captures/loopback.pcap")]))
        let id = try #require(job["job"]?.intValue)
        for command in Command.allCases {
            // Exhaustive: a new command does not compile until it is checked here.
            switch command {
            case .version: try check(VersionRequest(), on: daemon)
            case .help: try check(HelpRequest(), on: daemon)
            case .stats: try check(StatsCommandRequest(), on: daemon)
            case .workers: try check(WorkersRequest(), on: daemon)
            case .rooms: try check(RoomsRequest(), on: daemon)
            case .flows:
                try check(FlowsRequest(), on: daemon)
                try check(FlowsRequest(top: 3, by: .packets), on: daemon)
            case .config: try check(ConfigRequest(), on: daemon)
            case .uptime: try check(UptimeRequest(), on: daemon)
            case .replay:
                try check(ReplayRequest(), on: daemon)
                try check(ReplayRequest(job: id), on: daemon)
            // A job that is done already: shown as it was.
            case .cancel: try check(CancelRequest(job: id), on: daemon)
            case .prometheus: try check(PrometheusRequest(), on: daemon)
            case .flush: try check(FlushRequest(), on: daemon)
            case .rotate: try check(RotateRequest(), on: daemon)
            // Its first line; the pcapng after it is the tap tests' part.
            case .dump: try check(DumpRequest(filter: "udp"), on: daemon)
            // Its first line; the answer after it is the extraction tests' part.
            // The line comes with the idle child's first bytes: on a loaded
            // machine, once a CPU is free.
            case .extract: try check(ExtractRecordingRequest(filter: "udp"), on: daemon, timeoutSeconds: 120)
            }
        }
        // The help lists every command with its access level and fields.
        var client = try StatsClient(path: daemon.socket)
        let help = try client.ask(HelpRequest()).get().value
        #expect(help.map(\.command) == Command.allCases.map(\.rawValue))
        #expect(help.first { $0.command == "flows" }?.fields.contains { $0.contains("1...1000") } == true)
    }

    /// Keys that cannot agree between a daemon's `stats` and a replay's
    /// report, and why. Every other key present in either must be present
    /// in both with the same value.
    static let exempt: [String: String] = [
        "uptime_seconds": "the daemon's age",
        "workers": "a count in stats, the per-worker counters in the report",
        "kernel": "live capture only (stats)",
        "no_buffers": "live capture only (stats)",
        "sources": "live capture only (stats)",
        "rooms": "summed in stats, per room in the report; page counters depend on the daemon's life",
        "replay": "the daemon's jobs (stats)",
        "wire_bytes": "the report's own (the socket has it per job)",
        "elapsed_seconds": "the report's own",
        "rate": "the report's own",
        "pacing": "the report's own (the socket has it per job)",
        "loops": "the report's own",
        "files": "the report's own (the socket has jobs)",
        "notes": "the report's own",
        "errors": "the report's own (the socket has it per job)",
        "flows.top": "the report's own (the socket has the flows command)",
        "taps": "the daemon's live taps (stats)",
    ]

    /// Compares two JSON values key by key; returns the differences.
    static func differences(_ a: JSON, _ b: JSON, path: String = "") -> [String] {
        if exempt[path] != nil { return [] }
        switch (a, b) {
        case (.object(let x), .object(let y)):
            var out: [String] = []
            let keys = x.map(\.0) + y.map(\.0).filter { k in !x.contains { $0.0 == k } }
            for key in keys {
                let sub = path.isEmpty ? key : path + "." + key
                if exempt[sub] != nil { continue }
                guard let l = a[key], let r = b[key] else {
                    out.append("\(sub): only in \(a[key] == nil ? "the report" : "stats")")
                    continue
                }
                out += differences(l, r, path: sub)
            }
            return out
        default:
            return a == b ? [] : ["\(path): stats \(a.text), report \(b.text)"]
        }
    }

    @Test("the replay report and the stats of a daemon that replayed the same file agree key by key")
    func reportAgreesWithStats() throws {
        let directory = temporaryDirectory()
        let file = directory + "/mixed.pcap"
        // Three files' worth of traffic in one: UDP flows, the loopback
        // capture's TCP, ICMP.
        writeFile(file, udpCapture(count: 3000, flows: 40))
        defer {
            unlink(file)
            rmdir(directory)
        }
        for capture in [file, packageRoot + "/captures/loopback.pcap"] {
            let replay = run([
                executable("labyrinthd"), "replay", "--workers", "2", "--cpus", "none", "--no-lock", "--flows", "4096",
                "--json", capture,
            ])
            #expect(replay.status == 0, "\(replay.stderr)")
            let report = try JSON.parse(replay.stdout)
            let daemon = try DaemonProcess(workers: 2)
            let job = try waitForJob(daemon, try daemon.ask(["command": "replay", "file": .string(capture)]))
            #expect(job["state"]?.stringValue == "done")
            let stats = try daemon.ask(["command": "stats"])
            #expect(daemon.stop() == 0)
            let diff = Self.differences(stats, report)
            #expect(diff.isEmpty, "\(capture): \(diff)")
            // The shared counters decode into the same typed totals.
            let a = try JSONCoding.decode(TrafficTotals.self, from: stats)
            var b = try JSONCoding.decode(TrafficTotals.self, from: report)
            b.flows.top = nil
            #expect(a == b)
            #expect(a.packets > 0 && a.flows.total == a.flows.tcpUdp + a.flows.icmp)
        }
    }
}
