import Extraction
import Packet
import Testing

@Suite("Extraction's parts: times, flows, the index format and its Bloom filters")
struct ExtractionTests {
    @Test("times: epoch seconds with a fraction and RFC 3339, exact to the nanosecond; nonsense refused")
    func times() {
        #expect(ExtractTime.parse("1700000000") == 1_700_000_000_000_000_000)
        #expect(ExtractTime.parse("1700000000.000000001") == 1_700_000_000_000_000_001)
        #expect(ExtractTime.parse("1700000000.5") == 1_700_000_000_500_000_000)
        #expect(ExtractTime.parse("2023-11-14T22:13:20Z") == 1_700_000_000_000_000_000)
        #expect(ExtractTime.parse("2023-11-14T22:13:20.25Z") == 1_700_000_000_250_000_000)
        #expect(ExtractTime.parse("2023-11-14T23:13:20.000000007+01:00") == 1_700_000_000_000_000_007)
        #expect(ExtractTime.parse("2023-11-14 21:13:20-01:00") == 1_700_000_000_000_000_000)
        for bad in [
            "", "yesterday", "1.2.3", "1700000000.1234567891", "2023-02-31T00:00:00Z", "2023-11-14T22:13:20",
            "2023-11-14T25:00:00Z", "99999999999999999999", "-", "2023-11-14T22:13:20+1:00",
        ] {
            #expect(ExtractTime.parse(bad) == nil, "\(bad)")
        }
        #expect(ExtractTime.format(1_700_000_000_000_000_007) == "2023-11-14T22:13:20.000000007Z")
    }

    @Test("--flow: two hosts (either order), optional ports and protocol; bad ones named")
    func flows() throws {
        let f = try FlowSelector("10.0.0.2 10.0.0.1 tcp")
        let g = try FlowSelector("10.0.0.1 10.0.0.2")
        #expect(f.pair == g.pair && f.pair.hash == g.pair.hash)
        #expect(f.proto == 6 && g.proto == nil)
        let v6 = try FlowSelector("[2001:db8::1]:443 2001:db8::2 tcp")
        #expect(v6.a.port == 443 && v6.pair.version == 6)
        #expect(try FlowSelector("10.0.0.1:80 10.0.0.2:5000").b.port == 5000)
        for (bad, says) in [
            ("10.0.0.1", "two hosts"), ("10.0.0.1 2001:db8::1", "IPv4 and the other IPv6"),
            ("10.0.0.1 host", "not an IPv4 or IPv6 address"), ("10.0.0.1 10.0.0.2 gre2", "unknown protocol"),
            ("10.0.0.1:99999 10.0.0.2", "bad port"), ("10.0.0.1:80 10.0.0.2 icmp", "ports go with"),
        ] {
            #expect(throws: IndexProblem.self, "\(bad)") { try FlowSelector(bad) }
            do {
                _ = try FlowSelector(bad)
            } catch {
                #expect(error.description.contains(says), "\(bad): \(error)")
            }
        }
    }

    @Test("--flow matches both directions of a frame, by its decoded IP header, and the protocol")
    func flowMatching() throws {
        // Ethernet, IPv4 10.0.0.1 → 10.0.0.2, UDP 5000 → 53.
        var frame: [UInt8] = Array(repeating: 0, count: 12) + [0x08, 0x00]
        frame += [0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]
        frame += [0x13, 0x88, 0, 53, 0, 8, 0, 0]
        let yes = try [
            "10.0.0.2 10.0.0.1", "10.0.0.1 10.0.0.2 udp", "10.0.0.1:5000 10.0.0.2:53 udp", "10.0.0.2:53 10.0.0.1 udp",
        ]
        .map { try FlowSelector($0) }
        let no = try ["10.0.0.1 10.0.0.2 tcp", "10.0.0.1:53 10.0.0.2:5000", "10.0.0.1 10.0.0.3"].map {
            try FlowSelector($0)
        }
        frame.withUnsafeBytes { b in
            let d = decodePacket(b, wireLength: b.count, linkType: .ethernet)
            for f in yes { #expect(f.matches(b, d), "\(f.text)") }
            for f in no { #expect(!f.matches(b, d), "\(f.text)") }
        }
    }

    @Test("Bloom filters: every pair inserted is found; the false-positive rate is what FlowBloom says (2.2 %)")
    func bloom() {
        var rng = SystemRandomNumberGenerator()
        let pairs = (0..<10_000).map { _ in
            FlowPair(version: 4, (0, rng.next() & 0xFFFF_FFFF), (0, rng.next() & 0xFFFF_FFFF))
        }
        var words = [UInt64](repeating: 0, count: FlowBloom.words(forPairs: pairs.count))
        words.withUnsafeMutableBufferPointer { w in
            for p in pairs { FlowBloom.insert(p.hash, into: w, probes: FlowBloom.probes) }
        }
        words.withUnsafeBufferPointer { w in
            #expect(pairs.allSatisfy { FlowBloom.mayContain($0.hash, in: w, probes: FlowBloom.probes) })
            var hits = 0
            let trials = 100_000
            for _ in 0..<trials {
                let p = FlowPair(version: 6, (rng.next(), rng.next()), (rng.next(), rng.next()))
                if FlowBloom.mayContain(p.hash, in: w, probes: FlowBloom.probes) { hits += 1 }
            }
            let rate = Double(hits) / Double(trials)
            #expect(rate > 0.01 && rate < 0.035, "false positives: \(rate)")
        }
    }

    @Test("the index format: a round trip; every cut and every flipped byte is refused, never a trap")
    func indexFormat() throws {
        let index = RecordingIndex(
            recordingLength: 1_000_000, inode: 42, modifiedNanoseconds: 1_700_000_000_000_000_000, linkTypes: [1, 101],
            prefix: Array(repeating: 7, count: 96),
            stretches: [
                .init(offset: 96, length: 262_200, earliest: 10, latest: 20, frames: 3, bloom: [1, 2, 3]),
                .init(offset: 262_296, length: 1000, earliest: 5, latest: 30, frames: 1, bloom: [0xFFFF]),
            ])
        let bytes = index.encoded()
        #expect(try RecordingIndex.decode(bytes).get() == index)
        for n in 0..<bytes.count {
            if case .success = RecordingIndex.decode(Array(bytes[..<n])) { Issue.record("cut at \(n) accepted") }
        }
        for i in 0..<bytes.count {
            var b = bytes
            b[i] ^= 0x5A
            if case .success = RecordingIndex.decode(b) { Issue.record("byte \(i) flipped accepted") }
        }
        #expect(RecordingIndex.sidecarPath(for: "/var/lib/cap.w0.3.pcapng") == "/var/lib/.cap.w0.3.pcapng.idx")
        #expect(RecordingIndex.sidecarPath(for: "cap.pcap") == ".cap.pcap.idx")
    }
}
