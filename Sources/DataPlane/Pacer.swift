import CRoomsSupport
import StatsProtocol

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
}

/// CLOCK_MONOTONIC; sleeps with an absolute `clock_nanosleep`, so a late
/// wake-up is not carried into the next deadline.
public struct MonotonicClock: ReplayClock, Sendable {
    public init() {}
    public func now() -> Int64 { Int64(lab_monotonic_ns()) }
    public func sleep(until deadline: Int64) {
        guard deadline > 0 else { return }
        var ts = timespec(tv_sec: Int(deadline / 1_000_000_000), tv_nsec: Int(deadline % 1_000_000_000))
        while clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nil) == EINTR {}
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

    public init(_ pacing: Pacing, clock: Clock) {
        self.pacing = pacing
        self.clock = clock
    }

    /// The deadline for a frame, without waiting (nil at maximum speed).
    public mutating func deadline(timestamp: Int64, wireBytes: Int) -> Int64? {
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
