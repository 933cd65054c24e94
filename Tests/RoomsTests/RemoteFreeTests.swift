import CRoomsSupport
import Rooms
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("Remote frees and reclaim")
struct RemoteFreeTests {
    @Test(
        "pages freed by other threads come home, batched, and nothing is lost",
        arguments: [false, true])
    func othersFreeWhileOwnerAllocates(batched: Bool) throws {
        let total = 60_000
        let config = smallConfiguration(pages: 1024, watermarks: nil, cache: 64, batch: 16)
        let arena = try Arena(config)
        let room = arena.room(0)
        let channels = [PageChannel(capacity: 128), PageChannel(capacity: 128)]
        let done = Atomic<Bool>(false)
        let freedRemotely = Atomic<Int>(0)

        let freers = channels.map { channel in
            TestThread {
                var batch = RemoteFreeBatch()
                var freed = 0
                var idle = 0
                while true {
                    let stopping = done.load(ordering: .acquiring)
                    if let page = channel.receive() {
                        let tag = page.bytes.load(fromByteOffset: 64, as: UInt64.self)
                        let expected = UInt64(UInt(bitPattern: page.baseAddress)) ^ 0xA5A5
                        if tag != expected { fatalError("page content changed in flight") }
                        if batched { batch.free(page) } else { _ = consume page }
                        freed += 1
                        idle = 0
                    } else if stopping {
                        break  // done was set before this empty receive: nothing more comes
                    } else {
                        // Partial batches go home when the stream pauses.
                        idle += 1
                        if idle == 2000 { batch.flush() }
                        lab_cpu_relax()
                    }
                }
                batch.flush()
                freedRemotely.add(freed, ordering: .relaxed)
            }
        }

        room.claim()
        var sent = 0
        var failures = 0
        while sent < total {
            let order = sent % 7 == 0 ? 2 : 0
            guard let page = room.allocate(order: order, [.atomic, .noWarn]) else {
                failures += 1
                room.reclaim()
                continue
            }
            page.bytes.storeBytes(
                of: UInt64(UInt(bitPattern: page.baseAddress)) ^ 0xA5A5, toByteOffset: 64, as: UInt64.self)
            var pending: Page? = page
            while let p = pending.take() {
                pending = channels[sent & 1].send(p)
                if !pending.isNil { room.reclaim() }
            }
            sent += 1
        }
        done.store(true, ordering: .releasing)
        for t in freers { t.join() }
        room.unclaim()

        #expect(freedRemotely.load(ordering: .relaxed) == total)
        let s = room.stats
        #expect(s.allocations == total)
        #expect(s.freeRemote == total)
        #expect(s.failures == failures)
        // Every page comes home at teardown.
        let report = arena.checkForLeaks()
        #expect(report.isClean, "\(report)")
        #expect(room.stats.reclaimed == total)
        #expect(room.stats.freePages == 1024)
        if batched {
            // Batches carry up to 64 blocks: far fewer refills than blocks.
            #expect(s.refill < total / 4, "refills \(s.refill) for \(total) remote frees")
        }
    }

    @Test("a blocked .wait allocation wakes when a remote free brings a page home")
    func waitWakesOnRemoteFree() throws {
        try withRoom { room in
            var held = PageBatch(capacity: 256)
            _ = allocateUntilFailure(room, .nowait, into: &held)
            #expect(room.stats.freePages == 32)
            let channel = PageChannel(capacity: 4)
            #expect(Bool(channel.send(held.popLast()!).isNil))
            let owner = lab_gettid()
            let sawAsleep = SharedFlag()
            let freer = TestThread {
                // The free comes only once the owner sleeps in its futex
                // (or after 10 s, which the owner's wait would outlast).
                let deadline = lab_monotonic_ns() + 10_000_000_000
                while !sleepsInFutex(owner) && lab_monotonic_ns() < deadline { usleep(1000) }
                if sleepsInFutex(owner) { sawAsleep.set() }
                _ = channel.receive()  // dropped here, on a foreign thread
            }
            let start = lab_monotonic_ns()
            let page = room.allocate(order: 0, .wait, timeout: .seconds(20))
            let waitedMs = (lab_monotonic_ns() - start) / 1_000_000
            freer.join()
            #expect(Bool(!page.isNil))
            #expect(sawAsleep.isSet, "the owner never slept waiting for the page")
            #expect(waitedMs < 15_000, "slept \(waitedMs) ms: the remote free did not wake it")
            #expect(room.stats.waits == 1)
            #expect(room.stats.freeRemote == 1)
            _ = consume page
        }
    }

    @Test("the owner brings at most one batch home per refill")
    func boundedReclaim() throws {
        let arena = try Arena(
            smallConfiguration(pages: 2048, watermarks: Watermarks(min: 0, low: 0, high: 0), cache: 256, batch: 64))
        let room = arena.room(0)
        room.claim()
        var held = PageBatch(capacity: 2048)
        _ = room.refill(into: &held, count: 1280)
        let channel = PageChannel(capacity: 2048)
        while let p = held.popLast() { #expect(Bool(channel.send(p).isNil)) }
        let freer = TestThread {
            var batch = RemoteFreeBatch()
            while let p = channel.receive() { batch.free(p) }
        }
        freer.join()
        #expect(room.stats.freeRemote == 1280)
        // 1280 blocks = 20 full batches; each reclaim takes exactly one.
        #expect(room.reclaim() == 64)
        #expect(room.stats.reclaimed == 64)
        var rounds = 1
        while room.reclaim() > 0 { rounds += 1 }
        #expect(rounds == 20)
        room.unclaim()
        #expect(arena.checkForLeaks().isClean)
    }

    @Test("the owner's own frees through a RemoteFreeBatch stay local")
    func ownerBatchIsLocal() throws {
        try withRoom { room in
            var batch = RemoteFreeBatch()
            for _ in 0..<10 { batch.free(room.allocate()!) }
            #expect(room.stats.freeLocal == 10)
            #expect(room.stats.freeRemote == 0)
        }
    }
}
