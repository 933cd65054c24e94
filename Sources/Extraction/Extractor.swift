import Capture
import Packet
import Syscalls

#if canImport(Glibc)
import Glibc
#endif

/// What to extract from a ring of recordings.
public struct ExtractRequest: Sendable {
    public var directory: String
    /// The window `[from, to)`, ns since the epoch (as `editcap -A/-B`).
    public var from: Int64 = .min
    public var to: Int64 = .max
    public var filter: String? = nil
    public var flow: FlowSelector? = nil
    /// Bytes read per second at most (nil: as fast as the disk goes).
    public var readRate: Int? = nil
    /// Files ignored (the daemon's own current files are not).
    public init(directory: String) { self.directory = directory }
}

/// What an extraction did.
public struct ExtractReport: Sendable {
    public var framesMatched = 0
    public var framesRead = 0
    public var filesTotal = 0
    public var filesRead = 0
    /// Files the index ruled out whole.
    public var filesSkipped = 0
    /// Files read without an index, each with the reason.
    public var scanned: [String] = []
    public var damaged: [String] = []
    public var notes: [String] = []
    public var bytesTotal = 0
    public var bytesRead = 0
    public var indexBytes = 0
    public var seconds = 0.0
    /// The span of the ring (indexed files only), ns.
    public var earliest: Int64? = nil
    public var latest: Int64? = nil

    public init() {}
}

/// Why nothing could be answered.
public struct ExtractError: Error, Sendable, CustomStringConvertible {
    public var description: String
    /// 64 for a request that cannot be asked (a bad filter), 1 otherwise.
    public var status: Int32
    public init(_ description: String, status: Int32 = 1) {
        self.description = description
        self.status = status
    }
}

/// `labyrinthd extract`: the frames of a window, a flow and a filter from a
/// ring of recordings, in time order. Each file's index (when it has a
/// valid one) rules out whole files and stretches; a file without one is
/// scanned, and the report says so.
public final class Extractor {
    let request: ExtractRequest
    let output: ExtractOutput
    var report = ExtractReport()
    /// The earliest and latest frame any read saw (scanned files are read whole).
    var seenEarliest: Int64? = nil
    var seenLatest: Int64? = nil
    var filter: FilterPrograms? = nil
    var filterTable: FilterTable? = nil
    var throttle: Throttle?
    /// Run buffers of files read to their end, for the next files: a
    /// fresh one would cost page faults and zeroing.
    var spareBuffers: [(base: UnsafeMutableRawPointer, capacity: Int)] = []

    deinit {
        for b in spareBuffers { b.base.deallocate() }
    }

    public init(request: ExtractRequest, output: ExtractOutput) {
        self.request = request
        self.output = output
        throttle = request.readRate.map { Throttle(bytesPerSecond: $0) }
    }

    /// One recording of the ring, and how it will be read.
    final class RingFile {
        let path: String
        let size: Int
        var index: RecordingIndex? = nil
        /// Byte ranges to read (indexed), nil: scan the whole file.
        var runs: [(offset: Int, length: Int)]? = nil
        var first: Int64 = .min
        init(path: String, size: Int) {
            self.path = path
            self.size = size
        }
    }

    public func run() throws(ExtractError) -> ExtractReport {
        let started = lab_clock()
        let files = try listRing()
        report.filesTotal = files.count
        var linkTypes = FilterPrograms.decodedLinkTypes
        for f in files { for t in f.index?.linkTypes ?? [] where !linkTypes.contains(t) { linkTypes.append(t) } }
        if let expression = request.filter {
            do {
                let programs = try FilterPrograms(expression, linkTypes: linkTypes)
                filter = programs
                filterTable = programs.table
            } catch {
                throw ExtractError("-f \"\(expression)\": \(error.message)", status: 64)
            }
        }
        var planned: [RingFile] = []
        for f in files {
            if plan(f) { planned.append(f) } else { report.filesSkipped += 1 }
        }
        let indexed = files.filter { $0.index != nil }
        if !indexed.isEmpty && indexed.count == files.count && planned.isEmpty {
            try refuseOutsideSpan(
                earliest: files.compactMap { $0.index?.earliest }.min(),
                latest: files.compactMap { $0.index?.latest }.max())
        }
        try merge(planned)
        if report.framesMatched == 0 {
            // The span of the indexed files and of every frame a scan read:
            // a window past the file being written is as far outside as any.
            let earliest = (files.compactMap { $0.index?.earliest } + (seenEarliest.map { [$0] } ?? [])).min()
            let latest = (files.compactMap { $0.index?.latest } + (seenLatest.map { [$0] } ?? [])).max()
            try refuseOutsideSpan(earliest: earliest, latest: latest)
        }
        let unreadable = report.damaged.count
        if unreadable > 0 && unreadable >= planned.count && report.framesRead == 0 {
            throw ExtractError(
                "every recording that could hold the answer is damaged: \(report.damaged.joined(separator: "; "))")
        }
        report.seconds = Double(lab_clock() - started) / 1e9
        return report
    }

