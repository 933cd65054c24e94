import Syscalls

/// Why an arena could not be built.
public enum ArenaError: ErrnoCarrying, Sendable, Equatable, CustomStringConvertible {
    /// The configuration is impossible; the message names the setting.
    case invalidConfiguration(String)
    /// `mmap` failed.
    case mapFailed(what: String, bytes: Int, errno: Errno)
    /// `mlock` failed, almost always because RLIMIT_MEMLOCK is too low.
    case lockFailed(what: String, bytes: Int, limit: Int?, errno: Errno)

    /// The system call's error behind it (`mmap`, `mlock`).
    public var errno: Errno? {
        switch self {
        case .invalidConfiguration: return nil
        case .mapFailed(_, _, let e), .lockFailed(_, _, _, let e): return e
        }
    }

    public var description: String {
        switch self {
        case .invalidConfiguration(let message):
            return "invalid arena configuration: \(message)"
        case .mapFailed(let what, let bytes, let e):
            return "cannot map the \(what) (\(ByteCount(bytes))): \(e)"
        case .lockFailed(let what, let bytes, let limit, let e):
            let limitText = limit.map { "RLIMIT_MEMLOCK is \(ByteCount($0))" } ?? "RLIMIT_MEMLOCK is unlimited"
            return "cannot lock the \(what) (\(ByteCount(bytes))) in memory: \(e); "
                + "\(limitText). Raise it (LimitMEMLOCK= in the unit, `ulimit -l`), grant CAP_IPC_LOCK, "
                + "or set rooms.lock = false"
        }
    }
}

/// A byte count printed the way operators read them: 64 MiB, 512 KiB, 100 B.
public struct ByteCount: CustomStringConvertible, Sendable {
    public var bytes: Int
    public init(_ bytes: Int) { self.bytes = bytes }
    public var description: String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        if value == value.rounded() { return "\(Int(value)) \(units[unit])" }
        return "\((value * 10).rounded() / 10) \(units[unit])"
    }
}
