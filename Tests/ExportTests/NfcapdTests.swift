import StatsProtocol
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

extension ExportTests {
    /// What nfcapd stores is exactly what the daemon's flow tables held: per
    /// flow for small captures, in total for a large one; no sequence
    /// failure, no datagram lost on loopback.
    @Test("the scapy mixed capture: every flow, both directions, to the packet and the octet")
    func nfcapdMixedCapture() throws {
        let (pcap, expected) = try #require(Captures.mixed, "the generator needs python3 with scapy")
        let (report, stored, info) = try exportToNfcapd(pcap, workers: 1)
        // The generator's independent count (re-reading the file with struct):
        // every TCP, UDP, ICMP and ICMPv6 packet is in a flow, and its
        // TCP/UDP conversations are the TCP/UDP flows.
        let metered = ["tcp", "udp", "icmp", "icmpv6"].compactMap { expected["decoded"]?[$0]?.intValue }
            .reduce(0, +)
        #expect(Int(info["Packets"] ?? 0) == metered, "nfdump -I: \(info)")
        #expect(report.traffic.flows.tcpUdp == expected["flows_total"]?.intValue)
        let tcpUDP = Set(stored.compactMap(Uniflow.init).filter { !$0.isICMP }.map { BiflowKey($0) })
        #expect(tcpUDP.count == expected["flows_total"]?.intValue)
        // The capture has what the comparison must cover.
        let keys = stored.compactMap(Uniflow.init)
        #expect(keys.contains { $0.vlan != 0 } && keys.contains { $0.source.contains(":") })
        #expect(keys.contains { $0.proto == 1 } && keys.contains { $0.proto == 58 })
    }