    // MARK: The ring

    func listRing() throws(ExtractError) -> [RingFile] {
        guard let d = opendir(request.directory) else {
            throw ExtractError("\(request.directory): cannot open the directory: \(Errno.current)")
        }
        defer { closedir(d) }
        var names: [String] = []
        while let e = readdir(d) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if !name.hasPrefix(".") { names.append(name) }
        }
        var files: [RingFile] = []
        for name in names.sorted() {
            let path = request.directory + "/" + name
            var st = stat()
            guard stat(path, &st) == 0, st.st_mode & S_IFMT == S_IFREG else { continue }
            guard Self.isCapture(path) else { continue }
            let f = RingFile(path: path, size: Int(st.st_size))
            report.bytesTotal += f.size
            loadIndex(f, st)
            files.append(f)
        }
        guard !files.isEmpty else {
            throw ExtractError("\(request.directory): no recordings here (no pcap or pcapng file)")
        }
        return files
    }

    static func isCapture(_ path: String) -> Bool {
        guard case .success(let file) = Descriptor.open(path, O_RDONLY | O_CLOEXEC) else {
            return true  // unreadable: said when read
        }
        let fd = file.rawValue
        var magic: UInt32 = 0
        guard pread(fd, &magic, 4, 0) == 4 else { return false }
        return [0xA1B2_C3D4, 0xD4C3_B2A1, 0xA1B2_3C4D, 0x4D3C_B2A1, 0x0A0D_0D0A].contains(magic)
    }

    func loadIndex(_ f: RingFile, _ st: stat) {
        let sidecar = RecordingIndex.sidecarPath(for: f.path)
        guard case .success(let file) = Descriptor.open(sidecar, O_RDONLY | O_CLOEXEC) else {
            report.scanned.append(
                "\(f.path): no index (a file still being written, or one whose writer was killed): scanned")
            return
        }
        let fd = file.rawValue
        var ist = stat()
        guard fstat(fd, &ist) == 0, ist.st_size < 1 << 30 else {
            report.scanned.append("\(f.path): its index cannot be read: scanned")
            return
        }
        var bytes = [UInt8](repeating: 0, count: Int(ist.st_size))
        let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard n == bytes.count else {
            report.scanned.append("\(f.path): its index cannot be read: scanned")
            return
        }
        throttle?.take(n)
        report.indexBytes += n
        switch RecordingIndex.decode(bytes) {
        case .failure(let problem):
            report.scanned.append("\(f.path): its index is damaged (\(problem)): scanned")
        case .success(let index):
            guard index.recordingLength == UInt64(st.st_size), index.inode == UInt64(st.st_ino),
                index.modifiedNanoseconds == IndexBuilder.mtime(st)
            else {
                report.scanned.append("\(f.path): its index is of another version of the file: scanned")
                return
            }
            f.index = index
            if let e = index.earliest { report.earliest = min(report.earliest ?? e, e) }
            if let l = index.latest { report.latest = max(report.latest ?? l, l) }
        }
    }

    /// Decides what of `f` to read; false when the index rules it out. An
    /// index whose stretch does not start on a block (a checksum can be
    /// redone over a wrong offset) is damaged: the file is scanned.
    func plan(_ f: RingFile) -> Bool {
        guard let index = f.index else { return true }
        if let problem = misplacedStretch(f, index) {
            f.index = nil
            report.scanned.append("\(f.path): its index is damaged (\(problem)): scanned")
            return true
        }
        let hash = request.flow?.pair.hash
        let probes = Int(index.probes)
        var runs: [(offset: Int, length: Int)] = []
        var first = Int64.max
        for s in index.stretches where s.overlaps(from: request.from, to: request.to) {
            if let hash, !s.mayContain(hash, probes: probes) { continue }
            first = min(first, s.earliest)
            let offset = Int(s.offset)
            let length = Int(s.length)
            if let last = runs.last, last.offset + last.length == offset, last.length + length <= Self.runBytes {
                runs[runs.count - 1].length += length
            } else {
                runs.append((offset, length))
            }
        }
        guard !runs.isEmpty else { return false }
        f.runs = runs
        f.first = first
        return true
    }

    /// The first stretch the window needs that does not start on a block of
    /// the recording, or nil. A pcapng block's length must be a multiple of
    /// 4 that fits the stretch and be repeated at the block's end; a pcap
    /// record's header must give a length that fits.
    func misplacedStretch(_ f: RingFile, _ index: RecordingIndex) -> String? {
        guard case .success(let file) = Descriptor.open(f.path, O_RDONLY | O_CLOEXEC) else { return nil }
        let fd = file.rawValue
        var magic: UInt32 = 0
        guard pread(fd, &magic, 4, 0) == 4 else { return "the recording cannot be read" }
        let pcapng = magic == 0x0A0D_0D0A
        let swapped = magic == 0xD4C3_B2A1 || magic == 0x4D3C_B2A1
        var endian: UInt32 = 0
        if pcapng {
            guard pread(fd, &endian, 4, 8) == 4 else { return "the recording cannot be read" }
        }
        let bigEndian = pcapng ? endian == 0x4D3C_2B1A : swapped
        func word(_ offset: UInt64) -> UInt32? {
            var v: UInt32 = 0
            guard offset <= UInt64(Int64.max), pread(fd, &v, 4, off_t(offset)) == 4 else { return nil }
            throttle?.take(4)
            return bigEndian ? v.byteSwapped : v
        }
        for (i, s) in index.stretches.enumerated() where s.overlaps(from: request.from, to: request.to) {
            let end = s.offset &+ s.length
            let fits: Bool
            if pcapng {
                if let length = word(s.offset &+ 4), length >= 12, length % 4 == 0,
                    UInt64(length) <= s.length, word(s.offset &+ UInt64(length) &- 4) == length
                {
                    fits = true
                } else {
                    fits = false
                }
            } else {
                if let captured = word(s.offset &+ 8), captured <= 262_144, s.offset &+ 16 &+ UInt64(captured) <= end {
                    fits = true
                } else {
                    fits = false
                }
            }
            if !fits { return "stretch \(i) at offset \(s.offset) does not start on a block" }
        }
        return nil
    }

    /// A run of stretches read at once: at most this, unless one stretch is more.
    static let runBytes = 8 << 20

    // MARK: Reading, in time order

    func merge(_ files: [RingFile]) throws(ExtractError) {
        // Files without an index: their first frame says where they start.
        var pending: [RingFile] = []
        for f in files {
            if f.index == nil {
                guard let first = peekFirst(f) else { continue }
                f.first = first
            }
            pending.append(f)
        }
        pending.sort { $0.first < $1.first || ($0.first == $1.first && $0.path < $1.path) }
        // A min-heap of (timestamp, cursor number), plain values: no
        // reference counting per frame. Ties go to the file opened first.
        var cursors: [FileCursor] = []
        var heap = TimeHeap()
        var next = 0
        while true {
            // Open the next file once the merge reaches its first frame.
            while next < pending.count && (heap.isEmpty || pending[next].first <= heap.minimum) {
                let c = FileCursor(file: pending[next], extractor: self)
                next += 1
                if c.advance() {
                    heap.push(c.timestamp, cursors.count)
                    cursors.append(c)
                }
            }
            guard !heap.isEmpty else { break }
            let c = cursors[heap.top]
            // The same file goes on as long as it stays the earliest.
            while true {
                try emit(c)
                guard c.advance() else {
                    heap.removeTop()
                    c.release()
                    break
                }
                if heap.count == 1 || c.timestamp <= heap.secondMinimum {
                    if next < pending.count && pending[next].first < c.timestamp {
                        heap.replaceTop(c.timestamp)
                        break
                    }
                    continue
                }
                heap.replaceTop(c.timestamp)
                break
            }
        }
    }

    func peekFirst(_ f: RingFile) -> Int64? {
        let file: Descriptor
        switch Descriptor.open(f.path, O_RDONLY | O_CLOEXEC) {
        case .success(let d): file = d
        case .failure(let e):
            report.damaged.append("\(f.path): cannot open: \(e)")
            return nil
        }
        let fd = file.rawValue
        do {
            let throttle = self.throttle
            var reader = try CaptureFileReader(
                descriptor: fd, name: f.path, windowBytes: 1 << 20, onRead: { throttle?.take($0) }
            ) {}
            guard let r = try reader.next() else {
                report.notes.append("\(f.path): holds no frame")
                return nil
            }
            return r.timestamp
        } catch {
            if error.message.contains("no interface description") {
                report.notes.append("\(f.path): holds no frame (yet)")
            } else if error.message.contains("cut off") {
                report.notes.append("\(f.path): \(error.message) (still being written?)")
            } else {
                report.damaged.append("\(error): skipped")
            }
            return nil
        }
    }

    /// Exit 1 for a window wholly outside the ring's span.
    func refuseOutsideSpan(earliest: Int64?, latest: Int64?) throws(ExtractError) {
        guard request.from != .min || request.to != .max, let a = earliest, let b = latest else { return }
        guard request.from > b || request.to <= a else { return }
        throw ExtractError(
            "nothing was recorded in [\(ExtractTime.format(request.from)), \(ExtractTime.format(request.to))): the ring in \(request.directory) spans \(ExtractTime.format(a)) to \(ExtractTime.format(b))"
        )
    }

    @inline(__always)
    func emit(_ c: FileCursor) throws(ExtractError) {
        let r = c.records[c.at]
        report.framesRead += 1
        if r.timestamp < seenEarliest ?? .max { seenEarliest = r.timestamp }
        if r.timestamp > seenLatest ?? .min { seenLatest = r.timestamp }
        guard r.timestamp >= request.from && r.timestamp < request.to else { return }
        let bytes = r.bytes
        if let flow = request.flow {
            let d = decodePacket(bytes, wireLength: r.wireLength, linkType: r.linkType)
            guard flow.matches(bytes, d) else { return }
        }
        if let table = filterTable,
            !table.matches(linkType: r.linkType.rawValue, frame: r.data, captured: r.capturedLength, wire: r.wireLength)
        {
            return
        }
        do {
            let id = try c.outputInterface(output)
            try output.append(interface: id, timestamp: r.timestamp, frame: bytes, wireLength: r.wireLength)
        } catch {
            throw ExtractError(error.description)
        }
        report.framesMatched += 1
    }

    func damaged(_ f: RingFile, _ error: CaptureFileError, scanning: Bool) {
        if error.message.contains("no interface description") {
            report.notes.append("\(f.path): holds no frame (yet)")
        } else if scanning && error.message.contains("cut off") {
            report.notes.append("\(error) (a file still being written, or whose writer was killed): read up to there")
        } else {
            report.damaged.append("\(error): the rest of the file is skipped")
        }
    }
}

