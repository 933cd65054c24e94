#if canImport(Glibc)
import Glibc
#endif

/// Every process's id, from /proc.
public func processIDs() -> [pid_t] {
    guard let dir = opendir("/proc") else { return [] }
    defer { closedir(dir) }
    var ids: [pid_t] = []
    while let entry = readdir(dir) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        if let id = pid_t(name) { ids.append(id) }
    }
    return ids
}

/// The processes whose parent is `parent`, from /proc.
public func childProcesses(of parent: pid_t) -> [pid_t] {
    processIDs().filter { pid in
        guard let stat = readFile("/proc/\(pid)/stat") else { return false }
        // "pid (comm) state ppid ...": the comm may hold spaces and parentheses.
        let text = String(decoding: stat, as: UTF8.self)
        guard let close = text.lastIndex(of: ")") else { return false }
        let fields = text[text.index(after: close)...].split(separator: " ")
        return fields.count > 1 && pid_t(fields[1]) == parent
    }
}

/// A process's command line, its arguments joined by spaces ("" once it is gone).
public func commandLine(of pid: pid_t) -> String {
    String(decoding: (readFile("/proc/\(pid)/cmdline") ?? []).map { $0 == 0 ? 32 : $0 }, as: UTF8.self)
}
