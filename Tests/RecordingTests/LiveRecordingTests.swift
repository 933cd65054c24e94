import StatsProtocol
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `labyrinthd capture -w`: every test makes its own network namespace and
/// veth pair, sends a capture it generated with tcpreplay and records on the
/// other end; then it removes the namespace, the files and any mount.
@Suite("Recording live capture", .serialized)
struct LiveRecordingTests {
    /// Starts `labyrinthd capture` in `network`, waits until it captures.
    func startCapture(_ network: TestNetwork, _ arguments: [String], immediate: Bool = true) throws -> ChildProcess {
        let child = try ChildProcess(
            network.command(
                [executable("labyrinthd"), "capture", "-i", network.receiver, "--lock", "off", "--json"]
                    + (immediate ? ["--immediate"] : []) + arguments))
        guard child.waitForError(containing: "capturing on", timeoutSeconds: 20) else {
            throw TestNetwork.SetupError("capture did not start: \(child.stderr)")
        }
        return child
    }

    /// The frames of a capture without their timestamps: what a receiver sees of what was sent.
    func contents(_ files: [String]) throws -> [String] {
        try RecordedFrames.read(files, list: true).list.map { $0.dropFirst().joined(separator: " ") }
    }

    @Test(
        "what crosses the veth is in the file, in both formats and on both backends, with its statistics",
        arguments: ["pcap", "tpacket", "uring"], ["pcapng", "pcap"])
    func liveFile(backend: String, format: String) throws {
        let network = try TestNetwork()
        let directory = temporaryDirectory("rec-live")
        defer { removeTree(directory) }
        var writer = PcapWriter()
        let count = 2000
        for i in 0..<count {
            writer.record(
                Frames.udp4(sport: UInt16(2000 + i % 100), payload: [18, 100, 700, 1400][i % 4]),
                seconds: 1_700_000_000 + UInt32(i / 1000), fraction: UInt32(i % 1000) * 1000)
        }
        let input = directory + "/sent.pcap"
        writeFile(input, writer.bytes)
        let out = directory + "/live.\(format)"
        let child = try startCapture(
            network,
            [
                "--backend", backend, "--workers", "1", "--count", String(count), "--duration", "40", "-w", out,
                "--format", format,
                // Room for 3 s of these frames in flight: a disk that parallel
                // tests hold up for a moment costs no frame (overload has a
                // test of its own below).
                "--pages-per-room", "16384", "--pages-in-flight", "12288",
            ])
        let sent = network.send(input, pps: 4000)
        #expect(sent.status == 0, "tcpreplay: \(sent.stderr)")
        #expect(child.wait(timeoutSeconds: 60) == 0, "\(child.stderr)")
        let report = try JSON.parse(child.stdout)
        #expect(report["recording"]?["written"]?.intValue == count, "\(child.stdout)")
        #expect(try contents([out]) == contents([input]))
        let capinfos = run(["capinfos", out])
        #expect(capinfos.status == 0, "\(capinfos.stderr)")
        #expect(capinfos.stdout.contains("Number of packets:   \(count)"))
        if format == "pcapng" {
            #expect(capinfos.stdout.contains("Name = \(network.receiver)"), "\(capinfos.stdout)")
            #expect(capinfos.stdout.contains("Number of stat entries = 1"), "\(capinfos.stdout)")
            // isb_ifrecv and isb_usrdeliv: every frame received and
            // delivered; isb_osdrop: none lost on our side.
            let isb = try #require(RecordedFrames.read([out]).statistics.first)
            #expect(isb["ifrecv"]?.intValue == count, "\(isb.text)")
            #expect(isb["usrdeliv"]?.intValue == count, "\(isb.text)")
            #expect(isb["osdrop"]?.intValue == 0, "\(isb.text)")
            #expect(isb["ifdrop"]?.intValue == 0, "\(isb.text)")
        }
        #expect(libpcapRead(out).records.count == count)
    }

    @Test("-G on the wall clock: a quiet link still rotates, files aligned to whole intervals, each readable")
    func quietRotation() throws {
        let network = try TestNetwork()
        let directory = temporaryDirectory("rec-quiet")
        defer { removeTree(directory) }
        let child = try startCapture(
            network, ["--workers", "1", "--duration", "3.5", "-w", directory + "/q-%s.pcapng", "-G", "1"])
        #expect(child.wait(timeoutSeconds: 30) == 0, "\(child.stderr)")
        let files = listFiles(directory, prefix: "q-")
        #expect(files.count >= 3, "\(files)")
        var last: Int64 = 0
        for f in files {
            let name = f.split(separator: "/").last!.dropFirst(2).dropLast(7)
            let t = try #require(Int64(name), "\(f)")
            #expect(t > last)
            last = t
            let capinfos = run(["capinfos", "-c", f])
            #expect(capinfos.status == 0, "\(f): \(capinfos.stderr)")
        }
    }

