import CRoomsSupport
import CURing
import Rooms
import Sinks
import Syscalls

#if canImport(Glibc)
import Glibc
#endif

/// The headers a worker writes itself, prebuilt once per interface key: an
/// Interface Description Block (pcapng) or a file header (pcap). Fixed
/// memory that outlives every write pointing into it.
final class InterfaceHeaders: @unchecked Sendable {
    static let keys = InterfaceKeys.capacity
    let bytes: UnsafeMutableRawPointer
    let offsets: UnsafeMutablePointer<Int>
    let lengths: UnsafeMutablePointer<Int>
    /// The key of a replayed frame, by the index of its link type in
    /// ``RecordingOptions/replayLinkTypes``: after the live sources' keys,
    /// or (classic pcap, one link type per file) the live source's own key
    /// when one has that link type. -1: not recordable.
    let replayKeys: UnsafeMutablePointer<Int>
    static let replayLinkTypes = RecordingOptions.replayLinkTypes.count

    init(format: RecordFormat, options: RecordingOptions) throws(RecordingError) {
        var blocks: [[UInt8]] = Array(repeating: [], count: Self.keys)
        func block(_ linkType: UInt32, name: String, snap: Int, filter: String?) throws(RecordingError) -> [UInt8] {
            switch format {
            case .pcap:
                var b = [UInt8](repeating: 0, count: PcapEncoder.fileHeaderSize)
                b.withUnsafeMutableBytes {
                    _ = PcapEncoder.fileHeader(into: $0.baseAddress!, snapLength: UInt32(snap), linkType: linkType)
                }
                return b
            case .pcapng:
                guard linkType <= UInt32(UInt16.max) else {
                    throw RecordingError("link type \(linkType) does not fit a pcapng interface")
                }
                let interface = PcapngInterface(
                    linkType: UInt16(linkType), snapLength: UInt32(snap), name: name, filter: filter)
                do {
                    let n = try PcapngEncoder.interfaceDescriptionLength(interface)
                    var b = [UInt8](repeating: 0, count: n)
                    _ = try b.withUnsafeMutableBytes { (p) throws(PcapEncodingError) in
                        try PcapngEncoder.interfaceDescription(into: p, interface)
                    }
                    return b
                } catch {
                    throw RecordingError("interface \(name): \(error)")
                }
            }
        }
        // The live sources first, then one key per link type a replay (or
        // a daemon's replay job) may bring.
        let live = options.interfaces.count
        guard live + Self.replayLinkTypes <= Self.keys else {
            throw RecordingError("at most \(Self.keys - Self.replayLinkTypes) sources can be recorded")
        }
        for (key, i) in options.interfaces.enumerated() {
            blocks[key] = try block(
                i.linkType, name: i.name, snap: options.declaredSnapLength(source: i.snapLength), filter: i.filter)
        }
        replayKeys = .allocate(capacity: Self.replayLinkTypes)
        for (k, linkType) in RecordingOptions.replayLinkTypes.enumerated() {
            if format == .pcap, let same = options.interfaces.firstIndex(where: { $0.linkType == linkType }) {
                replayKeys[k] = same
            } else {
                replayKeys[k] = live + k
                blocks[live + k] = try block(
                    linkType, name: "replay", snap: options.declaredSnapLength(source: nil),
                    filter: options.filter?.expression)
            }
        }
        let total = blocks.reduce(0) { $0 + $1.count }
        bytes = .allocate(byteCount: Swift.max(total, 1), alignment: 8)
        offsets = .allocate(capacity: Self.keys)
        lengths = .allocate(capacity: Self.keys)
        var at = 0
        for (key, b) in blocks.enumerated() {
            offsets[key] = at
            lengths[key] = b.count
            b.withUnsafeBytes { (bytes + at).copyMemory(from: $0.baseAddress!, byteCount: b.count) }
            at += b.count
        }
    }

    /// No headers (a writer that does not record).
    private init() {
        bytes = .allocate(byteCount: 1, alignment: 8)
        offsets = .allocate(capacity: Self.keys)
        offsets.initialize(repeating: 0, count: Self.keys)
        lengths = .allocate(capacity: Self.keys)
        lengths.initialize(repeating: 0, count: Self.keys)
        replayKeys = .allocate(capacity: Self.replayLinkTypes)
        replayKeys.initialize(repeating: -1, count: Self.replayLinkTypes)
    }

    static let none = InterfaceHeaders()

    deinit {
        bytes.deallocate()
        offsets.deallocate()
        lengths.deallocate()
        replayKeys.deallocate()
    }
}

