import DataPlane
import Testing

/// A clock that only moves when told to, and records every sleep. A sleep
/// may be made to overshoot, as a loaded machine's would.
final class ManualClock: ReplayClock {
    var time: Int64 = 1_000_000_000
    var sleeps: [Int64] = []
    /// Added to every wake-up: the sleeper comes back this late.
    var oversleep: Int64 = 0

    func now() -> Int64 { time }
    func sleep(until deadline: Int64) {
        sleeps.append(deadline)
        time = max(time, deadline + oversleep)
    }
}

@Suite("Pacer on a manual clock")
struct PacerTests {
    let start: Int64 = 1_000_000_000

    @Test("maximum speed never waits")
    func maximum() {
        let clock = ManualClock()
        var pacer = Pacer(.maximum, clock: clock)
        for i in 0..<100 { pacer.wait(timestamp: Int64(i) * 1_000_000, wireBytes: 100) }
        #expect(clock.sleeps.isEmpty)
    }

    @Test("original pacing is anchored to the first packet: lateness never accumulates")
    func originalNoDrift() {
        let clock = ManualClock()
        clock.oversleep = 300_000  // every wake-up 0.3 ms late
        var pacer = Pacer(.original(multiplier: 1), clock: clock)
        let t0: Int64 = 1_700_000_000_000_000_000
        // Packets 1 ms apart in the capture.
        for i in 0..<1000 { pacer.wait(timestamp: t0 + Int64(i) * 1_000_000, wireBytes: 60) }
        // Each deadline is the anchor plus the packet's offset, whatever the
        // lateness before it: packet 999 is due at 999 ms, not 999 × 1.3 ms.
        #expect(clock.sleeps.count == 999)
        for (k, d) in clock.sleeps.enumerated() {
            #expect(d == start + Int64(k + 1) * 1_000_000)
        }
        #expect(clock.time == start + 999_000_000 + 300_000)
    }

    @Test("replay.max_gap: a longer gap is cut to it, and the frames after keep their spacing")
    func maximumGap() {
        let clock = ManualClock()
        var pacer = Pacer(.original(multiplier: 1), clock: clock, maximumGap: 1_000_000_000)
        // 0, 1 ms, then 0xFFFFFFFF s later, then 2 ms after that.
        let far: Int64 = 0xFFFF_FFFF * 1_000_000_000
        for t in [0, 1_000_000, far, far + 2_000_000] { pacer.wait(timestamp: t, wireBytes: 60) }
        #expect(clock.sleeps == [start + 1_000_000, start + 1_001_000_000, start + 1_003_000_000])
        #expect(pacer.gapsCut == 1)
        // At a rate, too: 1 kbit/s over 1500-byte frames is 12 s a gap.
        let slow = ManualClock()
        var rate = Pacer(.megabitsPerSecond(0.001), clock: slow, maximumGap: 1_000_000_000)
        for _ in 0..<4 { rate.wait(timestamp: 0, wireBytes: 1500) }
        #expect(slow.sleeps == [start + 1_000_000_000, start + 2_000_000_000, start + 3_000_000_000])
        #expect(rate.gapsCut == 3)
        // Without one, the anchored deadline stands.
        let free = ManualClock()
        var unbounded = Pacer(.original(multiplier: 1), clock: free)
        for t in [0, far] { unbounded.wait(timestamp: t, wireBytes: 60) }
        #expect(free.sleeps == [start + far])
        #expect(unbounded.gapsCut == 0)
    }

    @Test("a late packet goes at once and the next one keeps its own deadline")
    func catchUp() {
        let clock = ManualClock()
        var pacer = Pacer(.original(multiplier: 1), clock: clock)
        pacer.wait(timestamp: 0, wireBytes: 60)
        clock.time += 5_000_000  // the reader stalls 5 ms
        pacer.wait(timestamp: 1_000_000, wireBytes: 60)  // due at +1 ms: already late
        pacer.wait(timestamp: 10_000_000, wireBytes: 60)  // due at +10 ms
        #expect(clock.sleeps == [start + 10_000_000])
    }

    @Test("a multiplier scales the capture's time", arguments: [2.0, 0.5, 10.0])
    func multiplier(_ m: Double) {
        let clock = ManualClock()
        var pacer = Pacer(.original(multiplier: m), clock: clock)
        for i in 0..<5 { pacer.wait(timestamp: Int64(i) * 100_000_000, wireBytes: 60) }
        #expect(clock.sleeps == (1...4).map { start + Int64((Double($0) * 100_000_000 / m).rounded()) })
    }

    @Test("packets per second spaces packets evenly from the anchor")
    func pps() {
        let clock = ManualClock()
        clock.oversleep = 7
        var pacer = Pacer(.packetsPerSecond(1000), clock: clock)
        for _ in 0..<10 { pacer.wait(timestamp: 0, wireBytes: 60) }
        #expect(clock.sleeps == (1...9).map { start + Int64($0) * 1_000_000 })
    }

    @Test("megabits per second counts the wire bits before each packet")
    func mbps() {
        let clock = ManualClock()
        var pacer = Pacer(.megabitsPerSecond(8), clock: clock)  // 1 byte per µs
        pacer.wait(timestamp: 0, wireBytes: 1000)
        pacer.wait(timestamp: 0, wireBytes: 500)
        pacer.wait(timestamp: 0, wireBytes: 1500)
        pacer.wait(timestamp: 0, wireBytes: 10)
        #expect(clock.sleeps == [start + 1_000_000, start + 1_500_000, start + 3_000_000])
    }

    @Test("loops continue one mean gap after the previous pass")
    func loops() {
        let clock = ManualClock()
        var pacer = Pacer(.original(multiplier: 1), clock: clock)
        let file: [Int64] = [5_000_000, 6_000_000, 8_000_000]  // span 3 ms, mean gap 1.5 ms
        for _ in 0..<2 {
            for t in file { pacer.wait(timestamp: t, wireBytes: 60) }
            pacer.endLoop()
        }
        #expect(
            clock.sleeps == [
                start + 1_000_000, start + 3_000_000,
                start + 4_500_000, start + 5_500_000, start + 7_500_000,
            ])
    }
}
