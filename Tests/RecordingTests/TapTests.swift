import StatsProtocol
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `labyrinthctl dump`: a live tap out of the running daemon. What it
/// streams is read back by independent readers (dpkt, capinfos), and a
/// reader that stops or goes is shown to cost tap drops and nothing else.
@Suite("Live taps (dump)", .serialized)
struct TapTests {
    /// Replays `file` through the daemon and waits for the job to end.
    func replayed(_ daemon: DaemonProcess, _ file: String) throws -> JSON {
        var job = try daemon.ask(["command": "replay", "file": .string(file)])
        let id = try #require(job["job"]?.intValue)
        let deadline = monotonicSeconds() + 120
        while let state = job["state"]?.stringValue, state == "queued" || state == "running",
            monotonicSeconds() < deadline
        {
            usleep(10_000)
            job = try daemon.ask(["command": "replay", "job": .int(id)])
        }
        return job
    }

    /// The frames of `files` that `filter` matches, by tcpdump (libpcap),
    /// as (ns timestamp, captured, wire, sha256) rows, sorted.
    func expected(_ files: [String], filter: String, directory: String) throws -> [[String]] {
        var rows: [[String]] = []
        for (i, file) in files.enumerated() {
            let want = directory + "/want-\(i).pcap"
            let r = run(["tcpdump", "-r", file, "-w", want, filter])
            try #require(r.status == 0, "tcpdump: \(r.stderr)")
            rows += try RecordedFrames.read([want], list: true).list
        }
        return rows.sorted { $0.lexicographicallyPrecedes($1) }
    }

    @Test(
        "a BPF tap gets exactly the matching frames over three link types, byte for byte with their ns timestamps; -c ends a tap at its count; the data plane's counts are the same"
    )
    func matchingFrames() throws {
        let directory = temporaryDirectory("tap")
        defer { removeTree(directory) }
        let mixed = directory + "/mixed.pcap"
        let made = run([
            "python3", fixturesDirectory + "/make_mixed.py", mixed, directory + "/expected.json", "--packets", "3000",
        ])
        try #require(made.status == 0, "make_mixed.py: \(made.stderr)")
        // Ethernet, Linux cooked (113) and raw IP (101).
        let corpus = packageRoot + "/Tests/Corpus/tcpdump/"
        let files = [mixed, corpus + "babel.pcap", corpus + "babel_rtt.pcap"]
        let filter = "udp and not port 53"
        let want = try expected(files, filter: filter, directory: directory)
        try #require(want.count > 100, "the filter should match a fair share: \(want.count)")

        let daemon = try DaemonProcess(workers: 2)
        defer { _ = daemon.stop() }
        // First a tap of every replayed frame, ended by its count.
        let counted = directory + "/ten.pcapng"
        let ten = try ChildProcess([
            executable("labyrinthctl"), "--socket", daemon.socket, "dump", "-i", "replay", "-c", "10", "-w", counted,
        ])
        // "tapping" comes after the daemon's ok: every worker has the tap.
        try #require(ten.waitForError(containing: "tapping", timeoutSeconds: 10), "\(ten.stderr)")
        var total = try replayed(daemon, mixed)["packets"]?.intValue ?? 0
        #expect(ten.wait(timeoutSeconds: 10) == 0, "\(ten.stderr)")
        #expect(ten.stderr.contains("10 packets captured, 0 dropped"), "\(ten.stderr)")
        let tenFrames = try RecordedFrames.read([counted], list: true)
        #expect(tenFrames.count == 10 && !tenFrames.truncated)
        #expect(try eventually { try daemon.ask(["command": "stats"])["taps"]?["open"]?.intValue == 0 })
        let copiedBefore = try daemon.ask(["command": "stats"])["taps"]?["copied"]?.intValue ?? -1

        // Then the filter, over the three files.
        let out = directory + "/tap.pcapng"
        let ctl = try ChildProcess([
            executable("labyrinthctl"), "--socket", daemon.socket, "dump", "-f", filter, "-w", out,
        ])
        try #require(ctl.waitForError(containing: "tapping", timeoutSeconds: 10), "\(ctl.stderr)")
        for file in files {
            let job = try replayed(daemon, file)
            #expect(job["state"]?.stringValue == "done", "\(job.text)")
            total += job["packets"]?.intValue ?? 0
        }
        // Every matching frame copied, none dropped; the stats say so.
        let allCopied = try eventually {
            try daemon.ask(["command": "stats"])["taps"]?["copied"]?.intValue == copiedBefore + want.count
        }
        #expect(allCopied, "\((try? daemon.ask(["command": "stats"]))?.text ?? "")")

        // Ctrl-C: the tap ends, what it took still comes, then statistics.
        kill(ctl.pid, SIGINT)
        #expect(ctl.wait(timeoutSeconds: 10) == 0, "\(ctl.stderr)")
        #expect(ctl.stderr.contains("\(want.count) packets captured, 0 dropped"), "\(ctl.stderr)")
        let got = try RecordedFrames.read([out], list: true)
        #expect(!got.truncated)
        #expect(got.count == want.count)
        #expect(got.list.sorted { $0.lexicographicallyPrecedes($1) } == want, "the tap's frames differ from tcpdump's")
        // One statistics block per interface (three link types), frames
        // delivered in all = the frames in the file.
        #expect(got.statistics.count == 3, "\(got.statistics)")
        #expect(got.statistics.reduce(0) { $0 + ($1["usrdeliv"]?.intValue ?? 0) } == want.count, "\(got.statistics)")
        let capinfos = run(["capinfos", "-c", out])
        #expect(capinfos.stdout.contains("Number of packets:   \(want.count)"), "\(capinfos.stdout)")

        // The data plane saw everything, as without a tap; the taps closed.
        let stats = try daemon.ask(["command": "stats"])
        #expect(stats["processed"]?.intValue == total, "\(stats.text)")
        #expect(stats["dropped"]?["nomem"]?.intValue == 0)
        #expect(stats["taps"]?["open"]?.intValue == 0, "\(stats.text)")
        #expect(stats["taps"]?["opened"]?.intValue == 2)
        #expect(stats["taps"]?["dropped"]?.intValue == 0)
        #expect(stats["taps"]?["delivered"]?.intValue == want.count + 10, "\(stats.text)")
        let metrics = try daemon.ask(["command": "prometheus"]).stringValue ?? ""
        #expect(metrics.contains("labyrinth_tap_frames_total{result=\"delivered\"} \(want.count + 10)"), "\(metrics)")
        // --duration ends a tap that matched nothing: a valid file with an
        // interface and its statistics, and nothing else.
        let empty = directory + "/empty.pcapng"
        let quiet = run([
            executable("labyrinthctl"), "--socket", daemon.socket, "dump", "-f", "tcp port 1", "--duration", "0.3",
            "-w", empty,
        ])
        #expect(quiet.status == 0, "\(quiet.stderr)")
        #expect(quiet.stderr.contains("0 packets captured, 0 dropped"), "\(quiet.stderr)")
        let nothing = try RecordedFrames.read([empty], list: true)
        #expect(nothing.count == 0 && !nothing.truncated && nothing.statistics.count == 1, "\(nothing.statistics)")
        // A clean exit (under TSan: no report).
        #expect(daemon.stop() == 0, "\(daemon.logText)")
    }

