import Syscalls

/// Why a foreground replay or capture could not run: what to say, and the
/// system call's error behind it, kept from the stage that failed.
public struct RunFailure: ErrnoCarrying, CustomStringConvertible {
    public var description: String
    public var errno: Errno? = nil

    init(description: String, errno: Errno? = nil) {
        self.description = description
        self.errno = errno
    }

    /// A stage's error, said as it is; its `Errno` kept.
    init(_ error: any Error) {
        description = "\(error)"
        errno = Errno.behind(error)
    }
}
