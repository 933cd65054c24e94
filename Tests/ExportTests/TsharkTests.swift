import StatsProtocol
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

extension ExportTests {
    /// tshark's IPFIX dissector (cflow) reads every message the daemon sent,
    /// with no malformed field; the flow templates (set 2) and the options
    /// templates (set 3) precede the first data set of their observation
    /// domain, and the flow templates come again on their period and after
    /// their message count.
    ///
    /// The options templates go with the exporter's statistics, which leave
    /// every 60 s (not configurable on the command line): within a short run
    /// they appear once, before the statistics; their refresh is the same
    /// code as the flow templates' (IPFIXExportSession's tests cover both).
    @Test("tshark decodes every message; templates precede the data and come again after the refresh period")
    func tsharkDecodesEveryMessage() throws {
        #expect(IPFIXTestSystem.installed("tshark"), "tshark is not installed (apt-get install tshark)")
        let (pcap, _) = try #require(Captures.mixed, "the generator needs python3 with scapy")
        // Flows idle out on the capture's clock as the replay goes, so records
        // leave all along; paced to about 3 s of wall clock.
        let flowing = ["--idle-timeout", "0.05", "--tcp-linger", "0.05", "--workers", "2"]

        // The period: templates every second, the message count out of reach.
        let (timedReport, timed) = try exportToListener(
            pcap, flowing + ["--pps", "1000", "--template-refresh", "1", "--template-refresh-messages", "1000000"])
        let timedMessages = try checkWithTshark(timed, report: timedReport)
        let withTemplates = timedMessages.filter { $0.domain == 1 && $0.sets.contains(2) }
        #expect(withTemplates.count >= 3, "templates at export times \(withTemplates.map(\.exportTime))")
        for (a, b) in zip(withTemplates, withTemplates.dropFirst()) {
            // A second or more apart (the header's export time is in whole seconds).
            #expect(b.exportTime >= a.exportTime + 1, "templates again at \(a.exportTime) and \(b.exportTime)")
        }

        // The message count: templates in every fourth message of the flow
        // domain, the period out of reach; small messages for many of them.
        let (countedReport, counted) = try exportToListener(
            pcap, flowing + ["--template-refresh", "3600", "--template-refresh-messages", "3", "--ipfix-mtu", "600"])
        let countedMessages = try checkWithTshark(counted, report: countedReport)
        let flowMessages = countedMessages.filter { $0.domain == 1 }
        #expect(flowMessages.count >= 20)
        for (i, m) in flowMessages.enumerated() {
            #expect(m.sets.contains(2) == (i % 4 == 0), "flow message \(i): sets \(m.sets)")
        }
    }

    /// One message as tshark read it.
    struct TsharkMessage {
        var domain: Int
        var sequence: Int
        var exportTime: Int
        var length: Int
        var sets: [Int]
        var flowRecords: Int
    }

