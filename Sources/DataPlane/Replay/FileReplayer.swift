import CRoomsSupport
import Capture
import Packet
import Rooms
import Synchronization
import Syscalls

#if canImport(Glibc)
import Glibc
#endif

/// What the reader counts: it stands in for the NIC, so these are the
/// frames offered to the workers, before any worker sees them.
public enum ReaderCounter: Int, CaseIterable, Sendable {
    /// Records read from files (libpcap's count).
    case packets
    /// Their captured bytes (as libpcap delivers them).
    case bytes
    case wireBytes
    /// Records of link types the decoder does not know: counted, not dispatched.
    case unsupportedLinkType
    /// Their captured bytes.
    case unsupportedBytes
    /// Paced frames dropped because their worker's queue was full.
    case rxMissed
    /// Their captured bytes.
    case rxMissedBytes
    /// Times the reader waited for queue space at maximum speed.
    case readerWaits
    /// Files that ended in an error.
    case fileErrors
    /// Records a replay filter (`-f`) did not match: counted, not dispatched.
    case filtered
    /// Their captured bytes.
    case filteredBytes
}

/// What a replay reads: a path (mapped), or a file already open (read with
/// `pread`: a descriptor a client passed, or a path opened beneath an
/// allowed directory).
public enum ReplaySource: Sendable {
    case path(String)
    case file(OpenFile)

    /// The name in reports and errors.
    public var name: String {
        switch self {
        case .path(let p): return p
        case .file(let f): return f.name
        }
    }
}

/// An open file descriptor, owned: closed when the last user lets go.
public final class OpenFile: Sendable {
    let owned: Descriptor
    public var descriptor: Int32 { owned.rawValue }
    /// What to call it (the client's path, or `fd:N`).
    public let name: String
    /// Whether the daemon opened it by path for a client (rather than the
    /// client passing a descriptor it opened itself): errors about it must
    /// then say nothing built from its content.
    public let openedByDaemon: Bool

    public init(descriptor: Int32, name: String, openedByDaemon: Bool = false) {
        owned = Descriptor(adopting: descriptor)
        self.name = name
        self.openedByDaemon = openedByDaemon
    }
}

/// The outcome of replaying one file.
public struct FileReplayResult: Sendable {
    public var path: String
    public var format: String?
    /// Records read, including every loop.
    public var packets: Int
    public var bytes: Int
    public var wireBytes: Int
    /// Capture timestamps of the first and last record (ns), if any.
    public var firstTimestamp: Int64?
    public var lastTimestamp: Int64?
    /// Wall time the replay took (ns).
    public var elapsed: Int64
    public var error: CaptureFileError?
    /// Gaps between paced frames longer than the maximum, cut to it.
    public var gapsCut = 0

    public init(
        path: String, format: String? = nil, packets: Int = 0, bytes: Int = 0, wireBytes: Int = 0, elapsed: Int64 = 0
    ) {
        self.path = path
        self.format = format
        self.packets = packets
        self.bytes = bytes
        self.wireBytes = wireBytes
        self.elapsed = elapsed
    }
}

