import CRoomsSupport
import Extraction
import Sinks
import Synchronization
import Syscalls

#if canImport(Glibc)
import Glibc
#endif

/// What a recording did, for reports, `stats` and Prometheus.
public struct RecorderCounters: Sendable, Equatable {
    /// Files finished (closed with their statistics), and their bytes.
    public var filesWritten = 0
    public var bytesWritten = 0
    /// Files removed to keep the ring (`-W`), and below `min_free`.
    public var unlinkedRing = 0
    public var unlinkedFreeSpace = 0
    /// Times writing stopped at the free-space floor.
    public var diskFullStops = 0
    /// Truncations after short writes.
    public var truncations = 0
    /// Finished files indexed, the index bytes, and files left without one.
    public var filesIndexed = 0
    public var indexBytes = 0
    public var indexFailures = 0
    /// The file each worker writes now.
    public var currentFiles: [String] = []
    /// Every file this run made that is still on disk, per worker, oldest first.
    public var files: [[String]] = []
    /// The last error, if any (a write, a file that could not be opened).
    public var lastError: String? = nil
}

/// The recorder's control thread (`ctl-record`): it opens every worker's
/// next file ahead of need (a hidden `.part` name, the Section Header
/// written), names it when the worker takes it, finishes the files the
/// workers are done with (Interface Statistics Blocks, close), keeps the
/// ring (`-W`) and the free-space floor (`min_free`, by statvfs), and cuts a
/// file back to its last whole block after a short write. Workers only swap
/// descriptors and post events; nothing here makes a worker wait.
public final class Recorder: @unchecked Sendable {
    public let options: RecordingOptions
    public let slots: [RecordingSlot]
    let headers: InterfaceHeaders
    private let stopFlag = Atomic<Bool>(false)
    private let state: Mutex<RecorderCounters>
    private let bell = RecorderBell()
    private var thread: PinnedThread? = nil
    /// The finished files waiting for their index, and the thread
    /// (`ctl-index`) that writes them: apart from the control thread, whose
    /// file preparation a fast replay's rotations must never wait on.
    private let indexQueue = PathQueue()
    private let indexBell = Doorbell()
    /// Files indexed, their index bytes, files left without one: atomics,
    /// written by `ctl-index` alone.
    private let indexedFiles = Atomic<Int>(0)
    private let indexedBytes = Atomic<Int>(0)
    private let indexFailures = Atomic<Int>(0)
    private let indexStop = Atomic<Bool>(false)
    private var indexThread: PinnedThread? = nil
    private var workers: [WorkerShared] = []
    private var files: [WorkerFiles]
    private let started = lab_realtime_ns()
    private var lastStatvfs: UInt64 = 0
    private var stopped = false
    private var preparedCount = 0
    /// Called (on the control thread) with each line worth logging.
    public var log: @Sendable (String) -> Void = { _ in }
    /// Where its problems go (a path it cannot name, a write error, a file
    /// cut back after a short write); ``log`` takes the rest.
    public var warn: @Sendable (String) -> Void = { _ in }

    /// One worker's files, on the control thread only.
    struct WorkerFiles {
        var sequence: UInt64 = 0
        /// The prepared files, oldest first: descriptor and hidden name.
        var prepared: [(fd: Int32, path: String)] = []
        /// The file being written, by descriptor, with its name.
        var current: (fd: Int32, path: String)? = nil
        /// Files of this run finished and kept (ring only), oldest first.
        var closed: [(path: String, bytes: Int)] = []
        /// Files retired but not yet named (the worker retired a file it
        /// never announced: cannot happen, kept for safety).
        var pathsByFD: [Int32: String] = [:]
        var failures = 0
    }

    /// Prepares the first file of every worker: a path that cannot be
    /// opened is an error here, before anything runs.
    public init(options: RecordingOptions) throws(RecordingError) {
        self.options = options
        headers = try InterfaceHeaders(format: options.format, options: options)
        let workers = options.naming.workers
        let bell = self.bell
        slots = (0..<workers).map { RecordingSlot(worker: $0, bell: bell) }
        files = Array(repeating: WorkerFiles(), count: workers)
        state = Mutex(
            RecorderCounters(
                currentFiles: Array(repeating: "", count: workers), files: Array(repeating: [], count: workers)))
        for w in 0..<workers {
            repeat {
                if let problem = prepare(worker: w) { throw problem }
            } while files[w].prepared.count < ahead(w)
        }
    }

