import ControlPlane
import Rooms
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Every class of configuration error names the file, the line and the key.
@Suite("Configuration")
struct ConfigTests {
    /// Parses `text` and returns the error it must raise.
    func refusal(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) -> ConfigError? {
        do {
            _ = try DaemonConfiguration.parse(text, file: "test.toml")
            Issue.record("accepted:\n\(text)", sourceLocation: sourceLocation)
            return nil
        } catch {
            return error
        }
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var text: String
        var line: Int
        var key: String
        var phrase: String
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        // Syntax.
        Case(
            name: "unclosed table header", text: "[daemon\nsocket = \"/x\"\n", line: 1, key: "", phrase: "expected ']'"),
        Case(
            name: "unterminated string", text: "[daemon]\n\nsocket = \"/run/x\n", line: 3, key: "daemon.socket",
            phrase: "unterminated string"),
        Case(
            name: "duplicate key", text: "[daemon]\nlog_level = \"info\"\nlog_level = \"debug\"\n", line: 3, key: "",
            phrase: "already defined on line 2"),
        Case(name: "duplicate table", text: "[rooms]\n[workers]\n[rooms]\n", line: 3, key: "", phrase: "rooms"),
        Case(
            name: "value missing", text: "[workers]\nbudget =\n", line: 2, key: "workers.budget",
            phrase: "expected a value"),
        Case(
            name: "invalid integer", text: "[rooms]\n\ncache = 0x-5\n", line: 3, key: "rooms.cache",
            phrase: "invalid integer '0x-5'"),
        Case(
            name: "integer too large", text: "[[source]]\nsnaplen = 9223372036854775808\n", line: 2,
            key: "source[0].snaplen", phrase: "does not fit a 64-bit signed integer"),
        Case(
            name: "infinite float", text: "[replay]\npps = 1e999\n", line: 2, key: "replay.pps",
            phrase: "out of range"),
        Case(
            name: "inf literal", text: "[replay]\nmbps = inf\n", line: 2, key: "replay.mbps",
            phrase: "needs finite numbers"),
        Case(
            name: "bad escape in a value", text: "[daemon]\nsocket = \"/run/\\u+0FF\"\n", line: 2,
            key: "daemon.socket", phrase: "\\u needs 4 hex digits"),
        Case(
            name: "bad value in a nested array", text: "[workers]\ncpus = [\n  0,\n  ++5,\n]\n", line: 4,
            key: "workers.cpus", phrase: "expected a digit after the sign"),
        Case(
            name: "a size that overflows", text: "[rooms]\nsize = \"9223372036854775807GiB\"\n", line: 2,
            key: "rooms.size", phrase: "must be a size"),
        Case(name: "garbage line", text: "[workers]\n\n\nthis is not toml\n", line: 4, key: "", phrase: ""),
        // Unknown keys and sections.
        Case(
            name: "misspelt key", text: "[workers]\nbudget = 64\nbusy_pol = true\n", line: 3, key: "workers.busy_pol",
            phrase: "did you mean 'busy_poll'"),
        Case(
            name: "unknown section", text: "[daemon]\n[workerz]\ncount = 1\n", line: 2, key: "workerz",
            phrase: "unknown section"),
        Case(
            name: "key outside a section", text: "workers = 2\n", line: 1, key: "workers", phrase: "outside any section"
        ),
        Case(
            name: "unknown source key", text: "[[source]]\ninterface = \"eth0\"\nsnaplne = 96\n", line: 3,
            key: "source[0].snaplne", phrase: "did you mean 'snaplen'"),
        // Wrong types.
        Case(
            name: "string for an integer", text: "[workers]\nbudget = \"64\"\n", line: 2, key: "workers.budget",
            phrase: "must be an integer, not a string"),
        Case(
            name: "integer for a boolean", text: "[workers]\n\nbusy_poll = 1\n", line: 3, key: "workers.busy_poll",
            phrase: "must be true or false"),
        Case(
            name: "integer for a string", text: "[daemon]\nlog_level = 3\n", line: 2, key: "daemon.log_level",
            phrase: "must be a string"),
        Case(
            name: "cpus not integers", text: "[workers]\ncpus = [\"0\"]\n", line: 2, key: "workers.cpus",
            phrase: "integer"),
        Case(
            name: "source as a plain table", text: "[source]\ninterface = \"eth0\"\n", line: 1, key: "source",
            phrase: "[[source]]"),
        // Impossible values.
        Case(
            name: "more workers than CPUs listed", text: "[workers]\ncpus = [0, 1]\ncount = 4\n", line: 3,
            key: "workers.count", phrase: "4 workers but only 2 CPUs listed"),
        Case(
            name: "a CPU that does not exist", text: "[workers]\ncpus = [0, 4095]\n", line: 2, key: "workers.cpus",
            phrase: "CPU 4095 does not exist"),
        Case(
            name: "room too small for the max order", text: "[rooms]\npages_per_room = 8\n", line: 2,
            key: "rooms.pages_per_room", phrase: "multiple of 16 pages"),
        Case(
            name: "room not a multiple of 64 KiB", text: "[rooms]\nsize = \"100KiB\"\n", line: 2, key: "rooms.size",
            phrase: "multiple of 64 KiB"),
        Case(
            name: "watermarks out of order", text: "[rooms]\nmin = 200\nlow = 100\nhigh = 300\n", line: 2,
            key: "rooms.min", phrase: "must not exceed rooms.low"),
        Case(
            name: "low above high", text: "[rooms]\nmin = 10\nlow = 100\nhigh = 50\n", line: 3, key: "rooms.low",
            phrase: "must not exceed rooms.high"),
        Case(
            name: "high above the room", text: "[rooms]\npages_per_room = 256\nmin = 10\nlow = 20\nhigh = 256\n",
            line: 5, key: "rooms.high", phrase: "below the room's 256 pages"),
        Case(
            name: "only some watermarks", text: "[rooms]\n\nlow = 100\n", line: 3, key: "rooms.",
            phrase: "set all three watermarks"),
        Case(
            name: "priority out of range", text: "[workers]\npriority = 120\n", line: 2, key: "workers.priority",
            phrase: "0...99"),
        Case(
            name: "negative client limit", text: "[daemon]\nmax_clients = -1\n", line: 2, key: "daemon.max_clients",
            phrase: "must be within"),
        Case(
            name: "bad socket mode", text: "[daemon]\nsocket_mode = \"999\"\n", line: 2, key: "daemon.socket_mode",
            phrase: "octal"),
        Case(
            name: "relative socket path", text: "[daemon]\nsocket = \"labyrinthd.sock\"\n", line: 2,
            key: "daemon.socket", phrase: "absolute path"),
        Case(
            name: "unknown log level", text: "[daemon]\nlog_level = \"loud\"\n", line: 2, key: "daemon.log_level",
            phrase: "loud"),
        Case(
            name: "unknown lock policy", text: "[rooms]\nlock = \"maybe\"\n", line: 2, key: "rooms.lock",
            phrase: "maybe"),
        Case(
            name: "unknown replay speed", text: "[replay]\nspeed = \"fast\"\n", line: 2, key: "replay.speed",
            phrase: "\"max\" or \"original\""),
        Case(
            name: "multiplier with speed max", text: "[replay]\nspeed = \"max\"\nmultiplier = 2\n", line: 3,
            key: "replay.multiplier", phrase: "applies to speed = \"original\""),
        Case(
            name: "two pacings at once", text: "[replay]\npps = 1000\nmbps = 10\n", line: 2, key: "replay.pps",
            phrase: "choose one"),
        Case(
            name: "source without an interface", text: "[daemon]\n[[source]]\nbackend = \"pcap\"\n", line: 2,
            key: "source[0].interface", phrase: "needs an interface"),
        Case(
            name: "unknown backend", text: "[[source]]\ninterface = \"lo\"\nbackend = \"dpdk\"\n", line: 3,
            key: "source[0].backend", phrase: "dpdk"),
        Case(
            name: "interface name too long", text: "[[source]]\ninterface = \"an-interface-name\"\n", line: 2,
            key: "source[0].interface", phrase: "15 bytes"),
        Case(
            name: "filter that does not compile", text: "[[source]]\ninterface = \"lo\"\n\nfilter = \"tcp prot 80\"\n",
            line: 4, key: "source[0].filter", phrase: "syntax error"),
        Case(
            name: "snaplen too small", text: "[[source]]\ninterface = \"lo\"\nsnaplen = 10\n", line: 3,
            key: "source[0].snaplen", phrase: "must be within"),
        Case(
            name: "stall hook on a missing worker", text: "[workers]\ncount = 1\ntest_stall_worker = 3\n", line: 3,
            key: "workers.test_stall_worker", phrase: "does not exist"),
    ]

