import Sinks
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A frame as a test records it.
struct TestFrame: Equatable {
    var interface: UInt32
    var nanoseconds: Int64
    var bytes: [UInt8]
    var originalLength: Int
}

/// Deterministic frame bytes (an LCG), so every byte of every frame differs
/// from its neighbours' and a shifted or padded read shows.
func frameBytes(_ count: Int, seed: UInt64) -> [UInt8] {
    var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
    return (0..<count).map { _ in
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return UInt8(truncatingIfNeeded: state >> 56)
    }
}

/// Frame lengths from the smallest Ethernet frame to a 64 KiB room block,
/// covering every padding remainder.
let recordedLengths = [64, 65, 66, 67, 1514, 1515, 9000, 9001, 65535, 65536]

/// Frames spread over `interfaces` interfaces, with timestamps that use all
/// nine decimals.
func testFrames(interfaces: Int, lengths: [Int] = recordedLengths) -> [TestFrame] {
    var frames: [TestFrame] = []
    var ns: Int64 = 1_700_000_000_123_456_789
    for (i, length) in lengths.enumerated() {
        let interface = UInt32(i % interfaces)
        frames.append(
            TestFrame(
                interface: interface, nanoseconds: ns, bytes: frameBytes(length, seed: UInt64(i + 1)),
                originalLength: length + (i % 3 == 0 ? 0 : 100)))
        ns += 1_000_000_007 + Int64(i) * 13
    }
    return frames
}

/// Records `frame` the zero-copy way: the frame sits in a 64 KiB page block
/// with the encoder's headroom before it, the header and trailer are written
/// around it in place, and the contiguous span is appended, as one iovec.
func appendZeroCopyEPB(_ frame: TestFrame, to file: inout [UInt8]) throws {
    let headroom = PcapngEncoder.epbHeaderSize
    let page = UnsafeMutableRawBufferPointer.allocate(
        byteCount: headroom + 65536 + PcapngEncoder.epbMaximumTrailerSize, alignment: 4096)
    defer { page.deallocate() }
    // Garbage where the padding goes: the trailer must zero it.
    page.initializeMemory(as: UInt8.self, repeating: 0xEE)
    let base = page.baseAddress!
    frame.bytes.withUnsafeBytes { (base + headroom).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
    let h = try PcapngEncoder.epbHeader(
        into: base, interface: frame.interface, timestampNanoseconds: frame.nanoseconds,
        capturedLength: frame.bytes.count, originalLength: frame.originalLength)
    let t = try PcapngEncoder.epbTrailer(into: base + headroom + frame.bytes.count, capturedLength: frame.bytes.count)
    file += UnsafeRawBufferPointer(start: base, count: h + frame.bytes.count + t)
}

/// Same for classic pcap: the 16-byte record header in the headroom.
func appendZeroCopyRecord(_ frame: TestFrame, to file: inout [UInt8]) throws {
    let headroom = PcapEncoder.recordHeaderSize
    var page = [UInt8](repeating: 0xEE, count: headroom + frame.bytes.count)
    page.replaceSubrange(headroom..., with: frame.bytes)
    let h = try page.withUnsafeMutableBytes {
        try PcapEncoder.recordHeader(
            into: $0.baseAddress!, timestampNanoseconds: frame.nanoseconds, capturedLength: frame.bytes.count,
            originalLength: frame.originalLength)
    }
    #expect(h == headroom)
    file += page
}

/// Encodes with a size function and a writer into a fresh array.
func encoded(
    _ length: Int, _ write: (UnsafeMutableRawBufferPointer) throws -> Int
) throws -> [UInt8] {
    var out = [UInt8](repeating: 0xEE, count: length)
    let n = try out.withUnsafeMutableBytes { b in try write(b) }
    #expect(n == length)
    return out
}

/// A whole pcapng file: SHB, one IDB per interface, the frames (zero copy),
/// then the statistics blocks.
func pcapngFile(
    interfaces: [PcapngInterface], frames: [TestFrame], statistics: [(UInt32, Int64, PcapngInterfaceStatistics)] = [],
    version: String = "0.9.0-test", os: String? = "Linux 6.1"
) throws -> [UInt8] {
    var file = try encoded(PcapngEncoder.sectionHeaderLength(version: version, os: os)) {
        b in try PcapngEncoder.sectionHeader(into: b, version: version, os: os)
    }
    for interface in interfaces {
        file += try encoded(PcapngEncoder.interfaceDescriptionLength(interface)) { b in
            try PcapngEncoder.interfaceDescription(into: b, interface)
        }
    }
    for frame in frames {
        try appendZeroCopyEPB(frame, to: &file)
    }
    for (interface, ns, s) in statistics {
        file += try encoded(PcapngEncoder.interfaceStatisticsLength(s)) { b in
            try PcapngEncoder.interfaceStatistics(into: b, interface: interface, timestampNanoseconds: ns, s)
        }
    }
    return file
}

/// A whole classic pcap file (zero copy records).
func pcapFile(linkType: UInt32, snapLength: UInt32 = 262_144, frames: [TestFrame]) throws -> [UInt8] {
    var file = [UInt8](repeating: 0, count: PcapEncoder.fileHeaderSize)
    _ = file.withUnsafeMutableBytes {
        PcapEncoder.fileHeader(into: $0.baseAddress!, snapLength: snapLength, linkType: linkType)
    }
    for frame in frames {
        try appendZeroCopyRecord(frame, to: &file)
    }
    return file
}

// MARK: Independent readers

/// Fails the test, with the way to install it, when a tool is missing.
func requireTool(_ name: String, package: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
    let found = run(["sh", "-c", "command -v \(name)"])
    try #require(
        found.status == 0, "\(name) is not installed: apt-get install \(package)", sourceLocation: sourceLocation)
}

