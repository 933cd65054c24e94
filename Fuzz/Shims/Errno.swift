// For the fuzz builds only: the few members of swift-system's `Errno` the
// project's sources use, so that a harness compiles them without building
// swift-system from source. Fuzz/build.sh puts this file in place of
// `@_exported import SystemPackage` in Sources/Syscalls/Syscall.swift.
#if canImport(Glibc)
import Glibc
#endif

public struct Errno: RawRepresentable, Error, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: CInt
    public init(rawValue: CInt) { self.rawValue = rawValue }

    public static var notPermitted: Errno { Errno(rawValue: EPERM) }
    public static var interrupted: Errno { Errno(rawValue: EINTR) }
    public static var ioError: Errno { Errno(rawValue: EIO) }
    public static var permissionDenied: Errno { Errno(rawValue: EACCES) }
    public static var invalidArgument: Errno { Errno(rawValue: EINVAL) }
    public static var fileExists: Errno { Errno(rawValue: EEXIST) }
    public static var connectionReset: Errno { Errno(rawValue: ECONNRESET) }
    public static var resourceTemporarilyUnavailable: Errno { Errno(rawValue: EAGAIN) }
    public static var wouldBlock: Errno { Errno(rawValue: EWOULDBLOCK) }

    public var description: String { "errno \(rawValue)" }
}
