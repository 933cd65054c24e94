/// Writes pcapng blocks into caller-provided memory.
///
/// Blocks are written in the host's byte order; the Section Header Block's
/// byte-order magic tells readers which one. Every timestamp is nanoseconds
/// since the epoch: each interface declares `if_tsresol` 9.
///
/// The zero-copy layout of a recorded frame in its room page is
///
///     [headroom ≥ 28][frame: capturedLength bytes][tailroom ≥ 7]
///      epbHeader                                   epbTrailer
///
/// so that `epbHeader` + frame + `epbTrailer` is one contiguous iovec. No
/// function here allocates, locks or traps on its inputs; the per-frame ones
/// (`epbHeader`, `epbTrailer`, `enhancedPacket`) are a few stores each.
public enum PcapngEncoder {
    /// Section Header Block type.
    public static let sectionHeaderBlockType: UInt32 = 0x0A0D_0D0A
    /// Interface Description Block type.
    public static let interfaceDescriptionBlockType: UInt32 = 0x0000_0001
    /// Interface Statistics Block type.
    public static let interfaceStatisticsBlockType: UInt32 = 0x0000_0005
    /// Enhanced Packet Block type.
    public static let enhancedPacketBlockType: UInt32 = 0x0000_0006
    /// The byte-order magic, written in the host's order.
    public static let byteOrderMagic: UInt32 = 0x1A2B_3C4D

    /// Bytes `epbHeader` writes: the headroom a page reserves before a frame.
    public static let epbHeaderSize = 28
    /// The most bytes `epbTrailer` writes (3 of padding, 4 of length): the
    /// tailroom a page reserves after a frame.
    public static let epbMaximumTrailerSize = 7
    /// The longest frame an Enhanced Packet Block can hold, its total length
    /// being 32 bits. Readers refuse far less (Wireshark and libpcap: 262,144
    /// for most link types); room frames are at most 65,536 bytes.
    public static let maximumCapturedLength = Int(UInt32.max) - 35
    /// The most bytes `interfaceStatistics` writes (every option present).
    public static let interfaceStatisticsMaximumSize = 20 + 6 * 12 + 4 + 4

    // MARK: Section Header Block

    /// Bytes the Section Header Block takes with these options.
    ///
    /// - Parameters:
    ///   - version: The daemon's version; `shb_userappl` is "labyrinthd <version>".
    ///   - os: `shb_os`, e.g. the `uname` release; not written when nil.
    /// - Returns: The block's length, a multiple of 4.
    /// - Throws: `optionTooLong` when a string exceeds 65,535 bytes.
    public static func sectionHeaderLength(version: String, os: String? = nil) throws(PcapEncodingError) -> Int {
        let application = try stringOptionLength(code: 4, userApplicationLength(version))
        let system = try os.map { (s) throws(PcapEncodingError) in try stringOptionLength(code: 3, s.utf8.count) } ?? 0
        return 24 + application + system + 4 + 4
    }

    /// Writes a Section Header Block (byte-order magic, version 1.0, section
    /// length unknown, `shb_userappl`, optionally `shb_os`).
    ///
    /// - Parameters:
    ///   - buffer: Where to write; at least `sectionHeaderLength` bytes.
    ///   - version: The daemon's version; `shb_userappl` is "labyrinthd <version>".
    ///   - os: `shb_os`; not written when nil.
    /// - Returns: The bytes written.
    /// - Throws: `optionTooLong`, `bufferTooSmall`; nothing is written then.
    /// - Complexity: O(length of the strings); no allocation for native strings.
    public static func sectionHeader(
        into buffer: UnsafeMutableRawBufferPointer, version: String, os: String? = nil
    ) throws(PcapEncodingError) -> Int {
        let length = try sectionHeaderLength(version: version, os: os)
        let base = try destination(buffer, length)
        base.storeUInt32(sectionHeaderBlockType, at: 0)
        base.storeUInt32(UInt32(length), at: 4)
        base.storeUInt32(byteOrderMagic, at: 8)
        base.storeUInt16(1, at: 12)  // major
        base.storeUInt16(0, at: 14)  // minor
        base.storeUInt64(UInt64.max, at: 16)  // section length: -1, not known
        var offset = 24
        offset = writeOption(base, offset, code: 4, prefix: userApplicationPrefix, prefixKind: nil, version)
        if let os {
            offset = writeOption(base, offset, code: 3, prefix: "", prefixKind: nil, os)
        }
        offset = writeEndOfOptions(base, offset)
        base.storeUInt32(UInt32(length), at: offset)
        return offset &+ 4
    }