/// Reads one recording: its runs (indexed), each through a reader over a
/// buffer holding the prefix then the run, or the whole file (scanned).
/// Records come a batch at a time from a run's buffer (which stays put
/// until the next run), one at a time from a scanned file's windows.
final class FileCursor {
    let file: Extractor.RingFile
    unowned let extractor: Extractor
    /// The file, open from the first refill to the end (-1 before and after).
    var descriptor = Descriptor(adopting: -1)
    var fd: Int32 { descriptor.rawValue }
    var reader: ReaderBox? = nil
    var buffer: UnsafeMutableRawPointer? = nil
    var capacity = 0
    var run = 0
    static let batch = 64
    /// The current batch, its interface numbers, and where the cursor is.
    let records = UnsafeMutablePointer<CaptureRecord>.allocate(capacity: FileCursor.batch)
    let interfaces = UnsafeMutablePointer<Int32>.allocate(capacity: FileCursor.batch)
    var count = 0
    var at = 0
    var timestamp: Int64 = 0
    /// Output interface numbers by source interface number.
    var outputIDs: [UInt32?] = []
    var opened = false

    init(file: Extractor.RingFile, extractor: Extractor) {
        self.file = file
        self.extractor = extractor
    }

    deinit {
        release()
        records.deallocate()
        interfaces.deallocate()
    }

