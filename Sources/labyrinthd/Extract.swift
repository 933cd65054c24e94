import ArgumentParser
import CLinux
import ControlPlane
import Extraction
import Sinks
import StatsProtocol
import Syscalls

#if canImport(Glibc)
import Glibc
#endif

/// `labyrinthd extract`: the packets of a window, a flow and a filter from
/// a ring of recordings, offline, with no daemon.
struct Extract: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Extract the frames of a time window, a flow and a filter from a ring of recordings.",
        discussion: """
            Reads the pcap and pcapng files in DIR in time order (by their frames, not their names), \
            skipping the files and stretches that their indexes (the hidden .NAME.idx beside each \
            finished recording) rule out; a file without a valid index is scanned, and the report \
            says so. Writes the matching frames, in time order, as pcapng (one interface block per \
            source interface, nanosecond timestamps) or pcap. The report goes to standard error. \
            Exit status: 0 with an answer (even of no frame), 1 when nothing could be answered (no \
            recordings, a window outside the ring, every file damaged), 64 for a bad request.
            """
    )

    @Option(help: "The directory of the ring.")
    var dir: String

    @Option(help: "The window's start (inclusive): epoch seconds with a fraction, or RFC 3339.")
    var from: String?

    @Option(help: "The window's end (exclusive), as --from.")
    var to: String?

    @Option(name: .customShort("f"), help: "A tcpdump filter expression, applied with pcap_offline_filter.")
    var filter: String?

    @Option(help: "The frames between two hosts, both ways: \"A B [PROTO]\", A and B with optional ports.")
    var flow: String?

    @Option(name: .customShort("w"), help: "Where to write (- is standard output).")
    var write: String = "-"

    @Option(help: "pcapng or pcap.")
    var format: String = "pcapng"

    @Option(help: "Read at most this many bytes per second: bytes, or a size such as 50MiB; default: no bound.")
    var readRate: String?

    @Flag(help: "The report as one JSON object.")
    var json = false

    @Flag(help: .hidden)
    var background = false

    /// The filter on standard input (the daemon's way: `ps` shows arguments
    /// to every local user).
    @Flag(help: .hidden)
    var filterFromStdin = false

    func run() throws {
        // The daemon's `extract`: never a CPU or a disk slot a worker wants.
        if background {
            let rc = clinux_become_idle()
            if rc != 0 { FileStandardError.write("labyrinthd extract: cannot become idle: \(Errno(rawValue: -rc))\n") }
        }
        var request = ExtractRequest(directory: dir)
        func time(_ text: String?, _ name: String) throws -> Int64? {
            guard let text else { return nil }
            guard let t = ExtractTime.parse(text) else {
                fail(
                    "--\(name) \"\(text)\": not a time (epoch seconds such as 1700000000.5, or RFC 3339 such as 2023-11-14T22:13:20Z)"
                )
            }
            return t
        }
        if let t = try time(from, "from") { request.from = t }
        if let t = try time(to, "to") { request.to = t }
        guard request.from < request.to else { fail("--from must come before --to") }
        request.filter = filter
        if filterFromStdin {
            guard let input = readStandardInput(limit: 1 << 20) else {
                fail("cannot read the filter from standard input (or it is longer than 1 MiB)")
            }
            request.filter = String(decoding: input, as: UTF8.self)
        }
        if let flow {
            do { request.flow = try FlowSelector(flow) } catch { fail("\(error)") }
        }
        if let readRate {
            // A rate: a bare number is bytes per second (not tcpdump's -C
            // millions of bytes, which a file size takes).
            if readRate.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let n = Int(readRate) {
                guard n >= 1 else { fail("--read-rate \"\(readRate)\": at least 1 byte per second") }
                request.readRate = n
            } else {
                do { request.readRate = try ByteSize.parse(readRate) } catch {
                    fail("--read-rate \"\(readRate)\": \(error)")
                }
            }
        }
        guard let outputFormat = ExtractOutput.Format(rawValue: format) else {
            fail("--format \"\(format)\": pcapng or pcap")
        }
        let file: Descriptor
        if write == "-" {
            guard isatty(1) == 0 else { fail("standard output is a terminal: give -w FILE, or pipe it") }
            file = Descriptor(adopting: fcntl(1, F_DUPFD_CLOEXEC, 3))
            guard file.isOpen else { fail("standard output: \(Errno.current)") }
        } else {
            switch Descriptor.open(write, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode: 0o644) {
            case .success(let d): file = d
            case .failure(let e): fail("-w \(write): cannot create: \(e)")
            }
        }
        let fd = file.rawValue
        do {
            let output = try ExtractOutput(
                fd: fd, name: write, format: outputFormat, version: DaemonState.version)
            let report = try Extractor(request: request, output: output).run()
            try output.finish(emptyLinkType: 1)
            FileStandardError.write(json ? ExtractReportText.json(report) + "\n" : ExtractReportText.text(report))
        } catch let error as ExtractError {
            FileStandardError.write("labyrinthd extract: \(error)\n")
            throw ExitCode(error.status)
        } catch {
            FileStandardError.write("labyrinthd extract: \(error)\n")
            throw ExitCode(1)
        }
    }

    func fail(_ message: String) -> Never {
        FileStandardError.write("labyrinthd extract: \(message)\n")
        Glibc.exit(64)
    }
}

