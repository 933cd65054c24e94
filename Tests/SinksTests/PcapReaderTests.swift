import Sinks
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Files written with the encoders, read back by readers we did not write:
/// Wireshark's capinfos, tshark and editcap, libpcap, dpkt and scapy.
@Suite("pcapng and pcap files against independent readers")
struct PcapReaderTests {
    static let interfaces = [
        PcapngInterface(
            linkType: 1, snapLength: 262_144, name: "eth0", description: "uplink port", filter: "tcp port 80"),
        PcapngInterface(linkType: 113, snapLength: 262_144, name: "lo"),
        PcapngInterface(linkType: 101, snapLength: 262_144, name: "tun0", filter: "ip"),
    ]

    static let statistics: [(UInt32, Int64, PcapngInterfaceStatistics)] = [
        (
            0, 1_700_000_100_000_000_001,
            PcapngInterfaceStatistics(
                startNanoseconds: 1_700_000_000_000_000_001, endNanoseconds: 1_700_000_100_000_000_001,
                received: 1234, interfaceDropped: 5, osDropped: 6, delivered: 1223)
        ),
        (1, 1_700_000_100_000_000_002, PcapngInterfaceStatistics(received: 42)),
        (2, 1_700_000_100_000_000_003, PcapngInterfaceStatistics()),
    ]

    /// Writes bytes to a fresh file; returns its path.
    func write(_ bytes: [UInt8], _ name: String) -> String {
        let path = temporaryDirectory("sinks-pcap") + "/" + name
        writeFile(path, bytes)
        return path
    }

    /// Removes a file and its directory.
    func remove(_ path: String) {
        unlink(path)
        rmdir(String(path[..<path.lastIndex(of: "/")!]))
    }

    /// stderr without the line tshark and capinfos print for root.
    func complaints(_ r: ProcessResult) -> String {
        r.stderr.split(separator: "\n").filter { !$0.contains("could be dangerous") }.joined(separator: "\n")
    }

