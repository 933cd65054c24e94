import ArgumentParser
import StatsProtocol
import Synchronization
import Syscalls

#if canImport(Glibc)
import Glibc
#endif

/// Signals seen while a tap streams (SIGINT, SIGTERM, SIGHUP).
let signalsSeen = Atomic<Int>(0)

struct Dump: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Stream a live tap out of the running daemon as pcapng.",
        discussion: """
            The workers copy the frames that match the filter into a bounded ring per worker, and the \
            daemon streams them here, as DPDK's dumpcap does. A reader slower than the traffic costs \
            counted tap drops (stats: taps.dropped, tap_dropped per worker), never a worker's time. The \
            tap ends after -c frames, after --duration, on Ctrl-C (the frames already taken still come, \
            then a statistics block per interface), or when this program goes. Needs root or the admin \
            group; the daemon allows daemon.max_taps taps at once.

              labyrinthctl dump -f 'tcp port 443' -w - | tshark -r -
            """)
    @OptionGroup var connection: Connection
    @Option(
        name: .shortAndLong, help: "A configured source's interface, or \"replay\" for replayed frames (default: all).")
    var interface: String?
    @Option(name: .shortAndLong, help: "A tcpdump (BPF) expression; words after the options are one too.")
    var filter: String?
    @Option(name: .short, help: "End after this many frames.") var count: Int?
    @Option(help: "End after this many seconds.") var duration: Double?
    @Option(name: .short, help: "Bytes kept of each frame (default 262144).") var snaplen: Int?
    @Option(
        name: .short, help: "Write pcapng to FILE, or - for standard output (the default when it is not a terminal).")
    var write: String?
    @Flag(name: .short, help: "No summary on standard error at the end.") var quiet = false
    @Argument(help: "A filter expression, as tcpdump takes it.") var expression: [String] = []

    func validate() throws {
        if filter != nil && !expression.isEmpty {
            throw ValidationError("give the filter once: -f EXPRESSION or words after the options")
        }
        if let count, count < 1 { throw ValidationError("-c must be at least 1") }
        if let duration, !(duration > 0) || !duration.isFinite { throw ValidationError("--duration must be above 0") }
        if let snaplen, !(1...262_144).contains(snaplen) { throw ValidationError("-s must be within 1...262144") }
    }

    func run() throws {
        // The output first: a path that cannot be written opens no tap.
        let out = openStreamOutput(write)
        signal(SIGPIPE, SIG_IGN)
        // Whoever started us may have blocked these (a test runner, a
        // service manager): Ctrl-C must reach the loop below.
        var unblock = sigset_t()
        sigemptyset(&unblock)
        for s in [SIGINT, SIGTERM, SIGHUP] { sigaddset(&unblock, s) }
        pthread_sigmask(SIG_UNBLOCK, &unblock, nil)
        for s in [SIGINT, SIGTERM, SIGHUP] {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = { _ in signalsSeen.wrappingAdd(1, ordering: .relaxed) }
            sigemptyset(&action.sa_mask)
            action.sa_flags = 0  // no SA_RESTART: the wait returns
            sigaction(s, &action, nil)
        }
        let words = filter ?? (expression.isEmpty ? nil : expression.joined(separator: " "))
        var client = connection.connect()
        let request = DumpRequest(
            interface: interface, filter: words, count: count, duration: duration, snaplen: snaplen)
        let reply = connection.ask(request, on: &client).value
        if !quiet {
            let what = words.map { "\"\($0)\"" } ?? "every frame"
            let from = interface.map { " on \($0)" } ?? ""
            note("tapping \(what)\(from) (tap \(reply.tap), \(reply.workers) workers, \(reply.bufferBytes) bytes each)")
        }
        var tally = PcapngTally()
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 8)
        defer { buffer.deallocate() }
        var asked = 0
        var outputGone = false
        while true {
            let signals = signalsSeen.load(ordering: .relaxed)
            if signals > asked {
                if asked > 0 { Glibc.exit(130) }  // a second Ctrl-C: go now
                asked = signals
                _ = client.sendRaw(Array("\n".utf8))  // the tap ends; the rest still comes
            }
            let n: Int
            do {
                n = try client.readStream(into: buffer)
            } catch {
                fail("\(error.description)", code: error.exitCode)
            }
            if n < 0 { continue }  // a signal: looked at above
            if n == 0 { break }
            let bytes = UnsafeRawBufferPointer(rebasing: buffer[0..<n])
            tally.feed(bytes)
            if !outputGone && !writeAll(out.rawValue, bytes) {
                // The reader went (a closed pipe): end the tap, quietly.
                outputGone = true
                if asked == 0 {
                    asked = max(1, signalsSeen.load(ordering: .relaxed))
                    _ = client.sendRaw(Array("\n".utf8))
                }
            }
        }
        if case .failure(let e) = out.close(), !outputGone {
            note("closing \(write ?? "standard output"): \(e)")
        }
        if !quiet {
            note(
                "\(tally.packets) packets captured, \(tally.dropped) dropped by the tap (its reader was behind)"
                    + (tally.ended ? "" : "; the stream ended without its statistics"))
        }
    }

}

