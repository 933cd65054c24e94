import StatsProtocol
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Live capture through real interfaces: every test makes its own network
/// namespace with a veth pair, sends a capture it generated out of one end
/// with tcpreplay at a modest rate, captures on the other end with
/// `labyrinthd capture`, and removes the namespace.
@Suite("Live capture", .serialized)
struct LiveCaptureTests {
    static let backends = ["pcap", "tpacket", "uring"]

    /// Runs `labyrinthd capture` in `network` on its receiving end, sends
    /// `files` (one after another, `pause` seconds apart) and returns the
    /// report.
    func capture(
        _ network: TestNetwork, backend: String, arguments: [String], files: [(String, Int)],
        between: String? = nil
    ) throws -> JSON {
        let child = try ChildProcess(
            network.command(
                [
                    executable("labyrinthd"), "capture", "-i", network.receiver, "--backend", backend, "--lock", "off",
                    "--immediate",
                    "--json",
                ] + arguments))
        guard child.waitForError(containing: "capturing on", timeoutSeconds: 20) else {
            throw TestNetwork.SetupError("capture did not start: \(child.stderr)")
        }
        for (i, (file, pps)) in files.enumerated() {
            // Between two files, until the capture says `between` (a test
            // hook's line) a second time, and so on: an event, not a pause.
            if i > 0, let between {
                let seen = { occurrences(of: between, in: child.stderr) >= i }
                #expect(eventually(within: 30, seen), "\(between) never came: \(child.stderr)")
            }
            let sent = network.send(file, pps: pps)
            #expect(sent.status == 0, "tcpreplay: \(sent.stderr)")
        }
        let status = child.wait(timeoutSeconds: 60)
        #expect(status == 0, "labyrinthd capture exited \(status): \(child.stderr)")
        return try JSON.parse(child.stdout)
    }

    func withCapture(_ name: String, _ bytes: [UInt8], _ body: (String) throws -> Void) rethrows {
        let directory = temporaryDirectory()
        let file = directory + "/" + name
        writeFile(file, bytes)
        defer {
            unlink(file)
            rmdir(directory)
        }
        try body(file)
    }

