import CRoomsSupport
import Capture
import Packet
import Rooms
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
    /// Paced frames dropped because their worker's queue was full.
    case rxMissed
    /// Times the reader waited for queue space at maximum speed.
    case readerWaits
    /// Files that ended in an error.
    case fileErrors
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
}

/// Reads capture files and dispatches their frames to workers by a
/// symmetric flow hash, so that both directions of a flow meet on one
/// worker, pacing them as asked.
public final class FileReplayer: @unchecked Sendable {
    public let pool: ReplayWorkerPool
    public let counters: SingleWriterCounters
    /// Per worker: paced frames dropped on a full queue.
    public let missed: SingleWriterCounters
    private var roundRobin = 0
    /// Per worker: frames handed over (reader-private).
    private let dispatched: UnsafeMutablePointer<Int>

    public init(pool: ReplayWorkerPool) {
        self.pool = pool
        counters = .allocate(count: ReaderCounter.allCases.count)
        missed = .allocate(count: pool.workers.count)
        dispatched = .allocate(capacity: pool.workers.count)
        dispatched.initialize(repeating: 0, count: pool.workers.count)
    }

    deinit {
        dispatched.deallocate()
    }

    /// Waits until every worker is done with every frame handed over: the
    /// frames point into the file's mapping, which must outlive them.
    private func waitForWorkers() {
        for (i, w) in pool.workers.enumerated() {
            while w.counter(.processed) + w.counter(.droppedNoMemory) < dispatched[i] {
                if w.exited { break }
                pool.inboxes[i].arrivals.ring()
                var ts = timespec(tv_sec: 0, tv_nsec: 20_000)
                nanosleep(&ts, nil)
            }
        }
    }

    public func counter(_ c: ReaderCounter) -> Int { counters.load(c.rawValue) }

    /// Replays one file `loops` times. Errors end the file, not the replay:
    /// the result says what was read before the damage.
    public func replay<Clock: ReplayClock>(path: String, pacing: Pacing, loops: Int = 1, clock: Clock) -> FileReplayResult {
        var result = FileReplayResult(path: path, packets: 0, bytes: 0, wireBytes: 0, elapsed: 0)
        let start = clock.now()
        defer { result.elapsed = clock.now() - start }
        var pacer = Pacer(pacing, clock: clock)
        let c = counters
        for _ in 0..<Swift.max(1, loops) {
            var reader: CaptureFileReader
            do {
                reader = try CaptureFileReader(path: path)
            } catch {
                result.error = error
                c.add(ReaderCounter.fileErrors.rawValue, 1)
                return result
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
                return result
            }
            pacer.endLoop()
        }
        return result
    }

    /// One pass over a file; returns the error that ended it, if any.
    private func pass<Clock: ReplayClock>(
        _ reader: inout CaptureFileReader, pacer: inout Pacer<Clock>, result: inout FileReplayResult
    ) -> CaptureFileError? {
        let c = counters
        while true {
            let record: CaptureRecord
            do {
                guard let r = try reader.next() else { return nil }
                record = r
            } catch {
                return error
            }
            result.packets += 1
            result.bytes += record.capturedLength
            result.wireBytes += record.wireLength
            if result.firstTimestamp == nil { result.firstTimestamp = record.timestamp }
            result.lastTimestamp = record.timestamp
            c.add(ReaderCounter.packets.rawValue, 1)
            c.add(ReaderCounter.bytes.rawValue, record.capturedLength)
            c.add(ReaderCounter.wireBytes.rawValue, record.wireLength)
            dispatch(record, pacer: &pacer)
        }
    }

    @inline(__always)
    private func dispatch<Clock: ReplayClock>(_ record: CaptureRecord, pacer: inout Pacer<Clock>) {
        guard record.linkType.isSupported else {
            counters.add(ReaderCounter.unsupportedLinkType.rawValue, 1)
            return
        }
        let decoded = decodePacket(record.bytes, wireLength: record.wireLength, linkType: record.linkType)
        let workers = pool.inboxes.count
        let worker: Int
        if decoded.hasFlow {
            worker = ReplayWorkerPool.worker(for: decoded.key.hash64, count: workers)
        } else {
            // No flow to keep together (ARP, fragments, other): spread them.
            roundRobin = roundRobin == workers - 1 ? 0 : roundRobin + 1
            worker = roundRobin
        }
        let descriptor = PacketDescriptor(
            address: UInt(bitPattern: record.data), capturedLength: UInt32(record.capturedLength),
            wireLength: UInt32(truncatingIfNeeded: record.wireLength), timestamp: record.timestamp,
            linkType: record.linkType.rawValue)
        let inbox = pool.inboxes[worker]
        if pacer.pacing.isPaced {
            pacer.wait(timestamp: record.timestamp, wireBytes: record.wireLength)
            if inbox.ring.push(descriptor) {
                dispatched[worker] &+= 1
                inbox.arrivals.ring()
            } else {
                counters.add(ReaderCounter.rxMissed.rawValue, 1)
                missed.add(worker, 1)
            }
            return
        }
        // Maximum speed is lossless: wait for space, never drop.
        dispatched[worker] &+= 1
        if inbox.ring.push(descriptor) {
            inbox.arrivals.ring()
            return
        }
        inbox.arrivals.ring()
        counters.add(ReaderCounter.readerWaits.rawValue, 1)
        var spins = 0
        while !inbox.ring.push(descriptor) {
            if spins < 128 {
                spins += 1
                lab_cpu_relax()
            } else {
                inbox.space.wait(timeoutNanoseconds: 10_000_000) { inbox.ring.freeSpace > 0 }
            }
        }
        inbox.arrivals.ring()
    }
}