    deinit {
        for w in files.indices {
            for p in files[w].prepared {
                closeFile(p.fd)
                unlink(p.path)
            }
        }
    }

    /// The workers whose counters go into the statistics blocks.
    public func attach(_ workers: [WorkerShared]) {
        self.workers = workers
    }

    /// Starts the control thread on `cpus` (nil: where the caller runs).
    public func start(cpus: [Int]?) throws(ThreadStartError) {
        thread = try PinnedThread(name: "ctl-record", cpus: cpus) { [self] in run() }
        if options.index && !options.naming.isStandardOutput {
            indexThread = try PinnedThread(name: "ctl-index", cpus: cpus) { [self] in indexLoop() }
        }
    }

    /// After the workers have stopped (each retired its last file): handles
    /// their last events, finishes every file, and stops the thread.
    public func finish() { end(keepEmpty: true) }

    /// The run never got going (a later stage failed): stops the thread if
    /// it runs and finishes what was recorded, if anything was (live
    /// sources may have delivered frames before the failure: they are kept),
    /// but leaves no file that no frame reached, neither a `.part` nor an
    /// empty one.
    public func abandon() { end(keepEmpty: false) }

    private func end(keepEmpty: Bool) {
        stopFlag.store(true, ordering: .releasing)
        bell.bell.ring()
        if let t = thread.take() { t.join() }
        guard !stopped else { return }
        stopped = true
        handleEvents()
        for w in files.indices {
            let never = files[w].current == nil && files[w].closed.isEmpty && files[w].sequence == 0
            for (i, p) in files[w].prepared.enumerated() {
                if i == 0 && never && keepEmpty {
                    // No frame ever came: the file still appears, empty, as
                    // tcpdump's does.
                    name(worker: w, fd: p.fd, temporary: p.path, reason: .start, time: started)
                    finishFile(worker: w, fd: p.fd, length: Int64(fileLength(p.fd)), interfaces: InterfaceKeys())
                } else {
                    closeFile(p.fd)
                    if p.path != "-" { unlink(p.path) }
                }
            }
            files[w].prepared = []
        }
        // The last files' indexes are written before the recording is over.
        indexStop.store(true, ordering: .releasing)
        indexBell.ring()
        if let t = indexThread.take() { t.join() }
        while let path = indexQueue.pop() { index(path) }
    }

    /// `ctl-index`: indexes the finished files in turn; at the stop, the
    /// queue is emptied first.
    func indexLoop() {
        while true {
            if let path = indexQueue.pop() {
                index(path)
                continue
            }
            if indexStop.load(ordering: .acquiring) { return }
            indexBell.wait(timeoutNanoseconds: 100_000_000) {
                indexStop.load(ordering: .relaxed) || !indexQueue.isEmpty
            }
        }
    }

    var rotates: Bool { options.naming.rotation.rotates }

    /// Asks every worker to move to a new file.
    public func rotate() {
        for s in slots { s.requestRotation() }
        // The control thread prepares the next files at once.
        bell.bell.ring()
    }

    public var counters: RecorderCounters {
        var c = state.withLock { $0 }
        c.filesIndexed = indexedFiles.load(ordering: .relaxed)
        c.indexBytes = indexedBytes.load(ordering: .relaxed)
        c.indexFailures = indexFailures.load(ordering: .relaxed)
        return c
    }

    // MARK: The loop

    func run() {
        while !stopFlag.load(ordering: .acquiring) {
            handleEvents()
            for w in files.indices {
                while files[w].prepared.count < ahead(w) {
                    if let problem = prepare(worker: w) {
                        note(problem.description)
                        break
                    }
                }
            }
            let now = lab_monotonic_ns()
            if options.naming.rotation.minimumFreeBytes != nil && now &- lastStatvfs >= 250_000_000 {
                lastStatvfs = now
                checkFreeSpace()
            }
            bell.bell.wait(timeoutNanoseconds: 20_000_000) {
                stopFlag.load(ordering: .relaxed) || slots.contains { $0.events.count > 0 }
            }
        }
    }

    /// How many files worker `w` should have ready: one to start with;
    /// a few when files rotate (by size, time or a `rotate`), so that fast
    /// rotations never wait; none for standard output once started.
    /// Files ready ahead of a rotating worker. A replay runs through a
    /// capture's intervals far faster than they lasted: a worker that finds
    /// none ready stays in its file and counts `written_late`. The
    /// prepared-file ring holds 8.
    static let ahead = 8

