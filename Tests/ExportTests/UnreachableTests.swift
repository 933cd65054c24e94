import StatsProtocol
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

extension ExportTests {
    /// A collector that is not there: nothing listens on its port, so after
    /// the first datagram every other send fails with ECONNREFUSED (the ICMP
    /// port unreachable the first one drew). Nothing waits for it: the
    /// replay ends as soon as without export, its packet counts are the same,
    /// and each message is counted either sent or failed.
    @Test("an unreachable collector: the replay ends promptly, counts unchanged, every message sent or failed")
    func unreachableCollector() throws {
        let (pcap, _) = try #require(Captures.mixed, "the generator needs python3 with scapy")
        let common = keepFlowsToTheEnd + ["--workers", "2", "--top", "100000"]
        let (baseline, _, baselineSeconds) = try replay([pcap], common)
        #expect(baseline.export == nil)

        let unused = try IPFIXTestSystem.freePort()
        #expect(!IPFIXTestSystem.udpBound(port: unused))
        let (lonely, _, seconds) = try replay([pcap], common + ["--ipfix", "127.0.0.1:\(unused)"], timeoutSeconds: 60)
        #expect(
            seconds < baselineSeconds + 10,
            "with an unreachable collector: \(seconds) s, without export: \(baselineSeconds) s")
        expectSameTraffic(lonely, baseline)
        let export = try #require(lonely.export)
        #expect(export.messagesFailed > 0 && export.messagesSent > 0, "\(export)")
        #expect(export.lastError?.contains("Connection refused") == true, "\(export)")
        #expect(export.dropped == 0)
        // The flows ended and went to the exporter all the same.
        #expect(lonely.traffic.flows.exported == baseline.traffic.flows.total)

        // Exactly: beside a collector that listens, every message goes to
        // both (the sessions encode the same records at the same moments), so
        // the attempts at the unreachable one are the messages the listening
        // one received, each counted sent or failed.
        let listener = try UDPListener()
        let (both, _, _) = try replay(
            [pcap], common + ["--ipfix", "127.0.0.1:\(unused)", "--ipfix", listener.address], timeoutSeconds: 60)
        let received = listener.receiveAll()
        #expect(listener.drops == 0)
        expectSameTraffic(both, baseline)
        let x = try #require(both.export)
        #expect(x.messagesFailed > 0, "\(x)")
        #expect(
            x.messagesSent + x.messagesFailed == 2 * received.count,
            "attempted \(x.messagesSent) + \(x.messagesFailed), \(received.count) messages to each collector")
        // The listening collector's stream is whole: sequence numbers without a
        // gap, every record of every flow.
        let messages = try decodeStream(received)
        let records = flowRecords(messages)
        let flows = try #require(baseline.traffic.flows.top)
        let uniflows = flows.reduce(0) { $0 + ($1.packetsAToB > 0 ? 1 : 0) + ($1.packetsBToA > 0 ? 1 : 0) }
        #expect(records.values.reduce(0) { $0 + $1.records } == uniflows)
        #expect(records.values.reduce(0) { $0 + $1.octets } == UInt64(flows.reduce(0) { $0 + $1.octets }))
        #expect(x.records >= uniflows && x.records <= 2 * uniflows, "records sent to both collectors: \(x.records)")
    }

    /// The traffic figures of two replays of the same file.
    func expectSameTraffic(
        _ a: ReplayReportDocument, _ b: ReplayReportDocument, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(
            a.traffic.packets == b.traffic.packets && a.traffic.bytes == b.traffic.bytes, sourceLocation: sourceLocation
        )
        #expect(a.traffic.decoded == b.traffic.decoded, sourceLocation: sourceLocation)
        #expect(a.traffic.dropped == b.traffic.dropped, sourceLocation: sourceLocation)
        #expect(a.traffic.flows.total == b.traffic.flows.total, sourceLocation: sourceLocation)
        let flows = { (r: ReplayReportDocument) in (r.traffic.flows.top ?? []).map { String(describing: $0) }.sorted() }
        #expect(flows(a) == flows(b), "the same flows with the same counts", sourceLocation: sourceLocation)
    }
}
