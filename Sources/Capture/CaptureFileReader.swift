import Packet
import Syscalls

#if canImport(Glibc)
import Glibc
#endif

/// Reads pcap (both byte orders, µs and ns, and the "modified" record
/// format) and pcapng (several sections and interfaces, each with its own
/// link type, snap length and timestamp resolution) from a read-only memory
/// mapping, without copying a packet.
///
/// It accepts and rejects what libpcap's reader does, so that packet and byte
/// counts agree with libpcap's on damaged files too, with two exceptions
/// where libpcap gives up on valid files: pcapng interfaces with differing
/// link types or snap lengths are read, each with its own.
///
/// The reader owns the mapping: records point into it and are valid until
/// the reader goes away.
///
/// A file the daemon did not open itself (a descriptor a client passed) is
/// never mapped: a client that truncated it would kill the daemon with
/// SIGBUS. It is read with `pread` into two windows in turn (``init(descriptor:name:windowBytes:onRead:onSlide:)``),
/// and records point into the current window until the reader moves on.
public struct CaptureFileReader: ~Copyable {
    public let path: String
    public let format: CaptureFormat
    /// The bytes the reader sees at once: the whole file when mapped, the
    /// current window when read in windows.
    @usableFromInline var byteCount: Int
    /// The current bytes: the mapping, or a window.
    @usableFromInline var base: UnsafeRawPointer
    /// The file offset of `base[0]` (0 when mapped).
    @usableFromInline var windowOffset = 0
    /// Windows and their descriptor, when read with pread.
    @usableFromInline let stream: StreamWindows?
    /// Where the next record or block starts.
    @usableFromInline var position: Int
    /// Packet records returned so far.
    @usableFromInline var count: Int
    /// Set once an error was thrown: the reader then reports the end.
    @usableFromInline var finished: Bool
    /// Whether `deinit` unmaps `base` (false for a caller's buffer).
    let ownsMapping: Bool
    /// An error met after records a batch already returned.
    @usableFromInline var deferredError: CaptureFileError? = nil

    // pcap
    @usableFromInline let swapped: Bool
    @usableFromInline let nanosecond: Bool
    @usableFromInline let recordHeaderSize: Int
    @usableFromInline let lengths: LengthOrder
    @usableFromInline let linkType: LinkType
    @usableFromInline let snapshot: Int
    @usableFromInline let maximumCaptureLength: Int

    // pcapng
    @usableFromInline var interfaces: [PcapngReaderInterface]
    /// Per interface of the current section: its `if_name`, and where its
    /// block starts in the file (apart from `interfaces`, which the packet
    /// path reads, so that reading a packet retains no string).
    public internal(set) var interfaceNames: [String] = []
    public internal(set) var interfaceBlockOffsets: [Int] = []
    /// Section Header Blocks read (pcapng; the first included).
    public internal(set) var sections = 0
    /// The interface (of the current section) of the last record returned:
    /// 0 in a pcap file.
    @usableFromInline var lastInterface = 0
    @usableFromInline var blockLimit: Int

    @usableFromInline
    enum LengthOrder: Sendable { case normal, swapped, maybeSwapped }

