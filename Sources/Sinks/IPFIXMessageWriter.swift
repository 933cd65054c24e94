/// Writes one IPFIX message into a caller's buffer: the header, then sets,
/// then records, never past `limit` bytes and never leaving an empty set.
///
/// All stores are big-endian and unaligned; nothing allocates. A record is
/// written whole or not at all, so no record straddles two messages.
struct IPFIXMessageWriter {
    let base: UnsafeMutableRawPointer
    /// The message may not grow past this many bytes.
    let limit: Int
    /// Bytes written so far, header included.
    private(set) var length: Int
    /// Where the open set starts, or -1 when no set is open.
    private var setStart: Int
    /// The id of the open set.
    private(set) var setID: UInt16

    /// Starts a message; the header is written by `finish`.
    /// - Precondition: `limit >= IPFIX.messageHeaderLength` (the callers check it).
    init(base: UnsafeMutableRawPointer, limit: Int) {
        self.base = base
        self.limit = limit
        length = IPFIX.messageHeaderLength
        setStart = -1
        setID = 0
    }

    /// Bytes still free in the message.
    var free: Int { limit &- length }

    /// Bytes `count` records of `recordLength` bytes need in set `id`, counting the set header if that set is not open.
    func bytesNeeded(set id: UInt16, records count: Int, recordLength: Int) -> Int {
        (setStart >= 0 && setID == id ? 0 : IPFIX.setHeaderLength) &+ count &* recordLength
    }

    /// Opens set `id` unless it is the open one, and reserves `byteCount` bytes in it.
    /// - Returns: where to write them, or nil (and nothing changed) when they do not fit.
    mutating func reserve(set id: UInt16, byteCount: Int) -> UnsafeMutableRawPointer? {
        let reopen = !(setStart >= 0 && setID == id)
        let needed = (reopen ? IPFIX.setHeaderLength : 0) &+ byteCount
        guard needed <= free else { return nil }
        if reopen {
            closeSet()
            setStart = length
            setID = id
            length &+= IPFIX.setHeaderLength
        }
        let at = base + length
        length &+= byteCount
        return at
    }

    /// Writes the open set's header (its length is known now) and closes it.
    mutating func closeSet() {
        guard setStart >= 0 else { return }
        store16(setID, at: setStart)
        store16(UInt16(truncatingIfNeeded: length &- setStart), at: setStart &+ 2)
        setStart = -1
    }

    /// Closes the open set and writes the header.
    /// - Returns: the message's length in bytes.
    mutating func finish(exportTime: UInt32, sequenceNumber: UInt32, observationDomain: UInt32) -> Int {
        closeSet()
        store16(IPFIX.version, at: 0)
        store16(UInt16(truncatingIfNeeded: length), at: 2)
        store32(exportTime, at: 4)
        store32(sequenceNumber, at: 8)
        store32(observationDomain, at: 12)
        return length
    }

    /// Whether the message holds nothing but its header.
    var isEmpty: Bool { length == IPFIX.messageHeaderLength && setStart < 0 }

    /// Appends a template record (or options template record) to the open set, which must be set 2 or 3.
    /// - Returns: false when it does not fit.
    mutating func appendTemplate(_ template: IPFIX.Template, set id: UInt16) -> Bool {
        guard let p = reserve(set: id, byteCount: template.templateRecordLength) else { return false }
        var w = IPFIXFieldWriter(p)
        w.put16(template.id)
        w.put16(UInt16(truncatingIfNeeded: template.fields.count))
        if template.scopeFieldCount > 0 { w.put16(UInt16(truncatingIfNeeded: template.scopeFieldCount)) }
        for field in template.fields {
            w.put16(field.elementID)
            w.put16(field.length)
        }
        return true
    }

    private func store16(_ v: UInt16, at offset: Int) {
        base.storeBytes(of: v.bigEndian, toByteOffset: offset, as: UInt16.self)
    }

    private func store32(_ v: UInt32, at offset: Int) {
        base.storeBytes(of: v.bigEndian, toByteOffset: offset, as: UInt32.self)
    }
}

/// A cursor that stores big-endian values one after another (unaligned).
struct IPFIXFieldWriter {
    var p: UnsafeMutableRawPointer

    init(_ p: UnsafeMutableRawPointer) { self.p = p }

    @inline(__always) mutating func put8(_ v: UInt8) {
        p.storeBytes(of: v, as: UInt8.self)
        p += 1
    }
    @inline(__always) mutating func put16(_ v: UInt16) {
        p.storeBytes(of: v.bigEndian, as: UInt16.self)
        p += 2
    }
    @inline(__always) mutating func put32(_ v: UInt32) {
        p.storeBytes(of: v.bigEndian, as: UInt32.self)
        p += 4
    }
    @inline(__always) mutating func put64(_ v: UInt64) {
        p.storeBytes(of: v.bigEndian, as: UInt64.self)
        p += 8
    }
}
