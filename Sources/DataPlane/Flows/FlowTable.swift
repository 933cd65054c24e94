import CRoomsSupport
import Packet
import Sinks
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// One flow as reports see it: both directions' packets, captured bytes and
/// IP octets, first and last times and TCP flags, of the flow's current
/// record (a flow split by the active timeout starts counting again).
@frozen
public struct FlowRecord: Sendable {
    public var key: FlowKey
    /// Packets, captured bytes and IP-layer octets from A to B and back.
    public var packetsAB: UInt64
    public var packetsBA: UInt64
    public var bytesAB: UInt64
    public var bytesBA: UInt64
    public var octetsAB: UInt64
    public var octetsBA: UInt64
    /// Nanoseconds since the epoch, on the clock of the packets.
    public var firstSeen: Int64
    public var lastSeen: Int64
    public var tcpFlagsAB: UInt8
    public var tcpFlagsBA: UInt8
    /// The interface the flow came in on (ifindex; 0 in replay).
    public var ingress: UInt32

    public var packets: UInt64 { packetsAB &+ packetsBA }
    public var bytes: UInt64 { bytesAB &+ bytesBA }
    public var octets: UInt64 { octetsAB &+ octetsBA }
    /// Every TCP flag seen in either direction.
    public var tcpFlags: UInt8 { tcpFlagsAB | tcpFlagsBA }
}

/// What the flow table did with a packet.
public enum FlowUpdate: Sendable, Equatable {
    /// Counted on an existing flow.
    case existing
    /// Started a new flow.
    case created
    /// Started a new flow where one had ended (idle, or TCP end and linger).
    case createdAfterEnd
    /// Started a new flow in the slot of the least recently seen one, which
    /// was evicted (the table was full).
    case createdAfterEviction
}

/// When a flow ends, in nanoseconds on the table's clock.
public struct FlowTimeouts: Sendable, Equatable {
    /// No packet for this long: ended (IPFIX flowEndReason 1).
    public var idle: Int64
    /// A record older than this is exported and the flow counts afresh (2).
    public var active: Int64
    /// After FIN both ways or an RST, silence this long ends it (3).
    public var linger: Int64

    public init(idle: Int64 = 120_000_000_000, active: Int64 = 60_000_000_000, linger: Int64 = 2_000_000_000) {
        self.idle = idle
        self.active = active
        self.linger = linger
    }
}

/// The line every packet of a flow touches: its key, when it was last seen,
/// when its record started, its TCP state and flags. 64 bytes, one cache line.
@frozen @usableFromInline
struct FlowHot {
    @usableFromInline var key: FlowKey
    /// The latest packet either way (0 in an empty slot).
    @usableFromInline var lastSeen: Int64
    /// The first packet of the current record; 0 while the record (after an
    /// active-timeout export) has none.
    @usableFromInline var recordStart: Int64
    @usableFromInline var ingress: UInt32
    @usableFromInline var flagsAB: UInt8
    @usableFromInline var flagsBA: UInt8
    /// `used`, FIN seen A→B, FIN seen B→A, RST seen.
    @usableFromInline var state: UInt8
    @usableFromInline var reserved: UInt8

    @inlinable
    init(
        key: FlowKey, lastSeen: Int64, recordStart: Int64, ingress: UInt32, flagsAB: UInt8, flagsBA: UInt8,
        state: UInt8, reserved: UInt8
    ) {
        self.key = key
        self.lastSeen = lastSeen
        self.recordStart = recordStart
        self.ingress = ingress
        self.flagsAB = flagsAB
        self.flagsBA = flagsBA
        self.state = state
        self.reserved = reserved
    }

    @usableFromInline static let used: UInt8 = 1
    @usableFromInline static let finAB: UInt8 = 2
    @usableFromInline static let finBA: UInt8 = 4
    @usableFromInline static let reset: UInt8 = 8

    @inlinable var isUsed: Bool { state & FlowHot.used != 0 }
    /// FIN both ways, or an RST: the flow has ended and lingers.
    @inlinable var isClosing: Bool {
        state & FlowHot.reset != 0 || state & (FlowHot.finAB | FlowHot.finBA) == FlowHot.finAB | FlowHot.finBA
    }
}

