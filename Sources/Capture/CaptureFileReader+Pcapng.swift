import Packet

/// One pcapng interface: its link type, snap length and timestamp units.
@usableFromInline
struct PcapngReaderInterface: Sendable {
    @usableFromInline var linkType: LinkType
    @usableFromInline var snapshot: Int
    /// Timestamp units per second (10^k or 2^k).
    @usableFromInline var unitsPerSecond: UInt64
    /// Seconds added to every timestamp (if_tsoffset).
    @usableFromInline var offsetSeconds: Int64

    @inlinable
    func nanoseconds(_ t: UInt64) -> Int64 {
        // Nanosecond resolution (Labyrinth's, dumpcap's): no division.
        if unitsPerSecond == 1_000_000_000 {
            return Int64(truncatingIfNeeded: t) &+ offsetSeconds &* 1_000_000_000
        }
        let seconds = t / unitsPerSecond
        let fraction = t % unitsPerSecond
        let (high, low) = fraction.multipliedFullWidth(by: 1_000_000_000)
        let (ns, _) = unitsPerSecond.dividingFullWidth((high, low))
        return (Int64(truncatingIfNeeded: seconds) &+ offsetSeconds) &* 1_000_000_000 &+ Int64(truncatingIfNeeded: ns)
    }
}

/// Block types and the rules libpcap applies to them.
enum PcapngSection {
    static let byteOrderMagic: UInt32 = 0x1A2B_3C4D
    static let sectionHeaderBlock: UInt32 = 0x0A0D_0D0A
    static let interfaceDescriptionBlock: UInt32 = 1
    static let packetBlock: UInt32 = 2
    static let simplePacketBlock: UInt32 = 3
    static let enhancedPacketBlock: UInt32 = 6
    /// libpcap refuses a first section header longer than this.
    static let maximumSectionHeader = 1024 * 1024

    /// Reads the first section header block.
    static func firstHeader(base: UnsafeRawPointer, size: Int, path: String) throws(CaptureFileError) -> FileHeader {
        guard size >= 12 else {
            throw CaptureFileError(
                file: path, offset: 0, message: "truncated pcapng section header: \(size) of 28 bytes")
        }
        var length = base.loadUnaligned(fromByteOffset: 4, as: UInt32.self)
        let bom = base.loadUnaligned(fromByteOffset: 8, as: UInt32.self)
        var swapped = false
        if bom != byteOrderMagic {
            guard bom.byteSwapped == byteOrderMagic else {
                throw CaptureFileError(
                    file: path, offset: 8,
                    message:
                        "not a pcapng capture: bad byte-order magic 0x\(String(bom, radix: 16)) in the section header")
            }
            swapped = true
            length = length.byteSwapped
        }
        guard length >= 28 && Int(length) <= maximumSectionHeader else {
            throw CaptureFileError(
                file: path, offset: 4, message: "pcapng section header has an invalid length \(length)")
        }
        guard Int(length) <= size else {
            throw CaptureFileError(
                file: path, offset: 0,
                message: "truncated pcapng section header: it says \(length) bytes, the file has \(size)")
        }
        func u16(_ at: Int) -> UInt16 {
            let v = base.loadUnaligned(fromByteOffset: at, as: UInt16.self)
            return swapped ? v.byteSwapped : v
        }
        let major = u16(12)
        let minor = u16(14)
        guard major == 1 && (minor == 0 || minor == 2) else {
            throw CaptureFileError(file: path, offset: 12, message: "unsupported pcapng version \(major).\(minor)")
        }
        var h = FileHeader(format: .pcapng, firstRecord: 0)
        h.swapped = swapped
        return h
    }
}

extension CaptureFileReader {
    /// The largest block libpcap accepts: 16 MiB, or an EPB of the largest
    /// snap length of the interfaces seen plus 128 KiB of options.
    @usableFromInline
    var maximumBlockLength: Int { blockLimit }

    static func blockLimit(for interfaces: [PcapngReaderInterface], current: Int) -> Int {
        var maximum = current
        for i in interfaces {
            maximum = Swift.max(maximum, 28 + FileHeader.maximumSnapLength(i.linkType) + 131_072 + 4)
        }
        return maximum
    }

