import Extraction
import StatsProtocol
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `labyrinthd extract` over a ring that a two-worker replay recorded:
/// every answer equals the naive one (`editcap -A -B` over the originals,
/// then `tcpdump -r` with the filter; for `--flow`, the originals' frames
/// whose IP addresses are the two hosts), frame for frame and to the
/// nanosecond, compared by dpkt as sorted lists.
@Suite("Extracting from a ring of recordings", .serialized)
struct ExtractTests {
    static let oracle = fixturesDirectory + "/extract_oracle.py"

    /// The originals (a mixed Ethernet capture with VLAN and QinQ tags, raw
    /// IP, Linux cooked), their span, and a ring recorded from them.
    struct Ring {
        let directory: String
        let ring: String
        let originals: [String]
        let start: Int64
        let end: Int64
        let at30: Int64
        let at60: Int64
    }

    /// One ring for the suite (made once: the inputs come from scapy, and
    /// the suites around run in parallel); a test that changes it copies it.
    static let shared = Result { () throws -> Ring in try makeRing("extract-ring") }

    static func makeRing(_ name: String, extraReplayArguments: [String] = []) throws -> Ring {
        let directory = temporaryDirectory(name)
        let mixed = directory + "/mixed.pcap"
        let made = run(["python3", fixturesDirectory + "/make_mixed.py", mixed, directory + "/mixed.json"])
        guard made.status == 0 else { throw TestFailure("make_mixed.py: \(made.stderr)") }
        let inputs = run(["python3", oracle, "inputs", mixed, directory])
        guard inputs.status == 0, let span = try? JSON.parse(inputs.stdout) else {
            throw TestFailure("extract_oracle.py inputs: \(inputs.stderr)")
        }
        let ring = directory + "/ring"
        mkdir(ring, 0o755)
        let originals = [mixed, directory + "/raw.pcap", directory + "/sll.pcap"]
        let r = try replay(
            ["--workers", "2", "-w", ring + "/cap.pcapng", "-C", "64KiB"] + extraReplayArguments + originals)
        guard r.status == 0 else { throw TestFailure("replay: \(r.stderr)") }
        func ns(_ key: String) -> Int64 { Int64(span[key]?.intValue ?? 0) }
        return Ring(
            directory: directory, ring: ring, originals: originals, start: ns("start"), end: ns("end"),
            at30: ns("at30"), at60: ns("at60"))
    }

    /// Runs extract with `--json`; the report is the last line of stderr.
    static func extract(_ arguments: [String]) -> (status: Int32, report: JSON?, stderr: String) {
        let r = run([executable("labyrinthd"), "extract", "--json"] + arguments, timeoutSeconds: 120)
        let last = r.stderr.split(separator: "\n").last.map(String.init) ?? ""
        return (r.status, try? JSON.parse(last), r.stderr)
    }

    static func check(_ got: String, _ arguments: [String]) throws -> JSON {
        let r = run(["python3", oracle, "check", "--got", got] + arguments)
        guard r.status == 0, let j = try? JSON.parse(r.stdout) else {
            throw TestFailure("extract_oracle.py check: \(r.stdout) \(r.stderr)")
        }
        return j
    }

