@_exported import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// The one place where a system call's result becomes a typed `Errno`, and
/// where `EINTR` is retried, as swift-system's `valueOrErrno(retryOnInterrupt:)`
/// does. Three C conventions meet here:
///
/// - POSIX calls return -1 and set `errno` (``valueOrErrno(retryOnInterrupt:_:)``);
/// - liburing and this project's C shims return `-errno`
///   (``negatedErrno(retryOnInterrupt:_:)``);
/// - pthreads return the error number itself (``returnedErrno(_:)``).
///
/// `EBADF` and `EFAULT` are programmer errors, as in SwiftNIO's `syscall`
/// helper; they are returned like any other, so that the caller names them.
public enum Syscall {
    /// Calls `body` until it succeeds, or fails with anything but `EINTR`
    /// when `retryOnInterrupt` is set. `body` returns -1 and sets `errno` on
    /// failure.
    @inlinable
    public static func valueOrErrno<I: FixedWidthInteger>(
        retryOnInterrupt: Bool = true, _ body: () -> I
    ) -> Result<I, Errno> {
        while true {
            let r = body()
            if r != -1 { return .success(r) }
            let e = Errno.current
            if retryOnInterrupt && e == .interrupted { continue }
            return .failure(e)
        }
    }

    /// As ``valueOrErrno(retryOnInterrupt:_:)``, for calls whose value is of
    /// no interest.
    @inlinable
    public static func nothingOrErrno<I: FixedWidthInteger>(
        retryOnInterrupt: Bool = true, _ body: () -> I
    ) -> Result<Void, Errno> {
        valueOrErrno(retryOnInterrupt: retryOnInterrupt, body).map { _ in () }
    }

    /// For calls that return a negated error number (liburing, the `curing_`
    /// and `lab_` shims): a negative result is `-errno`.
    @inlinable
    public static func negatedErrno<I: FixedWidthInteger & SignedInteger>(
        retryOnInterrupt: Bool = true, _ body: () -> I
    ) -> Result<I, Errno> {
        while true {
            let r = body()
            if r >= 0 { return .success(r) }
            let e = Errno(rawValue: CInt(truncatingIfNeeded: -r))
            if retryOnInterrupt && e == .interrupted { continue }
            return .failure(e)
        }
    }

    /// For calls that return 0 or an error number (pthreads).
    @inlinable
    public static func returnedErrno(_ body: () -> CInt) -> Result<Void, Errno> {
        let r = body()
        return r == 0 ? .success(()) : .failure(Errno(rawValue: r))
    }
}

extension Errno {
    /// The calling thread's `errno` now.
    @inlinable
    public static var current: Errno { Errno(rawValue: Glibc.errno) }
}

extension String {
    /// The text of a NUL-terminated C buffer (an error buffer, a name): the
    /// bytes before the first NUL, as UTF-8 with invalid sequences repaired.
    public init(nulTerminated buffer: [CChar]) {
        let end = buffer.firstIndex(of: 0) ?? buffer.endIndex
        self = buffer[..<end].withUnsafeBytes { String(decoding: $0, as: UTF8.self) }
    }
}

/// An error that may have come from a system call, and keeps its `Errno`
/// for whoever wants to act on it (retry, exit status, a hint) rather than
/// parse its text.
public protocol ErrnoCarrying: Error {
    /// The system call's error, when one caused this.
    var errno: Errno? { get }
}

extension Errno: ErrnoCarrying {
    public var errno: Errno? { self }
}

extension Errno {
    /// The `Errno` behind `error`, if it keeps one.
    public static func behind(_ error: any Error) -> Errno? {
        (error as? any ErrnoCarrying)?.errno
    }
}