    // MARK: Interface Description Block

    /// Bytes the Interface Description Block of `interface` takes.
    ///
    /// - Returns: The block's length, a multiple of 4.
    /// - Throws: `optionTooLong` when a string exceeds its option's room.
    public static func interfaceDescriptionLength(_ interface: PcapngInterface) throws(PcapEncodingError) -> Int {
        var options = try stringOptionLength(code: 2, interface.name.utf8.count)
        if let d = interface.description {
            options += try stringOptionLength(code: 3, d.utf8.count)
        }
        options += 4 + 4  // if_tsresol: 1 byte, padded
        if let f = interface.filter {
            options += try stringOptionLength(code: 11, 1 + f.utf8.count)
        }
        return 16 + options + 4 + 4
    }

    /// Writes an Interface Description Block: link type, snap length,
    /// `if_name`, `if_description` when set, `if_tsresol` 9 (nanoseconds),
    /// `if_filter` (kind 0, a libpcap filter string) when set.
    ///
    /// Interfaces are numbered from 0 in the order of their blocks within a
    /// section; that number is the `interface` of the packet and statistics
    /// blocks.
    ///
    /// - Parameters:
    ///   - buffer: Where to write; at least `interfaceDescriptionLength` bytes.
    ///   - interface: The source.
    /// - Returns: The bytes written.
    /// - Throws: `optionTooLong`, `bufferTooSmall`; nothing is written then.
    public static func interfaceDescription(
        into buffer: UnsafeMutableRawBufferPointer, _ interface: PcapngInterface
    ) throws(PcapEncodingError) -> Int {
        let length = try interfaceDescriptionLength(interface)
        let base = try destination(buffer, length)
        base.storeUInt32(interfaceDescriptionBlockType, at: 0)
        base.storeUInt32(UInt32(length), at: 4)
        base.storeUInt16(interface.linkType, at: 8)
        base.storeUInt16(0, at: 10)
        base.storeUInt32(interface.snapLength, at: 12)
        var offset = 16
        offset = writeOption(base, offset, code: 2, prefix: "", prefixKind: nil, interface.name)
        if let d = interface.description {
            offset = writeOption(base, offset, code: 3, prefix: "", prefixKind: nil, d)
        }
        base.storeUInt16(9, at: offset)  // if_tsresol
        base.storeUInt16(1, at: offset + 2)
        base.storeUInt32(0, at: offset + 4)
        base.storeBytes(of: 9, toByteOffset: offset + 4, as: UInt8.self)  // 10^-9 s
        offset += 8
        if let f = interface.filter {
            offset = writeOption(base, offset, code: 11, prefix: "", prefixKind: 0, f)
        }
        offset = writeEndOfOptions(base, offset)
        base.storeUInt32(UInt32(length), at: offset)
        return offset &+ 4
    }

    // MARK: Enhanced Packet Block

    /// Bytes of the Enhanced Packet Block of a `capturedLength`-byte frame:
    /// 28 + the frame padded to 4 + 4.
    ///
    /// - Returns: The length, or nil when `capturedLength` is out of
    ///   0...`maximumCapturedLength`.
    @inline(__always)
    public static func enhancedPacketLength(capturedLength: Int) -> Int? {
        guard capturedLength >= 0, capturedLength <= maximumCapturedLength else { return nil }
        return epbHeaderSize &+ padded4(capturedLength) &+ 4
    }

