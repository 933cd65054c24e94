/// Builds capture files byte by byte, for tests: classic pcap in either byte
/// order and resolution, and pcapng with any interfaces and blocks.
public struct PcapWriter {
    public private(set) var bytes: [UInt8] = []
    let bigEndian: Bool
    let nanosecond: Bool

    public init(
        linkType: UInt32 = 1, snaplen: UInt32 = 262_144, bigEndian: Bool = false, nanosecond: Bool = false,
        version: (UInt16, UInt16) = (2, 4)
    ) {
        self.bigEndian = bigEndian
        self.nanosecond = nanosecond
        u32(nanosecond ? 0xA1B2_3C4D : 0xA1B2_C3D4)
        u16(version.0)
        u16(version.1)
        u32(0)
        u32(0)
        u32(snaplen)
        u32(linkType)
    }

    mutating func u16(_ v: UInt16) {
        let x = bigEndian ? v.bigEndian : v.littleEndian
        withUnsafeBytes(of: x) { bytes.append(contentsOf: $0) }
    }

    mutating func u32(_ v: UInt32) {
        let x = bigEndian ? v.bigEndian : v.littleEndian
        withUnsafeBytes(of: x) { bytes.append(contentsOf: $0) }
    }

    /// Appends a record; `caplen` defaults to the data's length, `wirelen`
    /// to caplen. A lying caplen lets tests build damaged files.
    public mutating func record(
        _ data: [UInt8], seconds: UInt32 = 1_700_000_000, fraction: UInt32 = 0, caplen: UInt32? = nil,
        wirelen: UInt32? = nil
    ) {
        u32(seconds)
        u32(fraction)
        u32(caplen ?? UInt32(data.count))
        u32(wirelen ?? caplen ?? UInt32(data.count))
        bytes.append(contentsOf: data)
    }
}

public struct PcapngWriter {
    public private(set) var bytes: [UInt8] = []

    public init() {
        section()
    }

    mutating func u16(_ v: UInt16, into b: inout [UInt8]) {
        withUnsafeBytes(of: v.littleEndian) { b.append(contentsOf: $0) }
    }
    mutating func u32(_ v: UInt32, into b: inout [UInt8]) {
        withUnsafeBytes(of: v.littleEndian) { b.append(contentsOf: $0) }
    }

    /// Appends a block: type, length, body (padded to 4), length.
    public mutating func block(_ type: UInt32, _ body: [UInt8]) {
        var padded = body
        while padded.count % 4 != 0 { padded.append(0) }
        let length = UInt32(12 + padded.count)
        var b: [UInt8] = []
        u32(type, into: &b)
        u32(length, into: &b)
        b += padded
        u32(length, into: &b)
        bytes += b
    }

    /// A section header block (starts a new set of interfaces).
    public mutating func section() {
        var body: [UInt8] = []
        u32(0x1A2B_3C4D, into: &body)
        u16(1, into: &body)
        u16(0, into: &body)
        body += [UInt8](repeating: 0xFF, count: 8)  // section length: unknown
        block(0x0A0D_0D0A, body)
    }

    /// An interface description block. `tsresol` is the raw option byte.
    public mutating func interface(
        linkType: UInt16, snaplen: UInt32 = 262_144, tsresol: UInt8? = nil, tsoffset: Int64? = nil
    ) {
        var body: [UInt8] = []
        u16(linkType, into: &body)
        u16(0, into: &body)
        u32(snaplen, into: &body)
        if let tsresol {
            u16(9, into: &body)
            u16(1, into: &body)
            body += [tsresol, 0, 0, 0]
        }
        if let tsoffset {
            u16(14, into: &body)
            u16(8, into: &body)
            withUnsafeBytes(of: tsoffset.littleEndian) { body.append(contentsOf: $0) }
        }
        u16(0, into: &body)
        u16(0, into: &body)
        block(1, body)
    }

    /// An enhanced packet block; `timestamp` in the interface's units.
    public mutating func packet(interface: UInt32, timestamp: UInt64, _ data: [UInt8], wirelen: UInt32? = nil) {
        var body: [UInt8] = []
        u32(interface, into: &body)
        u32(UInt32(timestamp >> 32), into: &body)
        u32(UInt32(truncatingIfNeeded: timestamp), into: &body)
        u32(UInt32(data.count), into: &body)
        u32(wirelen ?? UInt32(data.count), into: &body)
        body += data
        block(6, body)
    }