    @Test("SIGKILL in mid-write: the file still reads, every complete block in it")
    func killed() throws {
        let network = try TestNetwork()
        let directory = temporaryDirectory("rec-kill")
        defer { removeTree(directory) }
        let input = directory + "/sent.pcap"
        writeFile(input, udpCapture(count: 20_000, flows: 100, payload: 300))
        let out = directory + "/killed.pcapng"
        let child = try startCapture(network, ["--workers", "1", "--flush-ms", "10", "-w", out])
        let sender = try ChildProcess(
            network.command(["tcpreplay", "-q", "-i", network.sender, "--pps", "10000", input]))
        #expect(eventually(within: 20) { fileSize(out) > 200_000 })
        kill(child.pid, SIGKILL)
        _ = child.wait(timeoutSeconds: 10)
        _ = sender.wait(timeoutSeconds: 30)
        let frames = try RecordedFrames.read([out])
        #expect(frames.count > 100)
        // tshark reads every complete block; a block cut short at the end is
        // reported as such, never as a corrupt file.
        let tshark = run(["tshark", "-r", out, "-T", "fields", "-e", "frame.number"])
        let read = tshark.stdout.split(separator: "\n").count
        #expect(read == frames.count, "\(tshark.stderr)")
        #expect(tshark.status == 0 || tshark.stderr.contains("cut short"), "\(tshark.stderr)")
        let ours = libpcapRead(out)
        #expect(ours.records.count == frames.count)
        #expect(ours.error == nil || ours.error!.contains("truncated"), "\(ours.error ?? "")")
    }

    @Test("a disk slower than the traffic: counted overload, nothing received is lost, no worker blocks")
    func slowDisk() throws {
        guard access("/dev/fuse", F_OK) == 0, run(["/usr/bin/python3", "-c", "import fusepy"]).status == 0 else {
            Issue.record("needs /dev/fuse and python3-fusepy (Debian)")
            return
        }
        let network = try TestNetwork()
        let directory = temporaryDirectory("rec-slow")
        let backing = directory + "/backing"
        let mountpoint = directory + "/mnt"
        mkdir(backing, 0o755)
        mkdir(mountpoint, 0o755)
        // Every write of the file system sleeps 100 ms: at most 1.3 MB/s
        // (128 KiB writes), 7 MB in the 5 s of traffic.
        let fuse = try ChildProcess(["/usr/bin/python3", fixturesDirectory + "/slowfs.py", backing, mountpoint, "100"])
        defer {
            _ = run(["fusermount", "-u", "-z", mountpoint])
            _ = fuse.wait(timeoutSeconds: 10)
            for f in listFiles(backing) { unlink(f) }
            rmdir(backing)
            rmdir(mountpoint)
            removeTree(directory)
        }
        #expect(
            eventually(within: 20) {
                run(["mountpoint", "-q", mountpoint]).status == 0
            }, "slowfs did not mount: \(fuse.stderr)")
        let input = directory + "/sent.pcap"
        // 5 MB/s for 5 s (26 MB) into a kernel ring of 8 MiB: a worker that
        // waited for the disk would take in at most 7 + 8 MB and drop the
        // rest. Not in immediate mode, where libpcap retires a 256 KiB block
        // of the ring every millisecond, a few frames each: 32 blocks would
        // then hold 32 ms of traffic, and a worker that parallel tests keep
        // off its CPU for that long would drop. Here each block fills (50 ms).
        let count = 25_000
        writeFile(input, udpCapture(count: count, flows: 200, payload: 1000))
        let child = try startCapture(
            network,
            [
                "--workers", "1", "--count", String(count), "--duration", "60", "--buffer-mib", "8",
                "--pages-in-flight", "512", "-w", mountpoint + "/slow.pcapng",
            ], immediate: false)
        let sent = network.send(input, pps: 5000)
        #expect(sent.status == 0, "tcpreplay: \(sent.stderr)")
        #expect(child.wait(timeoutSeconds: 120) == 0, "\(child.stderr)")
        let report = try JSON.parse(child.stdout)
        let recording = try #require(report["recording"])
        let overload = recording["unwritten"]?["overload"]?.intValue ?? 0
        let written = recording["written"]?.intValue ?? 0
        #expect(overload > 0, "\(recording.text)")
        #expect(written > 0)
        // Every frame received and processed; the disk cost frames, not capture.
        #expect(report["received"]?.intValue == count)
        #expect(report["dropped"]?["kernel"]?.intValue == 0)
        #expect(
            report["processed"]?.intValue == written + overload + (recording["unwritten"]?["disk_full"]?.intValue ?? 0))
        #expect(try RecordedFrames.read([backing + "/slow.pcapng"]).count == written)
    }
}
