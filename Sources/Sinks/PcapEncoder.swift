/// Writes classic pcap (libpcap) files with nanosecond timestamps into
/// caller-provided memory.
///
/// The file header carries the nanosecond magic 0xa1b23c4d in the host's
/// byte order, version 2.4. A record is a 16-byte header (seconds,
/// nanoseconds, captured length, original length) followed by the frame, so
/// zero copy needs only `recordHeader` in the page's headroom; there is no
/// trailer and no padding. No function here allocates, locks or traps on its
/// inputs.
public enum PcapEncoder {
    /// The nanosecond-resolution magic, written in the host's order.
    public static let nanosecondMagic: UInt32 = 0xA1B2_3C4D
    /// Bytes of the file header.
    public static let fileHeaderSize = 24
    /// Bytes `recordHeader` writes: the headroom a page reserves before a frame.
    public static let recordHeaderSize = 16
    /// The longest frame a record can hold (32-bit lengths). Readers refuse
    /// far less (libpcap: 262,144 for most link types).
    public static let maximumCapturedLength = Int(UInt32.max)
    /// The first timestamp classic pcap cannot hold: 2^32 seconds after the
    /// epoch (2106-02-07T06:28:16Z).
    public static let timestampLimitNanoseconds = Int64(1) << 32 * 1_000_000_000

    /// Writes the 24-byte file header: magic, version 2.4, zone and
    /// accuracy 0, snap length, link type.
    ///
    /// - Parameters:
    ///   - header: `fileHeaderSize` (24) writable bytes, any alignment. Not checked.
    ///   - snapLength: The snapshot length the file declares; frames longer
    ///     than it are refused by some readers, so pass the capture's.
    ///   - linkType: LINKTYPE_ value; the upper bits may carry the FCS flags
    ///     as libpcap defines them.
    /// - Returns: 24.
    /// - Complexity: O(1); no allocation.
    public static func fileHeader(into header: UnsafeMutableRawPointer, snapLength: UInt32, linkType: UInt32) -> Int {
        header.storeUInt32(nanosecondMagic, at: 0)
        header.storeUInt16(2, at: 4)
        header.storeUInt16(4, at: 6)
        header.storeUInt32(0, at: 8)  // thiszone
        header.storeUInt32(0, at: 12)  // sigfigs
        header.storeUInt32(snapLength, at: 16)
        header.storeUInt32(linkType, at: 20)
        return fileHeaderSize
    }

    /// Writes the 16-byte record header that goes right before a frame.
    ///
    /// - Parameters:
    ///   - header: `recordHeaderSize` (16) writable bytes, any alignment. Not checked.
    ///   - timestampNanoseconds: Since the epoch; 0..<`timestampLimitNanoseconds`.
    ///   - capturedLength: Frame bytes that follow; 0...2^32 − 1.
    ///   - originalLength: Frame length on the wire; capturedLength...2^32 − 1.
    /// - Returns: 16.
    /// - Throws: `capturedLengthOutOfRange`, `originalLengthOutOfRange`,
    ///   `timestampOutOfRange`; nothing is written then.
    /// - Complexity: O(1): a division by 10^9 and four stores; no allocation.
    @inline(__always)
    public static func recordHeader(
        into header: UnsafeMutableRawPointer, timestampNanoseconds: Int64, capturedLength: Int, originalLength: Int
    ) throws(PcapEncodingError) -> Int {
        guard capturedLength >= 0, capturedLength <= maximumCapturedLength else {
            throw .capturedLengthOutOfRange(capturedLength)
        }
        guard originalLength >= capturedLength, originalLength <= Int(UInt32.max) else {
            throw .originalLengthOutOfRange(captured: capturedLength, original: originalLength)
        }
        guard timestampNanoseconds >= 0, timestampNanoseconds < timestampLimitNanoseconds else {
            throw .timestampOutOfRange(nanoseconds: timestampNanoseconds)
        }
        let (seconds, nanoseconds) = timestampNanoseconds.quotientAndRemainder(dividingBy: 1_000_000_000)
        header.storeUInt32(UInt32(truncatingIfNeeded: seconds), at: 0)
        header.storeUInt32(UInt32(truncatingIfNeeded: nanoseconds), at: 4)
        header.storeUInt32(UInt32(truncatingIfNeeded: capturedLength), at: 8)
        header.storeUInt32(UInt32(truncatingIfNeeded: originalLength), at: 12)
        return recordHeaderSize
    }

    /// Writes a whole record around a copy of `frame`, for taps that copy.
    ///
    /// - Parameters:
    ///   - buffer: Where to write; at least 16 + frame.count bytes.
    ///   - timestampNanoseconds: Since the epoch; 0..<`timestampLimitNanoseconds`.
    ///   - frame: The captured bytes (already cut to the snap length).
    ///   - originalLength: Frame length on the wire; frame.count...2^32 − 1.
    /// - Returns: The bytes written.
    /// - Throws: as `recordHeader`, and `bufferTooSmall`; nothing is written then.
    /// - Complexity: O(frame.count) for the copy; no allocation.
    public static func record(
        into buffer: UnsafeMutableRawBufferPointer, timestampNanoseconds: Int64, frame: UnsafeRawBufferPointer,
        originalLength: Int
    ) throws(PcapEncodingError) -> Int {
        let total = recordHeaderSize &+ frame.count
        guard buffer.count >= total, let base = buffer.baseAddress else {
            throw .bufferTooSmall(needed: total, available: buffer.count)
        }
        _ = try recordHeader(
            into: base, timestampNanoseconds: timestampNanoseconds, capturedLength: frame.count,
            originalLength: originalLength)
        if let source = frame.baseAddress, frame.count > 0 {
            (base + recordHeaderSize).copyMemory(from: source, byteCount: frame.count)
        }
        return total
    }
}
