#if canImport(Glibc)
import Glibc
#endif

/// An open file descriptor and the duty to close it: the one owner every
/// descriptor in the project has. swift-system's `FileDescriptor` is a
/// value that anyone may close; this is `~Copyable`, so that it cannot be
/// closed twice or forgotten. It closes in `deinit`; ``close()`` closes
/// early and reports the error (a `close` that fails on a written file is
/// the last word on whether its data reached the disk); ``release()`` hands
/// the number to an owner outside Swift (SwiftNIO, a child process, a C
/// library) that closes it.
///
/// Nothing else in `Sources` calls `close(2)`.
public struct Descriptor: ~Copyable, Sendable {
    /// The descriptor's number, for system calls. It stays valid as long as
    /// this owner lives; never close it by hand.
    public private(set) var rawValue: CInt

    /// Takes ownership of `rawValue`, which must be open (or negative, for
    /// an owner of nothing).
    public init(adopting rawValue: CInt) {
        self.rawValue = rawValue
    }

    /// Whether it holds a descriptor (a negative number is none).
    @inlinable
    public var isOpen: Bool { rawValue >= 0 }

    /// Opens `path` (`open(2)`), retrying on `EINTR`.
    public static func open(
        _ path: String, _ flags: CInt, mode: mode_t = 0
    ) -> Result<Descriptor, Errno> {
        Syscall.valueOrErrno { Glibc.open(path, flags, mode) }.map { Descriptor(adopting: $0) }
    }

    /// Opens `path` beneath the directory `directory` (`openat(2)`).
    public static func open(
        at directory: CInt, _ path: String, _ flags: CInt, mode: mode_t = 0
    ) -> Result<Descriptor, Errno> {
        Syscall.valueOrErrno { Glibc.openat(directory, path, flags, mode) }.map { Descriptor(adopting: $0) }
    }

    /// Closes now and says whether the kernel was content (`EINTR` is not
    /// retried: on Linux the descriptor is gone either way).
    @discardableResult
    public consuming func close() -> Result<Void, Errno> {
        let fd = rawValue
        discard self
        guard fd >= 0 else { return .success(()) }
        return Syscall.nothingOrErrno(retryOnInterrupt: false) { Glibc.close(fd) }
    }

    /// Moves the descriptor out, into an owner of its own, and leaves this
    /// one owning nothing: how a stored property gives its descriptor away.
    public mutating func take() -> Descriptor {
        let fd = rawValue
        rawValue = -1
        return Descriptor(adopting: fd)
    }

    /// Gives the descriptor up without closing it, to an owner that will.
    public consuming func release() -> CInt {
        let fd = rawValue
        discard self
        return fd
    }

    deinit {
        if rawValue >= 0 { _ = Glibc.close(rawValue) }
    }
}

/// A descriptor shared by reference: for owners that are arrays or escaping
/// closures, which cannot hold a `~Copyable` value. It closes when the last
/// reference goes.
public final class SharedDescriptor: Sendable {
    public let descriptor: Descriptor

    public init(_ descriptor: consuming Descriptor) {
        self.descriptor = descriptor
    }

    /// The descriptor's number, valid while this object lives.
    @inlinable
    public var rawValue: CInt { descriptor.rawValue }
}