/// One write: the iovecs of whole blocks for one file at one offset, and
/// the fragments they lie in, held until the write's completion. Blocks
/// that follow each other in a chunk share one iovec, so a chunk's used
/// span is written whole.
struct WriteBatch {
    /// writev's limit (IOV_MAX).
    static let iovecCapacity = 1024
    /// One frame takes at most: an interface header, a block header, the
    /// frame, a trailer (most take none: their block extends the last).
    static let iovecsPerFrame = 4
    static let frameCapacity = 2048
    /// Per frame, a block header and trailer when the page has no room for
    /// them (frames too big for headroom in the largest block).
    static let scratchPerFrame = 40

    var fd: Int32 = -1
    var start: Int64 = 0
    var iovCount = 0
    var frames = 0
    var bytes = 0
    /// Frame bytes (after the snap length), for `written_bytes`.
    var frameBytes = 0
    /// Bytes of the fragments it holds.
    var bytesHeld = 0
    /// When its first frame came (monotonic ns): the flush deadline runs from it.
    var firstTime: UInt64 = 0
    /// A pipe took part of it: the bytes written so far, and the first
    /// iovec still to write (adjusted to start where the pipe stopped).
    var done = 0
    var firstIov = 0
    let iov: UnsafeMutablePointer<iovec>
    let fragments: UnsafeMutablePointer<RawFragment>
    /// Per frame: its unit's bytes (interface header and block), its frame
    /// bytes, and the interface id whose header it carries (-1: none).
    let unitBytes: UnsafeMutablePointer<Int32>
    let unitFrameBytes: UnsafeMutablePointer<Int32>
    let unitInterface: UnsafeMutablePointer<Int8>
    let scratch: UnsafeMutableRawPointer

    init() {
        iov = .allocate(capacity: Self.iovecCapacity)
        fragments = .allocate(capacity: Self.frameCapacity)
        unitBytes = .allocate(capacity: Self.frameCapacity)
        unitFrameBytes = .allocate(capacity: Self.frameCapacity)
        unitInterface = .allocate(capacity: Self.frameCapacity)
        scratch = .allocate(byteCount: Self.frameCapacity * Self.scratchPerFrame, alignment: 8)
    }

    func deallocate() {
        iov.deallocate()
        fragments.deallocate()
        unitBytes.deallocate()
        unitFrameBytes.deallocate()
        unitInterface.deallocate()
        scratch.deallocate()
    }

    var hasRoom: Bool { frames < Self.frameCapacity && iovCount + Self.iovecsPerFrame <= Self.iovecCapacity }

    /// The frames it surely takes still, however they are laid out.
    var surelyTakes: Int {
        Swift.min(Self.frameCapacity - frames, (Self.iovecCapacity - iovCount) / Self.iovecsPerFrame)
    }

    /// Adds the iovec of `length` bytes at `base`, extending the last when
    /// it ends where this begins (the next block of the same chunk).
    @inline(__always)
    mutating func add(_ base: UnsafeMutableRawPointer, _ length: Int) {
        if iovCount > firstIov, let last = iov[iovCount &- 1].iov_base,
            last + iov[iovCount &- 1].iov_len == base
        {
            iov[iovCount &- 1].iov_len &+= length
            return
        }
        iov[iovCount] = iovec(iov_base: base, iov_len: length)
        iovCount &+= 1
    }

    mutating func reset(fd: Int32, start: Int64) {
        self.fd = fd
        self.start = start
        iovCount = 0
        frames = 0
        bytes = 0
        frameBytes = 0
        bytesHeld = 0
        done = 0
        firstIov = 0
    }

    /// After a partial write of `n` more bytes: the iovecs start after them.
    mutating func advance(by n: Int) {
        done &+= n
        var left = n
        while left > 0 && firstIov < iovCount {
            let length = iov[firstIov].iov_len
            if left >= length {
                left &-= length
                firstIov &+= 1
            } else {
                iov[firstIov].iov_base = iov[firstIov].iov_base.map { $0 + left }
                iov[firstIov].iov_len = length &- left
                left = 0
            }
        }
    }
}

/// A worker's recording, in the worker: each frame it keeps becomes one
/// block in its file, written from the frame's own fragment, where pass 1
/// laid it down as that block (the header before the frame, the trailer
/// after it). Blocks that follow each other in a chunk share one iovec,
/// so a chunk's used span goes in one piece. Frames gather into batches of
/// at most 1024 iovecs; one write per worker is in flight at a time (so
/// blocks land in order and a short write leaves whole blocks before it),
/// on the worker's own io_uring, at offsets the worker knows as its file's
/// only writer. The fragments go back at the completion, a chunk's run
/// with one atomic. Files are opened,
/// named, closed and unlinked by the recorder's control thread; the worker
/// swaps descriptors.
///
/// Nothing here allocates, locks or blocks after `init`: a frame that would
/// exceed the pages-in-flight cap, meet a full disk, or a write error is
/// counted and its page goes home.
public struct FrameWriter: ~Copyable {
    /// The slot and the headers, kept alive here, and used through
    /// unretained references and plain pointers: no ARC on the packet path.
    let slotOwner: RecordingSlot
    let headersOwner: InterfaceHeaders
    unowned(unsafe) let slot: RecordingSlot
    let headerBytes: UnsafeMutableRawPointer
    let headerOffsets: UnsafeMutablePointer<Int>
    let headerLengths: UnsafeMutablePointer<Int>
    let replayKeys: UnsafeMutablePointer<Int>
    // (Not the first stored property: with -sanitize=thread, Swift 6.3.1's
    // IRGen bitcast a leading Bool of this struct to a pointer in its
    // mutating methods, and LLVM's verifier rejected the module.)
    @usableFromInline let enabled: Bool
    let format: RecordFormat
    let snapLength: Int
    /// The most bytes of fragments the batches may hold.
    let byteCap: Int
    let intervalNanoseconds: Int64
    let sizeLimit: Int
    let sequential: Bool
    let flushNanoseconds: UInt64
    let wallClockRotation: Bool

