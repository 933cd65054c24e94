import StatsProtocol
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The daemon with a live [[source]]: it captures, takes replays through the
/// same workers, and changes its BPF filter on SIGHUP without a restart.
@Suite("Daemon with a live source", .serialized)
struct LiveSourceTests {
    @Test("capture, replay through the same workers, filter reloaded live", arguments: ["pcap", "tpacket", "uring"])
    func liveSource(backend: String) throws {
        let network = try TestNetwork()
        let directory = temporaryDirectory()
        let file = directory + "/udp.pcap"
        writeFile(file, udpCapture(count: 1000, flows: 50))
        defer {
            unlink(file)
            rmdir(directory)
        }
        let source = """
            [[source]]
            interface = "\(network.receiver)"
            backend = "\(backend)"
            immediate = true
            timeout_ms = 10
            """
        let daemon = try DaemonProcess(workers: 2, more: source, prefix: network.command([]))
        do {
            try exercise(daemon, network: network, file: file, source: source, backend: backend)
        } catch {
            Issue.record("\(error); the daemon's log:\n\(daemon.logText)")
        }
    }

    func exercise(_ daemon: DaemonProcess, network: TestNetwork, file: String, source: String, backend: String) throws {
        func packets() throws -> Int { try daemon.ask(["command": "stats"])["packets"]?.intValue ?? -1 }
        /// Waits until `expected` frames are counted and every frame the
        /// kernel gave the sockets (PACKET_STATISTICS, published every 100 ms)
        /// is counted too: then no frame is still on its way, and the count
        /// is final.
        func waitFor(_ expected: Int) throws -> Int {
            _ = try eventually(within: 20) {
                let s = try daemon.ask(["command": "stats"])
                let total = s["packets"]?.intValue ?? 0
                let replayed = s["replay"]?["packets"]?.intValue ?? 0
                let kernel = (s["kernel"]?["packets"]?.intValue ?? 0) - (s["kernel"]?["drops"]?.intValue ?? 0)
                return total >= expected && total - replayed == kernel
            }
            return try packets()
        }
        #expect(daemon.logText.contains("capturing on \(network.receiver): \(backend)"))

        // 1. Live frames.
        #expect(network.send(file, pps: 4000).status == 0)
        #expect(try waitFor(1000) == 1000)
        let stats = try daemon.ask(["command": "stats"])
        #expect(stats["kernel"]?["drops"]?.intValue == 0)
        #expect(stats["flows"]?["tcp_udp"]?.intValue == 50)

        // 2. A replay through the same workers (woken by their eventfd).
        let job = try waitForJob(daemon, try daemon.ask(["command": "replay", "file": .string(file)]))
        #expect(job["state"]?.stringValue == "done")
        #expect(try waitFor(2000) == 2000)

        // 3. SIGHUP with a filter: only the matching frames from now on.
        writeFile(
            daemon.configPath,
            Array(
                DaemonProcess.configText(
                    socket: daemon.socket, workers: 2, more: source + "\nfilter = \"udp src port 1030\""
                ).utf8))
        kill(daemon.pid, SIGHUP)
        #expect(eventually { daemon.logText.contains("reloaded ") }, "\(daemon.logText)")
        #expect(
            daemon.logText.contains("reload: applied source[0].filter (default → \"udp src port 1030\")"),
            "\(daemon.logText)")
        #expect(network.send(file, pps: 4000).status == 0)
        #expect(try waitFor(2020) == 2020)
        let sources = try daemon.ask(["command": "config"])["sources"]?.arrayValue ?? []
        #expect(sources.count == 1)
        #expect(sources.first?["filter"]?.stringValue == "udp src port 1030", "\(sources)")

        // 4. A filter that does not compile is refused and the old one stays.
        writeFile(
            daemon.configPath,
            Array(
                DaemonProcess.configText(
                    socket: daemon.socket, workers: 2, more: source + "\nfilter = \"udp src prot 1030\""
                ).utf8))
        kill(daemon.pid, SIGHUP)
        #expect(eventually { daemon.logText.contains("reload refused") }, "\(daemon.logText)")
        #expect(network.send(file, pps: 4000).status == 0)
        #expect(try waitFor(2040) == 2040)

        #expect(daemon.stop() == 0)
        #expect(daemon.logText.contains("leak check passed"))
    }
}