    /// At the end of the file: the descriptor closes, the buffer goes to
    /// the next file.
    func release() {
        reader = nil
        descriptor = Descriptor(adopting: -1)
        if let buffer { extractor.spareBuffers.append((buffer, capacity)) }
        buffer = nil
        capacity = 0
    }

    /// Moves to the next record; false at the end (or on damage, reported).
    @inline(__always)
    func advance() -> Bool {
        at &+= 1
        if at < count {
            timestamp = records[at].timestamp
            return true
        }
        return refill()
    }

    func refill() -> Bool {
        if !opened {
            opened = true
            switch Descriptor.open(file.path, O_RDONLY | O_CLOEXEC) {
            case .success(let d): descriptor = d
            case .failure(let e):
                extractor.report.damaged.append("\(file.path): cannot open: \(e)")
                return false
            }
            extractor.report.filesRead += 1
            if file.runs == nil {
                _ = posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL)
                let throttle = extractor.throttle
                let window = 4 << 20
                do {
                    reader = ReaderBox(
                        try CaptureFileReader(
                            descriptor: fd, name: file.path, windowBytes: window, onRead: { throttle?.take($0) }
                        ) {})
                } catch {
                    extractor.damaged(file, error, scanning: true)
                    return false
                }
                extractor.report.bytesRead += file.size
            } else if !loadRun() {
                return false
            }
        }
        guard let box = reader else { return false }
        let scanning = file.runs == nil
        while true {
            do {
                if scanning {
                    // One at a time: a record is valid only until the
                    // window after next.
                    guard let r = try box.reader.next() else { return false }
                    records[0] = r
                    interfaces[0] = Int32(truncatingIfNeeded: box.reader.lastRecordInterfaceID)
                    count = 1
                } else {
                    count = try box.reader.next(into: records, capacity: Self.batch)
                    if count > 0 { blockInterfaces() }
                }
            } catch {
                count = 0
                extractor.damaged(file, error, scanning: scanning)
                return false
            }
            if count > 0 {
                at = 0
                timestamp = records[0].timestamp
                return true
            }
            guard !scanning, let runs = file.runs, run < runs.count, loadRun(), let next = reader else { return false }
            return refillFrom(next)
        }
    }

    /// After a new run: its first batch.
    func refillFrom(_ box: ReaderBox) -> Bool {
        do {
            count = try box.reader.next(into: records, capacity: Self.batch)
        } catch {
            count = 0
            extractor.damaged(file, error, scanning: false)
            return false
        }
        guard count > 0 else { return refill() }
        blockInterfaces()
        at = 0
        timestamp = records[0].timestamp
        return true
    }

    /// The interface of each record of a batch, from its block in the
    /// run's buffer (an Enhanced Packet Block's 32-bit interface, an
    /// obsolete Packet Block's 16-bit one; 0 in pcap files).
    func blockInterfaces() {
        let pcapng =
            file.index.map { $0.prefix.count >= 4 && $0.prefix.prefix(4) == [0x0A, 0x0D, 0x0D, 0x0A] } ?? false
        guard let buffer, pcapng else {
            for i in 0..<count { interfaces[i] = 0 }
            return
        }
        for i in 0..<count {
            let block = buffer + records[i].offset
            var type = block.loadUnaligned(as: UInt32.self)
            var id = block.loadUnaligned(fromByteOffset: 8, as: UInt32.self)
            if type != 6 && type != 2 && type != 3 {
                type = type.byteSwapped
                id = id.byteSwapped
            }
            interfaces[i] = type == 6 ? Int32(truncatingIfNeeded: id) : (type == 2 ? Int32(id & 0xFFFF) : 0)
        }
    }

    /// Reads the next run after the prefix; false when it cannot. The run
    /// after it is asked of the kernel now (POSIX_FADV_WILLNEED), so that
    /// the disk reads it while this one is parsed.
    func loadRun() -> Bool {
        guard let runs = file.runs, let index = file.index, run < runs.count else { return false }
        let r = runs[run]
        run += 1
        if run < runs.count {
            _ = posix_fadvise(fd, off_t(runs[run].offset), off_t(runs[run].length), POSIX_FADV_WILLNEED)
        }
        let prefix = index.prefix.count
        let need = prefix + r.length
        if need > capacity {
            buffer?.deallocate()
            buffer = nil
            if let i = extractor.spareBuffers.firstIndex(where: { $0.capacity >= need }) {
                (buffer, capacity) = extractor.spareBuffers.remove(at: i)
            } else {
                buffer = .allocate(byteCount: Swift.max(need, Extractor.runBytes), alignment: 16)
                capacity = Swift.max(need, Extractor.runBytes)
            }
        }
        guard let buffer else { return false }
        index.prefix.withUnsafeBytes { buffer.copyMemory(from: $0.baseAddress!, byteCount: prefix) }
        var done = 0
        while done < r.length {
            let read = Syscall.valueOrErrno {
                pread(fd, buffer + prefix + done, r.length - done, off_t(r.offset + done))
            }
            guard case .success(let n) = read, n > 0 else {
                let why: String
                switch read {
                case .failure(let e): why = "\(e)"
                case .success: why = "the file is shorter than its index says"
                }
                extractor.report.damaged.append("\(file.path): cannot read \(r.length) bytes at \(r.offset): \(why)")
                return false
            }
            done += n
        }
        extractor.throttle?.take(r.length)
        extractor.report.bytesRead += r.length
        reader = nil
        do {
            reader = ReaderBox(
                try CaptureFileReader(buffer: UnsafeRawBufferPointer(start: buffer, count: need), name: file.path))
        } catch {
            extractor.damaged(file, error, scanning: false)
            return false
        }
        return true
    }

    func outputInterface(_ output: ExtractOutput) throws(IndexProblem) -> UInt32 {
        let key = Int(interfaces[at])
        if key >= 0, key < outputIDs.count, let id = outputIDs[key] { return id }
        guard let box = reader else { throw IndexProblem("\(file.path): no reader") }
        guard let i = box.reader.interface(key) else {
            throw IndexProblem("\(file.path): a frame on interface \(key), which has no block")
        }
        let id = try output.interfaceID(
            ExtractOutput.Interface(linkType: i.linkType.rawValue, snapLength: i.snapLength, name: i.name))
        while outputIDs.count <= key { outputIDs.append(nil) }
        outputIDs[key] = id
        return id
    }
}