    // The current file.
    var fd: Int32 = -1
    var offset: Int64 = 0
    var filePackets = 0
    var intervalEnd = Int64.max
    /// Per key, the interface id in the current file (-1: not described yet).
    let ids: UnsafeMutablePointer<Int8>
    var keys = InterfaceKeys()
    var dontCache: Bool
    /// Waiting for a truncation of this generation (0: not waiting).
    var waitingForTruncation: Int64 = 0
    var truncationsAsked: Int64 = 0
    var rotationsSeen = 0
    /// The last file was handed back: the run is over.
    var retiredLast = false

    // Batches: a ring; the head is in flight when `inFlight`.
    let batches: UnsafeMutablePointer<WriteBatch>
    // Eight: a TPACKET block of 64-byte frames is some 10 000 frames, and
    // the batches must take one whole while a write is in flight.
    static let batchCount = 8
    var head = 0
    var queued = 0
    var inFlight = false
    var inFlightFlags: Int32 = 0
    /// When the write in flight was submitted (the latency histogram).
    var inFlightSince: UInt64 = 0
    var bytesHeld = 0

    // Retired files waiting for their last writes, oldest first.
    static let retiringCapacity = 8
    let retiring: UnsafeMutablePointer<RecordingEvent>
    var retiringCount = 0
    // Events the slot's ring had no room for.
    let deferred: UnsafeMutablePointer<RecordingEvent>
    var deferredCount = 0
    static let deferredCapacity = 16

    /// Not recording.
    public init() {
        enabled = false
        slotOwner = RecordingSlot.none
        headersOwner = InterfaceHeaders.none
        slot = slotOwner
        headerBytes = headersOwner.bytes
        headerOffsets = headersOwner.offsets
        headerLengths = headersOwner.lengths
        replayKeys = headersOwner.replayKeys
        format = .pcapng
        snapLength = .max
        byteCap = 0
        intervalNanoseconds = 0
        sizeLimit = .max
        sequential = false
        flushNanoseconds = 0
        wallClockRotation = false
        dontCache = false
        ids = .allocate(capacity: InterfaceHeaders.keys)
        batches = .allocate(capacity: 0)
        retiring = .allocate(capacity: 0)
        deferred = .allocate(capacity: 0)
    }

    init(options: RecordingOptions, slot: RecordingSlot, headers: InterfaceHeaders, roomPages: Int) {
        enabled = true
        slotOwner = slot
        headersOwner = headers
        self.slot = slot
        headerBytes = headers.bytes
        headerOffsets = headers.offsets
        headerLengths = headers.lengths
        replayKeys = headers.replayKeys
        format = options.format
        snapLength = options.snapLength ?? .max
        byteCap = Swift.max(16, options.pagesInFlight ?? roomPages / 4) &* Room.pageSize
        let rotation = options.naming.rotation
        intervalNanoseconds = (rotation.intervalSeconds ?? 0) &* 1_000_000_000
        sizeLimit = rotation.maximumFileSize ?? .max
        sequential = options.naming.isStandardOutput
        flushNanoseconds = UInt64(Swift.max(1, options.flushMilliseconds)) &* 1_000_000
        wallClockRotation = options.wallClockRotation
        dontCache = options.dontCache
        ids = .allocate(capacity: InterfaceHeaders.keys)
        ids.initialize(repeating: -1, count: InterfaceHeaders.keys)
        batches = .allocate(capacity: Self.batchCount)
        for i in 0..<Self.batchCount { (batches + i).initialize(to: WriteBatch()) }
        retiring = .allocate(capacity: Self.retiringCapacity)
        deferred = .allocate(capacity: Self.deferredCapacity)
    }

    deinit {
        if enabled {
            for i in 0..<Self.batchCount { batches[i].deallocate() }
        }
        ids.deallocate()
        batches.deallocate()
        retiring.deallocate()
        deferred.deallocate()
    }

