/// How an allocation may behave when its room runs low: the kernel's GFP flags.
///
/// Exactly one of `.nowait`, `.atomic` and `.wait` picks the mode; `.noWarn`
/// may be added to any of them. With no mode flag the allocation behaves as
/// `.nowait`. The watermark policy for each mode lives in one place,
/// ``Watermarks/verdict(free:order:mode:)``.
public struct GFP: OptionSet, Sendable, Hashable {
    public let rawValue: UInt8

    @inlinable
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// GFP_NOWAIT: never blocks, never touches the reserve; fails when the
    /// allocation would leave fewer than `min` free pages.
    @inlinable public static var nowait: GFP { GFP(rawValue: 1 << 0) }

    /// GFP_ATOMIC: never blocks; may dip into the emergency reserve down to
    /// 3/8 of `min`, as the kernel lets non-blocking `__GFP_HIGH` callers do.
    @inlinable public static var atomic: GFP { GFP(rawValue: 1 << 1) }

    /// GFP_KERNEL: may block until pages come home from other threads, up to
    /// a deadline. Never allowed in atomic (interrupt) context.
    @inlinable public static var wait: GFP { GFP(rawValue: 1 << 2) }

    /// __GFP_NOWARN: a failure leaves no "page allocation failure" log line.
    @inlinable public static var noWarn: GFP { GFP(rawValue: 1 << 3) }

    /// The mode these flags select.
    @inlinable
    public var mode: AllocationMode {
        if contains(.wait) { return .wait }
        if contains(.atomic) { return .atomic }
        return .nowait
    }
}

/// The watermark mode of an allocation, derived from its ``GFP`` flags.
public enum AllocationMode: UInt8, Sendable, Hashable, CustomStringConvertible {
    case nowait = 0
    case atomic = 1
    case wait = 2

    /// The name used in failure log lines, as the kernel prints it.
    public var description: String {
        switch self {
        case .nowait: return "NOWAIT"
        case .atomic: return "ATOMIC"
        case .wait: return "KERNEL"
        }
    }
}