/// A reader a class can hold and advance in place.
final class ReaderBox {
    var reader: CaptureFileReader
    init(_ reader: consuming CaptureFileReader) { self.reader = reader }
}

/// A binary min-heap of (timestamp, cursor number), ties by number.
struct TimeHeap {
    var items: [(time: Int64, cursor: Int)] = []
    var isEmpty: Bool { items.isEmpty }
    var count: Int { items.count }
    var minimum: Int64 { items[0].time }
    var top: Int { items[0].cursor }
    /// The smallest time after the top's (the top's two children).
    var secondMinimum: Int64 {
        items.count > 2 ? Swift.min(items[1].time, items[2].time) : items[1].time
    }

    @inline(__always)
    static func less(_ a: (time: Int64, cursor: Int), _ b: (time: Int64, cursor: Int)) -> Bool {
        a.time < b.time || (a.time == b.time && a.cursor < b.cursor)
    }

    mutating func push(_ time: Int64, _ cursor: Int) {
        items.append((time, cursor))
        var i = items.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard Self.less(items[i], items[parent]) else { break }
            items.swapAt(i, parent)
            i = parent
        }
    }

    /// The top's time changed (its cursor moved on): sift it down.
    mutating func replaceTop(_ time: Int64) {
        items[0].time = time
        siftDown()
    }

    mutating func removeTop() {
        let last = items.removeLast()
        guard !items.isEmpty else { return }
        items[0] = last
        siftDown()
    }

    mutating func siftDown() {
        var i = 0
        let n = items.count
        while true {
            let l = 2 * i + 1
            let r = l + 1
            var m = i
            if l < n && Self.less(items[l], items[m]) { m = l }
            if r < n && Self.less(items[r], items[m]) { m = r }
            guard m != i else { break }
            items.swapAt(i, m)
            i = m
        }
    }
}

/// A bound on the bytes read per second: `take` sleeps when ahead.
final class Throttle: @unchecked Sendable {
    let rate: Int
    let started = lab_clock()
    var taken = 0

    init(bytesPerSecond: Int) { rate = Swift.max(1, bytesPerSecond) }

    func take(_ bytes: Int) {
        taken += bytes
        let due = Int64(Double(taken) / Double(rate) * 1e9)
        let now = lab_clock() - started
        if due > now { Syscall.sleep(nanoseconds: due - now) }
    }
}

/// CLOCK_MONOTONIC in ns.
func lab_clock() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
}