    /// True while a write is in flight or frames wait for one.
    public var busy: Bool { inFlight || queued > 0 || retiringCount > 0 || deferredCount > 0 }
    /// Frames wait in a batch not yet submitted.
    var hasQueuedFrames: Bool {
        for i in 0..<queued where batches[(head &+ i) % Self.batchCount].frames > 0 { return true }
        return false
    }
    var retiringCountIsZero: Bool { retiringCount == 0 }

    /// Whether `frames` more frames of `bytes` bytes in all surely find
    /// room: under the cap on bytes held, and in the batches, with one
    /// batch left over (a frame may start the next file, by size or on the
    /// packets' clock, and need a batch of its own). A replay holds its
    /// frames back while not (the reader waits, nothing is lost).
    func canTake(frames: Int, bytes: Int) -> Bool {
        guard enabled else { return true }
        if bytesHeld &+ bytes > byteCap { return false }
        let perBatch = WriteBatch.iovecCapacity / WriteBatch.iovecsPerFrame
        var room = (Self.batchCount &- queued &- 1) &* perBatch
        if queued > 0 {
            let last = (head &+ queued &- 1) % Self.batchCount
            if !(inFlight && queued == 1) && batches[last].fd == fd { room &+= batches[last].surelyTakes }
        }
        return room >= frames
    }

    // MARK: Frames

    /// Keeps one frame: `fragment` holds it at `frameOffset`, `captured`
    /// bytes of a `wire`-byte frame, seen at `time` (ns since the epoch) on
    /// the interface of `key`. Counts it unwritten (and frees its fragment)
    /// when it cannot be written.
    @usableFromInline
    mutating func append(
        _ fragment: consuming Fragment, frameOffset: Int, captured: Int, wire: Int, time: Int64, key: Int,
        cut: Bool, frags: inout FragmentCache, counters c: SingleWriterCounters
    ) {
        let length = Swift.min(captured, snapLength)
        var late = false
        var interfaceHeader = 0
        var newInterface: Int8 = -1
        if let why = admit(cut: cut, time: time, key: key, late: &late, counters: c)
            ?? describe(key, header: &interfaceHeader, newInterface: &newInterface)
        {
            return refuse(why, length, fragment, frags: &frags, counters: c)
        }
        let held = fragment.byteCount
        guard _fastPath(bytesHeld &+ held <= byteCap), let b = batchForAppend() else {
            return refuse(.overload, length, fragment, frags: &frags, counters: c)
        }
        let batch = batches + b
        let id = ids[key]
        guard
            let blockBytes = layDown(
                fragment.baseAddress, byteCount: held, frameOffset: frameOffset, length: length, wire: wire,
                time: time, interface: UInt32(truncatingIfNeeded: id >= 0 ? Int(id) : Int(newInterface)),
                interfaceHeader: interfaceHeader, key: key, into: batch)
        else {
            // A timestamp the format cannot hold (before 1970, or past 2106
            // in pcap): counted, never written wrong.
            return refuse(.error, length, fragment, frags: &frags, counters: c)
        }
        if _slowPath(late) { c.add(WorkerCounter.writtenLate.rawValue, 1) }
        if newInterface >= 0 {
            ids[key] = newInterface
            keys.append(key)
        }
        let f = batch.pointee.frames
        if f == 0 { batch.pointee.firstTime = lab_monotonic_ns() }
        batch.pointee.fragments[f] = fragment.intoRaw()
        batch.pointee.unitBytes[f] = Int32(truncatingIfNeeded: interfaceHeader &+ blockBytes)
        batch.pointee.unitFrameBytes[f] = Int32(truncatingIfNeeded: length)
        batch.pointee.unitInterface[f] = newInterface
        batch.pointee.frames = f &+ 1
        batch.pointee.bytes &+= interfaceHeader &+ blockBytes
        batch.pointee.frameBytes &+= length
        batch.pointee.bytesHeld &+= held
        bytesHeld &+= held
        offset &+= Int64(interfaceHeader &+ blockBytes)
        filePackets &+= 1
    }

    /// Why a frame is not written, and the counters it is charged to.
    @usableFromInline
    enum Refusal {
        case oversized, diskFull, error, linkType, overload

        @inline(__always)
        var counters: (frames: WorkerCounter, bytes: WorkerCounter?) {
            switch self {
            case .oversized: (.unwrittenOversized, nil)
            case .diskFull: (.unwrittenDiskFull, .unwrittenDiskFullBytes)
            case .error: (.unwrittenError, nil)
            case .linkType: (.unwrittenLinkType, nil)
            case .overload: (.unwrittenOverload, .unwrittenOverloadBytes)
            }
        }
    }

