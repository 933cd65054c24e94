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

    /// An nfcapd listening on 127.0.0.1, writing into its own directory; stopped with SIGTERM.
    final class Collector {
        let directory: String
        let port: UInt16
        let process: IPFIXTestProcess
        private(set) var stopped = false

        init() throws {
            directory = temporaryDirectory("ipfix-nfcapd")
            var lastError = ""
            // The port was free a moment ago; another process may take it first, so try a few.
            for _ in 0..<5 {
                let port = try IPFIXTestSystem.freePort()
                let child = try IPFIXTestProcess([
                    "nfcapd", "-b", "127.0.0.1", "-p", String(port), "-w", directory, "-B", "8388608", "-t", "3600",
                ])
                let deadline = monotonicSeconds() + 15
                while monotonicSeconds() < deadline && child.poll() == nil && !IPFIXTestSystem.udpBound(port: port) {
                    usleep(10_000)
                }
                if child.poll() == nil && IPFIXTestSystem.udpBound(port: port) {
                    self.port = port
                    process = child
                    return
                }
                lastError = "nfcapd on port \(port): exit \(child.poll().map(String.init) ?? "none"): \(child.stderr)"
                _ = child.stop(SIGKILL, timeoutSeconds: 10)
            }
            IPFIXTestSystem.removeDirectory(directory)
            throw IPFIXTestSystem.Failure("nfcapd did not bind: \(lastError)")
        }

        /// Waits until nfcapd has read every datagram and is blocked in recvfrom again, so it has
        /// also processed them (it drops a datagram it received when SIGTERM comes before it is
        /// processed). Polls with a deadline.
        /// - Returns: the socket's drop count, or nil when the deadline passed.
        func waitUntilDrained(timeoutSeconds: Double = 30) -> UInt64? {
            let deadline = monotonicSeconds() + timeoutSeconds
            var quietPolls = 0
            while monotonicSeconds() < deadline && process.poll() == nil {
                let queue = IPFIXTestSystem.udpQueue(port: port)
                let blocked = IPFIXTestSystem.blockedSyscall(process.pid) == IPFIXTestSystem.recvfromSyscall
                quietPolls = queue?.queued == 0 && blocked ? quietPolls + 1 : 0
                if quietPolls >= 3, let queue { return queue.drops }
                usleep(5_000)
            }
            return nil
        }

        /// SIGTERM, and waits for the exit that completes the file.
        /// - Returns: the exit status.
        func stop() -> Int32 {
            stopped = true
            return process.stop(SIGTERM, timeoutSeconds: 30)
        }

        /// The completed files (not the one being written).
        var files: [String] {
            IPFIXTestSystem.list(directory).filter { $0.hasPrefix("nfcapd.") && !$0.hasPrefix("nfcapd.current") }
                .map { directory + "/" + $0 }
        }

        deinit {
            if !stopped { _ = stop() }
            IPFIXTestSystem.removeDirectory(directory)
        }
    }

    /// One flow as `nfdump -o raw` prints it.
    struct NfdumpFlow: CustomStringConvertible {
        var fields: [String: String] = [:]
        func number(_ key: String) -> UInt64? { fields[key].flatMap { UInt64($0.split(separator: " ").first ?? "") } }
        var description: String {
            fields.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        }
    }

    /// Parses `nfdump -o raw`: a block per flow, lines `  key = value`.
    static func parseRaw(_ text: String) -> [NfdumpFlow] {
        var flows: [NfdumpFlow] = []
        var current: NfdumpFlow?
        for line in text.split(separator: "\n") {
            if line.hasPrefix("Flow Record:") {
                if let c = current { flows.append(c) }
                current = NfdumpFlow()
                continue
            }
            guard current != nil, let eq = line.firstIndex(of: "=") else { continue }
            let key = line[..<eq].split(separator: " ").joined(separator: " ")
            let value = line[line.index(after: eq)...].split(separator: " ").joined(separator: " ")
            if current!.fields[key] == nil { current!.fields[key] = value }
        }
        if let c = current { flows.append(c) }
        return flows
    }

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
        let before = IPFIXTestSystem.udpCounters()
        try IPFIXTestSystem.send(messages, to: collector.port)
        let socketDrops = collector.waitUntilDrained()
        let after = IPFIXTestSystem.udpCounters()
        #expect(socketDrops == 0, "nfcapd's socket: \(socketDrops.map { "\($0) drops" } ?? "not drained in time")")
        #expect(before["RcvbufErrors"] != nil)
        #expect(after["RcvbufErrors"] == before["RcvbufErrors"], "the kernel dropped datagrams: \(before) → \(after)")
        #expect(after["InErrors"] == before["InErrors"], "UDP input errors: \(before) → \(after)")
        let status = collector.stop()
        #expect(status == 0, "nfcapd exited \(status): \(collector.process.stderr)")
        let log = collector.process.stderr
        let files = collector.files
        #expect(!files.isEmpty, "no nfcapd file in \(IPFIXTestSystem.list(collector.directory))")

        var stored: [NfdumpFlow] = []
        var sequenceFailures: UInt64 = 0
        var statFlows: UInt64 = 0
        for file in files {
            let raw = run(["nfdump", "-r", file, "-q", "-o", "raw"], timeoutSeconds: 120)
            #expect(raw.status == 0, "nfdump -o raw: \(raw.stderr)")
            stored += Self.parseRaw(raw.stdout)
            let info = run(["nfdump", "-I", "-r", file], timeoutSeconds: 60)
            #expect(info.status == 0, "nfdump -I: \(info.stderr)")
            for line in info.stdout.split(separator: "\n") {
                let parts = line.split(separator: ":", maxSplits: 1).map { $0.split(separator: " ").joined() }
                guard parts.count == 2, let v = UInt64(parts[1]) else { continue }
                if parts[0] == "Sequencefailures" { sequenceFailures += v }
                if parts[0] == "Flows" { statFlows += v }
            }
        }
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
