import Capture
import DataPlane
import Packet
import Rooms
import StatsProtocol

/// Everything a replay measured, gathered after the workers stopped, with
/// the two renderings operators read: a tcpreplay-style summary and one JSON
/// object for other tools.
public struct ReplayReport: Sendable {
    public var files: [FileReplayResult]
    public var pacing: Pacing
    public var loops: Int
    /// Wall time from the first file's start to the last worker's finish (ns).
    public var elapsed: Int64
    public var reader: [ReaderCounter: Int]
    /// Per worker: its counters, its rx_missed, its CPU.
    public var workers: [(counters: [Int], missed: Int, cpu: Int?)]
    public var rooms: [RoomStats]
    public var flows: [FlowRecord]
    public var topFlows: Int
    /// What the arena could not get (locking, hugepages), for the record.
    public var notes: [String] = []

    public init(
        files: [FileReplayResult], pacing: Pacing, loops: Int, elapsed: Int64, replayer: FileReplayer,
        flows: [[FlowRecord]], rooms: [RoomStats], topFlows: Int = 10
    ) {
        self.files = files
        self.pacing = pacing
        self.loops = loops
        self.elapsed = elapsed
        var reader: [ReaderCounter: Int] = [:]
        for c in ReaderCounter.allCases { reader[c] = replayer.counter(c) }
        self.reader = reader
        self.workers = replayer.pool.workers.enumerated().map { i, w in
            (w.counters.snapshot(), replayer.missed.load(i), w.cpu)
        }
        self.rooms = rooms
        self.flows = flows.flatMap { $0 }
        self.topFlows = topFlows
    }

    /// Sum of a worker counter over all workers.
    public func total(_ c: WorkerCounter) -> Int { workers.reduce(0) { $0 + $1.counters[c.rawValue] } }

    public func total(_ m: Malformation) -> Int { workers.reduce(0) { $0 + $1.counters[WorkerCounter.malformed(m)] } }

    /// Frames the workers took: processed plus dropped for want of memory.
    public var received: Int { total(.processed) + total(.droppedNoMemory) }

    public var packets: Int { reader[.packets] ?? 0 }
    public var bytes: Int { reader[.bytes] ?? 0 }
    public var wireBytes: Int { reader[.wireBytes] ?? 0 }
    public var errors: [CaptureFileError] { files.compactMap(\.error) }
    public var seconds: Double { Double(elapsed) / 1e9 }

    /// The flows with the most bytes first.
    public var top: [FlowRecord] {
        Array(flows.sorted { $0.bytes != $1.bytes ? $0.bytes > $1.bytes : $0.packets > $1.packets }.prefix(topFlows))
    }

    // MARK: JSON

    public var json: JSON {
        let seconds = self.seconds
        func rate(_ x: Int) -> Double { seconds > 0 ? Double(x) / seconds : 0 }
        let decoded: [(String, JSON)] = [
            ("ipv4", .int(total(.ipv4))), ("ipv6", .int(total(.ipv6))), ("tcp", .int(total(.tcp))),
            ("udp", .int(total(.udp))), ("icmp", .int(total(.icmp))), ("icmpv6", .int(total(.icmpv6))),
            ("arp", .int(total(.arp))), ("vlan", .int(total(.vlan))), ("other", .int(total(.other))),
            ("fragments", .int(total(.fragments))),
        ]
        let malformed: [(String, JSON)] = Malformation.allCases.dropFirst().map { ($0.description, .int(total($0))) }
        return .object([
            ("packets", .int(packets)),
            ("bytes", .int(bytes)),
            ("wire_bytes", .int(wireBytes)),
            ("elapsed_seconds", .double(seconds)),
            (
                "rate",
                .object([
                    ("pps", .double(rate(packets))), ("bytes_per_second", .double(rate(bytes))),
                    ("mbps", .double(rate(wireBytes) * 8 / 1e6)),
                ])
            ),
            ("pacing", .string(pacing.description)),
            ("loops", .int(loops)),
            ("decoded", .object(decoded)),
            ("truncated", .int(total(.truncated))),
            ("oversized", .int(total(.oversized))),
            ("malformed", .object(malformed)),
            ("unsupported_linktype", .int(reader[.unsupportedLinkType] ?? 0)),
            (
                "flows",
                .object([
                    ("total", .int(total(.flowsCreated))),
                    ("icmp", .int(total(.icmpFlowsCreated))),
                    ("expired", .int(total(.flowsExpired))),
                    ("active", .int(total(.flowsActive))),
                    ("table_full", .int(total(.flowTableFull))),
                    ("top", .array(top.map(Self.flowJSON))),
                ])
            ),
            (
                "dropped",
                .object([
                    ("nomem", .int(total(.droppedNoMemory))),
                    ("rx_missed", .int(reader[.rxMissed] ?? 0)),
                ])
            ),
            (
                "workers",
                .array(
                    workers.enumerated().map { i, w in
                        var members: [(String, JSON)] = [
                            ("worker", .int(i)), ("cpu", w.cpu.map { .int($0) } ?? .null),
                            (
                                "received",
                                .int(
                                    w.counters[WorkerCounter.processed.rawValue]
                                        + w.counters[WorkerCounter.droppedNoMemory.rawValue])
                            ),
                        ]
                        for c in WorkerCounter.allCases where c != .malformedBase {
                            members.append((c.name, .int(w.counters[c.rawValue])))
                        }
                        members.append(("rx_missed", .int(w.missed)))
                        return .object(members)
                    })
            ),
            ("rooms", .array(rooms.map(Self.roomJSON))),
            (
                "files",
                .array(
                    files.map { f in
                        .object([
                            ("file", .string(f.path)), ("format", f.format.map { .string($0) } ?? .null),
                            ("packets", .int(f.packets)), ("bytes", .int(f.bytes)), ("wire_bytes", .int(f.wireBytes)),
                            ("ok", .bool(f.error == nil)),
                        ])
                    })
            ),
            ("notes", .array(notes.map { .string($0) })),
            (
                "errors",
                .array(
                    errors.map { e in
                        .object([
                            ("file", .string(e.file)), ("record", e.record.map { .int($0) } ?? .null),
                            ("offset", e.offset.map { .int($0) } ?? .null), ("message", .string(e.message)),
                        ])
                    })
            ),
        ])
    }

