import CRoomsSupport
import StatsProtocol
import Synchronization
import Syscalls

#if canImport(Glibc)
import Glibc
#endif

/// How fast a replay goes.
public enum Pacing: Sendable, Hashable, CustomStringConvertible {
    /// As fast as the workers take frames; lossless (the reader waits).
    case maximum
    /// The capture's own timing, scaled: 2.0 replays twice as fast.
    case original(multiplier: Double)
    case packetsPerSecond(Double)
    case megabitsPerSecond(Double)

    public var description: String {
        switch self {
        case .maximum: return "max"
        case .original(let m): return m == 1 ? "original" : "original ×\(m)"
        case .packetsPerSecond(let p): return "\(p) pps"
        case .megabitsPerSecond(let m): return "\(m) Mbps"
        }
    }

    public var isPaced: Bool { self != .maximum }
}

/// Where the pacer reads the time and waits. The monotonic clock in
/// production; a manual clock in tests.
public protocol ReplayClock {
    /// Nanoseconds on a monotonic scale.
    func now() -> Int64
    /// Returns at or after `deadline` (nanoseconds on the same scale).
    func sleep(until deadline: Int64)
    /// Returns at or after `deadline`, or as soon as `interrupt` holds a
    /// word other than 0 (a futex word that ``ReplayInterrupt`` sets and
    /// wakes): a cancelled replay does not sleep out its gap.
    func sleep(until deadline: Int64, interruptedBy interrupt: borrowing ReplayInterrupt)
}

extension ReplayClock {
    /// A clock that does not really wait (a test's) ignores the interrupt.
    public func sleep(until deadline: Int64, interruptedBy interrupt: borrowing ReplayInterrupt) {
        sleep(until: deadline)
    }
}

/// What cancels a replay: a flag that the reader reads between batches,
/// and a futex word on which the pacer sleeps, so that a cancel wakes a
/// pacer in a long gap at once rather than at its deadline.
public struct ReplayInterrupt: ~Copyable, @unchecked Sendable {
    private let word: UnsafeMutablePointer<Atomic<UInt32>>

    public init() {
        let raw = UnsafeMutableRawPointer.allocate(byteCount: 64, alignment: 64)
        word = raw.bindMemory(to: Atomic<UInt32>.self, capacity: 1)
        word.initialize(to: Atomic(0))
    }

    deinit { UnsafeMutableRawPointer(word).deallocate() }

    /// Whether it was raised (any thread).
    public var isRaised: Bool { word.pointee.load(ordering: .acquiring) != 0 }

    /// Raises it and wakes a sleeper (any thread).
    public func raise() {
        word.pointee.store(1, ordering: .releasing)
        _ = lab_futex_wake(UnsafeMutableRawPointer(word).assumingMemoryBound(to: UInt32.self), Int32.max)
    }

    /// Lowers it for the next replay (the reader, between replays).
    public func lower() { word.pointee.store(0, ordering: .releasing) }

    /// Sleeps while it is down, for at most `nanoseconds`.
    func wait(nanoseconds: Int64) {
        _ = lab_futex_wait(UnsafeMutableRawPointer(word).assumingMemoryBound(to: UInt32.self), 0, nanoseconds)
    }
}

/// CLOCK_MONOTONIC; sleeps with an absolute `clock_nanosleep`, so a late
/// wake-up is not carried into the next deadline.
public struct MonotonicClock: ReplayClock, Sendable {
    public init() {}
    public func now() -> Int64 { Int64(lab_monotonic_ns()) }
    public func sleep(until deadline: Int64) {
        Syscall.sleep(untilMonotonic: deadline)
    }

    /// Long waits sleep on the interrupt's futex until a millisecond before
    /// the deadline; the last stretch is an absolute `clock_nanosleep`, as
    /// precise as ever.
    public func sleep(until deadline: Int64, interruptedBy interrupt: borrowing ReplayInterrupt) {
        while !interrupt.isRaised {
            let remaining = deadline &- now()
            if remaining <= 0 { return }
            if remaining <= 2_000_000 {
                sleep(until: deadline)
                return
            }
            interrupt.wait(nanoseconds: remaining - 1_000_000)
        }
    }
}

/// Decides when each frame may go. Every deadline is computed from the
/// anchor (the wall time of the first frame) and the frame's own position
/// (its timestamp, its index, or the bits before it), never from the previous
/// frame's actual send time, so lateness does not accumulate: tcpreplay's
/// per-packet-delta drift cannot happen here.
public struct Pacer<Clock: ReplayClock> {
    public let pacing: Pacing
    public let clock: Clock
    /// The longest wait between two frames (ns; nil: no limit), as
    /// tcpreplay's `--maxsleep`: a longer gap is cut to it, and every later
    /// deadline moves earlier by what was cut, so one absurd timestamp
    /// cannot hold a replay for years.
    public let maximumGap: Int64?
    /// Gaps cut to ``maximumGap`` so far.
    public private(set) var gapsCut = 0
    /// What the cut gaps took off every later deadline (ns).
    private var skew: Int64 = 0
    /// The previous frame's deadline.
    private var lastDeadline: Int64?
    /// Wall time of the first frame.
    private var anchor: Int64?
    /// The first frame's capture timestamp.
    private var firstTimestamp: Int64 = 0
    /// Added to timestamps of later loops so that they follow the earlier ones.
    private var loopOffset: Int64 = 0
    private var lastTimestamp: Int64 = 0
    private var framesInLoop = 0
    private var loopStart: Int64 = 0
    private var frames: Int64 = 0
    private var bits: Int64 = 0

