import CRoomsSupport

/// The calling thread's interrupt context, the user-space counterpart of the
/// kernel's `preempt_count`. A worker enters it while it polls packets.
/// Inside it, allocations must not sleep: a `.wait` allocation traps in a
/// debug build ("sleeping allocation in atomic context", like `might_sleep()`)
/// and is refused and counted in a release build.
public enum AtomicContext {
    /// Enters atomic context. Calls nest; each needs a matching ``exit()``.
    @inlinable @inline(__always)
    public static func enter() { lab_atomic_enter() }

    /// Leaves one level of atomic context.
    @inlinable @inline(__always)
    public static func exit() { lab_atomic_exit() }

    /// Whether the calling thread is in atomic context now.
    @inlinable @inline(__always)
    public static var isActive: Bool { lab_in_atomic() }

    /// Runs `body` in atomic context.
    @inlinable
    public static func run<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
        enter()
        defer { exit() }
        return try body()
    }
}
