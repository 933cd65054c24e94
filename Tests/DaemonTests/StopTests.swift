import StatsProtocol
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A stop that always stops: SIGTERM during the replay jobs that used to
/// hold the daemon until systemd's SIGKILL, the `cancel` command, and the
/// pacer's maximum gap. Each stop must end with exit 0, finished recording
/// files (no `.part`) that capinfos reads, and the leak check run.
@Suite("Stopping during long replays", .serialized)
struct StopTests {
    /// A recording directory and the `[[sink]]` lines for it (a floor of
    /// 1 MiB: the tests must not depend on the CI disk's free space).
    func sink(_ directory: String) -> String {
        "\n[[sink]]\npath = \"\(directory)/rec.pcapng\"\ngroup = \"\"\nmin_free = \"1MiB\"\nflush_ms = 50"
    }

    /// SIGTERM, then the exit status and the seconds it took.
    func terminate(_ daemon: DaemonProcess) -> (status: Int32, seconds: Double) {
        let start = monotonicSeconds()
        let status = daemon.stop(timeoutSeconds: 60)
        return (status, monotonicSeconds() - start)
    }

    /// Every file the recording left: none hidden (`.part`) but the indexes
    /// (`.NAME.idx`), one for each, each file read by capinfos; the packets
    /// in them all.
    func finishedFiles(in directory: String) -> (files: [String], packets: Int, problems: [String]) {
        var files: [String] = []
        var problems: [String] = []
        var packets = 0
        var indexes: [String] = []
        if let dir = opendir(directory) {
            while let entry = readdir(dir) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) {
                    String(cString: $0.bindMemory(to: CChar.self).baseAddress!)
                }
                if name == "." || name == ".." { continue }
                if name.hasPrefix(".") && name.hasSuffix(".idx") && !name.hasSuffix(".part") {
                    indexes.append(name)
                    continue
                }
                if name.hasSuffix(".part") || name.hasPrefix(".") {
                    problems.append("left behind: \(name)")
                    continue
                }
                files.append(directory + "/" + name)
            }
            closedir(dir)
        }
        let names = Set(files.map { "." + ($0.split(separator: "/").last.map(String.init) ?? "") + ".idx" })
        for i in indexes where !names.contains(i) { problems.append("an index without its file: \(i)") }
        for n in names where !indexes.contains(n) { problems.append("a file without its index: \(n)") }
        for file in files.sorted() {
            let capinfos = run(["capinfos", "-c", "-M", file])
            if capinfos.status != 0 { problems.append("capinfos \(file): \(capinfos.stderr)") }
            let line = capinfos.stdout.split(separator: "\n").first { $0.contains("Number of packets") }
            packets += line.flatMap { Int($0.split(separator: " ").last ?? "") } ?? 0
        }
        return (files, packets, problems)
    }

    func removeAll(in directory: String) {
        if let dir = opendir(directory) {
            var names: [String] = []
            while let entry = readdir(dir) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) {
                    String(cString: $0.bindMemory(to: CChar.self).baseAddress!)
                }
                if name != "." && name != ".." { names.append(name) }
            }
            closedir(dir)
            for name in names { unlink(directory + "/" + name) }
        }
        rmdir(directory)
    }

    /// The number the log's "recording" line gives for `key`.
    func logged(_ key: String, in log: String) -> Int? {
        guard let line = log.split(separator: "\n").last(where: { $0.contains("recording") && $0.contains("written=") })
        else { return nil }
        for field in line.split(separator: " ") where field.hasPrefix(key + "=") {
            return Int(field.dropFirst(key.count + 1))
        }
        return nil
    }

    @Test("SIGTERM during a replay paced at 1 kbit/s: exit 0 at once, the job cancelled, the files finished")
    func pacedJob() throws {
        let recordings = temporaryDirectory("stop-paced")
        defer { removeAll(in: recordings) }
        let daemon = try DaemonProcess(workers: 2, more: sink(recordings))
        let job = try daemon.ask([
            "command": "replay", "file": .string(packageRoot + "/captures/loopback.pcap"), "mbps": 0.001,
        ])
        let id = try #require(job["job"]?.intValue)
        // Under way: the first frames went, the rest wait out their gaps.
        #expect(
            try eventually(within: 20) {
                try daemon.ask(["command": "replay", "job": .int(id)])["packets"]?.intValue ?? 0 >= 2
            })
        let (status, seconds) = terminate(daemon)
        #expect(status == 0, "\(daemon.logText)")
        #expect(seconds < 10, "the stop took \(seconds) s")
        let log = daemon.logText
        #expect(log.contains("replay job \(id) cancelled (running)"), "\(log)")
        #expect(log.contains("leak check passed"), "\(log)")
        let (files, packets, problems) = finishedFiles(in: recordings)
        #expect(problems.isEmpty, "\(problems)")
        #expect(!files.isEmpty)
        #expect(packets >= 2)
        #expect(packets == logged("written", in: log), "\(log)")
    }

    @Test(
        "timestamps 0 and 0xFFFFFFFF at original speed: cut to replay.max_gap by default; without it, SIGTERM still stops"
    )
    func absurdGap() throws {
        let directory = temporaryDirectory("stop-gap")
        let file = directory + "/gap.pcap"
        var writer = PcapWriter()
        writer.record(Frames.udp4(src: [10, 0, 0, 1], sport: 1000, payload: 18), seconds: 0)
        writer.record(Frames.udp4(src: [10, 0, 0, 1], sport: 1000, payload: 18), seconds: 0xFFFF_FFFF)
        writeFile(file, writer.bytes)
        defer {
            unlink(file)
            rmdir(directory)
        }
        // The default maximum gap, 1 s: the job is done in about a second,
        // and says it cut one gap.
        do {
            let daemon = try DaemonProcess(more: "[replay]\nspeed = \"original\"")
            defer { #expect(daemon.stop() == 0) }
            let start = monotonicSeconds()
            let done = try waitForJob(daemon, try daemon.ask(["command": "replay", "file": .string(file)]))
            #expect(done["state"]?.stringValue == "done", "\(done.text)")
            #expect(done["packets"]?.intValue == 2)
            #expect(done["gaps_cut"]?.intValue == 1, "\(done.text)")
            #expect(monotonicSeconds() - start < 10)
        }
        // No maximum: the job would wait 136 years for its second frame;
        // SIGTERM cancels it and the daemon stops as usual.
        let recordings = temporaryDirectory("stop-gap-rec")
        defer { removeAll(in: recordings) }
        let daemon = try DaemonProcess(more: "[replay]\nspeed = \"original\"\nmax_gap = 0" + sink(recordings))
        let job = try daemon.ask(["command": "replay", "file": .string(file)])
        let id = try #require(job["job"]?.intValue)
        #expect(
            try eventually(within: 20) {
                try daemon.ask(["command": "replay", "job": .int(id)])["packets"]?.intValue == 1
            })
        #expect(try daemon.ask(["command": "replay", "job": .int(id)])["state"]?.stringValue == "running")
        let (status, seconds) = terminate(daemon)
        #expect(status == 0, "\(daemon.logText)")
        #expect(seconds < 10, "the stop took \(seconds) s")
        #expect(daemon.logText.contains("replay job \(id) cancelled (running)"))
        #expect(daemon.logText.contains("leak check passed"))
        let (_, packets, problems) = finishedFiles(in: recordings)
        #expect(problems.isEmpty, "\(problems)")
        #expect(packets == 1)
    }

    @Test("a 1 TiB sparse file at maximum speed, recorded: empty records counted malformed; SIGTERM stops it all")
    func sparseFile() throws {
        let directory = temporaryDirectory("stop-sparse")
        let file = directory + "/sparse.pcap"
        writeFile(file, PcapWriter().bytes)
        #expect(truncate(file, 1 << 40) == 0)
        defer {
            unlink(file)
            rmdir(directory)
        }
        let recordings = temporaryDirectory("stop-sparse-rec")
        defer { removeAll(in: recordings) }
        let daemon = try DaemonProcess(workers: 2, pagesPerRoom: 4096, more: sink(recordings))
        let job = try daemon.ask(["command": "replay", "file": .string(file)])
        let id = try #require(job["job"]?.intValue)
        var stats = JSON.null
        #expect(
            try eventually(within: 60) {
                stats = try daemon.ask(["command": "stats"])
                return (stats["recording"]?["written"]?.intValue ?? 0) >= 200_000
            })
        // Every record of zeros has caplen 0: malformed, as empty.
        let empty = stats["malformed"]?["empty_record"]?.intValue ?? 0
        #expect(empty > 0, "\(stats.text)")
        #expect(empty == stats["malformed"]?["total"]?.intValue || stats["malformed"]?["total"] == nil)
        let (status, seconds) = terminate(daemon)
        #expect(status == 0, "\(daemon.logText)")
        #expect(seconds < 15, "the stop took \(seconds) s")
        let log = daemon.logText
        #expect(log.contains("replay job \(id) cancelled (running)"))
        #expect(log.contains("leak check passed"))
        let (files, packets, problems) = finishedFiles(in: recordings)
        #expect(problems.isEmpty, "\(problems)")
        #expect(files.count == 2)
        #expect(packets == logged("written", in: log), "\(log)")
        #expect(packets >= 200_000)
    }

    @Test(
        "cancel: a queued job never runs, a running one stops; labyrinthctl replay --cancel; the socket group may not")
    func cancelCommand() throws {
        let daemon = try DaemonProcess(
            daemon: "socket_group = \"4242\"", more: "[replay]\nmax_gap = 0")
        chmod(daemon.directory, 0o755)
        defer { #expect(daemon.stop() == 0) }
        let capture = packageRoot + "/captures/loopback.pcap"
        let first = try daemon.ask(["command": "replay", "file": .string(capture), "mbps": 0.001])
        let second = try daemon.ask(["command": "replay", "file": .string(capture)])
        let (a, b) = (try #require(first["job"]?.intValue), try #require(second["job"]?.intValue))
        #expect(
            try eventually(within: 20) {
                try daemon.ask(["command": "replay", "job": .int(a)])["state"]?.stringValue == "running"
            })
        // The reader may not cancel.
        let refused = askAs(
            ["--reuid=65534", "--regid=65534", "--groups=4242"], daemon.socket,
            request: #"{"command":"cancel","job":\#(b)}"#)
        #expect(refused.stdout.contains("\"cancel\\\" needs root"), "\(refused.stdout)")
        // The queued one: cancelled at once, never run.
        let queued = try daemon.ask(["command": "cancel", "job": .int(b)])
        #expect(queued["state"]?.stringValue == "cancelled", "\(queued.text)")
        #expect(queued["cancelled_by"]?.stringValue == "a client's cancel")
        // The running one, through labyrinthctl: it follows the job until
        // it has stopped.
        let ctl = run([executable("labyrinthctl"), "--socket", daemon.socket, "--json", "replay", "--cancel", "\(a)"])
        #expect(ctl.status == 0, "\(ctl.stderr)")
        let cancelled = try JSON.parse(ctl.stdout)
        #expect(cancelled["state"]?.stringValue == "cancelled", "\(ctl.stdout)")
        let packets = try #require(cancelled["packets"]?.intValue)
        #expect(packets >= 1 && packets < 837)
        // Nothing of job b was read, and the reader is free for the next.
        let b2 = try daemon.ask(["command": "replay", "job": .int(b)])
        #expect(b2["packets"] == nil || b2["packets"]?.intValue == 0, "\(b2.text)")
        let next = try waitForJob(daemon, try daemon.ask(["command": "replay", "file": .string(capture)]))
        #expect(next["state"]?.stringValue == "done")
        #expect(next["packets"]?.intValue == 837)
        let stats = try daemon.ask(["command": "stats"])
        #expect(stats["replay"]?["cancelled"]?.intValue == 2, "\(stats.text)")
        // A job that is over is shown as it was.
        let again = try daemon.ask(["command": "cancel", "job": .int(try #require(next["job"]?.intValue))])
        #expect(again["state"]?.stringValue == "done")
        let none = run([executable("labyrinthctl"), "--socket", daemon.socket, "replay", "--cancel", "999"])
        #expect(none.status == 1)
        #expect(none.stderr.contains("no replay job 999"), "\(none.stderr)")
    }
}
