import CLinux
import Syscalls

#if canImport(Glibc)
import Glibc
#endif

/// A filter expression handed to a child on its standard input rather than
/// its command line, where every local user's `ps` would show it.
enum FilterPipe {
    /// A pipe holding `text` and then its end: the read end, for the child's
    /// standard input. The text must fit the pipe's buffer (64 KiB on
    /// Linux; a request's expression is at most a few KiB).
    static func holding(_ text: String) -> Result<Descriptor, Errno> {
        var fds: [Int32] = [-1, -1]
        if case .failure(let e) = Syscall.negatedErrno({ clinux_pipe_cloexec(&fds) }) { return .failure(e) }
        let readEnd = Descriptor(adopting: fds[0])
        let writeEnd = Descriptor(adopting: fds[1])
        let bytes = Array(text.utf8)
        guard bytes.count <= 60 << 10 else { return .failure(.messageTooLong) }
        var written = 0
        while written < bytes.count {
            let result = bytes.withUnsafeBytes { b in
                Syscall.valueOrErrno { write(writeEnd.rawValue, b.baseAddress! + written, b.count - written) }
            }
            switch result {
            case .success(let n): written += n
            case .failure(let e): return .failure(e)
            }
        }
        if case .failure(let e) = writeEnd.close() { return .failure(e) }
        return .success(readEnd)
    }
}
