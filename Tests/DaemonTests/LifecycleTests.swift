import ControlPlane
import StatsProtocol
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The daemon's life outside systemd: reload, memory pressure, shutdown.
/// (Under a real systemd: scripts/systemd-test.sh.)
@Suite("Daemon lifecycle", .serialized)
struct LifecycleTests {
    @Test(
        "SIGHUP names every key of the table it sees changed, as applied or refused; an empty or cut file changes nothing"
    )
    func reloadNamesEveryKey() throws {
        let daemon = try DaemonProcess { socket, directory in
            mkdir(directory + "/rec", 0o755)
            return ConfigKeyTests.baseline(
                socket: socket, sink: directory + "/rec", collector: freePort(udp: true))
        }
        defer { #expect(daemon.stop() == 0) }
        let base = String(decoding: readFile(daemon.configPath) ?? [], as: UTF8.self)
        var reloads = 0
        func reload(_ text: String) -> String {
            let before = daemon.logText.utf8.count
            writeFile(daemon.configPath, Array(text.utf8))
            kill(daemon.pid, SIGHUP)
            reloads += 1
            let seen = eventually(within: 10) {
                occurrences(of: "reloaded ", in: daemon.logText)
                    + occurrences(of: "reload refused", in: daemon.logText) >= reloads
            }
            #expect(seen, "reload \(reloads) was not logged:\n\(daemon.logText.suffix(2000))")
            return String(daemon.logText.utf8.dropFirst(before)) ?? ""
        }
        // The config command lists every key, with its running value.
        let listed = try daemon.ask(["command": "config"])["keys"]?.arrayValue?.compactMap { $0["key"]?.stringValue }
        let names = Set(listed ?? [])
        for key in ConfigKeys.all {
            #expect(names.contains(key.dotted(instance: 0)), "config does not list \(key.dotted)")
        }
        var verdicts: [String: String] = [:]
        for key in ConfigKeys.all {
            let name = key.dotted(instance: 0)
            let log = reload(ConfigKeyTests.setting(key, to: key.example, in: base))
            let applied = log.contains("reload: applied \(name) (")
            let refused = log.contains("reload: refused \(name) (")
            #expect(applied != refused, "\(name) = \(key.example): the log says\n\(log)")
            #expect(applied == (key.change == .live), "\(name) is \(key.change), but the log says\n\(log)")
            verdicts[name] = applied ? "applied" : "refused"
            // Back to the baseline: a live key is applied back.
            let back = reload(base)
            if applied { #expect(back.contains("reload: applied \(name) ("), "\(back)") }
        }
        #expect(verdicts.count == ConfigKeys.all.count)

        // A live change, then an empty file and a cut one: refused, and the
        // running configuration keeps the change and the allowed directories.
        let debug = ConfigKeys.key(.daemon, "log_level")!
        _ = reload(ConfigKeyTests.setting(debug, to: "\"debug\"", in: base))
        let empty = reload("")
        #expect(empty.contains("reload refused, keeping the running configuration"), "\(empty)")
        #expect(empty.contains("holds no settings"), "\(empty)")
        let comments = reload("# nothing but a comment\n\n")
        #expect(comments.contains("holds no settings"), "\(comments)")
        var half = base.utf8.count / 2
        while Array(base.utf8)[half - 1] == UInt8(ascii: "\n") { half += 1 }
        let cut = reload(String(base.utf8.prefix(half))!)
        #expect(cut.contains("reload refused") && cut.contains("truncated"), "\(cut)")
        let config = try daemon.ask(["command": "config"])
        #expect(config["daemon"]?["log_level"]?.stringValue == "debug", "\(config.text)")
        let allowed = config["keys"]?.arrayValue?.first { $0["key"]?.stringValue == "replay.allowed_directories" }
        #expect(allowed?["value"]?.stringValue == "[\"/tmp\"]", "\(config.text)")
        #expect(daemon.isRunning)
    }

    @Test("SIGHUP applies the live settings, refuses the rest by name, and loses no packet")
    func reload() throws {
        let directory = temporaryDirectory()
        defer { rmdir(directory) }
        let file = directory + "/paced.pcap"
        writeFile(file, udpCapture(count: 12000, flows: 30))
        defer { unlink(file) }
        let daemon = try DaemonProcess(workers: 2)
        // 12000 frames at 6000 pps: two seconds, across three reloads.
        let job = try daemon.ask(["command": "replay", "file": .string(file), "pps": 6000])
        let id = try #require(job["job"]?.intValue)
        // Reload while the replay runs.
        #expect(
            try eventually {
                (try daemon.ask(["command": "replay", "job": .int(id)])["packets"]?.intValue ?? 0) > 0
            })
        writeFile(
            daemon.configPath,
            Array(
                DaemonProcess.configText(
                    socket: daemon.socket, daemon: "log_level = \"debug\"", workers: 2,
                    more: "budget = 32\n\n[replay]\npps = 500"
                ).utf8))
        kill(daemon.pid, SIGHUP)
        #expect(eventually { occurrences(of: "reloaded ", in: daemon.logText) == 1 }, "\(daemon.logText)")
        let config = try daemon.ask(["command": "config"])
        #expect(config["daemon"]?["log_level"]?.stringValue == "debug")
        #expect(config["workers"]?["budget"]?.intValue == 64)
        #expect(config["replay"]?["pacing"]?.stringValue?.contains("500") == true, "\(config.text)")
        #expect(
            daemon.logText.contains("reload: applied daemon.log_level (\"info\" → \"debug\")"), "\(daemon.logText)")
        #expect(
            daemon.logText.contains(
                "reload: refused workers.budget (64 → 32): it cannot change while running; restart the service to apply it"
            ), "\(daemon.logText)")

