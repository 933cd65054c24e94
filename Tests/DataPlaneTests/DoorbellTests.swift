import CRoomsSupport
import DataPlane
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

final class BellBox: @unchecked Sendable {
    let bell: Doorbell
    let flag = Atomic<Bool>(false)
    /// The sleeper's thread id, once it runs.
    let sleeper = Atomic<Int32>(0)
    /// Nanoseconds the sleeper slept.
    let waited = Atomic<Int64>(-1)
    init(_ bell: consuming Doorbell) { self.bell = bell }
}

/// Whether thread `tid` of this process is blocked in futex(2) now, by
/// /proc's account of the system call it sleeps in (202 on x86_64, 98 on
/// aarch64): proof that a sleeper is asleep, not merely about to be.
func sleepsInFutex(_ tid: Int32) -> Bool {
    let fd = open("/proc/self/task/\(tid)/syscall", O_RDONLY)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var buffer = [UInt8](repeating: 0, count: 64)
    let n = read(fd, &buffer, buffer.count)
    guard n > 0 else { return false }
    let number = String(decoding: buffer.prefix(n).prefix { $0 != 0x20 }, as: UTF8.self)
    #if arch(x86_64)
    return number == "202"
    #else
    return number == "98"
    #endif
}

func nowNanoseconds() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
}

@Suite("Doorbell")
struct DoorbellTests {
    @Test("a sleeper asleep in its futex is woken by a ring from another thread, long before its timeout")
    func wakes() throws {
        let box = BellBox(Doorbell())
        let sleeper = try PinnedThread(name: "test-sleeper") {
            box.sleeper.store(lab_gettid(), ordering: .releasing)
            let start = nowNanoseconds()
            while !box.flag.load(ordering: .acquiring) {
                box.bell.wait(timeoutNanoseconds: 10_000_000_000) { box.flag.load(ordering: .acquiring) }
            }
            box.waited.store(nowNanoseconds() - start, ordering: .releasing)
        }
        // The ring comes only once the sleeper sleeps in the kernel: it is
        // the ring, not the ready() check, that must wake it.
        let deadline = nowNanoseconds() + 10_000_000_000
        var asleep = false
        while !asleep && nowNanoseconds() < deadline {
            let tid = box.sleeper.load(ordering: .acquiring)
            asleep = tid != 0 && sleepsInFutex(tid)
            if !asleep { usleep(1000) }
        }
        #expect(asleep, "the sleeper never slept in its futex")
        box.flag.store(true, ordering: .releasing)
        box.bell.ring()
        sleeper.join()
        let waited = box.waited.load(ordering: .acquiring)
        // Woken by the ring: well before the 10 s timeout.
        #expect(waited >= 0 && waited < 5_000_000_000, "slept \(waited) ns")
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