/// What only a hit touches: the counters and the per-direction times.
@frozen @usableFromInline
struct FlowCold {
    @usableFromInline var packetsAB: UInt64
    @usableFromInline var packetsBA: UInt64
    @usableFromInline var bytesAB: UInt64
    @usableFromInline var bytesBA: UInt64
    @usableFromInline var octetsAB: UInt64
    @usableFromInline var octetsBA: UInt64
    @usableFromInline var firstAB: Int64
    @usableFromInline var firstBA: Int64
    @usableFromInline var lastAB: Int64
    @usableFromInline var lastBA: Int64
    @usableFromInline var icmpAB: UInt16
    @usableFromInline var icmpBA: UInt16

    @inlinable
    init(
        packetsAB: UInt64, packetsBA: UInt64, bytesAB: UInt64, bytesBA: UInt64, octetsAB: UInt64, octetsBA: UInt64,
        firstAB: Int64, firstBA: Int64, lastAB: Int64, lastBA: Int64, icmpAB: UInt16, icmpBA: UInt16
    ) {
        self.packetsAB = packetsAB
        self.packetsBA = packetsBA
        self.bytesAB = bytesAB
        self.bytesBA = bytesBA
        self.octetsAB = octetsAB
        self.octetsBA = octetsBA
        self.firstAB = firstAB
        self.firstBA = firstBA
        self.lastAB = lastAB
        self.lastBA = lastBA
        self.icmpAB = icmpAB
        self.icmpBA = icmpBA
    }

    @usableFromInline static let zero = FlowCold(
        packetsAB: 0, packetsBA: 0, bytesAB: 0, bytesBA: 0, octetsAB: 0, octetsBA: 0, firstAB: 0, firstBA: 0,
        lastAB: 0, lastBA: 0, icmpAB: 0, icmpBA: 0)
}

/// A per-worker flow table: fixed capacity, allocated once, open addressing
/// with linear probing; nothing on the packet path touches the heap.
///
/// Each slot is a 64-byte hot line (key, last seen, state) in one array and
/// its counters in a parallel cold array, so that probing and sweeping read
/// only hot lines, and a hit touches one line of each.
///
/// A flow ends, and its record goes to the export ring when there is one,
/// when it idles out, reaches the active timeout (and goes on counting
/// afresh), ends in TCP (FIN both ways, or RST, then a linger), is forced
/// out (``flushAll(reason:now:)``), or is evicted: a new flow that finds the
/// table full (7/8 of the slots, or a probe chain at its limit) takes the
/// slot of the least recently seen flow on its probe path. Timeouts run on
/// the clock the worker passes: the packets' own in replay, the wall clock
/// live; ``sweep(now:slots:)`` lets them fire on an idle link too.
/// The memory of a flow table's arrays. A large table is mapped on its own
/// and advised to use transparent huge pages (MADV_HUGEPAGE: this machine's
/// THP mode is `madvise`, so malloc'd memory never gets them): every packet
/// reads one slot at random, and with 4 KiB pages nearly every one is a TLB
/// miss, which a VM's nested paging makes cost hundreds of nanoseconds. The
/// table's initialisation then faults every page in, before any packet.
enum TableMemory {
    static let hugePage = 2 << 20
    /// Below this a table stays on the heap.
    static let mapped = 1 << 20