    @Test("pcapng, three interfaces and link types: capinfos, tshark and editcap read every block")
    func pcapngWithWireshark() throws {
        try requireTool("capinfos", package: "wireshark-common")
        try requireTool("tshark", package: "tshark")
        try requireTool("editcap", package: "wireshark-common")
        let frames = testFrames(interfaces: 3)
        let path = write(
            try pcapngFile(interfaces: Self.interfaces, frames: frames, statistics: Self.statistics), "a.pcapng")
        defer { remove(path) }

        let info = run(["capinfos", path])
        #expect(info.status == 0, "capinfos: \(info.stderr)")
        #expect(complaints(info).isEmpty, "capinfos: \(info.stderr)")
        #expect(info.stdout.contains("File type:           Wireshark/... - pcapng"), "\(info.stdout)")
        #expect(info.stdout.contains("Number of packets:   \(frames.count)"), "\(info.stdout)")
        #expect(info.stdout.contains("Number of interfaces in file: 3"), "\(info.stdout)")
        #expect(info.stdout.contains("Capture application: labyrinthd 0.9.0-test"), "\(info.stdout)")
        #expect(info.stdout.contains("Capture oper-sys:    Linux 6.1"), "\(info.stdout)")
        #expect(info.stdout.contains("Name = eth0"), "\(info.stdout)")
        #expect(info.stdout.contains("Description = uplink port"), "\(info.stdout)")
        #expect(info.stdout.contains("Filter string = tcp port 80"), "\(info.stdout)")
        #expect(info.stdout.contains("Name = lo"), "\(info.stdout)")
        #expect(info.stdout.contains("Name = tun0"), "\(info.stdout)")
        #expect(info.stdout.contains("Filter string = ip"), "\(info.stdout)")
        #expect(info.stdout.contains("Time precision = nanoseconds (9)"), "\(info.stdout)")
        #expect(info.stdout.contains("Number of stat entries = 1"), "\(info.stdout)")
        #expect(!info.stdout.contains("Number of stat entries = 0"), "\(info.stdout)")
        for encapsulation in [
            "Encapsulation = Ethernet (1", "Encapsulation = Linux cooked-mode capture v1 (25",
            "Encapsulation = Raw IP (7",
        ] {
            #expect(info.stdout.contains(encapsulation), "\(encapsulation) in \(info.stdout)")
        }

        // Every packet, its interface, lengths and nanosecond timestamp.
        let fields = run([
            "tshark", "-r", path, "-T", "fields", "-e", "frame.interface_id", "-e", "frame.interface_name", "-e",
            "frame.time_epoch", "-e", "frame.cap_len", "-e", "frame.len",
        ])
        #expect(fields.status == 0, "tshark: \(fields.stderr)")
        #expect(complaints(fields).isEmpty, "tshark: \(fields.stderr)")
        let expected = frames.map { f in
            let s = f.nanoseconds / 1_000_000_000
            let ns = String(f.nanoseconds % 1_000_000_000)
            let fraction = String(repeating: "0", count: 9 - ns.count) + ns
            return [
                "\(f.interface)", Self.interfaces[Int(f.interface)].name, "\(s).\(fraction)", "\(f.bytes.count)",
                "\(f.originalLength)",
            ].joined(separator: "\t")
        }
        #expect(fields.stdout.split(separator: "\n").map(String.init) == expected)

        // The interface options, as tshark decodes them for each frame.
        let verbose = run(["tshark", "-r", path, "-V", "-c", "3"])
        #expect(verbose.status == 0, "tshark -V: \(verbose.stderr)")
        for line in [
            "Interface name: eth0", "Interface description: uplink port", "Interface name: lo",
            "Interface name: tun0",
        ] {
            #expect(verbose.stdout.contains(line), "\(line) not in tshark -V")
        }

        // editcap rewrites it without complaint, and the copy reads the same.
        let copy = path + ".copy.pcapng"
        defer { unlink(copy) }
        let edit = run(["editcap", path, copy])
        #expect(edit.status == 0, "editcap: \(edit.stderr)")
        #expect(complaints(edit).isEmpty, "editcap: \(edit.stderr)")
        let again = run(["capinfos", "-c", "-M", copy])
        #expect(again.stdout.contains("Number of packets:   \(frames.count)"), "\(again.stdout)")
    }

    @Test("pcapng: dpkt and scapy read every option, frame byte and nanosecond")
    func pcapngWithPython() throws {
        try requirePython(modules: ["dpkt", "scapy"])
        let frames = testFrames(interfaces: 3)
        let path = write(
            try pcapngFile(interfaces: Self.interfaces, frames: frames, statistics: Self.statistics), "b.pcapng")
        defer { remove(path) }

        // dpkt, block by block.
        var expected = ["shb 1.0 4=\("labyrinthd 0.9.0-test".hexUTF8) 3=\("Linux 6.1".hexUTF8)"]
        expected += [
            "idb 1 262144 2=\("eth0".hexUTF8) 3=\("uplink port".hexUTF8) 9=09 11=00\("tcp port 80".hexUTF8)",
            "idb 113 262144 2=\("lo".hexUTF8) 9=09",
            "idb 101 262144 2=\("tun0".hexUTF8) 9=09 11=00\("ip".hexUTF8)",
        ]
        expected += frames.map {
            "epb \($0.interface) \($0.nanoseconds) \($0.bytes.count) \($0.originalLength) \($0.bytes.hex)"
        }
        expected += [
            "isb 0 1700000100000000001 2=1700000000000000001 3=1700000100000000001 4=1234 5=5 7=6 8=1223",
            "isb 1 1700000100000000002 4=42",
            "isb 2 1700000100000000003 ",
        ]
        let dpkt = try python(dpktOracle, [path])
        #expect(dpkt.count == expected.count)
        for (ours, theirs) in zip(expected, dpkt) {
            #expect(ours == theirs)
        }

        // scapy, packet by packet.
        let scapy = try python(scapyOracle, [path])
        let expectedScapy = frames.map {
            let i = Self.interfaces[Int($0.interface)]
            return "pkt \(i.linkType) \(i.name) \($0.nanoseconds) \($0.originalLength) \($0.bytes.hex)"
        }
        #expect(scapy.count == expectedScapy.count)
        for (ours, theirs) in zip(expectedScapy, scapy) {
            #expect(ours == theirs)
        }
    }

