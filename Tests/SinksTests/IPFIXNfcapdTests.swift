import Sinks
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The encoded messages sent over UDP on loopback to a real collector,
/// nfcapd (nfdump 1.7.1), and read back with nfdump.
@Suite("IPFIX to nfcapd")
struct IPFIXNfcapdTests {
    typealias Flows = IPFIXTestFlows

    typealias Collector = NfcapdCollector

    @Test("nfcapd stores every flow as encoded, with no sequence failure and no loss")
    func collect() throws {
        guard IPFIXTestSystem.installed("nfcapd") && IPFIXTestSystem.installed("nfdump") else {
            Issue.record("nfcapd and nfdump are not installed (apt-get install nfdump)")
            return
        }
        // Two flow domains and the statistics domain; templates refreshed every 10 messages.
        let config = IPFIXExportConfiguration(
            observationDomains: [1, 2], exportingProcessID: 3, templateRefreshMessages: 10, statisticsSeconds: 1)
        var session = try IPFIXExportSession(config)
        let known = Flows.known()
        var rng = IPFIXTestRandom(seed: 7)
        let bulk = (0..<1_500).map { _ in Flows.random(&rng) }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1400, alignment: 8)
        defer { buffer.deallocate() }

        var messages: [[UInt8]] = []
        func statistics(_ now: Int64) throws {
            while true {
                let s = try session.nextStatisticsMessage(into: buffer, now: now)
                if s.byteCount == 0 { break }
                messages.append(Array(buffer[0..<s.byteCount]))
            }
        }
        var t = Flows.t0
        try statistics(t)
        messages += try Flows.messages(&session, domain: 0, flows: known, now: t)
        var sources = [FlowExportCollectionSource(bulk[..<750]), FlowExportCollectionSource(bulk[750...])]
        while !sources[0].isEmpty || !sources[1].isEmpty {
            for i in 0..<2 where !sources[i].isEmpty {
                let s = try session.nextMessage(into: buffer, domain: i, from: &sources[i], now: t)
                if s.byteCount > 0 { messages.append(Array(buffer[0..<s.byteCount])) }
            }
            t += 100_000_000
            try statistics(t)
        }
        #expect(messages.count > 100)
        #expect(messages.allSatisfy { $0.count <= 1400 })

        let collector = try Collector()
        try IPFIXTestSystem.send(messages, to: collector.port)
        // nfcapd's own socket's drops (/proc/net/udp), not the host's
        // RcvbufErrors, which other tests' datagrams move too.
        let socketDrops = collector.waitUntilDrained()
        #expect(socketDrops == 0, "nfcapd's socket: \(socketDrops.map { "\($0) drops" } ?? "not drained in time")")
        let status = collector.stop()
        #expect(status == 0, "nfcapd exited \(status): \(collector.process.stderr)")
        let log = collector.process.stderr
        let files = collector.files
        #expect(!files.isEmpty, "no nfcapd file in \(IPFIXTestSystem.list(collector.directory))")

        let stored = try Nfdump.flows(files)
        let info = try Nfdump.info(files)
        let sequenceFailures = info["Sequence failures"] ?? 0
        let statFlows = info["Flows"] ?? 0
        let expected = (known + bulk).flatMap(Flows.uniflows)
        #expect(sequenceFailures == 0, "nfdump -I reports sequence failures; nfcapd log:\n\(log)")
        #expect(log.contains("Sequence Errors: 0"), "nfcapd log:\n\(log)")
        #expect(statFlows == UInt64(expected.count))
        #expect(stored.count == expected.count)

        // Match every expected uniflow to a stored flow by its key and check every value.
        var byKey: [String: [NfdumpFlow]] = [:]
        for f in stored { byKey[Self.key(f), default: []].append(f) }
        var missing = 0
        for (i, want) in expected.enumerated() {
            let key = Self.key(want)
            guard var candidates = byKey[key], !candidates.isEmpty else {
                missing += 1
                if missing <= 5 { Issue.record("flow \(i) not stored: \(want)") }
                continue
            }
            let got = candidates.removeFirst()
            byKey[key] = candidates
            let isICMP = want.ipProtocol == 1 || want.ipProtocol == 58
            #expect(got.number("first") == want.firstMs, "\(want) ↔ \(got)")
            #expect(got.number("last") == want.lastMs, "\(want) ↔ \(got)")
            #expect(got.number("in packets") == want.packets, "\(want) ↔ \(got)")
            #expect(got.number("in bytes") == want.octets, "\(want) ↔ \(got)")
            #expect(got.number("input") == UInt64(want.ingress), "\(want) ↔ \(got)")
            #expect(got.number("src vlan") == UInt64(want.vlan & 0x0FFF), "\(want) ↔ \(got)")
            #expect(
                got.fields["end reason"]?.hasPrefix("0x" + hex(want.endReason, width: 2)) == true, "\(want) ↔ \(got)")
            if want.ipProtocol == 6 {
                #expect(
                    got.fields["tcp flags"]?.hasPrefix("0x" + hex(want.tcpFlags, width: 2)) == true, "\(want) ↔ \(got)")
            }
            if isICMP {
                #expect(
                    got.fields["ICMP"]?.split(separator: " ").first == "\(want.icmpType).\(want.icmpCode)",
                    "\(want) ↔ \(got)")
            } else {
                #expect(got.number("src port") == UInt64(want.sourcePort), "\(want) ↔ \(got)")
                #expect(got.number("dst port") == UInt64(want.destinationPort), "\(want) ↔ \(got)")
            }
        }
        #expect(missing == 0)
    }

    /// Addresses, ports (type and code for ICMP) and protocol: what identifies a uniflow in nfdump's output.
    static func key(_ f: NfdumpFlow) -> String {
        let proto = f.fields["proto"]?.split(separator: " ").first.map(String.init) ?? "?"
        let ports =
            f.fields["ICMP"].map { "icmp " + ($0.split(separator: " ").first.map(String.init) ?? "") }
            ?? "\(f.fields["src port"] ?? "?")>\(f.fields["dst port"] ?? "?")"
        return "\(f.fields["src addr"] ?? "?")>\(f.fields["dst addr"] ?? "?") \(ports) p\(proto)"
    }

    static func key(_ u: IPFIXTestFlows.Uniflow) -> String {
        let ports =
            u.ipProtocol == 1 || u.ipProtocol == 58
            ? "icmp \(u.icmpType).\(u.icmpCode)" : "\(u.sourcePort)>\(u.destinationPort)"
        return "\(u.source)>\(u.destination) \(ports) p\(u.ipProtocol)"
    }
}