    /// A map of at least `byteCount` bytes on 2 MiB boundaries, or nil
    /// (too small to be worth it, or mmap refused: the caller takes the heap).
    static func map(byteCount: Int) -> UnsafeMutableRawPointer? {
        guard byteCount >= mapped else { return nil }
        let size = (byteCount + hugePage - 1) / hugePage * hugePage
        // Over-map by a huge page, then trim to a 2 MiB boundary.
        let span = size + hugePage
        guard let raw = mmap(nil, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
            raw != MAP_FAILED
        else { return nil }
        let start = UInt(bitPattern: raw)
        let aligned = (start + UInt(hugePage) - 1) & ~UInt(hugePage - 1)
        let head = Int(aligned - start)
        if head > 0 { munmap(raw, head) }
        let tail = span - head - size
        if tail > 0 { munmap(UnsafeMutableRawPointer(bitPattern: aligned + UInt(size)), tail) }
        let base = UnsafeMutableRawPointer(bitPattern: aligned)
        _ = madvise(base, size, MADV_HUGEPAGE)  // refused: 4 KiB pages, still correct
        return base
    }

    static func deallocate(_ base: UnsafeMutableRawPointer, byteCount: Int, mapped: Bool) {
        if mapped {
            munmap(base, (byteCount + hugePage - 1) / hugePage * hugePage)
        } else {
            base.deallocate()
        }
    }
}

public struct FlowTable: ~Copyable, @unchecked Sendable {
    @usableFromInline let hot: UnsafeMutablePointer<FlowHot>
    @usableFromInline let cold: UnsafeMutablePointer<FlowCold>
    /// Whether each array was mapped (``TableMemory``), or is on the heap.
    let hotMapped: Bool
    let coldMapped: Bool
    @usableFromInline let mask: Int
    public let timeouts: FlowTimeouts
    /// Where ended flows go (nil: nowhere; they are only counted).
    @usableFromInline let export: FlowExportRing?
    /// The longest probe.
    @usableFromInline let maximumProbe: Int
    @usableFromInline var live: Int
    @usableFromInline var sweepCursor: Int
    /// Flows ended, by reason (IPFIX flowEndReason 1...5 at [1...5]).
    public private(set) var ended: (Int, Int, Int, Int, Int, Int) = (0, 0, 0, 0, 0, 0)
    /// Records the export ring had no room for.
    public private(set) var exportDropped = 0
    /// Records handed to the export ring.
    public private(set) var exported = 0
    /// While flushing at the end of a run: wait for room in the export ring
    /// (until the deadline, monotonic ns) instead of dropping.
    @usableFromInline var waitForExport = false
    @usableFromInline var waitDeadline: Int64 = 0

    /// - Parameters:
    ///   - capacity: slots, rounded up to a power of two; new flows beyond
    ///     7/8 of it evict.
    ///   - timeouts: when flows end.
    ///   - export: the ring ended flows go to, if any.
    public init(capacity: Int, timeouts: FlowTimeouts, export: FlowExportRing? = nil) {
        var size = 16
        while size < capacity { size <<= 1 }
        mask = size - 1
        self.timeouts = timeouts
        self.export = export
        maximumProbe = Swift.min(size, 128)
        let hotBytes = size * MemoryLayout<FlowHot>.stride
        let hotMap = TableMemory.map(byteCount: hotBytes)
        hotMapped = hotMap != nil
        let hotMemory = hotMap ?? .allocate(byteCount: hotBytes, alignment: 64)
        hotMemory.initializeMemory(as: UInt8.self, repeating: 0, count: hotBytes)
        hot = hotMemory.bindMemory(to: FlowHot.self, capacity: size)
        let coldBytes = size * MemoryLayout<FlowCold>.stride
        let coldMap = TableMemory.map(byteCount: coldBytes)
        coldMapped = coldMap != nil
        cold = (coldMap ?? .allocate(byteCount: coldBytes, alignment: 64)).bindMemory(to: FlowCold.self, capacity: size)
        cold.initialize(repeating: .zero, count: size)
        live = 0
        sweepCursor = 0
    }

    deinit {
        TableMemory.deallocate(
            UnsafeMutableRawPointer(hot), byteCount: (mask + 1) * MemoryLayout<FlowHot>.stride, mapped: hotMapped)
        TableMemory.deallocate(
            UnsafeMutableRawPointer(cold), byteCount: (mask + 1) * MemoryLayout<FlowCold>.stride, mapped: coldMapped)
    }

    public var capacity: Int { mask + 1 }
    /// Flows in the table now.
    public var count: Int { live }

    public func ended(_ reason: FlowEndReason) -> Int {
        switch reason {
        case .idleTimeout: return ended.1
        case .activeTimeout: return ended.2
        case .endOfFlowDetected: return ended.3
        case .forcedEnd: return ended.4
        case .lackOfResources: return ended.5
        }
    }

    /// Starts loading the lines a flow of this hash lands on: its hot line,
    /// and both lines its counters span (88 bytes at a stride of 88: every
    /// record straddles two lines, and a packet touches both, its count at
    /// the start and its time past the 64th byte; prefetching the first
    /// alone left the second's miss in `count`, about 40 % of the worker's
    /// samples at 4096 flows).
    @inline(__always)
    public func prefetch(hash: UInt32) {
        let i = Int(hash) & mask
        lab_prefetch_write(UnsafeRawPointer(hot + i))
        let c = UnsafeRawPointer(cold + i)
        lab_prefetch_write(c)
        lab_prefetch_write(c + (MemoryLayout<FlowCold>.size &- 1))
    }