    /// Writes the 28 bytes of an Enhanced Packet Block that go before the
    /// frame: type, total length, interface, timestamp, captured and original
    /// lengths.
    ///
    /// For zero copy, write these into the page's headroom right before the
    /// frame, and `epbTrailer` right after it.
    ///
    /// - Parameters:
    ///   - header: `epbHeaderSize` (28) writable bytes, any alignment. Not
    ///     checked: the caller reserves them.
    ///   - interface: The interface number in this section (0 = first IDB).
    ///   - timestampNanoseconds: Since the epoch; must be ≥ 0.
    ///   - capturedLength: Frame bytes that follow; 0...`maximumCapturedLength`.
    ///   - originalLength: Frame length on the wire; capturedLength...2^32 − 1.
    /// - Returns: 28.
    /// - Throws: `capturedLengthOutOfRange`, `originalLengthOutOfRange`,
    ///   `timestampOutOfRange`; nothing is written then.
    /// - Complexity: O(1): three compares and seven stores; no allocation.
    @inline(__always)
    public static func epbHeader(
        into header: UnsafeMutableRawPointer, interface: UInt32, timestampNanoseconds: Int64, capturedLength: Int,
        originalLength: Int
    ) throws(PcapEncodingError) -> Int {
        guard let total = enhancedPacketLength(capturedLength: capturedLength) else {
            throw .capturedLengthOutOfRange(capturedLength)
        }
        guard originalLength >= capturedLength, originalLength <= Int(UInt32.max) else {
            throw .originalLengthOutOfRange(captured: capturedLength, original: originalLength)
        }
        guard timestampNanoseconds >= 0 else { throw .timestampOutOfRange(nanoseconds: timestampNanoseconds) }
        let ts = UInt64(truncatingIfNeeded: timestampNanoseconds)
        header.storeUInt32(enhancedPacketBlockType, at: 0)
        header.storeUInt32(UInt32(truncatingIfNeeded: total), at: 4)
        header.storeUInt32(interface, at: 8)
        header.storeUInt32(UInt32(truncatingIfNeeded: ts &>> 32), at: 12)
        header.storeUInt32(UInt32(truncatingIfNeeded: ts), at: 16)
        header.storeUInt32(UInt32(truncatingIfNeeded: capturedLength), at: 20)
        header.storeUInt32(UInt32(truncatingIfNeeded: originalLength), at: 24)
        return epbHeaderSize
    }

    /// Writes what follows a `capturedLength`-byte frame in its Enhanced
    /// Packet Block: zero padding to a multiple of 4, then the total length
    /// again (no options).
    ///
    /// - Parameters:
    ///   - trailer: The byte right after the frame; 4 + (−capturedLength mod 4)
    ///     writable bytes, at most `epbMaximumTrailerSize` (7). Not checked.
    ///   - capturedLength: The length given to `epbHeader`.
    /// - Returns: The bytes written, 4...7.
    /// - Throws: `capturedLengthOutOfRange` (as `epbHeader` would have);
    ///   nothing is written then.
    /// - Complexity: O(1); no allocation.
    @inline(__always)
    public static func epbTrailer(into trailer: UnsafeMutableRawPointer, capturedLength: Int) throws(PcapEncodingError)
        -> Int
    {
        guard let total = enhancedPacketLength(capturedLength: capturedLength) else {
            throw .capturedLengthOutOfRange(capturedLength)
        }
        let padding = padded4(capturedLength) &- capturedLength
        var i = 0
        while i < padding {
            trailer.storeBytes(of: 0, toByteOffset: i, as: UInt8.self)
            i &+= 1
        }
        trailer.storeUInt32(UInt32(truncatingIfNeeded: total), at: padding)
        return padding &+ 4
    }

