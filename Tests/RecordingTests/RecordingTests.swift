import StatsProtocol
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// What an independent reader (dpkt, through Tests/Fixtures/frames.py) finds
/// in capture files: the frames, their exact ns timestamps and a digest.
struct RecordedFrames: Equatable {
    static func == (a: RecordedFrames, b: RecordedFrames) -> Bool {
        a.count == b.count && a.digest == b.digest && a.truncated == b.truncated && a.list == b.list
    }

    var count: Int
    var digest: String
    var truncated: Bool
    var list: [[String]] = []
    /// The Interface Statistics Blocks: isb_ifrecv, isb_ifdrop, isb_osdrop, isb_usrdeliv.
    var statistics: [JSON] = []

    static func read(
        _ files: [String], linkTypes: [Int]? = nil, maxCaplen: Int? = nil, asDelivered: Bool = false,
        list: Bool = false
    ) throws
        -> RecordedFrames
    {
        var args = ["python3", fixturesDirectory + "/frames.py"] + files
        if let linkTypes { args += ["--linktypes", linkTypes.map(String.init).joined(separator: ",")] }
        if let maxCaplen { args += ["--max-caplen", String(maxCaplen)] }
        if asDelivered { args.append("--as-delivered") }
        if list { args.append("--list") }
        let r = run(args)
        guard r.status == 0 else { throw TestNetwork.SetupError("frames.py: \(r.stderr)") }
        let j = try JSON.parse(r.stdout)
        let frames = (j["frames"]?.arrayValue ?? []).map { ($0.arrayValue ?? []).map { $0.text } }
        return RecordedFrames(
            count: j["count"]?.intValue ?? -1, digest: j["digest"]?.stringValue ?? "",
            truncated: j["truncated"] == .bool(true), list: frames, statistics: j["statistics"]?.arrayValue ?? [])
    }
}

/// Runs `labyrinthd replay` and returns the exit status, the JSON report and stderr.
func replay(_ arguments: [String]) throws -> (status: Int32, report: JSON?, stderr: String) {
    let r = run([executable("labyrinthd"), "replay", "--lock", "off", "--json"] + arguments, timeoutSeconds: 300)
    return (r.status, try? JSON.parse(r.stdout), r.stderr)
}

