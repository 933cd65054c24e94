#if canImport(Glibc)
import Glibc
#endif

extension Syscall {
    /// Sleeps for `nanoseconds` of CLOCK_MONOTONIC, however many signals
    /// arrive meanwhile.
    /// The corresponding C function is `clock_nanosleep`.
    public static func sleep(nanoseconds: Int64) {
        guard nanoseconds > 0 else { return }
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        let end = Int64(ts.tv_sec) &* 1_000_000_000 &+ Int64(ts.tv_nsec) &+ nanoseconds
        sleep(untilMonotonic: end)
    }

    /// Sleeps until CLOCK_MONOTONIC reads `deadline` (ns), however many
    /// signals arrive meanwhile: absolute, so a late wake-up is not carried
    /// into the next deadline.
    /// The corresponding C function is `clock_nanosleep` with `TIMER_ABSTIME`.
    public static func sleep(untilMonotonic deadline: Int64) {
        guard deadline > 0 else { return }
        var ts = timespec(tv_sec: Int(deadline / 1_000_000_000), tv_nsec: Int(deadline % 1_000_000_000))
        // It returns the error number itself; EINTR is the only one to retry.
        while clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nil) == EINTR {}
    }

    /// Waits for the child `pid` to end; its wait status.
    /// The corresponding C function is `waitpid`.
    public static func waitForChild(_ pid: pid_t) -> Result<Int32, Errno> {
        var status: Int32 = 0
        return valueOrErrno { waitpid(pid, &status, 0) }.map { _ in status }
    }

    /// The whole of `bytes` written to `fd`, however many writes it takes.
    /// The corresponding C function is `write`.
    public static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Result<Void, Errno> {
        var at = 0
        while at < bytes.count {
            switch valueOrErrno({ write(fd, bytes.baseAddress! + at, bytes.count - at) }) {
            case .success(let n) where n > 0: at += n
            case .success: return .failure(.ioError)
            case .failure(let e): return .failure(e)
            }
        }
        return .success(())
    }
}
