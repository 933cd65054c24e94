import CRoomsSupport
import Packet

/// One flow's record: both directions' packets and bytes, when it was first
/// and last seen (on the packets' own clock), and the TCP flags seen.
@frozen
public struct FlowRecord: Sendable {
    public var key: FlowKey
    /// Packets and captured bytes from A to B, and from B to A.
    public var packetsAB: UInt64
    public var packetsBA: UInt64
    public var bytesAB: UInt64
    public var bytesBA: UInt64
    /// Nanoseconds since the epoch, from the packets' timestamps.
    public var firstSeen: Int64
    public var lastSeen: Int64
    /// Every TCP flag seen in either direction.
    public var tcpFlags: UInt8
    var used: Bool

    public var packets: UInt64 { packetsAB &+ packetsBA }
    public var bytes: UInt64 { bytesAB &+ bytesBA }
}

/// What the flow table did with a packet.
public enum FlowUpdate: Sendable {
    /// Counted on an existing flow.
    case existing
    /// Started a new flow.
    case created
    /// Started a new flow in place of an idle one that timed out.
    case createdAfterExpiry
    /// The table is full: the packet is not tracked.
    case full
}

/// A per-worker flow table: fixed capacity, allocated once, open addressing
/// with linear probing; nothing on the packet path touches the heap.
///
/// Flows idle longer than the timeout, on the packets' own clock, expire:
/// a probe that meets one may take its slot, and a sweep cursor that moves a
/// few slots per packet evicts the rest. A full table is counted, never grown.
public struct FlowTable: ~Copyable, @unchecked Sendable {
    let slots: UnsafeMutablePointer<FlowRecord>
    let mask: Int
    let idleTimeout: Int64
    /// The longest probe before a new flow is refused.
    let maximumProbe: Int
    var live: Int
    var sweep: Int
    var ticks: Int = 0
    /// Flows evicted because they idled out.
    public private(set) var expired: Int = 0
    /// The 64-bit hash placement uses: the flow key's own.
    static func hash(_ key: FlowKey) -> UInt64 { key.hash64 }

    /// - Parameters:
    ///   - capacity: slots, rounded up to a power of two; the table refuses new
    ///     flows beyond 7/8 of it.
    ///   - idleTimeout: nanoseconds of silence after which a flow expires.
    public init(capacity: Int, idleTimeout: Int64) {
        var size = 16
        while size < capacity { size <<= 1 }
        mask = size - 1
        self.idleTimeout = idleTimeout
        maximumProbe = Swift.min(size, 128)
        slots = .allocate(capacity: size)
        slots.initialize(
            repeating: FlowRecord(
                key: FlowKey(), packetsAB: 0, packetsBA: 0, bytesAB: 0, bytesBA: 0,
                firstSeen: 0, lastSeen: 0, tcpFlags: 0, used: false), count: size)
        live = 0
        sweep = 0
    }

    deinit {
        slots.deallocate()
    }

    public var capacity: Int { mask + 1 }

    /// Starts loading the slot a flow of this hash lands on.
    @inline(__always)
    public func prefetch(hash: UInt32) {
        lab_prefetch_write(UnsafeRawPointer(slots + (Int(hash) & mask)))
    }
    /// Flows in the table now.
    public var count: Int { live }

    /// Counts a packet on its flow, creating the flow when new. `now` is the
    /// packet's timestamp. `hash`, when not 0, must be the low 32 bits of
    /// `key.hash64` (a source that already computed it saves the work).
    public mutating func update(key: FlowKey, hash: UInt32 = 0, forward: Bool, bytes: Int, tcpFlags: UInt8, now: Int64)
        -> FlowUpdate
    {
        sweepStep(now: now)
        var i = (hash != 0 ? Int(hash) : Int(truncatingIfNeeded: key.hash64)) & mask
        var reusable = -1
        var probe = 0
        while probe < maximumProbe {
            let s = slots + i
            if !s.pointee.used {
                break
            }
            if s.pointee.key == key {
                if now &- s.pointee.lastSeen > idleTimeout {
                    // The same key after a silence: a new flow.
                    expired &+= 1
                    start(s, key: key, now: now)
                    count(s, forward: forward, bytes: bytes, tcpFlags: tcpFlags, now: now)
                    return .createdAfterExpiry
                }
                count(s, forward: forward, bytes: bytes, tcpFlags: tcpFlags, now: now)
                return .existing
            }
            if reusable < 0 && now &- s.pointee.lastSeen > idleTimeout { reusable = i }
            i = (i &+ 1) & mask
            probe &+= 1
        }
        if reusable >= 0 {
            // Take an idle flow's slot on this key's own probe path.
            let s = slots + reusable
            expired &+= 1
            start(s, key: key, now: now)
            count(s, forward: forward, bytes: bytes, tcpFlags: tcpFlags, now: now)
            return .createdAfterExpiry
        }
        if probe == maximumProbe || live >= (mask + 1) - (mask + 1) / 8 {
            return .full
        }
        let s = slots + i
        live &+= 1
        start(s, key: key, now: now)
        count(s, forward: forward, bytes: bytes, tcpFlags: tcpFlags, now: now)
        return .created
    }

