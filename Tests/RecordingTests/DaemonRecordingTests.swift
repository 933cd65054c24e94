import StatsProtocol
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `labyrinthd run` with a `[[sink]]`: what its workers see goes to files,
/// `rotate` moves them on, and `stats`, Prometheus and a reload know it.
@Suite("Recording in the daemon ([[sink]])", .serialized)
struct DaemonRecordingTests {
    /// Polls a replay job until it has ended (60 s at most).
    func finished(_ daemon: DaemonProcess, _ job: JSON) throws -> JSON {
        let id = try #require(job["job"]?.intValue)
        var current = job
        let deadline = time(nil) + 60
        while let state = current["state"]?.stringValue, state == "queued" || state == "running", time(nil) < deadline {
            usleep(20_000)
            current = try daemon.ask(["command": "replay", "job": .int(id)])
        }
        return current
    }

    @Test(
        "a [[sink]] writes each replay job byte for byte; rotate starts the next file and never replaces one; stats, Prometheus and reload know the sink"
    )
    func sink() throws {
        let directory = temporaryDirectory("rec-daemon")
        defer { removeTree(directory) }
        let mixed = directory + "/mixed.pcap"
        let made = run([
            "python3", fixturesDirectory + "/make_mixed.py", mixed, directory + "/expected.json", "--packets", "1500",
        ])
        try #require(made.status == 0, "make_mixed.py: \(made.stderr)")
        let expected = try RecordedFrames.read([mixed], linkTypes: RecordingTests.supported, asDelivered: true)
        let first = directory + "/rec.pcapng"
        let sink = """

            [[sink]]
            path = "\(first)"
            mode = "0600"
            group = ""
            flush_ms = 50
            """
        let daemon = try DaemonProcess(workers: 1, more: sink)
        defer { _ = daemon.stop() }
        #expect(daemon.logText.contains("recording to \(first)"), "\(daemon.logText)")

        // 1. A replay job: every frame written, in order, to the first file.
        let one = try finished(daemon, try daemon.ask(["command": "replay", "file": .string(mixed)]))
        #expect(one["state"]?.stringValue == "done", "\(one.text)")
        // Written counts a frame once its write completed: within flush_ms.
        #expect(
            try eventually {
                try daemon.ask(["command": "stats"])["recording"]?["written"]?.intValue == expected.count
            })
        let stats = try daemon.ask(["command": "stats"])
        let recording = try #require(stats["recording"], "\(stats.text)")
        #expect(recording["written"]?.intValue == expected.count, "\(recording.text)")
        #expect(recording["current_files"]?.arrayValue?.first?.stringValue == first, "\(recording.text)")
        #expect(stats["processed"]?.intValue == recording["written"]?.intValue)
        let config = try daemon.ask(["command": "config"])
        #expect(config["sink"]?["path"]?.stringValue == first, "\(config.text)")
        #expect(config["sink"]?["mode"]?.stringValue == "0600")

        // 2. rotate: the next file; its name exists, so it gets a suffix.
        var client = try StatsClient(path: daemon.socket)
        let rotated = try client.ask(RotateRequest()).get().value
        #expect(rotated.workersNotRotated.isEmpty)
        let second = directory + "/rec-1.pcapng"
        #expect(rotated.currentFiles == [second], "\(rotated)")
        #expect(rotated.filesWritten == 1)

