import StatsProtocol
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

extension ExportTests {
    /// An independent oracle: softflowd (Debian, 1.1.0) meters the same
    /// capture and exports IPFIX to an nfcapd of its own. Per uniflow key
    /// (addresses, protocol, ports or ICMP type.code, VLAN) packets and
    /// octets must agree, except where the two are known to meter a frame
    /// differently; every such frame is classified below, with the reason,
    /// and the figures must agree exactly once those frames are accounted
    /// the way each exporter is known to account them.
    ///
    /// What each emits (read from both with nfdump, which shows an ICMP type
    /// and code as type.code in the destination port, type * 256 + code):
    /// - Labyrinth: uniflow records with ports 0 for ICMP and the type and
    ///   code in icmpTypeCodeIPv4/IPv6 (32/139): the first packet's of that
    ///   direction. It keys an echo flow by its identifier (request and
    ///   reply in one flow), any other ICMP by type and code on the sender's
    ///   side.
    /// - softflowd: one flow per (addresses, protocol, ports) where ICMP's
    ///   ports are 0 and type * 256 + code, exported in icmpTypeCodeIPv4/IPv6
    ///   too; so each direction of an echo is a flow of its own and echoes
    ///   with different identifiers are one flow. Per nfdump uniflow key the
    ///   packets and octets are the same; only the record counts of echo
    ///   keys may differ (ours: one per identifier).
    /// - softflowd 1.1.0's sequence numbers count the message's own records
    ///   (RFC 7011 section 3.1 counts those sent before it) and not its
    ///   options record, so nfcapd reports sequence errors on its stream; the
    ///   test holds only Labyrinth's stream to the sequence.
    /// - softflowd's times are not compared (without -a it stamps flows
    ///   relative to its own start); ours are checked against the report in
    ///   the nfcapd tests.
    ///
    /// Not differences, but conditions of the comparison:
    /// - softflowd reads only the link types of its datalink_check table
    ///   (EN10MB, PPP, LINUX_SLL, RAW, NULL, LOOP); both captures here are
    ///   Ethernet.
    /// - softflowd keys by VLAN only with `-T vlan` (its default tracking
    ///   zeroes the VLAN id); Labyrinth keys by the outer tag's id.
    /// - ARP and other frames without IP (STP, LLC, unknown ethertypes) are
    ///   no IP flow to either exporter.
    @Test("softflowd: per uniflow key, packets and octets agree but for the listed differences")
    func softflowdOracle() throws {
        #expect(IPFIXTestSystem.installed("softflowd"), "softflowd is not installed (apt-get install softflowd)")
        let (mixed, _) = try #require(Captures.mixed, "the generator needs python3 with scapy")
        let corpus = try #require(Captures.corpusMix)
        var differences: [SoftflowdDifference: Int] = [:]
        for (name, pcap, least) in [("the scapy mixed capture", mixed, 500), ("the corpus files", corpus, 30)] {
            let (seen, agreeing, touched) = try compareWithSoftflowd(pcap)
            print(
                "softflowd oracle, \(name): \(agreeing) uniflow keys agree exactly; \(touched) keys have frames metered differently:"
            )
            for reason in SoftflowdDifference.allCases where seen[reason] != nil {
                print("  \(seen[reason]!) frames: \(reason.rawValue)")
            }
            #expect(agreeing >= least, "\(name)")
            differences.merge(seen, uniquingKeysWith: +)
        }
        // The captures show each known difference (so that the list stays honest).
        for reason in SoftflowdDifference.allCases {
            #expect((differences[reason] ?? 0) > 0, "no frame shows: \(reason.rawValue)")
        }
    }