    /// The one way out for a frame that is not written: counted, and its
    /// fragment freed.
    @inline(__always)
    func refuse(
        _ why: Refusal, _ length: Int, _ fragment: consuming Fragment, frags: inout FragmentCache,
        counters c: SingleWriterCounters
    ) {
        let (frames, bytes) = why.counters
        unwritten(frames, bytes, length, counters: c)
        frags.free(fragment)
    }

    /// Whether the file can take a frame now: not cut by the snap length,
    /// the disk not full, a file open, rotated when due, and a known
    /// interface. A rotation due with no next file ready leaves the frame
    /// in this file: `late`, counted once it is laid down (`written_late`).
    @inline(__always)
    mutating func admit(cut: Bool, time: Int64, key: Int, late: inout Bool, counters c: SingleWriterCounters)
        -> Refusal?
    {
        if _slowPath(cut) { return .oversized }
        if _slowPath(waitingForTruncation != 0) {
            guard slot.truncationsDone.load(ordering: .acquiring) >= waitingForTruncation else { return .diskFull }
            waitingForTruncation = 0
        }
        if _slowPath(!slot.writing.load(ordering: .relaxed)) { return .diskFull }
        if _slowPath(fd < 0) {
            guard activate(.start, time: time, counters: c) else { return .error }
        } else if _slowPath(time >= intervalEnd) {
            rotate(.time, time: time, counters: c)
            late = time >= intervalEnd
        } else if _slowPath(Int(offset) >= sizeLimit && filePackets > 0) {
            rotate(.size, time: time, counters: c)
            late = Int(offset) >= sizeLimit
        } else if _slowPath(slot.rotations.load(ordering: .relaxed) != rotationsSeen) {
            // Asked to rotate: done once a next file is ready (activating it
            // records the request as seen); until then, tried again.
            rotate(.forced, time: time, counters: c)
        }
        guard key >= 0, key < InterfaceHeaders.keys, headerLengths[key] > 0 else { return .error }
        return nil
    }

    /// The interface of `key` in this file: described once per file
    /// (pcapng: its IDB goes first, `header` bytes), or the one link type of
    /// the file (pcap: the file header, unless the control thread wrote it).
    @inline(__always)
    func describe(_ key: Int, header: inout Int, newInterface: inout Int8) -> Refusal? {
        guard ids[key] < 0 else { return nil }
        switch format {
        case .pcapng:
            guard keys.count < InterfaceKeys.capacity else { return .error }
            header = headerLengths[key]
            newInterface = Int8(keys.count)
        case .pcap:
            guard keys.count == 0 else { return .linkType }
            header = offset == 0 ? headerLengths[key] : 0
            newInterface = 0
        }
        return nil
    }

    /// Lays the frame down as its block and adds it to `batch`: the header
    /// before the frame and the trailer after it, in the fragment when they
    /// fit (one iovec), else in the batch's scratch (three). A pcap record
    /// is a pcapng block without a trailer. Returns the block's bytes, or
    /// nil for a timestamp the format cannot hold.
    @inline(__always)
    func layDown(
        _ base: UnsafeMutableRawPointer, byteCount: Int, frameOffset: Int, length: Int, wire: Int, time: Int64,
        interface: UInt32, interfaceHeader: Int, key: Int, into batch: UnsafeMutablePointer<WriteBatch>
    ) -> Int? {
        let pcapng = format == .pcapng
        let headerSize = pcapng ? PcapngEncoder.epbHeaderSize : PcapEncoder.recordHeaderSize
        let trailerSize = pcapng ? ((length &+ 3) & ~3) &- length &+ 4 : 0
        let frame = base + frameOffset
        let fitsInPage = frameOffset >= headerSize && frameOffset &+ length &+ trailerSize <= byteCount
        let scratch = batch.pointee.scratch + batch.pointee.frames &* WriteBatch.scratchPerFrame
        let headerAt = fitsInPage ? frame - headerSize : scratch
        let trailerAt = fitsInPage ? frame + length : scratch + headerSize
        let original = Swift.max(wire, length)
        do throws(PcapEncodingError) {
            if pcapng {
                _ = try PcapngEncoder.epbHeader(
                    into: headerAt, interface: interface, timestampNanoseconds: time, capturedLength: length,
                    originalLength: original)
                _ = try PcapngEncoder.epbTrailer(into: trailerAt, capturedLength: length)
            } else {
                _ = try PcapEncoder.recordHeader(
                    into: headerAt, timestampNanoseconds: time, capturedLength: length, originalLength: original)
            }
        } catch {
            return nil
        }
        if interfaceHeader > 0 { batch.pointee.add(headerBytes + headerOffsets[key], interfaceHeader) }
        if fitsInPage {
            batch.pointee.add(headerAt, headerSize &+ length &+ trailerSize)
        } else {
            batch.pointee.add(headerAt, headerSize)
            batch.pointee.add(frame, length)
            if trailerSize > 0 { batch.pointee.add(trailerAt, trailerSize) }
        }
        return headerSize &+ length &+ trailerSize
    }