    public init(_ pacing: Pacing, clock: Clock, maximumGap: Int64? = nil) {
        self.pacing = pacing
        self.clock = clock
        self.maximumGap = maximumGap
    }

    /// The deadline for a frame, without waiting (nil at maximum speed):
    /// the anchored one, less what earlier cut gaps took off, and at most
    /// ``maximumGap`` after the previous frame's.
    public mutating func deadline(timestamp: Int64, wireBytes: Int) -> Int64? {
        guard let anchored = anchoredDeadline(timestamp: timestamp, wireBytes: wireBytes) else { return nil }
        var d = Self.saturating(anchored, minus: skew)
        if let gap = maximumGap, let last = lastDeadline {
            let (span, overflow) = d.subtractingReportingOverflow(last)
            if overflow || span > gap {
                let limit = Self.saturating(last, plus: gap)
                skew = Self.saturating(skew, plus: Self.saturating(d, minus: limit))
                d = limit
                gapsCut &+= 1
            }
        }
        lastDeadline = d
        return d
    }

    static func saturating(_ a: Int64, plus b: Int64) -> Int64 {
        let (r, o) = a.addingReportingOverflow(b)
        return o ? (b > 0 ? .max : .min) : r
    }

    static func saturating(_ a: Int64, minus b: Int64) -> Int64 {
        let (r, o) = a.subtractingReportingOverflow(b)
        return o ? (b < 0 ? .max : .min) : r
    }

    /// The deadline anchored to the first frame alone.
    private mutating func anchoredDeadline(timestamp: Int64, wireBytes: Int) -> Int64? {
        if case .maximum = pacing { return nil }
        let now = clock.now()
        if anchor == nil {
            anchor = now
            firstTimestamp = timestamp
            loopStart = timestamp
        }
        let start = anchor!
        defer {
            frames &+= 1
            bits &+= Int64(truncatingIfNeeded: wireBytes) &* 8
            lastTimestamp = timestamp
            framesInLoop &+= 1
        }
        // Every figure saturates: a rate or multiplier at the edge of its
        // range, or a capture spanning centuries, gives a late deadline,
        // never a trap.
        switch pacing {
        case .maximum:
            return nil
        case .original(let multiplier):
            // Exact while the integers fit; in doubles only where they do not.
            let (since, o1) = timestamp.subtractingReportingOverflow(firstTimestamp)
            let (total, o2) = since.addingReportingOverflow(loopOffset)
            // At the capture's own speed, in integers to the nanosecond
            // (a double holds 53 bits: a span of centuries would round).
            if multiplier == 1 && !(o1 || o2) { return Self.saturating(start, plus: total) }
            let span = o1 || o2 ? Double(timestamp) - Double(firstTimestamp) + Double(loopOffset) : Double(total)
            return Self.offset(start, nanoseconds: span / multiplier)
        case .packetsPerSecond(let pps):
            return Self.offset(start, nanoseconds: Double(frames) * 1e9 / pps)
        case .megabitsPerSecond(let mbps):
            return Self.offset(start, nanoseconds: Double(bits) * 1e3 / mbps)
        }
    }

    /// `start` plus `nanoseconds`, saturating at the ends of Int64 (NaN,
    /// from a rate that is not a number, counts as 0).
    @inline(__always)
    static func offset(_ start: Int64, nanoseconds: Double) -> Int64 {
        let delta: Int64
        if nanoseconds.isNaN {
            delta = 0
        } else if nanoseconds >= 9.2e18 {
            delta = .max
        } else if nanoseconds <= -9.2e18 {
            delta = .min
        } else {
            delta = Int64(nanoseconds.rounded())
        }
        let (sum, overflow) = start.addingReportingOverflow(delta)
        return overflow ? (delta > 0 ? .max : .min) : sum
    }

    /// Waits until the frame may go.
    public mutating func wait(timestamp: Int64, wireBytes: Int) {
        guard let d = deadline(timestamp: timestamp, wireBytes: wireBytes) else { return }
        if clock.now() < d { clock.sleep(until: d) }
    }

    /// Waits until the frame may go, or until `interrupt` is raised.
    public mutating func wait(timestamp: Int64, wireBytes: Int, interruptedBy interrupt: borrowing ReplayInterrupt) {
        guard let d = deadline(timestamp: timestamp, wireBytes: wireBytes) else { return }
        if clock.now() < d { clock.sleep(until: d, interruptedBy: interrupt) }
    }

    /// Marks the end of one pass over the file: the next pass's timestamps
    /// continue after this one's last frame, one mean gap later.
    public mutating func endLoop() {
        guard framesInLoop > 0 else { return }
        let span = lastTimestamp &- loopStart
        let gap = framesInLoop > 1 ? span / Int64(framesInLoop &- 1) : 0
        loopOffset &+= span &+ gap
        framesInLoop = 0
        loopStart = firstTimestamp
    }

    /// Wall time since the first frame, by the pacer's clock.
    public var elapsed: Int64 { anchor.map { clock.now() &- $0 } ?? 0 }
}

extension ReplayRequest {
    /// The pacing the request asks for (its fields checked against their
    /// ranges already), or `otherwise` when it asks for none.
    public func pacing(otherwise: Pacing) -> Pacing {
        if let pps { return .packetsPerSecond(pps) }
        if let mbps { return .megabitsPerSecond(mbps) }
        if let speed { return speed == .max ? .maximum : .original(multiplier: multiplier ?? 1) }
        if let multiplier { return .original(multiplier: multiplier) }
        return otherwise
    }
}
