#if canImport(Glibc)
import Glibc
#endif

/// Why a request to the stats socket failed before any reply.
public struct StatsClientError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable {
        /// Nothing listens there (no file, or refused): exit 69.
        case unavailable
        /// The socket's mode or owner keeps us out: exit 77.
        case permission
        /// The daemon closed the connection or sent something unreadable.
        case protocolError
    }

    public var kind: Kind
    public var description: String

    /// The exit status a command-line tool should use (sysexits.h).
    public var exitCode: Int32 {
        switch kind {
        case .unavailable: return 69
        case .permission: return 77
        case .protocolError: return 76
        }
    }
}

/// A blocking client for the stats socket: one JSON request per line, one
/// reply per line.
public struct StatsClient: ~Copyable {
    let fd: Int32
    public let path: String
    var pending: [UInt8] = []

    /// Connects to the daemon's socket, with a timeout for every reply.
    public init(path: String, timeoutSeconds: Int = 10) throws(StatsClientError) {
        self.path = path
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else {
            throw StatsClientError(kind: .unavailable, description: "socket(): \(String(cString: strerror(errno)))")
        }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            close(fd)
            throw StatsClientError(kind: .unavailable, description: "\(path): too long for a Unix socket path")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        if rc != 0 {
            let e = errno
            close(fd)
            let reason = String(cString: strerror(e))
            switch e {
            case EACCES, EPERM:
                throw StatsClientError(
                    kind: .permission,
                    description:
                        "cannot connect to \(path): \(reason) (you need root or membership in the socket's group)")
            default:
                throw StatsClientError(
                    kind: .unavailable, description: "cannot connect to \(path): \(reason) (is labyrinthd running?)")
            }
        }
        var tv = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        self.fd = fd
    }

    deinit {
        close(fd)
    }

    /// Sends a request and returns the reply.
    public mutating func request(_ request: JSON) throws(StatsClientError) -> JSON {
        var line = request.text + "\n"
        let sent = line.withUTF8 { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        guard sent == line.utf8.count else {
            let e = errno
            // A daemon that turned us away (too many clients) wrote its
            // reason before closing: that reason is the reply.
            if let last = try? readLine(), let parsed = try? JSON.parse(last) { return parsed }
            errno = e
            throw StatsClientError(
                kind: .protocolError,
                description: "the daemon closed the connection (send: \(String(cString: strerror(errno))))")
        }
        let reply = try readLine()
        do {
            return try JSON.parse(reply)
        } catch {
            throw StatsClientError(kind: .protocolError, description: "unreadable reply: \(error)")
        }
    }

    /// Sends bytes as they are (no newline added): for tests and tools that
    /// need to misbehave on purpose. False when the daemon has closed.
    public func sendRaw(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } == bytes.count
    }

    /// True when something (a reply or the end of the connection) is
    /// waiting to be read within `milliseconds`.
    public func isReadable(withinMilliseconds milliseconds: Int32) -> Bool {
        if !pending.isEmpty { return true }
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&p, 1, milliseconds) > 0
    }

    /// Reads the next reply line and parses it.
    public mutating func reply() throws(StatsClientError) -> JSON {
        let line = try readLine()
        do {
            return try JSON.parse(line)
        } catch {
            throw StatsClientError(kind: .protocolError, description: "unreadable reply: \(error)")
        }
    }

    /// True when the daemon has closed the connection (reads end of file)
    /// within `timeoutSeconds`.
    public mutating func isClosedByPeer() -> Bool {
        do {
            _ = try readLine()
            return false
        } catch {
            return error.description.contains("closed")
        }
    }

    mutating func readLine() throws(StatsClientError) -> String {
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            if let nl = pending.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: pending[..<nl], as: UTF8.self)
                pending.removeSubrange(...nl)
                return line
            }
            let n = recv(fd, &chunk, chunk.count, 0)
            if n > 0 {
                pending += chunk[0..<n]
                continue
            }
            if n == 0 {
                throw StatsClientError(
                    kind: .protocolError, description: "the daemon closed the connection without a reply")
            }
            let e = errno
            if e == EINTR { continue }
            if e == ECONNRESET {
                throw StatsClientError(
                    kind: .protocolError, description: "the daemon closed the connection (reset) without a reply")
            }
            if e == EAGAIN || e == EWOULDBLOCK {
                throw StatsClientError(kind: .protocolError, description: "no reply from the daemon in time")
            }
            throw StatsClientError(kind: .protocolError, description: "recv: \(String(cString: strerror(e)))")
        }
    }
}
