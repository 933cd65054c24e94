import Syscalls

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
    let socket: Descriptor
    var fd: Int32 { socket.rawValue }
    public let path: String
    var pending: [UInt8] = []

    /// Connects to the daemon's socket, with a timeout for every reply.
    public init(path: String, timeoutSeconds: Int = 10) throws(StatsClientError) {
        self.path = path
        let owned: Descriptor
        switch Syscall.valueOrErrno({
            Glibc.socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        }) {
        case .success(let s): owned = Descriptor(adopting: s)
        case .failure(let e): throw StatsClientError(kind: .unavailable, description: "socket(): \(e)")
        }
        let fd = owned.rawValue
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            throw StatsClientError(kind: .unavailable, description: "\(path): too long for a Unix socket path")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        let connected = Syscall.nothingOrErrno {
            withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
                }
            }
        }
        if case .failure(let e) = connected {
            let reason = e.description
            switch e {
            case .permissionDenied, .notPermitted:
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
        self.socket = owned
    }

    /// How long a reply may take from here on; 0: as long as it takes
    /// (`extract`: its `ok` line comes with the first frame found).
    public func setReplyTimeout(seconds: Int) {
        var tv = timeval(tv_sec: seconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    /// Sends a request and returns the reply.
    public mutating func request(_ request: JSON) throws(StatsClientError) -> JSON {
        var line = request.text + "\n"
        let sent = Syscall.valueOrErrno { line.withUTF8 { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } }
        guard case .success(let count) = sent, count == line.utf8.count else {
            // A daemon that turned us away (too many clients) wrote its
            // reason before closing: that reason is the reply.
            if let last = try? readLine(), let parsed = try? JSON.parse(last) { return parsed }
            let reason: String
            switch sent {
            case .failure(let e): reason = "\(e)"
            case .success(let n): reason = "\(n) of \(line.utf8.count) bytes sent"
            }
            throw StatsClientError(
                kind: .protocolError, description: "the daemon closed the connection (send: \(reason))")
        }
        let reply = try readLine()
        do {
            return try JSON.parse(reply)
        } catch {
            throw StatsClientError(kind: .protocolError, description: "unreadable reply: \(error)")
        }
    }

    /// Sends a request with a descriptor riding on its first byte
    /// (SCM_RIGHTS), for the replay socket, and returns the reply.
    /// The corresponding C function is `sendmsg`.
    public mutating func request(_ request: JSON, passing descriptor: Int32) throws(StatsClientError) -> JSON {
        let line = Array((request.text + "\n").utf8)
        let sent: Int
        do {
            sent = try sendWithDescriptor(line, descriptor)
        } catch {
            // A daemon that turned us away (the credential check, too many
            // clients) wrote its reason before closing: that is the reply.
            if let last = try? readLine(), let parsed = try? JSON.parse(last) { return parsed }
            throw error
        }
        if sent < line.count {
            guard sendRaw(Array(line[sent...])) else {
                if let last = try? readLine(), let parsed = try? JSON.parse(last) { return parsed }
                throw StatsClientError(kind: .protocolError, description: "the daemon closed the connection")
            }
        }
        return try reply()
    }

    /// Sends `bytes` with `descriptors` (SCM_RIGHTS, one control message)
    /// riding on them; returns the bytes sent. For tests that must send
    /// none, two, or the wrong kind.
    public func sendWithDescriptor(_ bytes: [UInt8], _ descriptors: Int32...) throws(StatsClientError) -> Int {
        // struct cmsghdr { size_t cmsg_len; int cmsg_level; int cmsg_type; } then the fds.
        let header = MemoryLayout<Int>.size + 2 * MemoryLayout<Int32>.size
        let length = header + descriptors.count * MemoryLayout<Int32>.size
        let space = (length + MemoryLayout<Int>.size - 1) / MemoryLayout<Int>.size * MemoryLayout<Int>.size
        var control = [UInt8](repeating: 0, count: Swift.max(space, header))
        control.withUnsafeMutableBytes { raw in
            raw.storeBytes(of: length, toByteOffset: 0, as: Int.self)
            raw.storeBytes(of: SOL_SOCKET, toByteOffset: MemoryLayout<Int>.size, as: Int32.self)
            raw.storeBytes(
                of: Int32(SCM_RIGHTS), toByteOffset: MemoryLayout<Int>.size + MemoryLayout<Int32>.size, as: Int32.self)
            for (i, fd) in descriptors.enumerated() {
                raw.storeBytes(of: fd, toByteOffset: header + i * MemoryLayout<Int32>.size, as: Int32.self)
            }
        }
        var data = bytes
        let result = Syscall.valueOrErrno {
            data.withUnsafeMutableBytes { body in
                control.withUnsafeMutableBytes { ctl in
                    var iov = iovec(iov_base: body.baseAddress, iov_len: body.count)
                    return withUnsafeMutablePointer(to: &iov) { iovp in
                        var msg = msghdr()
                        msg.msg_iov = iovp
                        msg.msg_iovlen = 1
                        msg.msg_control = descriptors.isEmpty ? nil : ctl.baseAddress
                        msg.msg_controllen = descriptors.isEmpty ? 0 : ctl.count
                        return sendmsg(fd, &msg, Int32(MSG_NOSIGNAL))
                    }
                }
            }
        }
        switch result {
        case .success(let n): return n
        case .failure(let e):
            throw StatsClientError(
                kind: .protocolError, description: "the daemon closed the connection (sendmsg: \(e))")
        }
    }

    /// Sends bytes as they are (no newline added): for tests and tools that
    /// need to misbehave on purpose. False when the daemon has closed.
    public func sendRaw(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } == bytes.count
    }

    /// After a reply that starts a stream (`dump`): its next bytes into
    /// `buffer`, what followed the reply line first; 0 at the stream's end,
    /// -1 when a signal interrupted the wait. Waits as long as it takes
    /// (the reply timeout no longer applies).
    public mutating func readStream(into buffer: UnsafeMutableRawBufferPointer) throws(StatsClientError) -> Int {
        if !pending.isEmpty {
            let n = Swift.min(pending.count, buffer.count)
            buffer.copyBytes(from: pending[0..<n])
            pending.removeFirst(n)
            return n
        }
        var tv = timeval(tv_sec: 0, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        switch Syscall.valueOrErrno(retryOnInterrupt: false, { recv(fd, buffer.baseAddress, buffer.count, 0) }) {
        case .success(let n): return n
        case .failure(let e) where e == .interrupted: return -1
        case .failure(let e) where e == .connectionReset: return 0
        case .failure(let e): throw StatsClientError(kind: .protocolError, description: "recv: \(e)")
        }
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
            switch Syscall.valueOrErrno({ recv(fd, &chunk, chunk.count, 0) }) {
            case .success(let n) where n > 0:
                pending += chunk[0..<n]
            case .success:
                throw StatsClientError(
                    kind: .protocolError, description: "the daemon closed the connection without a reply")
            case .failure(let e) where e == .connectionReset:
                throw StatsClientError(
                    kind: .protocolError, description: "the daemon closed the connection (reset) without a reply")
            case .failure(let e) where e == .resourceTemporarilyUnavailable || e == .wouldBlock:
                throw StatsClientError(kind: .protocolError, description: "no reply from the daemon in time")
            case .failure(let e):
                throw StatsClientError(kind: .protocolError, description: "recv: \(e)")
            }
        }
    }
}

extension StatsClient {
    /// Sends a typed request; returns the daemon's result (its JSON and its
    /// typed value), or the daemon's error message. A reply that is not the
    /// request's `Reply` is a protocol error.
    public mutating func ask<R: StatsRequest>(_ request: R) throws(StatsClientError) -> Result<
        (json: JSON, value: R.Reply), RequestError
    > {
        let reply = try self.request(request.json)
        switch ReplyEnvelope.result(of: reply) {
        case .failure(let e):
            return .failure(e)
        case .success(let result):
            do {
                return .success((result, try JSONCoding.decode(R.Reply.self, from: result)))
            } catch {
                throw StatsClientError(
                    kind: .protocolError, description: "unreadable \(R.command.rawValue) reply: \(error)")
            }
        }
    }
}
