#if DEBUG
import Rooms
#if canImport(Glibc)
import Glibc
#endif
import Testing

/// The debug traps, each in a child process that must die with its message.
@Suite("Debug traps")
struct TrapTests {
    @Test("a sleeping allocation in atomic context traps")
    func sleepingInAtomic() async throws {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            let arena = try Arena(smallConfiguration())
            let room = arena.room(0)
            room.claim()
            AtomicContext.enter()
            _ = room.allocate(order: 0, .wait)
        }
        let stderr = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(stderr.contains("sleeping allocation in atomic context"), "\(stderr)")
    }

    @Test("the same allocation outside atomic context is fine")
    func sleepingOutsideAtomic() async throws {
        await #expect(processExitsWith: .success) {
            let arena = try Arena(smallConfiguration())
            let room = arena.room(0)
            room.claim()
            let inside = AtomicContext.run { AtomicContext.isActive }
            if !inside || AtomicContext.isActive { exit(5) }
            let page = room.allocate(order: 0, .wait)
            if page.isNil { exit(3) }
            _ = consume page
            room.unclaim()
        }
    }

    @Test("a foreign thread allocating from an exclusive room traps")
    func foreignThread() async throws {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            let arena = try Arena(smallConfiguration(rooms: 4))
            let room = arena.room(3)
            room.claim()
            let thief = TestThread { _ = room.allocate(order: 0, .atomic) }
            thief.join()
        }
        let stderr = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(stderr.contains("room 3 is exclusive to worker 3"), "\(stderr)")
    }

    @Test("allocating from a room nobody claimed traps")
    func unclaimed() async throws {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            let arena = try Arena(smallConfiguration())
            _ = arena.room(0).allocate()
        }
        let stderr = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(stderr.contains("room 0 has no owner"), "\(stderr)")
    }
}
#endif