    /// Counts a packet on its flow, creating the flow when new. `now` is the
    /// packet's time. `hash`, when not 0, must be the low 32 bits of
    /// `key.hash64` (a source that already computed it saves the work).
    @inlinable
    public mutating func update(
        key: FlowKey, hash: UInt32 = 0, forward: Bool, bytes: Int, octets: UInt32, tcpFlags: UInt8,
        icmpTypeCode: UInt16 = 0, ingress: UInt32 = 0, now: Int64
    ) -> FlowUpdate {
        let home = (hash != 0 ? Int(hash) : Int(truncatingIfNeeded: key.hash64)) & mask
        var i = home
        var probe = 0
        // The least recently seen flow on the probe path: the victim if the
        // table is full.
        var victim = -1
        var victimSeen = Int64.max
        while probe < maximumProbe {
            let h = hot + i
            if !h.pointee.isUsed { break }
            if h.pointee.key == key {
                let last = h.pointee.lastSeen
                if now &- last > timeouts.idle || (h.pointee.isClosing && now &- last > timeouts.linger) {
                    // The same key after its flow ended: a new flow in place.
                    end(i, reason: h.pointee.isClosing ? .endOfFlowDetected : .idleTimeout)
                    start(i, key: key, ingress: ingress, now: now)
                    count(
                        i, forward: forward, bytes: bytes, octets: octets, tcpFlags: tcpFlags, icmp: icmpTypeCode,
                        now: now)
                    return .createdAfterEnd
                }
                if _slowPath(h.pointee.recordStart != 0 && now &- h.pointee.recordStart > timeouts.active) {
                    end(i, reason: .activeTimeout)
                    restart(i)
                }
                count(
                    i, forward: forward, bytes: bytes, octets: octets, tcpFlags: tcpFlags, icmp: icmpTypeCode, now: now)
                return .existing
            }
            if h.pointee.lastSeen < victimSeen {
                victimSeen = h.pointee.lastSeen
                victim = i
            }
            i = (i &+ 1) & mask
            probe &+= 1
        }
        if probe == maximumProbe || live >= (mask + 1) - (mask + 1) / 8 {
            // Full: the new flow takes the place of the least recently seen
            // one on its own probe path (which keeps every chain intact).
            if victim < 0 { victim = leastRecentAhead(of: home) }
            if victim >= 0 {
                end(victim, reason: .lackOfResources)
                start(victim, key: key, ingress: ingress, now: now)
                count(
                    victim, forward: forward, bytes: bytes, octets: octets, tcpFlags: tcpFlags, icmp: icmpTypeCode,
                    now: now)
                return .createdAfterEviction
            }
        }
        live &+= 1
        start(i, key: key, ingress: ingress, now: now)
        count(i, forward: forward, bytes: bytes, octets: octets, tcpFlags: tcpFlags, icmp: icmpTypeCode, now: now)
        return .created
    }

    /// With an empty home slot and a full table: the least recently seen
    /// of the next few used slots, or -1.
    @usableFromInline
    func leastRecentAhead(of home: Int) -> Int {
        var best = -1
        var seen = Int64.max
        var i = home
        for _ in 0..<Swift.min(16, mask &+ 1) {
            if hot[i].isUsed && hot[i].lastSeen < seen {
                seen = hot[i].lastSeen
                best = i
            }
            i = (i &+ 1) & mask
        }
        return best
    }

    @inlinable @inline(__always)
    func start(_ i: Int, key: FlowKey, ingress: UInt32, now: Int64) {
        hot[i] = FlowHot(
            key: key, lastSeen: now, recordStart: now, ingress: ingress, flagsAB: 0, flagsBA: 0, state: FlowHot.used,
            reserved: 0)
        cold[i] = .zero
    }

    /// After an active-timeout export: the same flow, its counters afresh.
    @inlinable
    func restart(_ i: Int) {
        hot[i].recordStart = 0
        hot[i].flagsAB = 0
        hot[i].flagsBA = 0
        cold[i] = .zero
    }

