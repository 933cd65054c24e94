import CRoomsSupport
import Rooms
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("Arena")
struct ArenaTests {
    @Test("rooms partition the arena, aligned to the largest block")
    func partition() throws {
        let arena = try Arena(smallConfiguration(pages: 64, rooms: 3))
        let rooms = arena.rooms
        #expect(rooms.count == 3)
        for (i, room) in rooms.enumerated() {
            #expect(room.index == i)
            #expect(room.pageCount == 64)
            #expect(Int(bitPattern: room.baseAddress) % 65536 == 0)
            if i > 0 {
                #expect(room.baseAddress - rooms[i - 1].baseAddress == 64 * 4096)
            }
        }
        let layout = arena.layout.description
        #expect(layout.contains("3 rooms of 256 KiB"))
        #expect(layout.contains("watermarks min 32 low 40 high 48"))
    }

    @Test(
        "impossible configurations are named",
        arguments: [
            (ArenaConfiguration(rooms: 0, pagesPerRoom: 64), "rooms must be at least 1"),
            (ArenaConfiguration(rooms: 1, pagesPerRoom: 40), "multiple of 16"),
            (ArenaConfiguration(rooms: 1, pagesPerRoom: 0), "multiple of 16"),
            (
                ArenaConfiguration(rooms: 1, pagesPerRoom: 64, watermarks: Watermarks(min: 9, low: 8, high: 10)),
                "min (9) must not exceed low (8)"
            ),
            (
                ArenaConfiguration(rooms: 1, pagesPerRoom: 64, watermarks: Watermarks(min: 1, low: 2, high: 64)),
                "high (64)"
            ),
            (ArenaConfiguration(rooms: 1, pagesPerRoom: 64, cacheCapacity: 65), "cache capacity"),
            (ArenaConfiguration(rooms: 1, pagesPerRoom: 64, cacheCapacity: 8, cacheBatch: 9), "cache batch"),
        ])
    func invalid(configuration: ArenaConfiguration, message: String) {
        #expect {
            _ = try Arena(configuration)
        } throws: { error in
            "\(error)".contains(message)
        }
    }

    @Test("the leak check names the room and the pages still out")
    func leaks() throws {
        let arena = try Arena(smallConfiguration(rooms: 2))
        let room = arena.room(1)
        room.claim()
        var held = PageBatch(capacity: 8)
        held.accept(room.allocate(order: 0)!)
        held.accept(room.allocate(order: 2)!)
        room.unclaim()
        let report = arena.checkForLeaks()
        #expect(!report.isClean)
        #expect(report.leaks == [LeakReport.RoomLeak(room: 1, pagesOutstanding: 5, pageCount: 256)])
        #expect(report.description == "room 1 leaked 5 of 256 pages")
        room.claim()
        while let p = held.popLast() { room.free(p) }
        room.unclaim()
        #expect(arena.checkForLeaks().isClean)
    }

    @Test(
        "a lock limit too low for the arena is a clear error",
        .disabled(if: runningUnderSanitizer, "sanitizers intercept mlock and make it a no-op"))
    func lockLimit() async {
        let result = await #expect(processExitsWith: .success, observing: [\.standardOutputContent]) {
            // Drop root's CAP_IPC_LOCK by becoming nobody, with a 64 KiB limit.
            _ = lab_set_memlock_limit(64 * 1024)
            if setgid(65534) != 0 || setuid(65534) != 0 { exit(4) }
            do {
                _ = try Arena(ArenaConfiguration(rooms: 1, pagesPerRoom: 256, lock: .required))
                exit(2)
            } catch {
                print(error)
                exit(0)
            }
        }
        let out = String(decoding: result?.standardOutputContent ?? [], as: UTF8.self)
        #expect(out.contains("cannot lock the arena (1 MiB) in memory"), "\(out)")
        #expect(out.contains("RLIMIT_MEMLOCK is 64 KiB"), "\(out)")
    }

    @Test("a locked, pre-faulted arena of the default shape builds")
    func locked() throws {
        let arena = try Arena(ArenaConfiguration(rooms: 2, pagesPerRoom: 4096))
        #expect(arena.layout.locked)
        #expect(arena.checkForLeaks().isClean)
    }
}

@Suite("Arena lock policy", .disabled(if: runningUnderSanitizer, "sanitizers intercept mlock"))
struct LockPolicyTests {
    @Test("best-effort locking goes on unlocked and says why")
    func bestEffort() async {
        let result = await #expect(processExitsWith: .success, observing: [\.standardOutputContent]) {
            _ = lab_set_memlock_limit(64 * 1024)
            if setgid(65534) != 0 || setuid(65534) != 0 { exit(4) }
            guard let arena = try? Arena(ArenaConfiguration(rooms: 1, pagesPerRoom: 256, lock: .bestEffort)) else {
                exit(2)
            }
            print(arena.layout)
            exit(arena.layout.locked ? 3 : 0)
        }
        let out = String(decoding: result?.standardOutputContent ?? [], as: UTF8.self)
        #expect(out.contains("locked: no"), "\(out)")
        #expect(out.contains("going on unlocked (the lock is best-effort)"), "\(out)")
    }
}