    @Test("Ethernet corpus files (TCP, UDP, ICMP, ICMPv6, VLAN, padding): every flow exactly")
    func nfcapdCorpusFiles() throws {
        let pcap = try #require(Captures.corpusMix)
        let (_, stored, _) = try exportToNfcapd(pcap, workers: 2)
        let keys = stored.compactMap(Uniflow.init)
        for proto: UInt8 in [1, 6, 17, 58] { #expect(keys.contains { $0.proto == proto }, "protocol \(proto)") }
        #expect(keys.contains { $0.vlan != 0 })
        // Frames padded to Ethernet's minimum, whose padding is no IP octet
        // (the octets were held to the IP total lengths frame by frame).
        let frames = try #require(libpcapFrames(pcap)).frames.map(MeteredFrame.init)
        let padded = frames.filter { f in
            guard let metered = f.labyrinth(), let link = f.link else { return false }
            return UInt64(f.wire - link.at) > metered.octets
        }
        #expect(padded.count > 0)
    }

    @Test("120,000 flows both ways over two workers: flows, packets and octets in total")
    func nfcapdLargeCapture() throws {
        let directory = temporaryDirectory("export-large")
        defer { IPFIXTestSystem.removeDirectory(directory) }
        let flows = 120_000
        let (bytes, octets) = Captures.bidirectionalUDP(flows: flows)
        let pcap = directory + "/large.pcap"
        writeFile(pcap, bytes)
        let (report, _, info, log) = try withNfcapd(records: false) { collector in
            try replay(
                [pcap],
                keepFlowsToTheEnd + [
                    "--workers", "2", "--flows", "262144", "--top", "0", "--ipfix", collector.address,
                    // Every flow ends at once at the end: rings big enough for a
                    // worker's whole table, and a send rate nfcapd keeps up with.
                    "--export-ring", "131072", "--ipfix-rate", "400000",
                ]
            ).report
        }
        #expect(report.traffic.packets == 2 * flows)
        #expect(report.traffic.flows.total == flows && report.traffic.flows.forced == flows)
        let export = try #require(report.export)
        #expect(export.flows == flows && export.records == 2 * flows, "\(export)")
        #expect(export.messagesFailed == 0 && export.dropped == 0, "\(export)")
        #expect(info["Flows"] == UInt64(2 * flows), "\(info)")
        #expect(info["Packets"] == UInt64(2 * flows), "\(info)")
        #expect(info["Bytes"] == octets, "\(info): IP-layer octets, not captured bytes")
        #expect(info["Sequence failures"] == 0, "nfcapd log:\n\(log)")
    }

    /// Replays `pcap` with every flow kept to the end, exporting to a fresh nfcapd;
    /// holds nfcapd's records to the report's flow list, flow by flow.
    func exportToNfcapd(_ pcap: String, workers: Int, sourceLocation: SourceLocation = #_sourceLocation) throws
        -> (ReplayReportDocument, [NfdumpFlow], [String: UInt64])
    {
        let (report, stored, info, log) = try withNfcapd(sourceLocation: sourceLocation) { collector in
            try replay(
                [pcap],
                keepFlowsToTheEnd + ["--workers", String(workers), "--top", "100000", "--ipfix", collector.address]
            ).report
        }
        let flows = try #require(report.traffic.flows.top, sourceLocation: sourceLocation)
        #expect(flows.count == report.traffic.flows.total, "the report lists every flow")
        let export = try #require(report.export, sourceLocation: sourceLocation)
        let records = flows.reduce(0) { $0 + ($1.packetsAToB > 0 ? 1 : 0) + ($1.packetsBToA > 0 ? 1 : 0) }
        #expect(export.flows == flows.count && export.records == records, "\(export)")
        #expect(export.messagesFailed == 0 && export.dropped == 0 && export.lastError == nil, "\(export)")
        #expect(report.traffic.flows.forced == flows.count && report.traffic.flows.exportDropped == 0)
        #expect(info["Flows"] == UInt64(records) && stored.count == records, "\(info)")
        #expect(info["Sequence failures"] == 0, "nfcapd log:\n\(log)")
        #expect(log.contains("Sequence Errors: 0"), "nfcapd log:\n\(log)")
        let d = report.traffic.decoded
        #expect(info["Packets"] == UInt64(d.tcp + d.udp + d.icmp + d.icmpv6), "every packet with a flow")
        #expect(info["Bytes"] == UInt64(flows.reduce(0) { $0 + $1.octets }))
        // Replayed, forced out at the end: reason 4 and no interface.
        #expect(stored.allSatisfy { $0.word("end reason") == "0x04" && $0.number("input") == 0 })
        // Each direction's packets and IP-layer octets (IP total length, not
        // captured bytes: a snap length does not shrink them), read from the
        // capture's own headers frame by frame.
        let frames = try #require(libpcapFrames(pcap), sourceLocation: sourceLocation).frames
        expectSame(
            byUniflow(stored), perFrame(frames), "nfdump vs the capture's headers", sourceLocation: sourceLocation)
        compare(report: flows, stored: stored, sourceLocation: sourceLocation)
        return (report, stored, info)
    }

    /// Flow by flow: each direction's packets and record count, each
    /// flow's octets (the report has them for both directions together),
    /// TCP flags, first and last time.
    func compare(report: [FlowEntry], stored: [NfdumpFlow], sourceLocation: SourceLocation) {
        var ours = FlowSides()
        for f in report {
            guard let sides = ReportFlow(f) else {
                Issue.record("cannot read the report's flow \(f)", sourceLocation: sourceLocation)
                continue
            }
            ours.add(sides)
        }
        var theirs = FlowSides()
        for f in stored {
            guard let key = Uniflow(f) else {
                Issue.record("nfdump record without a key: \(f)", sourceLocation: sourceLocation)
                continue
            }
            theirs.add(key, f)
        }
        #expect(ours.directions.count == theirs.directions.count, sourceLocation: sourceLocation)
        #expect(ours.flows.count == theirs.flows.count, sourceLocation: sourceLocation)
        var problems: [String] = []
        for (key, want) in ours.directions.sorted(by: { $0.key.description < $1.key.description }) {
            let got = theirs.directions[key]
            if got?.packets != want.packets || got?.records != want.records {
                problems.append(
                    "\(key): daemon \(want.packets) pkts in \(want.records), nfdump \(got.map { "\($0.packets) pkts in \($0.records)" } ?? "none")"
                )
            }
        }
        for key in theirs.directions.keys where ours.directions[key] == nil {
            problems.append("\(key): only in nfdump")
        }
        for (key, want) in ours.flows.sorted(by: { $0.key.description < $1.key.description }) {
            guard let got = theirs.flows[key] else {
                problems.append("\(key): no record in nfdump")
                continue
            }
            if got != want { problems.append("\(key): daemon \(want), nfdump \(got)") }
        }
        #expect(problems.isEmpty, "\(problems.count) differences:\n\(problems.prefix(20).joined(separator: "\n"))")
    }
}

/// A flow as both directions, the way the report lists flows: TCP and UDP
/// by addresses and ports; ICMP echo by addresses (the report's echo
/// identifier has no IPFIX field, and nfdump shows type 8/0 or 128/129 in
/// its place); any other ICMP by addresses and the sender's type and code.
struct BiflowKey: Hashable, CustomStringConvertible {
    var proto: UInt8
    var low: String
    var high: String
    var icmp: String
    var vlan: UInt16

    var description: String { "p\(proto) \(low) \(high) \(icmp) vlan \(vlan)" }

    init(_ a: String, _ b: String, proto: UInt8, icmp: String, vlan: UInt16) {
        self.proto = proto
        low = min(a, b)
        high = max(a, b)
        self.icmp = icmp
        self.vlan = vlan
    }

    init(_ u: Uniflow) {
        let d = DirectionKey(u)
        self.init(d.from, d.to, proto: u.proto, icmp: d.icmp, vlan: u.vlan)
    }
}

/// One direction of a flow, keyed as ``BiflowKey`` is.
struct DirectionKey: Hashable, CustomStringConvertible {
    var proto: UInt8
    var from: String
    var to: String
    var icmp: String
    var vlan: UInt16

    var description: String { "p\(proto) \(from)>\(to) \(icmp) vlan \(vlan)" }

    init(proto: UInt8, from: String, to: String, icmp: String, vlan: UInt16) {
        self.proto = proto
        self.from = from
        self.to = to
        self.icmp = icmp
        self.vlan = vlan
    }

    init(_ u: Uniflow) {
        proto = u.proto
        vlan = u.vlan
        if u.isICMP {
            let type = u.destinationPort >> 8
            let echo = u.proto == 1 ? (type == 0 || type == 8) : (type == 128 || type == 129)
            icmp = echo ? "echo" : "\(type).\(u.destinationPort & 0xFF)"
            from = u.source
            to = u.destination
        } else {
            icmp = ""
            from = "\(u.source)|\(u.sourcePort)"
            to = "\(u.destination)|\(u.destinationPort)"
        }
    }
}

/// What one flow adds up to over its records.
struct FlowFigures: Equatable, CustomStringConvertible {
    var octets: UInt64 = 0
    var tcpFlags: UInt8 = 0
    var firstMs = UInt64.max
    var lastMs: UInt64 = 0

    var description: String { "\(octets) octets, flags 0x\(hex(tcpFlags)), \(firstMs)...\(lastMs) ms" }
}

/// Flows and their directions, from the report or from nfdump.
struct FlowSides {
    var directions: [DirectionKey: (packets: UInt64, records: Int)] = [:]
    var flows: [BiflowKey: FlowFigures] = [:]

    mutating func add(_ f: ReportFlow) {
        for (key, packets) in f.directions where packets > 0 {
            directions[key, default: (0, 0)].packets += packets
            directions[key, default: (0, 0)].records += 1
        }
        var figures = flows[f.key, default: FlowFigures()]
        figures.octets += f.octets
        figures.tcpFlags |= f.tcpFlags
        figures.firstMs = min(figures.firstMs, f.firstMs)
        figures.lastMs = max(figures.lastMs, f.lastMs)
        flows[f.key] = figures
    }

    mutating func add(_ key: Uniflow, _ f: NfdumpFlow) {
        let d = DirectionKey(key)
        directions[d, default: (0, 0)].packets += f.number("in packets") ?? 0
        directions[d, default: (0, 0)].records += 1
        let b = BiflowKey(key)
        var figures = flows[b, default: FlowFigures()]
        figures.octets += f.number("in bytes") ?? 0
        figures.tcpFlags |= f.word("tcp flags").flatMap { UInt8($0.dropFirst(2), radix: 16) } ?? 0
        figures.firstMs = min(figures.firstMs, f.number("first") ?? 0)
        figures.lastMs = max(figures.lastMs, f.number("last") ?? 0)
        flows[b] = figures
    }
}

/// A flow of the report (`flows.top`), read from its endpoint text:
/// `addr:port` or `[v6]:port`; ICMP `addr #id` (echo), `addr type T/C` on
/// the sender's side of any other message, or the bare address; ` vlan N`
/// after both when tagged.
struct ReportFlow {
    var key: BiflowKey
    var directions: [(DirectionKey, UInt64)]
    var octets: UInt64
    var tcpFlags: UInt8
    var firstMs: UInt64
    var lastMs: UInt64

    init?(_ f: FlowEntry) {
        let protocols: [String: UInt8] = ["tcp": 6, "udp": 17, "icmp": 1, "icmpv6": 58]
        guard let proto = protocols[f.protocol] else { return nil }
        let isICMP = proto == 1 || proto == 58
        guard let a = Self.endpoint(f.a, icmp: isICMP), let b = Self.endpoint(f.b, icmp: isICMP), a.vlan == b.vlan
        else { return nil }
        let icmp = isICMP ? (a.typeCode ?? b.typeCode).map { "\($0 >> 8).\($0 & 0xFF)" } ?? "echo" : ""
        let from = isICMP ? a.address : "\(a.address)|\(a.port)"
        let to = isICMP ? b.address : "\(b.address)|\(b.port)"
        key = BiflowKey(from, to, proto: proto, icmp: icmp, vlan: a.vlan)
        directions = [
            (DirectionKey(proto: proto, from: from, to: to, icmp: icmp, vlan: a.vlan), UInt64(f.packetsAToB)),
            (DirectionKey(proto: proto, from: to, to: from, icmp: icmp, vlan: a.vlan), UInt64(f.packetsBToA)),
        ]
        octets = UInt64(f.octets)
        let letters: [Character: UInt8] = ["F": 1, "S": 2, "R": 4, "P": 8, "A": 16, "U": 32, "E": 64, "C": 128]
        tcpFlags = f.tcpFlags.reduce(0) { $0 | (letters[$1] ?? 0) }
        firstMs = UInt64(f.firstSeenNs / 1_000_000)
        lastMs = UInt64(f.lastSeenNs / 1_000_000)
    }

    static func endpoint(_ text: String, icmp: Bool) -> (
        address: String, port: UInt16, typeCode: UInt16?, vlan: UInt16
    )? {
        var base = Substring(text)
        var vlan: UInt16 = 0
        let words = text.split(separator: " ")
        if words.count >= 3 && words[words.count - 2] == "vlan" {
            guard let v = UInt16(words[words.count - 1]) else { return nil }
            vlan = v
            base = Substring(words.dropLast(2).joined(separator: " "))
        }
        func address(_ s: Substring) -> String? {
            canonicalAddress(s.hasPrefix("[") && s.hasSuffix("]") ? String(s.dropFirst().dropLast()) : String(s))
        }
        if icmp {
            let words = base.split(separator: " ")
            guard let a = words.first.flatMap(address) else { return nil }
            if words.count == 3 && words[1] == "type" {
                let tc = words[2].split(separator: "/").compactMap { UInt16($0) }
                guard tc.count == 2 else { return nil }
                return (a, 0, tc[0] << 8 | tc[1], vlan)
            }
            guard words.count == 1 || (words.count == 2 && words[1].hasPrefix("#")) else { return nil }
            return (a, 0, nil, vlan)
        }
        guard let colon = base.lastIndex(of: ":"), let port = UInt16(base[base.index(after: colon)...]),
            let a = address(base[..<colon])
        else { return nil }
        return (a, port, nil, vlan)
    }
}
