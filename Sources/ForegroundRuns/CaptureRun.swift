import CRoomsSupport
import Capture
import DataPlane
import Packet
import Rooms
import Sinks
import StatsProtocol
import Syscalls
import UnixSignals

#if canImport(Glibc)
import Glibc
#endif

/// How to run a live capture in the foreground.
public struct CaptureConfiguration: Sendable {
    public var sources: [LiveSourceOptions]
    public var workers: Int
    /// As ``ReplayConfiguration/cpus``.
    public var cpus: [Int]?
    public var fifoPriority: Int?
    public var mlockall = false
    public var pagesPerRoom: Int = 4096
    public var watermarks: Watermarks?
    public var lock: LockPolicy = .required
    public var hugePages: HugePagePolicy = .transparent
    public var worker = WorkerOptions()
    /// Stop after this long (seconds), or this many frames over all
    /// workers, or at SIGINT/SIGTERM, whichever comes first.
    public var duration: Double?
    public var count: Int?
    public var topFlows: Int = 10
    /// Export ended flows as IPFIX (nil: no export).
    public var export: FlowExportOptions?
    /// Record the frames (`-w`; nil: no recording). Its interfaces are
    /// filled in from the sources.
    public var recording: RecordingOptions?

    public init(sources: [LiveSourceOptions], workers: Int) {
        self.sources = sources
        self.workers = workers
    }

    public func pinning() -> [Int]? {
        if let cpus { return cpus.isEmpty ? nil : cpus }
        let allowed = PinnedThread.currentAffinity
        return allowed.isEmpty ? nil : (0..<workers).map { allowed[$0 % allowed.count] }
    }
}

/// Everything a capture measured.
public struct CaptureReport: Sendable {
    public var sources: [LiveSourceOptions]
    public var elapsed: Int64
    public var workers: [(counters: [Int], cpu: Int?)]
    public var rooms: [RoomStats]
    public var flows: [FlowRecord]
    public var topFlows: Int
    public var notes: [String] = []
    /// Why it ended: "duration", "count" or the signal's name.
    public var stoppedBy: String
    /// What the IPFIX exporter sent, when flows were exported.
    public var export: ExportReport? = nil
    /// What the recording wrote (`-w`).
    public var recording: RecordingReport? = nil

    public func total(_ c: WorkerCounter) -> Int { workers.reduce(0) { $0 + $1.counters[c.rawValue] } }
    public func total(_ m: Malformation) -> Int { workers.reduce(0) { $0 + $1.counters[WorkerCounter.malformed(m)] } }

    /// Frames taken from the kernel: processed plus our own drops.
    public var received: Int { total(.processed) + total(.droppedNoMemory) }
    public var seconds: Double { Double(elapsed) / 1e9 }

    public var top: [FlowRecord] {
        Array(flows.sorted { $0.bytes != $1.bytes ? $0.bytes > $1.bytes : $0.packets > $1.packets }.prefix(topFlows))
    }

    /// The counters every report shares, as the socket's `stats` has them.
    public var traffic: TrafficTotals {
        var t = TrafficTotals(total: total, malformed: total, unsupported: (0, 0), missed: (0, 0))
        t.flows.top = top.map(FlowEntry.init)
        return t
    }

