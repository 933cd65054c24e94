import StatsProtocol
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

extension ExportTests {
    /// The daemon with an `[ipfix]` table exporting to nfcapd: a replay job
    /// through the socket, a `flush` in the middle of it, and the flush the
    /// daemon does itself after the job (it exports and has no live
    /// source). `stats` has the export section; nfcapd gets every packet.
    @Test("labyrinthd run with [ipfix]: a replay job and flush reach nfcapd; stats has the export section")
    func daemonExport() throws {
        let (pcap, _) = try #require(Captures.mixed, "the generator needs python3 with scapy")
        let (figures, _, info, log) = try withNfcapd { collector in
            let daemon = try DaemonProcess(
                workers: 2, more: "\n[ipfix]\ncollectors = [\"\(collector.address)\"]\nobservation_domain = 3\n")
            defer { _ = daemon.stop() }
            let idle = try JSONCoding.decode(Stats.self, from: try daemon.ask(["command": "stats"]))
            let idleExport = try #require(idle.export, "stats without an export section")
            #expect(idleExport.collectors == [collector.address] && idleExport.records == 0)

            // Paced, so that the flush lands in the middle of the job.
            let job = try daemon.ask(["command": "replay", "file": .string(pcap), "pps": 2000])
            let id = try #require(job["job"]?.intValue)
            #expect(
                try eventually(within: 30) {
                    (try daemon.ask(["command": "replay", "job": .int(id)])["packets"]?.intValue ?? 0) >= 800
                })
            let flush = try JSONCoding.decode(FlushReply.self, from: try daemon.ask(["command": "flush"]))
            #expect(flush.flowsEnded > 0 && flush.workersNotAnswering.isEmpty, "\(flush)")
            var state = ""
            #expect(
                try eventually(within: 60) {
                    state = try daemon.ask(["command": "replay", "job": .int(id)])["state"]?.stringValue ?? ""
                    return state != "queued" && state != "running"
                })
            #expect(state == "done")

            // The job ended with a flush: no flow left, each ended one sent.
            var stats = idle
            #expect(
                try eventually(within: 10) {
                    stats = try JSONCoding.decode(Stats.self, from: try daemon.ask(["command": "stats"]))
                    return stats.export?.flows == stats.traffic.flows.exported
                }, "exported flows still in the rings: \(stats.traffic.flows), \(String(describing: stats.export))")
            let flows = stats.traffic.flows
            #expect(flows.active == 0, "\(flows)")
            #expect(flows.forced > flush.flowsEnded, "\(flows): the job's own flush ended flows too")
            #expect(flows.exported == flows.expired + flows.activeTimeout + flows.closed + flows.forced)
            let export = try #require(stats.export)
            #expect(export.messagesSent > 0 && export.messagesFailed == 0 && export.dropped == 0, "\(export)")
            #expect(export.lastError == nil)
            // A flush now finds nothing left.
            let again = try JSONCoding.decode(FlushReply.self, from: try daemon.ask(["command": "flush"]))
            #expect(again.flowsEnded == 0 && again.recordsExported == flows.exported, "\(again)")
            let metrics = try daemon.ask(["command": "prometheus"]).stringValue ?? ""
            #expect(metrics.contains("labyrinth_ipfix_data_records_total \(export.records)"), "\(metrics.prefix(2000))")
            #expect(daemon.stop() == 0, "\(daemon.logText)")
            return (stats.traffic, export)
        }
        let (traffic, export) = figures
        let d = traffic.decoded
        #expect(info["Packets"] == UInt64(d.tcp + d.udp + d.icmp + d.icmpv6), "every packet with a flow: \(info)")
        #expect(info["Flows"] == UInt64(export.records), "\(info)")
        #expect(info["Sequence failures"] == 0, "nfcapd log:\n\(log)")
        #expect(log.contains("Observation domain 3"), "nfcapd log:\n\(log)")
    }
}