    func ahead(_ w: Int) -> Int {
        if options.naming.isStandardOutput { return files[w].current == nil && files[w].sequence == 0 ? 1 : 0 }
        if options.naming.rotation.rotates || slots[w].rotations.load(ordering: .relaxed) > 0 { return Self.ahead }
        return files[w].current == nil && files[w].sequence == 0 ? 1 : 0
    }

    func handleEvents() {
        for (w, slot) in slots.enumerated() {
            while let e = slot.events.pop() {
                switch e.kind {
                case .activated:
                    guard let p = files[w].prepared.first, p.fd == e.fd else {
                        note("worker \(w): took a file the recorder did not prepare (fd \(e.fd))")
                        continue
                    }
                    files[w].prepared.removeFirst()
                    name(worker: w, fd: e.fd, temporary: p.path, reason: e.reason, time: e.time)
                case .retired:
                    finishFile(worker: w, fd: e.fd, length: e.offset, interfaces: e.interfaces)
                case .truncate:
                    if !options.naming.isStandardOutput,
                        case .failure(let error) = Syscall.nothingOrErrno({ ftruncate(e.fd, off_t(e.offset)) })
                    {
                        note("\(path(w, e.fd)): cannot cut back to \(e.offset) bytes: \(error)")
                    } else {
                        note(
                            "\(path(w, e.fd)): a write came up short (the disk is full, or failed): cut back to its last whole block, \(e.offset) bytes"
                        )
                    }
                    state.withLock { $0.truncations += 1 }
                    slot.truncationsDone.store(e.generation, ordering: .releasing)
                case .writeError:
                    note("\(path(w, e.fd)): write: \(Errno(rawValue: e.errno))")
                }
            }
        }
    }

    func path(_ w: Int, _ fd: Int32) -> String {
        files[w].pathsByFD[fd] ?? "worker \(w)'s file"
    }

    func note(_ message: String) {
        state.withLock { $0.lastError = message }
        warn(message)
    }

    // MARK: Files