    @Test(
        "a tap client that stops reading, or goes, costs counted tap drops and nothing else; the tap limit holds; bad requests are refused by name"
    )
    func slowAndVanishedReaders() throws {
        let directory = temporaryDirectory("tap-slow")
        defer { removeTree(directory) }
        // 40 000 frames of 1 KiB, 40 MB: far more than a 256 KiB ring per
        // worker, a socket buffer and the daemon's write buffer hold.
        let big = directory + "/big.pcap"
        writeFile(big, udpCapture(count: 40_000, flows: 4096, payload: 1000))
        let daemon = try DaemonProcess(daemon: "max_taps = 2\ntap_buffer = \"256KiB\"", workers: 2, pagesPerRoom: 4096)
        defer { _ = daemon.stop() }

        func counts() throws -> (processed: Int, nomem: Int, copied: Int, dropped: Int, open: Int) {
            let s = try daemon.ask(["command": "stats"])
            return (
                s["processed"]?.intValue ?? -1, s["dropped"]?["nomem"]?.intValue ?? -1,
                s["taps"]?["copied"]?.intValue ?? -1, s["taps"]?["dropped"]?.intValue ?? -1,
                s["taps"]?["open"]?.intValue ?? -1
            )
        }

        // 1. A client that asks for a tap, reads its first line, and then
        //    never reads again.
        var stalled = try StatsClient(path: daemon.socket)
        let opened = try stalled.request(["command": "dump"])
        #expect(opened["ok"] == .bool(true), "\(opened.text)")
        #expect(try counts().open == 1)
        let one = try replayed(daemon, big)
        #expect(one["state"]?.stringValue == "done" && one["packets"]?.intValue == 40_000, "\(one.text)")
        var c = try counts()
        // The workers saw every frame; the tap dropped what did not fit.
        #expect(c.processed == 40_000 && c.nomem == 0, "\(c)")
        #expect(c.copied + c.dropped == 40_000, "\(c)")
        #expect(c.dropped > 0, "the stalled reader should have cost tap drops: \(c)")
        let workers = try daemon.ask(["command": "workers"]).arrayValue ?? []
        #expect(workers.allSatisfy { $0["state"]?.stringValue == "running" }, "\(workers)")
        #expect(
            workers.reduce(0) { $0 + ($1["tap_dropped"]?.intValue ?? 0) } == c.dropped, "\(workers)")

        // 2. The limit: a second tap opens, a third is refused by name.
        var second = try StatsClient(path: daemon.socket)
        #expect(try second.request(["command": "dump", "filter": "tcp"])["ok"] == .bool(true))
        var third = try StatsClient(path: daemon.socket)
        let refused = try third.request(["command": "dump"])
        #expect(refused["ok"] == .bool(false), "\(refused.text)")
        #expect(refused["error"]?.stringValue?.contains("daemon.max_taps") == true, "\(refused.text)")

