import Capture
import Synchronization

/// One live tap's ring on one worker: a bounded single-producer (the
/// worker) single-consumer (the control plane) ring of bytes, holding whole
/// frames with a small header each. The worker copies a matching frame in
/// when it fits and counts a drop when it does not: it never waits for the
/// reader.
///
/// A record is ``TapRecord/headerSize`` bytes of header then the frame,
/// padded to 8 bytes. A record never wraps: when it does not fit before the
/// end, a wrap marker fills the rest and it starts at the beginning.
public final class TapRing: @unchecked Sendable {
    /// The bytes (a power of two).
    public let capacity: Int
    let bytes: UnsafeMutableRawPointer
    /// Cache lines: head (consumer), tail (producer), the producer's counts.
    let control: UnsafeMutableRawPointer
    /// The next byte to read: written by the consumer.
    let head: UnsafeMutablePointer<Atomic<Int>>
    /// The byte after the last record: written by the producer.
    let tail: UnsafeMutablePointer<Atomic<Int>>
    /// Frames that matched (copied or dropped), and those dropped for want
    /// of room: written by the producer only.
    let matched: UnsafeMutablePointer<Atomic<Int>>
    let dropped: UnsafeMutablePointer<Atomic<Int>>

    /// - Parameter capacity: bytes, rounded up to a power of two (at least 256 KiB, so that the largest frame fits).
    public init(capacity: Int) {
        let size = TapRing.size(for: capacity)
        self.capacity = size
        bytes = .allocate(byteCount: size, alignment: 64)
        control = .allocate(byteCount: 192, alignment: 64)
        head = control.bindMemory(to: Atomic<Int>.self, capacity: 1)
        head.initialize(to: Atomic(0))
        tail = (control + 64).bindMemory(to: Atomic<Int>.self, capacity: 1)
        tail.initialize(to: Atomic(0))
        matched = (control + 128).bindMemory(to: Atomic<Int>.self, capacity: 2)
        matched.initialize(to: Atomic(0))
        dropped = matched + 1
        dropped.initialize(to: Atomic(0))
    }

    deinit {
        bytes.deallocate()
        control.deallocate()
    }

    /// The bytes a ring asked to hold `capacity` has.
    public static func size(for capacity: Int) -> Int {
        var size = 262_144
        while size < capacity && size < 1 << 40 { size <<= 1 }
        return size
    }

    /// Control plane, while no worker produces into it: empties it and
    /// zeroes its counts.
    func reset() {
        head.pointee.store(0, ordering: .relaxed)
        tail.pointee.store(0, ordering: .relaxed)
        matched.pointee.store(0, ordering: .relaxed)
        dropped.pointee.store(0, ordering: .relaxed)
    }

    /// Frames that matched the tap on this worker, and those dropped.
    public var counts: (matched: Int, dropped: Int) {
        (matched.pointee.load(ordering: .relaxed), dropped.pointee.load(ordering: .relaxed))
    }

    /// Consumer: hands each waiting record to `body`, oldest first, until
    /// the ring is empty or `body` returns false (that record stays). The
    /// frame's bytes are valid only during the call. Returns how many were
    /// taken.
    @discardableResult
    public func consume(_ body: (TapRecord, UnsafeRawBufferPointer) -> Bool) -> Int {
        var h = head.pointee.load(ordering: .relaxed)
        let t = tail.pointee.load(ordering: .acquiring)
        let mask = capacity &- 1
        var taken = 0
        while h != t {
            let at = bytes + (h & mask)
            let length = Int(at.loadUnaligned(as: UInt32.self))
            if length == Int(TapRecord.wrapMarker) {
                h &+= capacity &- (h & mask)
                continue
            }
            let record = TapRecord(
                captured: Int(at.loadUnaligned(fromByteOffset: 4, as: UInt32.self)),
                wire: Int(at.loadUnaligned(fromByteOffset: 8, as: UInt32.self)),
                source: Int(at.loadUnaligned(fromByteOffset: 12, as: Int32.self)),
                linkType: at.loadUnaligned(fromByteOffset: 16, as: UInt32.self),
                timestamp: at.loadUnaligned(fromByteOffset: 24, as: Int64.self))
            let frame = UnsafeRawBufferPointer(start: at + TapRecord.headerSize, count: record.captured)
            guard body(record, frame) else { break }
            h &+= length
            taken &+= 1
        }
        head.pointee.store(h, ordering: .releasing)
        return taken
    }