    /// `ns` as RFC 3339 with nine fraction digits, at a UTC offset of whole hours.
    static func rfc3339(_ ns: Int64, offsetHours: Int) -> String {
        var t = time_t(ns / 1_000_000_000 + Int64(offsetHours) * 3600)
        var parts = tm()
        gmtime_r(&t, &parts)
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        let f = String(ns % 1_000_000_000)
        let zone = offsetHours == 0 ? "Z" : (offsetHours > 0 ? "+" : "-") + two(Int32(abs(offsetHours))) + ":00"
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):"
            + "\(two(parts.tm_min)):\(two(parts.tm_sec)).\(String(repeating: "0", count: 9 - f.count))\(f)\(zone)"
    }

    static func seconds(_ ns: Int64) -> String {
        let s = String(ns % 1_000_000_000)
        return "\(ns / 1_000_000_000).\(String(repeating: "0", count: 9 - s.count))\(s)"
    }

    @Test("windows, flows, hosts and protocols across files, workers and link types equal the naive answer")
    func equalsNaiveAnswer() throws {
        let ring = try Self.shared.get()
        let files = listFiles(ring.ring, prefix: "cap.")
        #expect(files.count >= 6, "\(files)")
        for f in files {
            let sidecar = ring.ring + "/." + (f.split(separator: "/").last.map(String.init) ?? "") + ".idx"
            #expect(fileSize(sidecar) > 0, "\(f) has no index")
        }
        let originals = ["--originals", ring.originals.joined(separator: ",")]
        // RFC 3339 for one bound, epoch seconds for the other: the same instants.
        let from30 = Self.seconds(ring.at30)
        let to60 = Self.seconds(ring.at60)
        struct Case {
            var name: String
            var extract: [String]
            var oracle: [String]
        }
        let cases: [Case] = [
            Case(name: "the whole ring", extract: [], oracle: []),
            Case(
                name: "a window from a frame's own timestamp",
                extract: ["--from", from30, "--to", to60],
                oracle: ["--from", String(ring.at30), "--to", String(ring.at60)]),
            Case(
                name: "one IPv4 host pair", extract: ["--flow", "10.0.0.1 10.0.0.2"],
                oracle: ["--flow", "10.0.0.1 10.0.0.2"]),
            Case(
                name: "one IPv4 pair's TCP in a window",
                extract: ["--flow", "10.0.0.2 10.0.0.1 tcp", "--from", from30, "--to", to60],
                oracle: ["--flow", "10.0.0.2 10.0.0.1 tcp", "--from", String(ring.at30), "--to", String(ring.at60)]),
            Case(
                name: "one IPv6 host pair", extract: ["--flow", "2001:db8::1 2001:db8::3"],
                oracle: ["--flow", "2001:db8::1 2001:db8::3"]),
            Case(
                name: "one host (BPF) in a window", extract: ["-f", "host 10.0.0.3", "--from", from30],
                oracle: ["--filter", "host 10.0.0.3", "--from", String(ring.at30)]),
            Case(name: "a protocol (BPF)", extract: ["-f", "icmp or icmp6"], oracle: ["--filter", "icmp or icmp6"]),
            Case(name: "VLAN-tagged frames (BPF)", extract: ["-f", "vlan"], oracle: ["--filter", "vlan"]),
            Case(
                name: "an empty window inside the ring",
                extract: ["--from", Self.seconds(ring.at30 + 1), "--to", Self.seconds(ring.at30 + 2)],
                oracle: ["--from", String(ring.at30 + 1), "--to", String(ring.at30 + 2)]),
        ]
        for c in cases {
            let out = ring.directory + "/out.pcapng"
            let e = Self.extract(["--dir", ring.ring, "-w", out] + c.extract)
            #expect(e.status == 0, "\(c.name): \(e.stderr)")
            let verdict = try Self.check(out, originals + c.oracle)
            #expect(verdict["equal"] == .bool(true), "\(c.name): \(verdict.text)")
            #expect(e.report?["frames_matched"]?.intValue == verdict["expected"]?.intValue, "\(c.name)")
            #expect(e.report?["scanned"]?.arrayValue?.isEmpty == true, "\(c.name): \(e.stderr)")
            // capinfos reads what it wrote.
            #expect(run(["capinfos", "-c", out]).status == 0, "\(c.name)")
        }
        // A narrow question reads a part of the ring: a window and a pair.
        let narrow = Self.extract([
            "--dir", ring.ring, "-w", ring.directory + "/narrow.pcapng", "--flow", "10.0.0.1 10.0.0.2 udp",
            "--from", from30, "--to", Self.seconds(ring.at30 + 200_000_000),
        ])
        let read = narrow.report?["bytes_read"]?.intValue ?? -1
        let total = narrow.report?["bytes_total"]?.intValue ?? -1
        #expect(read >= 0 && read < total, "read \(read) of \(total) bytes")
        #expect((narrow.report?["files_skipped"]?.intValue ?? 0) > 0, "\(narrow.stderr)")
        // RFC 3339 means the same instant as the epoch seconds.
        let rfc = Self.extract([
            "--dir", ring.ring, "-w", ring.directory + "/rfc.pcapng", "--from", Self.rfc3339(ring.at30, offsetHours: 0),
            "--to", Self.rfc3339(ring.at60, offsetHours: 1),
        ])
        #expect(rfc.status == 0, "\(rfc.stderr)")
        let byRFC = try Self.check(
            ring.directory + "/rfc.pcapng", originals + ["--from", String(ring.at30), "--to", String(ring.at60)])
        #expect(byRFC["equal"] == .bool(true), "\(byRFC.text)")
        // pcap: one link type only.
        let vlan = ring.directory + "/vlan.pcap"
        let p = Self.extract(["--dir", ring.ring, "-w", vlan, "--format", "pcap", "-f", "vlan"])
        #expect(p.status == 0, "\(p.stderr)")
        #expect(try Self.check(vlan, originals + ["--filter", "vlan"])["equal"] == .bool(true))
        let mixedTypes = Self.extract([
            "--dir", ring.ring, "-w", ring.directory + "/x.pcap", "--format", "pcap", "--flow", "10.0.0.1 10.0.0.2",
        ])
        #expect(mixedTypes.status == 1 && mixedTypes.stderr.contains("a pcap file holds one"), "\(mixedTypes.stderr)")
        // --read-rate bounds the reads: the ring (and its indexes) at 512 KiB/s takes at least its size over that.
        let slow = Self.extract(["--dir", ring.ring, "-w", ring.directory + "/slow.pcapng", "--read-rate", "512KiB"])
        let bytes = (slow.report?["bytes_read"]?.intValue ?? 0) + (slow.report?["index_bytes"]?.intValue ?? 0)
        let took = slow.report?["seconds"]?.doubleValue ?? 0
        #expect(bytes > 0 && took >= Double(bytes) / Double(512 << 10) * 0.99, "\(bytes) bytes in \(took) s")
    }

    @Test("errors: no recordings, a window outside the ring, a bad filter, flow or time")
    func errors() throws {
        let ring = try Self.shared.get()
        let empty = temporaryDirectory("extract-empty")
        defer { rmdir(empty) }
        let none = Self.extract(["--dir", empty, "-w", ring.directory + "/o.pcapng"])
        #expect(none.status == 1 && none.stderr.contains("no recordings"), "\(none.stderr)")
        let outside = Self.extract([
            "--dir", ring.ring, "-w", ring.directory + "/o.pcapng", "--from", Self.seconds(ring.end + 10_000_000_000),
        ])
        #expect(outside.status == 1 && outside.stderr.contains("nothing was recorded"), "\(outside.stderr)")
        #expect(outside.stderr.contains("spans \(Self.rfc3339(ring.start, offsetHours: 0))"), "\(outside.stderr)")
        let filter = Self.extract(["--dir", ring.ring, "-w", ring.directory + "/o.pcapng", "-f", "hots 10.0.0.1"])
        #expect(filter.status == 64 && filter.stderr.contains("hots 10.0.0.1"), "\(filter.stderr)")
        let flow = Self.extract(["--dir", ring.ring, "-w", ring.directory + "/o.pcapng", "--flow", "10.0.0.1"])
        #expect(flow.status == 64 && flow.stderr.contains("two hosts"), "\(flow.stderr)")
        let time = Self.extract(["--dir", ring.ring, "-w", ring.directory + "/o.pcapng", "--from", "yesterday"])
        #expect(time.status == 64 && time.stderr.contains("not a time"), "\(time.stderr)")
    }

    @Test("a damaged file in the middle of the ring is reported and skipped from the damage on; the rest is answered")
    func damagedFile() throws {
        let shared = try Self.shared.get()
        let copy = temporaryDirectory("extract-damaged")
        defer { removeAll(copy) }
        #expect(run(["cp", "-a", shared.ring, copy + "/ring"]).status == 0)
        let ring = Ring(
            directory: copy, ring: copy + "/ring", originals: shared.originals, start: shared.start, end: shared.end,
            at30: shared.at30, at60: shared.at60)
        let files = listFiles(ring.ring, prefix: "cap.")
        let victim = try #require(files.first { $0.hasSuffix("w0.2.pcapng") }, "\(files)")
        let d = run(["python3", Self.oracle, "damage", victim])
        #expect(d.status == 0, "\(d.stderr)")
        let out = ring.directory + "/out.pcapng"
        let e = Self.extract(["--dir", ring.ring, "-w", out])
        #expect(e.status == 0, "\(e.stderr)")
        let damaged = e.report?["damaged"]?.arrayValue?.compactMap(\.stringValue) ?? []
        #expect(damaged.count == 1 && damaged.first?.contains(victim) == true, "\(e.stderr)")
        // dpkt stops at the same block: the answer is every whole frame before it, and every other file.
        let verdict = try Self.check(out, ["--only", files.joined(separator: ",")])
        #expect(verdict["equal"] == .bool(true), "\(verdict.text)")
        // And with a window and a filter, as well.
        let w = Self.extract(["--dir", ring.ring, "-w", out, "-f", "udp", "--from", Self.seconds(ring.at30)])
        #expect(w.status == 0, "\(w.stderr)")
    }

    /// A copy of the shared ring in a new directory: new inodes, so every
    /// index is stale.
    static func copyOfRing(_ name: String) throws -> Ring {
        let shared = try Self.shared.get()
        let copy = temporaryDirectory(name)
        #expect(run(["cp", "-r", shared.ring, copy + "/ring"]).status == 0)
        return Ring(
            directory: copy, ring: copy + "/ring", originals: shared.originals, start: shared.start, end: shared.end,
            at30: shared.at30, at60: shared.at60)
    }

    @Test("--read-rate bounds every byte read: files scanned for a stale index are read no faster than the bound")
    func readRateBoundsScans() throws {
        let ring = try Self.copyOfRing("extract-rate")
        defer { removeAll(ring.directory) }
        let files = listFiles(ring.ring, prefix: "cap.")
        let bytes = files.reduce(0) { $0 + fileSize($1) }
        #expect(bytes > 100_000, "\(files)")
        // The whole ring at a rate that reads it in 2 s.
        let rate = bytes / 2
        let started = monotonicSeconds()
        let e = Self.extract(["--dir", ring.ring, "-w", "/dev/null", "--read-rate", "\(rate)"])
        let took = monotonicSeconds() - started
        #expect(e.status == 0, "\(e.stderr)")
        let scanned = e.report?["scanned"]?.arrayValue?.count ?? 0
        #expect(scanned == files.count, "every index is stale: \(e.stderr)")
        let read = e.report?["bytes_read"]?.intValue ?? 0
        #expect(read >= bytes, "\(e.stderr)")
        #expect(took >= Double(read) / Double(rate) * 0.9, "\(read) bytes at \(rate) B/s took \(took) s")
    }

    @Test("an index whose stretch is shifted (its checksum redone) costs a scan, never the recording")
    func shiftedStretch() throws {
        let ring = try Self.copyOfRing("extract-shifted")
        defer { removeAll(ring.directory) }
        let files = listFiles(ring.ring, prefix: "cap.")
        // Fresh indexes for the copies, then the first one's first stretch moved by 7 bytes.
        #expect(run([executable("labyrinthd"), "index"] + files).status == 0)
        let victim = try #require(files.first)
        let sidecar = RecordingIndex.sidecarPath(for: victim)
        var index = try RecordingIndex.decode(try #require(readFile(sidecar))).get()
        index.stretches[0].offset += 7
        writeFile(sidecar, index.encoded())
        // The mtime the index records is the recording's: unchanged.
        let out = ring.directory + "/out.pcapng"
        let e = Self.extract(["--dir", ring.ring, "-w", out])
        #expect(e.status == 0, "\(e.stderr)")
        let scanned = e.report?["scanned"]?.arrayValue?.compactMap(\.stringValue) ?? []
        #expect(
            scanned.count == 1 && scanned[0].contains(victim) && scanned[0].contains("does not start on a block"),
            "\(e.stderr)")
        #expect(e.report?["damaged"]?.arrayValue?.isEmpty == true, "\(e.stderr)")
        let verdict = try Self.check(out, ["--only", files.joined(separator: ",")])
        #expect(verdict["equal"] == .bool(true), "\(verdict.text)")
    }

    @Test("SIGKILL mid-recording: the files without an index are scanned, said so, and the answer is exact")
    func indexLoss() throws {
        let directory = temporaryDirectory("extract-kill")
        defer { removeAll(directory) }
        let mixed = try Self.shared.get().originals[0]
        let ring = directory + "/ring"
        mkdir(ring, 0o755)
        let replay = try BackgroundProcess([
            executable("labyrinthd"), "replay", "--lock", "off", "--workers", "2", "--pps", "500", "--flush-ms", "50",
            "-w", ring + "/cap.pcapng", "-C", "16KiB", mixed,
        ])
        // Killed once several files are finished and indexed.
        let started = eventually(within: 60) {
            listFiles(ring, prefix: ".cap.").filter { $0.hasSuffix(".idx") }.count >= 4
        }
        replay.stop()
        #expect(started, "\(replay.outputText)")
        let files = listFiles(ring, prefix: "cap.")
        let out = directory + "/out.pcapng"
        let e = Self.extract(["--dir", ring, "-w", out])
        #expect(e.status == 0, "\(e.stderr)")
        let scanned = e.report?["scanned"]?.arrayValue?.compactMap(\.stringValue) ?? []
        #expect(!scanned.isEmpty && scanned.allSatisfy { $0.contains("no index") }, "\(e.stderr)")
        let verdict = try Self.check(out, ["--only", files.joined(separator: ",")])
        #expect(verdict["equal"] == .bool(true), "\(verdict.text)")
        #expect((verdict["expected"]?.intValue ?? 0) > 0)
        // labyrinthd index builds the missing indexes; the same answer then comes without a scan.
        let unindexed = files.filter {
            fileSize(ring + "/." + ($0.split(separator: "/").last.map(String.init) ?? "") + ".idx") < 0
        }
        #expect(!unindexed.isEmpty)
        // A window after every frame is outside the ring, scanned files and all.
        let after = Self.extract([
            "--dir", ring, "-w", out, "--from", Self.seconds(try Self.shared.get().end + 3_600_000_000_000),
        ])
        #expect(after.status == 1 && after.stderr.contains("nothing was recorded"), "\(after.stderr)")
        let indexed = run([executable("labyrinthd"), "index"] + unindexed)
        #expect(indexed.status == 0, "\(indexed.stderr)")
        let again = Self.extract(["--dir", ring, "-w", out])
        #expect(again.status == 0 && again.report?["scanned"]?.arrayValue?.isEmpty == true, "\(again.stderr)")
        #expect(try Self.check(out, ["--only", files.joined(separator: ",")])["equal"] == .bool(true))
    }
}

