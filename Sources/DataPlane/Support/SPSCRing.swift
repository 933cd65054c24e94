import Synchronization

/// A bounded single-producer single-consumer ring of plain values, the queue
/// between a reader and a worker. Lock-free, no heap after creation: each
/// side keeps a cached copy of the other's index, so the shared cache lines
/// move only when the cache runs out.
///
/// The ring owns its memory and cannot be copied: whoever holds it (the
/// worker's ``ReplayInbox``) lends it to both sides by borrowing, and it is
/// freed when its owner goes, after both sides are done. Every operation is
/// non-mutating (the indices live in the ring's own memory), so a borrowed
/// ring serves both sides.
@frozen
public struct SPSCRing<Element: BitwiseCopyable>: ~Copyable, @unchecked Sendable {
    @usableFromInline let slots: UnsafeMutablePointer<Element>
    @usableFromInline let mask: Int
    /// Written by the consumer (next slot to read), read by the producer.
    @usableFromInline let head: UnsafeMutablePointer<Atomic<Int>>
    /// Written by the producer (next slot to write), read by the consumer.
    @usableFromInline let tail: UnsafeMutablePointer<Atomic<Int>>
    /// Producer-private: its last view of `head`, and its own tail.
    @usableFromInline let producer: UnsafeMutablePointer<Int>
    /// Consumer-private: its last view of `tail`, and its own head.
    @usableFromInline let consumer: UnsafeMutablePointer<Int>
    @usableFromInline let memory: UnsafeMutableRawPointer

    /// - Parameter capacity: rounded up to a power of two.
    public init(capacity: Int) {
        precondition(capacity > 0)
        var size = 1
        while size < capacity { size <<= 1 }
        mask = size - 1
        slots = .allocate(capacity: size)
        // Four cache lines: head, tail, producer state, consumer state.
        memory = .allocate(byteCount: 256, alignment: 64)
        head = memory.bindMemory(to: Atomic<Int>.self, capacity: 1)
        head.initialize(to: Atomic(0))
        tail = (memory + 64).bindMemory(to: Atomic<Int>.self, capacity: 1)
        tail.initialize(to: Atomic(0))
        producer = (memory + 128).bindMemory(to: Int.self, capacity: 2)
        producer.initialize(repeating: 0, count: 2)  // [cachedHead, tail]
        consumer = (memory + 192).bindMemory(to: Int.self, capacity: 2)
        consumer.initialize(repeating: 0, count: 2)  // [cachedTail, head]
    }

    deinit {
        slots.deallocate()
        memory.deallocate()
    }

    /// How many values it holds at most.
    @inlinable public var capacity: Int { mask &+ 1 }

    /// Producer only: appends `value`, or returns false when full.
    @inlinable @inline(__always)
    public func push(_ value: Element) -> Bool {
        let t = producer[1]
        if t &- producer[0] > mask {
            producer[0] = head.pointee.load(ordering: .acquiring)
            if t &- producer[0] > mask { return false }
        }
        slots[t & mask] = value
        producer[1] = t &+ 1
        tail.pointee.store(t &+ 1, ordering: .releasing)
        return true
    }

    /// Producer only: how many more values fit now (a lower bound).
    @inlinable
    public var freeSpace: Int {
        producer[0] = head.pointee.load(ordering: .acquiring)
        return mask &+ 1 &- (producer[1] &- producer[0])
    }

    /// Consumer only: takes the oldest value, or nil when empty.
    @inlinable @inline(__always)
    public func pop() -> Element? {
        let h = consumer[1]
        if h == consumer[0] {
            consumer[0] = tail.pointee.load(ordering: .acquiring)
            if h == consumer[0] { return nil }
        }
        let value = slots[h & mask]
        consumer[1] = h &+ 1
        head.pointee.store(h &+ 1, ordering: .releasing)
        return value
    }

    /// Consumer only: the value `ahead` places past the next one, without
    /// taking anything (for prefetching), or nil when it has not arrived.
    @inlinable @inline(__always)
    public func peek(ahead: Int) -> Element? {
        let h = consumer[1] &+ ahead
        if h &- consumer[0] >= 0 {
            consumer[0] = tail.pointee.load(ordering: .acquiring)
            if h &- consumer[0] >= 0 { return nil }
        }
        return slots[h & mask]
    }

    /// Any thread: roughly how many values wait (exact when both sides rest).
    public var count: Int {
        tail.pointee.load(ordering: .acquiring) &- head.pointee.load(ordering: .acquiring)
    }
}
