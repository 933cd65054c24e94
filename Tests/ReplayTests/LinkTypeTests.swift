import Capture
import DataPlane
import ForegroundRuns
import Packet
import TestSupport
import Testing

@Suite("Formats and link types")
struct LinkTypeTests {
    @Test(
        "pcap in both byte orders and resolutions reads the same",
        arguments: [
            (false, false), (false, true), (true, false), (true, true),
        ])
    func pcapVariants(bigEndian: Bool, nanosecond: Bool) async throws {
        var w = PcapWriter(bigEndian: bigEndian, nanosecond: nanosecond)
        w.record(Frames.udp4(), seconds: 100, fraction: 5)
        let path = temporaryDirectory("fmt") + "/f.pcap"
        writeFile(path, w.bytes)
        var reader = try CaptureFileReader(path: path)
        let r = try #require(try reader.next())
        #expect(r.timestamp == 100_000_000_000 + (nanosecond ? 5 : 5_000))
        #expect(r.capturedLength == 60)
        #expect(r.linkType == .ethernet)
        #expect(try reader.next() == nil)
    }

    @Test("pcapng with interfaces of different link types and timestamp resolutions")
    func pcapngInterfaces() async throws {
        var w = PcapngWriter()
        w.interface(linkType: 1, tsresol: 9)  // Ethernet, ns
        w.interface(linkType: 101, tsresol: 0x80 | 10, tsoffset: 1_000)  // RAW, 2^-10 s, +1000 s
        w.interface(linkType: 113)  // SLL, default µs
        w.packet(interface: 0, timestamp: 1_700_000_000_123_456_789, Frames.udp4())
        w.packet(interface: 1, timestamp: 5 * 1024 + 512, Frames.tcp4())  // 5.5 s
        var sll: [UInt8] = [0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 0x08, 0x00]
        sll += Frames.tcp4(dport: 443)
        w.packet(interface: 2, timestamp: 2_000_000, sll)
        w.section()  // a new section forgets its interfaces
        w.interface(linkType: 228)  // IPV4
        w.packet(interface: 0, timestamp: 0, Frames.tcp4(dport: 22))
        w.simplePacket(Frames.tcp4(dport: 23))
        let path = temporaryDirectory("ng") + "/multi.pcapng"
        writeFile(path, w.bytes)

        var reader = try CaptureFileReader(path: path)
        var records: [CaptureRecord] = []
        while let r = try reader.next() { records.append(r) }
        #expect(records.map(\.linkType) == [.ethernet, .raw, .linuxSLL, .ipv4, .ipv4])
        #expect(records[0].timestamp == 1_700_000_000_123_456_789)
        #expect(records[1].timestamp == 1_005_500_000_000)
        #expect(records[2].timestamp == 2_000_000_000)

        let report = try await replay([path])
        #expect(report.packets == 5)
        #expect(report.total(.udp) == 1)
        #expect(report.total(.tcp) == 4)
        #expect(report.total(.ipv4) == 5)
        #expect(report.flows.count == 5)
    }

    @Test("NULL, LOOP, RAW, SLL2 and an unsupported link type")
    func linkTypes() async throws {
        let dir = temporaryDirectory("lt")
        var files: [String] = []
        func add(_ linkType: UInt32, _ frame: [UInt8]) {
            var w = PcapWriter(linkType: linkType)
            w.record(frame)
            let path = dir + "/lt\(linkType)-\(files.count).pcap"
            writeFile(path, w.bytes)
            files.append(path)
        }
        add(0, [2, 0, 0, 0] + Frames.tcp4())  // NULL, little-endian AF_INET
        add(0, [0, 0, 0, 30] + Frames.udp6())  // NULL written big-endian, macOS AF_INET6
        add(108, [0, 0, 0, 2] + Frames.tcp4())  // LOOP, network order
        add(101, Frames.udp6())  // RAW v6
        add(276, [0x86, 0xDD, 0, 0, 0, 0, 0, 1, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0] + Frames.udp6())  // SLL2
        add(105, [UInt8](repeating: 0, count: 40))  // 802.11: unsupported
        let report = try await replay(files)
        #expect(report.packets == 6)
        #expect(report.total(.ipv4) == 2)
        #expect(report.total(.ipv6) == 3)
        #expect(report.total(.tcp) == 2)
        #expect(report.total(.udp) == 3)
        #expect(report.reader[.unsupportedLinkType] == 1)
        #expect(report.bytes == files.map { readFile($0)!.count - 40 }.reduce(0, +))
    }
}