    /// Replays `pcap` exporting to a socket of the test's own; the report and every datagram.
    func exportToListener(_ pcap: String, _ arguments: [String], sourceLocation: SourceLocation = #_sourceLocation)
        throws -> (ReplayReportDocument, [[UInt8]])
    {
        let listener = try UDPListener()
        let report = try replay([pcap], arguments + ["--ipfix", listener.address]).report
        let datagrams = listener.receiveAll()
        #expect(listener.drops == 0, sourceLocation: sourceLocation)
        let export = try #require(report.export, sourceLocation: sourceLocation)
        #expect(export.messagesSent == datagrams.count && export.messagesFailed == 0, sourceLocation: sourceLocation)
        #expect(export.dropped == 0, sourceLocation: sourceLocation)
        return (report, datagrams)
    }

    /// Writes the datagrams into a pcap (Ethernet, IPv4, UDP) and has tshark
    /// dissect it: no malformed packet, no expert warning or error, every
    /// message whole, templates before data in each domain, every record of
    /// the report. Also decodes the stream (sequence numbers).
    func checkWithTshark(_ datagrams: [[UInt8]], report: ReplayReportDocument) throws -> [TsharkMessage] {
        let port: UInt16 = 4739
        let directory = temporaryDirectory("export-tshark")
        defer { IPFIXTestSystem.removeDirectory(directory) }
        let file = directory + "/ipfix.pcap"
        var writer = PcapWriter(linkType: 1)
        for (i, d) in datagrams.enumerated() {
            writer.record(
                Frames.loopbackUDP(d, sport: 40000, dport: port), seconds: 1_796_040_000 + UInt32(i / 1000),
                fraction: UInt32(i % 1000) * 1000)
        }
        writeFile(file, writer.bytes)
        func tshark(_ arguments: [String]) -> ProcessResult {
            run(["tshark", "-r", file, "-d", "udp.port==\(port),cflow"] + arguments, timeoutSeconds: 120)
        }
        let verbose = tshark(["-V"])
        #expect(verbose.status == 0, "tshark -V: \(verbose.stderr)")
        for bad in ["Malformed", "Expert Info (Error", "Expert Info (Warning", "no template", "No Template"] {
            #expect(!verbose.stdout.contains(bad), "tshark says \(bad)")
        }
        let expert = tshark(["-q", "-z", "expert"])
        #expect(expert.status == 0)
        #expect(!expert.stdout.contains("Errors") && !expert.stdout.contains("Warns"), "\(expert.stdout)")

        let fields = tshark(
            [
                "-T", "fields", "-E", "separator=/t", "-E", "occurrence=a", "-E", "aggregator=|", "-e",
                "cflow.version", "-e", "cflow.od_id", "-e", "cflow.sequence", "-e", "cflow.len", "-e",
                "cflow.flowset_id", "-e", "cflow.packets",
            ])
        #expect(fields.status == 0, "tshark -T fields: \(fields.stderr)")
        let rows = fields.stdout.split(separator: "\n").map {
            $0.split(separator: "\t", omittingEmptySubsequences: false).map {
                $0.split(separator: "|").compactMap { Int($0) }
            }
        }
        #expect(rows.count == datagrams.count, "tshark read \(rows.count) of \(datagrams.count) messages")
        // The stream itself, read independently: framing and sequence numbers (and the export times).
        let decoded = try decodeStream(datagrams)
        var messages: [TsharkMessage] = []
        for (i, (row, d)) in zip(rows, decoded).enumerated() where row.count == 6 {
            #expect(row[0] == [10], "message \(i): version \(row[0])")
            let m = TsharkMessage(
                domain: row[1].first ?? -1, sequence: row[2].first ?? -1, exportTime: Int(d.header.exportTime),
                length: row[3].first ?? -1, sets: row[4], flowRecords: row[5].count)
            #expect(m.domain == Int(d.header.domain) && m.sequence == Int(d.header.sequence), "message \(i)")
            #expect(i < datagrams.count && m.length == datagrams[i].count, "message \(i): length \(m.length)")
            messages.append(m)
        }
        // Templates before data, in each domain: set 2 before 256/257, set 3 before 258...260.
        for domain in Set(messages.map(\.domain)) {
            let sets = messages.filter { $0.domain == domain }.flatMap(\.sets)
            let firstData = sets.firstIndex { $0 >= 256 }
            let firstTemplate = sets.firstIndex { $0 == (domain == 0 ? 3 : 2) }
            #expect(
                firstTemplate != nil && firstData != nil && firstTemplate! < firstData!,
                "domain \(domain): sets \(sets.prefix(10))")
        }
        #expect(Set(messages.map(\.domain)) == [0, 1])
        // Every record the exporter sent, as tshark counts them.
        #expect(messages.reduce(0) { $0 + $1.flowRecords } == report.export?.records)
        #expect(messages.count == datagrams.count)
        return messages
    }
}