    @usableFromInline
    mutating func nextPcapng() throws(CaptureFileError) -> CaptureRecord? {
        while true {
            try ensureWindow()
            let at = position
            let left = byteCount - at
            if left == 0 {
                if interfaces.isEmpty && count == 0 {
                    throw failure("the capture has no interface description block", at: at)
                }
                return nil
            }
            guard left >= 12 else {
                throw failure(
                    "truncated block header: \(left) bytes left (the file is cut off)", record: count + 1, at: at)
            }
            let type = u32(at, swapped: swapped)
            let length = Int(u32(at + 4, swapped: swapped))
            guard length >= 12 else {
                throw failure("block of type \(type) has a length of \(length) < 12", record: count + 1, at: at)
            }
            guard length % 4 == 0 else {
                throw failure(
                    "block of type \(type) has a length of \(length), not a multiple of 4", record: count + 1, at: at)
            }
            guard length <= maximumBlockLength else {
                throw failure(
                    "block of type \(type) is \(length) bytes, above the maximum of \(maximumBlockLength)",
                    record: count + 1, at: at)
            }
            guard length <= left else {
                throw failure(
                    "truncated block: type \(type) says \(length) bytes but only \(left) remain (the file is cut off)",
                    record: count + 1, at: at)
            }
            let trailer = Int(u32(at + length - 4, swapped: swapped))
            guard trailer == length else {
                throw failure(
                    "block length \(length) in the header and \(trailer) in the trailer differ", record: count + 1,
                    at: at)
            }
            position = at + length
            let body = at + 8
            let bodyLength = length - 12
            switch type {
            case PcapngSection.sectionHeaderBlock:
                try section(at: at, body: body, bodyLength: bodyLength)
            case PcapngSection.interfaceDescriptionBlock:
                try interface(at: at, body: body, bodyLength: bodyLength)
            case PcapngSection.enhancedPacketBlock, PcapngSection.packetBlock:
                return try packet(type: type, at: at, body: body, bodyLength: bodyLength)
            case PcapngSection.simplePacketBlock:
                return try simplePacket(at: at, body: body, bodyLength: bodyLength)
            default:
                continue  // statistics, name resolution, custom…: not packets
            }
        }
    }

    mutating func section(at: Int, body: Int, bodyLength: Int) throws(CaptureFileError) {
        guard bodyLength >= 16 else {
            throw failure("section header block is too short (\(bodyLength) bytes of body)", at: at)
        }
        let bom = u32(body, swapped: swapped)
        if bom == PcapngSection.byteOrderMagic.byteSwapped {
            throw failure("the file has sections with different byte orders", at: at)
        }
        guard bom == PcapngSection.byteOrderMagic else {
            throw failure("a section header has a bad byte-order magic 0x\(String(bom, radix: 16))", at: at)
        }
        let major = u16(body + 4, swapped: swapped)
        guard major == 1 else {
            throw failure("unknown pcapng major version \(major)", at: at)
        }
        // A new section has its own interfaces.
        interfaces.removeAll(keepingCapacity: true)
        interfaceNames.removeAll(keepingCapacity: true)
        sections &+= 1
        interfaceBlockOffsets.removeAll(keepingCapacity: true)
    }

