import CLinux
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
        let owner: SharedDescriptor
        var descriptor: Int32 { owner.rawValue }
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
            switch Syscall.valueOrErrno({ Glibc.open(path, clinux_o_path() | O_DIRECTORY | O_CLOEXEC) }) {
            case .success(let fd):
                directories.append(Directory(path: path, owner: SharedDescriptor(Descriptor(adopting: fd))))
            case .failure(let e): problems.append("replay.allowed_directories: \(raw): \(e)")
            }
        }
        self.directories = directories
        self.resolution = resolution
        self.problems = problems
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
    /// directory and `peer` could open it too (nil: no such check, for a
    /// caller in this process); nil otherwise, whatever the reason.
    public func open(_ path: String, for peer: Peer? = nil) -> OpenFile? {
        guard path.hasPrefix("/"), !path.utf8.contains(0), path.utf8.count < 4096 else { return nil }
        for d in directories {
            let prefix = d.path == "/" ? "/" : d.path + "/"
            guard path.hasPrefix(prefix) else { continue }
            let rest = String(path.dropFirst(prefix.count))
            guard !rest.isEmpty else { continue }
            let file = openBeneath(d.descriptor, rest)
            guard file.isOpen else { continue }
            let fd = file.rawValue
            var st = stat()
            if fstat(fd, &st) == 0 && st.st_mode & S_IFMT == S_IFREG
                && (peer.map { mayRead(fd, st, path: path, peer: $0) } ?? true)
            {
                return OpenFile(descriptor: file.release(), name: path, openedByDaemon: true)
            }
        }
        return nil
    }

    /// Whether `peer` could open the file the daemon opened on `fd` as
    /// `path` for reading, by the rules the kernel applies to it (its own
    /// permission check, `generic_permission`): search permission on every
    /// directory from `/` down, and read permission on the file, each by
    /// owner, else group (the peer's primary and supplementary groups, as
    /// SO_PEERCRED and /proc say), else other. Root may read anything; the
    /// daemon's own user opened it already. A file with a POSIX access ACL
    /// is let through only to its owner: its mode's group bits are then a
    /// mask, not a grant, and the ACL's entries are not read here
    /// (`labyrinthctl replay` passes the file itself instead).
    func mayRead(_ fd: Int32, _ st: stat, path: String, peer: Peer) -> Bool {
        if peer.uid == 0 || peer.uid == geteuid() { return true }
        guard Self.permits(st, peer, read: true) else { return false }
        // An ACL that cannot be read counts as one.
        if st.st_uid != peer.uid && clinux_has_access_acl(fd) != 0 { return false }
        // Every directory above the file, as the peer would walk them.
        var directory = ""
        for component in path.split(separator: "/").dropLast() {
            directory += "/" + component
            var d = stat()
            guard stat(directory, &d) == 0, Self.permits(d, peer, read: false) else { return false }
        }
        var root = stat()
        return stat("/", &root) == 0 && Self.permits(root, peer, read: false)
    }

    /// The owner, group or other bits of `st` that apply to `peer`: read
    /// (`r`) for a file, search (`x`) for a directory.
    static func permits(_ st: stat, _ peer: Peer, read: Bool) -> Bool {
        let bit: mode_t = read ? 0o4 : 0o1
        if st.st_uid == peer.uid { return st.st_mode & (bit << 6) != 0 }
        if peer.groups.contains(st.st_gid) { return st.st_mode & (bit << 3) != 0 }
        return st.st_mode & bit != 0
    }

    /// `rest` opened beneath `directory`, or an owner of nothing.
    func openBeneath(_ directory: Int32, _ rest: String) -> Descriptor {
        if resolution == .automatic {
            switch Syscall.negatedErrno({ clinux_open_beneath(directory, rest) }) {
            case .success(let fd): return Descriptor(adopting: fd)
            case .failure(let e) where e == .noFunction || e == .notPermitted:
                break  // no openat2 here (old kernel, seccomp): walk instead
            case .failure:
                return Descriptor(adopting: -1)
            }
        }
        return walk(directory, rest)
    }

    /// One component at a time: directories with `O_PATH | O_NOFOLLOW |
    /// O_DIRECTORY` (a symlink is not followed and fails), the last with
    /// `O_RDONLY | O_NOFOLLOW`; `..` is refused, so nothing climbs out.
    func walk(_ directory: Int32, _ rest: String) -> Descriptor {
        let components = rest.split(separator: "/", omittingEmptySubsequences: true).filter { $0 != "." }
        guard !components.isEmpty, !components.contains("..") else { return Descriptor(adopting: -1) }
        // The directory reached so far, once below `directory`.
        var below = Descriptor(adopting: -1)
        for (i, component) in components.enumerated() {
            let last = i == components.count - 1
            let flags =
                last
                ? O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY
                : clinux_o_path() | O_NOFOLLOW | O_DIRECTORY | O_CLOEXEC
            let current = below.isOpen ? below.rawValue : directory
            guard case .success(let next) = Descriptor.open(at: current, String(component), flags) else {
                return Descriptor(adopting: -1)
            }
            if last { return next }
            below = next
        }
        return Descriptor(adopting: -1)
    }
}

/// A stats socket client as the kernel vouches for it (SO_PEERCRED): its
/// uid, and its primary and supplementary groups.
public struct Peer: Sendable, Equatable {
    public var uid: uid_t
    public var groups: [gid_t]

    public init(uid: uid_t, groups: [gid_t]) {
        self.uid = uid
        self.groups = groups
    }
}
