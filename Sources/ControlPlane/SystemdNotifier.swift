import CLinux
import Syscalls

#if canImport(Glibc)
import Glibc
#endif

/// The systemd service protocol, spoken without libsystemd: sd_notify
/// datagrams to `$NOTIFY_SOCKET`, the watchdog interval from
/// `$WATCHDOG_USEC`, and sockets handed over by socket activation
/// (`$LISTEN_FDS`, `$LISTEN_PID`, starting at fd 3).
public struct SystemdNotifier: Sendable {
    /// Where notifications go; nil when not run by systemd.
    public let socketPath: String?
    /// Half the watchdog interval (the recommended ping period), if any.
    public let watchdogPeriod: Duration?

    public init(environment: [String: String] = SystemdNotifier.environment) {
        socketPath = environment["NOTIFY_SOCKET"].flatMap { $0.isEmpty ? nil : $0 }
        var period: Duration? = nil
        if let usec = environment["WATCHDOG_USEC"].flatMap({ Int($0) }), usec > 0 {
            let pidMatches = environment["WATCHDOG_PID"].flatMap { Int32($0) }.map { $0 == getpid() } ?? true
            if pidMatches { period = .microseconds(usec / 2) }
        }
        watchdogPeriod = period
    }

    /// The process environment.
    public static var environment: [String: String] {
        var out: [String: String] = [:]
        var p = environ
        while let entry = p.pointee {
            let s = String(cString: entry)
            if let eq = s.firstIndex(of: "=") { out[String(s[..<eq])] = String(s[s.index(after: eq)...]) }
            p += 1
        }
        return out
    }

    /// Sends one notification ("READY=1", "STATUS=…", "WATCHDOG=1", …).
    /// Returns false when there is no systemd to tell or the send failed.
    @discardableResult
    public func notify(_ state: String) -> Bool {
        guard let path = socketPath else { return false }
        let socket = Descriptor(
            adopting: Glibc.socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0))
        guard socket.isOpen else { return false }
        let fd = socket.rawValue
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array(path.utf8)
        if bytes.first == UInt8(ascii: "@") { bytes[0] = 0 }  // abstract namespace
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return false }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count)
        let sent = state.utf8CString.withUnsafeBytes { message in
            withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(fd, message.baseAddress, message.count - 1, Int32(MSG_NOSIGNAL), $0, length)
                }
            }
        }
        return sent >= 0
    }

    /// The listening sockets systemd passed (socket activation, from fd 3),
    /// each with the path it is bound to, so that the caller can tell the
    /// stats socket from the replay socket. Clears the variables so that
    /// children do not inherit them.
    public static func activatedSockets(environment: [String: String] = SystemdNotifier.environment) -> [(
        fd: Int32, path: String
    )] {
        guard let count = environment["LISTEN_FDS"].flatMap({ Int32($0) }), count >= 1, count < 64,
            let pid = environment["LISTEN_PID"].flatMap({ Int32($0) }), pid == getpid()
        else { return [] }
        unsetenv("LISTEN_FDS")
        unsetenv("LISTEN_PID")
        unsetenv("LISTEN_FDNAMES")
        return (0..<count).map { i in
            let fd = 3 + i
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            var address = sockaddr_un()
            var length = socklen_t(MemoryLayout<sockaddr_un>.size)
            let ok = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
            }
            let path =
                ok == 0
                ? withUnsafeBytes(of: address.sun_path) { raw in
                    String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
                } : ""
            return (fd, path)
        }
    }
}
