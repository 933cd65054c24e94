#if canImport(Glibc)
import Glibc
#endif

/// The whole path a stats-socket request takes before it acts: bytes,
/// `JSON.parse`, the command and its typed request through the field table
/// (ranges, types, unknown fields), the request's own checks, then what the
/// daemon prepares from it: a replay's pacing and the pacer's deadlines for
/// frames at the edges of time and size, and a live tap's filter compiled
/// for the link types a tap takes and run over a few frames, as a worker
/// runs it. Nothing on the way may trap.
struct ManualClock: ReplayClock {
    var time: Int64
    func now() -> Int64 { time }
    func sleep(until deadline: Int64) {}
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    guard let json = try? JSON.parse(text) else { return 0 }
    let decoded: (Command, any StatsRequest)
    do {
        decoded = try Command.request(from: json)
    } catch {
        precondition(!error.message.isEmpty)
        return 0
    }
    let (command, request) = decoded
    // Every accepted request encodes back to one the table accepts again.
    let again = request.json
    guard let (sameCommand, _) = try? Command.request(from: again) else {
        preconditionFailure("\(text): accepted, but its own encoding \(again.text) is refused")
    }
    precondition(sameCommand == command)
    if let flows = request as? FlowsRequest {
        precondition((1...FlowsRequest.maximumTop).contains(flows.count))
    }
    if let cancel = request as? CancelRequest {
        precondition(command == .cancel && command.access == .act)
        precondition((cancel.job ?? 0) >= 1, "\(text): a cancel without a job number was accepted")
    }
    if let replay = request as? ReplayRequest {
        let pacing = replay.pacing(otherwise: .maximum)
        // The pacer's arithmetic at the edges: first frames, a frame far in
        // the future and far in the past, huge wire lengths, many loops.
        // With and without a maximum gap (replay.max_gap): a cut gap never
        // lets a deadline run further than the gap after the one before.
        for gap: Int64? in [nil, 1_000_000_000, 1, .max] {
            var pacer = Pacer(pacing, clock: ManualClock(time: 1_000_000_000), maximumGap: gap)
            let stamps: [Int64] = [0, 1, -1, .max, .min, 1 << 62, -(1 << 62), 1_700_000_000_000_000_000]
            var last: Int64? = nil
            for (i, t) in stamps.enumerated() {
                let d = pacer.deadline(timestamp: t, wireBytes: i.isMultiple(of: 2) ? 64 : Int.max / 16)
                if let gap, let d, let last, d > last {
                    let (span, overflow) = d.subtractingReportingOverflow(last)
                    precondition(!overflow && span <= gap, "\(text): a gap of \(span) ns past the maximum \(gap)")
                }
                last = d
                if i == 3 { pacer.endLoop() }
            }
            pacer.endLoop()
            _ = pacer.elapsed
        }
        _ = pacing.description
        // A client's name, escaped for the log and the job list: one line,
        // no control character left.
        if let name = replay.name {
            let shown = ClientText.escaped(name)
            precondition(!shown.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F })
        }
    }
    if let dump = request as? DumpRequest, let filter = dump.filter {
        precondition(filter.utf8.count <= 8192)
        if let programs = try? FilterPrograms(filter, linkTypes: [1, 101, 113, 276, 0]) {
            let table = programs.table
            let frame = [UInt8](repeating: 0x45, count: 128)
            frame.withUnsafeBytes { bytes in
                for linkType: UInt32 in [1, 101, 113, 276, 0, 12, 999] {
                    for captured in [0, 1, 14, 20, 60, 128] {
                        _ = table.matches(
                            linkType: linkType, frame: bytes.baseAddress!, captured: captured, wire: captured)
                    }
                }
            }
        }
    }
    return 0
}