    static func flowJSON(_ f: FlowRecord) -> JSON {
        let (a, b) = f.key.endpoints
        return .object([
            ("protocol", .string(f.key.protocolName)), ("a", .string(a)), ("b", .string(b)),
            ("packets", .int(Int(f.packets))), ("bytes", .int(Int(f.bytes))),
            ("packets_a_to_b", .int(Int(f.packetsAB))), ("packets_b_to_a", .int(Int(f.packetsBA))),
            ("bytes_a_to_b", .int(Int(f.bytesAB))), ("bytes_b_to_a", .int(Int(f.bytesBA))),
            ("first_seen_ns", .int(Int(f.firstSeen))), ("last_seen_ns", .int(Int(f.lastSeen))),
            ("tcp_flags", .string(tcpFlagText(f.tcpFlags))),
        ])
    }

    public static func roomJSON(_ r: RoomStats) -> JSON {
        .object([
            ("room", .int(r.room)), ("pages", .int(r.pages)),
            (
                "watermarks",
                .object([
                    ("min", .int(r.watermarks.min)), ("low", .int(r.watermarks.low)), ("high", .int(r.watermarks.high)),
                ])
            ),
            ("alloc_fast", .int(r.allocFast)), ("alloc_slow", .int(r.allocSlow)),
            ("alloc_empty", .array(r.allocEmpty.map { .int($0) })),
            ("alloc_fail", .array(r.allocFail.map { .int($0) })),
            ("reserve_dips", .int(r.reserveDips)), ("low_watermark_events", .int(r.lowWatermarkEvents)),
            ("refill", .int(r.refill)), ("reclaimed", .int(r.reclaimed)),
            ("free_local", .int(r.freeLocal)), ("free_remote", .int(r.freeRemote)),
            ("free_pages", .int(r.freePages)), ("in_use_pages", .int(r.inUsePages)),
            ("in_use_high_water", .int(r.inUseHighWater)), ("cache_pages", .int(r.cachePages)),
            ("free_blocks", .array(r.freeBlocks.map { .int($0) })),
            ("remote_in_flight", .int(r.remoteInFlight)), ("failure_warnings", .int(r.failureWarnings)),
        ])
    }

    // MARK: Human