    /// `labyrinthd capture --json`.
    public var document: CaptureReportDocument {
        let s = seconds
        func rate(_ x: Int) -> Double { s > 0 ? Double(x) / s : 0 }
        var kernel = KernelTotals()
        kernel.packets = total(.kernelPackets)
        kernel.drops = total(.kernelDrops)
        return CaptureReportDocument(
            sources: sources.map { src in
                // No fanout: one worker and no group named, so no group joined.
                SourceSummary(
                    interface: src.interface, backend: src.backend.rawValue,
                    fanout: workers.count > 1 || src.fanoutGroup != nil ? src.fanout.rawValue : nil,
                    filter: src.filter, snaplen: src.snaplen)
            },
            traffic: traffic, elapsedSeconds: s, stoppedBy: stoppedBy,
            rate: Rates(pps: rate(received), bytesPerSecond: rate(total(.bytes)), mbps: rate(total(.bytes)) * 8 / 1e6),
            kernel: kernel, noBuffers: total(.noBuffers), bufferTruncated: total(.bufferTruncated),
            receiveErrors: total(.receiveErrors),
            workers: workers.enumerated().map { i, w in
                WorkerReport(
                    worker: i, cpu: w.cpu, state: nil,
                    received: w.counters[WorkerCounter.processed.rawValue]
                        + w.counters[WorkerCounter.droppedNoMemory.rawValue],
                    counters: WorkerCounterSet(snapshot: w.counters), rxMissed: 0)
            },
            rooms: rooms.map(RoomReport.init), notes: notes, export: export, recording: recording)
    }

    public var json: JSON { JSONCoding.encode(document) }

    public var human: String {
        var out: [String] = []
        let s = seconds
        for src in sources {
            let fanout =
                workers.count > 1 || src.fanoutGroup != nil ? "fanout \(src.fanout.rawValue)" : "one worker, no fanout"
            out.append(
                "Source: \(src.interface) (\(src.backend.rawValue), \(fanout)\(src.filter.map { ", filter \"\($0)\"" } ?? ""))"
            )
        }
        out.append(
            "Captured: \(received) packets (\(total(.bytes)) bytes) in \(fixed(s, 3)) seconds, stopped by \(stoppedBy)")
        if s > 0 {
            out.append(
                "Rated: \(fixed(Double(received) / s, 1)) pps, \(fixed(Double(total(.bytes)) * 8 / s / 1e6, 2)) Mbps")
        }
        let twice =
            sources.contains { PacketSocket.isLoopback($0.interface) }
            ? " (on loopback the kernel sees each frame twice, leaving and arriving; one is kept)" : ""
        out.append("Kernel: \(total(.kernelPackets)) packets seen, \(total(.kernelDrops)) dropped\(twice)")
        out.append(
            "Dropped by us: nomem \(total(.droppedNoMemory)); no_buffers events \(total(.noBuffers)); receive errors \(total(.receiveErrors)); cut by buffer \(total(.bufferTruncated))"
        )
        out.append("")
        out.append("Protocols:")
        let rows: [(String, Int)] = [
            ("ipv4", total(.ipv4)), ("ipv6", total(.ipv6)), ("tcp", total(.tcp)), ("udp", total(.udp)),
            ("icmp", total(.icmp)), ("icmpv6", total(.icmpv6)), ("arp", total(.arp)), ("vlan", total(.vlan)),
            ("other", total(.other)), ("fragments", total(.fragments)), ("truncated", total(.truncated)),
        ]
        for (name, n) in rows { out.append("  \(pad(name, 12)) \(lpad(n, 12))") }
        let bad = Malformation.allCases.dropFirst().filter { total($0) > 0 }
        out.append(
            bad.isEmpty
                ? "Malformed: none"
                : "Malformed: " + bad.map { "\($0.description) \(total($0))" }.joined(separator: ", "))
        out.append("")
        out += flowLines(total, export: export)
        if let r = recording { out += recordingLines(r) }
        if !top.isEmpty {
            out.append("Top flows by bytes:")
            for f in top {
                let (a, b) = f.key.endpoints
                out.append(
                    "  \(pad(f.key.protocolName, 6)) \(lpad(Int(f.packets), 8)) \(lpad(Int(f.bytes), 12))  \(a) <-> \(b)"
                )
            }
        }
        out.append("")
        out.append("Workers:")
        out.append(
            "  worker cpu   received  processed     nomem  kernel_pkts  kernel_drops  no_buffers   polls  sleeps")
        for (i, w) in workers.enumerated() {
            let c = w.counters
            func v(_ x: WorkerCounter) -> Int { c[x.rawValue] }
            out.append(
                "  \(lpad(i, 6)) \(pad(w.cpu.map(String.init) ?? "-", 3)) \(lpad(v(.processed) + v(.droppedNoMemory), 10)) "
                    + "\(lpad(v(.processed), 10)) \(lpad(v(.droppedNoMemory), 9)) \(lpad(v(.kernelPackets), 12)) "
                    + "\(lpad(v(.kernelDrops), 13)) \(lpad(v(.noBuffers), 11)) \(lpad(v(.polls), 7)) \(lpad(v(.sleeps), 7))"
            )
        }
        out.append("Rooms:")
        out.append(
            "  room  alloc_fast  alloc_slow  alloc_fail  reserve_dips  free_pages  in_use_hw  chunks  frags/chunk")
        for r in rooms {
            out.append(
                "  \(lpad(r.room, 4)) \(lpad(r.allocFast, 11)) \(lpad(r.allocSlow, 11)) \(lpad(r.failures, 11)) "
                    + "\(lpad(r.reserveDips, 13)) \(lpad(r.freePages, 11)) \(lpad(r.inUseHighWater, 10)) "
                    + "\(lpad(r.chunksAllocated + r.chunksReused, 7)) \(TextFormat.lpad(TextFormat.fixed(r.fragmentsPerChunk, 1), 12))"
            )
        }
        for note in notes { out.append("Note: \(note)") }
        return out.joined(separator: "\n")
    }
}

