#if canImport(Glibc)
import Glibc
#endif

/// The package's root directory (where Package.swift is).
public let packageRoot: String = {
    "/" + #filePath.split(separator: "/").dropLast(3).joined(separator: "/")
}()

/// Tests/Fixtures.
public var fixturesDirectory: String { packageRoot + "/Tests/Fixtures" }

/// The directory of the running test binary, where SwiftPM also puts the
/// package's executables.
public let buildDirectory: String = {
    var buffer = [CChar](repeating: 0, count: 4096)
    let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
    let path = n > 0 ? String(decoding: buffer.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self) : ""
    // .../debug/LabyrinthPackageTests.xctest
    return "/" + path.split(separator: "/").dropLast().joined(separator: "/")
}()

/// A built executable of this package, e.g. "labyrinthd".
public func executable(_ name: String) -> String { buildDirectory + "/" + name }

/// Where this test process makes its temporary directories:
/// /tmp/labyrinth-tests-PID, made on first use and removed with all it holds
/// when the process exits, so that no test leaves anything in /tmp even when
/// it fails before its own cleanup. Readable by all (0755), as /tmp is, for
/// the tests that act as other users. At exit it also removes the scratch
/// roots of test processes that are gone: an exit test's child that became
/// another user cannot remove its own, and a crashed run leaves one.
public let scratchRoot: String = {
    let path = scratchRootPath(getpid())
    removeScratchRootsOfDeadProcesses()
    let made = mkdir(path, 0o755)
    precondition(made == 0 || errno == EEXIST, "cannot make \(path): errno \(errno)")
    chmod(path, 0o755)
    atexit {
        removeTree(scratchRootPath(getpid()))
        removeScratchRootsOfDeadProcesses()
    }
    return path
}()

private let scratchRootPrefix = "labyrinth-tests-"
private func scratchRootPath(_ pid: pid_t) -> String { "/tmp/\(scratchRootPrefix)\(pid)" }

/// Removes /tmp/labyrinth-tests-PID where no process PID exists.
private func removeScratchRootsOfDeadProcesses() {
    guard let d = opendir("/tmp") else { return }
    var dead: [String] = []
    while let entry = readdir(d) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        guard name.hasPrefix(scratchRootPrefix), let pid = pid_t(name.dropFirst(scratchRootPrefix.count)) else {
            continue
        }
        if kill(pid, 0) != 0 && errno == ESRCH { dead.append("/tmp/" + name) }
    }
    closedir(d)
    for path in dead { removeTree(path) }
}

/// Removes a directory and everything under it, staying on its file
/// system: a mount under it (a test's FUSE disk still mounted) is left, and
/// so is the directory holding it.
public func removeTree(_ path: String) {
    var top = stat()
    guard lstat(path, &top) == 0 else { return }
    func remove(_ path: String, device: dev_t) {
        var st = stat()
        guard lstat(path, &st) == 0 else { return }
        if st.st_mode & S_IFMT != S_IFDIR {
            unlink(path)
            return
        }
        guard st.st_dev == device else { return }
        if let d = opendir(path) {
            var names: [String] = []
            while let entry = readdir(d) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                    String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
                }
                if name != "." && name != ".." { names.append(name) }
            }
            closedir(d)
            for name in names { remove(path + "/" + name, device: device) }
        }
        rmdir(path)
    }
    remove(path, device: top.st_dev)
}

/// A fresh temporary directory, under this process's `scratchRoot`.
public func temporaryDirectory(_ prefix: String = "labyrinth-test") -> String {
    var template = Array("\(scratchRoot)/\(prefix)-XXXXXX".utf8CString)
    let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
    precondition(made != nil, "mkdtemp failed")
    return String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// Writes bytes to a file, replacing it.
public func writeFile(_ path: String, _ bytes: [UInt8]) {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    precondition(fd >= 0, "cannot create \(path)")
    defer { close(fd) }
    var done = 0
    while done < bytes.count {
        let n = bytes[done...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        precondition(n > 0, "cannot write \(path)")
        done += n
    }
}

/// Reads a whole file.
public func readFile(_ path: String) -> [UInt8]? {
    let fd = open(path, O_RDONLY)
    if fd < 0 { return nil }
    defer { close(fd) }
    var out: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = read(fd, &chunk, chunk.count)
        if n <= 0 { break }
        out.append(contentsOf: chunk[0..<n])
    }
    return out
}

/// What a child process did.
public struct ProcessResult: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String
}

