import DataPlane
import Syscalls

/// Why `labyrinthd run` could not start, said as a sysexits(3) code and
/// what to do: the one table from a failed stage and its `Errno` to the
/// exit status (README, "Exit codes"; docs/operations/daemon.md).
///
/// | stage | errno | exit | what to do |
/// |---|---|---|---|
/// | a packet socket | EPERM, EACCES | 77 EX_NOPERM | CAP_NET_RAW and CAP_NET_ADMIN |
/// | a packet socket | ENODEV, ENXIO | 78 EX_CONFIG | `[[source]] interface` |
/// | the arena's lock | ENOMEM, EPERM, EAGAIN | 71 EX_OSERR | LimitMEMLOCK=, CAP_IPC_LOCK, rooms.size |
/// | the arena's mapping | any | 71 EX_OSERR | rooms.size, workers.count |
/// | a worker thread | EPERM | 77 EX_NOPERM | CAP_SYS_NICE, LimitRTPRIO=, workers.priority |
/// | a socket | EADDRINUSE | 69 EX_UNAVAILABLE | another labyrinthd answers there |
/// | a socket | EACCES, EPERM | 77 EX_NOPERM | the socket's directory |
/// | the recording | ENOENT, ENOTDIR | 78 EX_CONFIG | `[[sink]] path` |
/// | the recording | EACCES, EPERM, EROFS | 77 EX_NOPERM | `[[sink]] path` |
/// | the recording | any other | 73 EX_CANTCREAT | `[[sink]] path` |
/// | anything else with an errno | | 71 EX_OSERR | |
/// | anything else | | 1 | |
public struct StartFailure: Sendable, Equatable {
    /// The stage that failed.
    public enum Stage: Sendable {
        case arena, workers, socket, recorder, other
    }

    public var exit: Daemon.Exit
    /// What to do, for the log line; nil when the error says it all.
    public var advice: String?

    public static func verdict(stage: Stage, errno: Errno?) -> StartFailure {
        guard let errno else { return StartFailure(exit: .startFailed, advice: nil) }
        switch (stage, errno) {
        case (.workers, .notPermitted), (.workers, .permissionDenied):
            return StartFailure(
                exit: .noPermission,
                advice:
                    "a packet socket needs CAP_NET_RAW and CAP_NET_ADMIN (root, or AmbientCapabilities= in the unit); SCHED_FIFO (workers.priority) needs CAP_SYS_NICE or LimitRTPRIO="
            )
        case (.workers, .operationNotSupportedByDevice), (.workers, .noSuchAddressOrDevice):
            return StartFailure(exit: .config, advice: "check [[source]] interface (ip link shows the names)")
        case (.arena, _):
            return StartFailure(
                exit: .osError,
                advice:
                    "raise LimitMEMLOCK= (ulimit -l) or grant CAP_IPC_LOCK, or lower rooms.size / workers.count; rooms.lock = \"best-effort\" runs unlocked"
            )
        case (.socket, .addressInUse):
            return StartFailure(
                exit: .unavailable,
                advice: "another labyrinthd answers on this socket: stop it, or give this one its own daemon.socket")
        case (.socket, .permissionDenied), (.socket, .notPermitted):
            return StartFailure(exit: .noPermission, advice: "the socket's directory must be writable by the daemon")
        case (.recorder, .noSuchFileOrDirectory), (.recorder, .notDirectory):
            return StartFailure(exit: .config, advice: "check [[sink]] path: its directory must exist")
        case (.recorder, .permissionDenied), (.recorder, .notPermitted), (.recorder, .readOnlyFileSystem):
            return StartFailure(
                exit: .noPermission, advice: "check [[sink]] path: the daemon must be able to write there")
        case (.recorder, _):
            return StartFailure(
                exit: .cannotCreate, advice: "check [[sink]] path: its directory, its rights, its space")
        default:
            return StartFailure(exit: .osError, advice: nil)
        }
    }

    /// The verdict for a pipeline that could not be built.
    public static func verdict(_ error: Pipeline.StartError) -> StartFailure {
        let stage: Stage =
            switch error.stage {
            case .arena: .arena
            case .workers: .workers
            case .recorder: .recorder
            case .exporter: .other
            }
        return verdict(stage: stage, errno: error.errno)
    }
}
