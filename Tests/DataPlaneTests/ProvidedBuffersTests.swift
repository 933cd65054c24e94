import DataPlane
import Rooms
import Syscalls
import Testing

@Suite("Provided buffers")
struct ProvidedBuffersTests {
    @Test("room pages go into the kernel's ring, come out by id, and all come home on close")
    func lifecycle() throws {
        let arena = try Arena(
            ArenaConfiguration(rooms: 1, pagesPerRoom: 256, lock: .off, hugePages: .none))
        let room = arena.room(0)
        room.claim()
        do {
            let uring = try IOURing(entries: 8, reapCapacity: 8)
            var buffers = try ProvidedBuffers(on: uring, entries: 16, group: 0, roomIndex: 0)
            let empty = buffers.inRing
            #expect(empty == 0)
            room.refill(into: &buffers)
            buffers.publish()
            let full = buffers.inRing
            #expect(full == 16)
            #expect(room.stats.inUsePages == 16)
            // The kernel "filled" buffer 3: its page leaves the ring.
            let taken = buffers.take(3)
            let page = try #require(taken)
            let (left, again, outOfRange) = (buffers.inRing, buffers.take(3), buffers.take(999))
            #expect(left == 15)
            #expect(again == nil, "a buffer id is taken once")
            #expect(outOfRange == nil, "an id out of range is refused")
            room.free(room.adopt(page))
            room.refill(into: &buffers)
            buffers.publish()
            let refilled = buffers.inRing
            #expect(refilled == 16)
            buffers.close(on: uring, returningPagesTo: room)
        }
        room.unclaim()
        #expect(arena.checkForLeaks().isClean)
    }

    @Test("a ring size that is not a power of two is refused")
    func badSize() throws {
        let uring = try IOURing(entries: 8, reapCapacity: 8)
        #expect(throws: Errno.invalidArgument) {
            _ = try ProvidedBuffers(on: uring, entries: 12, group: 0, roomIndex: 0)
        }
    }
}
