import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// scripts/test-tools.txt is the one list of what the tests run and the
/// package each comes from; scripts/install-deps.sh installs from it. These
/// tests read Tests/ for the programs it starts and fail, naming the
/// program and where it is started, when one has no line in the list.
@Suite("The test tools list (scripts/test-tools.txt)")
struct ToolListTests {
    /// What the list names: program or python3:MODULE -> (source, package).
    static func listed() throws -> [String: (source: String, package: String)] {
        let path = packageRoot + "/scripts/test-tools.txt"
        guard let bytes = readFile(path) else { throw TestFailure("cannot read \(path)") }
        var rows: [String: (source: String, package: String)] = [:]
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") where !line.hasPrefix("#") {
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
            guard fields.count == 3, !fields.contains(where: \.isEmpty) else {
                throw TestFailure("\(path): not program<TAB>source<TAB>package: \(line)")
            }
            rows[String(fields[0])] = (String(fields[1]), String(fields[2]))
        }
        return rows
    }

    /// Every .swift and .py file under Tests/.
    static func sources() -> [(path: String, text: String)] {
        var found: [(path: String, text: String)] = []
        func walk(_ dir: String) {
            guard let d = opendir(dir) else { return }
            defer { closedir(d) }
            while let entry = readdir(d) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                    String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
                }
                // Not the capture corpus, nor these tests (their patterns).
                if name == "." || name == ".." || name == "Corpus" || name == "ToolListTests" { continue }
                let path = dir + "/" + name
                if entry.pointee.d_type == UInt8(DT_DIR) {
                    walk(path)
                } else if name.hasSuffix(".swift") || name.hasSuffix(".py"), let bytes = readFile(path) {
                    found.append((path, String(decoding: bytes, as: UTF8.self)))
                }
            }
        }
        walk(packageRoot + "/Tests")
        return found.sorted { $0.path < $1.path }
    }

    /// How Tests/ names a program it starts; the first capture is the
    /// program (or its path).
    static let swiftPatterns = [
        // run([...]), ChildProcess([...]), BackgroundProcess([...]),
        // network.command([...]) and their nestings: the first element.
        #"\b(?:run|ChildProcess|BackgroundProcess|Process|command)\(\s*(?:[\w.]+\.command\(\s*)?\[\s*"([^"\\]+)""#,
        // ip netns exec NAMESPACE program
        #""exec"\s*,\s*[\w.]+\s*,\s*"([^"\\]+)""#,
        // Wrappers that start the next program after their options:
        // "prlimit", "--x=y", "setpriv", ... and ["setpriv"] + ids + ["python3", ...]
        #""(?:prlimit|setpriv|nice|timeout|env|unshare|nsenter|taskset|chrt)"(?:\s*,\s*"-[^"]*")*\s*(?:,\s*|\]\s*\+\s*[\w.]+\s*\+\s*\[\s*)"([A-Za-z/][^"\\]*)""#,
        // requireTool("tshark", ...), IPFIXTestSystem.installed("nfcapd"), hasExecutable(...)
        #"\b(?:requireTool|installed|hasExecutable)\(\s*"([^"\\]+)""#,
        // "sh", "-c", "promtool check ..." and command -v NAME
        #""sh"\s*,\s*"-c"\s*,\s*"(?!command )([A-Za-z0-9_.+-]+)"#,
        #"command -v ([A-Za-z0-9_.+-]+)"#,
        // An absolute path to a system program: "/usr/bin/prometheus"
        #""(/(?:usr/)?s?bin/[^"\s/]+)""#,
    ]
    static let pythonPatterns = [
        // subprocess.run(["tcpdump", ...]) and cmd = ["tshark", ...]
        #"subprocess\.\w+\(\s*\[\s*"([^"]+)""#,
        #"(?m)^\s*\w+\s*=\s*\[\s*"([a-z][\w.-]*)"\s*[,\]]"#,
    ]
    /// Python modules the Swift tests import by name.
    static let modulePatterns = [
        #""import ([A-Za-z_][\w]*)"#,
        #"requirePython\(modules:\s*\[((?:\s*"\w+"\s*,?)+)\]"#,
    ]

    /// Program -> where Tests/ starts it (file:line), for every program
    /// the patterns find, less this package's own executables.
    static func startedPrograms() throws -> [String: [String]] {
        var own = Set<String>()
        if let manifest = readFile(packageRoot + "/Package.swift") {
            let text = String(decoding: manifest, as: UTF8.self)
            for match in text.matches(of: try Regex(#"\.executable\(\s*name:\s*"([^"]+)""#)) {
                if let name = match.output[1].substring { own.insert(String(name)) }
            }
        }
        var found: [String: [String]] = [:]
        for (path, text) in sources() {
            let patterns = path.hasSuffix(".py") ? pythonPatterns : swiftPatterns
            for pattern in patterns {
                for match in text.matches(of: try Regex(pattern)) {
                    guard let name = match.output[1].substring?.split(separator: "/").last.map(String.init),
                        !own.contains(name)
                    else { continue }
                    let line = text[..<match.range.lowerBound].reduce(1) { $1 == "\n" ? $0 + 1 : $0 }
                    found[name, default: []].append("\(path.dropFirst(packageRoot.count + 1)):\(line)")
                }
            }
        }
        return found
    }

    @Test("every program Tests/ starts has a line in scripts/test-tools.txt")
    func everyProgramListed() throws {
        let listed = try Self.listed()
        let started = try Self.startedPrograms()
        // The scan finds what it should: programs started in each way above.
        for known in ["tshark", "ip", "sysctl", "setpriv", "python3", "promtool", "prometheus", "curl", "tcpdump"] {
            #expect(started[known] != nil, "the scan of Tests/ no longer finds \(known)")
        }
        for (program, places) in started.sorted(by: { $0.key < $1.key }) where listed[program] == nil {
            Issue.record(
                "\(program) is started by Tests/ (\(places.prefix(3).joined(separator: ", "))) but has no line in scripts/test-tools.txt"
            )
        }
    }

    @Test("every Python module the Swift tests import by name has a line (python3:MODULE)")
    func everyModuleListed() throws {
        let listed = try Self.listed()
        var modules: [String: String] = [:]
        for (path, text) in Self.sources() where path.hasSuffix(".swift") {
            for pattern in Self.modulePatterns {
                for match in text.matches(of: try Regex(pattern)) {
                    guard let captured = match.output[1].substring else { continue }
                    for name in captured.split(whereSeparator: { !($0.isLetter || $0.isNumber || $0 == "_") }) {
                        modules[String(name)] = String(path.dropFirst(packageRoot.count + 1))
                    }
                }
            }
        }
        #expect(modules["scapy"] != nil && modules["fusepy"] != nil, "the scan of Tests/ no longer finds scapy, fusepy")
        for (module, place) in modules.sorted(by: { $0.key < $1.key }) where listed["python3:" + module] == nil {
            Issue.record("python3 module \(module) is imported by \(place) but has no python3:\(module) line")
        }
    }

    @Test("each line's source is debian or pypi")
    func sourceColumn() throws {
        for (name, row) in try Self.listed() {
            #expect(row.source == "debian" || row.source == "pypi", "\(name): source \(row.source)")
        }
    }
}
