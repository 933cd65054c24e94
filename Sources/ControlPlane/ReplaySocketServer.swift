import CLinux
import DataPlane
import Logging
import StatsProtocol
import Syscalls

#if canImport(Glibc)
import Glibc
#endif

/// The replay socket: a second Unix socket beside the stats socket that
/// takes one kind of request, `{"command":"replay","fd":true,…}`, with the
/// capture's descriptor riding on its first byte (SCM_RIGHTS). The client
/// opened the file with its own rights; the daemon reads it with `pread` and
/// never opens a path for it.
///
/// Why a socket of its own, served by `recvmsg` on a thread of its own, and
/// not the stats socket's SwiftNIO pipeline: NIO 2.101 reads stream sockets
/// with `read`, which drops (and closes) any descriptor that came with the
/// bytes, and has no way to hand a connection's fd back once NIO owns it.
/// A connection here carries one request: it is answered with the job and
/// closed; the client follows the job on the stats socket.
///
/// Checks: the peer may act (root, the daemon's user, the admin group);
/// exactly one descriptor, on the first byte, received with
/// MSG_CMSG_CLOEXEC; a truncated control message (MSG_CTRUNC), a second
/// descriptor, one not open for reading (O_PATH, write-only) or not a
/// regular file is refused. The request size cap, the request deadline and
/// the client limit are the stats socket's.
final class ReplaySocketServer: @unchecked Sendable {
    private var listening: Descriptor
    var listener: Int32 { listening.rawValue }
    /// The path this server bound (nil: handed over by systemd).
    let path: String?
    private var wake: Descriptor
    var wakeup: Int32 { wake.rawValue }
    let limits: StatsServerLimits
    let processor: CommandProcessor
    let logger: Logger
    /// The serving thread, joined by ``stop()``.
    private var thread: PinnedThread? = nil

    /// Serves on `listeningSocket` (socket activation) or binds `path` with
    /// `mode` and `gid`.
    init(
        path: String, listeningSocket: Int32?, mode: UInt32, gid: gid_t?, limits: StatsServerLimits,
        processor: CommandProcessor, logger: Logger
    ) throws(StatsServerError) {
        self.limits = limits
        self.processor = processor
        self.logger = logger
        let listening: Descriptor
        if let fd = listeningSocket {
            listening = Descriptor(adopting: fd)
            self.path = nil
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        } else {
            listening = try Self.bind(path: path, mode: mode, gid: gid)
            self.path = path
        }
        switch Syscall.negatedErrno({ clinux_eventfd() }) {
        case .success(let fd): wake = Descriptor(adopting: fd)
        case .failure(let e): throw StatsServerError("replay socket: eventfd", errno: e)
        }
        self.listening = listening
        do throws(ThreadStartError) {
            thread = try PinnedThread(name: "ctl-replay") { [self] in serve() }
        } catch {
            throw StatsServerError("replay socket", wrapping: error)
        }
    }