    @Test("each error names the file, the line and the key", arguments: cases)
    func refused(_ c: Case) throws {
        let error = try #require(refusal(c.text))
        #expect(error.file == "test.toml")
        #expect(error.line == c.line, "\(error)")
        if c.key.hasSuffix(".") {
            #expect(error.key.hasPrefix(c.key), "\(error)")
        } else {
            #expect(error.key == c.key, "\(error)")
        }
        #expect(error.message.contains(c.phrase), "\(error)")
        // The printed form leads with file:line: key.
        #expect(error.description.hasPrefix("test.toml:\(c.line): " + (error.key.isEmpty ? "" : error.key + ": ")))
    }

    @Test("the shipped example is valid and every commented default matches the built-in one")
    func example() throws {
        let path = packageRoot + "/config/labyrinth.toml"
        let text = String(decoding: try #require(readFile(path)), as: UTF8.self)
        let parsed = try DaemonConfiguration.parse(text, file: path)
        #expect(parsed == DaemonConfiguration())
        // Uncommenting every "# key = value" line keeps it valid, and only
        // changes what those lines say (the documented defaults hold).
        var lines: [String] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("# [[source]]") { break }
            if line.hasPrefix("# ") {
                let body = line.dropFirst(2)
                let key = body.prefix { $0.isLetter || $0 == "_" }
                // (multiplier goes with speed = "original", tested below; pps
                // and mbps stand instead of speed, size instead of pages_per_room.)
                let alternatives = ["multiplier", "pps", "mbps", "size"]
                if !key.isEmpty && !alternatives.contains(String(key)) && body.dropFirst(key.count).hasPrefix(" = ") {
                    lines.append(String(body))
                    continue
                }
            }
            lines.append(String(line))
        }
        let uncommented = try DaemonConfiguration.parse(lines.joined(separator: "\n"), file: path)
        #expect(uncommented.rooms.watermarks == Watermarks(min: 128, low: 160, high: 192))
        #expect(uncommented.rooms.cache == 256)
        #expect(uncommented.rooms.cacheBatch == 64)
        #expect(uncommented.workers.count == 2)
        #expect(uncommented.replay.pacing == .maximum)
        // The watermarks the example documents are the ones a 4096-page room gets.
        let arena = parsed.arena
        #expect(Watermarks.derived(pages: arena.pagesPerRoom) == Watermarks(min: 128, low: 160, high: 192))
    }