        // 3. Both go: their taps close, and a replay afterwards costs the
        //    taps nothing.
        _ = consume stalled
        _ = consume second
        #expect(try eventually { try counts().open == 0 })
        let before = try counts()
        let two = try replayed(daemon, big)
        #expect(two["state"]?.stringValue == "done")
        c = try counts()
        #expect(c.processed == 80_000 && c.nomem == 0, "\(c)")
        #expect(c.copied == before.copied && c.dropped == before.dropped, "\(before) → \(c)")

        // 4. A client that goes in mid-stream, while frames flow.
        var leaving = try StatsClient(path: daemon.socket)
        #expect(try leaving.request(["command": "dump"])["ok"] == .bool(true))
        _ = try daemon.ask(["command": "replay", "file": .string(big)])
        #expect(try eventually { try counts().copied > before.copied })
        _ = consume leaving
        #expect(try eventually { try counts().open == 0 })
        #expect(try eventually { try counts().processed == 120_000 }, "\((try? counts()).map { "\($0)" } ?? "")")
        #expect(try counts().nomem == 0)

        // 5. Bad requests, refused by name; the slots are free again.
        for (request, words) in [
            (["command": "dump", "filter": "no such thing"] as JSON, "filter \"no such thing\""),
            (["command": "dump", "interface": "eth9"], "no source \"eth9\""),
            (["command": "dump", "count": 0], "\"count\" must be"),
        ] {
            var client = try StatsClient(path: daemon.socket)
            let reply = try client.request(request)
            #expect(reply["ok"] == .bool(false), "\(reply.text)")
            #expect(reply["error"]?.stringValue?.contains(words) == true, "\(reply.text)")
        }
        var again = try StatsClient(path: daemon.socket)
        #expect(try again.request(["command": "dump"])["ok"] == .bool(true))
        #expect(daemon.isRunning)
        // Shutdown with a tap open; a clean exit (under TSan: no report).
        #expect(daemon.stop() == 0, "\(daemon.logText)")
    }

    @Test(
        "a tap on a live source takes exactly the frames its filter matches, named by the source's interface",
        arguments: ["pcap", "tpacket", "uring"])
    func liveSource(backend: String) throws {
        let network = try TestNetwork()
        let directory = temporaryDirectory("tap-live")
        defer { removeTree(directory) }
        let file = directory + "/udp.pcap"
        writeFile(file, udpCapture(count: 1000, flows: 50))
        let filter = "udp src port 1030"
        // What tcpdump's filter takes from the sent capture: the frames'
        // bytes (the times are the capture's own, not the wire's).
        let want = try expected([file], filter: filter, directory: directory).map { Array($0.dropFirst()) }.sorted {
            $0.lexicographicallyPrecedes($1)
        }
        try #require(want.count == 20)
        let source = """
            [[source]]
            interface = "\(network.receiver)"
            backend = "\(backend)"
            immediate = true
            timeout_ms = 10
            """
        let daemon = try DaemonProcess(workers: 2, more: source, prefix: network.command([]))
        defer { _ = daemon.stop() }
        // The socket is a path: labyrinthctl reaches it from outside the namespace.
        let out = directory + "/live.pcapng"
        let ctl = try ChildProcess([
            executable("labyrinthctl"), "--socket", daemon.socket, "dump", "-i", network.receiver, "-f", filter,
            "-w", out,
        ])
        try #require(ctl.waitForError(containing: "tapping", timeoutSeconds: 10), "\(ctl.stderr)")
        #expect(network.send(file, pps: 4000).status == 0)
        // Every frame counted (the kernel's count agrees), and the tap's copied.
        let settled = try eventually(within: 20) {
            let s = try daemon.ask(["command": "stats"])
            let kernel = (s["kernel"]?["packets"]?.intValue ?? 0) - (s["kernel"]?["drops"]?.intValue ?? 0)
            return s["packets"]?.intValue == 1000 && kernel == 1000 && s["taps"]?["copied"]?.intValue == 20
        }
        #expect(settled, "\((try? daemon.ask(["command": "stats"]))?.text ?? "")")
        kill(ctl.pid, SIGINT)
        #expect(ctl.wait(timeoutSeconds: 10) == 0, "\(ctl.stderr)")
        #expect(ctl.stderr.contains("20 packets captured, 0 dropped"), "\(ctl.stderr)")
        let got = try RecordedFrames.read([out], list: true)
        #expect(!got.truncated)
        #expect(got.list.map { Array($0.dropFirst()) }.sorted { $0.lexicographicallyPrecedes($1) } == want)
        // One interface, the source's, with its statistics.
        #expect(got.statistics.count == 1, "\(got.statistics)")
        let head = String(decoding: (readFile(out) ?? []).prefix(1024), as: UTF8.self)
        #expect(head.contains(network.receiver), "the interface block should be named \(network.receiver)")
        #expect(daemon.stop() == 0, "\(daemon.logText)")
    }
}