        // 3. A second job goes to the second file.
        let two = try finished(daemon, try daemon.ask(["command": "replay", "file": .string(mixed)]))
        #expect(two["state"]?.stringValue == "done")
        #expect(
            try eventually {
                try daemon.ask(["command": "stats"])["recording"]?["written"]?.intValue == 2 * expected.count
            })

        // 4. Prometheus: the recording's families, valid for promtool.
        let metrics = try daemon.ask(["command": "prometheus"]).stringValue ?? ""
        #expect(metrics.contains("labyrinth_recording_frames_total{result=\"written\"} \(2 * expected.count)"))
        #expect(metrics.contains("labyrinth_recording_current_file_info{worker=\"0\",path=\"\(second)\"} 1"))
        // promtool is required (Debian's prometheus package; scripts/test.sh
        // installs it): a missing one fails here rather than skipping.
        #expect(access("/usr/bin/promtool", X_OK) == 0, "promtool is missing: apt-get install prometheus")
        let file = directory + "/metrics.txt"
        writeFile(file, Array(metrics.utf8))
        defer { unlink(file) }
        let check = run(["sh", "-c", "promtool check metrics < \"$0\"", file])
        #expect(check.status == 0, "\(check.stdout)\(check.stderr)")

        // 5. A reload that changes the sink is refused by name.
        var text = String(decoding: readFile(daemon.configPath) ?? [], as: UTF8.self)
        text = text.replacingFirst("flush_ms = 50", with: "flush_ms = 60")
        writeFile(daemon.configPath, Array(text.utf8))
        kill(daemon.pid, SIGHUP)
        #expect(
            eventually {
                daemon.logText.contains("reload: refused sink[0].flush_ms (50 → 60): it cannot change while running")
            },
            "\(daemon.logText)")

        #expect(daemon.stop() == 0, "\(daemon.logText)")
        // Both files whole, each exactly the capture, mode 0600.
        #expect(listFiles(directory, prefix: "rec") == [second, first])
        for file in [first, second] {
            #expect(try RecordedFrames.read([file]) == expected, "\(file)")
            var st = stat()
            #expect(stat(file, &st) == 0 && st.st_mode & 0o777 == 0o600, "\(file)")
            let capinfos = run(["capinfos", "-c", "-M", file])
            #expect(capinfos.stdout.contains("Number of packets:   \(expected.count)"), "\(capinfos.stdout)")
        }
        #expect(listFiles(directory, prefix: ".").allSatisfy { $0.hasSuffix(".idx") }, "hidden .part files left")
    }

    @Test(
        "a [[sink]] with a filter of its own writes exactly the frames tcpdump's filter takes; the rest are counted unwritten.filtered and processed as ever"
    )
    func sinkFilter() throws {
        let directory = temporaryDirectory("rec-daemon-filter")
        defer { removeTree(directory) }
        let mixed = directory + "/mixed.pcap"
        let made = run([
            "python3", fixturesDirectory + "/make_mixed.py", mixed, directory + "/expected.json", "--packets", "1500",
        ])
        try #require(made.status == 0, "make_mixed.py: \(made.stderr)")
        let filter = "tcp or icmp6"
        let want = directory + "/want.pcap"
        let r = run(["tcpdump", "-r", mixed, "-w", want, filter])
        try #require(r.status == 0, "tcpdump: \(r.stderr)")
        let expected = try RecordedFrames.read([want], asDelivered: true)
        let file = directory + "/filtered.pcapng"
        let daemon = try DaemonProcess(
            workers: 1, more: "\n[[sink]]\npath = \"\(file)\"\ngroup = \"\"\nflush_ms = 50\nfilter = \"\(filter)\"")
        defer { _ = daemon.stop() }
        let job = try finished(daemon, try daemon.ask(["command": "replay", "file": .string(mixed)]))
        #expect(job["state"]?.stringValue == "done", "\(job.text)")
        #expect(
            try eventually {
                try daemon.ask(["command": "stats"])["recording"]?["written"]?.intValue == expected.count
            })
        let stats = try daemon.ask(["command": "stats"])
        let processed = stats["processed"]?.intValue ?? -1
        #expect(processed == 1500, "\(stats.text)")
        #expect(stats["recording"]?["unwritten"]?["filtered"]?.intValue == 1500 - expected.count, "\(stats.text)")
        #expect(try daemon.ask(["command": "config"])["sink"]?["filter"]?.stringValue == filter)
        #expect(daemon.stop() == 0, "\(daemon.logText)")
        // The file holds exactly tcpdump's frames, in order, and says
        // which filter made it.
        #expect(try RecordedFrames.read([file]) == expected)
        let bytes = readFile(file) ?? []
        let text = String(decoding: bytes.prefix(4096), as: UTF8.self)
        #expect(text.contains(filter), "the interface blocks' if_filter should name the sink's filter")
    }

    @Test("rotate without a [[sink]] is an error; a second [[sink]] or a bad one stops the start with exit 78")
    func refusals() throws {
        let daemon = try DaemonProcess(workers: 1)
        var client = try StatsClient(path: daemon.socket)
        switch try client.ask(RotateRequest()) {
        case .success(let r): Issue.record("rotate without a sink answered \(r)")
        case .failure(let e): #expect("\(e)".contains("no [[sink]]"), "\(e)")
        }
        #expect(daemon.stop() == 0)

        let directory = temporaryDirectory("rec-daemon-bad")
        defer { removeTree(directory) }
        for (sink, phrase) in [
            ("[[sink]]\npath = \"\(directory)/a.pcapng\"\n[[sink]]\npath = \"\(directory)/b.pcapng\"", "one [[sink]]"),
            ("[[sink]]\npath = \"\(directory)/a.pcapng\"\nformat = \"erf\"", "sink[0].format"),
            ("[[sink]]\npath = \"\(directory)/a.pcapng\"\nmax_files = 3", "sink[0].max_files"),
            ("[[sink]]\npath = \"\(directory)/a.pcapng\"\nrotate_size = \"12 parsecs\"", "sink[0].rotate_size"),
            ("[[sink]]\npath = \"\(directory)/a.pcapng\"\ngroup = \"no-such-group-here\"", "no group named"),
            ("[[sink]]\npath = \"/proc/nonexistent/a.pcapng\"\ngroup = \"\"", "/proc/nonexistent"),
            ("[[sink]]\npath = \"\(directory)/a.pcapng\"\nfilter = \"udp port\"", "sink[0].filter"),
        ] {
            let config = directory + "/bad.toml"
            writeFile(
                config,
                Array(
                    DaemonProcess.configText(socket: directory + "/s.sock", workers: 1, more: "\n" + sink).utf8))
            let r = run([executable("labyrinthd"), "run", "--config", config], timeoutSeconds: 30)
            #expect(r.status == 78, "\(sink): exit \(r.status): \(r.stderr)")
            #expect(r.stderr.contains(phrase), "\(sink): \(r.stderr)")
            unlink(config)
        }
    }
}