    @inline(__always)
    func unwritten(_ what: WorkerCounter, _ bytes: WorkerCounter?, _ length: Int, counters c: SingleWriterCounters) {
        c.add(what.rawValue, 1)
        if let bytes { c.add(bytes.rawValue, length) }
    }

    /// The batch the next frame goes into (for the current file), starting
    /// a new one when the last is full, in flight or for another file; nil
    /// when every batch is taken.
    mutating func batchForAppend() -> Int? {
        if queued > 0 {
            let last = (head &+ queued &- 1) % Self.batchCount
            let lastInFlight = inFlight && queued == 1
            if !lastInFlight && batches[last].fd == fd && batches[last].hasRoom {
                return last
            }
        }
        guard queued < Self.batchCount else { return nil }
        let b = (head &+ queued) % Self.batchCount
        batches[b].reset(fd: fd, start: offset)
        queued &+= 1
        return b
    }

    // MARK: Files

    /// The interface key of a replayed frame of `linkType`, or -1.
    @inline(__always)
    func key(replayed linkType: UInt32) -> Int {
        let k = RecordingOptions.replayKey(linkType)
        return k < 0 ? -1 : replayKeys[k]
    }

    /// Takes the prepared file; false when the control thread has none ready.
    mutating func activate(_ reason: RotationReason, time: Int64, counters c: SingleWriterCounters) -> Bool {
        guard let next = slot.takeNext() else { return false }
        fd = next.fd
        offset = Int64(next.length)
        filePackets = 0
        keys = InterfaceKeys()
        ids.update(repeating: -1, count: InterfaceHeaders.keys)
        rotationsSeen = slot.rotations.load(ordering: .relaxed)
        if intervalNanoseconds > 0 {
            // Intervals are aligned to multiples of N since the epoch.
            let (q, r) = time.quotientAndRemainder(dividingBy: intervalNanoseconds)
            let startOfInterval = (r < 0 ? q &- 1 : q) &* intervalNanoseconds
            intervalEnd = startOfInterval &+ intervalNanoseconds
        }
        var e = RecordingEvent(kind: .activated)
        e.reason = reason
        e.fd = fd
        e.time = time
        post(e)
        c.add(WorkerCounter.filesStarted.rawValue, 1)
        return true
    }

    /// Moves to the next file, if one is prepared and the retiring queue
    /// has room; else stays in this one (the next frame tries again).
    mutating func rotate(_ reason: RotationReason, time: Int64, counters c: SingleWriterCounters) {
        guard slot.hasOffer, retiringCount < Self.retiringCapacity else { return }
        var e = RecordingEvent(kind: .retired)
        e.fd = fd
        e.offset = offset
        e.packets = Int64(filePackets)
        e.interfaces = keys
        retiring[retiringCount] = e
        retiringCount &+= 1
        fd = -1
        _ = activate(reason, time: time, counters: c)
        retireFinished()
    }

    /// Posts the retirement of files none of whose writes are pending.
    mutating func retireFinished() {
        while retiringCount > 0 {
            let e = retiring[0]
            var pending = false
            for i in 0..<queued where batches[(head &+ i) % Self.batchCount].fd == e.fd {
                if batches[(head &+ i) % Self.batchCount].frames > 0 || (inFlight && i == 0) { pending = true }
            }
            if pending { return }
            post(e)
            for i in 1..<Swift.max(1, retiringCount) { retiring[i &- 1] = retiring[i] }
            retiringCount &-= 1
        }
    }

    mutating func post(_ e: RecordingEvent) {
        guard enabled else { return }
        // Keep the order: events deferred earlier go first.
        flushDeferred()
        if deferredCount == 0 && slot.post(e) { return }
        if deferredCount < Self.deferredCapacity {
            deferred[deferredCount] = e
            deferredCount &+= 1
        }
    }

    mutating func flushDeferred() {
        guard enabled else { return }
        var sent = 0
        while sent < deferredCount && slot.post(deferred[sent]) { sent &+= 1 }
        if sent > 0 {
            for i in sent..<deferredCount { deferred[i &- sent] = deferred[i] }
            deferredCount &-= sent
        }
    }

    // MARK: Writes

