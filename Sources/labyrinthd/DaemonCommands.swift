import ArgumentParser
import Capture
import ControlPlane
import DataPlane
import ForegroundRuns
import Rooms
import Sinks
import StatsProtocol
import Syscalls

#if canImport(Glibc)
import Glibc
#endif

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the daemon in the foreground until SIGTERM or SIGINT (SIGHUP reloads).",
        discussion:
            "Builds the arena and rooms, starts the pinned workers, serves the stats socket and tells systemd (Type=notify) when it is ready. Exit status (sysexits): 0 after a clean stop; 3 when the leak check failed; 69 when another process answers on the socket; 71 when the arena cannot be locked or mapped, or another system call fails; 73 when the recording's files cannot be made; 77 when a capability is missing (CAP_NET_RAW for a packet socket); 78 for a configuration error or no such interface; 1 for any other failed start. The log says what to do."
    )

    @Option(help: "The configuration file.")
    var config: String = "/etc/labyrinth/labyrinth.toml"

    func run() async throws {
        let code = await Daemon.run(configPath: config)
        if code != 0 { throw ExitCode(code) }
    }
}

struct CheckConfig: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Validate a configuration file and exit (0: valid; 78: not, naming the key and line)."
    )

    @Argument(help: "The configuration file.")
    var path: String

    func run() throws {
        do {
            let c = try DaemonConfiguration.load(path: path)
            print(
                "\(path): valid (\(c.workerCount) workers, rooms of \(c.rooms.pagesPerRoom) pages, \(c.sources.count) sources)"
            )
        } catch {
            FileStandardError.write("\(error)\n")
            throw ExitCode(78)
        }
    }
}

/// The daemon's filter compiler (``FilterCompiler``): a child process that
/// compiles one expression for several link types and writes the programs
/// to standard output, under limits of its own. Not for people.
struct CompileFilter: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compile-filter",
        abstract: "Compile a BPF filter for the daemon (internal: the daemon runs it as a child).",
        shouldDisplay: false
    )

    @Option var snaplen: Int32 = 262_144
    @Option var linkTypes: String
    /// The expression, on standard input (the daemon's way: `ps` shows
    /// arguments to every local user) or as the argument.
    @Flag var expressionFromStdin = false
    @Argument var expression: String?

    func run() throws {
        // A backstop to the parent's deadline and kill: CPU time and memory.
        var cpu = rlimit(rlim_cur: 10, rlim_max: 11)
        _ = setrlimit(Int32(RLIMIT_CPU.rawValue), &cpu)
        // A sanitizer's runtime (TSan, ASan: test builds only) maps terabytes
        // of shadow address space and keeps mapping: under an address-space
        // limit it dies at its next mapping (exit 66), so it goes without.
        let sanitized = ["__tsan_init", "__asan_init"].contains { (name: String) in
            dlsym(UnsafeMutableRawPointer(bitPattern: 0), name) != nil
        }
        if !sanitized {
            var memory = rlimit(
                rlim_cur: rlim_t(FilterCompiler.memoryLimit), rlim_max: rlim_t(FilterCompiler.memoryLimit))
            _ = setrlimit(Int32(RLIMIT_AS.rawValue), &memory)
        }
        let types = linkTypes.split(separator: ",").compactMap { UInt32($0) }
        var text = expression ?? ""
        if expressionFromStdin {
            guard let input = readStandardInput(limit: 1 << 20) else { throw ExitCode(1) }
            text = String(decoding: input, as: UTF8.self)
        }
        let bytes = FilterPrograms.compiledOutput(text, linkTypes: types, snaplen: snaplen)
        guard case .success = bytes.withUnsafeBytes({ Syscall.writeAll(1, $0) }) else { throw ExitCode(1) }
    }
}

/// `labyrinthd config-reference`: the configuration reference, from the
/// daemon's one table of keys (docs/configuration.md, labyrinth.toml(5)).
struct ConfigReferenceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config-reference",
        abstract: "Print the configuration reference: every key, its type, range, default and whether it changes live."
    )

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case markdown, man
    }

    @Option(help: "markdown (docs/configuration.md) or man (labyrinth.toml(5), roff).")
    var format: Format = .markdown

    func run() {
        switch format {
        case .markdown: print(ConfigReference.markdown(), terminator: "")
        case .man: print(ConfigReference.man(version: DaemonState.version), terminator: "")
        }
    }
}
