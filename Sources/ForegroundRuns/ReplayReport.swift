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
    /// The signal that ended the replay early, if one did.
    public var interruptedBy: String? = nil
    /// What the IPFIX exporter sent, when flows were exported.
    public var export: ExportReport? = nil
    /// What the recording wrote (`-w`).
    public var recording: RecordingReport? = nil

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

    /// The counters every report shares, as the socket's `stats` has them.
    public var traffic: TrafficTotals {
        var t = TrafficTotals(
            total: total, malformed: total,
            unsupported: (reader[.unsupportedLinkType] ?? 0, reader[.unsupportedBytes] ?? 0),
            missed: (reader[.rxMissed] ?? 0, reader[.rxMissedBytes] ?? 0),
            filtered: (reader[.filtered] ?? 0, reader[.filteredBytes] ?? 0))
        t.flows.top = top.map(FlowEntry.init)
        return t
    }

    /// `labyrinthd replay --json`.
    public var document: ReplayReportDocument {
        let seconds = self.seconds
        func rate(_ x: Int) -> Double { seconds > 0 ? Double(x) / seconds : 0 }
        return ReplayReportDocument(
            traffic: traffic, wireBytes: wireBytes, elapsedSeconds: seconds,
            rate: Rates(pps: rate(packets), bytesPerSecond: rate(bytes), mbps: rate(wireBytes) * 8 / 1e6),
            pacing: pacing.description, loops: loops,
            workers: workers.enumerated().map { i, w in
                WorkerReport(
                    worker: i, cpu: w.cpu, state: nil,
                    received: w.counters[WorkerCounter.processed.rawValue]
                        + w.counters[WorkerCounter.droppedNoMemory.rawValue],
                    counters: WorkerCounterSet(snapshot: w.counters), rxMissed: w.missed)
            },
            rooms: rooms.map(RoomReport.init),
            files: files.map { f in
                FileReport(
                    file: f.path, format: f.format, packets: f.packets, bytes: f.bytes, wireBytes: f.wireBytes,
                    ok: f.error == nil)
            },
            notes: notes, errors: errors.map(FileErrorReport.init), export: export, recording: recording)
    }

    public var json: JSON { JSONCoding.encode(document) }

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
        out += flowLines(total, export: export)
        if let f = reader[.filtered], f > 0 { out.append("Filtered: \(f) records did not match the filter") }
        if let r = recording { out += recordingLines(r) }
        if !top.isEmpty {
            out.append("Top flows by bytes:")
            out.append("  proto   packets        bytes  flags     endpoints")
            for f in top {
                let (a, b) = f.key.endpoints
                out.append(
                    "  \(pad(f.key.protocolName, 6)) \(lpad(Int(f.packets), 8)) \(lpad(Int(f.bytes), 12))  "
                        + "\(pad(FlowEntry.flagText(f.tcpFlags), 8))  \(a) <-> \(b)")
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
        out.append(
            "  room  alloc_fast  alloc_slow  alloc_fail  reserve_dips  low_wm  reclaimed  free_pages  in_use_hw  chunks  frags/chunk"
        )
        for r in rooms {
            out.append(
                "  \(lpad(r.room, 4)) \(lpad(r.allocFast, 11)) \(lpad(r.allocSlow, 11)) \(lpad(r.failures, 11)) "
                    + "\(lpad(r.reserveDips, 13)) \(lpad(r.lowWatermarkEvents, 7)) \(lpad(r.reclaimed, 10)) "
                    + "\(lpad(r.freePages, 11)) \(lpad(r.inUseHighWater, 10)) "
                    + "\(lpad(r.chunksAllocated + r.chunksReused, 7)) \(TextFormat.lpad(TextFormat.fixed(r.fragmentsPerChunk, 1), 12))"
            )
        }
        for note in notes { out.append("Note: \(note)") }
        if !errors.isEmpty {
            out.append("")
            out.append("Errors:")
            for e in errors { out.append("  \(e)") }
        }
        return out.joined(separator: "\n")
    }
}

extension FileErrorReport {
    public init(_ e: CaptureFileError) {
        self.init(file: e.file, record: e.record, offset: e.offset, message: e.message)
    }
}

/// The flows' summary: how many started, how they ended, and what the
/// exporter sent.
func flowLines(_ total: (WorkerCounter) -> Int, export: ExportReport?) -> [String] {
    var out = [
        "Flows: \(total(.flowsCreated)) TCP/UDP, \(total(.icmpFlowsCreated)) ICMP; \(total(.flowsActive)) active at the end",
        "  ended: idle \(total(.flowsExpired)), active timeout \(total(.flowsActiveTimeout)), "
            + "TCP end \(total(.flowsClosed)), forced \(total(.flowsForced)), evicted \(total(.flowsEvicted))",
    ]
    if let x = export {
        out.append(
            "IPFIX to \(x.collectors.joined(separator: ", ")): \(x.flows) flows in \(x.records) records, "
                + "\(x.messagesSent) messages (\(x.bytesSent) bytes), \(x.templateRecords) template records; "
                + "\(x.messagesFailed) sends failed, \(x.dropped) records dropped (ring full)"
                + (x.encodingFailures > 0 ? ", \(x.encodingFailures) messages not encoded" : "")
                + (x.lastError.map { "; last error: \($0)" } ?? ""))
    }
    return out
}

/// What a recording wrote, for the summaries.
func recordingLines(_ r: RecordingReport) -> [String] {
    let u = r.unwritten
    var out = [
        "Recording \(r.path) (\(r.format)): \(r.written) frames written (\(r.writtenBytes) bytes), "
            + "\(r.filesWritten) files (\(r.bytesWritten) bytes)",
        "  unwritten: overload \(u.overload), disk_full \(u.diskFull), error \(u.error), oversized \(u.oversized), "
            + "linktype \(u.linktype)",
    ]
    if r.unlinkedRing + r.unlinkedFreeSpace > 0 {
        out.append("  removed: \(r.unlinkedRing) by the ring, \(r.unlinkedFreeSpace) below min_free")
    }
    if r.writtenLate > 0 {
        out.append(
            "  \(r.writtenLate) frames written late: their file was due to rotate, the next not ready yet (they are in the older file)"
        )
    }
    for (w, files) in r.files.enumerated() where !files.isEmpty {
        out.append(
            "  worker \(w): \(files.count == 1 ? files[0] : "\(files.count) files, \(files[0]) ... \(files[files.count - 1])")"
        )
    }
    if let e = r.lastError { out.append("  last error: \(e)") }
    return out
}

func pad(_ s: String, _ width: Int) -> String { TextFormat.pad(s, width) }
func lpad(_ n: Int, _ width: Int) -> String { TextFormat.lpad(n, width) }
func fixed(_ x: Double, _ digits: Int) -> String { TextFormat.fixed(x, digits) }
