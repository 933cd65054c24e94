import ControlPlane
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The one table of configuration keys (``ConfigKeys``) and what it drives:
/// the parser, `config/labyrinth.toml`, and the reload's verdict per key.
@Suite("The configuration's key table")
struct ConfigKeyTests {
    /// A configuration that names every section, so that each key's example
    /// is valid in it on its own (the watermarks, the sink's rotation, one
    /// worker for `workers.cpus`).
    static func baseline(
        socket: String = "/run/labyrinth-test/l.sock", sink: String = "/tmp/lab-keys", collector: Int = 9
    ) -> String {
        """
        [daemon]
        socket = "\(socket)"

        [rooms]
        pages_per_room = 1024
        lock = "best-effort"
        min = 64
        low = 80
        high = 96

        [workers]
        count = 1
        flow_capacity = 4096

        [replay]
        allowed_directories = ["/tmp"]

        [[source]]
        interface = "lo"
        backend = "pcap"

        [ipfix]
        collectors = ["127.0.0.1:\(collector)"]

        [metrics]

        [[sink]]
        path = "\(sink)/rec-%Y%m%d-%H%M%S.pcapng"
        rotate_size = "1GiB"

        """
    }

    /// `text` with `key` of its section set to `value` (replacing the line
    /// that sets it, or added after the section's header).
    static func setting(_ key: ConfigKey, to value: String, in text: String) -> String {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard let header = lines.firstIndex(of: key.section.header) else { return text }
        var end = header + 1
        while end < lines.count && !lines[end].hasPrefix("[") { end += 1 }
        if let at = (header + 1..<end).first(where: { lines[$0].hasPrefix(key.name + " =") }) {
            lines[at] = "\(key.name) = \(value)"
        } else {
            lines.insert("\(key.name) = \(value)", at: header + 1)
        }
        // `rooms.size` stands instead of `pages_per_room`.
        if key.dotted == "rooms.size" { lines.removeAll { $0.hasPrefix("pages_per_room =") } }
        return lines.joined(separator: "\n")
    }

    static func parse(_ text: String) throws(ConfigError) -> DaemonConfiguration {
        try DaemonConfiguration.parse(text, file: "keys.toml")
    }

    @Test("every key of the table is read by the parser: a value of the wrong type is refused naming the key")
    func parserReadsEveryKey() throws {
        let base = Self.baseline()
        _ = try Self.parse(base)
        func refusal(_ text: String) -> ConfigError? {
            do {
                _ = try Self.parse(text)
                return nil
            } catch {
                return error
            }
        }
        for key in ConfigKeys.all {
            let wrong: String
            if case .boolean = key.kind { wrong = "\"yes\"" } else { wrong = "true" }
            guard let error = refusal(Self.setting(key, to: wrong, in: base)) else {
                Issue.record("\(key.dotted) = \(wrong) was accepted")
                continue
            }
            #expect(error.key == key.dotted(instance: 0), "\(key.dotted): the error names \(error.key): \(error)")
        }
    }

    @Test("a key outside the table is refused, with a suggestion from the table")
    func keyOutsideTable() {
        do throws(ConfigError) {
            _ = try Self.parse(Self.baseline().replacingFirst("count = 1", with: "count = 1\nbudgett = 8"))
            Issue.record("budgett was accepted")
        } catch {
            #expect(error.key == "workers.budgett")
            #expect(error.message.contains("did you mean 'budget'?"), "\(error)")
        }
    }

    @Test("each key's example is valid alone and changes that key, which the reload's diff names")
    func examplesChangeTheirKey() throws {
        let base = Self.baseline()
        let running = try Self.parse(base)
        for key in ConfigKeys.all {
            let changed: DaemonConfiguration
            do {
                changed = try Self.parse(Self.setting(key, to: key.example, in: base))
            } catch {
                Issue.record("\(key.dotted) = \(key.example): \(error)")
                continue
            }
            let names = ConfigChange.between(running, changed).map(\.name)
            #expect(names.contains(key.dotted(instance: 0)), "\(key.dotted) = \(key.example): the diff is \(names)")
        }
        #expect(ConfigChange.between(running, running).isEmpty)
    }

    @Test("config/labyrinth.toml lists every key of the table, with its true default")
    func exampleFileListsEveryKey() throws {
        let text = String(decoding: readFile(packageRoot + "/config/labyrinth.toml") ?? [], as: UTF8.self)
        #expect(!text.isEmpty)
        // Each section's `key = value` lines, commented or not.
        var listed: [String: String] = [:]
        var section = ""
        for raw in text.split(separator: "\n") {
            var line = String(raw)
            if line.hasPrefix("# [") { line.removeFirst(2) }
            if line.hasPrefix("[") {
                section = line.filter { $0 != "[" && $0 != "]" }
                continue
            }
            if line.hasPrefix("# ") { line.removeFirst(2) }
            guard let eq = line.firstRange(of: " = "), !line.hasPrefix(" "), !line.hasPrefix("#") else { continue }
            let name = String(line[..<eq.lowerBound])
            guard name.allSatisfy({ $0.isLetter || $0 == "_" }) else { continue }
            var value = String(line[eq.upperBound...])
            // A trailing comment, outside any string.
            if let hash = value.firstRange(of: "  #") ?? value.firstRange(of: " # ") {
                value = String(value[..<hash.lowerBound])
            }
            listed["\(section).\(name)"] = value.trimmingCharacters()
        }
        for key in ConfigKeys.all where !key.name.hasPrefix("test_") {
            guard let value = listed[key.dotted] else {
                Issue.record("config/labyrinth.toml does not list \(key.dotted)")
                continue
            }
            guard key.derivedDefault == nil else { continue }
            // The listed value, read the way the daemon reads it, must be the
            // table's default.
            let text = Self.setting(key, to: value, in: Self.minimal(for: key.section))
            do {
                let parsed = try Self.parse(text)
                #expect(
                    key.values(in: parsed).first.flatMap { $0 } == key.defaultText,
                    "config/labyrinth.toml: \(key.dotted) = \(value), but the default is \(key.defaultText)")
            } catch {
                Issue.record("config/labyrinth.toml: \(key.dotted) = \(value): \(error)")
            }
        }
    }

    /// The smallest file with `section` in it.
    static func minimal(for section: ConfigSection) -> String {
        switch section {
        case .source: return "[[source]]\ninterface = \"lo\"\n"
        case .sink: return "[[sink]]\n"
        default: return "\(section.header)\n"
        }
    }

    @Test("every key has a type, a doc line and a default the reference can print")
    func everyKeyIsDocumented() {
        var seen = Set<String>()
        for key in ConfigKeys.all {
            #expect(seen.insert(key.dotted).inserted, "\(key.dotted) twice")
            #expect(!key.doc.isEmpty && !key.typeText.isEmpty && !key.defaultText.isEmpty, "\(key.dotted)")
            #expect(key.example != key.defaultText, "\(key.dotted): the example is the default")
        }
    }
}

extension String {
    fileprivate func trimmingCharacters() -> String {
        String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}
