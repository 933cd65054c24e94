import Rooms

/// A worker's distributions, kept in fixed buckets among its counters (after
/// the malformation reasons): no heap, no lock, one relaxed store per bucket
/// and one for the sum, the worker the only writer.
///
/// Bucket `i` counts the observations in (bound(i-1), bound(i)]; the last
/// bucket is `+Inf`. Bounds grow geometrically from ``first`` by
/// `1 << shift`, so the bucket is found by shifting, never by reading a table.
/// A histogram's count is the sum of its buckets, never stored apart: a
/// reader that adds up the buckets it loaded always has buckets that add up
/// to `_count`, whenever it reads.
public enum WorkerHistogram: Int, CaseIterable, Sendable {
    /// Frames taken per poll that found work (replay and live together).
    case framesPerPoll
    /// A recording write's latency, from its submission to its completion
    /// (CQE), in nanoseconds.
    case writeLatency

    /// Finite buckets; one more for `+Inf`.
    public static let finiteBuckets = 12
    /// Slots per histogram: the buckets, then the sum.
    public static let slots = finiteBuckets + 2

    /// The upper bound of the first bucket.
    @inlinable public var first: Int {
        switch self {
        case .framesPerPoll: return 1
        case .writeLatency: return 1_000  // 1 µs
        }
    }
    /// Each bound is the last one shifted left by this.
    @inlinable public var shift: Int {
        switch self {
        case .framesPerPoll: return 1  // 1, 2, 4 … 2048 frames
        case .writeLatency: return 2  // 1 µs, 4 µs … 4.2 s
        }
    }

    /// The upper bound of finite bucket `i`.
    public func bound(_ i: Int) -> Int { first << (shift * i) }

    /// The name in Prometheus (the `_bucket`, `_sum` and `_count` follow).
    public var metricName: String {
        switch self {
        case .framesPerPoll: return "labyrinth_worker_poll_frames"
        case .writeLatency: return "labyrinth_recording_write_latency_seconds"
        }
    }

    public var help: String {
        switch self {
        case .framesPerPoll: return "Frames taken per poll that found work (the NAPI batch)."
        case .writeLatency: return "Recording writes, from their submission to their completion (CQE)."
        }
    }

    /// Divides the sum and the bounds for exposition (nanoseconds → seconds).
    public var scale: Double {
        switch self {
        case .framesPerPoll: return 1
        case .writeLatency: return 1e9
        }
    }

    /// The counter slot of bucket 0.
    @inlinable public var base: Int { WorkerCounter.histogramBase &+ rawValue &* Self.slots }

    /// The bucket `value` falls in.
    @inlinable @inline(__always)
    public func bucket(_ value: Int) -> Int {
        var i = 0
        var bound = first
        while i < Self.finiteBuckets && value > bound {
            bound <<= shift
            i &+= 1
        }
        return i
    }
}

/// A histogram as read from a worker's counters.
public struct HistogramReading: Sendable, Equatable {
    /// Observations per bucket (not cumulative); the last is `+Inf`.
    public var buckets: [Int]
    public var sum: Int
    public var count: Int { buckets.reduce(0, &+) }
}

extension SingleWriterCounters {
    /// Worker only: one observation.
    @inlinable @inline(__always)
    public func observe(_ h: WorkerHistogram, _ value: Int) {
        add(h.base &+ h.bucket(value), 1)
        add(h.base &+ WorkerHistogram.finiteBuckets &+ 1, value)
    }

    /// Any thread.
    public func reading(_ h: WorkerHistogram) -> HistogramReading {
        HistogramReading(
            buckets: (0...WorkerHistogram.finiteBuckets).map { load(h.base + $0) },
            sum: load(h.base + WorkerHistogram.finiteBuckets + 1))
    }
}