    /// Between polls: rotates on the wall clock when live (a quiet link
    /// still rotates), submits the next write when none is in flight and the
    /// batch is worth it (or has waited `--flush-ms`, or `draining`), and
    /// hands finished files to the control thread.
    mutating func service(
        uring: borrowing IOURing, now wallClock: Int64, draining: Bool, counters c: SingleWriterCounters
    ) {
        guard enabled else { return }
        // Live: the first file opens at the start, as tcpdump's does, and
        // time rotation runs on the wall clock, frames or not.
        if wallClockRotation && fd < 0 && retiringCount == 0 && !retiredLast {
            _ = activate(.start, time: wallClock, counters: c)
        }
        if wallClockRotation && fd >= 0 && wallClock >= intervalEnd {
            rotate(.time, time: wallClock, counters: c)
        }
        if fd >= 0, slot.rotations.load(ordering: .relaxed) != rotationsSeen {
            rotate(.forced, time: wallClockRotation ? wallClock : lab_realtime_ns(), counters: c)
        }
        if !inFlight && queued > 0 {
            let batch = batches + head
            let due =
                draining || queued > 1 || batch.pointee.frames >= WriteBatch.frameCapacity / 2
                || batch.pointee.bytes >= 256 * 1024 || batch.pointee.fd != fd || bytesHeld >= byteCap / 2
                || lab_monotonic_ns() &- batch.pointee.firstTime >= flushNanoseconds
            if due {
                if batch.pointee.frames == 0 {
                    head = (head &+ 1) % Self.batchCount
                    queued &-= 1
                } else {
                    submit(uring: uring, counters: c)
                }
            }
        }
        retireFinished()
        flushDeferred()
    }

    mutating func submit(uring: borrowing IOURing, counters c: SingleWriterCounters, dontCache allowed: Bool = true) {
        let batch = batches + head
        inFlightFlags = dontCache && allowed ? curing_rwf_dontcache() : 0
        do throws(Errno) {
            try uring.writev(
                fd: batch.pointee.fd, batch.pointee.iov + batch.pointee.firstIov,
                count: batch.pointee.iovCount &- batch.pointee.firstIov,
                offset: sequential ? -1 : batch.pointee.start &+ Int64(batch.pointee.done), flags: inFlightFlags,
                tag: CompletionKind.write.tag(0))
            inFlight = true
            inFlightSince = lab_monotonic_ns()
            c.add(WorkerCounter.writes.rawValue, 1)
            c.add(WorkerCounter.writeIovecs.rawValue, batch.pointee.iovCount &- batch.pointee.firstIov)
        } catch {
            // No room in the submission queue: try again at the next pass.
            c.add(WorkerCounter.uringErrors.rawValue, 1)
        }
    }

    /// The in-flight write completed with `result` (bytes, or -errno).
    mutating func completed(
        _ result: Int32, uring: borrowing IOURing, frags: inout FragmentCache, counters c: SingleWriterCounters
    ) {
        guard inFlight else { return }
        inFlight = false
        c.observe(.writeLatency, Int(truncatingIfNeeded: lab_monotonic_ns() &- inFlightSince))
        let batch = batches + head
        if result < 0 && inFlightFlags != 0 && (result == -EOPNOTSUPP || result == -EINVAL) {
            // RWF_DONTCACHE refused (tmpfs, a pipe): the same write without
            // it, and never again for this file.
            if batch.pointee.fd == fd { dontCache = false }
            submit(uring: uring, counters: c, dontCache: false)
            if inFlight { return }
        }
        if sequential && result > 0 && batch.pointee.done &+ Int(result) < batch.pointee.bytes {
            // A pipe takes what fits: the rest goes next.
            batch.pointee.advance(by: Int(result))
            submit(uring: uring, counters: c)
            if inFlight { return }
        }
        if result >= 0 && batch.pointee.done &+ Int(result) == batch.pointee.bytes {
            c.add(WorkerCounter.written.rawValue, batch.pointee.frames)
            c.add(WorkerCounter.writtenBytes.rawValue, batch.pointee.frameBytes)
            release(batch, frags: &frags)
            pop()
            retireFinished()
            return
        }
        // A short write or an error: the whole blocks before it stay; the
        // rest of this batch, and every later batch for this file, are not
        // written; the file is cut back to its last whole block.
        let diskFull = result >= 0 || result == -ENOSPC || result == -EDQUOT || result == -EFBIG
        let written = batch.pointee.done &+ (result > 0 ? Int(result) : 0)
        var kept = 0
        var keptFrames = 0
        var keptFrameBytes = 0
        while keptFrames < batch.pointee.frames && kept &+ Int(batch.pointee.unitBytes[keptFrames]) <= written {
            kept &+= Int(batch.pointee.unitBytes[keptFrames])
            keptFrameBytes &+= Int(batch.pointee.unitFrameBytes[keptFrames])
            keptFrames &+= 1
        }
        c.add(WorkerCounter.written.rawValue, keptFrames)
        c.add(WorkerCounter.writtenBytes.rawValue, keptFrameBytes)
        let failedFD = batch.pointee.fd
        let end = batch.pointee.start &+ Int64(kept)
        var firstLostInterface = Int8.max
        func lose(_ b: UnsafeMutablePointer<WriteBatch>, from: Int) {
            for i in from..<b.pointee.frames {
                if diskFull {
                    c.add(WorkerCounter.unwrittenDiskFull.rawValue, 1)
                    c.add(WorkerCounter.unwrittenDiskFullBytes.rawValue, Int(b.pointee.unitFrameBytes[i]))
                } else {
                    c.add(WorkerCounter.unwrittenError.rawValue, 1)
                }
                if b.pointee.unitInterface[i] >= 0 {
                    firstLostInterface = Swift.min(firstLostInterface, b.pointee.unitInterface[i])
                }
            }
        }
        lose(batch, from: keptFrames)
        release(batch, frags: &frags)
        pop()
        // Later batches for the same file were laid out past the cut.
        var lostPackets = batch.pointee.frames &- keptFrames
        var i = 0
        while i < queued {
            let b = batches + (head &+ i) % Self.batchCount
            if b.pointee.fd == failedFD {
                lose(b, from: 0)
                lostPackets &+= b.pointee.frames
                release(b, frags: &frags)
                b.pointee.reset(fd: failedFD, start: end)
            }
            i &+= 1
        }
        // Drop the emptied batches at the front.
        while queued > 0 && batches[head].frames == 0 {
            head = (head &+ 1) % Self.batchCount
            queued &-= 1
        }
        recount()
        if failedFD == fd {
            offset = end
            filePackets = Swift.max(0, filePackets &- lostPackets)
            if firstLostInterface != Int8.max {
                // Interfaces described in the lost part are described again.
                keys.truncate(to: Int(firstLostInterface))
                for k in 0..<InterfaceHeaders.keys where ids[k] >= firstLostInterface { ids[k] = -1 }
            }
        } else {
            for r in 0..<retiringCount where retiring[r].fd == failedFD {
                retiring[r].offset = end
                retiring[r].packets = Swift.max(0, retiring[r].packets &- Int64(lostPackets))
                if firstLostInterface != Int8.max { retiring[r].interfaces.truncate(to: Int(firstLostInterface)) }
            }
        }
        truncationsAsked &+= 1
        var t = RecordingEvent(kind: .truncate)
        t.fd = failedFD
        t.offset = end
        t.generation = truncationsAsked
        post(t)
        if failedFD == fd { waitingForTruncation = truncationsAsked }
        if !diskFull {
            var e = RecordingEvent(kind: .writeError)
            e.fd = failedFD
            e.errno = -result
            post(e)
        }
        retireFinished()
    }