/// `labyrinthd index FILE…`: builds (again) the index of finished recordings.
struct Index: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Build the index of finished recordings (after a crash, or for files another tool wrote).",
        discussion:
            "Writes each file's hidden .NAME.idx beside it. Exit status: 0, or 1 when a file could not be indexed."
    )

    @Argument(help: "The recordings.")
    var files: [String]

    func run() throws {
        var failed = false
        for f in files {
            do {
                let index = try IndexBuilder.write(path: f).index
                print("\(f): \(index.frames) frames in \(index.stretches.count) stretches")
            } catch {
                FileStandardError.write("labyrinthd index: \(error)\n")
                failed = true
            }
        }
        if failed { throw ExitCode(1) }
    }
}

/// The extraction report, for people and as JSON.
enum ExtractReportText {
    static func text(_ r: ExtractReport) -> String {
        var lines: [String] = []
        let share = r.bytesTotal > 0 ? Double(r.bytesRead) / Double(r.bytesTotal) * 100 : 0
        lines.append(
            "extract: \(r.framesMatched) frames matched of \(r.framesRead) read; \(r.filesRead) of \(r.filesTotal) files read (\(r.filesSkipped) ruled out by their index), \(r.bytesRead) of \(r.bytesTotal) bytes (\(String(format1: share)) %); \(String(format3: r.seconds)) s"
        )
        for s in r.scanned { lines.append("extract: \(s)") }
        for d in r.damaged { lines.append("extract: damaged: \(d)") }
        for n in r.notes { lines.append("extract: \(n)") }
        return lines.joined(separator: "\n") + "\n"
    }

    static func json(_ r: ExtractReport) -> String {
        var o: [(String, JSON)] = [
            ("frames_matched", .int(r.framesMatched)), ("frames_read", .int(r.framesRead)),
            ("files_total", .int(r.filesTotal)), ("files_read", .int(r.filesRead)),
            ("files_skipped", .int(r.filesSkipped)), ("bytes_total", .int(r.bytesTotal)),
            ("bytes_read", .int(r.bytesRead)), ("index_bytes", .int(r.indexBytes)), ("seconds", .double(r.seconds)),
            ("scanned", .array(r.scanned.map { .string($0) })), ("damaged", .array(r.damaged.map { .string($0) })),
            ("notes", .array(r.notes.map { .string($0) })),
        ]
        if let e = r.earliest { o.append(("earliest", .int(Int(e)))) }
        if let l = r.latest { o.append(("latest", .int(Int(l)))) }
        return JSON.object(o).text
    }
}

extension String {
    init(format1 v: Double) {
        let t = Int((v * 10).rounded())
        self = "\(t / 10).\(abs(t % 10))"
    }

    init(format3 v: Double) {
        let t = Int((v * 1000).rounded())
        let f = String(abs(t % 1000))
        self = "\(t / 1000).\(String(repeating: "0", count: 3 - f.count))\(f)"
    }
}
