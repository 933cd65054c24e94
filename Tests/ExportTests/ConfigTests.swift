import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

extension ExportTests {
    struct BadIPFIX: Sendable, CustomTestStringConvertible {
        var name: String
        var table: String
        var line: Int
        var key: String
        var phrase: String
        var testDescription: String { name }
    }

    static let badIPFIX: [BadIPFIX] = [
        BadIPFIX(
            name: "port out of range", table: "collectors = [\"127.0.0.1:99999\"]", line: 2, key: "ipfix.collectors",
            phrase: "127.0.0.1:99999: the port must be 1...65535"),
        BadIPFIX(
            name: "port 0", table: "collectors = [\"127.0.0.1:0\"]", line: 2, key: "ipfix.collectors",
            phrase: "the port must be 1...65535"),
        BadIPFIX(
            name: "IPv6 without brackets", table: "collectors = [\"192.0.2.1:4739\", \"::1:4739\"]", line: 2,
            key: "ipfix.collectors", phrase: "::1:4739: write an IPv6 address in brackets"),
        BadIPFIX(
            name: "unclosed bracket", table: "collectors = [\"[::1:4739\"]", line: 2, key: "ipfix.collectors",
            phrase: "unclosed ["),
        BadIPFIX(
            name: "no host", table: "collectors = [\":4739\"]", line: 2, key: "ipfix.collectors", phrase: "no host"),
        BadIPFIX(
            name: "not an array", table: "collectors = \"127.0.0.1:4739\"", line: 2, key: "ipfix.collectors",
            phrase: "must be an array of strings"),
        BadIPFIX(
            name: "misspelt key", table: "collector = [\"127.0.0.1:4739\"]", line: 2, key: "ipfix.collector",
            phrase: "did you mean 'collectors'"),
        BadIPFIX(
            name: "MTU too small", table: "collectors = [\"127.0.0.1:4739\"]\nmtu = 100", line: 3, key: "ipfix.mtu",
            phrase: "must be within"),
    ]

    @Test("[ipfix] refused: exit 78 naming the file, the line and the key", arguments: badIPFIX)
    func badIPFIXTable(_ c: BadIPFIX) throws {
        let directory = temporaryDirectory("export-config")
        defer { IPFIXTestSystem.removeDirectory(directory) }
        let config = directory + "/labyrinth.toml"
        writeFile(config, Array("[ipfix]\n\(c.table)\n".utf8))
        let expected = "\(config):\(c.line): \(c.key): "
        let checked = run([executable("labyrinthd"), "check-config", config])
        #expect(checked.status == 78, "\(checked.stderr)")
        #expect(checked.stderr.contains(expected) && checked.stderr.contains(c.phrase), "\(checked.stderr)")
        // The daemon refuses it the same way before it starts anything.
        let socket = directory + "/labyrinthd.sock"
        writeFile(
            config, Array((DaemonProcess.configText(socket: socket) + "\n\n[ipfix]\n\(c.table)\n").utf8))
        let line =
            (DaemonProcess.configText(socket: socket) + "\n\n[ipfix]\n").split(
                separator: "\n", omittingEmptySubsequences: false
            ).count + c.line - 2
        let started = run([executable("labyrinthd"), "run", "--config", config], timeoutSeconds: 60)
        #expect(started.status == 78, "\(started.stderr)")
        #expect(
            started.stderr.contains("\(config):\(line): \(c.key): ") && started.stderr.contains(c.phrase),
            "\(started.stderr)")
    }

    @Test("[ipfix] with a collector that does not resolve: the daemon exits 78 naming [ipfix] and the collector")
    func unresolvableCollector() throws {
        let directory = temporaryDirectory("export-config")
        defer { IPFIXTestSystem.removeDirectory(directory) }
        let config = directory + "/labyrinth.toml"
        let socket = directory + "/labyrinthd.sock"
        let text = DaemonProcess.configText(socket: socket) + "\n\n[ipfix]\ncollectors = [\"nowhere.invalid:4739\"]\n"
        writeFile(config, Array(text.utf8))
        let line = text.split(separator: "\n", omittingEmptySubsequences: false).firstIndex { $0 == "[ipfix]" }! + 1
        let started = run([executable("labyrinthd"), "run", "--config", config], timeoutSeconds: 60)
        #expect(started.status == 78, "\(started.stderr)")
        #expect(
            started.stderr.contains("[ipfix] (line \(line)): IPFIX collector nowhere.invalid:4739"), "\(started.stderr)"
        )
        #expect(access(socket, F_OK) != 0, "the daemon left its socket behind")
    }
}