    /// Gives the batch's fragments back and empties it (call ``recount()``
    /// after): each run of one chunk's fragments with one atomic, blocks of
    /// their own one by one.
    func release(_ batch: UnsafeMutablePointer<WriteBatch>, frags: inout FragmentCache) {
        var i = 0
        let n = batch.pointee.frames
        while i < n {
            let f = batch.pointee.fragments[i]
            guard f.shared else {
                frags.free(f.adopt())
                i &+= 1
                continue
            }
            var run = 1
            var bytes = Int(f.bytes)
            while i &+ run < n, batch.pointee.fragments[i &+ run].shared,
                batch.pointee.fragments[i &+ run].blockAddress == f.blockAddress
            {
                bytes &+= Int(batch.pointee.fragments[i &+ run].bytes)
                run &+= 1
            }
            frags.free(chunk: f.blockAddress, fragments: run, bytes: bytes)
            i &+= run
        }
        batch.pointee.frames = 0
        batch.pointee.iovCount = 0
        batch.pointee.bytes = 0
        batch.pointee.frameBytes = 0
        batch.pointee.bytesHeld = 0
    }

    /// The bytes held: those of the batches still queued.
    mutating func recount() {
        var n = 0
        for i in 0..<queued { n &+= batches[(head &+ i) % Self.batchCount].bytesHeld }
        bytesHeld = n
    }

    /// Drops the batch at the front (written, or emptied).
    mutating func pop() {
        head = (head &+ 1) % Self.batchCount
        queued &-= 1
        recount()
    }

    /// At the end: the current file is handed to the control thread as
    /// retired (call when no write is pending).
    mutating func retireCurrent() {
        guard enabled, fd >= 0, retiringCount < Self.retiringCapacity else { return }
        retiredLast = true
        var e = RecordingEvent(kind: .retired)
        e.fd = fd
        e.offset = offset
        e.packets = Int64(filePackets)
        e.interfaces = keys
        retiring[retiringCount] = e
        retiringCount &+= 1
        fd = -1
        retireFinished()
    }

    /// Gives back every page still held, uncounted writes lost (only when the
    /// io_uring is going away with writes the kernel never took).
    mutating func abandon(frags: inout FragmentCache, counters c: SingleWriterCounters) {
        guard enabled else { return }
        for i in 0..<queued {
            let b = batches + (head &+ i) % Self.batchCount
            c.add(WorkerCounter.unwrittenError.rawValue, b.pointee.frames)
            release(b, frags: &frags)
        }
        queued = 0
        inFlight = false
        recount()
    }
}
