import Capture
import DataPlane
import ForegroundRuns
import StatsProtocol
import TestSupport
import Testing

@Suite("Damaged and missing files")
struct ReplayErrorTests {
    static let good: [UInt8] = {
        var w = PcapWriter()
        for i in 0..<10 { w.record(Frames.udp4(sport: UInt16(1000 + i)), fraction: UInt32(i)) }
        return w.bytes
    }()

    func file(_ name: String, _ bytes: [UInt8]) -> String {
        let path = temporaryDirectory("err") + "/" + name
        writeFile(path, bytes)
        return path
    }

    @Test("a missing file is named and the other files still play")
    func missing() async throws {
        let good = file("good.pcap", Self.good)
        let report = try await replay(["/nonexistent/none.pcap", good])
        #expect(report.errors.count == 1)
        #expect(report.errors[0].file == "/nonexistent/none.pcap")
        #expect(report.errors[0].message.contains("No such file"))
        #expect(report.packets == 10)
    }

    @Test("empty, directory, unreadable and wrongly-magicked files")
    func notCaptures() async throws {
        let empty = file("empty.pcap", [])
        let text = file("notes.txt", Array("hello, this is not a capture\n".utf8))
        let dir = temporaryDirectory("dir")
        let report = try await replay([empty, text, dir])
        let messages = report.errors.map(\.message)
        #expect(report.errors.map(\.file) == [empty, text, dir])
        #expect(messages[0].contains("empty file"))
        #expect(messages[1].contains("not a pcap or pcapng capture (first four bytes 0x68656c6c)"))
        #expect(messages[2].contains("directory"))
        #expect(report.packets == 0)
    }

    @Test("a cut-off file names the record and offset and keeps what came before")
    func cutOff() async throws {
        // 60-byte frames: record 7 starts at 24 + 6 × (16 + 60) = 480; cut 10
        // bytes into its data.
        #expect(Frames.udp4(sport: 1000).count == 60)
        let cut = file("cut.pcap", Array(Self.good.prefix(480 + 16 + 10)))
        let report = try await replay([cut])
        #expect(report.packets == 6)
        #expect(report.total(.processed) == 6)
        let e = try #require(report.errors.first)
        #expect(e.record == 7)
        #expect(e.offset == 480)
        #expect(e.message.contains("truncated record: the header says 60 captured bytes but only 10 remain"))
        #expect(e.description.hasPrefix(cut + ": record 7 at byte offset 480: "))
    }

    @Test("a cut-off record header")
    func cutHeader() async throws {
        let cut = file("cuthdr.pcap", Array(Self.good.prefix(480 + 5)))
        let report = try await replay([cut])
        #expect(report.packets == 6)
        #expect(report.errors.first?.message.contains("truncated record header") == true)
    }

    @Test("an absurd captured length beyond any snap length")
    func absurd() async throws {
        var w = PcapWriter()
        w.record(Frames.udp4())
        w.record(Frames.udp4(), caplen: 300_000)
        let path = file("absurd.pcap", w.bytes + Frames.udp4())
        let report = try await replay([path])
        #expect(report.packets == 1)
        let e = try #require(report.errors.first)
        #expect(e.record == 2)
        #expect(e.message.contains("absurd captured length 300000"))
    }

    @Test("the command exits non-zero, names the damage and still reports", .enabled(if: hasExecutable("labyrinthd")))
    func commandExitStatus() async throws {
        let good = file("good.pcap", Self.good)
        let cut = file("cut.pcap", Array(Self.good.prefix(480 + 16 + 10)))
        let r = run([executable("labyrinthd"), "replay", "--workers", "1", "--no-lock", "--json", cut, good])
        #expect(r.status == 1)
        #expect(r.stderr.contains("\(cut): record 7 at byte offset 480"))
        let json = try JSON.parse(r.stdout)
        #expect(json["packets"]?.intValue == 16)
        #expect(json["errors"]?.arrayValue?.first?["record"]?.intValue == 7)
        #expect(json["errors"]?.arrayValue?.first?["offset"]?.intValue == 480)
        let ok = run([executable("labyrinthd"), "replay", "--workers", "1", "--no-lock", good])
        #expect(ok.status == 0)
        #expect(ok.stdout.contains("Actual: 10 packets (600 bytes)"))
    }
}

func hasExecutable(_ name: String) -> Bool {
    readFile(executable(name)) != nil
}

@Suite("The bundled capture")
struct BundledCaptureTests {
    @Test("captures/loopback.pcap replays cleanly and agrees with libpcap")
    func bundled() async throws {
        let path = packageRoot + "/captures/loopback.pcap"
        let reference = libpcapRead(path)
        #expect(reference.error == nil)
        let report = try await replay([path])
        #expect(report.errors.isEmpty)
        #expect(report.packets == reference.records.count)
        #expect(report.bytes == reference.records.reduce(0) { $0 + $1.caplen })
        #expect(report.received == report.packets)
        #expect(report.total(.processed) == report.packets)
        #expect(
            report.total(.tcp) > 0 && report.total(.udp) > 0 && report.total(.icmp) > 0 && report.total(.icmpv6) > 0)
        // Its large pings need order-4 blocks: the buddy path is exercised.
        #expect(report.rooms.contains { $0.allocSlow > 0 })
    }
}