        // A file that does not parse changes nothing.
        writeFile(daemon.configPath, Array("[workers]\ncount = \"two\"\n".utf8))
        kill(daemon.pid, SIGHUP)
        let refused = "reload refused, keeping the running configuration"
        #expect(eventually { occurrences(of: refused, in: daemon.logText) == 1 }, "\(daemon.logText)")
        #expect(daemon.logText.contains("workers.count: must be an integer"))
        #expect(try daemon.ask(["command": "config"])["daemon"]?["log_level"]?.stringValue == "debug")
        // A third reload, of the same bad file: refused again, and the
        // daemon (and the replay under way) carry on.
        kill(daemon.pid, SIGHUP)
        #expect(eventually { occurrences(of: refused, in: daemon.logText) == 2 }, "\(daemon.logText)")
        #expect(daemon.isRunning)
        #expect(try daemon.ask(["command": "config"])["daemon"]?["log_level"]?.stringValue == "debug")

        let done = try waitForJob(daemon, job)
        #expect(done["state"]?.stringValue == "done")
        #expect(done["packets"]?.intValue == 12000)
        let stats = try daemon.ask(["command": "stats"])
        #expect(stats["packets"]?.intValue == 12000)
        #expect(stats["processed"]?.intValue == 12000)
        #expect(stats["dropped"]?["rx_missed"]?.intValue == 0)
        #expect(stats["flows"]?["tcp_udp"]?.intValue == 30)
        #expect(daemon.stop() == 0)
    }

    @Test("a room that runs dry drops and counts, logs a rate-limited failure, and the daemon goes on")
    func pressure() throws {
        let directory = temporaryDirectory()
        defer { rmdir(directory) }
        let file = directory + "/burst.pcap"
        // Frames of 1442 bytes: 44 share a 64 KiB chunk.
        writeFile(file, udpCapture(count: 5000, flows: 10, payload: 1400))
        defer { unlink(file) }
        // Each worker keeps its last 2000 frames: some 46 chunks of 16
        // pages, more than a room of 256.
        let daemon = try DaemonProcess(pagesPerRoom: 256, more: "test_hold_frames = 2000")
        let job = try waitForJob(daemon, try daemon.ask(["command": "replay", "file": .string(file)]))
        #expect(job["state"]?.stringValue == "done")
        let stats = try daemon.ask(["command": "stats"])
        let processed = try #require(stats["processed"]?.intValue)
        let dropped = try #require(stats["dropped"]?["nomem"]?.intValue)
        #expect(stats["packets"]?.intValue == 5000)
        #expect(processed + dropped == 5000)
        #expect(dropped > 0)
        #expect(processed >= 256 - 32)
        let room = try #require(try daemon.ask(["command": "rooms"]).arrayValue?.first)
        // Each drop is a failed allocation of the one page that holds the
        // frame (after a whole chunk could not be had either: those count
        // at their order, and as smaller chunks when the page could).
        let failures = (room["alloc_fail"]?.arrayValue ?? []).compactMap(\.intValue)
        #expect(failures.first == dropped, "\(failures)")
        #expect(failures.count == 5 && failures[4] >= dropped)
        #expect((room["reserve_dips"]?.intValue ?? 0) > 0)
        // The failure is logged from the control plane, not the worker.
        #expect(eventually { daemon.logText.contains("page allocation failure") }, "\(daemon.logText)")
        #expect(try daemon.ask(["command": "version"])["version"] != nil)
        #expect(daemon.stop() == 0)
        #expect(daemon.logText.contains("leak check passed"))
    }

    @Test("SIGTERM and SIGINT: final counters, leak check, exit 0; the socket file is gone")
    func shutdown() throws {
        for signal in [SIGTERM, SIGINT] {
            let daemon = try DaemonProcess(workers: 2)
            _ = try waitForJob(
                daemon, try daemon.ask(["command": "replay", "file": .string(packageRoot + "/captures/loopback.pcap")]))
            #expect(daemon.stop(signal: signal) == 0)
            let log = daemon.logText
            #expect(log.contains("shutting down"))
            #expect(log.contains("final counters bytes=332442"))
            #expect(log.contains("packets=837"))
            #expect(log.contains("leak check passed"))
            #expect(access(daemon.socket, F_OK) != 0)
            // Every line carries a syslog priority prefix for journald.
            for line in log.split(separator: "\n") {
                #expect(line.hasPrefix("<") && line.dropFirst(2).hasPrefix(">"), "\(line)")
            }
        }
    }

    @Test("a bad config at start: exit 78 and the key on stderr")
    func badConfigAtStart() {
        let directory = temporaryDirectory()
        let config = directory + "/bad.toml"
        defer {
            unlink(config)
            rmdir(directory)
        }
        writeFile(config, Array("[rooms]\npages_per_room = 100\n".utf8))
        let bad = run([executable("labyrinthd"), "run", "--config", config])
        #expect(bad.status == 78)
        #expect(bad.stderr.contains("bad.toml:2: rooms.pages_per_room"), "\(bad.stderr)")
    }

    @Test(
        "an arena it may not lock: exit 71 (EX_OSERR) with the reason and what to raise",
        .disabled(if: underThreadSanitizer, "the thread sanitizer's mlock does nothing, so no lock limit can be hit"))
    func lockLimitAtStart() {
        let directory = temporaryDirectory()
        let config = directory + "/locked.toml"
        defer {
            unlink(config)
            rmdir(directory)
        }
        // Without CAP_IPC_LOCK and with a 64 KiB lock limit, a required
        // lock of an 8 MiB arena fails at start and says what to raise.
        writeFile(
            config,
            Array(
                "[daemon]\nsocket = \"\(directory)/s.sock\"\n[rooms]\npages_per_room = 1024\nlock = \"required\"\n[workers]\ncount = 2\n"
                    .utf8))
        let locked = run(
            [
                "prlimit", "--memlock=65536:65536", "setpriv", "--bounding-set=-ipc_lock", "--inh-caps=-ipc_lock",
                executable("labyrinthd"), "run", "--config", config,
            ], timeoutSeconds: 30)
        #expect(locked.status == 71, "\(locked.stderr)")
        #expect(locked.stderr.contains("RLIMIT_MEMLOCK is 64 KiB"), "\(locked.stderr)")
        #expect(locked.stderr.contains("to fix it: raise LimitMEMLOCK="), "\(locked.stderr)")
    }

    /// A small configuration with one live source on `interface`, written
    /// into `directory`; its path.
    static func sourceConfig(in directory: String, interface: String) -> String {
        let config = directory + "/source.toml"
        writeFile(
            config,
            Array(
                """
                [daemon]
                socket = "\(directory)/s.sock"
                [rooms]
                pages_per_room = 64
                lock = "off"
                [workers]
                count = 1
                [[source]]
                interface = "\(interface)"
                backend = "tpacket"

                """.utf8))
        chmod(config, 0o644)
        return config
    }

    @Test("a packet socket it may not open: exit 77 (EX_NOPERM), naming CAP_NET_RAW")
    func noCaptureCapability() {
        let directory = temporaryDirectory()
        chmod(directory, 0o777)
        let config = Self.sourceConfig(in: directory, interface: "lo")
        let denied = run(
            [
                "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", executable("labyrinthd"), "run",
                "--config", config,
            ],
            timeoutSeconds: 30)
        #expect(denied.status == 77, "\(denied.stderr)")
        #expect(denied.stderr.contains("to fix it: a packet socket needs CAP_NET_RAW"), "\(denied.stderr)")
    }

    @Test("no such interface: exit 78 (EX_CONFIG), naming the key")
    func noSuchInterface() {
        let config = Self.sourceConfig(in: temporaryDirectory(), interface: "nosuch0")
        let missing = run([executable("labyrinthd"), "run", "--config", config], timeoutSeconds: 30)
        #expect(missing.status == 78, "\(missing.stderr)")
        #expect(missing.stderr.contains("check [[source]] interface"), "\(missing.stderr)")
    }

    @Test("a second daemon on a socket another one answers on: exit 69 (EX_UNAVAILABLE); the first keeps its socket")
    func socketInUse() throws {
        let daemon = try DaemonProcess()
        defer { #expect(daemon.stop() == 0) }
        let second = run([executable("labyrinthd"), "run", "--config", daemon.configPath], timeoutSeconds: 30)
        #expect(second.status == 69, "\(second.stderr)")
        #expect(second.stderr.contains("another process answers on"), "\(second.stderr)")
        #expect(second.stderr.contains("to fix it: another labyrinthd answers on this socket"), "\(second.stderr)")
        #expect(try daemon.ask(["command": "version"])["version"] != nil)
    }
}
