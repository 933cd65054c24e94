import ArgumentParser
import StatsProtocol
import Syscalls

#if canImport(Glibc)
import Glibc
#endif

/// `labyrinthctl extract`: `labyrinthd extract` asked of the running
/// daemon, over its own recordings (`[[sink]]`).
struct ExtractCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "extract",
        abstract: "Extract a window, a flow and a filter from the daemon's recordings, as pcapng.",
        discussion: """
            The daemon runs labyrinthd extract over its [[sink]] directory as a child at the idle \
            scheduling and I/O classes, its reads bounded by [[sink]] extract_read_rate: it never \
            takes a worker's CPU. The answer streams here, as a tap's does; the daemon logs the \
            report. Needs root or the admin group. For a ring on disk with no daemon, run \
            labyrinthd extract --dir DIR.

              labyrinthctl extract --flow "10.0.0.1 10.0.0.2 tcp" --from 2026-12-07T14:02:00Z -w case.pcapng
            """)
    @OptionGroup var connection: Connection
    @Option(help: "The window's start (inclusive): epoch seconds with a fraction, or RFC 3339.") var from: String?
    @Option(help: "The window's end (exclusive), as --from.") var to: String?
    @Option(name: .customShort("f"), help: "A tcpdump (BPF) expression.") var filter: String?
    @Option(help: "The frames between two hosts, both ways: \"A B [PROTO]\".") var flow: String?
    @Option(help: "pcapng or pcap.") var format: String = "pcapng"
    @Option(
        name: .short, help: "Write to FILE, or - for standard output (the default when it is not a terminal).")
    var write: String?
    @Flag(name: .short, help: "No summary on standard error at the end.") var quiet = false

    func validate() throws {
        guard format == "pcapng" || format == "pcap" else { throw ValidationError("--format is pcapng or pcap") }
    }

    func run() throws {
        let out = openStreamOutput(write)
        signal(SIGPIPE, SIG_IGN)
        var client = connection.connect()
        // The answer starts with the first frame found, however long the
        // search takes at the ring's read rate; a failure is an error reply.
        client.setReplyTimeout(seconds: 0)
        let request = ExtractRecordingRequest(from: from, to: to, filter: filter, flow: flow, format: format)
        let reply = connection.ask(request, on: &client).value
        if !quiet {
            note("extracting from \(reply.directory) (reads bounded to \(reply.readRate) bytes/s)")
        }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 8)
        defer { buffer.deallocate() }
        var total = 0
        while true {
            let n: Int
            do {
                n = try client.readStream(into: buffer)
            } catch {
                fail("\(error.description)", code: error.exitCode)
            }
            if n < 0 { continue }
            if n == 0 { break }
            guard writeAll(out.rawValue, UnsafeRawBufferPointer(rebasing: buffer[0..<n])) else {
                fail("cannot write \(write ?? "-"): \(Errno.current)", code: 1)
            }
            total += n
        }
        if case .failure(let e) = out.close() { fail("cannot write \(write ?? "-"): \(e)", code: 1) }
        if !quiet { note("\(total) bytes received (the daemon's log has the extraction's report)") }
    }

}
