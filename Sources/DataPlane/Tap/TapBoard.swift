import Capture
import Synchronization

/// What one live tap takes: the frames its filter matches (nil: all), from
/// one source (nil: any; -1: replayed frames), cut to a snap length.
public struct TapSpec: Sendable {
    public var filter: FilterPrograms?
    public var source: Int?
    public var snaplen: Int

    public init(filter: FilterPrograms?, source: Int?, snaplen: Int) {
        self.filter = filter
        self.source = source
        self.snaplen = snaplen
    }
}

/// The live taps of a daemon: a fixed number of slots, each with a ring
/// per worker. The control plane opens and closes taps; the workers look
/// at the board between polls (one relaxed load when nothing changed) and
/// copy matching frames into their rings during polls, without a lock.
///
/// A slot's spec and rings are written only while no worker may read
/// them: before the generation that turns the slot on is published
/// (releasing), and after every running worker has acknowledged the
/// generation that turned it off.
public final class TapBoard: @unchecked Sendable {
    /// Taps open at once, at most (≤ 64).
    public let limit: Int
    /// Bytes of each tap's ring per worker.
    public let ringBytes: Int
    public let workerCount: Int
    /// Bumped (releasing) after each change of `active`.
    let generation = Atomic<Int>(0)
    /// The slots turned on, as of `generation`.
    let active = Atomic<UInt64>(0)
    /// Per worker: the generation it has applied.
    let acks: UnsafeMutablePointer<Atomic<Int>>
    /// Control plane only (under `control`).
    private let control: Mutex<Control>
    /// Per slot: its spec and rings (see the type's rule).
    private let slots: [Slot]
    /// Taps opened since start.
    let opened = Atomic<Int>(0)
    /// Frames sent to tap clients (the control plane adds each tap's
    /// count when it ends).
    public let delivered = Atomic<Int>(0)

    final class Slot: @unchecked Sendable {
        var spec = TapSpec(filter: nil, source: nil, snaplen: 0)
        var rings: [TapRing] = []
    }

    struct Control {
        var inUse: UInt64 = 0
        /// Per slot: the generation that turned it off.
        var closedAt: [Int]
    }

    /// - Parameters:
    ///   - limit: taps open at once (1...64).
    ///   - ringBytes: each tap's ring per worker.
    public init(limit: Int, ringBytes: Int, workers: Int) {
        self.limit = Swift.max(1, Swift.min(64, limit))
        self.ringBytes = ringBytes
        workerCount = workers
        acks = .allocate(capacity: Swift.max(1, workers))
        for i in 0..<Swift.max(1, workers) { (acks + i).initialize(to: Atomic(0)) }
        control = Mutex(Control(closedAt: Array(repeating: 0, count: Swift.max(1, Swift.min(64, limit)))))
        slots = (0..<Swift.max(1, Swift.min(64, limit))).map { _ in Slot() }
    }

    deinit {
        acks.deallocate()
    }

    // MARK: Control plane

    /// Turns a tap on; nil when `limit` taps are open (or a closed one is
    /// not yet released by every worker). Returns the slot and the
    /// generation to wait for with ``applied(_:exited:)``.
    public func open(_ spec: TapSpec, exited: (Int) -> Bool) -> (slot: Int, generation: Int)? {
        control.withLock { c -> (slot: Int, generation: Int)? in
            guard
                let slot = (0..<limit).first(where: { s in
                    c.inUse & (1 << UInt64(s)) == 0 && applied(c.closedAt[s], exited: exited)
                })
            else { return nil }
            let s = slots[slot]
            s.spec = spec
            if s.rings.isEmpty { s.rings = (0..<workerCount).map { _ in TapRing(capacity: ringBytes) } }
            for r in s.rings { r.reset() }
            c.inUse |= 1 << UInt64(slot)
            active.store(c.inUse, ordering: .relaxed)
            let g = generation.wrappingAdd(1, ordering: .releasing).newValue
            opened.wrappingAdd(1, ordering: .relaxed)
            return (slot, g)
        }
    }

    /// Turns a tap off; returns the generation after which no worker
    /// copies into its rings (wait with ``applied(_:exited:)``, then drain).
    public func close(_ slot: Int) -> Int {
        control.withLock { c in
            c.inUse &= ~(1 << UInt64(slot))
            active.store(c.inUse, ordering: .relaxed)
            let g = generation.wrappingAdd(1, ordering: .releasing).newValue
            c.closedAt[slot] = g
            return g
        }
    }

    /// Whether every worker still running has applied `generation`.
    public func applied(_ generation: Int, exited: (Int) -> Bool) -> Bool {
        (0..<workerCount).allSatisfy { acks[$0].load(ordering: .acquiring) >= generation || exited($0) }
    }

    /// Bytes of each ring (``ringBytes`` rounded up as the rings are).
    public var ringCapacity: Int { slots.first?.rings.first?.capacity ?? TapRing.size(for: ringBytes) }

    /// The rings of an open slot, one per worker.
    public func rings(_ slot: Int) -> [TapRing] { slots[slot].rings }

    /// Taps open now, and opened since start.
    public var counts: (open: Int, opened: Int) {
        (active.load(ordering: .relaxed).nonzeroBitCount, opened.load(ordering: .relaxed))
    }

    // MARK: Worker side

    /// Whether the board changed since the worker last looked.
    @inline(__always)
    func hasNews(since seen: Int) -> Bool { generation.load(ordering: .relaxed) != seen }

    /// Between polls: takes up the taps turned on and lets go of those
    /// turned off since the worker last looked, then acknowledges.
    func refresh(worker: Int, _ views: inout TapViews) {
        let g = generation.load(ordering: .acquiring)
        guard g != views.generation else { return }
        let now = active.load(ordering: .relaxed)
        let started = now & ~views.mask
        var bits = started
        while bits != 0 {
            let s = bits.trailingZeroBitCount
            bits &= bits &- 1
            let slot = slots[s]
            views.set(s, TapView(ring: slot.rings[worker], spec: slot.spec))
        }
        views.mask = now
        views.generation = g
        acks[worker].store(g, ordering: .releasing)
    }
}

/// A worker's views of the open taps: a fixed table of 64, allocated when
/// the first tap opens (a run without taps allocates nothing for them), and
/// the mask of those in use. The packet path reads `mask` alone when no tap
/// is open.
///
/// Until then `views` is a dangling, aligned pointer (never read: `mask` is
/// 0), not an optional one: Swift 6.3.1's thread-sanitizer build crashes
/// ("Invalid bitcast i64 to ptr") on this noncopyable struct in
/// PacketProcessor unless its first field is a plain pointer.
struct TapViews: ~Copyable {
    var views: UnsafeMutablePointer<TapView>
    var allocated = false
    var mask: UInt64 = 0
    var generation = 0

    init() {
        views = UnsafeMutablePointer(bitPattern: MemoryLayout<TapView>.alignment).unsafelyUnwrapped
    }

    deinit {
        if allocated { views.deallocate() }
    }

    mutating func set(_ slot: Int, _ view: TapView) {
        if !allocated {
            views = .allocate(capacity: 64)
            allocated = true
        }
        (views + slot).initialize(to: view)
    }
}