    mutating func interface(at: Int, body: Int, bodyLength: Int) throws(CaptureFileError) {
        guard bodyLength >= 8 else {
            throw failure("interface description block is too short (\(bodyLength) bytes of body)", at: at)
        }
        let linkType = LinkType(rawValue: UInt32(u16(body, swapped: swapped)))
        let snaplen = Int(u32(body + 4, swapped: swapped))
        var units: UInt64 = 1_000_000
        var offset: Int64 = 0
        var sawResolution = false
        var sawOffset = false
        var name = ""
        var o = body + 8
        let end = body + bodyLength
        options: while o < end {
            guard end - o >= 4 else {
                throw failure("interface description block: option header cut short", at: at)
            }
            let code = u16(o, swapped: swapped)
            let length = Int(u16(o + 2, swapped: swapped))
            let padded = (length + 3) / 4 * 4
            guard end - (o + 4) >= padded else {
                throw failure(
                    "interface description block: option \(code) of \(length) bytes runs past the block", at: at)
            }
            let value = o + 4
            switch code {
            case 0:
                guard length == 0 else {
                    throw failure("interface description block: end-of-options with length \(length)", at: at)
                }
                break options
            case 2:
                name = String(decoding: UnsafeRawBufferPointer(start: base + value, count: length), as: UTF8.self)
            case 9:
                guard length == 1 else {
                    throw failure("interface description block: if_tsresol of length \(length), not 1", at: at)
                }
                guard !sawResolution else {
                    throw failure("interface description block: more than one if_tsresol", at: at)
                }
                sawResolution = true
                let r = base.load(fromByteOffset: value, as: UInt8.self)
                if r & 0x80 != 0 {
                    let shift = r & 0x7F
                    guard shift <= 63 else {
                        throw failure("interface description block: if_tsresol 2^-\(shift) is too fine", at: at)
                    }
                    units = 1 << UInt64(shift)
                } else {
                    guard r <= 19 else {
                        throw failure("interface description block: if_tsresol 10^-\(r) is too fine", at: at)
                    }
                    units = 1
                    for _ in 0..<r { units *= 10 }
                }
            case 14:
                guard length == 8 else {
                    throw failure("interface description block: if_tsoffset of length \(length), not 8", at: at)
                }
                guard !sawOffset else {
                    throw failure("interface description block: more than one if_tsoffset", at: at)
                }
                sawOffset = true
                let v = base.loadUnaligned(fromByteOffset: value, as: Int64.self)
                offset = swapped ? v.byteSwapped : v
            default:
                break
            }
            o = value + padded
        }
        interfaces.append(
            PcapngReaderInterface(
                linkType: linkType, snapshot: FileHeader.adjustedSnapshot(snaplen, linkType),
                unitsPerSecond: units, offsetSeconds: offset))
        interfaceNames.append(name)
        interfaceBlockOffsets.append(windowOffset &+ at)
        // Like libpcap, the limit only grows.
        blockLimit = Self.blockLimit(for: interfaces, current: blockLimit)
        // Read in windows, a block must fit the window's look-ahead.
        if let stream { blockLimit = Swift.min(blockLimit, stream.lookahead) }
    }

    mutating func packet(type: UInt32, at: Int, body: Int, bodyLength: Int) throws(CaptureFileError) -> CaptureRecord {
        let number = count + 1
        let name = type == PcapngSection.enhancedPacketBlock ? "enhanced packet block" : "packet block"
        guard bodyLength >= 20 else {
            throw failure("\(name) is too short (\(bodyLength) bytes of body)", record: number, at: at)
        }
        let id =
            type == PcapngSection.enhancedPacketBlock
            ? Int(u32(body, swapped: swapped)) : Int(u16(body, swapped: swapped))
        let t = UInt64(u32(body + 4, swapped: swapped)) << 32 | UInt64(u32(body + 8, swapped: swapped))
        let caplen = Int(u32(body + 12, swapped: swapped))
        let wirelen = Int(u32(body + 16, swapped: swapped))
        guard id < interfaces.count else {
            throw failure("packet on interface \(id), which has no interface description block", record: number, at: at)
        }
        let interface = interfaces[id]
        lastInterface = id
        guard caplen <= interface.snapshot else {
            throw failure(
                "absurd captured length \(caplen), bigger than the interface's snap length of \(interface.snapshot)",
                record: number, at: at)
        }
        guard caplen <= bodyLength - 20 else {
            throw failure(
                "\(name) is too short for its \(caplen) captured bytes (\(bodyLength - 20) bytes of data)",
                record: number, at: at)
        }
        count = number
        return CaptureRecord(
            data: base + body + 20, capturedLength: caplen, wireLength: wirelen,
            timestamp: interface.nanoseconds(t), linkType: interface.linkType, number: number,
            offset: windowOffset &+ at)
    }

    mutating func simplePacket(at: Int, body: Int, bodyLength: Int) throws(CaptureFileError) -> CaptureRecord {
        let number = count + 1
        guard bodyLength >= 4 else {
            throw failure("simple packet block is too short (\(bodyLength) bytes of body)", record: number, at: at)
        }
        guard let interface = interfaces.first else {
            throw failure("simple packet block before any interface description block", record: number, at: at)
        }
        lastInterface = 0
        let wirelen = Int(u32(body, swapped: swapped))
        let caplen = Swift.min(wirelen, interface.snapshot)
        guard caplen <= bodyLength - 4 else {
            throw failure(
                "simple packet block is too short for its \(caplen) captured bytes (\(bodyLength - 4) bytes of data)",
                record: number, at: at)
        }
        count = number
        return CaptureRecord(
            data: base + body + 4, capturedLength: caplen, wireLength: wirelen,
            timestamp: 0, linkType: interface.linkType, number: number, offset: windowOffset &+ at)
    }
}