    public var human: String {
        var out: [String] = []
        let s = seconds
        out.append("Actual: \(packets) packets (\(bytes) bytes) sent in \(fixed(s, 6)) seconds")
        if s > 0 {
            out.append(
                "Rated: \(fixed(Double(bytes) / s, 1)) Bps, \(fixed(Double(wireBytes) * 8 / s / 1e6, 2)) Mbps, "
                    + "\(fixed(Double(packets) / s, 2)) pps")
        }
        out.append("Pacing: \(pacing), loops: \(loops), workers: \(workers.count)")
        for f in files {
            let status = f.error.map { "ERROR: \($0.message)" } ?? "ok"
            out.append(
                "File: \(f.path): \(f.format ?? "?"), \(f.packets) packets, \(f.bytes) bytes (\(f.wireBytes) on the wire), \(status)"
            )
        }
        out.append("")
        out.append("Protocols:")
        let rows: [(String, Int)] = [
            ("ipv4", total(.ipv4)), ("ipv6", total(.ipv6)), ("tcp", total(.tcp)), ("udp", total(.udp)),
            ("icmp", total(.icmp)), ("icmpv6", total(.icmpv6)), ("arp", total(.arp)), ("vlan", total(.vlan)),
            ("other", total(.other)), ("fragments", total(.fragments)),
        ]
        for (name, n) in rows { out.append("  \(pad(name, 12)) \(lpad(n, 12))") }
        out.append("  \(pad("truncated", 12)) \(lpad(total(.truncated), 12))")
        out.append("  \(pad("oversized", 12)) \(lpad(total(.oversized), 12))")
        out.append(
            "  \(pad("unsupported", 12)) \(lpad(reader[.unsupportedLinkType] ?? 0, 12))  (link types the decoder does not know)"
        )
        let bad = Malformation.allCases.dropFirst().filter { total($0) > 0 }
        if bad.isEmpty {
            out.append("Malformed: none")
        } else {
            out.append("Malformed:")
            for m in bad { out.append("  \(pad(m.description, 24)) \(lpad(total(m), 10))") }
        }
        out.append(
            "Dropped: nomem \(total(.droppedNoMemory)), rx_missed \(reader[.rxMissed] ?? 0)")
        out.append("")
        out.append(
            "Flows: \(total(.flowsCreated)) TCP/UDP, \(total(.icmpFlowsCreated)) ICMP; "
                + "\(total(.flowsExpired)) expired, \(total(.flowsActive)) active at the end, table full \(total(.flowTableFull)) times"
        )
        if !top.isEmpty {
            out.append("Top flows by bytes:")
            out.append("  proto   packets        bytes  flags     endpoints")
            for f in top {
                let (a, b) = f.key.endpoints
                out.append(
                    "  \(pad(f.key.protocolName, 6)) \(lpad(Int(f.packets), 8)) \(lpad(Int(f.bytes), 12))  "
                        + "\(pad(ReplayReport.tcpFlagText(f.tcpFlags), 8))  \(a) <-> \(b)")
            }
        }
        out.append("")
        out.append("Workers:")
        out.append("  worker cpu   received  processed     nomem  rx_missed      flows   polls  budget_out  sleeps")
        for (i, w) in workers.enumerated() {
            let c = w.counters
            out.append(
                "  \(lpad(i, 6)) \(pad(w.cpu.map(String.init) ?? "-", 3)) \(lpad(c[WorkerCounter.processed.rawValue] + c[WorkerCounter.droppedNoMemory.rawValue], 10)) "
                    + "\(lpad(c[WorkerCounter.processed.rawValue], 10)) \(lpad(c[WorkerCounter.droppedNoMemory.rawValue], 9)) "
                    + "\(lpad(w.missed, 10)) \(lpad(c[WorkerCounter.flowsCreated.rawValue], 10)) \(lpad(c[WorkerCounter.polls.rawValue], 7)) "
                    + "\(lpad(c[WorkerCounter.budgetExhausted.rawValue], 11)) \(lpad(c[WorkerCounter.sleeps.rawValue], 7))"
            )
        }
        out.append("Rooms:")
        out.append("  room  alloc_fast  alloc_slow  alloc_fail  reserve_dips  low_wm  reclaimed  free_pages  in_use_hw")
        for r in rooms {
            out.append(
                "  \(lpad(r.room, 4)) \(lpad(r.allocFast, 11)) \(lpad(r.allocSlow, 11)) \(lpad(r.failures, 11)) "
                    + "\(lpad(r.reserveDips, 13)) \(lpad(r.lowWatermarkEvents, 7)) \(lpad(r.reclaimed, 10)) "
                    + "\(lpad(r.freePages, 11)) \(lpad(r.inUseHighWater, 10))")
        }
        for note in notes { out.append("Note: \(note)") }
        if !errors.isEmpty {
            out.append("")
            out.append("Errors:")
            for e in errors { out.append("  \(e)") }
        }
        return out.joined(separator: "\n")
    }

    static func tcpFlagText(_ flags: UInt8) -> String {
        let names: [(UInt8, Character)] = [
            (0x02, "S"), (0x10, "A"), (0x08, "P"), (0x01, "F"), (0x04, "R"), (0x20, "U"), (0x40, "E"), (0x80, "C"),
        ]
        let s = String(names.compactMap { flags & $0.0 != 0 ? $0.1 : nil })
        return s.isEmpty ? "-" : s
    }
}

func pad(_ s: String, _ width: Int) -> String {
    s.count >= width ? s : s + String(repeating: " ", count: width - s.count)
}

func lpad(_ n: Int, _ width: Int) -> String {
    let s = String(n)
    return s.count >= width ? s : String(repeating: " ", count: width - s.count) + s
}

/// `x` with `digits` decimals, without Foundation.
func fixed(_ x: Double, _ digits: Int) -> String {
    guard x.isFinite else { return "\(x)" }
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let scaled = (abs(x) * scale).rounded()
    let whole = Int(scaled / scale)
    var frac = String(Int(scaled) - whole * Int(scale))
    if digits == 0 { return (x < 0 ? "-" : "") + String(whole) }
    while frac.count < digits { frac = "0" + frac }
    return (x < 0 ? "-" : "") + "\(whole).\(frac)"
}