/// The files in `directory` whose names start with `prefix`, sorted.
func listFiles(_ directory: String, prefix: String = "") -> [String] {
    guard let d = opendir(directory) else { return [] }
    defer { closedir(d) }
    var out: [String] = []
    while let e = readdir(d) {
        let name = withUnsafeBytes(of: e.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        if name != "." && name != ".." && name.hasPrefix(prefix) { out.append(directory + "/" + name) }
    }
    return out.sorted()
}

func fileSize(_ path: String) -> Int {
    var st = stat()
    return stat(path, &st) == 0 ? Int(st.st_size) : -1
}

func removeTree(_ directory: String) {
    for f in listFiles(directory) { unlink(f) }
    rmdir(directory)
}

/// Replay's `-w`: the frames come out exactly as they went in, every count
/// agrees with independent readers, rotation keeps its bounds and the ring
/// its size, and faults cost counted frames, never a torn file.
@Suite("Recording a replay", .serialized)
struct RecordingTests {
    /// The link types the decoder knows, which a replay dispatches (and so records).
    static let supported = [0, 1, 12, 14, 101, 108, 113, 228, 229, 276]

    /// Checks the counts of a report: every processed frame written or
    /// counted unwritten, and the written ones in the files.
    func checkAccounting(_ report: JSON, files: [String]) throws {
        let recording = try #require(report["recording"], "no recording section: \(report.text)")
        let written = recording["written"]?.intValue ?? -1
        let unwritten = recording["unwritten"]
        let lost = ["overload", "disk_full", "error", "oversized", "linktype"].reduce(0) {
            $0 + (unwritten?[$1]?.intValue ?? 0)
        }
        #expect(report["processed"]?.intValue == written + lost, "\(recording.text)")
        let frames = try RecordedFrames.read(files)
        #expect(frames.count == written, "\(files)")
        #expect(!frames.truncated)
    }

    @Test("a replay to pcapng and to pcap gives back every frame, byte for byte, to the nanosecond")
    func roundTrip() throws {
        let directory = temporaryDirectory("rec-roundtrip")
        defer { removeTree(directory) }
        // The scapy mixed capture, and every corpus file libpcap reads whole,
        // replayed in one run each way (with one worker the output keeps
        // the input's order, file after file).
        let mixed = directory + "/mixed.pcap"
        let made = run([
            "python3", fixturesDirectory + "/make_mixed.py", mixed, directory + "/expected.json", "--packets", "2000",
        ])
        try #require(made.status == 0, "make_mixed.py: \(made.stderr)")
        var inputs = [mixed]
        for file in corpusFiles() {
            let read = libpcapRead(file)
            if read.error == nil && !read.records.isEmpty { inputs.append(file) }
        }
        #expect(inputs.count > 100)
        // As libpcap delivers them (caplen cut to the snap length), with an
        // original length below the captured one raised to it (pcapng
        // forbids less), frames of link types the decoder knows up to 64 KiB:
        // what a replay dispatches and the recorder writes.
        func expected(_ files: [String]) throws -> RecordedFrames {
            try RecordedFrames.read(files, linkTypes: Self.supported, maxCaplen: 65_536, asDelivered: true)
        }
        let out = directory + "/all.pcapng"
        let r = try replay(["--workers", "1", "-w", out] + inputs)
        #expect(r.status == 0, "exit \(r.status): \(r.stderr.suffix(2000))")
        let report = try #require(r.report, "\(r.stderr.suffix(2000))")
        try checkAccounting(report, files: [out])
        let copy = try RecordedFrames.read([out])
        let original = try expected(inputs)
        #expect(copy == original, "pcapng: \(copy.count) of \(original.count) frames")
        #expect(copy.count > 3000)
        // (libpcap refuses a pcapng section whose interfaces differ in link
        // type, as this one's do: it reads each link type's file below.)
        // Classic pcap, one file per link type (its header holds one).
        var byLinkType: [UInt32: [String]] = [:]
        for file in inputs {
            guard let head = readFile(file), head.count >= 24 else { continue }
            let magic = UInt32(head[0]) | UInt32(head[1]) << 8 | UInt32(head[2]) << 16 | UInt32(head[3]) << 24
            guard magic == 0xA1B2_C3D4 || magic == 0xA1B2_3C4D else { continue }
            let linkType = (UInt32(head[20]) | UInt32(head[21]) << 8 | UInt32(head[22]) << 16) & 0x0FFF_FFFF
            if Self.supported.contains(Int(linkType)) { byLinkType[linkType, default: []].append(file) }
        }
        #expect(byLinkType.count >= 3)
        for (linkType, files) in byLinkType.sorted(by: { $0.key < $1.key }) {
            let pcap = directory + "/linktype-\(linkType).pcap"
            let p = try replay(["--workers", "1", "-w", pcap, "--format", "pcap"] + files)
            #expect(p.status == 0, "\(linkType): exit \(p.status): \(p.stderr.suffix(2000))")
            let report = try #require(p.report)
            #expect(report["recording"]?["unwritten"]?["linktype"]?.intValue == 0)
            try checkAccounting(report, files: [pcap])
            #expect(try RecordedFrames.read([pcap]) == expected(files), "link type \(linkType)")
            #expect(libpcapRead(pcap).records.count == report["recording"]?["written"]?.intValue)
            let ng = directory + "/linktype-\(linkType).pcapng"
            let n = try replay(["--workers", "1", "-w", ng] + files)
            #expect(n.status == 0)
            let read = libpcapRead(ng)
            #expect(read.error == nil, "\(ng): \(read.error ?? "")")
            #expect(read.records.count == n.report?["recording"]?["written"]?.intValue)
        }
    }

    @Test("capinfos, tshark and editcap count exactly the frames written, 64 B to 64 KiB, in both formats")
    func independentReaders() throws {
        let directory = temporaryDirectory("rec-readers")
        defer { removeTree(directory) }
        var writer = PcapWriter(nanosecond: true)
        let sizes = [64, 65, 127, 1500, 4000, 4023, 4024, 4096, 4097, 9000, 16_384, 32_768, 65_471, 65_535, 65_536]
        for (i, size) in sizes.enumerated() {
            let frame = Frames.udp4(sport: UInt16(1000 + i), payload: size - 42)
            writer.record(frame, seconds: 1_700_000_000, fraction: UInt32(i) * 1_000_003)
        }
        let input = directory + "/sizes.pcap"
        writeFile(input, writer.bytes)
        for format in ["pcapng", "pcap"] {
            let out = directory + "/sizes.\(format)"
            let r = try replay(["--workers", "1", "-w", out, "--format", format, input])
            #expect(r.status == 0, "\(r.stderr)")
            let report = try #require(r.report)
            #expect(report["recording"]?["written"]?.intValue == sizes.count)
            let capinfos = run(["capinfos", "-c", "-M", out])
            #expect(capinfos.status == 0, "\(capinfos.stderr)")
            #expect(capinfos.stdout.contains("Number of packets:   \(sizes.count)"), "\(capinfos.stdout)")
            let tshark = run(["tshark", "-r", out, "-T", "fields", "-e", "frame.len", "-e", "frame.cap_len"])
            #expect(tshark.status == 0, "\(tshark.stderr)")
            let lengths = tshark.stdout.split(separator: "\n").map { $0.split(separator: "\t").map(String.init) }
            #expect(lengths.map { $0.first ?? "" } == sizes.map(String.init))
            #expect(lengths.map { $0.last ?? "" } == sizes.map(String.init))
            let converted = directory + "/converted-\(format).pcap"
            let editcap = run(["editcap", "-F", "pcap", out, converted])
            #expect(editcap.status == 0, "\(editcap.stderr)")
            #expect(try RecordedFrames.read([converted]).count == sizes.count)
            #expect(try RecordedFrames.read([out]) == RecordedFrames.read([input]))
        }
    }

    @Test("pcapng: one Interface Description per link type met, if_tsresol ns, statistics at the end")
    func pcapngBlocks() throws {
        let directory = temporaryDirectory("rec-blocks")
        defer { removeTree(directory) }
        var ng = PcapngWriter()
        ng.interface(linkType: 1)
        ng.interface(linkType: 101)
        for i in 0..<10 {
            ng.packet(
                interface: UInt32(i % 2), timestamp: UInt64(1_700_000_000_000_000 + i),
                i % 2 == 0 ? Frames.udp4() : Frames.tcp4())
        }
        let input = directory + "/two.pcapng"
        writeFile(input, ng.bytes)
        let out = directory + "/out.pcapng"
        let r = try replay(["--workers", "1", "-w", out, input])
        #expect(r.status == 0, "\(r.stderr)")
        let tshark = run(["tshark", "-r", out, "-q", "-z", "io,stat,0"])
        #expect(tshark.status == 0, "\(tshark.stderr)")
        let capinfos = run(["capinfos", out])
        #expect(capinfos.stdout.contains("Number of interfaces in file: 2"), "\(capinfos.stdout)")
        #expect(capinfos.stdout.contains("Number of stat entries = 1"), "\(capinfos.stdout)")
        #expect(try RecordedFrames.read([out]) == RecordedFrames.read([input]))
        // Classic pcap cannot hold both: the second link type is counted.
        let pcap = directory + "/out.pcap"
        let p = try replay(["--workers", "1", "-w", pcap, "--format", "pcap", input])
        #expect(p.report?["recording"]?["unwritten"]?["linktype"]?.intValue == 5)
        #expect(p.report?["recording"]?["written"]?.intValue == 5)
    }

    @Test("-C: every file at most the limit plus one block; the files merged are the input; several workers")
    func rotationBySize() throws {
        let directory = temporaryDirectory("rec-size")
        defer { removeTree(directory) }
        let input = directory + "/udp.pcap"
        writeFile(input, udpCapture(count: 20_000, flows: 500, payload: 100))
        let limit = 100 * 1024
        let r = try replay(["--workers", "2", "-w", directory + "/cap.pcapng", "-C", "100KiB", input])
        #expect(r.status == 0, "\(r.stderr)")
        let report = try #require(r.report)
        let files = listFiles(directory, prefix: "cap.")
        #expect(files.count > 20)
        let block = 28 + 144 + 4
        for f in files {
            let size = fileSize(f)
            #expect(size <= limit + block + 200, "\(f): \(size) bytes")
        }
        #expect(report["recording"]?["files_written"]?.intValue == files.count)
        try checkAccounting(report, files: files)
        // Merged by time (mergecap's default), the files are the input.
        let merged = directory + "/merged.pcapng"
        let m = run(["mergecap", "-w", merged] + files)
        #expect(m.status == 0, "\(m.stderr)")
        #expect(try RecordedFrames.read([merged]) == RecordedFrames.read([input]))
        // Names: .w<worker>.<seq> before the extension.
        #expect(files.contains(directory + "/cap.w0.0.pcapng") && files.contains(directory + "/cap.w1.0.pcapng"))
    }

    @Test("-G on the packets' clock: files aligned to multiples of N, each holding its interval; -W keeps the newest")
    func rotationByTime() throws {
        let directory = temporaryDirectory("rec-time")
        defer { removeTree(directory) }
        // 60 s of packet time, a frame every 50 ms, starting mid-interval.
        var writer = PcapWriter(nanosecond: true)
        let start: UInt32 = 1_700_000_003
        for i in 0..<1200 {
            let ns = UInt64(i) * 50_000_000
            writer.record(
                Frames.udp4(sport: UInt16(1000 + i % 50)), seconds: start + UInt32(ns / 1_000_000_000),
                fraction: UInt32(ns % 1_000_000_000))
        }
        let input = directory + "/timed.pcap"
        writeFile(input, writer.bytes)
        let r = try replay(["--workers", "1", "-w", directory + "/t-%s.pcapng", "-G", "10", input])
        #expect(r.status == 0, "\(r.stderr)")
        let files = listFiles(directory, prefix: "t-")
        // [1700000000, …10), …: 7 intervals hold the 60 s from …003.
        #expect(files.count == 7, "\(files)")
        for f in files {
            let name = f.split(separator: "/").last!.dropFirst(2).dropLast(7)
            let t0 = try #require(Int64(name), "\(f)")
            #expect(t0 % 10 == 0, "\(f) is not aligned")
            let frames = try RecordedFrames.read([f], list: true)
            #expect(frames.count > 0)
            for frame in frames.list {
                let ns = Int64(frame[0]) ?? -1
                #expect(ns >= t0 * 1_000_000_000 && ns < (t0 + 10) * 1_000_000_000, "\(f): frame at \(ns)")
            }
        }
        let all = try RecordedFrames.read(files)
        #expect(
            try all == RecordedFrames.read([input]),
            "\(all.count) frames in \(files.count) files: \(r.report?["recording"]?.text ?? "")")
        // The same with a ring of 3: the newest three intervals stay.
        let ring = try replay(["--workers", "1", "-w", directory + "/r-%s.pcapng", "-G", "10", "-W", "3", input])
        #expect(ring.status == 0, "\(ring.stderr)")
        let kept = listFiles(directory, prefix: "r-").map { $0.split(separator: "/").last.map(String.init) ?? "" }
        #expect(kept == ["r-1700000040.pcapng", "r-1700000050.pcapng", "r-1700000060.pcapng"], "\(kept)")
        #expect(ring.report?["recording"]?["unlinked_ring"]?.intValue == 4)
        // Seven intervals, eight files ready ahead: none written late.
        #expect(r.report?["recording"]?["written_late"]?.intValue == 0)
        #expect(ring.report?["recording"]?["written_late"]?.intValue == 0)
    }

    @Test("files rotated faster than they are prepared: a frame past its interval is counted written_late, each one")
    func lateRotation() throws {
        let directory = temporaryDirectory("rec-late")
        defer { removeTree(directory) }
        // 300 intervals of 1 s, 4 frames each, replayed at full speed: far
        // more rotations than files are ready ahead, so some frames may land
        // in an older file, and with a file every 4 frames some may find the
        // writer's batches full (how many depends on the machine). Whatever
        // the timing, each frame in an older file is counted written_late,
        // and every frame is in a file or counted unwritten.
        var writer = PcapWriter(nanosecond: true)
        let start: UInt32 = 1_700_000_000
        for i in 0..<1200 {
            let ns = UInt64(i) * 250_000_000
            writer.record(
                Frames.udp4(sport: UInt16(1000 + i % 50)), seconds: start + UInt32(ns / 1_000_000_000),
                fraction: UInt32(ns % 1_000_000_000))
        }
        let input = directory + "/timed.pcap"
        writeFile(input, writer.bytes)
        let r = try replay(["--workers", "1", "-w", directory + "/t-%s.pcapng", "-G", "1", input])
        #expect(r.status == 0, "\(r.stderr)")
        let files = listFiles(directory, prefix: "t-")
        var outside = 0
        for f in files {
            let name = f.split(separator: "/").last!.dropFirst(2).dropLast(7)
            let t0 = try #require(Int64(name), "\(f)")
            for frame in try RecordedFrames.read([f], list: true).list {
                let ns = Int64(frame[0]) ?? -1
                #expect(ns >= t0 * 1_000_000_000, "\(f): frame at \(ns) before its interval")
                if ns >= (t0 + 1) * 1_000_000_000 { outside += 1 }
            }
        }
        let recording = r.report?["recording"]
        #expect(recording?["written_late"]?.intValue == outside, "\(files.count) files")
        let written = try RecordedFrames.read(files).count
        #expect(recording?["written"]?.intValue == written)
        #expect(written + (recording?["unwritten"]?["overload"]?.intValue ?? -1) == 1200)
    }

    @Test("-f filters the whole replay in user space: the rest is counted filtered and never written")
    func filter() throws {
        let directory = temporaryDirectory("rec-filter")
        defer { removeTree(directory) }
        let mixed = directory + "/mixed.pcap"
        let made = run([
            "python3", fixturesDirectory + "/make_mixed.py", mixed, directory + "/expected.json", "--packets", "1000",
        ])
        try #require(made.status == 0, "make_mixed.py: \(made.stderr)")
        let out = directory + "/udp.pcapng"
        let r = try replay(["--workers", "2", "-f", "udp", "-w", out, mixed])
        #expect(r.status == 0, "\(r.stderr)")
        let report = try #require(r.report)
        let tcpdump = run(["tcpdump", "-r", mixed, "-w", directory + "/tcpdump.pcap", "udp"])
        #expect(tcpdump.status == 0, "\(tcpdump.stderr)")
        let expected = try RecordedFrames.read([directory + "/tcpdump.pcap"])
        #expect(report["recording"]?["written"]?.intValue == expected.count)
        #expect(report["filtered"]?.intValue == (report["packets"]?.intValue ?? 0) - expected.count)
        let merged = directory + "/merged.pcapng"
        _ = run(["mergecap", "-w", merged] + listFiles(directory, prefix: "udp."))
        #expect(try RecordedFrames.read([merged]) == expected)
        // An expression that cannot run on a file's link type: exit 2 naming it.
        var raw = PcapWriter(linkType: 101)
        raw.record(Frames.tcp4())
        writeFile(directory + "/raw.pcap", raw.bytes)
        let bad = try replay(["--workers", "1", "-f", "vlan", "-w", directory + "/bad.pcapng", directory + "/raw.pcap"])
        #expect(bad.status == 2)
        #expect(bad.stderr.contains("RAW") && bad.stderr.contains("vlan"), "\(bad.stderr)")
    }

    @Test("a path that cannot be opened is exit 2 naming it; -w - streams to standard output")
    func pathsAndStandardOutput() throws {
        let bad = try replay([
            "--workers", "1", "-w", "/nonexistent-dir/x.pcapng", packageRoot + "/captures/loopback.pcap",
        ])
        #expect(bad.status == 2)
        #expect(bad.stderr.contains("/nonexistent-dir/x.pcapng"), "\(bad.stderr)")
        let two = try replay(["--workers", "2", "-w", "-", packageRoot + "/captures/loopback.pcap"])
        #expect(two.status == 2, "\(two.stderr)")
        let directory = temporaryDirectory("rec-stdout")
        defer { removeTree(directory) }
        let out = directory + "/piped.pcapng"
        // Through a pipe (short writes), as `labyrinthd replay -w - F | tshark -r -` does.
        let piped = run([
            "sh", "-c",
            "\(executable("labyrinthd")) replay --lock off --workers 1 -w - \(packageRoot)/captures/loopback.pcap 2>/dev/null | cat > \(out)",
        ])
        #expect(piped.status == 0)
        #expect(try RecordedFrames.read([out]) == RecordedFrames.read([packageRoot + "/captures/loopback.pcap"]))
    }

    @Test("a small file system that fills: counted disk_full, no torn block, and writing resumes when space is freed")
    func diskFull() throws {
        let directory = temporaryDirectory("rec-full")
        defer {
            _ = run(["umount", "-l", directory])
            removeTree(directory)
        }
        let mount = run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", directory])
        try #require(mount.status == 0, "mount: \(mount.stderr)")
        let inputDirectory = temporaryDirectory("rec-full-input")
        defer { removeTree(inputDirectory) }
        let input = inputDirectory + "/big.pcap"
        // 6000 frames of 542 bytes (3.4 MB), played at 2000 pps (3 s).
        writeFile(input, udpCapture(count: 6000, flows: 64, payload: 500))
        let filler = directory + "/filler"
        writeFile(filler, [UInt8](repeating: 0x55, count: 7_400_000))
        let child = try ChildProcess([
            executable("labyrinthd"), "replay", "--lock", "off", "--json", "--workers", "1", "--pps", "2000",
            "--flush-ms", "20", "-w", directory + "/out.pcapng", input,
        ])
        // Wait until the file system is full, then free the filler.
        #expect(
            eventually(within: 20) {
                var fs = statvfs()
                return statvfs(directory, &fs) == 0 && Int(fs.f_bavail) * Int(fs.f_frsize) < 8192
            })
        // It stays full until a write has come up short (frames are lost to
        // it, and the file is cut back to its last whole block).
        #expect(
            child.waitForError(containing: "cut back to its last whole block", timeoutSeconds: 20), "\(child.stderr)")
        unlink(filler)
        #expect(child.wait(timeoutSeconds: 60) == 0, "\(child.stderr)")
        let report = try JSON.parse(child.stdout)
        let recording = try #require(report["recording"])
        #expect((recording["unwritten"]?["disk_full"]?.intValue ?? 0) > 0, "\(recording.text)")
        try checkAccounting(report, files: [directory + "/out.pcapng"])
        // Written again after the space came back: the last frame is there.
        let all = try RecordedFrames.read([input], list: true)
        let got = try RecordedFrames.read([directory + "/out.pcapng"], list: true)
        #expect(got.list.last == all.list.last)
        #expect((recording["truncations"]?.intValue ?? 0) > 0)
        let tshark = run(["tshark", "-r", directory + "/out.pcapng", "-q"])
        #expect(tshark.status == 0, "\(tshark.stderr)")
    }
}