    /// Writes a whole Enhanced Packet Block around a copy of `frame`, for
    /// taps that copy frames out of their pages.
    ///
    /// - Parameters:
    ///   - buffer: Where to write; at least `enhancedPacketLength(capturedLength: frame.count)` bytes.
    ///   - interface: The interface number in this section.
    ///   - timestampNanoseconds: Since the epoch; must be ≥ 0.
    ///   - frame: The captured bytes (already cut to the snap length).
    ///   - originalLength: Frame length on the wire; frame.count...2^32 − 1.
    /// - Returns: The bytes written.
    /// - Throws: as `epbHeader`, and `bufferTooSmall`; nothing is written then.
    /// - Complexity: O(frame.count) for the copy; no allocation.
    public static func enhancedPacket(
        into buffer: UnsafeMutableRawBufferPointer, interface: UInt32, timestampNanoseconds: Int64,
        frame: UnsafeRawBufferPointer, originalLength: Int
    ) throws(PcapEncodingError) -> Int {
        guard let total = enhancedPacketLength(capturedLength: frame.count) else {
            throw .capturedLengthOutOfRange(frame.count)
        }
        guard buffer.count >= total, let base = buffer.baseAddress else {
            throw .bufferTooSmall(needed: total, available: buffer.count)
        }
        _ = try epbHeader(
            into: base, interface: interface, timestampNanoseconds: timestampNanoseconds,
            capturedLength: frame.count, originalLength: originalLength)
        if let source = frame.baseAddress, frame.count > 0 {
            (base + epbHeaderSize).copyMemory(from: source, byteCount: frame.count)
        }
        return try epbHeaderSize &+ frame.count
            &+ epbTrailer(into: base + epbHeaderSize + frame.count, capturedLength: frame.count)
    }

    // MARK: Interface Statistics Block

    /// Bytes the Interface Statistics Block of `statistics` takes.
    public static func interfaceStatisticsLength(_ statistics: PcapngInterfaceStatistics) -> Int {
        let s = statistics
        var count = 0
        if s.startNanoseconds != nil { count += 1 }
        if s.endNanoseconds != nil { count += 1 }
        if s.received != nil { count += 1 }
        if s.interfaceDropped != nil { count += 1 }
        if s.osDropped != nil { count += 1 }
        if s.delivered != nil { count += 1 }
        return 20 + count * 12 + (count > 0 ? 4 : 0) + 4
    }

    /// Writes an Interface Statistics Block: the time of the counts, then
    /// `isb_starttime`, `isb_endtime`, `isb_ifrecv`, `isb_ifdrop`,
    /// `isb_osdrop`, `isb_usrdeliv` for each counter present.
    ///
    /// - Parameters:
    ///   - buffer: Where to write; at least `interfaceStatisticsLength`
    ///     (≤ `interfaceStatisticsMaximumSize`, 100) bytes.
    ///   - interface: The interface number in this section.
    ///   - timestampNanoseconds: When the counts were taken; ≥ 0.
    ///   - statistics: The counters; nil ones are left out.
    /// - Returns: The bytes written.
    /// - Throws: `timestampOutOfRange` (a negative time), `bufferTooSmall`;
    ///   nothing is written then.
    /// - Complexity: O(1); no allocation.
    public static func interfaceStatistics(
        into buffer: UnsafeMutableRawBufferPointer, interface: UInt32, timestampNanoseconds: Int64,
        _ statistics: PcapngInterfaceStatistics
    ) throws(PcapEncodingError) -> Int {
        guard timestampNanoseconds >= 0 else { throw .timestampOutOfRange(nanoseconds: timestampNanoseconds) }
        if let t = statistics.startNanoseconds, t < 0 { throw .timestampOutOfRange(nanoseconds: t) }
        if let t = statistics.endNanoseconds, t < 0 { throw .timestampOutOfRange(nanoseconds: t) }
        let length = interfaceStatisticsLength(statistics)
        let base = try destination(buffer, length)
        base.storeUInt32(interfaceStatisticsBlockType, at: 0)
        base.storeUInt32(UInt32(length), at: 4)
        base.storeUInt32(interface, at: 8)
        storeTimestamp(base, 12, timestampNanoseconds)
        var offset = 20
        func option(_ code: UInt16, _ value: UInt64?, timestamp: Bool) {
            guard let value else { return }
            base.storeUInt16(code, at: offset)
            base.storeUInt16(8, at: offset + 2)
            if timestamp {
                storeTimestamp(base, offset + 4, Int64(bitPattern: value))
            } else {
                base.storeUInt64(value, at: offset + 4)
            }
            offset += 12
        }
        let s = statistics
        option(2, s.startNanoseconds.map { UInt64(bitPattern: $0) }, timestamp: true)
        option(3, s.endNanoseconds.map { UInt64(bitPattern: $0) }, timestamp: true)
        option(4, s.received, timestamp: false)
        option(5, s.interfaceDropped, timestamp: false)
        option(7, s.osDropped, timestamp: false)
        option(8, s.delivered, timestamp: false)
        if offset > 20 {
            offset = writeEndOfOptions(base, offset)
        }
        base.storeUInt32(UInt32(length), at: offset)
        return offset + 4
    }