/// True when this process runs under the thread sanitizer (whose mlock
/// interceptor does nothing, so lock limits cannot be tested).
public let underThreadSanitizer: Bool = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "__tsan_init") != nil

/// Runs a program to completion (killed after `timeoutSeconds`), capturing
/// its output.
public func run(_ arguments: [String], environment: [String]? = nil, timeoutSeconds: Int = 300) -> ProcessResult {
    let dir = temporaryDirectory("run")
    let out = dir + "/stdout"
    let err = dir + "/stderr"
    // Removed on every way out, a program that cannot start included.
    defer {
        unlink(out)
        unlink(err)
        rmdir(dir)
    }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    posix_spawn_file_actions_addopen(&actions, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    posix_spawn_file_actions_addopen(&actions, 2, err, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    defer { posix_spawn_file_actions_destroy(&actions) }
    var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
    defer { for p in argv { free(p) } }
    let envp: [UnsafeMutablePointer<CChar>?]? = environment.map { $0.map { strdup($0) } + [nil] }
    defer { envp?.forEach { free($0) } }
    var pid = pid_t()
    let rc: Int32
    if var e = envp {
        rc = posix_spawnp(&pid, arguments[0], &actions, nil, &argv, &e)
    } else {
        rc = posix_spawnp(&pid, arguments[0], &actions, nil, &argv, environ)
    }
    guard rc == 0 else { return ProcessResult(status: -1, stdout: "", stderr: "spawn failed: \(rc)") }
    var status: Int32 = 0
    let deadline = time(nil) + timeoutSeconds
    while true {
        let r = waitpid(pid, &status, WNOHANG)
        if r == pid || (r < 0 && errno != EINTR) { break }
        if time(nil) >= deadline {
            kill(pid, SIGKILL)
            waitpid(pid, &status, 0)
            break
        }
        usleep(5_000)
    }
    let code = (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
    return ProcessResult(
        status: code, stdout: String(decoding: readFile(out) ?? [], as: UTF8.self),
        stderr: String(decoding: readFile(err) ?? [], as: UTF8.self))
}

/// Polls `condition` every 10 ms until it holds or `seconds` have passed;
/// returns whether it held. The way tests wait for something to happen:
/// never a fixed sleep followed by an assertion.
public func eventually(within seconds: Double = 10, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = monotonicSeconds() + seconds
    while true {
        if try condition() { return true }
        if monotonicSeconds() >= deadline { return false }
        usleep(10_000)
    }
}

/// How many times `needle` occurs in `text`.
public func occurrences(of needle: String, in text: String) -> Int {
    let n = Array(needle.utf8)
    let t = Array(text.utf8)
    guard !n.isEmpty, t.count >= n.count else { return 0 }
    var count = 0
    var i = 0
    while i <= t.count - n.count {
        if t[i..<i + n.count].elementsEqual(n) {
            count += 1
            i += n.count
        } else {
            i += 1
        }
    }
    return count
}

/// A child process left running while the test goes on (a client holding
/// connections, a load): its output goes to a file; `stop()` kills its
/// process group and reaps it, and so does dropping it.
public final class BackgroundProcess {
    public let pid: pid_t
    public let output: String
    private var reaped = false

    /// Starts `arguments` in a process group of its own, standard output
    /// and error to a file.
    public init(_ arguments: [String]) throws {
        let dir = temporaryDirectory("background")
        output = dir + "/output"
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP))
        posix_spawnattr_setpgroup(&attributes, 0)
        defer { posix_spawnattr_destroy(&attributes) }
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        var child = pid_t()
        let rc = posix_spawnp(&child, arguments[0], &actions, &attributes, &argv, environ)
        guard rc == 0 else { throw TestFailure("cannot start \(arguments[0]): \(String(cString: strerror(rc)))") }
        pid = child
    }

    public var outputText: String { String(decoding: readFile(output) ?? [], as: UTF8.self) }

    /// Kills the whole process group and reaps the child.
    public func stop() {
        guard !reaped else { return }
        kill(-pid, SIGKILL)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        reaped = true
    }

    deinit {
        stop()
        let dir = String(output.dropLast("/output".count))
        unlink(output)
        rmdir(dir)
    }
}
