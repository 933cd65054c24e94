import CLinux
import CRoomsSupport
import Capture
import DataPlane
import StatsProtocol
import Synchronization
import Syscalls

#if canImport(Glibc)
import Glibc
#endif

/// A client's tcpdump expression compiled off the stats socket's event
/// loop, with a bound on the time the compile takes and on the size of
/// what it makes. libpcap's optimizer is not linear: a 4 KB chain of
/// `portrange` terms took 49 s for the eight link types a tap takes, and
/// nothing can stop `pcap_compile` half way. So the compile runs in a
/// child process (`labyrinthd compile-filter`, the daemon's own binary)
/// that a thread of its own waits for with a deadline, and kills when the
/// deadline passes: the event loop never waits, and a pathological filter
/// costs its own CPU for the bound and nothing after.
public enum FilterCompiler {
    /// How long a compile may take, over every link type.
    public static let timeLimit: Int64 = 2_000_000_000
    /// The most instructions a compiled program may have, for any link
    /// type: the kernel's BPF_MAXINSNS. A tap's filter runs on the workers
    /// for every frame; one this long is refused, not run.
    public static let maximumInstructions = 4096
    /// Compiles running at once, over every client.
    public static let limit = 4
    static let running = Atomic<Int>(0)
    /// The child's own ceiling on its address space (bytes).
    public static let memoryLimit = 1 << 30

    /// Why a compile was refused.
    public struct Refusal: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    /// Compiles `expression` for `linkTypes` in a child process, waiting on
    /// a thread of its own; the caller's task is suspended meanwhile.
    public static func compile(_ expression: String, linkTypes: [UInt32], snaplen: Int32 = 262_144) async -> Result<
        FilterPrograms, Refusal
    > {
        await withCheckedContinuation { continuation in
            do throws(ThreadStartError) {
                try PinnedThread(name: "ctl-bpf") {
                    continuation.resume(returning: compileNow(expression, linkTypes: linkTypes, snaplen: snaplen))
                }.detach()
            } catch {
                continuation.resume(returning: .failure(Refusal(description: "cannot start a thread: \(error)")))
            }
        }
    }

    /// The blocking part: spawn, read with a deadline, reap.
    static func compileNow(_ expression: String, linkTypes: [UInt32], snaplen: Int32) -> Result<
        FilterPrograms, Refusal
    > {
        // Every compile at once, whoever asks (root has no per-user cap):
        // each is a process of up to a CPU and 1 GiB for 2 s.
        guard running.wrappingAdd(1, ordering: .relaxed).newValue <= limit else {
            running.wrappingSubtract(1, ordering: .relaxed)
            return .failure(
                Refusal(description: "\(limit) filters are being compiled at once, the most there may be; try again"))
        }
        defer { running.wrappingSubtract(1, ordering: .relaxed) }
        // The expression goes through standard input: on the command line,
        // `ps` would show an admin's filter to every local user.
        let arguments = [
            "/proc/self/exe", "compile-filter", "--snaplen", "\(snaplen)",
            "--link-types", linkTypes.map(String.init).joined(separator: ","), "--expression-from-stdin",
        ]
        let input: Descriptor
        switch FilterPipe.holding(expression) {
        case .success(let d): input = d
        case .failure(let e): return .failure(Refusal(description: "cannot pass the filter to its compiler: \(e)"))
        }
        let output: [UInt8]
        switch run(arguments, input: input, timeLimit: timeLimit) {
        case .success(let bytes): output = bytes
        case .failure(let refusal): return .failure(refusal)
        }
        guard let parsed = FilterPrograms.parseCompiledOutput(output) else {
            return .failure(Refusal(description: "the filter compiler ended without an answer"))
        }
        if parsed.largest > maximumInstructions {
            return .failure(
                Refusal(
                    description:
                        "filter refused: it compiles to \(parsed.largest) BPF instructions, more than the \(maximumInstructions) a tap's filter may have"
                ))
        }
        do throws(LiveCaptureError) {
            return .success(try FilterPrograms(expression, compiled: parsed.compiled, refusals: parsed.refusals))
        } catch {
            return .failure(Refusal(description: error.message))
        }
    }

    /// Runs `arguments` with its standard output read into memory, for at
    /// most `timeLimit` ns; past it the child is killed.
    static func run(_ arguments: [String], input: borrowing Descriptor, timeLimit: Int64) -> Result<[UInt8], Refusal> {
        var pipeFDs: [Int32] = [-1, -1]
        if case .failure(let e) = Syscall.negatedErrno({ clinux_pipe_cloexec(&pipeFDs) }) {
            return .failure(Refusal(description: "cannot make a pipe for the filter compiler: \(e)"))
        }
        let readEnd = Descriptor(adopting: pipeFDs[0])
        let writeEnd = Descriptor(adopting: pipeFDs[1])
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, writeEnd.rawValue, 1)
        posix_spawn_file_actions_adddup2(&actions, input.rawValue, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        var environment: [UnsafeMutablePointer<CChar>?] = [strdup("SWIFT_BACKTRACE=enable=no"), nil]
        defer { for p in environment { free(p) } }
        var child = pid_t()
        let spawned = posix_spawn(&child, arguments[0], &actions, nil, &argv, &environment)
        writeEnd.close()  // the child's now: its end of file is ours
        guard spawned == 0 else {
            return .failure(
                Refusal(description: "cannot start the filter compiler: \(String(cString: strerror(spawned)))"))
        }
        let deadline = Int64(lab_monotonic_ns()) &+ timeLimit
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        var timedOut = false
        while true {
            let left = deadline &- Int64(lab_monotonic_ns())
            if left <= 0 {
                timedOut = true
                break
            }
            var fd = pollfd(fd: readEnd.rawValue, events: Int16(POLLIN), revents: 0)
            let ready = Syscall.valueOrErrno { poll(&fd, 1, Int32(clamping: left / 1_000_000 + 1)) }
            guard case .success(let events) = ready, events > 0 else { continue }
            guard case .success(let n) = Syscall.valueOrErrno({ read(readEnd.rawValue, &chunk, chunk.count) }), n > 0
            else { break }
            output += chunk[0..<n]
            if output.count > 64 << 20 {
                // Eight link types of 4096 instructions are 256 KiB: this is
                // a program nobody should run.
                kill(child, SIGKILL)
                break
            }
        }
        if timedOut { kill(child, SIGKILL) }
        let status = (try? Syscall.waitForChild(child).get()) ?? 0
        if timedOut {
            return .failure(
                Refusal(
                    description:
                        "filter refused: compiling it took longer than \(timeLimit / 1_000_000_000) s, the bound on a tap filter's compile (libpcap's optimizer grows fast with chains of terms)"
                ))
        }
        if output.count > 64 << 20 {
            return .failure(Refusal(description: "filter refused: its compiled programs are larger than 64 MiB"))
        }
        let exitedCleanly = status & 0x7F == 0 && (status >> 8) & 0xFF == 0
        if !exitedCleanly {
            return .failure(
                Refusal(
                    description:
                        "filter refused: the compiler ended with status \(status & 0x7F == 0 ? "exit \((status >> 8) & 0xFF)" : "signal \(status & 0x7F)") (its memory is limited to \(memoryLimit >> 20) MiB)"
                ))
        }
        return .success(output)
    }
}