/// Reads capture files and dispatches their frames to workers by a
/// symmetric flow hash, so that both directions of a flow meet on one
/// worker, pacing them as asked.
public final class FileReplayer: @unchecked Sendable {
    public let pool: WorkerPool
    public let counters: SingleWriterCounters
    /// Per worker: paced frames dropped on a full queue.
    public let missed: SingleWriterCounters
    private var roundRobin = 0
    /// Raised by ``cancel()``: the reader stops at its next batch, and a
    /// pacer asleep in a gap wakes at once.
    private let interrupt = ReplayInterrupt()
    /// The longest wait between two paced frames (ns; nil: no limit).
    /// Set between replays by the thread that runs them.
    public var maximumGap: Int64? = nil
    /// Per worker: frames handed over (reader-private).
    private let dispatched: UnsafeMutablePointer<Int>
    /// Per worker: frames pushed since the doorbell was last rung.
    private let unannounced: UnsafeMutablePointer<Int>
    /// Records read a batch at a time.
    private let batch: UnsafeMutablePointer<CaptureRecord>
    private static let batchSize = 32
    /// Interrupt coalescing: at maximum speed a worker's doorbell rings once
    /// per this many frames (and whenever the reader has to wait, and at the
    /// end of a file), as a NIC raises one interrupt per batch. A quarter
    /// ring: a woken worker has a burst to chew on, so wake-ups stay rare
    /// even when workers share CPUs with the reader.
    private let coalesce: Int
    /// The workers' inboxes (the pool's).
    private let inboxes: ReplayInboxes
    private let workerCount: Int
    /// A BPF filter over the whole replay (`-f`), run before dispatch.
    public var filter: OfflineFilter? = nil
    /// Why the filter stopped the replay (a link type it cannot compile for).
    public private(set) var filterError: String? = nil
    /// Whether a replay at maximum speed through one worker, without a
    /// filter, hands the worker runs of plain pcap records (one descriptor a
    /// batch, walked by the worker, as a TPACKET block) rather than one
    /// descriptor a frame. The worker must not be recording: a run is
    /// staged whole. Set between replays.
    public var handsRuns = false

    public init(pool: WorkerPool) {
        self.pool = pool
        counters = .allocate(count: ReaderCounter.allCases.count)
        missed = .allocate(count: pool.workers.count)
        dispatched = .allocate(capacity: pool.workers.count)
        dispatched.initialize(repeating: 0, count: pool.workers.count)
        unannounced = .allocate(capacity: pool.workers.count)
        unannounced.initialize(repeating: 0, count: pool.workers.count)
        batch = .allocate(capacity: FileReplayer.batchSize)
        inboxes = pool.inboxes
        workerCount = pool.inboxes.count
        coalesce = Swift.max(1, pool.inboxes.count > 0 ? pool.inboxes.storage[0].ring.capacity / 4 : 1)
    }

    deinit {
        counters.deallocate()
        missed.deallocate()
        dispatched.deallocate()
        unannounced.deallocate()
        batch.deallocate()
    }

    /// Waits until every worker is done with every frame handed over: the
    /// frames point into the file's mapping, which must outlive them.
    private func waitForWorkers() {
        waitForWorkers(upTo: Array(UnsafeBufferPointer(start: dispatched, count: workerCount)))
    }

    /// Waits until worker i has finished the first `marks[i]` frames it was
    /// handed (a file read in windows: the frames of the window about to be
    /// refilled).
    private func waitForWorkers(upTo marks: [Int]) {
        announceAll()
        for (i, w) in pool.workers.enumerated() {
            while w.counter(.replayFrames) < marks[i] {
                if w.exited { break }
                inboxes.storage[i].arrivals.ring()
                var ts = timespec(tv_sec: 0, tv_nsec: 20_000)
                nanosleep(&ts, nil)
            }
        }
    }

    public func counter(_ c: ReaderCounter) -> Int { counters.load(c.rawValue) }

    /// Stops the replay at the reader's next batch (any thread): the file
    /// in progress ends there, without an error, and no other file starts
    /// until ``resetCancellation()``. A pacer waiting out a gap wakes now.
    public func cancel() { interrupt.raise() }

    /// Whether ``cancel()`` was called (since the last reset).
    public var isCancelled: Bool { interrupt.isRaised }

    /// Lets the next replay run: the thread that runs replays calls it
    /// before each one that a ``cancel()`` must not reach back to.
    public func resetCancellation() { interrupt.lower() }

    /// Replays one file `loops` times. Errors end the file, not the replay:
    /// the result says what was read before the damage.
    public func replay<Clock: ReplayClock>(path: String, pacing: Pacing, loops: Int = 1, clock: Clock)
        -> FileReplayResult
    {
        replay(.path(path), pacing: pacing, loops: loops, clock: clock)
    }

