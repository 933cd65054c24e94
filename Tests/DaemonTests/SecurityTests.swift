import ControlPlane
import StatsProtocol
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Hostile members of the socket group: numbers that would trap, paths the
/// daemon must not open, descriptors of the wrong kind, commands above
/// their access level. Each gets `{"ok":false,…}`, and the daemon keeps
/// running with its counts unchanged.
@Suite("Hostile socket clients", .serialized)
struct SecurityTests {
    /// Sends one raw line and returns the reply.
    func send(_ line: String, to socket: String) throws -> JSON {
        var client = try StatsClient(path: socket)
        _ = client.sendRaw(Array((line + "\n").utf8))
        return try client.reply()
    }

    @Test("the three lines that killed the daemon, and a table of hostile numbers, are refused; nothing traps")
    func hostileNumbers() throws {
        let daemon = try DaemonProcess(workers: 2)
        defer { #expect(daemon.stop() == 0) }
        let before = try daemon.ask(["command": "stats"])
        let lines = [
            #"{"command":"\ud800\u0000"}"#,
            #"{"command":"replay","file":"/any/capture.pcap","speed":"original","multiplier":1e-300}"#,
            #"{"command":"replay","file":"/any/capture.pcap","pps":5e-324}"#,
            #"{"command":"\udc00"}"#, #"{"command":"\ud800"}"#, #"{"command":"\ud800\ud800"}"#,
        ]
        // Values that are not numbers, not finite, not in range, or of the
        // wrong type, for every numeric field.
        let hostile = [
            "NaN", "nan", "Infinity", "-Infinity", "inf", "1e999", "-1e999", "1e309", "5e-324", "1e-300", "-0",
            "-1", "0", "9223372036854775808", "-9223372036854775809", "1" + String(repeating: "0", count: 400),
            "\"5\"", "true", "null", "[]", "{}", "1.5",
        ]
        let fields: [(String, String)] = [
            ("flows", "top"), ("replay", "pps"), ("replay", "mbps"), ("replay", "job"),
        ]
        var all = lines
        for (command, field) in fields {
            for value in hostile where !(value == "null") {
                let extra = command == "replay" && field != "job" ? #","file":"/any/capture.pcap""# : ""
                all.append(#"{"command":"\#(command)","\#(field)":\#(value)\#(extra)}"#)
            }
        }
        for value in hostile where value != "null" {
            all.append(#"{"command":"replay","file":"/any/capture.pcap","speed":"original","multiplier":\#(value)}"#)
        }
        for line in all {
            let reply = try send(line, to: daemon.socket)
            #expect(reply["ok"] == .bool(false), "\(line) → \(reply.text)")
            #expect(daemon.isRunning, "\(line) stopped the daemon")
        }
        // A value in range still works.
        #expect(try daemon.ask(["command": "flows", "top": 5])["flows"] != nil)
        let after = try daemon.ask(["command": "stats"])
        #expect(after["packets"] == before["packets"])
        #expect(after["replay"] == before["replay"])
    }

    @Test("every numeric field against its range: the error names the field and the range")
    func numericFields() throws {
        let daemon = try DaemonProcess()
        defer { #expect(daemon.stop() == 0) }
        let cases: [(String, String)] = [
            (#"{"command":"flows","top":0}"#, "\"top\" must be an integer in 1...1000"),
            (#"{"command":"flows","top":1001}"#, "\"top\" must be an integer in 1...1000"),
            (#"{"command":"flows","top":"5"}"#, "\"top\" must be an integer in 1...1000, not \"5\""),
            (#"{"command":"flows","by":"bits"}"#, "\"by\" must be \"bytes\" or \"packets\""),
            (#"{"command":"replay","file":"/x.pcap","pps":0.5}"#, "\"pps\" must be a number in 1...100000000"),
            (#"{"command":"replay","file":"/x.pcap","mbps":-1}"#, "\"mbps\" must be a number in 0.001...1000000"),
            (
                #"{"command":"replay","file":"/x.pcap","speed":"original","multiplier":1e999}"#,
                "not JSON"
            ),
            (
                #"{"command":"replay","file":"/x.pcap","speed":"max","multiplier":2}"#,
                "\"multiplier\" goes with \"speed\": \"original\""
            ),
            (#"{"command":"replay","job":-1}"#, "\"job\" must be an integer in 1..."),
            (#"{"command":"replay","file":"relative.pcap"}"#, "\"file\" must be an absolute path"),
            (#"{"command":"stats","top":5}"#, "unknown field \"top\" for \"stats\""),
        ]
        for (line, phrase) in cases {
            let reply = try send(line, to: daemon.socket)
            #expect(reply["ok"] == .bool(false))
            #expect(reply["error"]?.stringValue?.contains(phrase) == true, "\(line) → \(reply.text)")
        }
        // Absent fields take their defaults.
        #expect((try daemon.ask(["command": "flows"])["flows"]?.arrayValue) != nil)
    }

    /// A daemon whose replay.allowed_directories is `allowed`, with an
    /// escape hatch and hostile neighbours prepared.
    static func hostilePaths(_ allowed: String) -> [String] {
        [
            "/etc/shadow", "/proc/self/mem", "/dev/zero", "/", "\(allowed)/missing.pcap", "\(allowed)/../../etc/passwd",
            "\(allowed)/link-out", "\(allowed)/sub", "\(allowed)/fifo", allowed, "\(allowed)/./../x",
        ]
    }

    static func prepare(_ allowed: String) {
        mkdir(allowed, 0o755)
        mkdir(allowed + "/sub", 0o755)
        symlink("/etc/passwd", allowed + "/link-out")
        mkfifo(allowed + "/fifo", 0o644)
    }

    static func cleanUp(_ allowed: String) {
        for name in ["link-out", "fifo", "good.pcap"] { unlink(allowed + "/" + name) }
        rmdir(allowed + "/sub")
        rmdir(allowed)
    }

    @Test("hostile paths get one content-free refusal, with openat2 and with the walk that stands in for it")
    func pathsBeneath() throws {
        let directory = temporaryDirectory()
        let allowed = directory + "/allowed"
        Self.prepare(allowed)
        writeFile(allowed + "/good.pcap", udpCapture(count: 10, flows: 2))
        defer {
            Self.cleanUp(allowed)
            rmdir(directory)
        }
        for resolution in [AllowedDirectories.Resolution.automatic, .walk] {
            let dirs = AllowedDirectories([allowed], resolution: resolution)
            #expect(dirs.problems.isEmpty)
            #expect(dirs.open(allowed + "/good.pcap") != nil, "\(resolution)")
            #expect(dirs.open(allowed + "/sub/../good.pcap") == nil || resolution == .automatic)
            for path in Self.hostilePaths(allowed) {
                #expect(dirs.open(path) == nil, "\(resolution): \(path) was opened")
            }
        }
        // Over the socket: the same words for every one of them.
        let daemon = try DaemonProcess(more: "[replay]\nallowed_directories = [\"\(allowed)\"]")
        defer { #expect(daemon.stop() == 0) }
        var refusals = Set<String>()
        for path in Self.hostilePaths(allowed) {
            let reply = try send(#"{"command":"replay","file":"\#(path)"}"#, to: daemon.socket)
            #expect(reply["ok"] == .bool(false), "\(path) → \(reply.text)")
            let error = reply["error"]?.stringValue ?? ""
            refusals.insert(error)
            #expect(!error.contains("root:"), "file bytes in \(error)")
        }
        #expect(refusals.count == 1, "\(refusals)")
        // The daemon keeps counting: a good file beneath goes through.
        let job = try waitForJob(
            daemon, try daemon.ask(["command": "replay", "file": .string(allowed + "/good.pcap")]))
        #expect(job["state"]?.stringValue == "done")
        #expect(job["packets"]?.intValue == 10)
    }

    @Test("a file only the client may read replays by descriptor with exact counts; by path it is refused")
    func descriptorPassing() throws {
        let directory = temporaryDirectory()
        chmod(directory, 0o777)
        let file = directory + "/private.pcap"
        writeFile(file, udpCapture(count: 2000, flows: 20))
        chmod(file, 0o600)  // root's, and the daemon runs as nobody
        defer {
            unlink(file)
            rmdir(directory)
        }
        let daemon = try DaemonProcess(
            workers: 2, more: "[replay]\nallowed_directories = [\"\(directory)\"]",
            prefix: ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"], directoryMode: 0o777)
        defer { #expect(daemon.stop() == 0) }
        let ctl = executable("labyrinthctl")
        let replayed = run([ctl, "--socket", daemon.socket, "--json", "replay", file])
        #expect(replayed.status == 0, "\(replayed.stdout) \(replayed.stderr)")
        let job = try JSON.parse(replayed.stdout)
        #expect(job["state"]?.stringValue == "done", "\(job.text)")
        #expect(job["packets"]?.intValue == 2000)
        #expect(try daemon.ask(["command": "stats"])["packets"]?.intValue == 2000)
        let byPath = run([ctl, "--socket", daemon.socket, "replay", "--by-path", file])
        #expect(byPath.status == 1)
        #expect(byPath.stderr.contains("\"file\" is refused"), "\(byPath.stderr)")
    }

    @Test("two descriptors, a write-only one, an O_PATH one, a directory, none, and a request without fd are refused")
    func wrongDescriptors() throws {
        let directory = temporaryDirectory()
        let file = directory + "/x.pcap"
        writeFile(file, udpCapture(count: 10, flows: 1))
        defer {
            unlink(file)
            rmdir(directory)
        }
        let daemon = try DaemonProcess()
        defer { #expect(daemon.stop() == 0) }
        let replaySocket = daemon.directory + "/labyrinthd-replay.sock"
        let line = Array((#"{"command":"replay","fd":true}"# + "\n").utf8)
        func refusal(_ send: (borrowing StatsClient) throws -> Void) throws -> String {
            var client = try StatsClient(path: replaySocket)
            try send(client)
            let reply = try client.reply()
            #expect(reply["ok"] == .bool(false), "\(reply.text)")
            return reply["error"]?.stringValue ?? ""
        }
        let readable = open(file, O_RDONLY)
        let writeOnly = open(file, O_WRONLY)
        let pathOnly = open(file, 0o10000000)  // O_PATH
        let dir = open(directory, O_RDONLY | O_DIRECTORY)
        defer { for fd in [readable, writeOnly, pathOnly, dir] { close(fd) } }
        #expect(try refusal { _ = try $0.sendWithDescriptor(line, readable, readable) }.contains("one descriptor"))
        #expect(try refusal { _ = try $0.sendWithDescriptor(line, writeOnly) }.contains("write-only"))
        #expect(try refusal { _ = try $0.sendWithDescriptor(line, pathOnly) }.contains("O_PATH"))
        #expect(try refusal { _ = try $0.sendWithDescriptor(line, dir) }.contains("not a regular file"))
        #expect(try refusal { _ = try $0.sendWithDescriptor(line) }.contains("no descriptor"))
        let noFlag = Array((#"{"command":"replay"}"# + "\n").utf8)
        #expect(try refusal { _ = try $0.sendWithDescriptor(noFlag, readable) }.contains("\"fd\": true"))
        // A descriptor after the first byte is refused too.
        #expect(
            try refusal { c in
                _ = c.sendRaw(Array(line.prefix(3)))
                _ = try c.sendWithDescriptor(Array(line.dropFirst(3)), readable)
            }.contains("first byte"))
        // The good one goes through.
        var client = try StatsClient(path: replaySocket)
        let reply = try client.request(
            .object([("command", "replay"), ("fd", true), ("name", "x.pcap")]), passing: readable)
        #expect(reply["ok"] == .bool(true), "\(reply.text)")
        #expect(daemon.isRunning)
    }

    @Test("a client that truncates its file during the replay costs that job an error and nothing else")
    func truncatedDuringReplay() throws {
        let directory = temporaryDirectory()
        let file = directory + "/big.pcap"
        // More than one 24 MiB read window: 420 000 frames of 76 bytes.
        writeFile(file, udpCapture(count: 420_000, flows: 64))
        defer {
            unlink(file)
            rmdir(directory)
        }
        let daemon = try DaemonProcess(workers: 2)
        defer { #expect(daemon.stop() == 0) }
        let fd = open(file, O_RDWR)
        defer { close(fd) }
        var client = try StatsClient(path: daemon.directory + "/labyrinthd-replay.sock")
        let reply = try client.request(
            .object([("command", "replay"), ("fd", true), ("name", "big.pcap"), ("pps", 100_000)]), passing: fd)
        let id = try #require(reply["result"]?["job"]?.intValue, "\(reply.text)")
        #expect(
            try eventually(within: 30) {
                (try daemon.ask(["command": "replay", "job": .int(id)])["packets"]?.intValue ?? 0) > 20_000
            })
        // Cut it in the middle of a record, well before its end.
        #expect(ftruncate(fd, 10 << 20 + 7) == 0)
        let job = try waitForJob(daemon, try daemon.ask(["command": "replay", "job": .int(id)]))
        #expect(job["state"]?.stringValue == "failed", "\(job.text)")
        #expect(job["error"]?["message"]?.stringValue?.contains("cut off") == true, "\(job.text)")
        #expect(daemon.isRunning)
        // The next job runs as usual.
        let small = directory + "/small.pcap"
        writeFile(small, udpCapture(count: 100, flows: 3))
        defer { unlink(small) }
        let next = open(small, O_RDONLY)
        defer { close(next) }
        var second = try StatsClient(path: daemon.directory + "/labyrinthd-replay.sock")
        let queued = try second.request(.object([("command", "replay"), ("fd", true)]), passing: next)
        let done = try waitForJob(daemon, try #require(queued["result"]))
        #expect(done["state"]?.stringValue == "done")
        #expect(done["packets"]?.intValue == 100)
    }

    @Test(
        "the socket group reads counters and is refused replay and dump, naming the admin group; the admin group replays"
    )
    func accessLevels() throws {
        let directory = temporaryDirectory()
        chmod(directory, 0o755)
        let file = directory + "/a.pcap"
        writeFile(file, udpCapture(count: 50, flows: 5))
        chmod(file, 0o644)
        defer {
            unlink(file)
            rmdir(directory)
        }
        let daemon = try DaemonProcess(
            daemon: "socket_group = \"4242\"\nadmin_group = \"4243\"",
            more: "[replay]\nallowed_directories = [\"\(directory)\"]")
        chmod(daemon.directory, 0o755)
        defer { #expect(daemon.stop() == 0) }
        let replay = #"{"command":"replay","file":"\#(file)"}"#
        let reader = ["--reuid=65534", "--regid=65534", "--groups=4242"]
        let admin = ["--reuid=65534", "--regid=65534", "--groups=4242,4243"]
        let stats = askAs(reader, daemon.socket, request: #"{"command":"stats"}"#)
        #expect(stats.stdout.contains("\"ok\":true"), "\(stats.stdout) \(stats.stderr)")
        let refused = askAs(reader, daemon.socket, request: replay)
        #expect(refused.stdout.contains("\"ok\":false"), "\(refused.stdout)")
        #expect(refused.stdout.contains("admin group \\\"4243\\\""), "\(refused.stdout)")
        // A live tap carries payloads: never for the socket group.
        let tap = askAs(reader, daemon.socket, request: #"{"command":"dump","filter":"udp"}"#)
        #expect(tap.stdout.contains("\"ok\":false"), "\(tap.stdout)")
        #expect(tap.stdout.contains("dump\\\" needs root or membership in the admin group"), "\(tap.stdout)")
        let allowed = askAs(admin, daemon.socket, request: replay)
        #expect(allowed.stdout.contains("\"ok\":true"), "\(allowed.stdout) \(allowed.stderr)")
        let job = try waitForJob(daemon, try JSON.parse(allowed.stdout)["result"] ?? .null)
        #expect(job["packets"]?.intValue == 50)
    }
}
