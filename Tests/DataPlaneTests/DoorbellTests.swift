import DataPlane
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

final class BellBox: @unchecked Sendable {
    let bell: Doorbell
    let flag = Atomic<Bool>(false)
    init(_ bell: consuming Doorbell) { self.bell = bell }
}

func nowNanoseconds() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
}

@Suite("Doorbell")
struct DoorbellTests {
    @Test("a sleeper is woken by a ring from another thread, long before its timeout")
    func wakes() throws {
        let box = BellBox(Doorbell())
        let ringer = try PinnedThread(name: "test-ringer") {
            // Ring until the sleeper has seen the flag: a ring before it
            // sleeps is caught by its ready() check instead.
            box.flag.store(true, ordering: .releasing)
            box.bell.ring()
        }
        let start = nowNanoseconds()
        while !box.flag.load(ordering: .acquiring) {
            box.bell.wait(timeoutNanoseconds: 10_000_000_000) { box.flag.load(ordering: .acquiring) }
        }
        let waited = nowNanoseconds() - start
        ringer.join()
        #expect(waited < 5_000_000_000)
    }

    @Test("a wait whose condition already holds returns at once; an unrung one times out")
    func readyAndTimeout() {
        let bell = Doorbell()
        let start = nowNanoseconds()
        bell.wait(timeoutNanoseconds: 5_000_000_000) { true }
        #expect(nowNanoseconds() - start < 1_000_000_000)
        let before = nowNanoseconds()
        bell.wait(timeoutNanoseconds: 20_000_000) { false }
        #expect(nowNanoseconds() - before >= 15_000_000)
    }

    @Test("an eventfd doorbell makes its fd readable when rung while its owner sleeps")
    func eventFD() throws {
        let bell = try Doorbell.withEventFD()
        #expect(bell.eventFD >= 0)
        var p = pollfd(fd: bell.eventFD, events: Int16(POLLIN), revents: 0)
        #expect(poll(&p, 1, 0) == 0)
        // The owner "sleeps" (in io_uring in real life): the ring writes.
        bell.wait(until: { false }) {
            bell.ring()
            var q = pollfd(fd: bell.eventFD, events: Int16(POLLIN), revents: 0)
            #expect(poll(&q, 1, 1000) == 1)
        }
        // Nobody asleep: a ring costs a load and writes nothing more.
        var value: UInt64 = 0
        #expect(read(bell.eventFD, &value, 8) == 8)
        #expect(value == 1)
        bell.ring()
        #expect(poll(&p, 1, 0) == 0)
    }
}
