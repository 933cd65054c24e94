import StatsProtocol
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The stats socket against the real daemon: every command, hostile and
/// broken clients, the credential check. Serialized: each test runs its own
/// daemon and some measure time.
@Suite("Stats socket", .serialized)
struct SocketTests {
    @Test("every command answers, and Prometheus counters end in _total")
    func commands() throws {
        let daemon = try DaemonProcess(workers: 2)
        #expect(try daemon.ask(["command": "version"])["version"]?.stringValue?.isEmpty == false)
        let help = try daemon.ask(["command": "help"]).arrayValue ?? []
        let names = Set(help.compactMap { $0["command"]?.stringValue })
        #expect(
            names == [
                "version", "help", "stats", "workers", "rooms", "flows", "config", "uptime", "replay", "cancel",
                "prometheus", "flush", "rotate", "dump", "extract",
            ])
        for name in names where name != "help" && name != "rotate" && name != "cancel" && name != "extract" {
            _ = try daemon.ask(.object([("command", .string(name))]))
        }
        // rotate answers with an error when nothing is recorded (with a
        // [[sink]]: DaemonRecordingTests).
        var client = try StatsClient(path: daemon.socket)
        let refused = try client.request(["command": "rotate"])
        #expect(refused["error"]?.stringValue?.contains("no [[sink]]") == true, "\(refused.text)")
        // cancel needs a job, and one that exists.
        let noJob = try client.request(["command": "cancel"])
        #expect(noJob["error"]?.stringValue?.contains("needs \"job\"") == true, "\(noJob.text)")
        let unknown = try client.request(["command": "cancel", "job": 99])
        #expect(unknown["error"]?.stringValue == "no replay job 99", "\(unknown.text)")
        let workers = try daemon.ask(["command": "workers"]).arrayValue ?? []
        #expect(workers.count == 2)
        #expect(workers.allSatisfy { $0["state"]?.stringValue == "running" })
        let rooms = try daemon.ask(["command": "rooms"]).arrayValue ?? []
        #expect(rooms.map { $0["pages"]?.intValue } == [1024, 1024])
        #expect(try daemon.ask(["command": "config"])["workers"]?["count"]?.intValue == 2)