    /// A simple packet block (interface 0, no timestamp).
    public mutating func simplePacket(_ data: [UInt8], wirelen: UInt32? = nil) {
        var body: [UInt8] = []
        u32(wirelen ?? UInt32(data.count), into: &body)
        body += data
        block(3, body)
    }
}

/// Frames for tests, built by hand so that every byte is known.
public enum Frames {
    /// Ethernet + IPv4 + UDP with `payload` bytes, from a:sport to b:dport.
    public static func udp4(
        src: [UInt8] = [10, 0, 0, 1], dst: [UInt8] = [10, 0, 0, 2], sport: UInt16 = 1234, dport: UInt16 = 53,
        payload: Int = 18, vlan: [UInt16] = []
    ) -> [UInt8] {
        var f: [UInt8] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]
        for (i, id) in vlan.enumerated() {
            f += i == 0 && vlan.count > 1 ? [0x88, 0xA8] : [0x81, 0x00]
            f += [UInt8(id >> 8), UInt8(id & 0xFF)]
        }
        f += [0x08, 0x00]
        let total = 20 + 8 + payload
        f += [0x45, 0, UInt8(total >> 8), UInt8(total & 0xFF), 0, 1, 0, 0, 64, 17, 0, 0] + src + dst
        f += [UInt8(sport >> 8), UInt8(sport & 0xFF), UInt8(dport >> 8), UInt8(dport & 0xFF)]
        f += [UInt8((8 + payload) >> 8), UInt8((8 + payload) & 0xFF), 0, 0]
        f += [UInt8](repeating: 0xAB, count: payload)
        return f
    }

    /// A bare IPv4 + TCP packet (for RAW, NULL and SLL link types).
    public static func tcp4(
        src: [UInt8] = [192, 168, 1, 1], dst: [UInt8] = [192, 168, 1, 2], sport: UInt16 = 40000, dport: UInt16 = 80,
        flags: UInt8 = 0x02
    ) -> [UInt8] {
        var p: [UInt8] = [0x45, 0, 0, 40, 0, 2, 0x40, 0, 64, 6, 0, 0] + src + dst
        p += [UInt8(sport >> 8), UInt8(sport & 0xFF), UInt8(dport >> 8), UInt8(dport & 0xFF)]
        p += [0, 0, 0, 1, 0, 0, 0, 0, 0x50, flags, 0xFF, 0xFF, 0, 0, 0, 0]
        return p
    }

    /// Ethernet + IPv4 + UDP around `payload` (a datagram as it was sent),
    /// from 127.0.0.1:sport to 127.0.0.1:dport, with a valid IPv4 checksum
    /// and no UDP checksum (allowed over IPv4).
    public static func loopbackUDP(_ payload: [UInt8], sport: UInt16, dport: UInt16) -> [UInt8] {
        var f: [UInt8] = [0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 2, 0x08, 0x00]
        let total = 20 + 8 + payload.count
        var ip: [UInt8] = [0x45, 0, UInt8(total >> 8), UInt8(total & 0xFF), 0, 1, 0x40, 0, 64, 17, 0, 0]
        ip += [127, 0, 0, 1, 127, 0, 0, 1]
        var sum: UInt32 = 0
        for i in stride(from: 0, to: 20, by: 2) { sum += UInt32(ip[i]) << 8 | UInt32(ip[i + 1]) }
        while sum > 0xFFFF { sum = (sum & 0xFFFF) + (sum >> 16) }
        let checksum = ~UInt16(sum)
        ip[10] = UInt8(checksum >> 8)
        ip[11] = UInt8(checksum & 0xFF)
        f += ip
        let udpLength = 8 + payload.count
        f += [UInt8(sport >> 8), UInt8(sport & 0xFF), UInt8(dport >> 8), UInt8(dport & 0xFF)]
        f += [UInt8(udpLength >> 8), UInt8(udpLength & 0xFF), 0, 0]
        return f + payload
    }

    /// A bare IPv6 + UDP packet.
    public static func udp6(sport: UInt16 = 5353, dport: UInt16 = 5353) -> [UInt8] {
        var p: [UInt8] = [0x60, 0, 0, 0, 0, 8, 17, 64]
        p += [0xFE, 0x80] + [UInt8](repeating: 0, count: 13) + [1]
        p += [0xFF, 0x02] + [UInt8](repeating: 0, count: 13) + [0xFB]
        p += [UInt8(sport >> 8), UInt8(sport & 0xFF), UInt8(dport >> 8), UInt8(dport & 0xFF), 0, 8, 0, 0]
        return p
    }
}
