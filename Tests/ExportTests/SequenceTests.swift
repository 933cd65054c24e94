import StatsProtocol
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

extension ExportTests {
    /// RFC 7011 section 3.1 over thousands of messages from two workers to
    /// two collectors: in each collector's stream, each message's sequence
    /// number is the count of data records sent before it in its
    /// observation domain (the flows' and the statistics' 0); each collector
    /// has a stream of its own and gets every record.
    @Test("sequence numbers over thousands of messages, two workers, two collectors each with its own stream")
    func sequenceNumbers() throws {
        let directory = temporaryDirectory("export-sequence")
        defer { IPFIXTestSystem.removeDirectory(directory) }
        let flows = 40_000
        let (bytes, octets) = Captures.bidirectionalUDP(flows: flows)
        let pcap = directory + "/flows.pcap"
        writeFile(pcap, bytes)
        let first = try UDPListener()
        let second = try UDPListener()
        let report = try replay(
            [pcap],
            keepFlowsToTheEnd + [
                "--workers", "2", "--flows", "131072", "--export-ring", "65536", "--top", "0",
                "--observation-domain", "7", "--ipfix", first.address, "--ipfix", second.address,
            ]
        ).report
        let streams = [first.receiveAll(), second.receiveAll()]
        // Each collector socket's own drop count (/proc/net/udp): the
        // host's RcvbufErrors would also count other tests' datagrams.
        #expect(first.drops == 0 && second.drops == 0)

        let export = try #require(report.export)
        #expect(export.collectors == [first.address, second.address])
        #expect(export.messagesSent == streams[0].count + streams[1].count && export.messagesFailed == 0, "\(export)")
        #expect(export.records == 2 * 2 * flows && export.flows == 2 * flows && export.dropped == 0, "\(export)")
        var perCollector: [[Uniflow: Counts]] = []
        for (i, stream) in streams.enumerated() {
            #expect(stream.count > 3_000, "collector \(i): \(stream.count) messages")
            let messages = try decodeStream(stream)
            #expect(Set(messages.map(\.header.domain)) == [0, 7], "collector \(i)")
            // The last flow message's number plus its records: every record, none twice.
            let last = try #require(messages.last { $0.header.domain == 7 })
            #expect(Int(last.header.sequence) + last.records.count == 2 * flows, "collector \(i)")
            let records = flowRecords(messages)
            #expect(records.count == 2 * flows, "collector \(i): one record per direction of each flow")
            #expect(records.values.reduce(0) { $0 + $1.packets } == UInt64(2 * flows))
            #expect(records.values.reduce(0) { $0 + $1.octets } == octets)
            #expect(records.values.allSatisfy { $0.records == 1 && $0.packets == 1 })
            perCollector.append(records)
        }
        #expect(perCollector.count == 2 && perCollector[0] == perCollector[1], "both collectors got the same records")
    }
}