/// Where a streaming command (`dump`, `extract`) writes: FILE, or standard
/// output, which is refused when it is a terminal and `-w -` was not given.
func openStreamOutput(_ write: String?) -> Descriptor {
    let target = write ?? "-"
    if target == "-" && write == nil && isatty(1) != 0 {
        fail("refusing to write pcapng to a terminal: give -w FILE, or pipe it (-w - | tshark -r -)", code: 2)
    }
    if target == "-" {
        // A copy of standard output, so that its owner may close it.
        switch Syscall.valueOrErrno({ fcntl(1, F_DUPFD_CLOEXEC, 3) }) {
        case .success(let fd): return Descriptor(adopting: fd)
        case .failure(let e): fail("cannot write to standard output: \(e)", code: 2)
        }
    }
    switch Descriptor.open(target, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode: 0o644) {
    case .success(let fd): return fd
    case .failure(let e): fail("cannot write \(target): \(e)", code: 2)
    }
}

/// Writes all of `bytes`; false when the descriptor refuses (a closed pipe).
func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Bool {
    var offset = 0
    while offset < bytes.count {
        switch Syscall.valueOrErrno({ Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset) }) {
        case .success(let w): offset += w
        case .failure: return false
        }
    }
    return true
}

/// A line on standard error, `labyrinthctl: ` first.
func note(_ text: String) {
    var line = "labyrinthctl: \(text)\n"
    line.withUTF8 { _ = Glibc.write(2, $0.baseAddress, $0.count) }
}

/// Counts what a pcapng stream carries, as it passes: packet blocks, and
/// the drops in its statistics blocks (`isb_osdrop`). Little-endian
/// sections, as the daemon writes them.
struct PcapngTally {
    var packets = 0
    var dropped: UInt64 = 0
    /// A statistics block was seen (the tap ended as it should).
    var ended = false
    /// The bytes of the current block's header or statistics block so far.
    var block: [UInt8] = []
    /// Bytes of the current block still to pass over.
    var skip = 0

    mutating func feed(_ bytes: UnsafeRawBufferPointer) {
        var i = 0
        while i < bytes.count {
            if skip > 0 {
                let n = min(skip, bytes.count - i)
                skip -= n
                i += n
                continue
            }
            block.append(bytes[i])
            i += 1
            guard block.count >= 8 else { continue }
            let type = load32(block, 0)
            let length = Int(load32(block, 4))
            guard length >= 12 else {
                // Not pcapng as expected: stop counting.
                skip = Int.max
                continue
            }
            if type == 5 {
                // A statistics block: kept whole, then read.
                if block.count == length {
                    statistics(block)
                    block.removeAll(keepingCapacity: true)
                }
                continue
            }
            if type == 6 { packets += 1 }
            skip = length - 8
            block.removeAll(keepingCapacity: true)
        }
    }

    func load32(_ b: [UInt8], _ at: Int) -> UInt32 {
        UInt32(b[at]) | UInt32(b[at + 1]) << 8 | UInt32(b[at + 2]) << 16 | UInt32(b[at + 3]) << 24
    }

    mutating func statistics(_ b: [UInt8]) {
        ended = true
        var at = 20
        while at + 4 <= b.count - 4 {
            let code = Int(b[at]) | Int(b[at + 1]) << 8
            let length = Int(b[at + 2]) | Int(b[at + 3]) << 8
            if code == 0 { break }
            if code == 7 && length == 8 && at + 12 <= b.count {
                var v: UInt64 = 0
                for k in 0..<8 { v |= UInt64(b[at + 4 + k]) << (8 * UInt64(k)) }
                dropped &+= v
            }
            at += 4 + (length + 3) & ~3
        }
    }
}