    /// Replays a file the caller opened: read with `pread`, never mapped.
    public func replay<Clock: ReplayClock>(_ source: ReplaySource, pacing: Pacing, loops: Int = 1, clock: Clock)
        -> FileReplayResult
    {
        let start = clock.now()
        var result = replayLoops(source, pacing: pacing, loops: loops, clock: clock)
        result.elapsed = clock.now() - start
        return result
    }

    /// A reader of `source`: a mapping of a path, or windows of an open file
    /// whose refills wait for the workers to finish the frames in them.
    private func reader(_ source: ReplaySource) throws(CaptureFileError) -> CaptureFileReader {
        switch source {
        case .path(let path):
            return try CaptureFileReader(path: path)
        case .file(let file):
            var marks = [Int](repeating: 0, count: workerCount)
            return try CaptureFileReader(descriptor: file.descriptor, name: file.name) { [self] in
                waitForWorkers(upTo: marks)
                marks = Array(UnsafeBufferPointer(start: dispatched, count: workerCount))
            }
        }
    }

    private func replayLoops<Clock: ReplayClock>(_ source: ReplaySource, pacing: Pacing, loops: Int, clock: Clock)
        -> FileReplayResult
    {
        var result = FileReplayResult(path: source.name, packets: 0, bytes: 0, wireBytes: 0, elapsed: 0)
        var pacer = Pacer(pacing, clock: clock, maximumGap: maximumGap)
        let c = counters
        for _ in 0..<Swift.max(1, loops) where !isCancelled {
            var reader: CaptureFileReader
            do {
                reader = try self.reader(source)
            } catch {
                result.error = error
                c.add(ReaderCounter.fileErrors.rawValue, 1)
                break
            }
            result.format = reader.format.description
            let error = pass(&reader, pacer: &pacer, result: &result)
            // Frames in flight point into the reader's mapping: wait for the
            // workers before the reader (and its mapping) goes.
            waitForWorkers()
            _ = consume reader
            if let error {
                result.error = error
                c.add(ReaderCounter.fileErrors.rawValue, 1)
                break
            }
            pacer.endLoop()
        }
        result.gapsCut = pacer.gapsCut
        return result
    }

    /// One pass over a file; returns the error that ended it, if any. The
    /// reader's counters are published every 256 records and at the end.
    private func pass<Clock: ReplayClock>(
        _ reader: inout CaptureFileReader, pacer: inout Pacer<Clock>, result: inout FileReplayResult
    ) -> CaptureFileError? {
        let c = counters
        let paced = pacer.pacing.isPaced
        // How the file's record headers read, when records go in runs.
        var runFlags: UInt32? = nil
        if handsRuns && !paced && filter == nil && workerCount == 1, case .pcap(let ns, let swapped) = reader.format {
            runFlags = (ns ? PacketDescriptor.runNanosecond : 0) | (swapped ? PacketDescriptor.runSwapped : 0)
        }
        var packets = 0
        var bytes = 0
        var wire = 0
        var published = (0, 0, 0)
        func publish() {
            c.add(ReaderCounter.packets.rawValue, packets &- published.0)
            c.add(ReaderCounter.bytes.rawValue, bytes &- published.1)
            c.add(ReaderCounter.wireBytes.rawValue, wire &- published.2)
            published = (packets, bytes, wire)
        }
        defer {
            publish()
            result.packets &+= packets
            result.bytes &+= bytes
            result.wireBytes &+= wire
        }
        while !interrupt.isRaised {
            let n: Int
            do {
                n = try reader.next(into: batch, capacity: FileReplayer.batchSize)
            } catch {
                return error
            }
            if n == 0 { return nil }
            if _slowPath(result.firstTimestamp == nil) { result.firstTimestamp = batch[0].timestamp }
            var taken = 0
            var run = RecordRun()
            while taken < n {
                let record = batch[taken]
                if let flags = runFlags, run.extend(with: record, flags: flags) {
                    // In the run: handed over with it.
                } else {
                    if run.frames > 0 { handRun(&run, flags: runFlags!, pacer: &pacer, record: record) }
                    // False only when a cancel woke the pacer: that frame and
                    // the rest of the batch are not handed over, nor counted.
                    guard dispatch(record, paced: paced, pacer: &pacer) else { break }
                }
                bytes &+= record.capturedLength
                wire &+= record.wireLength
                taken &+= 1
                // A paced replay shows its progress frame by frame.
                if paced {
                    packets &+= 1
                    publish()
                }
            }
            if run.frames > 0 { handRun(&run, flags: runFlags!, pacer: &pacer, record: batch[taken &- 1]) }
            if taken > 0 { result.lastTimestamp = batch[taken &- 1].timestamp }
            if !paced { packets &+= taken }
            if packets & ~255 != published.0 & ~255 { publish() }
        }
        return nil
    }