    @Test("replay pacing: original with a multiplier, pps, mbps")
    func pacing() throws {
        #expect(
            try DaemonConfiguration.parse("[replay]\nspeed = \"original\"\nmultiplier = 2.5\n", file: "p").replay.pacing
                == .original(multiplier: 2.5))
        #expect(
            try DaemonConfiguration.parse("[replay]\nmultiplier = 4\n", file: "p").replay.pacing
                == .original(multiplier: 4))
        #expect(
            try DaemonConfiguration.parse("[replay]\npps = 1000\n", file: "p").replay.pacing == .packetsPerSecond(1000))
        #expect(
            try DaemonConfiguration.parse("[replay]\nmbps = 10\n", file: "p").replay.pacing == .megabitsPerSecond(10))
    }

    @Test("a source section parses with every key")
    func source() throws {
        let c = try DaemonConfiguration.parse(
            """
            [[source]]
            backend = "uring"
            interface = "veth0"
            fanout = "lb"
            fanout_group = 7
            snaplen = 2048
            filter = "udp port 53"
            promiscuous = false
            buffer = "8MiB"
            immediate = true
            timeout_ms = 10

            [[source]]
            interface = "lo"
            """, file: "s.toml")
        #expect(c.sources.count == 2)
        #expect(c.sources[0].backend == .uring)
        #expect(c.sources[0].fanout == .lb)
        #expect(c.sources[0].fanoutGroup == 7)
        #expect(c.sources[0].snaplen == 2048)
        #expect(c.sources[0].filter == "udp port 53")
        #expect(c.sources[0].bufferBytes == 8 << 20)
        // No backend named: tpacket, which takes a loopback interface.
        #expect(c.sources[1].backend == .tpacket)
        #expect(c.sources[1].interface == "lo")
    }

    @Test("labyrinthd check-config: exit 0 on a good file, 78 and file:line: key on a bad one")
    func checkConfig() {
        let directory = temporaryDirectory()
        let good = directory + "/good.toml"
        let bad = directory + "/bad.toml"
        writeFile(good, Array("[workers]\ncount = 1\n".utf8))
        writeFile(bad, Array("[workers]\ncount = 1\nbudget = 0\n".utf8))
        defer {
            unlink(good)
            unlink(bad)
            rmdir(directory)
        }
        let ok = run([executable("labyrinthd"), "check-config", good])
        #expect(ok.status == 0, "\(ok.stderr)")
        let refused = run([executable("labyrinthd"), "check-config", bad])
        #expect(refused.status == 78)
        #expect(refused.stderr.contains("\(bad):3: workers.budget: must be within"), "\(refused.stderr)")
        let missing = run([executable("labyrinthd"), "check-config", directory + "/none.toml"])
        #expect(missing.status == 78)
        #expect(missing.stderr.contains("none.toml"))
        #expect(missing.stderr.contains("No such file"))
    }
}
