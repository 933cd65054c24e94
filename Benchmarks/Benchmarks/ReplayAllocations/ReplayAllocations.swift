// Heap allocations per replayed packet. Two benchmarks replay captures of
// 10 000 and 100 000 frames through the same path (reader, dispatch, worker:
// page, copy, decode, flow table, counters); their malloc counts must be
// equal, since the set-up (arena, threads, file mapping, report) is the same
// size and nothing may be allocated per packet. The checked-in thresholds
// hold both counts.
//
//   Benchmarks/check-mallocs.sh     (every iteration against Thresholds/6.3/mallocs.json)
import Benchmark
import DataPlane
import ForegroundRuns
import Rooms

#if canImport(Glibc)
import Glibc
#endif

/// Writes a pcap of `count` Ethernet/IPv4/UDP frames over 256 flows.
func makeCapture(_ path: String, count: Int) {
    var bytes: [UInt8] = [0xD4, 0xC3, 0xB2, 0xA1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0, 0, 1, 0, 0, 0]
    func le32(_ v: Int) {
        withUnsafeBytes(of: UInt32(truncatingIfNeeded: v).littleEndian) { bytes.append(contentsOf: $0) }
    }
    for i in 0..<count {
        let flow = i % 256
        var f: [UInt8] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x08, 0x00]
        f += [0x45, 0, 0, 46, 0, 1, 0, 0, 64, 17, 0, 0, 10, 0, 0, UInt8(flow), 10, 0, 1, 1]
        f += [0x30, 0x39, 0, 53, 0, 26, 0, 0] + [UInt8](repeating: 0xAB, count: 18)
        le32(1_700_000_000)
        le32(i)
        le32(f.count)
        le32(f.count)
        bytes += f
    }
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    close(fd)
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.mallocCountTotal, .wallClock],
        scalingFactor: .one,
        maxDuration: .seconds(5),
        maxIterations: 10,
        thresholds: [.mallocCountTotal: .init(relative: [.p90: 0], absolute: [.p90: 0])]
    )
    for count in [10_000, 100_000] {
        let path = "/tmp/labyrinth-replay-alloc-\(count).pcap"
        makeCapture(path, count: count)
        Benchmark("replay-\(count / 1000)k-frames-1-worker") { benchmark async in
            var c = ReplayConfiguration(workers: 1)
            c.lock = .off
            c.cpus = []
            c.pagesPerRoom = 1024
            benchmark.startMeasurement()
            let (report, _) = try! await ReplayRun.run(files: [path], configuration: c)
            benchmark.stopMeasurement()
            precondition(report.packets == count)
        }
    }
}