/// `labyrinthd capture`: build the arena, start the workers on the
/// sources, run until the duration, the count or a signal, stop, check for
/// leaks and report.
public enum CaptureRun {
    public typealias Failure = RunFailure

    public static func run(configuration c: CaptureConfiguration) async throws(Failure) -> (CaptureReport, LeakReport) {
        guard c.workers >= 1 else { throw Failure(description: "--workers must be at least 1") }
        // The interface and the filter are checked once, here, before any
        // worker starts.
        for source in c.sources {
            do {
                _ = try interfaceIndex(source.interface)
                if let filter = source.filter {
                    _ = try BPFProgram(filter, linkType: 1, snaplen: Int32(source.snaplen), interface: source.interface)
                }
            } catch {
                throw Failure(error)
            }
        }
        if c.mlockall, case .failure(let e) = Syscall.nothingOrErrno({ mlockall(MCL_CURRENT | MCL_FUTURE) }) {
            throw Failure(description: "mlockall: \(e) (needs CAP_IPC_LOCK or a higher RLIMIT_MEMLOCK)", errno: e)
        }
        let limit = c.count.map { CaptureLimit($0) }
        // Trap the signals before any worker exists, so that none of them
        // is ever the thread a SIGINT kills.
        let signals = await UnixSignalsSequence(trapping: .sigint, .sigterm)
        var options = c.worker
        if let export = c.export { options.exportRing = export.ringCapacity }
        let free = PinnedThread.currentAffinity.filter { !(c.pinning() ?? []).contains($0) }
        var recorder: Recorder? = nil
        if var recording = c.recording {
            recording.wallClockRotation = true
            recording.interfaces = []
            for source in c.sources {
                guard let linkType = interfaceLinkType(source.interface) else {
                    throw Failure(
                        description: "\(source.interface): cannot record: its link type is neither Ethernet nor raw IP")
                }
                recording.interfaces.append(
                    RecordedInterface(
                        name: source.interface, linkType: linkType, snapLength: source.snaplen, filter: source.filter))
            }
            if recording.format == .pcap && Set(recording.interfaces.map(\.linkType)).count > 1 {
                throw Failure(description: "--format pcap holds one link type per file; the sources have several")
            }
            do {
                recorder = try Recorder(options: recording)
            } catch {
                throw Failure(error)
            }
            // Its problems on standard error, as tcpdump's.
            recorder?.warn = { message in
                var line = "labyrinthd: recording: \(message)\n"
                line.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
            }
        }
        // Arena, recording, workers, exporter: built in order, undone in
        // reverse if a stage fails (Pipeline).
        let cpus = free.isEmpty ? nil : free
        var pipeline: Pipeline
        do {
            pipeline = try Pipeline(
                arena: ArenaConfiguration(
                    rooms: c.workers, pagesPerRoom: c.pagesPerRoom, watermarks: c.watermarks, lock: c.lock,
                    hugePages: c.hugePages),
                recorder: recorder, recorderCPUs: cpus, workers: options, cpus: c.pinning(),
                fifoPriority: c.fifoPriority, ringCapacity: 1024, sources: c.sources, limit: limit,
                exporter: c.export.map { export in
                    { pool in try FlowExporter(options: export, rings: pool.exportRings) }
                }, exporterCPUs: cpus)
        } catch {
            throw Failure(error)
        }
        let pool = pipeline.pool
        let exporter = pipeline.exporter
        let described = c.sources.map { "\($0.interface) (\($0.backend.rawValue))" }.joined(separator: ", ")
        var line = "labyrinthd: capturing on \(described) with \(c.workers) workers\n"
        line.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
        let clock = ContinuousClock()
        let start = clock.now
        let stoppedBy = await RunEnd.wait(
            signals: signals, deadline: c.duration.map { start + .nanoseconds(Int64($0 * 1e9)) }
        ) {
            if let limit, limit.isSpent { return "count" }
            if pool.workers.contains(where: { $0.exited }) { return "a worker exiting" }
            return nil
        }
        let end = pipeline.finish()
        let elapsed = start.duration(to: clock.now)
        let leaks = end.leaks
        var report = CaptureReport(
            sources: c.sources, elapsed: elapsed.nanoseconds,
            workers: pool.workers.map { ($0.counters.snapshot(), $0.cpu) },
            rooms: end.rooms, flows: end.flows.flatMap { $0 }, topFlows: c.topFlows, stoppedBy: stoppedBy)
        report.notes = end.notes + pool.workers.flatMap(\.notes)
        if let exporter {
            report.export = ExportReport(exporter, workers: pool.workers)
        }
        if let recorder {
            report.recording = RecordingReport(recorder, workers: pool.workers)
        }
        return (report, leaks)
    }
}