    /// A listening Unix socket at `path`, mode and group set.
    static func bind(path: String, mode: UInt32, gid: gid_t?) throws(StatsServerError) -> Descriptor {
        do {
            try StatsServer.prepare(path: path)
        } catch {
            throw StatsServerError("replay socket \(path)", wrapping: error)
        }
        let socket: Descriptor
        switch Syscall.valueOrErrno({
            Glibc.socket(
                AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        }) {
        case .success(let s): socket = Descriptor(adopting: s)
        case .failure(let e): throw StatsServerError("replay socket \(path)", errno: e)
        }
        let fd = socket.rawValue
        unlink(path)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            throw StatsServerError("replay socket \(path): too long for a Unix socket path")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        let bound = Syscall.nothingOrErrno {
            withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    Glibc.bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
                }
            }
        }
        let steps: [(String, Result<Void, Errno>)] = [
            ("bind", bound),
            ("chmod", bound.flatMap { Syscall.nothingOrErrno { chmod(path, mode_t(mode)) } }),
            (
                "chown",
                bound.flatMap { gid.map { g in Syscall.nothingOrErrno { chown(path, uid_t.max, g) } } ?? .success(()) }
            ),
            ("listen", bound.flatMap { Syscall.nothingOrErrno { listen(fd, 128) } }),
        ]
        for (what, result) in steps {
            if case .failure(let e) = result {
                throw StatsServerError("replay socket \(path): \(what)", errno: e)
            }
        }
        return socket
    }

    /// Stops serving, closes every connection and removes the socket file.
    func stop() {
        var one: UInt64 = 1
        _ = write(wakeup, &one, 8)
        if let running = thread.take() { running.join() }
        listening = Descriptor(adopting: -1)
        wake = Descriptor(adopting: -1)
        if let path { unlink(path) }
    }

    // MARK: The loop

    final class Client {
        /// The connection, closed by ``finish(_:)``.
        var socket: Descriptor
        var fd: Int32 { socket.rawValue }
        let deadline: UInt64
        let pid: pid_t
        var bytes: [UInt8] = []
        /// The descriptor that came with the request (-1: none yet).
        var passed = Descriptor(adopting: -1)
        init(socket: consuming Descriptor, deadline: UInt64, pid: pid_t) {
            self.socket = socket
            self.deadline = deadline
            self.pid = pid
        }
    }

    func serve() {
        var clients: [Client] = []
        defer { for c in clients { finish(c) } }
        while true {
            let now = Self.now()
            var fds = [
                pollfd(fd: listener, events: Int16(POLLIN), revents: 0),
                pollfd(fd: wakeup, events: Int16(POLLIN), revents: 0),
            ]
            fds += clients.map { pollfd(fd: $0.fd, events: Int16(POLLIN), revents: 0) }
            let nearest =
                clients.map(\.deadline).min().map { $0 > now ? Int32(clamping: ($0 - now) / 1_000_000 + 1) : 0 } ?? 1000
            guard case .success = Syscall.valueOrErrno({ poll(&fds, nfds_t(fds.count), nearest) }) else { break }
            if fds[1].revents != 0 { return }
            // The connections that have something.
            var keep: [Client] = []
            for (i, client) in clients.enumerated() {
                let revents = fds[i + 2].revents
                if revents != 0 {
                    if read(client) { keep.append(client) }
                } else if Self.now() >= client.deadline {
                    refuse(client, "request not finished within \(limits.requestTimeout) (send a whole line at once)")
                } else {
                    keep.append(client)
                }
            }
            clients = keep
            if fds[0].revents != 0 { accept(into: &clients) }
        }
    }

    static func now() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }

    func accept(into clients: inout [Client]) {
        while true {
            let fd = clinux_accept(listener)
            guard fd >= 0 else { return }
            var pid: Int32 = 0
            var uid: UInt32 = 0
            var gid: UInt32 = 0
            let client = Client(
                socket: Descriptor(adopting: fd),
                deadline: Self.now() + UInt64(limits.requestTimeout.components.seconds) * 1_000_000_000
                    + UInt64(limits.requestTimeout.components.attoseconds / 1_000_000_000), pid: 0)
            if clients.count >= limits.maxClients {
                refuse(client, "too many clients (\(limits.maxClients) at once); try again later")
                continue
            }
            guard clinux_peer_credentials(fd, &pid, &uid, &gid) == 0 else {
                refuse(client, "cannot read your credentials (SO_PEERCRED)")
                continue
            }
            switch PeerCredentials.access(
                uid: uid, gid: gid, pid: pid, group: limits.group, adminGroup: limits.adminGroup)
            {
            case .act?:
                clients.append(Client(socket: client.socket.take(), deadline: client.deadline, pid: pid))
            case .read?:
                refuse(client, processor.refusal(.replay))
            case nil:
                logger.warning("replay socket: refused a client", metadata: ["uid": "\(uid)", "pid": "\(pid)"])
                refuse(client, "permission denied: uid \(uid) may not replay (root or the admin group)")
            }
        }
    }

    /// Reads what the client sent; false once the client is done with
    /// (answered, refused or gone).
    func read(_ client: Client) -> Bool {
        var chunk = [UInt8](repeating: 0, count: 4096)
        var control = [UInt8](repeating: 0, count: 64)  // room for two descriptors: a second one is seen
        while true {
            var fds: (Int32, Int32) = (-1, -1)
            let (n, flags, received) = chunk.withUnsafeMutableBytes { data in
                control.withUnsafeMutableBytes { ctl in
                    // The first byte alone: the descriptor must ride on it,
                    // and one that rides on a later byte is then seen apart.
                    var iov = iovec(iov_base: data.baseAddress, iov_len: client.bytes.isEmpty ? 1 : data.count)
                    return withUnsafeMutablePointer(to: &iov) { iovp in
                        var msg = msghdr()
                        msg.msg_iov = iovp
                        msg.msg_iovlen = 1
                        msg.msg_control = ctl.baseAddress
                        msg.msg_controllen = ctl.count
                        let n = recvmsg(client.fd, &msg, Int32(MSG_CMSG_CLOEXEC) | Int32(MSG_DONTWAIT))
                        if n < 0 { return (n, Int32(0), Int32(0)) }
                        let received = withUnsafeMutablePointer(to: &fds) {
                            $0.withMemoryRebound(to: Int32.self, capacity: 2) {
                                clinux_received_descriptors(&msg, $0, 2)
                            }
                        }
                        return (n, msg.msg_flags, received)
                    }
                }
            }
            if n < 0 {
                if errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR { return true }
                finish(client)
                return false
            }
            // Ours from here: whatever is refused closes with these.
            var first = Descriptor(adopting: received >= 1 ? fds.0 : -1)
            let second = Descriptor(adopting: received >= 2 ? fds.1 : -1)
            if flags & Int32(MSG_CTRUNC) != 0 || received > 2 {
                refuse(client, "refused: more than one descriptor, or a truncated control message (MSG_CTRUNC)")
                return false
            }
            if received < 0 {
                refuse(client, "refused: only SCM_RIGHTS control messages are taken")
                return false
            }
            if received > 0 {
                if second.isOpen || client.passed.isOpen || !client.bytes.isEmpty {
                    refuse(client, "refused: exactly one descriptor, riding with the request's first byte")
                    return false
                }
                client.passed = first.take()
            }
            if n == 0 {
                finish(client)
                return false
            }
            client.bytes += chunk[0..<n]
            if let newline = client.bytes.firstIndex(of: UInt8(ascii: "\n")) {
                answer(client, line: String(decoding: client.bytes[..<newline], as: UTF8.self))
                return false
            }
            if client.bytes.count > limits.requestMaxBytes {
                refuse(client, "request larger than \(limits.requestMaxBytes) bytes: ignored")
                return false
            }
        }
    }

    /// Checks the request and its descriptor, queues the replay, answers.
    func answer(_ client: Client, line: String) {
        let request: ReplayRequest
        do throws(RequestError) {
            let json: JSON
            do {
                json = try JSON.parse(line)
            } catch {
                throw RequestError("not JSON: \(error)")
            }
            guard json["command"]?.stringValue == Command.replay.rawValue else {
                throw RequestError("this socket takes only {\"command\":\"replay\",\"fd\":true,…} with the descriptor")
            }
            request = try ReplayRequest.decode(json)
            guard request.fd == true else {
                throw RequestError("this socket takes only replays with \"fd\": true and the file's descriptor")
            }
        } catch {
            refuse(client, error.message)
            return
        }
        guard client.passed.isOpen else {
            refuse(client, "refused: no descriptor came with the request (SCM_RIGHTS on its first byte)")
            return
        }
        let file = OpenFile(
            descriptor: client.passed.take().release(), name: request.name ?? "fd from pid \(client.pid)")
        if let problem = Self.check(file.descriptor) {
            refuse(client, "refused: \(problem)")
            return
        }
        do throws(RequestError) {
            let job = try processor.submit(.file(file), request: request)
            logger.info("replay job \(job.job) queued with a descriptor from pid \(client.pid): \(job.file)")
            reply(client, ReplyEnvelope.ok(ReplayReply.job(job)))
        } catch {
            refuse(client, error.message)
        }
    }

    /// Why a passed descriptor cannot be replayed, or nil when it can.
    static func check(_ fd: Int32) -> String? {
        let flags = fcntl(fd, F_GETFL)
        guard flags >= 0 else { return "the descriptor is not open" }
        if flags & clinux_o_path() != 0 { return "the descriptor is not open for reading (O_PATH)" }
        if flags & O_ACCMODE == O_WRONLY { return "the descriptor is not open for reading (write-only)" }
        var st = stat()
        guard fstat(fd, &st) == 0 else { return "fstat failed: \(Errno.current)" }
        guard st.st_mode & S_IFMT == S_IFREG else { return "the descriptor is not a regular file" }
        return nil
    }

    func refuse(_ client: Client, _ message: String) {
        reply(client, ReplyEnvelope.error(message))
    }

    func reply(_ client: Client, _ json: JSON) {
        var bytes = json.bytes
        bytes.append(UInt8(ascii: "\n"))
        _ = bytes.withUnsafeBytes {
            send(client.fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT))
        }
        finish(client)
    }

    func finish(_ client: Client) {
        client.passed = Descriptor(adopting: -1)
        shutdown(client.fd, Int32(SHUT_RDWR))
        client.socket = Descriptor(adopting: -1)
    }
}
