import StatsProtocol

#if canImport(Glibc)
import Glibc
#endif

/// A `labyrinthd run` child with its own config, socket and log, for tests
/// that talk to the real daemon over its socket.
public final class DaemonProcess {
    public let directory: String
    public let socket: String
    public let log: String
    public let configPath: String
    public let pid: pid_t
    private var exitStatus: Int32?

    /// Starts the daemon with `[daemon]` settings added to a small default
    /// config, and waits until its socket answers.
    /// `wholeConfig`, when given, writes the whole file instead, from the
    /// socket's path and the daemon's directory.
    public init(
        daemon extra: String = "", workers: Int = 1, pagesPerRoom: Int = 1024, more: String = "", prefix: [String] = [],
        directoryMode: mode_t? = nil, wholeConfig: ((_ socket: String, _ directory: String) -> String)? = nil
    ) throws {
        directory = temporaryDirectory("labyrinthd")
        if let directoryMode { chmod(directory, directoryMode) }
        socket = directory + "/labyrinthd.sock"
        log = directory + "/stderr"
        let config = directory + "/labyrinth.toml"
        configPath = config
        let text =
            wholeConfig?(socket, directory)
            ?? Self.configText(socket: socket, daemon: extra, workers: workers, pagesPerRoom: pagesPerRoom, more: more)
        writeFile(config, Array(text.utf8))
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        defer { posix_spawn_file_actions_destroy(&actions) }
        let arguments = prefix + [executable("labyrinthd"), "run", "--config", config]
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        var child = pid_t()
        let rc = posix_spawnp(&child, arguments[0], &actions, nil, &argv, environ)
        guard rc == 0 else { throw TestFailure("cannot start \(arguments[0]): \(String(cString: strerror(rc)))") }
        pid = child
        let deadline = time(nil) + 20
        while time(nil) < deadline {
            // Ready: the socket answers and the daemon has said "running"
            // (after READY=1: every socket bound, the signals about to be
            // handled).
            if let client = try? StatsClient(path: socket, timeoutSeconds: 5) {
                _ = consume client
                if logText.contains("running: ") { return }
            }
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid {
                exitStatus = status
                throw TestFailure("labyrinthd exited at start:\n\(logText)")
            }
            usleep(20_000)
        }
        kill(pid, SIGKILL)
        throw TestFailure("labyrinthd did not open its socket within 20 s:\n\(logText)")
    }

    /// The test config: `[daemon]` with `daemon` lines, a best-effort
    /// locked arena, `[workers]` with `more` lines (which may open further
    /// sections).
    public static func configText(
        socket: String, daemon: String = "", workers: Int = 1, pagesPerRoom: Int = 1024, more: String = ""
    ) -> String {
        // Replays by path are taken beneath the test directories and the
        // package (where the bundled capture is), unless the test says.
        let allowed = "allowed_directories = [\"/tmp\", \"\(packageRoot)\"]"
        var more = more
        if !more.contains("allowed_directories") {
            if more.contains("[replay]") {
                more = more.replacingFirst("[replay]", with: "[replay]\n" + allowed)
            } else {
                more += "\n\n[replay]\n" + allowed
            }
        }
        return """
            [daemon]
            socket = "\(socket)"
            \(daemon)

            [rooms]
            pages_per_room = \(pagesPerRoom)
            lock = "best-effort"

            [workers]
            count = \(workers)
            flow_capacity = 4096
            \(more)

            """
    }

    public var logText: String { String(decoding: readFile(log) ?? [], as: UTF8.self) }

    /// True while the process has not exited.
    public var isRunning: Bool {
        if exitStatus != nil { return false }
        var status: Int32 = 0
        if waitpid(pid, &status, WNOHANG) == pid {
            exitStatus = status
            return false
        }
        return true
    }

    /// One request on a fresh connection; the daemon's `result`.
    public func ask(_ request: JSON) throws -> JSON {
        var client = try StatsClient(path: socket)
        let reply = try client.request(request)
        guard reply["ok"] == .bool(true), let result = reply["result"] else {
            throw TestFailure("the daemon refused \(request.text): \(reply.text)")
        }
        return result
    }

    /// `signal` (SIGTERM), then waits; the exit code (128+N for a signal).
    public func stop(signal: Int32 = SIGTERM, timeoutSeconds: Int = 30) -> Int32 {
        if exitStatus == nil {
            kill(pid, signal)
            let deadline = time(nil) + timeoutSeconds
            var status: Int32 = 0
            while true {
                let r = waitpid(pid, &status, WNOHANG)
                if r == pid {
                    exitStatus = status
                    break
                }
                if time(nil) >= deadline {
                    kill(pid, SIGKILL)
                    waitpid(pid, &status, 0)
                    exitStatus = status
                    break
                }
                usleep(10_000)
            }
        }
        let status = exitStatus!
        return (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
    }

    deinit {
        if isRunning {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }
        for name in ["labyrinth.toml", "stderr", "labyrinthd.sock"] { unlink(directory + "/" + name) }
        rmdir(directory)
    }
}

public struct TestFailure: Error, CustomStringConvertible {
    public var description: String
    public init(_ d: String) { description = d }
}

extension String {
    /// `self` with the first `target` replaced.
    public func replacingFirst(_ target: String, with replacement: String) -> String {
        let chars = Array(self)
        let t = Array(target)
        guard !t.isEmpty, chars.count >= t.count else { return self }
        for i in 0...(chars.count - t.count) where Array(chars[i..<i + t.count]) == t {
            return String(chars[..<i]) + replacement + String(chars[(i + t.count)...])
        }
        return self
    }
}