    /// Meters `pcap` with both exporters, each to an nfcapd of its own, and
    /// holds each to its per-frame view and the two to each other. Returns
    /// the frames metered differently by reason, the keys that agree
    /// exactly, and the keys with frames metered differently.
    func compareWithSoftflowd(_ pcap: String) throws -> (
        [SoftflowdDifference: Int], Int, Int
    ) {
        let read = try #require(libpcapFrames(pcap))
        #expect(read.linkType == 1)

        // Labyrinth, every flow kept to the end.
        let (report, ourFlows, ourInfo, _) = try withNfcapd { collector in
            try replay([pcap], keepFlowsToTheEnd + ["--workers", "2", "--ipfix", collector.address]).report
        }
        // softflowd: -r reads the file and flushes every flow at its end;
        // -T vlan keys by the 802.1Q id as we do; -6 meters IPv6; -m and
        // timeouts big enough that nothing expires or is evicted on the way.
        // -p: it unlinks its pid file at exit, even with -r where it never
        // writes one, so the path is the test's own (never /dev/null, never
        // the default /var/run/softflowd.pid of a softflowd running here).
        let directory = temporaryDirectory("export-softflowd")
        defer { IPFIXTestSystem.removeDirectory(directory) }
        let timeouts = ["maxlife", "general", "tcp", "tcp.rst", "tcp.fin", "udp", "icmp", "expint"].flatMap {
            ["-t", "\($0)=31536000"]
        }
        let (sf, theirFlows, theirInfo, theirLog) = try withNfcapd { collector in
            run(
                [
                    "softflowd", "-r", pcap, "-v", "10", "-n", collector.address, "-6", "-T", "vlan", "-m", "1000000",
                    "-p", directory + "/softflowd.pid",
                ] + timeouts, timeoutSeconds: 60)
        }
        #expect(sf.status == 0, "softflowd exited \(sf.status): \(sf.stderr)")
        #expect(sf.stdout.contains("(0 failures)") && sf.stdout.contains("maxflows =         0"), "\(sf.stdout)")
        #expect(ourInfo["Sequence failures"] == 0)
        _ = theirLog  // softflowd's own sequence numbers are off (see above)

        // How each exporter meters every frame, and why they differ where they do.
        var ourPrediction: [Uniflow: Counts] = [:]
        var theirPrediction: [Uniflow: Counts] = [:]
        var differences: [SoftflowdDifference: Int] = [:]
        var touched = Set<Uniflow>()
        var unexplained: [String] = []
        for (i, f) in read.frames.enumerated() {
            let frame = MeteredFrame(f)
            let ours = frame.labyrinth()
            let theirs = frame.softflowd()
            if let ours {
                ourPrediction[ours.key, default: Counts()].packets += 1
                ourPrediction[ours.key, default: Counts()].octets += ours.octets
            }
            if let theirs {
                theirPrediction[theirs.key, default: Counts()].packets += 1
                theirPrediction[theirs.key, default: Counts()].octets += theirs.octets
            }
            guard ours?.key != theirs?.key || ours?.octets != theirs?.octets else { continue }
            if let reason = frame.difference(), reason.holds(ours: ours, softflowd: theirs) {
                differences[reason, default: 0] += 1
            } else {
                unexplained.append(
                    "frame \(i + 1): ours \(String(describing: ours)), softflowd \(String(describing: theirs))")
            }
            if let k = ours?.key { touched.insert(k) }
            if let k = theirs?.key { touched.insert(k) }
        }
        #expect(unexplained.isEmpty, "differences no rule explains:\n\(unexplained.prefix(10).joined(separator: "\n"))")

        // The per-frame views hold up against both exporters' totals...
        let d = report.traffic.decoded
        let ourMeasured = byUniflow(ourFlows)
        let theirMeasured = byUniflow(theirFlows)
        #expect(
            ourPrediction.values.reduce(0) { $0 + $1.packets } == UInt64(d.tcp + d.udp + d.icmp + d.icmpv6))
        #expect(ourInfo["Packets"] == ourPrediction.values.reduce(0) { $0 + $1.packets })
        #expect(theirInfo["Packets"] == theirPrediction.values.reduce(0) { $0 + $1.packets })
        // ... and key by key: each exporter stored what its view of each frame says.
        expectSame(ourMeasured, ourPrediction, "Labyrinth (nfdump) vs its per-frame view")
        expectSame(theirMeasured, theirPrediction, "softflowd (nfdump) vs its per-frame view")

        // Where no frame is metered differently, the two exporters agree exactly:
        // packets, octets and TCP flags; record counts too, but for ICMP echo.
        var disagreements: [String] = []
        let common = Set(ourMeasured.keys).union(theirMeasured.keys).subtracting(touched)
        for key in common.sorted() {
            let (a, b) = (ourMeasured[key], theirMeasured[key])
            let echo = DirectionKey(key).icmp == "echo"
            if a?.packets != b?.packets || a?.octets != b?.octets || a?.tcpFlags != b?.tcpFlags
                || (!echo && a?.records != b?.records)
            {
                disagreements.append(
                    "\(key): ours \(a.map(\.description) ?? "none"), softflowd \(b.map(\.description) ?? "none")")
            }
        }
        #expect(
            disagreements.isEmpty,
            "\(disagreements.count) keys disagree:\n\(disagreements.prefix(20).joined(separator: "\n"))")
        return (differences, common.count, touched.count)
    }
}