        let text = try daemon.ask(["command": "prometheus"]).stringValue ?? ""
        var types: [String: String] = [:]
        for line in text.split(separator: "\n") where line.hasPrefix("# TYPE ") {
            let parts = line.split(separator: " ")
            types[String(parts[2])] = String(parts[3])
        }
        #expect(types["labyrinth_packets_received_total"] == "counter")
        #expect(types.count > 10)
        for (name, type) in types {
            #expect(name.hasPrefix("labyrinth_"))
            #expect((type == "counter") == name.hasSuffix("_total"), "\(name) is a \(type)")
            #expect(type != "histogram" || !name.hasSuffix("_total"))
        }
        #expect(types["labyrinth_worker_poll_frames"] == "histogram")
        // Every sample belongs to a declared metric (a histogram's by its
        // _bucket, _sum and _count) and has a number.
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let name = String(line.prefix { $0 != "{" && $0 != " " })
            let family = ["_bucket", "_sum", "_count"].first { name.hasSuffix($0) }.map {
                String(name.dropLast($0.count))
            }
            #expect(
                types[name] != nil || family.map { types[$0] == "histogram" } == true, "undeclared sample \(line)")
            #expect(Double(line.split(separator: " ").last ?? "") != nil, "no value in \(line)")
        }
        #expect(daemon.stop() == 0)
        #expect(daemon.logText.contains("leak check passed"))
    }

    @Test("a replay over the socket shows exact counts; a damaged file fails with its record named")
    func replay() throws {
        let directory = temporaryDirectory()
        defer { rmdir(directory) }
        let good = directory + "/good.pcap"
        let bad = directory + "/bad.pcap"
        let capture = udpCapture(count: 5000, flows: 50)
        writeFile(good, capture)
        writeFile(bad, Array(capture.prefix(24 + 10 * 76 + 30)))
        defer {
            unlink(good)
            unlink(bad)
        }
        let daemon = try DaemonProcess(workers: 2)

        let job = try waitForJob(daemon, try daemon.ask(["command": "replay", "file": .string(good)]))
        #expect(job["state"]?.stringValue == "done")
        #expect(job["packets"]?.intValue == 5000)
        let stats = try daemon.ask(["command": "stats"])
        #expect(stats["packets"]?.intValue == 5000)
        #expect(stats["processed"]?.intValue == 5000)
        #expect(stats["decoded"]?["udp"]?.intValue == 5000)
        #expect(stats["flows"]?["tcp_udp"]?.intValue == 50)
        #expect(stats["dropped"]?["nomem"]?.intValue == 0)
        let flows = try daemon.ask(["command": "flows", "top": 5, "by": "packets"])["flows"]?.arrayValue ?? []
        #expect(flows.count == 5)
        #expect(flows.allSatisfy { $0["packets"]?.intValue == 100 })

        let failed = try waitForJob(daemon, try daemon.ask(["command": "replay", "file": .string(bad)]))
        #expect(failed["state"]?.stringValue == "failed")
        #expect(failed["packets"]?.intValue == 10)
        #expect(failed["error"]?["file"]?.stringValue == bad)
        #expect(failed["error"]?["record"]?.intValue == 11)
        // A missing file, even beneath an allowed directory, is refused
        // at once with the words every refused path gets.
        var client = try StatsClient(path: daemon.socket)
        let missing = try client.request(["command": "replay", "file": .string(directory + "/nope.pcap")])
        #expect(missing["ok"] == .bool(false))
        #expect(missing["error"]?.stringValue?.contains("\"file\" is refused") == true, "\(missing.text)")
        #expect(try daemon.ask(["command": "stats"])["packets"]?.intValue == 5010)

        // labyrinthctl follows a job to its end and prints the same counts.
        let ctl = run([executable("labyrinthctl"), "replay", "--socket", daemon.socket, "--json", good])
        #expect(ctl.status == 0, "\(ctl.stderr)")
        #expect(try JSON.parse(ctl.stdout)["packets"]?.intValue == 5000)
        let ctlBad = run([executable("labyrinthctl"), "replay", "--socket", daemon.socket, bad])
        #expect(ctlBad.status == 1)
        #expect(ctlBad.stdout.contains("record 11"))
        #expect(daemon.stop() == 0)
    }

    @Test("oversized, non-JSON and unknown requests get errors and the connection stays usable")
    func badRequests() throws {
        let daemon = try DaemonProcess()
        var client = try StatsClient(path: daemon.socket)
        func expectError(_ bytes: [UInt8], _ phrase: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
            let sent = client.sendRaw(bytes)
            #expect(sent, sourceLocation: sourceLocation)
            let reply = try client.reply()
            #expect(reply["ok"] == .bool(false), "\(reply.text)", sourceLocation: sourceLocation)
            let error = reply["error"]?.stringValue ?? ""
            #expect(error.contains(phrase), "\(error)", sourceLocation: sourceLocation)
        }
        try expectError(Array(repeating: UInt8(ascii: "x"), count: 5000) + [10], "larger than 4096 bytes")
        try expectError(
            Array("{\"command\":\"stats\",\"pad\":\"".utf8) + Array(repeating: UInt8(ascii: "y"), count: 100_000)
                + Array("\"}\n".utf8), "larger than 4096 bytes")
        try expectError(Array("hello\n".utf8), "not JSON")
        try expectError([0xFF, 0xFE, 0x00, 0x80, 10], "not JSON")
        try expectError(Array("{\"command\":\"stats\"\n".utf8), "not JSON")
        try expectError(Array("[1,2]\n".utf8), "must be a JSON object")
        try expectError(Array("{\"command\":5}\n".utf8), "missing \"command\"")
        try expectError(Array("{\"command\":\"frobnicate\"}\n".utf8), "unknown command \"frobnicate\"")
        try expectError(Array("{\"command\":\"flows\",\"by\":\"colour\"}\n".utf8), "\"by\" must be")
        try expectError(Array("{\"command\":\"replay\",\"file\":\"relative.pcap\"}\n".utf8), "absolute path")
        try expectError(Array("{\"command\":\"replay\",\"job\":999}\n".utf8), "no replay job 999")
        // Two requests in one write are answered in order.
        let sent = client.sendRaw(Array("{\"command\":\"uptime\"}\n{\"command\":\"version\"}\r\n".utf8))
        #expect(sent)
        let first = try client.reply()
        let second = try client.reply()
        #expect(first["result"]?["seconds"] != nil)
        #expect(second["result"]?["version"] != nil)
        // Still usable.
        let last = try client.request(["command": "version"])
        #expect(last["ok"] == .bool(true))
        #expect(daemon.isRunning)
        #expect(daemon.stop() == 0)
    }

    @Test("pipelined requests are all answered in order; a client that never reads is held back, then cut off")
    func pipelining() throws {
        let daemon = try DaemonProcess(daemon: "client_idle_timeout = 2")
        var client = try StatsClient(path: daemon.socket)
        var burst: [UInt8] = []
        for i in 0..<2000 { burst += Array("{\"command\":\"replay\",\"job\":\(i + 1_000_000)}\n".utf8) }
        let sent = client.sendRaw(burst)
        #expect(sent)
        for i in 0..<2000 {
            let reply = try client.reply()
            #expect(reply["error"]?.stringValue == "no replay job \(i + 1_000_000)")
        }
        // Now flood without reading a single reply.
        var flood = try StatsClient(path: daemon.socket)
        let chunk = Array(String(repeating: "{\"command\":\"stats\"}\n", count: 1000).utf8)
        var chunks = 0
        while chunks < 10_000 && flood.sendRaw(chunk) { chunks += 1 }
        #expect(chunks < 10_000, "the daemon kept reading 10 million unanswered requests")
        var replies = 0
        while (try? flood.reply()) != nil { replies += 1 }
        #expect(replies < chunks * 1000)
        // Held back, not buffered: the daemon's memory stayed small.
        let status = String(decoding: readFile("/proc/\(daemon.pid)/status") ?? [], as: UTF8.self)
        let rss = status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") }.flatMap {
            Int($0.split(separator: " ").dropFirst().first { !$0.isEmpty } ?? "")
        }
        #expect((rss ?? .max) < 200_000, "peak RSS \(rss ?? -1) KiB")
        #expect(try daemon.ask(["command": "version"])["version"] != nil)
        #expect(daemon.stop() == 0)
    }

    @Test("max_requests_per_second delays answers beyond the budget instead of refusing them")
    func budget() throws {
        let daemon = try DaemonProcess(daemon: "max_requests_per_second = 200")
        var client = try StatsClient(path: daemon.socket)
        let start = lab_seconds()
        let sent = client.sendRaw(Array(String(repeating: "{\"command\":\"stats\"}\n", count: 600).utf8))
        #expect(sent)
        var answered = 0
        for _ in 0..<600 where (try? client.reply())?["ok"] == .bool(true) { answered += 1 }
        let seconds = lab_seconds() - start
        // Every one answered (delayed, never refused), and no faster than
        // the budget: a burst of 50, then 200 a second, 550 more take 2.75 s.
        // (No upper bound: a loaded machine, or the thread sanitizer, may
        // answer later; the replies' own read timeout is the deadline.)
        #expect(answered == 600)
        #expect(seconds > 2.5, "600 answers in \(seconds) s: faster than 200 a second")
        #expect(daemon.stop() == 0)
    }

    @Test("a client sending one byte a second is cut off at request_timeout; others are served meanwhile")
    func slowClient() throws {
        let daemon = try DaemonProcess(daemon: "request_timeout = 3")
        var slow = try StatsClient(path: daemon.socket)
        let start = lab_seconds()
        var cutOff: Double? = nil
        var reply: JSON? = nil
        for byte in Array("{\"command\":\"stats\"}\n".utf8) {
            if !slow.sendRaw([byte]) { break }
            if slow.isReadable(withinMilliseconds: 1000) {
                reply = try? slow.reply()
                cutOff = lab_seconds() - start
                break
            }
            // Another client is answered while the slow one dribbles: its
            // answer comes before the slow one's request is cut off.
            #expect(try daemon.ask(["command": "version"])["version"] != nil)
            let slowAnswered = slow.isReadable(withinMilliseconds: 0)
            #expect(!slowAnswered, "the other client waited for the slow one")
        }
        let error = reply?["error"]?.stringValue ?? ""
        #expect(error.contains("request not finished"), "\(reply?.text ?? "no reply")")
        let seconds = try #require(cutOff)
        // Cut off by request_timeout (3 s), long before the idle timeout
        // (30 s) would have closed it.
        #expect(seconds >= 2.9 && seconds < 20, "cut off after \(seconds) s")
        let closed = slow.isClosedByPeer()
        #expect(closed)
        #expect(daemon.stop() == 0)
    }

    @Test("an idle client is closed with a reason after client_idle_timeout")
    func idleClient() throws {
        let daemon = try DaemonProcess(daemon: "client_idle_timeout = 1")
        var client = try StatsClient(path: daemon.socket)
        let hello = try client.request(["command": "version"])
        #expect(hello["ok"] == .bool(true))
        let start = lab_seconds()
        let readable = client.isReadable(withinMilliseconds: 30_000)
        #expect(readable)
        let waited = lab_seconds() - start
        // Not before client_idle_timeout (1 s); the deadline above is the
        // upper bound a loaded machine cannot miss.
        #expect(waited > 0.8, "closed after \(waited) s")
        let bye = try client.reply()
        #expect(bye["error"]?.stringValue?.contains("idle") == true)
        let closed = client.isClosedByPeer()
        #expect(closed)
        #expect(daemon.stop() == 0)
    }

    @Test(
        "1000 root clients at once are all served (root always gets in; the readers' caps: SecurityTests), and counting goes on"
    )
    func thousandClients() throws {
        raiseFileLimit()
        let directory = temporaryDirectory()
        defer { rmdir(directory) }
        let file = directory + "/paced.pcap"
        writeFile(file, udpCapture(count: 20000, flows: 100))
        defer { unlink(file) }
        let daemon = try DaemonProcess(daemon: "max_clients = 64", workers: 2)
        // A paced replay runs under the storm: 20000 frames at 8000 pps.
        let job = try daemon.ask(["command": "replay", "file": .string(file), "pps": 8000])
        let id = try #require(job["job"]?.intValue)

        var clients: [ClientBox] = []
        var connectFailures = 0
        for _ in 0..<1000 {
            do {
                clients.append(ClientBox(try StatsClient(path: daemon.socket, timeoutSeconds: 10)))
            } catch {
                connectFailures += 1
            }
        }
        #expect(connectFailures == 0)
        var served = 0
        var refused = 0
        var other: [String] = []
        for i in clients.indices {
            // A refused client has its answer waiting before it asks.
            if clients[i].client.isReadable(withinMilliseconds: 0) {
                let reply = try clients[i].client.reply()
                if reply["error"]?.stringValue?.contains("too many clients") == true {
                    refused += 1
                } else {
                    other.append(reply.text)
                }
                continue
            }
            let reply = try clients[i].client.request(["command": "stats"])
            if reply["ok"] == .bool(true) {
                served += 1
            } else if reply["error"]?.stringValue?.contains("too many clients") == true {
                refused += 1
            } else {
                other.append(reply.text)
            }
        }
        #expect(other.isEmpty, "\(other.prefix(3))")
        #expect(served == 1000, "\(refused) refused")
        // With the thousand still connected, root is served again at once.
        var extra = try StatsClient(path: daemon.socket)
        #expect(try extra.request(["command": "version"])["ok"] == .bool(true))
        clients.removeAll()
        // Once the server has seen the thousand connections close, it serves again.
        #expect(eventually { (try? daemon.ask(["command": "version"]))?["version"] != nil })

        let done = try waitForJob(daemon, try daemon.ask(["command": "replay", "job": .int(id)]))
        #expect(done["state"]?.stringValue == "done")
        #expect(done["packets"]?.intValue == 20000)
        let stats = try daemon.ask(["command": "stats"])
        #expect(stats["packets"]?.intValue == 20000)
        #expect(stats["dropped"]?["rx_missed"]?.intValue == 0)
        #expect(stats["flows"]?["tcp_udp"]?.intValue == 100)
        #expect(daemon.stop() == 0)
    }

    @Test("SO_PEERCRED: a stranger is refused, root and the socket group are served")
    func credentials() throws {
        // A world-writable socket, so that only the credential check stands
        // in the way; gid 4242 is the socket group.
        let daemon = try DaemonProcess(daemon: "socket_mode = \"0666\"\nsocket_group = \"4242\"")
        chmod(daemon.directory, 0o755)
        func ask(as ids: [String]) -> ProcessResult { askAs(ids, daemon.socket) }
        let stranger = ask(as: ["--reuid=65534", "--regid=65534", "--clear-groups"])
        #expect(stranger.status == 0, "\(stranger.stderr)")
        #expect(stranger.stdout.contains("\"ok\":false"))
        #expect(stranger.stdout.contains("permission denied: uid 65534"))
        let member = ask(as: ["--reuid=65534", "--regid=65534", "--groups=4242"])
        #expect(member.stdout.contains("\"ok\":true"), "\(member.stdout) \(member.stderr)")
        let primary = ask(as: ["--reuid=65534", "--regid=4242", "--clear-groups"])
        #expect(primary.stdout.contains("\"ok\":true"), "\(primary.stdout) \(primary.stderr)")
        #expect(try daemon.ask(["command": "version"])["version"] != nil)
        #expect(daemon.logText.contains("refused a client"))
        #expect(daemon.stop() == 0)
    }

    @Test("the socket file is mode 0660 with the configured group; others cannot connect")
    func socketMode() throws {
        let daemon = try DaemonProcess(daemon: "socket_group = \"4242\"")
        chmod(daemon.directory, 0o755)
        var st = stat()
        #expect(stat(daemon.socket, &st) == 0)
        #expect(st.st_mode & 0o777 == 0o660)
        #expect(st.st_gid == 4242)
        let stranger = askAs(["--reuid=65534", "--regid=65534", "--clear-groups"], daemon.socket)
        #expect(stranger.status == 77, "\(stranger.stdout) \(stranger.stderr)")
        #expect(daemon.stop() == 0)
    }

    @Test("labyrinthctl: --socket before or after the subcommand, then $LABYRINTH_SOCKET, then the default")
    func socketPrecedence() throws {
        let daemon = try DaemonProcess()
        defer { #expect(daemon.stop() == 0) }
        let ctl = executable("labyrinthctl")
        let path = "PATH=/usr/sbin:/usr/bin:/sbin:/bin"
        for arguments in [["--socket", daemon.socket, "version"], ["version", "--socket", daemon.socket]] {
            let r = run([ctl] + arguments, environment: [path])
            #expect(r.status == 0, "\(arguments): \(r.stderr)")
            #expect(r.stdout.contains("labyrinthd"), "\(r.stdout)")
        }
        // The environment when no flag is given.
        let fromEnvironment = run([ctl, "version"], environment: [path, "LABYRINTH_SOCKET=\(daemon.socket)"])
        #expect(fromEnvironment.status == 0, "\(fromEnvironment.stderr)")
        // The flag wins over the environment.
        let flagWins = run(
            [ctl, "--socket", daemon.socket, "version"], environment: [path, "LABYRINTH_SOCKET=/nonexistent/x.sock"])
        #expect(flagWins.status == 0, "\(flagWins.stderr)")
        let wrongFlag = run(
            [ctl, "version", "--socket", "/nonexistent/y.sock"],
            environment: [path, "LABYRINTH_SOCKET=\(daemon.socket)"])
        #expect(wrongFlag.status == 69)
        #expect(wrongFlag.stderr.contains("/nonexistent/y.sock"))
        // An empty variable counts as unset: the default path.
        let empty = run([ctl, "version"], environment: [path, "LABYRINTH_SOCKET="])
        if access("/run/labyrinth/labyrinthd.sock", F_OK) != 0 {
            #expect(empty.status == 69)
            #expect(empty.stderr.contains("/run/labyrinth/labyrinthd.sock"), "\(empty.stderr)")
        }
    }

    @Test("labyrinthctl: an absent socket is a clear error with exit status 69")
    func unreachable() {
        let r = run([executable("labyrinthctl"), "stats", "--socket", "/nonexistent/labyrinthd.sock"])
        #expect(r.status == 69)
        #expect(r.stderr.contains("cannot connect to /nonexistent/labyrinthd.sock"))
    }
}