extension ExtractTests {
    @Test(
        "labyrinthctl extract asks the running daemon: the same answer over its [[sink]] ring, streamed; the daemon logs the report"
    )
    func daemonForm() throws {
        let ring = try Self.shared.get()
        let directory = temporaryDirectory("extract-daemon")
        defer { removeAll(directory) }
        let live = directory + "/live"
        mkdir(live, 0o755)
        let daemon = try DaemonProcess(
            workers: 2,
            more:
                "\n[[sink]]\npath = \"\(live)/cap.pcapng\"\ngroup = \"\"\nflush_ms = 50\nrotate_size = \"64KiB\"\nextract_read_rate = \"4MiB\""
        )
        defer { _ = daemon.stop() }
        var frames = 0
        for file in ring.originals {
            let job = try daemon.ask(["command": "replay", "file": .string(file)])
            let id = try #require(job["job"]?.intValue, "\(job.text)")
            #expect(
                try eventually(within: 60) {
                    try daemon.ask(["command": "replay", "job": .int(id)])["state"]?.stringValue == "done"
                })
            frames +=
                run(["capinfos", "-c", "-M", file]).stdout.split(whereSeparator: { $0 == " " || $0 == "\n" })
                .compactMap { Int($0) }.last ?? 0
        }
        #expect(frames > 0)
        let written = try eventually(within: 30) {
            try daemon.ask(["command": "stats"])["recording"]?["written"]?.intValue == frames
        }
        #expect(written)
        let out = directory + "/daemon.pcapng"
        let asked = run(
            [
                executable("labyrinthctl"), "--socket", daemon.socket, "extract", "--flow", "10.0.0.1 10.0.0.2",
                "--from",
                Self.seconds(ring.at30), "-w", out,
            ], timeoutSeconds: 120)
        #expect(asked.status == 0, "\(asked.stderr)")
        let verdict = try Self.check(
            out,
            [
                "--originals", ring.originals.joined(separator: ","), "--flow", "10.0.0.1 10.0.0.2", "--from",
                String(ring.at30),
            ])
        #expect(verdict["equal"] == .bool(true), "\(verdict.text)")
        #expect((verdict["expected"]?.intValue ?? 0) > 0)
        // The report reaches the daemon's log.
        #expect(eventually(within: 10) { daemon.logText.contains("extract: {") }, "\(daemon.logText)")
        // Errors are replies, before any stream: a bad filter, a bad time.
        var client = try StatsClient(path: daemon.socket)
        let bad = try client.request(["command": "extract", "filter": "hots 1"])
        #expect(bad["ok"] == .bool(false), "\(bad.text)")
        let badTime = try client.request(["command": "extract", "from": "noon"])
        #expect(badTime["error"]?.stringValue?.contains("not a time") == true, "\(badTime.text)")
        // A negative time is a time, never an option of the child; the
        // child's failure (a window before every frame) is the reply, not
        // an empty stream.
        let negative = run(
            [
                executable("labyrinthctl"), "--socket", daemon.socket, "extract", "--from=-5", "--to=-1", "-w",
                directory + "/negative.pcapng",
            ], timeoutSeconds: 60)
        #expect(negative.status != 0, "\(negative.stderr)")
        #expect(negative.stderr.contains("nothing was recorded"), "\(negative.stderr)")
        #expect(!negative.stderr.contains("bytes received"), "\(negative.stderr)")
    }

    @Test(
        "the daemon's extract child runs idle, every thread of it: SCHED_IDLE and the idle I/O class; no filter in ps")
    func extractChildIsIdle() throws {
        let directory = temporaryDirectory("extract-idle")
        defer { removeAll(directory) }
        let live = directory + "/live"
        mkdir(live, 0o755)
        // One byte a second: the child is still reading when it is looked at.
        let daemon = try DaemonProcess(
            workers: 1,
            more: "\n[[sink]]\npath = \"\(live)/cap.pcapng\"\ngroup = \"\"\nflush_ms = 50\nextract_read_rate = 1")
        defer { _ = daemon.stop() }
        let job = try daemon.ask(["command": "replay", "file": .string(packageRoot + "/captures/loopback.pcap")])
        let id = try #require(job["job"]?.intValue, "\(job.text)")
        #expect(
            try eventually(within: 60) {
                try daemon.ask(["command": "replay", "job": .int(id)])["state"]?.stringValue == "done"
            })
        let client = try BackgroundProcess([
            executable("labyrinthctl"), "--socket", daemon.socket, "extract", "-f", "udp and port 4242", "-w",
            directory + "/out.pcapng",
        ])
        defer { client.stop() }
        var child: pid_t = 0
        #expect(
            eventually(within: 20) {
                child = childProcesses(of: daemon.pid).first { commandLine(of: $0).contains("extract") } ?? 0
                return child > 0
            }, "no extract child of \(daemon.pid)")
        let cmdline = commandLine(of: child)
        #expect(!cmdline.contains("port 4242"), "the filter is on the command line: \(cmdline)")
        // Its threads: the main one, and those the Swift runtime starts once
        // the (idle, so perhaps slow to get a CPU) child runs.
        var threads: [Int32] = []
        #expect(
            eventually(within: 60) {
                threads = listFiles("/proc/\(child)/task").compactMap { Int32($0.split(separator: "/").last ?? "") }
                return threads.count >= 2
            }, "\(threads)")
        for tid in threads {
            let policy = run(["chrt", "-p", "\(tid)"])
            #expect(policy.stdout.contains("SCHED_IDLE"), "thread \(tid): \(policy.stdout)")
            let io = run(["ionice", "-p", "\(tid)"])
            #expect(io.stdout.contains("idle"), "thread \(tid): \(io.stdout)")
        }
        client.stop()
        #expect(eventually(within: 10) { kill(child, 0) != 0 }, "the child outlived its client")
    }
}

/// Removes a directory tree of plain files (two levels).
func removeAll(_ directory: String) {
    for f in listFiles(directory) {
        var st = stat()
        if stat(f, &st) == 0, st.st_mode & S_IFMT == S_IFDIR { removeTree(f) } else { unlink(f) }
    }
    rmdir(directory)
}