    @inlinable @inline(__always)
    func count(
        _ i: Int, forward: Bool, bytes: Int, octets: UInt32, tcpFlags: UInt8, icmp: UInt16, now: Int64
    ) {
        let h = hot + i
        let c = cold + i
        let b = UInt64(truncatingIfNeeded: bytes)
        let o = UInt64(octets)
        if forward {
            if c.pointee.packetsAB == 0 {
                c.pointee.firstAB = now
                c.pointee.icmpAB = icmp
            }
            c.pointee.packetsAB &+= 1
            c.pointee.bytesAB &+= b
            c.pointee.octetsAB &+= o
            if now > c.pointee.lastAB { c.pointee.lastAB = now }
            h.pointee.flagsAB |= tcpFlags
            if tcpFlags & 0x01 != 0 { h.pointee.state |= FlowHot.finAB }
        } else {
            if c.pointee.packetsBA == 0 {
                c.pointee.firstBA = now
                c.pointee.icmpBA = icmp
            }
            c.pointee.packetsBA &+= 1
            c.pointee.bytesBA &+= b
            c.pointee.octetsBA &+= o
            if now > c.pointee.lastBA { c.pointee.lastBA = now }
            h.pointee.flagsBA |= tcpFlags
            if tcpFlags & 0x01 != 0 { h.pointee.state |= FlowHot.finBA }
        }
        if tcpFlags & 0x04 != 0 { h.pointee.state |= FlowHot.reset }
        if h.pointee.recordStart == 0 { h.pointee.recordStart = now }
        if now > h.pointee.lastSeen { h.pointee.lastSeen = now }
    }

    /// Slot `i`'s flow ends for `reason`: counted, and its record goes to the
    /// export ring (unless it counted nothing since the last record). The
    /// slot stays; the caller reuses, restarts or removes it.
    @usableFromInline
    mutating func end(_ i: Int, reason: FlowEndReason) {
        switch reason {
        case .idleTimeout: ended.1 &+= 1
        case .activeTimeout: ended.2 &+= 1
        case .endOfFlowDetected: ended.3 &+= 1
        case .forcedEnd: ended.4 &+= 1
        case .lackOfResources: ended.5 &+= 1
        }
        guard let export, cold[i].packetsAB | cold[i].packetsBA != 0 else { return }
        let r = record(i, reason: reason)
        if export.ring.push(r) {
            exported &+= 1
            return
        }
        if _slowPath(waitForExport) {
            // The end of a run: the exporter drains the ring, so wait for room
            // (never on the packet path), at most a few seconds in all.
            while lab_monotonic_ns() < waitDeadline {
                var ts = timespec(tv_sec: 0, tv_nsec: 50_000)
                nanosleep(&ts, nil)
                if export.ring.push(r) {
                    exported &+= 1
                    return
                }
            }
        }
        exportDropped &+= 1
        export.dropped(r)
    }

    /// Slot `i` as an export record.
    @usableFromInline
    func record(_ i: Int, reason: FlowEndReason) -> FlowExportRecord {
        let h = hot[i]
        let c = cold[i]
        let k = h.key
        var r = FlowExportRecord(version: k.version == 6 ? .v6 : .v4, ipProtocol: k.proto, endReason: reason)
        r.packetsAB = c.packetsAB
        r.packetsBA = c.packetsBA
        r.octetsAB = c.octetsAB
        r.octetsBA = c.octetsBA
        r.firstAB = c.firstAB
        r.lastAB = c.lastAB
        r.firstBA = c.firstBA
        r.lastBA = c.lastBA
        r.addressA0 = k.a0
        r.addressA1 = k.a1
        r.addressB0 = k.b0
        r.addressB1 = k.b1
        r.ingressInterface = h.ingress
        let icmp = k.proto == 1 || k.proto == 58
        r.portA = icmp ? 0 : k.portA
        r.portB = icmp ? 0 : k.portB
        r.icmpTypeCodeAB = c.icmpAB
        r.icmpTypeCodeBA = c.icmpBA
        r.vlanID = k.vlan
        r.tcpFlagsAB = h.flagsAB
        r.tcpFlagsBA = h.flagsBA
        return r
    }

    // MARK: The timer