/// Fails the test when python3 or one of its modules is missing.
func requirePython(modules: [String], sourceLocation: SourceLocation = #_sourceLocation) throws {
    try requireTool("python3", package: "python3", sourceLocation: sourceLocation)
    for module in modules {
        let r = run(["python3", "-c", "import \(module)"])
        try #require(
            r.status == 0, "python3 module \(module) is missing: python3 -m pip install \(module)\n\(r.stderr)",
            sourceLocation: sourceLocation)
    }
}

/// Runs a python script on a file; its stdout lines.
func python(_ script: String, _ arguments: [String]) throws -> [String] {
    let dir = temporaryDirectory("sinks-py")
    defer { rmdir(dir) }
    let path = dir + "/oracle.py"
    writeFile(path, Array(script.utf8))
    defer { unlink(path) }
    let r = run(["python3", path] + arguments)
    try #require(r.status == 0, "python3 failed (\(r.status)): \(r.stderr)")
    return r.stdout.split(separator: "\n").map(String.init)
}

/// dpkt, block by block: SHB and IDB options, each EPB's interface,
/// timestamp (exact, from its two halves), lengths and bytes; for classic
/// pcap, the file header and each record. ISBs (which dpkt does not parse)
/// are decoded with struct and their options listed.
let dpktOracle = #"""
    import struct, sys
    import dpkt
    from dpkt import pcapng

    def options(opts):
        out = []
        for o in opts:
            if o.code == 0:
                continue
            out.append("%d=%s" % (o.code, bytes(o.data).hex()))
        return " ".join(out)

    path = sys.argv[1]
    data = open(path, "rb").read()
    if data[:4] in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d"):
        le = data[:4] == b"\x4d\x3c\xb2\xa1"
        fh = dpkt.pcap.LEFileHdr(data[:24]) if le else dpkt.pcap.FileHdr(data[:24])
        print("pcap %x %d.%d %d %d" % (fh.magic, fh.v_major, fh.v_minor, fh.snaplen, fh.linktype))
        off = 24
        while off + 16 <= len(data):
            h = dpkt.pcap.LEPktHdr(data[off:off + 16]) if le else dpkt.pcap.PktHdr(data[off:off + 16])
            frame = data[off + 16:off + 16 + h.caplen]
            if len(frame) < h.caplen:
                print("cut")
                break
            print("rec %d %d %d %s" % (h.tv_sec * 1000000000 + h.tv_usec, h.caplen, h.len, frame.hex()))
            off += 16 + h.caplen
        sys.exit(0)
    le = data[8:12] == b"\x4d\x3c\x2b\x1a"
    e = "<" if le else ">"
    off = 0
    while off + 12 <= len(data):
        btype, blen = struct.unpack(e + "II", data[off:off + 8])
        block = data[off:off + blen]
        if len(block) < blen:
            print("cut")
            break
        (trailer,) = struct.unpack(e + "I", block[-4:])
        assert trailer == blen, "trailing length %d != %d" % (trailer, blen)
        if btype == pcapng.PCAPNG_BT_SHB:
            b = pcapng.SectionHeaderBlockLE(block) if le else pcapng.SectionHeaderBlock(block)
            print("shb %d.%d %s" % (b.v_major, b.v_minor, options(b.opts)))
        elif btype == pcapng.PCAPNG_BT_IDB:
            b = pcapng.InterfaceDescriptionBlockLE(block) if le else pcapng.InterfaceDescriptionBlock(block)
            print("idb %d %d %s" % (b.linktype, b.snaplen, options(b.opts)))
        elif btype == pcapng.PCAPNG_BT_EPB:
            b = pcapng.EnhancedPacketBlockLE(block) if le else pcapng.EnhancedPacketBlock(block)
            ns = (b.ts_high << 32) | b.ts_low
            print("epb %d %d %d %d %s" % (b.iface_id, ns, b.caplen, b.pkt_len, bytes(b.pkt_data).hex()))
        elif btype == 5:
            iface, hi, lo = struct.unpack(e + "III", block[8:20])
            opts, p = [], 20
            while p + 4 <= blen - 4:
                code, length = struct.unpack(e + "HH", block[p:p + 4])
                if code == 0:
                    break
                v = block[p + 4:p + 4 + length]
                if code in (2, 3):
                    h2, l2 = struct.unpack(e + "II", v)
                    opts.append("%d=%d" % (code, (h2 << 32) | l2))
                else:
                    opts.append("%d=%d" % (code, struct.unpack(e + "Q", v)[0]))
                p += 4 + (length + 3) // 4 * 4
            print("isb %d %d %s" % (iface, (hi << 32) | lo, " ".join(opts)))
        else:
            print("block %d" % btype)
        off += blen
    """#

/// scapy's raw readers: each packet's link type, exact timestamp (the raw
/// halves, or seconds and nanoseconds), wire length and bytes.
let scapyOracle = #"""
    import sys
    from scapy.utils import RawPcapReader, RawPcapNgReader
    path = sys.argv[1]
    head = open(path, "rb").read(4)
    if head == b"\x0a\x0d\x0d\x0a":
        r = RawPcapNgReader(path)
        while True:
            try:
                data, m = r._read_packet(size=1 << 20)
            except EOFError:
                break
            assert m.tsresol == 10 ** 9, m.tsresol
            print("pkt %d %s %d %d %s" % (m.linktype, m.ifname.decode(), (m.tshigh << 32) | m.tslow, m.wirelen,
                                          data.hex()))
    else:
        r = RawPcapReader(path)
        print("link %d nano %s" % (r.linktype, r.nano))
        while True:
            try:
                data, m = r._read_packet(size=1 << 20)
            except EOFError:
                break
            print("pkt %d %d %d %s" % (m.sec * 1000000000 + m.usec, m.caplen, m.wirelen, data.hex()))
    """#

extension [UInt8] {
    var hex: String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(count * 2)
        for b in self {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}

extension String {
    var hexUTF8: String { Array(utf8).hex }
}