    /// Opens and maps `path` and reads the file header.
    public init(path: String) throws(CaptureFileError) {
        let file: Descriptor
        switch Descriptor.open(path, O_RDONLY | O_CLOEXEC) {
        case .success(let opened): file = opened
        case .failure(let e): throw CaptureFileError(file: path, message: "cannot open: \(e)")
        }
        let fd = file.rawValue
        var st = stat()
        if case .failure(let e) = Syscall.nothingOrErrno({ fstat(fd, &st) }) {
            throw CaptureFileError(file: path, message: "cannot stat: \(e)")
        }
        if st.st_mode & S_IFMT == S_IFDIR {
            throw CaptureFileError(file: path, message: "is a directory, not a capture file")
        }
        if st.st_mode & S_IFMT != S_IFREG {
            throw CaptureFileError(file: path, message: "is not a regular file (pipes and devices are not supported)")
        }
        let size = Int(st.st_size)
        if size == 0 {
            throw CaptureFileError(file: path, offset: 0, message: "empty file (0 bytes): not a capture")
        }
        guard let mapped = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), mapped != MAP_FAILED else {
            throw CaptureFileError(file: path, message: "cannot map \(size) bytes: \(Errno.current)")
        }
        _ = madvise(mapped, size, MADV_SEQUENTIAL)
        _ = madvise(mapped, size, MADV_WILLNEED)
        do {
            try self.init(base: UnsafeRawPointer(mapped), byteCount: size, name: path, ownsMapping: true, stream: nil)
        } catch {
            munmap(mapped, size)
            throw error
        }
    }

    /// Reads a capture held in memory (for fuzzing and tests). The buffer
    /// must outlive the reader and every record it returns.
    public init(buffer: UnsafeRawBufferPointer, name: String) throws(CaptureFileError) {
        guard let base = buffer.baseAddress, buffer.count > 0 else {
            throw CaptureFileError(file: name, offset: 0, message: "empty file (0 bytes): not a capture")
        }
        try self.init(base: base, byteCount: buffer.count, name: name, ownsMapping: false, stream: nil)
    }

    /// Reads the regular file open on `descriptor` (which the reader does
    /// not close) from its start with `pread`, a window at a time; `name`
    /// names it in errors. `onRead` is told of every byte read, before the
    /// read (a bound on the rate). Before a window is filled again, `onSlide` runs:
    /// it must not return while anybody still uses a record from the window
    /// before the current one. A file that shrinks while it is read ends in
    /// a "cut off" error at the offset where it ended.
    /// The corresponding C function is `pread`.
    public init(
        descriptor: Int32, name: String, windowBytes: Int = StreamWindows.defaultWindowBytes,
        onRead: @escaping (Int) -> Void = { _ in },
        onSlide: @escaping () -> Void
    ) throws(CaptureFileError) {
        let windows = StreamWindows(descriptor: descriptor, windowBytes: windowBytes, onRead: onRead, onSlide: onSlide)
        let (base, filled) = try windows.fillFirst(name: name)
        guard filled > 0 else {
            throw CaptureFileError(file: name, offset: 0, message: "empty file (0 bytes): not a capture")
        }
        try self.init(base: UnsafeRawPointer(base), byteCount: filled, name: name, ownsMapping: false, stream: windows)
    }

    /// Reads the file header of the `byteCount` bytes at `base`; the one
    /// place the reader's state is set up.
    private init(
        base: UnsafeRawPointer, byteCount: Int, name: String, ownsMapping: Bool, stream: StreamWindows?
    ) throws(CaptureFileError) {
        let header = try FileHeader.parse(base: base, size: byteCount, path: name)
        self.stream = stream
        self.path = name
        self.byteCount = byteCount
        self.base = base
        self.format = header.format
        self.position = header.firstRecord
        self.count = 0
        self.finished = false
        self.swapped = header.swapped
        self.nanosecond = header.nanosecond
        self.recordHeaderSize = header.recordHeaderSize
        self.lengths = header.lengths
        self.linkType = header.linkType
        self.snapshot = header.snapshot
        self.maximumCaptureLength = header.maximumCaptureLength
        self.interfaces = []
        self.blockLimit = 16 * 1024 * 1024
        self.ownsMapping = ownsMapping
        if let stream { blockLimit = Swift.min(blockLimit, stream.lookahead) }
    }

    deinit {
        if ownsMapping { munmap(UnsafeMutableRawPointer(mutating: base), byteCount) }
    }

    /// Packet records read so far.
    public var recordsRead: Int { count }

    /// How far into the file the reader is.
    public var bytesConsumed: Int { windowOffset &+ position }

    /// The number (in its section) of the interface the last record came in
    /// on: 0 in a pcap file.
    public var lastRecordInterfaceID: Int { lastInterface }

    /// Interface `id` of the current section: its link type, snap length
    /// and name ("" when none; in a pcap file, id 0 is the file's).
    public func interface(_ id: Int) -> (linkType: LinkType, snapLength: Int, name: String)? {
        switch format {
        case .pcapng:
            guard id >= 0, id < interfaces.count else { return nil }
            return (
                interfaces[id].linkType, interfaces[id].snapshot, id < interfaceNames.count ? interfaceNames[id] : ""
            )
        default:
            return id == 0 ? (linkType, snapshot, "") : nil
        }
    }

    /// Read in windows: makes sure the window holds the next record whole
    /// (the largest the reader accepts) or reaches the end of the file,
    /// moving to the other window when it does not.
    @inlinable @inline(__always)
    mutating func ensureWindow() throws(CaptureFileError) {
        guard let stream, byteCount &- position < stream.lookahead, !stream.atEnd else { return }
        try slide(stream)
    }

    @usableFromInline
    mutating func slide(_ stream: StreamWindows) throws(CaptureFileError) {
        do throws(Errno) {
            let (next, filled) = try stream.slide(keeping: base + position, count: byteCount &- position)
            windowOffset &+= position
            base = UnsafeRawPointer(next)
            byteCount = filled
            position = 0
        } catch {
            throw failure("cannot read: \(error)", at: position)
        }
    }

    /// The next packet record, or nil at the end of the file. After a thrown
    /// error the reader returns nil.
    @inlinable
    public mutating func next() throws(CaptureFileError) -> CaptureRecord? {
        if finished { return nil }
        do {
            try ensureWindow()
            if case .pcapng = format { return try nextPcapng() }
            return try nextPcap()
        } catch {
            finished = true
            throw error
        }
    }

    /// Reads up to `capacity` records into `out` and returns how many (0 at
    /// the end of the file). The same records, checks and errors as
    /// ``next()``; plain pcap files go through a tight loop.
    @inlinable
    public mutating func next(into out: UnsafeMutablePointer<CaptureRecord>, capacity: Int) throws(CaptureFileError)
        -> Int
    {
        if let error = deferredError {
            deferredError = nil
            throw error
        }
        let plain: Bool
        if case .pcap = format, lengths == .normal, recordHeaderSize == 16 { plain = true } else { plain = false }
        if plain && !finished {
            do {
                try ensureWindow()
            } catch {
                finished = true
                throw error
            }
            let n =
                swapped
                ? pcapRun(into: out, capacity: capacity, swapped: true)
                : pcapRun(into: out, capacity: capacity, swapped: false)
            if n > 0 { return n }
        }
        // The rest (pcapng, odd pcap variants, the end, damage) one by one;
        // a plain pcap file takes one record here and returns to the run.
        var n = 0
        while n < capacity {
            do {
                guard let r = try next() else { break }
                out[n] = r
            } catch {
                // Hand over what was read; the error comes with the next call.
                if n == 0 { throw error }
                deferredError = error
                break
            }
            n &+= 1
            if plain { break }
        }
        return n
    }

    /// Well-formed records of a standard pcap file, as long as they come:
    /// stops (without an error) at anything that needs a closer look.
    @inlinable @inline(__always)
    mutating func pcapRun(into out: UnsafeMutablePointer<CaptureRecord>, capacity: Int, swapped: Bool) -> Int {
        var at = position
        let end = byteCount
        let limit = Swift.min(snapshot, maximumCaptureLength)
        let scale: Int64 = nanosecond ? 1 : 1000
        var n = 0
        var number = count
        while n < capacity {
            guard end &- at >= 16 else { break }
            let h = base + at
            var seconds = h.loadUnaligned(as: UInt32.self)
            var fraction = h.loadUnaligned(fromByteOffset: 4, as: UInt32.self)
            var caplen32 = h.loadUnaligned(fromByteOffset: 8, as: UInt32.self)
            var wirelen32 = h.loadUnaligned(fromByteOffset: 12, as: UInt32.self)
            if swapped {
                seconds = seconds.byteSwapped
                fraction = fraction.byteSwapped
                caplen32 = caplen32.byteSwapped
                wirelen32 = wirelen32.byteSwapped
            }
            let caplen = Int(caplen32)
            guard caplen <= limit, caplen <= end &- at &- 16 else { break }
            number &+= 1
            out[n] = CaptureRecord(
                data: h + 16, capturedLength: caplen, wireLength: Int(wirelen32),
                timestamp: Int64(seconds) &* 1_000_000_000 &+ Int64(fraction) &* scale,
                linkType: linkType, number: number, offset: windowOffset &+ at)
            at &+= 16 &+ caplen
            n &+= 1
        }
        position = at
        count = number
        return n
    }

    @inlinable @inline(__always)
    func u32(_ at: Int, swapped: Bool) -> UInt32 {
        let v = base.loadUnaligned(fromByteOffset: at, as: UInt32.self)
        return swapped ? v.byteSwapped : v
    }

    @inlinable @inline(__always)
    func u16(_ at: Int, swapped: Bool) -> UInt16 {
        let v = base.loadUnaligned(fromByteOffset: at, as: UInt16.self)
        return swapped ? v.byteSwapped : v
    }

    @inlinable
    func failure(_ message: String, record: Int? = nil, at offset: Int) -> CaptureFileError {
        CaptureFileError(file: path, record: record, offset: windowOffset &+ offset, message: message)
    }

    // MARK: pcap

    @inlinable
    mutating func nextPcap() throws(CaptureFileError) -> CaptureRecord? {
        let at = position
        let left = byteCount &- at
        if left == 0 { return nil }
        let number = count &+ 1
        guard left >= recordHeaderSize else {
            throw failure(
                "truncated record header: \(left) of \(recordHeaderSize) bytes (the file is cut off)",
                record: number, at: at)
        }
        let seconds = u32(at, swapped: swapped)
        let fraction = u32(at &+ 4, swapped: swapped)
        var caplen = Int(u32(at &+ 8, swapped: swapped))
        var wirelen = Int(u32(at &+ 12, swapped: swapped))
        switch lengths {
        case .normal: break
        case .swapped: swap(&caplen, &wirelen)
        case .maybeSwapped: if caplen > wirelen { swap(&caplen, &wirelen) }
        }
        if caplen > maximumCaptureLength || (stream != nil && recordHeaderSize &+ caplen > stream!.lookahead) {
            let limit =
                caplen > snapshot ? "the file's snap length of \(snapshot)" : "the maximum of \(maximumCaptureLength)"
            throw failure(
                "absurd captured length \(caplen), bigger than \(limit) (a damaged or fuzzed file)",
                record: number, at: at)
        }
        let dataStart = at &+ recordHeaderSize
        guard caplen <= byteCount &- dataStart else {
            throw failure(
                "truncated record: the header says \(caplen) captured bytes but only \(byteCount &- dataStart) remain (the file is cut off)",
                record: number, at: at)
        }
        position = dataStart &+ caplen
        count = number
        // libpcap hands out at most the snap length and skips the rest.
        let delivered = Swift.min(caplen, snapshot)
        let ns = Int64(seconds) &* 1_000_000_000 &+ Int64(fraction) &* (nanosecond ? 1 : 1000)
        return CaptureRecord(
            data: base + dataStart, capturedLength: delivered, wireLength: wirelen, timestamp: ns,
            linkType: linkType, number: number, offset: windowOffset &+ at)
    }
}

