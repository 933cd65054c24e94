import DataPlane
import Testing

final class RingBox: @unchecked Sendable {
    let ring: SPSCRing<Int>
    init(capacity: Int) { ring = SPSCRing(capacity: capacity) }
}

@Suite("SPSC ring")
struct SPSCRingTests {
    @Test("values come out in order across many wraparounds; a full ring refuses")
    func wraparound() {
        let ring = SPSCRing<Int>(capacity: 4)
        let capacity = ring.capacity
        #expect(capacity == 4)
        var next = 0
        var expected = 0
        for round in 0..<100 {
            let burst = round % 5
            var pushed = 0
            for _ in 0..<burst {
                if ring.push(next) {
                    next += 1
                    pushed += 1
                }
            }
            #expect(pushed == min(burst, 4))
            if burst > 4 {
                let refused = !ring.push(-1)
                #expect(refused)
            }
            while let v = ring.pop() {
                #expect(v == expected)
                expected += 1
            }
        }
        #expect(expected == next)
        let last = ring.pop()
        #expect(last == nil)
    }

    @Test("peek looks ahead without taking")
    func peek() {
        let ring = SPSCRing<Int>(capacity: 8)
        var pushed = 0
        for i in 0..<3 where ring.push(i) { pushed += 1 }
        #expect(pushed == 3)
        let ahead = (ring.peek(ahead: 1), ring.peek(ahead: 2), ring.peek(ahead: 3))
        #expect(ahead.0 == 1 && ahead.1 == 2 && ahead.2 == nil)
        let first = ring.pop()
        #expect(first == 0)
        let (count, free) = (ring.count, ring.freeSpace)
        #expect(count == 2)
        #expect(free == 6)
    }

    @Test("a producer and a consumer thread: every value once, in order")
    func twoThreads() throws {
        let box = RingBox(capacity: 64)
        let total = 200_000
        let producer = try PinnedThread(name: "test-producer") {
            var i = 0
            while i < total {
                if box.ring.push(i) { i += 1 }
            }
        }
        var expected = 0
        var outOfOrder = 0
        while expected < total {
            if let v = box.ring.pop() {
                if v != expected { outOfOrder += 1 }
                expected += 1
            }
        }
        producer.join()
        #expect(outOfOrder == 0)
        let last = box.ring.pop()
        #expect(last == nil)
    }
}
