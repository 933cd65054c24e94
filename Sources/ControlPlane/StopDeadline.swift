import CRoomsSupport
import Capture
import DataPlane
import Logging
import Rooms
import ServiceLifecycle
import StatsProtocol
import Synchronization
import Syscalls
import UnixSignals

#if canImport(Glibc)
import Glibc
#endif

#if canImport(Glibc)
import Glibc
#endif

/// The bound on the daemon's stop: a thread of its own waits, and if the
/// stop has not finished by `daemon.stop_timeout`, says which step hung
/// and ends the process with exit status 1, before systemd's SIGKILL
/// would end it without a word.
final class StopDeadline: @unchecked Sendable {
    private let done = Doorbell()
    private let finished = Atomic<Bool>(false)
    private let current = Mutex<String>("starting the stop")
    private var thread: PinnedThread?

    init(seconds: Double, logger: Logger) {
        let limit = lab_monotonic_ns() &+ UInt64(seconds * 1e9)
        thread = try? PinnedThread(name: "ctl-stop") { [self] in
            while !finished.load(ordering: .acquiring) {
                let now = lab_monotonic_ns()
                if now >= limit {
                    let step = current.withLock { $0 }
                    logger.critical(
                        "the stop did not finish within daemon.stop_timeout (\(seconds) s): stuck \(step); exiting now")
                    _exit(1)
                }
                done.wait(timeoutNanoseconds: Int64(limit - now)) { finished.load(ordering: .acquiring) }
            }
        }
    }

    /// Names the step the stop is at (for the message if it hangs).
    func step(_ what: String) { current.withLock { $0 = what } }

    /// The stop is over: the thread ends.
    func finish() {
        finished.store(true, ordering: .releasing)
        done.ring()
        if let t = thread.take() { t.join() }
    }
}