/// Why softflowd 1.1.0 and Labyrinth meter a frame differently: every known
/// difference, with its explanation.
enum SoftflowdDifference: String, CaseIterable, Hashable {
    case outerTagNot8021Q =
        "an outer 802.1ad (0x88A8) or 0x9100 tag: softflowd reads one 802.1Q (0x8100) tag at most and sees no IP behind others; Labyrinth reads the tag stack and keys the flow by the outer VLAN id"
    case laterFragment =
        "a fragment after the first: softflowd meters it as a flow of its own (addresses and protocol, ports 0; IPv6 with protocol 0, as 1.1.0 stops before the fragment header's next header); Labyrinth has no ports for it and counts it in no flow"
    case otherProtocol =
        "an IP protocol other than TCP, UDP, ICMP and ICMPv6 (IGMP, IPv6 no next header): softflowd meters it with ports 0; Labyrinth's flows are TCP, UDP, ICMP and ICMPv6 only"
    case transportCut =
        "a TCP, UDP or ICMP header cut short (snap length) or inconsistent: softflowd meters the packet with ports 0 (ICMP: the type and code it could read); Labyrinth counts it truncated, in no flow"
    case extensionCut =
        "an IPv6 extension header cut short: softflowd meters a runt with protocol 0; Labyrinth counts it truncated, in no flow"
    case badIHL =
        "an IPv4 header length below 5 words: softflowd takes it as given and reads 'ports' from inside the IP header; Labyrinth counts it malformed (bad_ihl), in no flow"
    case ethernetTrailer =
        "bytes after the IP datagram (Ethernet padding): softflowd counts the wire length less the link header, Labyrinth the IP total length"
}

extension SoftflowdDifference {
    /// Whether the two views of a frame are what this difference says.
    func holds(ours: (key: Uniflow, octets: UInt64)?, softflowd theirs: (key: Uniflow, octets: UInt64)?) -> Bool {
        switch self {
        case .outerTagNot8021Q: return theirs == nil
        case .laterFragment:
            return ours == nil && theirs?.key.sourcePort == 0 && theirs?.key.destinationPort == 0
        case .otherProtocol, .badIHL: return ours == nil && theirs != nil
        case .transportCut: return ours == nil && theirs?.key.sourcePort == 0
        case .extensionCut: return ours == nil && theirs?.key.proto == 0
        case .ethernetTrailer:
            guard let ours, let theirs else { return false }
            return ours.key == theirs.key && theirs.octets > ours.octets
        }
    }
}

/// One frame of an Ethernet capture as each exporter meters it: the
/// nfdump uniflow key it counts in and the octets it adds, or nil.
struct MeteredFrame {
    let data: [UInt8]
    let wire: Int

    init(_ f: LibpcapFrame) {
        data = f.data
        wire = Swift.max(f.wirelen, f.data.count)
    }

    var captured: Int { data.count }
    func be16(_ at: Int) -> Int { Int(data[at]) << 8 | Int(data[at + 1]) }

    /// The tag stack: (TPID, VLAN id) outermost first, the ethertype after it
    /// and where the network header starts; nil when cut inside it.
    var link: (tags: [(tpid: Int, id: UInt16)], type: Int, at: Int)? {
        guard captured >= 14 else { return nil }
        var type = be16(12)
        var at = 14
        var tags: [(Int, UInt16)] = []
        while type == 0x8100 || type == 0x88A8 || type == 0x9100 {
            guard tags.count < 8, at + 4 <= captured else { return nil }
            tags.append((type, UInt16(be16(at) & 0x0FFF)))
            type = be16(at + 2)
            at += 4
        }
        return (tags, type, at)
    }