    @Test(
        "counts and bytes equal what was sent, with zero drops; each flow on exactly one of two workers",
        arguments: backends)
    func exactCounts(backend: String) throws {
        let network = try TestNetwork()
        let frames = 3000
        let flows = 60
        let bytes = udpCapture(count: frames, flows: flows, payload: 100)
        try withCapture("udp.pcap", bytes) { file in
            let report = try capture(
                network, backend: backend,
                arguments: ["--workers", "2", "--count", String(frames), "--duration", "40"],
                files: [(file, 3000)])
            #expect(report["received"]?.intValue == frames)
            #expect(report["processed"]?.intValue == frames)
            #expect(report["bytes"]?.intValue == frames * (14 + 20 + 8 + 100))
            #expect(report["decoded"]?["udp"]?.intValue == frames)
            #expect(report["dropped"]?["nomem"]?.intValue == 0)
            #expect(report["dropped"]?["kernel"]?.intValue == 0)
            #expect(report["kernel"]?["drops"]?.intValue == 0)
            #expect(report["no_buffers"]?.intValue == 0)
            #expect(report["stopped_by"]?.stringValue == "count")
            let workers = report["workers"]?.arrayValue ?? []
            #expect(workers.count == 2)
            // Every frame on one worker: received adds up; every flow on
            // exactly one: the flows the workers created add up to the flows
            // sent (a flow split over two would be created twice).
            #expect(workers.compactMap { $0["received"]?.intValue }.reduce(0, +) == frames)
            #expect(workers.compactMap { $0["flows_created"]?.intValue }.reduce(0, +) == flows)
            #expect(report["flows"]?["total"]?.intValue == flows)
            #expect(workers.allSatisfy { ($0["received"]?.intValue ?? 0) > 0 }, "fanout left a worker idle")
            // received = processed + every drop reason, per worker.
            for w in workers {
                #expect(
                    w["received"]?.intValue == (w["processed"]?.intValue ?? 0) + (w["dropped_nomem"]?.intValue ?? 0))
            }
            // What each flow counted matches what was sent: 50 packets each.
            let top = report["flows"]?["top"]?.arrayValue ?? []
            #expect(top.allSatisfy { $0["packets"]?.intValue == frames / flows })
        }
    }

    @Test("a BPF filter passes exactly the matching packets", arguments: backends)
    func filter(backend: String) throws {
        let network = try TestNetwork()
        let frames = 2000
        let flows = 40
        try withCapture("udp.pcap", udpCapture(count: frames, flows: flows)) { file in
            // Source ports 1024...1063: these two flows, 50 frames each.
            let report = try capture(
                network, backend: backend,
                arguments: [
                    "--workers", "2", "--filter", "udp and (src port 1030 or src port 1041)", "--count", "100",
                    "--duration", "40",
                ],
                files: [(file, 4000)])
            #expect(report["received"]?.intValue == 100)
            #expect(report["flows"]?["total"]?.intValue == 2)
            // The kernel saw only what the filter passed.
            #expect(report["kernel"]?["packets"]?.intValue == 100)
        }
    }

    @Test("a filter that does not compile, a missing interface: exit 2 and the reason")
    func badInput() throws {
        let network = try TestNetwork()
        for backend in Self.backends {
            let bad = run(
                network.command(
                    [
                        executable("labyrinthd"), "capture", "-i", network.receiver, "--backend", backend, "--lock",
                        "off",
                        "--filter", "udp prot 53", "--duration", "1",
                    ]))
            #expect(bad.status == 2)
            #expect(bad.stderr.contains("filter \"udp prot 53\""), "\(bad.stderr)")
            #expect(bad.stderr.contains("syntax error"))
            let missing = run(
                network.command(
                    [
                        executable("labyrinthd"), "capture", "-i", "nosuch0", "--backend", backend, "--lock", "off",
                        "--duration", "1",
                    ]))
            #expect(missing.status == 2)
            #expect(missing.stderr.contains("nosuch0: no such interface"), "\(missing.stderr)")
        }
    }

    /// The other fanout modes and worker settings: whichever worker a frame
    /// lands on, each is counted exactly once.
    static let settings: [(String, [String])] = [
        ("pcap", ["--workers", "2", "--fanout", "lb"]),
        ("uring", ["--workers", "2", "--fanout", "lb"]),
        ("uring", ["--workers", "2", "--fanout", "cpu"]),
        ("pcap", ["--workers", "2", "--fanout", "qm"]),
        ("pcap", ["--workers", "1", "--priority", "10", "--mlockall"]),
        ("uring", ["--workers", "1", "--busy-poll"]),
        ("pcap", ["--workers", "1", "--busy-poll"]),
    ]

    @Test(
        "fanout lb, cpu and qm, SCHED_FIFO with mlockall, busy polling: every frame counted once", arguments: settings)
    func variants(backend: String, arguments: [String]) throws {
        let network = try TestNetwork()
        let frames = 800
        let flows = 16
        try withCapture("udp.pcap", udpCapture(count: frames, flows: flows)) { file in
            let report = try capture(
                network, backend: backend, arguments: arguments + ["--count", String(frames), "--duration", "40"],
                files: [(file, 2000)])
            #expect(report["received"]?.intValue == frames)
            #expect(report["processed"]?.intValue == frames)
            #expect(report["kernel"]?["drops"]?.intValue == 0)
            let workers = report["workers"]?.arrayValue ?? []
            #expect(workers.compactMap { $0["received"]?.intValue }.reduce(0, +) == frames)
            if arguments.contains("lb") {
                // Round robin: both workers take frames, so flows split.
                #expect(workers.allSatisfy { ($0["received"]?.intValue ?? 0) > 0 }, "lb left a worker idle")
            }
            if workers.count == 1 {
                // cpu and qm follow the receiving CPU or queue, not the
                // flow, so only a lone worker is sure to see each flow once.
                #expect(report["flows"]?["total"]?.intValue == flows)
            }
        }
    }

    @Test(
        "a room that runs dry: exact accounting, the worker never blocks, capture recovers when pages come home",
        arguments: backends)
    func pressure(backend: String) throws {
        let network = try TestNetwork()
        let burst = 1000
        let after = 200
        let directory = temporaryDirectory()
        let first = directory + "/burst.pcap"
        let second = directory + "/after.pcap"
        // Frames of 1442 bytes: 1000 of them outgrow a room of 1 MiB even
        // 44 to a 64 KiB chunk.
        writeFile(first, udpCapture(count: burst, flows: 50, payload: 1400))
        writeFile(second, udpCapture(count: after, flows: 10, subnet: 9, firstPort: 2000))
        defer {
            unlink(first)
            unlink(second)
            rmdir(directory)
        }
        // A 256-page room whose frames keep their pages for 1.5 s: the burst
        // outruns it, then the pages come home and the second burst is
        // captured whole.
        let report = try capture(
            network, backend: backend,
            arguments: [
                "--workers", "1", "--pages-per-room", "256", "--test-hold-frames", "100000", "--test-hold-ms", "1500",
                "--count", String(burst + after), "--duration", "40", "--top", "1000",
            ],
            files: [(first, 5000), (second, 2000)], between: "test hook: every held frame is home")
        let processed = try #require(report["processed"]?.intValue)
        let nomem = try #require(report["dropped"]?["nomem"]?.intValue)
        #expect(report["received"]?.intValue == burst + after)
        #expect(processed + nomem == burst + after)
        #expect(report["kernel"]?["drops"]?.intValue == 0)
        let room = try #require(report["rooms"]?.arrayValue?.first)
        let perOrder = (room["alloc_fail"]?.arrayValue ?? []).compactMap(\.intValue)
        let failures = perOrder.reduce(0, +)
        #expect(failures > 0)
        if backend == "pcap" || backend == "tpacket" {
            // Copies into fragments: the frames that found no chunk (not a
            // whole one, nor the one page that holds the frame) are dropped
            // and counted, one failure of that page each.
            #expect(nomem > 0)
            #expect(perOrder.first == nomem, "\(perOrder)")
        } else {
            // Pages are the receive buffers: the ring ran dry (ENOBUFS), the
            // frames waited in the socket and nothing was lost.
            #expect(nomem == 0)
            #expect((report["no_buffers"]?.intValue ?? 0) > 0)
        }
        // Recovery: every frame of the second burst (10.9.x.x) was processed.
        let recovered = (report["flows"]?["top"]?.arrayValue ?? []).filter {
            ($0["a"]?.stringValue ?? "").hasPrefix("10.9.") || ($0["b"]?.stringValue ?? "").hasPrefix("10.9.")
        }
        #expect(recovered.count == 10)
        #expect(recovered.allSatisfy { $0["packets"]?.intValue == after / 10 })
    }
}
