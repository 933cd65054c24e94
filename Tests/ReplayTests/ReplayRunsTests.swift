import DataPlane
import ForegroundRuns
import StatsProtocol
import TestSupport
import Testing

/// One worker is handed runs of pcap records to walk (FileReplayer.handsRuns);
/// everything it sees must be what a descriptor a frame hands it.
@Suite("Runs of records against a descriptor a frame")
struct ReplayRunsTests {
    /// What a replay decided, frame by frame: the counts and every flow whole
    /// (both directions' packets, bytes and octets, first and last times,
    /// flags), in one order.
    static func outcome(_ r: ReplayReport) -> (JSON, [String]) {
        let j = r.json
        let counts = JSON.object([
            ("packets", j["packets"]!), ("bytes", j["bytes"]!), ("wire_bytes", j["wire_bytes"]!),
            ("received", j["received"]!), ("processed", j["processed"]!), ("decoded", j["decoded"]!),
            ("truncated", j["truncated"]!), ("oversized", j["oversized"]!), ("malformed", j["malformed"]!),
            ("unsupported_linktype", j["unsupported_linktype"]!), ("dropped", j["dropped"]!), ("flows", j["flows"]!),
        ])
        let flows = r.flows.map { f in
            "\(f.key) \(f.packetsAB) \(f.packetsBA) \(f.bytesAB) \(f.bytesBA) \(f.octetsAB) \(f.octetsBA) "
                + "\(f.firstSeen) \(f.lastSeen) \(f.tcpFlagsAB) \(f.tcpFlagsBA) \(f.ingress)"
        }.sorted()
        return (counts, flows)
    }

    @Test("the whole corpus through one worker: every count, flow and time the same either way")
    func corpus() async throws {
        let files = corpusFiles()
        try #require(!files.isEmpty, "no corpus found under Tests/Corpus")
        let runs = try await replay(files, workers: 1)
        let frames = try await replay(files, workers: 1) { $0.recordRuns = false }
        let (a, b) = (Self.outcome(runs), Self.outcome(frames))
        #expect(a.0 == b.0)
        #expect(a.1.count == b.1.count)
        let differing = zip(a.1, b.1).filter { $0 != $1 }.prefix(5).map { "runs: \($0)\nframes: \($1)" }
        #expect(differing.isEmpty, "\(differing.joined(separator: "\n"))")
        #expect(runs.packets > 2000)
    }

    @Test("a generated capture of 4096 flows: the same flows, packets, bytes and times either way")
    func generated() async throws {
        let dir = temporaryDirectory("runs")
        let pcap = dir + "/runs.pcap"
        let gen = dir + "/gen-pcap"
        let built = run(["cc", "-O2", "-o", gen, packageRoot + "/Benchmarks/replay/gen-pcap.c"])
        try #require(built.status == 0, "\(built.stderr)")
        let made = run([gen, pcap, "200000", "64", "4096"])
        try #require(made.status == 0, "\(made.stderr)")
        let runs = try await replay([pcap], workers: 1)
        let frames = try await replay([pcap], workers: 1) { $0.recordRuns = false }
        let (a, b) = (Self.outcome(runs), Self.outcome(frames))
        #expect(a.0 == b.0)
        #expect(a.1 == b.1)
        #expect(runs.packets == 200_000)
        #expect(runs.flows.count == 4096)
    }
}