    /// Hands the run on to the one worker (at maximum speed: waits for
    /// queue space, never fails), and starts a new one.
    @inline(__always)
    private func handRun<Clock: ReplayClock>(
        _ run: inout RecordRun, flags: UInt32, pacer: inout Pacer<Clock>, record: CaptureRecord
    ) {
        let d = PacketDescriptor.run(
            first: run.first, frames: run.frames, linkType: run.linkType,
            nanosecond: flags & PacketDescriptor.runNanosecond != 0, swapped: flags & PacketDescriptor.runSwapped != 0)
        _ = hand(d, to: 0, inbox: inboxes.storage[0], paced: false, pacer: &pacer, record: record, frames: run.frames)
        run = RecordRun()
    }

    /// Hands one record on (or counts it unsupported or filtered); false
    /// when a cancel came while its pacer waited, and it was not handed.
    @inline(__always)
    private func dispatch<Clock: ReplayClock>(_ record: CaptureRecord, paced: Bool, pacer: inout Pacer<Clock>)
        -> Bool
    {
        guard record.linkType.isSupported else {
            counters.add(ReaderCounter.unsupportedLinkType.rawValue, 1)
            counters.add(ReaderCounter.unsupportedBytes.rawValue, record.capturedLength)
            return true
        }
        if let filter {
            do throws(LiveCaptureError) {
                guard
                    try filter.matches(
                        linkType: record.linkType.rawValue, frame: UnsafeRawPointer(record.data),
                        captured: record.capturedLength, wire: record.wireLength)
                else {
                    counters.add(ReaderCounter.filtered.rawValue, 1)
                    counters.add(ReaderCounter.filteredBytes.rawValue, record.capturedLength)
                    return true
                }
            } catch {
                if filterError == nil { filterError = error.description }
                cancel()
                return false
            }
        }
        let workers = workerCount
        var worker = 0
        var hash: UInt64 = 0
        // The NIC's RSS: a symmetric hash of the flow picks the queue, and
        // travels with the frame (a NIC's RSS hash in the descriptor) so that
        // the worker can prefetch the flow's slot ahead of the frame. The
        // common frame is hashed straight from its bytes; others are decoded.
        if record.linkType == .ethernet, let quick = FlowKey.quickHash(record.data, captured: record.capturedLength) {
            hash = quick
            worker = WorkerPool.worker(for: hash, count: workers)
        } else {
            let decoded = decodePacket(record.bytes, wireLength: record.wireLength, linkType: record.linkType)
            if decoded.hasFlow {
                hash = decoded.key.hash64
                worker = WorkerPool.worker(for: hash, count: workers)
            } else if workers > 1 {
                // No flow to keep together (ARP, fragments, other): spread them.
                roundRobin = roundRobin == workers - 1 ? 0 : roundRobin + 1
                worker = roundRobin
            }
        }
        let descriptor = PacketDescriptor(
            address: UInt(bitPattern: record.data), capturedLength: UInt32(record.capturedLength),
            wireLength: UInt32(truncatingIfNeeded: record.wireLength), timestamp: record.timestamp,
            linkType: record.linkType.rawValue, flowHash: UInt32(truncatingIfNeeded: hash))
        return hand(
            descriptor, to: worker, inbox: inboxes.storage[worker], paced: paced, pacer: &pacer, record: record)
    }

