import CURing
import DataPlane
import Syscalls

#if canImport(Glibc)
import Glibc
#endif

/// The directories beneath which a client may name a file for the daemon
/// to open (`replay.allowed_directories`), each held open with `O_PATH` from
/// the moment the configuration is loaded. A path is resolved beneath one of
/// them with `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
/// RESOLVE_NO_MAGICLINKS)`, or, where the kernel or a seccomp filter refuses
/// `openat2`, by walking it one component at a time with `O_NOFOLLOW`.
///
/// Whatever goes wrong (outside every directory, `..` out of one, a
/// symlink, a missing file, a directory, a device, no permission), the
/// answer is the same ``refusal``: it says nothing about the file.
public final class AllowedDirectories: Sendable {
    /// How a path is resolved beneath its directory.
    public enum Resolution: Sendable {
        /// openat2, falling back to the walk where it is refused.
        case automatic
        /// The walk only (what the fallback does; for tests).
        case walk
    }

    struct Directory: Sendable {
        /// Absolute, without a trailing slash.
        let path: String
        let descriptor: Int32
    }

    let directories: [Directory]
    let resolution: Resolution
    /// Directories that could not be opened, with the reason (for the log).
    public let problems: [String]

    /// Opens each directory with `O_PATH | O_DIRECTORY`; one that cannot be
    /// opened is left out and named in ``problems``.
    public init(_ paths: [String], resolution: Resolution = .automatic) {
        var directories: [Directory] = []
        var problems: [String] = []
        for raw in paths {
            var path = raw
            while path.count > 1 && path.hasSuffix("/") { path.removeLast() }
            switch Syscall.valueOrErrno({ Glibc.open(path, curing_o_path() | O_DIRECTORY | O_CLOEXEC) }) {
            case .success(let fd): directories.append(Directory(path: path, descriptor: fd))
            case .failure(let e): problems.append("replay.allowed_directories: \(raw): \(e)")
            }
        }
        self.directories = directories
        self.resolution = resolution
        self.problems = problems
    }

    deinit {
        for d in directories { close(d.descriptor) }
    }

    public var isEmpty: Bool { directories.isEmpty }

    /// The one answer to a path that is not let through.
    public var refusal: String {
        let allowed =
            directories.isEmpty
            ? "none is configured"
            : "they are " + directories.map(\.path).joined(separator: ", ")
        return
            "\"file\" is refused: the daemon opens only regular files beneath replay.allowed_directories (\(allowed)); "
            + "`labyrinthctl replay FILE` sends the file itself instead"
    }

    /// Opens `path` read-only if it is a regular file beneath an allowed
    /// directory; nil otherwise, whatever the reason.
    public func open(_ path: String) -> OpenFile? {
        guard path.hasPrefix("/"), !path.utf8.contains(0), path.utf8.count < 4096 else { return nil }
        for d in directories {
            let prefix = d.path == "/" ? "/" : d.path + "/"
            guard path.hasPrefix(prefix) else { continue }
            let rest = String(path.dropFirst(prefix.count))
            guard !rest.isEmpty, let fd = openBeneath(d.descriptor, rest) else { continue }
            var st = stat()
            if fstat(fd, &st) == 0 && st.st_mode & S_IFMT == S_IFREG {
                return OpenFile(descriptor: fd, name: path)
            }
            close(fd)
        }
        return nil
    }

    /// `rest` opened beneath `directory`, or nil.
    func openBeneath(_ directory: Int32, _ rest: String) -> Int32? {
        if resolution == .automatic {
            switch Syscall.negatedErrno({ curing_open_beneath(directory, rest) }) {
            case .success(let fd): return fd
            case .failure(let e) where e == .noFunction || e == .notPermitted:
                break  // no openat2 here (old kernel, seccomp): walk instead
            case .failure:
                return nil
            }
        }
        return walk(directory, rest)
    }

    /// One component at a time: directories with `O_PATH | O_NOFOLLOW |
    /// O_DIRECTORY` (a symlink is not followed and fails), the last with
    /// `O_RDONLY | O_NOFOLLOW`; `..` is refused, so nothing climbs out.
    func walk(_ directory: Int32, _ rest: String) -> Int32? {
        let components = rest.split(separator: "/", omittingEmptySubsequences: true).filter { $0 != "." }
        guard !components.isEmpty, !components.contains("..") else { return nil }
        var current = directory
        defer { if current != directory { close(current) } }
        for (i, component) in components.enumerated() {
            let last = i == components.count - 1
            let flags =
                last
                ? O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY
                : curing_o_path() | O_NOFOLLOW | O_DIRECTORY | O_CLOEXEC
            let name = String(component)
            guard case .success(let fd) = Syscall.valueOrErrno({ openat(current, name, flags) }) else { return nil }
            if last { return fd }
            if current != directory { close(current) }
            current = fd
        }
        return nil
    }
}