    /// Opens worker `w`'s next file under a hidden name beside where it
    /// will be named, writes its Section Header (or a pcap file header when
    /// the link type is known), and offers it. Returns the problem, if any.
    func prepare(worker w: Int) -> RecordingError? {
        let naming = options.naming
        if naming.isStandardOutput {
            guard files[w].current == nil else { return nil }
            let length = writeHeaders(fd: 1, sequential: true)
            guard length >= 0 else { return RecordingError("standard output", errno: .current) }
            files[w].prepared.append((1, "-"))
            files[w].pathsByFD[1] = "-"
            _ = slots[w].offer(PreparedFile(fd: 1, length: length))
            return nil
        }
        let guess: String
        do {
            guess = try naming.path(
                worker: w, sequence: files[w].sequence + UInt64(files[w].prepared.count),
                timeSeconds: lab_realtime_ns() / 1_000_000_000)
        } catch {
            return RecordingError("\(naming.template): \(error)")
        }
        let slash = guess.lastIndex(of: "/")
        let directory = slash.map { String(guess[..<$0]) } ?? "."
        let base = slash.map { String(guess[guess.index(after: $0)...]) } ?? guess
        preparedCount &+= 1
        let temporary = "\(directory)/.\(base).\(getpid()).\(preparedCount).part"
        let file: Descriptor
        switch Descriptor.open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode: options.fileMode) {
        case .success(let opened): file = opened
        case .failure(let e):
            files[w].failures += 1
            return RecordingError("\(guess): cannot create \(temporary)", errno: e)
        }
        let fd = file.rawValue
        // The mode and the group are what lets the operators' group read
        // the recording: a file they cannot read is an error (at start it
        // stops the run; later the recorder's note is logged), not a file
        // written for nobody.
        if fchmod(fd, options.fileMode) != 0 {
            let e = Errno.current
            unlink(temporary)
            files[w].failures += 1
            return RecordingError("\(guess): cannot give it mode \(String(options.fileMode, radix: 8))", errno: e)
        }
        if let group = options.group, fchown(fd, uid_t.max, group) != 0 {
            let e = Errno.current
            unlink(temporary)
            files[w].failures += 1
            return RecordingError("\(guess): cannot give it group \(group)", errno: e)
        }
        let length = writeHeaders(fd: fd, sequential: false)
        guard length >= 0 else {
            let e = Errno.current
            unlink(temporary)
            return RecordingError("\(guess): cannot write its header", errno: e)
        }
        guard slots[w].offer(PreparedFile(fd: fd, length: length)) else {
            unlink(temporary)
            return nil
        }
        // The writer's now, until the file comes back to closeFile.
        _ = file.release()
        files[w].prepared.append((fd, temporary))
        return nil
    }

    /// The headers the control thread writes: the Section Header (pcapng),
    /// or a live capture's pcap file header. Returns the bytes, or -1.
    func writeHeaders(fd: Int32, sequential: Bool) -> Int {
        var buffer = [UInt8](repeating: 0, count: 512)
        var length = 0
        switch options.format {
        case .pcapng:
            var uts = utsname()
            uname(&uts)
            let release = withUnsafeBytes(of: &uts.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            let os = "Linux \(release)"
            do {
                length = try buffer.withUnsafeMutableBytes { (b) throws(PcapEncodingError) in
                    try PcapngEncoder.sectionHeader(into: b, version: options.version, os: os)
                }
            } catch {
                errno = EINVAL
                return -1
            }
        case .pcap:
            // Live: the one link type is known; a replay's comes with its first frame.
            guard options.interfaces.count == 1, headers.lengths[0] > 0 else { return 0 }
            length = headers.lengths[0]
            buffer.withUnsafeMutableBytes { $0.baseAddress!.copyMemory(from: headers.bytes, byteCount: length) }
        }
        let n = buffer.withUnsafeBytes { b in
            sequential ? write(fd, b.baseAddress, length) : pwrite(fd, b.baseAddress, length, 0)
        }
        return n == length ? length : -1
    }

    /// Names the file a worker took: with `-G`, by the start of the interval
    /// holding `time` (at the start or a time rotation), else by the second.
    func name(worker w: Int, fd: Int32, temporary: String, reason: RotationReason, time: Int64) {
        let naming = options.naming
        if naming.isStandardOutput {
            files[w].current = (fd, "-")
            files[w].sequence += 1
            state.withLock {
                $0.currentFiles[w] = "-"
                $0.files[w] = ["-"]
            }
            return
        }
        var seconds = time / 1_000_000_000
        if time < 0 && time % 1_000_000_000 != 0 { seconds -= 1 }
        if let n = naming.rotation.intervalSeconds, reason == .start || reason == .time {
            seconds = (seconds >= 0 ? seconds / n : (seconds - n + 1) / n) * n
        }
        let sequence = files[w].sequence
        files[w].sequence += 1
        var final = temporary
        do {
            final = try naming.path(worker: w, sequence: sequence, timeSeconds: seconds)
            let renamed =
                options.replaceExisting
                ? (rename(temporary, final) == 0 ? .success(final) : .failure(Errno.current))
                : Self.renameWithoutReplacing(temporary, final)
            switch renamed {
            case .success(let named):
                if named != final {
                    log(
                        "worker \(w): \(final) exists (an earlier run, or a rotation within its name's second); writing \(named)"
                    )
                }
                final = named
            case .failure(let e):
                note("\(final): cannot name the file (kept as \(temporary)): \(e)")
                final = temporary
            }
        } catch {
            note("\(naming.template): \(error) (the file keeps the name \(temporary))")
        }
        files[w].current = (fd, final)
        files[w].pathsByFD[fd] = final
        state.withLock {
            $0.currentFiles[w] = final
            $0.files[w].append(final)
        }
        log("worker \(w): writing \(final)\(reason == .start ? "" : " (rotated by \(reason))")")
    }

    /// Renames `temporary` to `path`, or, when a file of that name exists
    /// (a restarted daemon, a forced rotation within the second of a name's
    /// time fields), to `path` with `-1`, `-2`… before its extension: a
    /// recording never replaces a file. Returns the name given.
    static func renameWithoutReplacing(_ temporary: String, _ path: String) -> Result<String, Errno> {
        let slash =
            path.utf8.lastIndex(of: UInt8(ascii: "/")).map { path.utf8.index(after: $0) } ?? path.utf8.startIndex
        let dot = path.utf8[slash...].firstIndex(of: UInt8(ascii: ".")).flatMap { $0 == slash ? nil : $0 }
        let stem = String(path[..<(dot ?? path.endIndex)])
        let suffix = String(path[(dot ?? path.endIndex)...])
        for n in 0...999 {
            let candidate = n == 0 ? path : "\(stem)-\(n)\(suffix)"
            switch lab_rename_noreplace(temporary, candidate) {
            case 0: return .success(candidate)
            case -EEXIST: continue
            case -EINVAL:
                // The file system has no RENAME_NOREPLACE (FUSE without
                // rename2): check, then rename.
                if access(candidate, F_OK) == 0 { continue }
                return rename(temporary, candidate) == 0 ? .success(candidate) : .failure(Errno.current)
            case let e: return .failure(Errno(rawValue: -e))
            }
        }
        return .failure(Errno(rawValue: EEXIST))
    }

    /// A worker is done with `fd`, `length` bytes long: the statistics
    /// blocks go at its end, it is closed, and the ring keeps the newest.
    func finishFile(worker w: Int, fd: Int32, length: Int64, interfaces: InterfaceKeys) {
        var total = Int(length)
        var interfaces = interfaces
        // A file no frame reached still describes an interface (libpcap
        // refuses a section without one): the first source, or Ethernet in
        // a replay; a pcap file still gets its header.
        let fallback = options.interfaces.isEmpty ? headers.replayKeys[RecordingOptions.replayKey(1)] : 0
        if interfaces.count == 0 && !options.naming.isStandardOutput {
            let header = UnsafeRawBufferPointer(
                start: headers.bytes + headers.offsets[fallback], count: headers.lengths[fallback])
            if options.format == .pcapng || length == 0 {
                if pwrite(fd, header.baseAddress, header.count, off_t(length)) == header.count {
                    total += header.count
                    interfaces.append(fallback)
                }
            }
        }
        if options.format == .pcapng {
            total += writeStatistics(worker: w, fd: fd, at: Int64(total), interfaces: interfaces)
        }
        let path = files[w].pathsByFD[fd] ?? "?"
        files[w].pathsByFD[fd] = nil
        if files[w].current?.fd == fd { files[w].current = nil }
        closeFile(fd)
        state.withLock {
            $0.filesWritten += 1
            $0.bytesWritten += total
            if $0.currentFiles[w] == path { $0.currentFiles[w] = "" }
        }
        if options.index && !options.naming.isStandardOutput && path != "?" {
            indexQueue.push(path)
            indexBell.ring()
        }
        guard let ring = options.naming.rotation.ringSize, !options.naming.isStandardOutput else { return }
        files[w].closed.append((path, total))
        // The current file counts as one of the ring's.
        let keep = ring - (files[w].current == nil ? 0 : 1)
        while files[w].closed.count > Swift.max(0, keep) {
            let old = files[w].closed.removeFirst()
            remove(old.path, worker: w, reason: "ring")
        }
    }

    /// Reads the finished file back (on this thread, never a worker's) and
    /// writes its index beside it; a file left without one is still read
    /// by `extract`, which scans it.
    func index(_ path: String) {
        // A file the ring (or min_free) removed meanwhile needs none.
        guard access(path, F_OK) == 0 else { return }
        do {
            let bytes = try IndexBuilder.write(path: path).bytes
            if access(path, F_OK) != 0 { unlink(RecordingIndex.sidecarPath(for: path)) }
            indexedFiles.wrappingAdd(1, ordering: .relaxed)
            indexedBytes.wrappingAdd(bytes, ordering: .relaxed)
        } catch {
            indexFailures.wrappingAdd(1, ordering: .relaxed)
            warn("\(path): not indexed (extract will scan it): \(error)")
        }
    }

    func remove(_ path: String, worker w: Int, reason: String) {
        unlink(RecordingIndex.sidecarPath(for: path))
        if unlink(path) == 0 {
            state.withLock {
                if reason == "ring" { $0.unlinkedRing += 1 } else { $0.unlinkedFreeSpace += 1 }
                $0.files[w].removeAll { $0 == path }
            }
        } else {
            note("\(path): cannot remove (\(reason)): \(Errno.current)")
        }
    }

    /// Interface Statistics Blocks at `offset`, one per interface in the
    /// file, with the worker's counts since the start (as dumpcap's are):
    /// received, the kernel's drops, ours (nomem and unwritten), delivered
    /// (written). With one interface they are that interface's; with
    /// several, each block carries the times alone. Returns the bytes.
    func writeStatistics(worker w: Int, fd: Int32, at offset: Int64, interfaces: InterfaceKeys) -> Int {
        let count = Swift.max(1, Int(interfaces.count))
        let now = lab_realtime_ns()
        var stats = PcapngInterfaceStatistics(startNanoseconds: started, endNanoseconds: now)
        if count == 1, w < workers.count {
            let s = workers[w]
            let nomem = s.counter(.droppedNoMemory)
            stats.received = UInt64(clamping: s.counter(.processed) + nomem)
            stats.interfaceDropped = UInt64(clamping: s.counter(.kernelDrops))
            let ours =
                nomem + s.counter(.unwrittenOverload) + s.counter(.unwrittenDiskFull) + s.counter(.unwrittenError)
                + s.counter(.unwrittenOversized) + s.counter(.unwrittenLinkType)
            stats.osDropped = UInt64(clamping: ours)
            stats.delivered = UInt64(clamping: s.counter(.written))
        }
        var buffer = [UInt8](repeating: 0, count: PcapngEncoder.interfaceStatisticsMaximumSize * count)
        var length = 0
        for i in 0..<count {
            let encoded = buffer.withUnsafeMutableBytes { b -> Result<Int, PcapEncodingError> in
                let slice = UnsafeMutableRawBufferPointer(rebasing: b[length...])
                return Result { () throws(PcapEncodingError) in
                    try PcapngEncoder.interfaceStatistics(
                        into: slice, interface: UInt32(i), timestampNanoseconds: now, stats)
                }
            }
            switch encoded {
            case .success(let n): length += n
            case .failure(let error):
                // Said, and left out: never a block of length 0.
                note("\(path(w, fd)): interface \(i)'s statistics block left out: \(error)")
            }
        }
        let written = buffer.withUnsafeBytes { b in
            options.naming.isStandardOutput
                ? write(fd, b.baseAddress, length) : pwrite(fd, b.baseAddress, length, off_t(offset))
        }
        if written != length {
            note("\(path(w, fd)): cannot write its statistics: \(Errno.current)")
            if !options.naming.isStandardOutput { _ = Syscall.nothingOrErrno { ftruncate(fd, off_t(offset)) } }
            return 0
        }
        return length
    }

    /// A file the writer has given back (finished, or never used): its
    /// owner again, which closes it. Standard output stays open.
    func closeFile(_ fd: Int32) {
        if fd > 2 { Descriptor(adopting: fd).close() }
    }

    func fileLength(_ fd: Int32) -> Int {
        var st = stat()
        return fstat(fd, &st) == 0 ? Int(st.st_size) : 0
    }

    // MARK: Free space

    /// Below `min_free`: the oldest closed files of this run go (with a
    /// ring), or writing stops until space comes back.
    func checkFreeSpace() {
        guard let floor = options.naming.rotation.minimumFreeBytes else { return }
        var anyBelow = false
        for w in files.indices {
            guard let current = files[w].current else { continue }
            var fs = statvfs()
            guard fstatvfs(current.fd, &fs) == 0 else { continue }
            var free = Int(fs.f_bavail) &* Int(fs.f_frsize)
            if free < floor && options.naming.rotation.ringSize != nil {
                while free < floor, !files[w].closed.isEmpty {
                    let old = files[w].closed.removeFirst()
                    remove(old.path, worker: w, reason: "min_free")
                    free += old.bytes
                }
            }
            if free < floor { anyBelow = true }
        }
        for slot in slots {
            let was = slot.writing.load(ordering: .relaxed)
            if was == anyBelow {
                slot.writing.store(!anyBelow, ordering: .relaxed)
                if anyBelow {
                    state.withLock { $0.diskFullStops += 1 }
                    note("below min_free (\(floor) bytes free): writing stops until space comes back")
                } else {
                    log("free space is back above min_free: writing resumes")
                }
            }
        }
    }
}

/// The finished files waiting for their index, between the control thread
/// and `ctl-index`, under a pthread mutex: the thread sanitizer sees it
/// (a `Mutex`'s futex lives in a library it did not instrument, and it
/// reported the queue's array as raced).
final class PathQueue: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private var paths: [String] = []

    init() { pthread_mutex_init(mutex, nil) }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    func push(_ path: String) {
        pthread_mutex_lock(mutex)
        paths.append(path)
        pthread_mutex_unlock(mutex)
    }

    func pop() -> String? {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return paths.isEmpty ? nil : paths.removeFirst()
    }

    var isEmpty: Bool {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return paths.isEmpty
    }
}