    // MARK: Helpers

    /// What `shb_userappl` says before the version.
    private static let userApplicationPrefix = "labyrinthd "

    private static func userApplicationLength(_ version: String) -> Int {
        userApplicationPrefix.utf8.count + version.utf8.count
    }

    /// 4 + the value padded to 4, or `optionTooLong`.
    private static func stringOptionLength(code: UInt16, _ valueLength: Int) throws(PcapEncodingError) -> Int {
        guard valueLength <= Int(UInt16.max) else { throw .optionTooLong(code: code, length: valueLength) }
        return 4 + padded4(valueLength)
    }

    private static func destination(_ buffer: UnsafeMutableRawBufferPointer, _ length: Int) throws(PcapEncodingError)
        -> UnsafeMutableRawPointer
    {
        guard buffer.count >= length, let base = buffer.baseAddress else {
            throw .bufferTooSmall(needed: length, available: buffer.count)
        }
        return base
    }

    /// A timestamp as pcapng stores it: the high 32 bits, then the low 32.
    private static func storeTimestamp(_ base: UnsafeMutableRawPointer, _ offset: Int, _ ns: Int64) {
        let ts = UInt64(bitPattern: ns)
        base.storeUInt32(UInt32(truncatingIfNeeded: ts >> 32), at: offset)
        base.storeUInt32(UInt32(truncatingIfNeeded: ts), at: offset + 4)
    }

    /// Writes a string option (`prefixKind` byte, `prefix`, `value`), zero
    /// padded; lengths were checked by the caller.
    private static func writeOption(
        _ base: UnsafeMutableRawPointer, _ start: Int, code: UInt16, prefix: String, prefixKind: UInt8?,
        _ value: String
    ) -> Int {
        var offset = start + 4
        if let prefixKind {
            base.storeBytes(of: prefixKind, toByteOffset: offset, as: UInt8.self)
            offset += 1
        }
        for byte in prefix.utf8 {
            base.storeBytes(of: byte, toByteOffset: offset, as: UInt8.self)
            offset += 1
        }
        for byte in value.utf8 {
            base.storeBytes(of: byte, toByteOffset: offset, as: UInt8.self)
            offset += 1
        }
        let valueLength = offset - start - 4
        base.storeUInt16(code, at: start)
        base.storeUInt16(UInt16(valueLength), at: start + 2)
        while offset & 3 != 0 {
            base.storeBytes(of: 0, toByteOffset: offset, as: UInt8.self)
            offset += 1
        }
        return offset
    }

    private static func writeEndOfOptions(_ base: UnsafeMutableRawPointer, _ offset: Int) -> Int {
        base.storeUInt32(0, at: offset)  // opt_endofopt: code 0, length 0
        return offset + 4
    }
}