    /// Labyrinth (Sources/Packet/PacketDecoder.swift): the whole tag stack,
    /// the outer VLAN id in the key; TCP, UDP, ICMP and ICMPv6 with whole
    /// headers, in unfragmented packets and first fragments; IP total length.
    func labyrinth() -> (key: Uniflow, octets: UInt64)? {
        guard let l = link else { return nil }
        let (tags, type, at) = (l.tags, l.type, l.at)
        let vlan = tags.first?.id ?? 0
        if type == 0x0800 {
            guard at + 1 <= captured, data[at] >> 4 == 4 else { return nil }
            let ihl = Int(data[at] & 0x0F) * 4
            guard ihl >= 20, at + ihl <= captured else { return nil }
            let total = be16(at + 2)
            guard total >= ihl, at + total <= wire, be16(at + 6) & 0x1FFF == 0 else { return nil }
            let src = addressText(data[(at + 12)..<(at + 16)])
            let dst = addressText(data[(at + 16)..<(at + 20)])
            let fragmented = be16(at + 6) & 0x2000 != 0
            guard
                let key = transport(
                    proto: data[at + 9], at: at + ihl, end: at + total, fragmented: fragmented, src, dst, vlan)
            else { return nil }
            return (key, UInt64(total))
        }
        guard type == 0x86DD, at + 40 <= captured, data[at] >> 4 == 6 else { return nil }
        let payload = be16(at + 4)
        let end = payload == 0 ? wire : at + 40 + payload
        guard end <= wire else { return nil }
        var next = data[at + 6]
        var here = at + 40
        var fragmented = false
        chain: while true {
            let limit = Swift.min(captured, end)
            switch next {
            case 0, 43, 60:
                guard here + 2 <= limit else { return nil }
                let length = (Int(data[here + 1]) + 1) * 8
                guard here + length <= limit else { return nil }
                next = data[here]
                here += length
            case 44:
                guard here + 8 <= limit, be16(here + 2) & 0xFFF8 == 0 else { return nil }
                fragmented = true
                next = data[here]
                here += 8
            case 51:
                guard here + 2 <= limit else { return nil }
                let length = (Int(data[here + 1]) + 2) * 4
                guard here + length <= limit else { return nil }
                next = data[here]
                here += length
            default:
                break chain
            }
        }
        let src = addressText(data[(at + 8)..<(at + 24)])
        let dst = addressText(data[(at + 24)..<(at + 40)])
        guard let key = transport(proto: next, at: here, end: end, fragmented: fragmented, src, dst, vlan) else {
            return nil
        }
        return (key, UInt64(end - at))
    }

    func transport(
        proto: UInt8, at: Int, end: Int, fragmented: Bool, _ src: String, _ dst: String, _ vlan: UInt16
    ) -> Uniflow? {
        let limit = Swift.min(captured, end)
        switch proto {
        case 6:
            guard at + 20 <= limit, Int(data[at + 12] >> 4) * 4 >= 20, at + Int(data[at + 12] >> 4) * 4 <= end else {
                return nil
            }
        case 17:
            guard at + 8 <= limit else { return nil }
            let length = be16(at + 4)
            // 0 is a jumbogram's; a first fragment's covers the whole datagram.
            guard length == 0 || (length >= 8 && (fragmented || at + length <= end)) else { return nil }
        case 1, 58:
            guard at + 4 <= limit else { return nil }
            return Uniflow(
                proto: proto, source: src, destination: dst, sourcePort: 0,
                destinationPort: UInt16(data[at]) << 8 | UInt16(data[at + 1]), vlan: vlan)
        default:
            return nil
        }
        return Uniflow(
            proto: proto, source: src, destination: dst, sourcePort: UInt16(be16(at)),
            destinationPort: UInt16(be16(at + 2)), vlan: vlan)
    }