/// Asks `version` with Tests/Fixtures/stats_request.py (an independent
/// Python client) under other credentials (setpriv options). The script is
/// copied where an unprivileged user can read it.
func askAs(_ ids: [String], _ socket: String, request: String = "{\"command\":\"version\"}") -> ProcessResult {
    let directory = temporaryDirectory("labyrinth-client")
    chmod(directory, 0o755)
    let script = directory + "/stats_request.py"
    writeFile(script, readFile(packageRoot + "/Tests/Fixtures/stats_request.py") ?? [])
    defer {
        unlink(script)
        rmdir(directory)
    }
    return run(["setpriv"] + ids + ["/usr/bin/python3", script, socket, request])
}

/// A heap box, so that many noncopyable clients fit in an array.
final class ClientBox {
    var client: StatsClient
    init(_ client: consuming StatsClient) { self.client = client }
}

/// Polls a replay job until it leaves queued/running (at most 60 s).
func waitForJob(_ daemon: DaemonProcess, _ job: JSON) throws -> JSON {
    let id = try #require(job["job"]?.intValue)
    var current = job
    let deadline = lab_seconds() + 60
    while let state = current["state"]?.stringValue, state == "queued" || state == "running", lab_seconds() < deadline {
        usleep(20_000)
        current = try daemon.ask(["command": "replay", "job": .int(id)])
    }
    return current
}

func lab_seconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}