/// Waits for the end of a foreground run: a signal, a deadline, or a
/// condition polled every 100 ms. Returns why it ended (`SIGINT`,
/// `SIGTERM`, `duration`, or what the condition said). Each poll wakes
/// the runtime's threads, on the worker's CPU when the run is pinned to
/// one: at 20 ms (160 context switches a second) a live capture at 64 B
/// took 256 ns of CPU a frame, at 100 ms 157 (BENCHMARKS.md, "The floor").
enum RunEnd {
    static func wait(
        signals: UnixSignalsSequence, deadline: ContinuousClock.Instant?,
        condition: @escaping @Sendable () -> String?
    ) async -> String {
        await withTaskGroup(of: String?.self) { group in
            group.addTask {
                for await signal in signals { return signal == .sigint ? "SIGINT" : "SIGTERM" }
                return nil
            }
            group.addTask {
                while !Task.isCancelled {
                    if let deadline, ContinuousClock.now >= deadline { return "duration" }
                    if let reason = condition() { return reason }
                    // Cancelled: stop polling at once (not a spin until the deadline).
                    guard (try? await Task.sleep(for: .milliseconds(100))) != nil else { break }
                }
                return nil
            }
            var reason = "cancelled"
            while let next = await group.next() {
                if let next {
                    reason = next
                    break
                }
            }
            group.cancelAll()
            return reason
        }
    }
}

extension Duration {
    /// Whole nanoseconds (saturating).
    var nanoseconds: Int64 {
        let (s, a) = components
        return s.multipliedReportingOverflow(by: 1_000_000_000).partialValue &+ a / 1_000_000_000
    }
}