    /// softflowd 1.1.0 (softflowd.c: datalink_check, ipv4_to_flowrec,
    /// ipv6_to_flowrec, transport_to_flowrec): one 802.1Q tag at most; any
    /// IP protocol; ports 0 for later fragments and cut headers; octets =
    /// the wire length less the link header.
    func softflowd() -> (key: Uniflow, octets: UInt64)? {
        guard captured > 14 else { return nil }
        var offset = 14
        var vlan: UInt16 = 0
        if be16(12) == 0x8100 {
            guard captured >= 18 else { return nil }
            vlan = UInt16(be16(14) & 0x0FFF)
            offset = 18
        }
        let type = be16(offset - 2)
        let cap = captured - offset
        let octets = UInt64(wire - offset)
        let at = offset
        if type == 0x0800 {
            guard cap >= 20, cap >= Int(data[at] & 0x0F) * 4, data[at] >> 4 == 4 else { return nil }
            let ihl = Int(data[at] & 0x0F) * 4
            let src = addressText(data[(at + 12)..<(at + 16)])
            let dst = addressText(data[(at + 16)..<(at + 20)])
            let proto = data[at + 9]
            var key = Uniflow(
                proto: proto, source: src, destination: dst, sourcePort: 0, destinationPort: 0, vlan: vlan)
            if be16(at + 6) & 0x1FFF != 0 { return (key, octets) }
            guard let ports = softflowdPorts(proto: proto, at: at + ihl, cap: cap - ihl) else { return nil }
            (key.sourcePort, key.destinationPort) = ports
            return (key, octets)
        }
        guard type == 0x86DD, cap >= 40, data[at] >> 4 == 6 else { return nil }
        let src = addressText(data[(at + 8)..<(at + 24)])
        let dst = addressText(data[(at + 24)..<(at + 40)])
        var key = Uniflow(proto: 0, source: src, destination: dst, sourcePort: 0, destinationPort: 0, vlan: vlan)
        var next = data[at + 6]
        var here = at + 40
        var left = cap - 40
        while true {
            if next == 0 || next == 43 || next == 60 {
                // A runt: metered with protocol 0.
                guard left >= 2, left >= (Int(data[here + 1]) + 1) * 8 else { return (key, octets) }
                let length = (Int(data[here + 1]) + 1) * 8
                next = data[here]
                here += length
                left -= length
            } else if next == 44 {
                guard left >= 8, be16(here + 2) & 0xFFF8 == 0 else { return (key, octets) }  // protocol 0
                next = data[here]
                here += 8
                left -= 8
            } else {
                break
            }
        }
        key.proto = next
        guard let ports = softflowdPorts(proto: next, at: here, cap: left) else { return nil }
        (key.sourcePort, key.destinationPort) = ports
        return (key, octets)
    }

    /// softflowd's transport_to_flowrec: TCP and UDP ports when their header
    /// was captured (else 0); ICMP's type * 256 + code in the destination
    /// port (it reads them without checking the captured length: nil, an
    /// unknown, when fewer than two bytes were captured).
    func softflowdPorts(proto: UInt8, at: Int, cap: Int) -> (UInt16, UInt16)? {
        switch proto {
        case 6: return cap >= 20 ? (UInt16(be16(at)), UInt16(be16(at + 2))) : (0, 0)
        case 17: return cap >= 8 ? (UInt16(be16(at)), UInt16(be16(at + 2))) : (0, 0)
        case 1, 58: return cap >= 2 ? (0, UInt16(data[at]) << 8 | UInt16(data[at + 1])) : nil
        default: return (0, 0)
        }
    }

    /// Which known difference this frame shows, when the two meter it differently.
    func difference() -> SoftflowdDifference? {
        guard let l = link else { return nil }
        let (tags, type, at) = (l.tags, l.type, l.at)
        if let outer = tags.first, outer.tpid != 0x8100 || tags.count > 1 { return .outerTagNot8021Q }
        let ours = labyrinth()
        let theirs = softflowd()
        if type == 0x0800, at + 20 <= captured {
            let ihl = Int(data[at] & 0x0F)
            if ihl < 5 { return .badIHL }
            if be16(at + 6) & 0x1FFF != 0 { return .laterFragment }
            if ![1, 6, 17].contains(data[at + 9]) { return .otherProtocol }
            if ours == nil && theirs != nil { return .transportCut }
        } else if type == 0x86DD, at + 40 <= captured {
            // Walk as softflowd does to see where it stopped.
            var next = data[at + 6]
            var here = at + 40
            while next == 0 || next == 43 || next == 60 || next == 44 {
                if next == 44 {
                    guard here + 8 <= captured else { return .extensionCut }
                    if be16(here + 2) & 0xFFF8 != 0 { return .laterFragment }
                    next = data[here]
                    here += 8
                } else {
                    guard here + 2 <= captured, here + (Int(data[here + 1]) + 1) * 8 <= captured else {
                        return .extensionCut
                    }
                    next = data[here]
                    here += (Int(data[here + 1]) + 1) * 8
                }
            }
            if ![6, 17, 58].contains(next) { return .otherProtocol }
            if ours == nil && theirs != nil { return .transportCut }
        }
        if let ours, let theirs, ours.key == theirs.key, ours.octets != theirs.octets { return .ethernetTrailer }
        return nil
    }
}
