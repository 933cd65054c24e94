import Syscalls

#if canImport(Glibc)
import Glibc
#endif

/// Standard input to its end, at most `limit` bytes: what the daemon hands
/// a child that must not show it on its command line (a filter). Nil when
/// it cannot be read or is longer.
func readStandardInput(limit: Int) -> [UInt8]? {
    var input: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65_536)
    while true {
        guard case .success(let n) = Syscall.valueOrErrno({ read(0, &chunk, chunk.count) }) else { return nil }
        if n == 0 { return input }
        input += chunk[0..<n]
        guard input.count <= limit else { return nil }
    }
}
