/// A room's free-page watermarks, in pages: `min ≤ low ≤ high`.
///
/// - `min`: `.nowait` and `.wait` allocations never leave fewer free pages.
///   `.atomic` ones may go down to 3/8 of it (the emergency reserve).
/// - `low`: crossing below it raises a pressure event and the owner brings
///   remote frees home.
/// - `high`: the pressure state ends when free pages climb back to it.
public struct Watermarks: Sendable, Hashable, Codable, CustomStringConvertible {
    public var min: Int
    public var low: Int
    public var high: Int

    @inlinable
    public init(min: Int, low: Int, high: Int) {
        self.min = min
        self.low = low
        self.high = high
    }

    /// The defaults for a room of `pages` pages, derived the way the kernel
    /// derives zone watermarks: `min ≈ pages/32`, then `low` and `high` each
    /// a further `max(min/4, pages/1000)` above.
    public static func derived(pages: Int) -> Watermarks {
        let min = Swift.max(1, pages / 32)
        let delta = Swift.max(min / 4, pages / 1000, 1)
        return Watermarks(min: min, low: min + delta, high: min + 2 * delta)
    }

    /// The free-page level that `.atomic` allocations may not go below:
    /// `min − min/2`, then less a quarter of that, which is 3/8 of `min`.
    @inlinable
    public var atomicFloor: Int {
        var floor = min - min / 2
        floor -= floor / 4
        return floor
    }

    /// What the watermark check says about an allocation.
    public enum Verdict: Sendable, Hashable {
        /// Allowed without touching the reserve.
        case allowed
        /// Allowed only because `.atomic` may use the emergency reserve.
        case allowedFromReserve
        /// Refused: it would take the room below the mode's floor.
        case refused
    }

    /// The whole watermark policy, in the manner of the kernel's
    /// `__zone_watermark_unsafe`.
    ///
    /// STYLE: keep it one pure function of (free, order, mode), as the
    /// kernel's is: the property tests check it alone, and every allocation
    /// path asks it the same question rather than carrying a check of its own.
    ///
    /// An order-k request first discounts the `2^k − 1` pages that could not
    /// serve it. What remains must stay *above* the floor of the mode: `min`
    /// for `.nowait` and `.wait`, ``atomicFloor`` for `.atomic`. So an
    /// allowed allocation never leaves fewer than `floor` pages free.
    @inlinable @inline(__always)
    public func verdict(free: Int, order: Int, mode: AllocationMode) -> Verdict {
        let usable = free &- ((1 &<< order) &- 1)
        if usable > min { return .allowed }
        if mode == .atomic && usable > atomicFloor { return .allowedFromReserve }
        return .refused
    }

    /// Checks the ordering and the bounds for a room of `pages` pages.
    /// Returns a message naming what is wrong, or nil.
    public func problem(pages: Int) -> String? {
        if min < 0 { return "min (\(min)) must not be negative" }
        if min > low { return "min (\(min)) must not exceed low (\(low))" }
        if low > high { return "low (\(low)) must not exceed high (\(high))" }
        if high >= pages { return "high (\(high)) must be below the room's \(pages) pages" }
        return nil
    }

    public var description: String { "min \(min) low \(low) high \(high)" }
}