    /// Puts a frame in `worker`'s queue: paced, or dropped and counted when
    /// the queue is full; at maximum speed, waiting for room (lossless).
    /// False when a cancel woke the pacer before the frame's time: it is
    /// not handed over.
    @inline(__always)
    private func hand<Clock: ReplayClock>(
        _ descriptor: PacketDescriptor, to worker: Int, inbox: borrowing ReplayInbox, paced: Bool,
        pacer: inout Pacer<Clock>, record: CaptureRecord, frames: Int = 1
    ) -> Bool {
        if paced {
            pacer.wait(timestamp: record.timestamp, wireBytes: record.wireLength, interruptedBy: interrupt)
            if interrupt.isRaised { return false }
            if inbox.ring.push(descriptor) {
                dispatched[worker] &+= 1
                inbox.arrivals.ring()
            } else {
                counters.add(ReaderCounter.rxMissed.rawValue, 1)
                counters.add(ReaderCounter.rxMissedBytes.rawValue, Int(descriptor.capturedLength))
                missed.add(worker, 1)
            }
            return true
        }
        // Maximum speed is lossless: wait for space, never drop.
        dispatched[worker] &+= frames
        if inbox.ring.push(descriptor) {
            unannounced[worker] &+= frames
            if unannounced[worker] >= coalesce {
                unannounced[worker] = 0
                inbox.arrivals.ring()
            }
            return true
        }
        unannounced[worker] = 0
        inbox.arrivals.ring()
        counters.add(ReaderCounter.readerWaits.rawValue, 1)
        var spins = 0
        let half = inbox.ring.capacity / 2
        while !inbox.ring.push(descriptor) {
            if spins < 128 {
                spins += 1
                lab_cpu_relax()
            } else {
                // Sleep until the worker has drained half the queue: one
                // wake-up per half ring, not one per poll.
                inbox.space.wait(timeoutNanoseconds: 10_000_000) { inbox.ring.freeSpace >= half }
            }
        }
        unannounced[worker] &+= frames
        return true
    }

    /// Rings every worker that has frames it was not told about.
    private func announceAll() {
        for i in 0..<workerCount where unannounced[i] > 0 {
            unannounced[i] = 0
            inboxes.storage[i].arrivals.ring()
        }
    }
}

/// The run of records being gathered for the one worker: consecutive plain
/// pcap records of one supported link type, each of whose headers reads
/// (``PacketDescriptor/pcapRecord(at:flags:)``) exactly as the reader read
/// it, so that the worker's walk stages the very frames the reader saw.
struct RecordRun {
    var first = UnsafeRawPointer(bitPattern: 16)!
    /// Where the next record's header must start to join.
    var end = UnsafeRawPointer(bitPattern: 16)!
    var frames = 0
    var linkType: UInt32 = 0

    /// Adds `record` when it can join (or start) the run.
    @inline(__always)
    mutating func extend(with record: CaptureRecord, flags: UInt32) -> Bool {
        let header = record.data - 16
        guard record.linkType.isSupported, frames == 0 || (header == end && record.linkType.rawValue == linkType)
        else { return false }
        let r = PacketDescriptor.pcapRecord(at: header, flags: flags)
        guard r.captured == record.capturedLength, r.wire == record.wireLength, r.timestamp == record.timestamp
        else { return false }
        if frames == 0 {
            first = header
            linkType = record.linkType.rawValue
        }
        end = record.data + record.capturedLength
        frames &+= 1
        return true
    }
}
