import Sinks
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The encoded messages as tshark's IPFIX dissector (cflow) reads them, from
/// a pcap the test builds: Ethernet, IPv4 and UDP around each message.
@Suite("IPFIX through tshark")
struct IPFIXTsharkTests {
    typealias Flows = IPFIXTestFlows
    static let port: UInt16 = 4739

    /// Messages: templates with the IPv4 flows, the IPv6 flows, then a statistics round.
    static func messages() throws -> (messages: [[UInt8]], v4: [FlowExportRecord], v6: [FlowExportRecord]) {
        var session = try IPFIXExportSession(IPFIXExportConfiguration(observationDomains: [5], exportingProcessID: 9))
        let v4 = Flows.known().filter { $0.version == .v4 }
        let v6 = Flows.known().filter { $0.version == .v6 }
        var out = try Flows.messages(&session, flows: v4)
        out += try Flows.messages(&session, flows: v6, now: Flows.t0 + 1_000_000_000)
        try session.packetsIgnored(domain: 0, packets: 3, octets: 180, now: Flows.t0 + 500_000_000)
        session.flowsNotSent(records: 1, packets: 2, octets: 3, now: Flows.t0 + 600_000_000)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1400, alignment: 8)
        defer { buffer.deallocate() }
        let summary = try session.nextStatisticsMessage(into: buffer, now: Flows.t0 + 2_000_000_000)
        out.append(Array(buffer[0..<summary.byteCount]))
        return (out, v4, v6)
    }

    static func tshark(_ file: String, _ arguments: [String]) -> ProcessResult {
        run(["tshark", "-r", file, "-d", "udp.port==\(port),cflow"] + arguments, timeoutSeconds: 120)
    }

    /// Field values of each frame, in order: one array of values per field, split at commas.
    static func fields(_ file: String, _ names: [String]) throws -> [[[String]]] {
        let r = tshark(
            file,
            ["-T", "fields", "-E", "separator=/t", "-E", "occurrence=a", "-E", "aggregator=|"]
                + names.flatMap { ["-e", $0] })
        guard r.status == 0 else { throw IPFIXTestSystem.Failure("tshark -T fields: \(r.status) \(r.stderr)") }
        return r.stdout.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.isEmpty }.map { line in
            line.split(separator: "\t", omittingEmptySubsequences: false).map {
                $0.isEmpty ? [] : $0.split(separator: "|").map(String.init)
            }
        }
    }

    @Test("tshark decodes every message: no error, templates before data, every value as encoded")
    func decode() throws {
        #expect(IPFIXTestSystem.installed("tshark"), "tshark is not installed (apt-get install tshark)")
        let (messages, v4, v6) = try Self.messages()
        #expect(messages.count == 3)
        let directory = temporaryDirectory("ipfix-tshark")
        defer { IPFIXTestSystem.removeDirectory(directory) }
        let file = directory + "/ipfix.pcap"
        var pcap = PcapWriter(linkType: 1)
        for (i, m) in messages.enumerated() {
            pcap.record(Flows.udpFrame(m, sport: 40000, dport: Self.port), seconds: 1_796_040_000 + UInt32(i))
        }
        writeFile(file, pcap.bytes)

        // Whole dissection: no malformed packet, no warning or error, nothing without its template.
        let verbose = Self.tshark(file, ["-V"])
        #expect(verbose.status == 0, "tshark -V: \(verbose.stderr)")
        for bad in ["Malformed", "Expert Info (Error", "Expert Info (Warning", "no template", "No Template"] {
            #expect(!verbose.stdout.contains(bad), "tshark says \(bad):\n\(verbose.stdout.prefix(4000))")
        }
        let expert = Self.tshark(file, ["-q", "-z", "expert"])
        #expect(expert.status == 0)
        #expect(!expert.stdout.contains("Errors") && !expert.stdout.contains("Warns"), "\(expert.stdout)")

        // Headers and sets: templates (set 2) in the first frame before any data set.
        let headers = try Self.fields(
            file, ["cflow.version", "cflow.sequence", "cflow.od_id", "cflow.flowset_id", "cflow.len"])
        #expect(headers.count == 3)
        #expect(headers.map { $0[0] } == [["10"], ["10"], ["10"]])
        #expect(headers.map { $0[4].first } == messages.map { String($0.count) })
        let v4Records = v4.flatMap(Flows.uniflows)
        let v6Records = v6.flatMap(Flows.uniflows)
        #expect(headers[0][1] == ["0"] && headers[1][1] == [String(v4Records.count)])
        #expect(headers[0][2].first == "5" && headers[2][2].first == "0")
        #expect(headers[0][3] == ["2", "256"])
        #expect(headers[1][3] == ["257"])
        #expect(headers[2][3] == ["3", "3", "3", "260", "258", "259"])

        // Every IPv4 value as encoded.
        let v4Names = [
            "cflow.srcaddr", "cflow.dstaddr", "cflow.srcport", "cflow.dstport", "cflow.protocol", "cflow.tcpflags",
            "cflow.octets", "cflow.packets", "cflow.flow_end_reason", "cflow.vlanid", "cflow.inputint",
            "cflow.icmp_type_code_ipv4",
        ]
        let v4Fields = try Self.fields(file, v4Names)[0]
        func column(_ i: Int) -> [String] { v4Fields[i] }
        #expect(column(0) == v4Records.map(\.source))
        #expect(column(1) == v4Records.map(\.destination))
        #expect(column(2) == v4Records.map { String($0.sourcePort) })
        #expect(column(3) == v4Records.map { String($0.destinationPort) })
        #expect(column(4) == v4Records.map { String($0.ipProtocol) })
        #expect(column(5) == v4Records.map { "0x" + hex($0.tcpFlags, width: 4) })
        #expect(column(6) == v4Records.map { String($0.octets) })
        #expect(column(7) == v4Records.map { String($0.packets) })
        #expect(column(8) == v4Records.map { String($0.endReason) })
        #expect(column(9) == v4Records.map { String($0.vlan) })
        #expect(column(10) == v4Records.map { String($0.ingress) })
        #expect(column(11) == v4Records.map { "0x" + hex($0.icmpType, width: 2) + hex($0.icmpCode, width: 2) })

        // Times, as seconds since the epoch with milliseconds.
        let times = try Self.fields(file, ["cflow.abstimestart", "cflow.abstimeend"])
        let seconds = times[0].map { $0.map(Self.epochText) }
        #expect(seconds.first == v4Records.map { Self.millisecondsText($0.firstMs) })
        #expect(seconds.last == v4Records.map { Self.millisecondsText($0.lastMs) })

        // Every IPv6 value as encoded.
        let v6Names = [
            "cflow.srcaddrv6", "cflow.dstaddrv6", "cflow.srcport", "cflow.dstport", "cflow.protocol",
            "cflow.octets", "cflow.packets", "cflow.vlanid", "cflow.inputint", "cflow.icmp_ipv6_type",
            "cflow.icmp_ipv6_code",
        ]
        let f6 = try Self.fields(file, v6Names)[1]
        #expect(f6[0] == v6Records.map(\.source))
        #expect(f6[1] == v6Records.map(\.destination))
        #expect(f6[2] == v6Records.map { String($0.sourcePort) })
        #expect(f6[3] == v6Records.map { String($0.destinationPort) })
        #expect(f6[4] == v6Records.map { String($0.ipProtocol) })
        #expect(f6[5] == v6Records.map { String($0.octets) })
        #expect(f6[6] == v6Records.map { String($0.packets) })
        #expect(f6[7] == v6Records.map { String($0.vlan) })
        #expect(f6[8] == v6Records.map { String($0.ingress) })
        #expect(f6[9] == v6Records.map { String($0.icmpType) })  // tshark splits element 139 in two
        #expect(f6[10] == v6Records.map { String($0.icmpCode) })

        // The statistics: exporting process reliability, metering statistics and reliability.
        let stats = try Self.fields(
            file,
            [
                "cflow.notsent_flows", "cflow.notsent_packets", "cflow.notsent_octets", "cflow.ignore_packets",
                "cflow.ignore_octets", "cflow.od_id", "cflow.packetsexp", "cflow.flowsexp", "cflow.octetsexp",
            ])[2]
        #expect(stats[0] == ["1"] && stats[1] == ["2"] && stats[2] == ["3"])
        #expect(stats[3] == ["3"] && stats[4] == ["180"])
        #expect(stats[5] == ["0", "5", "5"])
        #expect(stats[6] == ["2"])
        #expect(stats[7] == [String(v4Records.count + v6Records.count)])
        #expect(stats[8] == [String(messages[0].count + messages[1].count)])
    }

    /// tshark's absolute time text ("Nov 30, 2026 12:00:01.234000000 UTC") as "seconds.mmm" since the epoch.
    static func epochText(_ text: String) -> String {
        let parts = text.split(separator: " ")
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        guard parts.count == 5, parts[4] == "UTC", let month = months.firstIndex(of: String(parts[0])),
            let day = Int32(parts[1].dropLast()), let year = Int32(parts[2])
        else { return "unparsed: " + text }
        let clock = parts[3].split(separator: ":")
        guard clock.count == 3, let hour = Int32(clock[0]), let minute = Int32(clock[1]) else {
            return "unparsed: " + text
        }
        let secondParts = clock[2].split(separator: ".")
        guard let second = Int32(secondParts[0]) else { return "unparsed: " + text }
        var t = tm()
        t.tm_year = year - 1900
        t.tm_mon = Int32(month)
        t.tm_mday = day
        t.tm_hour = hour
        t.tm_min = minute
        t.tm_sec = second
        let fraction = secondParts.count > 1 ? String(secondParts[1].prefix(3)) : "000"
        return "\(timegm(&t)).\(fraction)"
    }

    static func millisecondsText(_ ms: UInt64) -> String {
        let fraction = String(ms % 1000)
        return "\(ms / 1000)." + String(repeating: "0", count: 3 - fraction.count) + fraction
    }
}

func hex(_ v: UInt8, width: Int) -> String {
    let s = String(v, radix: 16)
    return String(repeating: "0", count: max(0, width - s.count)) + s
}