    /// Consumer: whether a record waits.
    public var isEmpty: Bool {
        head.pointee.load(ordering: .relaxed) == tail.pointee.load(ordering: .acquiring)
    }
}

/// One frame as a tap's ring holds it.
public struct TapRecord: Sendable, Equatable {
    /// Bytes kept (after the tap's snap length), and the length on the wire.
    public var captured: Int
    public var wire: Int
    /// The live source (its index in the configuration), or -1 for a
    /// replayed frame.
    public var source: Int
    /// LINKTYPE_ of the frame.
    public var linkType: UInt32
    /// Nanoseconds since the epoch.
    public var timestamp: Int64

    public init(captured: Int, wire: Int, source: Int, linkType: UInt32, timestamp: Int64) {
        self.captured = captured
        self.wire = wire
        self.source = source
        self.linkType = linkType
        self.timestamp = timestamp
    }

    /// length, captured, wire, source, link type, reserved, timestamp.
    public static let headerSize = 32
    static let wrapMarker = UInt32.max
}

/// A worker's end of one tap: where it copies frames, what it copies, and
/// its private view of the ring's indices. Plain pointers: nothing on the
/// packet path counts references.
@usableFromInline
struct TapView {
    var bytes: UnsafeMutableRawPointer
    var mask: Int
    var head: UnsafeMutablePointer<Atomic<Int>>
    var tail: UnsafeMutablePointer<Atomic<Int>>
    var matched: UnsafeMutablePointer<Atomic<Int>>
    var dropped: UnsafeMutablePointer<Atomic<Int>>
    /// The producer's own tail, and its last look at the head.
    var produced: Int
    var seenHead: Int
    /// The filter (nil: every frame), the source (nil: any), the snap length.
    var filter: FilterTable?
    var source: Int?
    var snaplen: Int

    init(ring: TapRing, spec: TapSpec) {
        bytes = ring.bytes
        mask = ring.capacity &- 1
        head = ring.head
        tail = ring.tail
        matched = ring.matched
        dropped = ring.dropped
        produced = ring.tail.pointee.load(ordering: .relaxed)
        seenHead = ring.head.pointee.load(ordering: .acquiring)
        filter = spec.filter?.table
        source = spec.source
        snaplen = spec.snaplen
    }

    /// Copies the frame in if it is the tap's and fits; true when copied,
    /// false when dropped, nil when not the tap's.
    @inline(__always)
    mutating func offer(
        _ frame: UnsafeRawPointer, captured: Int, wire: Int, source frameSource: Int, linkType: UInt32,
        timestamp: Int64
    ) -> Bool? {
        if let source, source != frameSource { return nil }
        if let filter, !filter.matches(linkType: linkType, frame: frame, captured: captured, wire: wire) {
            return nil
        }
        matched.pointee.store(matched.pointee.load(ordering: .relaxed) &+ 1, ordering: .relaxed)
        let kept = Swift.min(captured, snaplen)
        let need = (TapRecord.headerSize &+ kept &+ 7) & ~7
        let capacity = mask &+ 1
        let at = produced & mask
        let toEnd = capacity &- at
        let total = toEnd < need ? toEnd &+ need : need
        if capacity &- (produced &- seenHead) < total {
            seenHead = head.pointee.load(ordering: .acquiring)
            if capacity &- (produced &- seenHead) < total {
                dropped.pointee.store(dropped.pointee.load(ordering: .relaxed) &+ 1, ordering: .relaxed)
                return false
            }
        }
        if toEnd < need {
            (bytes + at).storeBytes(of: TapRecord.wrapMarker, as: UInt32.self)
            produced &+= toEnd
        }
        let record = bytes + (produced & mask)
        record.storeBytes(of: UInt32(truncatingIfNeeded: need), as: UInt32.self)
        record.storeBytes(of: UInt32(truncatingIfNeeded: kept), toByteOffset: 4, as: UInt32.self)
        record.storeBytes(of: UInt32(truncatingIfNeeded: Swift.max(wire, captured)), toByteOffset: 8, as: UInt32.self)
        record.storeBytes(of: Int32(truncatingIfNeeded: frameSource), toByteOffset: 12, as: Int32.self)
        record.storeBytes(of: linkType, toByteOffset: 16, as: UInt32.self)
        record.storeBytes(of: 0, toByteOffset: 20, as: UInt32.self)
        record.storeBytes(of: timestamp, toByteOffset: 24, as: Int64.self)
        (record + TapRecord.headerSize).copyMemory(from: frame, byteCount: kept)
        produced &+= need
        tail.pointee.store(produced, ordering: .releasing)
        return true
    }
}