    @Test("pcapng with two Ethernet interfaces: libpcap reads every record and nanosecond")
    func pcapngWithLibpcap() throws {
        // libpcap takes a pcapng file only when all interfaces share a link
        // type and snap length.
        let interfaces = [
            PcapngInterface(linkType: 1, snapLength: 262_144, name: "eth0", filter: "udp"),
            PcapngInterface(linkType: 1, snapLength: 262_144, name: "eth1"),
        ]
        let frames = testFrames(interfaces: 2)
        let path = write(try pcapngFile(interfaces: interfaces, frames: frames), "c.pcapng")
        defer { remove(path) }
        let read = libpcapRead(path)
        #expect(read.error == nil)
        #expect(
            read.records
                == frames.map {
                    LibpcapRecord(caplen: $0.bytes.count, wirelen: $0.originalLength, ns: $0.nanoseconds)
                })
        #expect(read.records.allSatisfy { $0.ns != nil })
    }

    @Test("classic pcap, nanosecond magic: every reader agrees on every record")
    func classicPcap() throws {
        try requireTool("capinfos", package: "wireshark-common")
        try requireTool("tshark", package: "tshark")
        try requireTool("editcap", package: "wireshark-common")
        try requirePython(modules: ["dpkt", "scapy"])
        let frames = testFrames(interfaces: 1)
        let path = write(try pcapFile(linkType: 1, frames: frames), "d.pcap")
        defer { remove(path) }

        let info = run(["capinfos", path])
        #expect(info.status == 0, "capinfos: \(info.stderr)")
        #expect(complaints(info).isEmpty, "capinfos: \(info.stderr)")
        #expect(info.stdout.contains("File type:           Wireshark/tcpdump/... - nanosecond pcap"), "\(info.stdout)")
        #expect(info.stdout.contains("Number of packets:   \(frames.count)"), "\(info.stdout)")
        #expect(info.stdout.contains("File encapsulation:  Ethernet"), "\(info.stdout)")

        let fields = run(["tshark", "-r", path, "-T", "fields", "-e", "frame.time_epoch", "-e", "frame.cap_len"])
        #expect(fields.status == 0, "tshark: \(fields.stderr)")
        #expect(complaints(fields).isEmpty, "tshark: \(fields.stderr)")
        #expect(
            fields.stdout.split(separator: "\n").map(String.init)
                == frames.map { f in
                    let ns = String(f.nanoseconds % 1_000_000_000)
                    return
                        "\(f.nanoseconds / 1_000_000_000).\(String(repeating: "0", count: 9 - ns.count) + ns)\t\(f.bytes.count)"
                })

        let copy = path + ".copy.pcapng"
        defer { unlink(copy) }
        let edit = run(["editcap", "-F", "pcapng", path, copy])
        #expect(edit.status == 0, "editcap: \(edit.stderr)")
        #expect(complaints(edit).isEmpty, "editcap: \(edit.stderr)")

        let read = libpcapRead(path)
        #expect(read.error == nil)
        #expect(
            read.records
                == frames.map {
                    LibpcapRecord(caplen: $0.bytes.count, wirelen: $0.originalLength, ns: $0.nanoseconds)
                })

        let dpkt = try python(dpktOracle, [path])
        let expectedDpkt =
            ["pcap a1b23c4d 2.4 262144 1"]
            + frames.map { "rec \($0.nanoseconds) \($0.bytes.count) \($0.originalLength) \($0.bytes.hex)" }
        #expect(dpkt.count == expectedDpkt.count)
        for (ours, theirs) in zip(expectedDpkt, dpkt) {
            #expect(ours == theirs)
        }

        let scapy = try python(scapyOracle, [path])
        let expectedScapy =
            ["link 1 nano True"]
            + frames.map { "pkt \($0.nanoseconds) \($0.bytes.count) \($0.originalLength) \($0.bytes.hex)" }
        #expect(scapy.count == expectedScapy.count)
        for (ours, theirs) in zip(expectedScapy, scapy) {
            #expect(ours == theirs)
        }
    }

    /// Where to cut a file: inside the last block's header, inside its frame,
    /// inside its trailer.
    enum Cut: String, CaseIterable, CustomTestStringConvertible {
        case inHeader, inFrame, inTrailer
        var testDescription: String { rawValue }
    }

    @Test(
        "a pcapng file cut inside its last block, as after SIGKILL: every complete block reads, the cut is reported",
        arguments: Cut.allCases)
    func cutPcapng(cut: Cut) throws {
        try requireTool("tshark", package: "tshark")
        let interfaces = [PcapngInterface(linkType: 1, snapLength: 262_144, name: "eth0")]
        let frames = testFrames(interfaces: 1, lengths: [64, 1514, 9001, 1515])
        let whole = try pcapngFile(interfaces: interfaces, frames: frames)
        let last = PcapngEncoder.enhancedPacketLength(capturedLength: frames.last!.bytes.count)!
        let lastStart = whole.count - last
        let end: Int
        switch cut {
        case .inHeader: end = lastStart + 13
        case .inFrame: end = lastStart + PcapngEncoder.epbHeaderSize + 700
        case .inTrailer: end = whole.count - 2
        }
        let path = write(Array(whole[..<end]), "cut.pcapng")
        defer { remove(path) }

        let tshark = run(["tshark", "-r", path, "-T", "fields", "-e", "frame.len"])
        #expect(
            tshark.stdout.split(separator: "\n").map(String.init) == frames.dropLast().map { "\($0.originalLength)" })
        #expect(tshark.stderr.contains("cut short in the middle of a packet"), "tshark: \(tshark.stderr)")
        #expect(tshark.status != 0)

        let read = libpcapRead(path)
        #expect(read.records.count == frames.count - 1)
        #expect(read.error?.contains("truncated") == true, "libpcap: \(read.error ?? "no error")")
    }

    @Test(
        "a pcap file cut inside its last record: every complete record reads, the cut is reported",
        arguments: [Cut.inHeader, .inFrame])
    func cutPcap(cut: Cut) throws {
        try requireTool("tshark", package: "tshark")
        let frames = testFrames(interfaces: 1, lengths: [64, 1514, 9001, 1515])
        let whole = try pcapFile(linkType: 1, frames: frames)
        let lastStart = whole.count - PcapEncoder.recordHeaderSize - frames.last!.bytes.count
        let end = cut == .inHeader ? lastStart + 9 : lastStart + PcapEncoder.recordHeaderSize + 700
        let path = write(Array(whole[..<end]), "cut.pcap")
        defer { remove(path) }

        let tshark = run(["tshark", "-r", path, "-T", "fields", "-e", "frame.len"])
        #expect(
            tshark.stdout.split(separator: "\n").map(String.init) == frames.dropLast().map { "\($0.originalLength)" })
        #expect(tshark.stderr.contains("cut short in the middle of a packet"), "tshark: \(tshark.stderr)")
        #expect(tshark.status != 0)

        let read = libpcapRead(path)
        #expect(read.records.count == frames.count - 1)
        #expect(read.error?.contains("truncated") == true, "libpcap: \(read.error ?? "no error")")
    }
}