    /// Visits `slots` slots from where the last sweep stopped, on the
    /// table's clock at `now`, ending what has ended: idle, closed and
    /// lingered, past the active timeout. Returns the slots visited.
    @discardableResult
    public mutating func sweep(now: Int64, slots: Int) -> Int {
        var visited = 0
        var i = sweepCursor
        while visited < Swift.min(slots, mask &+ 1) {
            let h = hot + i
            if h.pointee.isUsed {
                let silence = now &- h.pointee.lastSeen
                if silence > timeouts.idle || (h.pointee.isClosing && silence > timeouts.linger) {
                    end(i, reason: h.pointee.isClosing ? .endOfFlowDetected : .idleTimeout)
                    remove(at: i)
                    // A later entry may have moved into slot i: look again.
                    visited &+= 1
                    continue
                }
                if h.pointee.recordStart != 0 && now &- h.pointee.recordStart > timeouts.active {
                    end(i, reason: .activeTimeout)
                    restart(i)
                }
            }
            i = (i &+ 1) & mask
            visited &+= 1
        }
        sweepCursor = i
        return visited
    }

    /// Ends every flow for `reason` (a forced end: shutdown, the end of a
    /// replay, a flush) and empties the table.
    public mutating func flushAll(reason: FlowEndReason = .forcedEnd, waitingForExport: Bool = false) {
        waitForExport = waitingForExport
        waitDeadline = Int64(bitPattern: lab_monotonic_ns()) &+ 5_000_000_000
        defer { waitForExport = false }
        for i in 0...mask where hot[i].isUsed {
            end(i, reason: reason)
        }
        UnsafeMutableRawPointer(hot).initializeMemory(
            as: UInt8.self, repeating: 0, count: (mask &+ 1) * MemoryLayout<FlowHot>.stride)
        live = 0
        sweepCursor = 0
    }

    /// Backward-shift deletion for linear probing.
    @usableFromInline
    mutating func remove(at index: Int) {
        var hole = index
        var j = index
        while true {
            j = (j &+ 1) & mask
            if !hot[j].isUsed { break }
            let home = Int(truncatingIfNeeded: hot[j].key.hash64) & mask
            // Move j into the hole if its home is not in (hole, j].
            let distanceFromHome = (j &- home) & mask
            let distanceFromHole = (j &- hole) & mask
            if distanceFromHome >= distanceFromHole {
                hot[hole] = hot[j]
                cold[hole] = cold[j]
                hole = j
            }
        }
        hot[hole].state = 0
        hot[hole].lastSeen = 0
        live &-= 1
    }

    // MARK: Reading

    /// Slot `i` as a report's flow.
    func flowRecord(_ i: Int) -> FlowRecord {
        let h = hot[i]
        let c = cold[i]
        // The earlier direction seen (0: not seen), without an array: this
        // runs on the worker, per flow (`flows`, the end of a run).
        let first: Int64
        switch (c.firstAB != 0, c.firstBA != 0) {
        case (true, true): first = Swift.min(c.firstAB, c.firstBA)
        case (true, false): first = c.firstAB
        case (false, true): first = c.firstBA
        case (false, false): first = h.recordStart
        }
        return FlowRecord(
            key: h.key, packetsAB: c.packetsAB, packetsBA: c.packetsBA, bytesAB: c.bytesAB, bytesBA: c.bytesBA,
            octetsAB: c.octetsAB, octetsBA: c.octetsBA, firstSeen: first, lastSeen: h.lastSeen,
            tcpFlagsAB: h.flagsAB, tcpFlagsBA: h.flagsBA, ingress: h.ingress)
    }

    /// The `count` flows with the most bytes (or packets), biggest first,
    /// written into `buffer` (room for `count`): one pass over the table with
    /// a min-heap in the buffer, no allocation. Returns how many.
    public func top(_ count: Int, byPackets: Bool, into buffer: UnsafeMutablePointer<FlowRecord>) -> Int {
        @inline(__always) func weight(_ r: FlowRecord) -> UInt64 { byPackets ? r.packets : r.bytes }
        @inline(__always) func weight(at i: Int) -> UInt64 {
            byPackets ? cold[i].packetsAB &+ cold[i].packetsBA : cold[i].bytesAB &+ cold[i].bytesBA
        }
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
        for i in 0...mask where hot[i].isUsed {
            if n < count {
                buffer[n] = flowRecord(i)
                n += 1
                var c = n - 1
                while c > 0 {
                    let p = (c - 1) / 2
                    if weight(buffer[c]) >= weight(buffer[p]) { break }
                    swap(&buffer[c], &buffer[p])
                    c = p
                }
            } else if weight(at: i) > weight(buffer[0]) {
                buffer[0] = flowRecord(i)
                siftDown(0, n)
            }
        }
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
        for i in 0...mask where hot[i].isUsed { out.append(flowRecord(i)) }
        return out
    }
}
