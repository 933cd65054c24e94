#if canImport(Glibc)
import Glibc
#endif

/// What the collector tests need from the system: a UDP sender, the
/// kernel's UDP counters, a free port, and a directory listing.
public enum IPFIXTestSystem {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
        public init(_ d: String) { description = d }
    }

    /// Whether `program` is on the PATH.
    public static func installed(_ program: String) -> Bool {
        run(["sh", "-c", "command -v \(program)"], timeoutSeconds: 10).status == 0
    }

    /// A UDP port on 127.0.0.1 that was free a moment ago.
    public static func freePort() throws -> UInt16 {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { throw Failure("socket: \(errno)") }
        defer { close(fd) }
        var address = loopback(port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0 else { throw Failure("bind: \(errno)") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return UInt16(bigEndian: address.sin_port)
    }

    public static func loopback(port: UInt16) -> sockaddr_in {
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_port = port.bigEndian
        a.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        return a
    }

    /// Sends each message as one datagram to 127.0.0.1:`port`; throws unless every byte went out.
    public static func send(_ messages: [[UInt8]], to port: UInt16) throws {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { throw Failure("socket: \(errno)") }
        defer { close(fd) }
        var address = loopback(port: port)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else { throw Failure("connect: \(errno)") }
        for m in messages {
            let n = m.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, 0) }
            guard n == m.count else { throw Failure("send of \(m.count) bytes returned \(n), errno \(errno)") }
        }
    }

    /// The kernel's UDP counters from /proc/net/snmp (InDatagrams, RcvbufErrors, InErrors…).
    public static func udpCounters() -> [String: UInt64] {
        let text = String(decoding: readFile("/proc/net/snmp") ?? [], as: UTF8.self)
        let lines = text.split(separator: "\n").filter { $0.hasPrefix("Udp: ") }
        guard lines.count >= 2 else { return [:] }
        let names = lines[0].split(separator: " ").dropFirst()
        let values = lines[1].split(separator: " ").dropFirst()
        var out: [String: UInt64] = [:]
        for (n, v) in zip(names, values) { out[String(n)] = UInt64(v) }
        return out
    }

    /// The /proc/net/udp line of the socket bound to 127.0.0.1:`port`, split at blanks.
    public static func udpSocket(port: UInt16) -> [Substring]? {
        let text = String(decoding: readFile("/proc/net/udp") ?? [], as: UTF8.self)
        let hex = String(port, radix: 16, uppercase: true)
        let wanted = "0100007F:" + String(repeating: "0", count: 4 - hex.count) + hex
        return text.split(separator: "\n").map { $0.split(separator: " ") }.first { $0.count > 12 && $0[1] == wanted }
    }

    /// Whether a UDP socket is bound to 127.0.0.1:`port`.
    public static func udpBound(port: UInt16) -> Bool { udpSocket(port: port) != nil }

    /// Bytes waiting in the receive queue of the socket on 127.0.0.1:`port`, and the datagrams it dropped.
    public static func udpQueue(port: UInt16) -> (queued: UInt64, drops: UInt64)? {
        guard let f = udpSocket(port: port), let queues = f[4].split(separator: ":").last,
            let queued = UInt64(queues, radix: 16), let drops = UInt64(f[f.count - 1])
        else { return nil }
        return (queued, drops)
    }

    /// The system call a process's main thread is blocked in (from /proc/PID/syscall), or nil when it runs.
    public static func blockedSyscall(_ pid: pid_t) -> Int? {
        let text = String(decoding: readFile("/proc/\(pid)/syscall") ?? [], as: UTF8.self)
        return text.split(separator: " ").first.flatMap { Int($0) }
    }

    /// recvfrom's system call number.
    public static var recvfromSyscall: Int {
        #if arch(x86_64)
        return 45
        #elseif arch(arm64)
        return 207
        #else
        return -1
        #endif
    }

    /// The names in a directory.
    public static func list(_ directory: String) -> [String] {
        guard let d = opendir(directory) else { return [] }
        defer { closedir(d) }
        var names: [String] = []
        while let entry = readdir(d) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    /// Removes a directory of plain files.
    public static func removeDirectory(_ directory: String) {
        for name in list(directory) { unlink(directory + "/" + name) }
        rmdir(directory)
    }
}

/// A child process with its output in files, started with an empty signal
/// mask and default signal handling: a test thread (a dispatch worker)
/// blocks signals, and a child would inherit that and never see SIGTERM.
public final class IPFIXTestProcess {
    public let pid: pid_t
    let directory: String
    public private(set) var status: Int32?

    public init(_ arguments: [String]) throws {
        directory = temporaryDirectory("ipfix-child")
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, directory + "/stdout", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, directory + "/stderr", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t()
        sigemptyset(&none)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        var child = pid_t()
        let rc = posix_spawnp(&child, arguments[0], &actions, &attributes, &argv, environ)
        guard rc == 0 else {
            IPFIXTestSystem.removeDirectory(directory)
            throw IPFIXTestSystem.Failure("cannot start \(arguments[0]): \(String(cString: strerror(rc)))")
        }
        pid = child
    }

    public var stdout: String { String(decoding: readFile(directory + "/stdout") ?? [], as: UTF8.self) }
    public var stderr: String { String(decoding: readFile(directory + "/stderr") ?? [], as: UTF8.self) }

    /// The exit status (128 + signal when killed) once it has exited, else nil.
    public func poll() -> Int32? {
        if status != nil { return status }
        var raw: Int32 = 0
        if waitpid(pid, &raw, WNOHANG) == pid { status = (raw & 0x7F) == 0 ? (raw >> 8) & 0xFF : 128 + (raw & 0x7F) }
        return status
    }

    /// Sends `signal` and waits for the exit, polling; SIGKILL after `timeoutSeconds`.
    public func stop(_ signal: Int32 = SIGTERM, timeoutSeconds: Double) -> Int32 {
        if poll() == nil { kill(pid, signal) }
        let deadline = monotonicSeconds() + timeoutSeconds
        while poll() == nil {
            if monotonicSeconds() >= deadline {
                kill(pid, SIGKILL)
                var raw: Int32 = 0
                waitpid(pid, &raw, 0)
                status = 128 + SIGKILL
                break
            }
            usleep(5_000)
        }
        return status ?? -1
    }

    deinit {
        _ = stop(SIGKILL, timeoutSeconds: 10)
        IPFIXTestSystem.removeDirectory(directory)
    }
}
