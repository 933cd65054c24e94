// Heap allocations per Rooms operation, counted by ordo-one/benchmark's
// malloc interposer. Every benchmark does `n` operations inside one measured
// region, so any malloc at all shows up; the absolute threshold is zero.
//
//   cd Benchmarks && swift package benchmark --target RoomsAllocations --check-absolute
//
// Timings come from rooms-bench (a plain executable without the interposer,
// whose per-allocation header would slow glibc malloc down and skew the
// comparison).
import Benchmark
import DataPlane
import Rooms
import Synchronization

let operations = 100_000

final class Fixture: @unchecked Sendable {
    let arena: Arena
    init() { arena = try! Arena(ArenaConfiguration(rooms: 2, pagesPerRoom: 4096, lock: .off)) }
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.mallocCountTotal, .wallClock],
        scalingFactor: .one,
        maxDuration: .seconds(2),
        maxIterations: 30,
        thresholds: [.mallocCountTotal: .init(relative: [.p90: 0], absolute: [.p90: 0])]
    )
    let fixture = Fixture()
    let room = fixture.arena.room(0)

    for order in [0, 2, 4] {
        Benchmark("order\(order)-alloc-free-pairs") { benchmark in
            room.claim()
            defer { room.unclaim() }
            benchmark.startMeasurement()
            for _ in 0..<operations {
                let page = room.allocate(order: order, .atomic)!
                blackHole(page.baseAddress)
                room.free(page)
            }
            benchmark.stopMeasurement()
        }
    }

    Benchmark("refill-256-then-free") { benchmark in
        room.claim()
        defer { room.unclaim() }
        var batch = PageBatch(capacity: 256)  // storage allocated once, outside
        benchmark.startMeasurement()
        for _ in 0..<(operations / 256) {
            room.refill(into: &batch)
            while let page = batch.popLast() { room.free(page) }
        }
        benchmark.stopMeasurement()
    }

    Benchmark("remote-free-batched") { benchmark in
        let remote = fixture.arena.room(1)
        remote.claim()
        defer { remote.unclaim() }
        let rings = RingBox(capacity: 1024)
        let box = DoneFlag()
        let finished = DoneFlag()
        let ready = DoneFlag()
        // Thread creation allocates: outside the measured region.
        let freer = try! PinnedThread(name: "bench-freer") {
            var batch = RemoteFreeBatch()  // its slots are allocated once, here
            ready.finish()
            while true {
                if let bits = rings.ring.pop() {
                    batch.free(
                        remote.adopt(
                            RawPage(address: UnsafeMutableRawPointer(bitPattern: bits)!, order: 0, roomIndex: 1)))
                } else if box.isDone && rings.ring.count == 0 {
                    break
                }
            }
            batch.flush()
            finished.finish()
        }
        while !ready.isDone {}
        benchmark.startMeasurement()
        var sent = 0
        while sent < operations {
            guard let page = remote.allocate(order: 0, [.atomic, .noWarn]) else { continue }
            let bits = page.intoRaw().addressBits
            while !rings.ring.push(bits) {}
            sent += 1
        }
        box.finish()
        while !finished.isDone {}
        // Joining the thread allocates in the runtime: outside the region.
        benchmark.stopMeasurement()
        freer.join()
        while remote.reclaim() > 0 {}
    }
}

final class DoneFlag: Sendable {
    private let value = Atomic<Bool>(false)
    var isDone: Bool { value.load(ordering: .acquiring) }
    func finish() { value.store(true, ordering: .releasing) }
}

/// The SPSC ring between the two benchmark threads (noncopyable, so shared
/// through a box).
final class RingBox: @unchecked Sendable {
    let ring: SPSCRing<UInt>
    init(capacity: Int) { ring = SPSCRing(capacity: capacity) }
}