    @inline(__always)
    func start(_ s: UnsafeMutablePointer<FlowRecord>, key: FlowKey, now: Int64) {
        s.pointee = FlowRecord(
            key: key, packetsAB: 0, packetsBA: 0, bytesAB: 0, bytesBA: 0,
            firstSeen: now, lastSeen: now, tcpFlags: 0, used: true)
    }

    @inline(__always)
    func count(_ s: UnsafeMutablePointer<FlowRecord>, forward: Bool, bytes: Int, tcpFlags: UInt8, now: Int64) {
        if forward {
            s.pointee.packetsAB &+= 1
            s.pointee.bytesAB &+= UInt64(truncatingIfNeeded: bytes)
        } else {
            s.pointee.packetsBA &+= 1
            s.pointee.bytesBA &+= UInt64(truncatingIfNeeded: bytes)
        }
        s.pointee.tcpFlags |= tcpFlags
        if now > s.pointee.lastSeen { s.pointee.lastSeen = now }
    }

    /// Every fourth packet looks at one slot and evicts it when idle, keeping
    /// probe chains intact by shifting later entries back (no tombstones).
    @inline(__always)
    mutating func sweepStep(now: Int64) {
        ticks &+= 1
        if ticks & 3 != 0 { return }
        let i = sweep
        sweep = (i &+ 1) & mask
        let s = slots + i
        if s.pointee.used && now &- s.pointee.lastSeen > idleTimeout {
            expired &+= 1
            remove(at: i)
        }
    }

    /// Backward-shift deletion for linear probing.
    @usableFromInline
    mutating func remove(at index: Int) {
        var hole = index
        var j = index
        while true {
            j = (j &+ 1) & mask
            let s = slots + j
            if !s.pointee.used { break }
            let home = Int(truncatingIfNeeded: s.pointee.key.hash64) & mask
            // Move j into the hole if its home is not in (hole, j].
            let distanceFromHome = (j &- home) & mask
            let distanceFromHole = (j &- hole) & mask
            if distanceFromHome >= distanceFromHole {
                slots[hole] = s.pointee
                hole = j
            }
        }
        slots[hole].used = false
        live &-= 1
    }

    /// The `count` flows with the most bytes (or packets), biggest first,
    /// written into `buffer` (room for `count`): one pass over the table with
    /// a min-heap in the buffer, no allocation. Returns how many.
    public func top(_ count: Int, byPackets: Bool, into buffer: UnsafeMutablePointer<FlowRecord>) -> Int {
        @inline(__always) func weight(_ r: FlowRecord) -> UInt64 { byPackets ? r.packets : r.bytes }
        var n = 0
        func siftDown(_ start: Int, _ size: Int) {
            var i = start
            while true {
                let l = 2 * i + 1
                let r = l + 1
                var smallest = i
                if l < size && weight(buffer[l]) < weight(buffer[smallest]) { smallest = l }
                if r < size && weight(buffer[r]) < weight(buffer[smallest]) { smallest = r }
                if smallest == i { return }
                swap(&buffer[i], &buffer[smallest])
                i = smallest
            }
        }
        guard count > 0 else { return 0 }
        for i in 0...mask where slots[i].used {
            let record = slots[i]
            if n < count {
                buffer[n] = record
                n += 1
                // Sift up.
                var c = n - 1
                while c > 0 {
                    let p = (c - 1) / 2
                    if weight(buffer[c]) >= weight(buffer[p]) { break }
                    swap(&buffer[c], &buffer[p])
                    c = p
                }
            } else if weight(record) > weight(buffer[0]) {
                buffer[0] = record
                siftDown(0, n)
            }
        }
        // Heap sort, biggest first.
        var size = n
        while size > 1 {
            swap(&buffer[0], &buffer[size - 1])
            size -= 1
            siftDown(0, size)
        }
        return n
    }

    /// Every flow in the table, for reports (not on the packet path).
    public func flows() -> [FlowRecord] {
        var out: [FlowRecord] = []
        out.reserveCapacity(live)
        for i in 0...mask where slots[i].used { out.append(slots[i]) }
        return out
    }
}