/// A pcap file header, or the first section of a pcapng file.
@usableFromInline
struct FileHeader {
    var format: CaptureFormat
    var firstRecord: Int
    var swapped = false
    var nanosecond = false
    var recordHeaderSize = 16
    var lengths = CaptureFileReader.LengthOrder.normal
    var linkType = LinkType(rawValue: 0)
    var snapshot = 0
    var maximumCaptureLength = 0

    static let pcapMagic: UInt32 = 0xA1B2_C3D4
    static let nanosecondMagic: UInt32 = 0xA1B2_3C4D
    static let modifiedMagic: UInt32 = 0xA1B2_CD34
    static let sectionHeader: UInt32 = 0x0A0D_0D0A

    static func parse(base: UnsafeRawPointer, size: Int, path: String) throws(CaptureFileError) -> FileHeader {
        guard size >= 4 else {
            throw CaptureFileError(file: path, offset: 0, message: "too short to be a capture (\(size) bytes)")
        }
        let raw = base.loadUnaligned(as: UInt32.self)
        if raw == sectionHeader {
            return try PcapngSection.firstHeader(base: base, size: size, path: path)
        }
        var magic = raw
        var swapped = false
        if ![pcapMagic, nanosecondMagic, modifiedMagic].contains(magic) {
            magic = raw.byteSwapped
            swapped = true
            guard [pcapMagic, nanosecondMagic, modifiedMagic].contains(magic) else {
                let hex = String(UInt32(bigEndian: raw), radix: 16)
                throw CaptureFileError(
                    file: path, offset: 0,
                    message:
                        "not a pcap or pcapng capture (first four bytes 0x\(String(repeating: "0", count: 8 - hex.count) + hex))"
                )
            }
        }
        guard size >= 24 else {
            throw CaptureFileError(
                file: path, offset: 0, message: "truncated pcap file header: \(size) of 24 bytes")
        }
        func u32(_ at: Int) -> UInt32 {
            let v = base.loadUnaligned(fromByteOffset: at, as: UInt32.self)
            return swapped ? v.byteSwapped : v
        }
        func u16(_ at: Int) -> UInt16 {
            let v = base.loadUnaligned(fromByteOffset: at, as: UInt16.self)
            return swapped ? v.byteSwapped : v
        }
        let major = u16(4)
        let minor = u16(6)
        if major < 2 {
            throw CaptureFileError(
                file: path, offset: 4, message: "archaic pcap file format (version \(major).\(minor))")
        }
        guard (major == 2 && minor <= 4) || (major == 543 && minor == 0) else {
            throw CaptureFileError(file: path, offset: 4, message: "unsupported pcap file version \(major).\(minor)")
        }
        var h = FileHeader(format: .pcap(nanosecond: magic == nanosecondMagic, swapped: swapped), firstRecord: 24)
        h.swapped = swapped
        h.nanosecond = magic == nanosecondMagic
        h.linkType = LinkType(rawValue: u32(20) & 0x03FF_FFFF)
        h.maximumCaptureLength = maximumSnapLength(h.linkType)
        h.snapshot = adjustedSnapshot(Int(u32(16)), h.linkType)
        if major == 543 || minor < 3 {
            h.lengths = .swapped
        } else if minor == 3 {
            h.lengths = .maybeSwapped
        }
        if magic == modifiedMagic {
            // Kuznetzov's patched libpcap: 8 more bytes per record.
            h.recordHeaderSize = 24
            if h.linkType == .ethernet { h.snapshot += 14 }
        }
        return h
    }

    /// libpcap's `max_snaplen_for_dlt`: the largest captured length it
    /// believes for a link type.
    static func maximumSnapLength(_ linkType: LinkType) -> Int {
        switch linkType.rawValue {
        case 231: return 128 * 1024 * 1024  // DBUS
        case 279: return 8 * 1024 * 1024  // EBHSCR
        case 249: return 1024 * 1024  // USBPCAP
        default: return 262_144
        }
    }

    /// libpcap's `pcap_adjust_snapshot`: 0 or too large means the maximum.
    static func adjustedSnapshot(_ snaplen: Int, _ linkType: LinkType) -> Int {
        let maximum = maximumSnapLength(linkType)
        return snaplen == 0 || snaplen > maximum ? maximum : snaplen
    }
}
