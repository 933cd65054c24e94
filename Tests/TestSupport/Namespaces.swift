import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A network namespace of the test's own with a veth pair inside it
/// (`sender` and `receiver`, both up, IPv6 off so that nothing but the
/// test's traffic crosses). Removing the namespace removes the pair.
public final class TestNetwork {
    public let namespace: String
    public let sender = "lab0s"
    public let receiver = "lab0r"
    static let made = Atomic<Int>(0)

    public init() throws {
        namespace = "labyrinth-test-\(getpid())-\(TestNetwork.made.wrappingAdd(1, ordering: .relaxed).newValue)"
        let steps: [[String]] = [
            ["ip", "netns", "add", namespace],
            [
                "ip", "netns", "exec", namespace, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1",
                "net.ipv6.conf.default.disable_ipv6=1",
            ],
            ["ip", "-n", namespace, "link", "add", sender, "type", "veth", "peer", "name", receiver],
            ["ip", "-n", namespace, "link", "set", sender, "up"],
            ["ip", "-n", namespace, "link", "set", receiver, "up"],
            ["ip", "-n", namespace, "link", "set", "lo", "up"],
        ]
        for step in steps {
            let r = run(step)
            if r.status != 0 {
                _ = run(["ip", "netns", "del", namespace])
                throw SetupError("\(step.joined(separator: " ")): exit \(r.status): \(r.stderr)")
            }
        }
    }

    /// A command run inside the namespace.
    public func command(_ arguments: [String]) -> [String] { ["ip", "netns", "exec", namespace] + arguments }

    /// Sends a capture out of `sender` with tcpreplay at `pps`.
    public func send(_ file: String, pps: Int) -> ProcessResult {
        run(command(["tcpreplay", "-q", "-i", sender, "--pps", String(pps), file]), timeoutSeconds: 120)
    }

    deinit {
        _ = run(["ip", "netns", "del", namespace])
    }

    public struct SetupError: Error, CustomStringConvertible {
        public var description: String
        public init(_ d: String) { description = d }
    }
}

/// A child process running in the background with its output in files.
public final class ChildProcess {
    public let pid: pid_t
    let directory: String
    public var status: Int32?

    public init(_ arguments: [String]) throws {
        directory = temporaryDirectory("child")
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        posix_spawn_file_actions_addopen(&actions, 1, directory + "/stdout", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, directory + "/stderr", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        var child = pid_t()
        let rc = posix_spawnp(&child, arguments[0], &actions, nil, &argv, environ)
        guard rc == 0 else {
            throw TestNetwork.SetupError("cannot start \(arguments[0]): \(String(cString: strerror(rc)))")
        }
        pid = child
    }

    public var stdout: String { String(decoding: readFile(directory + "/stdout") ?? [], as: UTF8.self) }
    public var stderr: String { String(decoding: readFile(directory + "/stderr") ?? [], as: UTF8.self) }

    /// Waits until stderr contains `text` (true) or the process exits or
    /// the time is up (false).
    public func waitForError(containing text: String, timeoutSeconds: Double) -> Bool {
        let deadline = monotonicSeconds() + timeoutSeconds
        while monotonicSeconds() < deadline {
            if stderr.contains(text) { return true }
            if poll() != nil { return stderr.contains(text) }
            usleep(10_000)
        }
        return false
    }

    /// The exit status if it has exited.
    public func poll() -> Int32? {
        if status != nil { return status }
        var raw: Int32 = 0
        if waitpid(pid, &raw, WNOHANG) == pid { status = (raw & 0x7F) == 0 ? (raw >> 8) & 0xFF : 128 + (raw & 0x7F) }
        return status
    }

    /// Waits for the exit (killing it after `timeoutSeconds`).
    public func wait(timeoutSeconds: Double) -> Int32 {
        let deadline = monotonicSeconds() + timeoutSeconds
        while poll() == nil {
            if monotonicSeconds() >= deadline {
                kill(pid, SIGKILL)
                var raw: Int32 = 0
                waitpid(pid, &raw, 0)
                status = 128 + SIGKILL
                break
            }
            usleep(10_000)
        }
        return status!
    }

    deinit {
        if poll() == nil {
            kill(pid, SIGKILL)
            var raw: Int32 = 0
            waitpid(pid, &raw, 0)
        }
        unlink(directory + "/stdout")
        unlink(directory + "/stderr")
        rmdir(directory)
    }
}

public func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// A capture of `count` UDP frames over `flows` flows (sources 10.S.x.y,
/// ports from `firstPort`), a millisecond apart.
public func udpCapture(count: Int, flows: Int, subnet: UInt8 = 0, firstPort: UInt16 = 1024, payload: Int = 18)
    -> [UInt8]
{
    var writer = PcapWriter()
    for i in 0..<count {
        let f = i % flows
        writer.record(
            Frames.udp4(
                src: [10, subnet, UInt8(f >> 8), UInt8(f & 0xFF)], sport: firstPort + UInt16(f), payload: payload),
            seconds: 1_700_000_000 + UInt32(i / 1000), fraction: UInt32(i % 1000) * 1000)
    }
    return writer.bytes
}
