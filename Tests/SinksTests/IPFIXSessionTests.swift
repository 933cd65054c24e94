import TestSupport
import Testing

@testable import Sinks

@Suite("IPFIX exporting session")
struct IPFIXSessionTests {
    typealias Flows = IPFIXTestFlows
    static let second: Int64 = 1_000_000_000

    /// Writes one message of domain `index` with `flows`; returns it decoded (nil when nothing was written).
    static func step(
        _ session: inout IPFIXExportSession, _ decoder: inout IPFIXTestDecoder, domain index: Int = 0,
        flows: [FlowExportRecord] = [], now: Int64
    ) throws -> IPFIXTestDecoder.Message? {
        let buffer = UnsafeMutableRawBufferPointer.allocate(
            byteCount: session.configuration.maximumMessageLength, alignment: 8)
        defer { buffer.deallocate() }
        var source = FlowExportCollectionSource(flows)
        let summary = try session.nextMessage(into: buffer, domain: index, from: &source, now: now)
        let allTaken = source.isEmpty
        #expect(allTaken, "\(flows.count) flows did not fit in one message")
        if summary.byteCount == 0 { return nil }
        let m = try decoder.decode(Array(buffer[0..<summary.byteCount]))
        #expect(m.header.sequence == summary.sequenceNumber && m.header.domain == summary.observationDomain)
        #expect(m.records.count == summary.dataRecords && m.templates.count == summary.templateRecords)
        return m
    }

    /// Writes statistics messages until the round ends; returns them decoded.
    static func statistics(
        _ session: inout IPFIXExportSession, _ decoder: inout IPFIXTestDecoder, now: Int64
    ) throws -> [IPFIXTestDecoder.Message] {
        let buffer = UnsafeMutableRawBufferPointer.allocate(
            byteCount: session.configuration.maximumMessageLength, alignment: 8)
        defer { buffer.deallocate() }
        var out: [IPFIXTestDecoder.Message] = []
        while true {
            let summary = try session.nextStatisticsMessage(into: buffer, now: now)
            if summary.byteCount == 0 { break }
            #expect(summary.byteCount <= session.configuration.maximumMessageLength)
            #expect(summary.isStatistics)
            out.append(try decoder.decode(Array(buffer[0..<summary.byteCount])))
            if out.count > 1000 { break }
        }
        return out
    }

    @Test("sequence numbers count data records per observation domain, over many messages")
    func sequenceNumbers() throws {
        let domains: [UInt32] = [1, 2, 3, 0xFFFF_FFFF]
        var session = try IPFIXExportSession(IPFIXExportConfiguration(observationDomains: domains))
        var decoder = IPFIXTestDecoder()
        var rng = IPFIXTestRandom(seed: 42)
        var sent = [UInt32](repeating: 0, count: domains.count)
        for step in 0..<2_000 {
            let index = Int.random(in: 0..<domains.count, using: &rng)
            let flows = (0..<Int.random(in: 0...6, using: &rng)).map { _ in Flows.random(&rng) }
            let now = Flows.t0 + Int64(step) * 10_000_000
            guard let m = try Self.step(&session, &decoder, domain: index, flows: flows, now: now) else {
                #expect(flows.allSatisfy { $0.uniflowRecordCount == 0 })
                continue
            }
            #expect(m.header.domain == domains[index])
            #expect(m.header.sequence == sent[index], "domain \(domains[index]) step \(step)")
            sent[index] &+= UInt32(m.records.count)
            #expect(session.sequenceNumber(domain: index) == sent[index])
        }
        #expect(sent.allSatisfy { $0 > 1000 })
        #expect(session.sequenceNumber(domain: 4) == nil)
    }

    @Test("the sequence number wraps modulo 2^32")
    func sequenceWraps() throws {
        var session = try IPFIXExportSession(IPFIXExportConfiguration())
        session.streams[0].sequence = UInt32.max - 1
        var decoder = IPFIXTestDecoder()
        let first = try #require(try Self.step(&session, &decoder, flows: [Flows.tcp4(), Flows.tcp4()], now: Flows.t0))
        #expect(first.header.sequence == UInt32.max - 1)
        let second = try #require(try Self.step(&session, &decoder, flows: [Flows.tcp4()], now: Flows.t0))
        #expect(second.header.sequence == 2)  // 2^32 - 2 + 4 records
    }

    @Test("templates come first, then again after the refresh period, and when the clock steps back")
    func refreshByTime() throws {
        let config = IPFIXExportConfiguration(templateRefreshSeconds: 10, templateRefreshMessages: 0)
        var session = try IPFIXExportSession(config)
        var decoder = IPFIXTestDecoder()
        let t = Flows.t0
        let flow = [Flows.tcp4()]
        #expect(try Self.step(&session, &decoder, flows: flow, now: t)?.sets.map(\.id) == [2, 256])
        #expect(try Self.step(&session, &decoder, flows: [], now: t + Self.second) == nil)  // nothing due
        #expect(try Self.step(&session, &decoder, flows: flow, now: t + 10 * Self.second - 1)?.sets.map(\.id) == [256])
        // The period passed: templates even without flows.
        #expect(try Self.step(&session, &decoder, flows: [], now: t + 10 * Self.second)?.sets.map(\.id) == [2])
        #expect(try Self.step(&session, &decoder, flows: flow, now: t + 19 * Self.second)?.sets.map(\.id) == [256])
        #expect(try Self.step(&session, &decoder, flows: flow, now: t + 20 * Self.second)?.sets.map(\.id) == [2, 256])
        #expect(try Self.step(&session, &decoder, flows: flow, now: t + 5 * Self.second)?.sets.map(\.id) == [2, 256])
        #expect(session.counters.templateRefreshes == 4 && session.counters.templateRecords == 8)
    }

    @Test("templates are sent again after the configured number of messages", arguments: [1, 3, 10])
    func refreshByCount(every: Int) throws {
        let config = IPFIXExportConfiguration(templateRefreshSeconds: 0, templateRefreshMessages: every)
        var session = try IPFIXExportSession(config)
        var decoder = IPFIXTestDecoder()
        var withTemplates: [Int] = []
        for i in 0..<40 {
            let m = try #require(try Self.step(&session, &decoder, flows: [Flows.tcp4()], now: Flows.t0))
            if m.sets.first?.id == 2 { withTemplates.append(i) }
        }
        #expect(withTemplates == Array(stride(from: 0, to: 40, by: every + 1)))
    }

    @Test("a collector that starts late decodes within one refresh period")
    func lateCollector() throws {
        var session = try IPFIXExportSession(IPFIXExportConfiguration(templateRefreshSeconds: 30))
        var early = IPFIXTestDecoder()
        _ = try Self.step(&session, &early, flows: [Flows.tcp4()], now: Flows.t0)
        var late = IPFIXTestDecoder()  // knows no template
        var decodedAt: Int64?
        for s in stride(from: Int64(1), through: 40, by: 1) {
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1400, alignment: 8)
            defer { buffer.deallocate() }
            var source = FlowExportCollectionSource([Flows.tcp4()])
            let summary = try session.nextMessage(
                into: buffer, domain: 0, from: &source, now: Flows.t0 + s * Self.second)
            if (try? late.decode(Array(buffer[0..<summary.byteCount]))) != nil {
                decodedAt = s
                break
            }
        }
        #expect(decodedAt == 30)
    }

    @Test("statistics: RFC 7011 sections 4.1, 4.2 and 4.3 in the statistics domain, on a period")
    func statisticsRecords() throws {
        let config = IPFIXExportConfiguration(
            observationDomains: [11, 12], statisticsDomain: 0, exportingProcessID: 77, templateRefreshSeconds: 600,
            statisticsSeconds: 60)
        var session = try IPFIXExportSession(config)
        var decoder = IPFIXTestDecoder()
        let t = Flows.t0
        let a = try #require(try Self.step(&session, &decoder, domain: 0, flows: Flows.known(), now: t))
        let aBytes = a.header.length
        _ = try Self.step(&session, &decoder, domain: 1, flows: [Flows.tcp4()], now: t)
        try session.packetsIgnored(domain: 1, packets: 5, octets: 3000, now: t + 1_500_000)
        try session.packetsIgnored(domain: 1, packets: 1, octets: 60, now: t + 2_500_000)
        session.flowsNotSent(records: 2, packets: 10, octets: 900, now: t + 7_000_000)

        let round = try Self.statistics(&session, &decoder, now: t + Self.second)
        #expect(round.count == 1)
        let m = round[0]
        #expect(m.header.domain == 0 && m.header.sequence == 0)
        #expect(m.sets.map(\.id) == [3, 3, 3, 260, 258, 259])
        #expect(m.templates.map(\.id) == [260, 258, 259] && m.templates.allSatisfy { $0.scopeCount == 1 })
        #expect(m.templates[0].fields.map(\.id) == [144, 166, 167, 168, 323, 323])
        #expect(m.templates[1].fields.map(\.id) == [149, 41, 42, 40])
        #expect(m.templates[2].fields.map(\.id) == [149, 164, 165, 323, 323])
        #expect(m.records.count == 5)
        let exporting = m.records[0]
        #expect(exporting.value(144) == 77 && exporting.value(166) == 2 && exporting.value(167) == 10)
        #expect(exporting.value(168) == 900)
        #expect(exporting.value(323) == UInt64((t + 7_000_000) / 1_000_000))
        #expect(exporting.value(323, occurrence: 1) == UInt64((t + 7_000_000) / 1_000_000))
        let metering = m.records.filter { $0.templateID == 258 }
        let flowRecords = UInt64(Flows.known().flatMap(Flows.uniflows).count)
        #expect(metering.map { $0.value(149) } == [11, 12])
        #expect(metering[0].value(41) == 1 && metering[0].value(42) == flowRecords)
        #expect(metering[0].value(40) == UInt64(aBytes))
        #expect(metering[1].value(41) == 1 && metering[1].value(42) == 2)
        let reliability = m.records.filter { $0.templateID == 259 }
        #expect(reliability[0].value(149) == 11 && reliability[0].value(164) == 0 && reliability[0].value(323) == 0)
        #expect(reliability[1].value(164) == 6 && reliability[1].value(165) == 3060)
        #expect(reliability[1].value(323) == UInt64((t + 1_500_000) / 1_000_000))
        #expect(reliability[1].value(323, occurrence: 1) == UInt64((t + 2_500_000) / 1_000_000))

        // Not due again before the period; then due, without templates, sequence counting options records.
        #expect(try Self.statistics(&session, &decoder, now: t + 60 * Self.second).isEmpty)
        let next = try Self.statistics(&session, &decoder, now: t + 61 * Self.second)
        #expect(next.count == 1 && next[0].header.sequence == 5 && next[0].sets.map(\.id) == [260, 258, 259])
        // The flow streams' numbers did not move.
        #expect(session.sequenceNumber(domain: 0) == UInt32(flowRecords))
        #expect(session.statisticsSequenceNumber == 10)
    }

    @Test("a statistics round that does not fit in one message goes on in the next")
    func statisticsRound() throws {
        let domains = (1...40).map { UInt32($0) }
        var session = try IPFIXExportSession(
            IPFIXExportConfiguration(observationDomains: domains, maximumMessageLength: 512))
        var decoder = IPFIXTestDecoder()
        let round = try Self.statistics(&session, &decoder, now: Flows.t0)
        #expect(round.count > 1)
        var sequence: UInt32 = 0
        var reported: [UInt64] = []
        for m in round {
            #expect(m.header.length <= 512 && m.header.sequence == sequence)
            sequence &+= UInt32(m.records.count)
            let stats = m.records.filter { $0.templateID == 258 }.compactMap { $0.value(149) }
            let reliability = m.records.filter { $0.templateID == 259 }.compactMap { $0.value(149) }
            #expect(stats == reliability)
            reported += stats
        }
        #expect(reported == domains.map(UInt64.init))
        #expect(round.filter { $0.records.contains { $0.templateID == 260 } }.count == 1)
        #expect(!session.statisticsDue(now: Flows.t0 + 59 * Self.second))
        #expect(session.statisticsDue(now: Flows.t0 + 60 * Self.second))
    }

    @Test("no statistics when their period is 0")
    func statisticsOff() throws {
        var session = try IPFIXExportSession(IPFIXExportConfiguration(statisticsSeconds: 0))
        var decoder = IPFIXTestDecoder()
        #expect(try Self.statistics(&session, &decoder, now: Flows.t0).isEmpty)
    }

    @Test("a message that was not sent counts as not sent, and its sequence numbers stay used")
    func notSent() throws {
        var session = try IPFIXExportSession(IPFIXExportConfiguration())
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1400, alignment: 8)
        defer { buffer.deallocate() }
        var source = FlowExportCollectionSource([Flows.tcp4()])
        let lost = try session.nextMessage(into: buffer, domain: 0, from: &source, now: Flows.t0)
        #expect(lost.flowRecords == 2 && lost.packets == 18 && lost.octets == 10_000)
        session.messageNotSent(lost, now: Flows.t0 + 1)
        #expect(session.counters.notSentMessages == 1 && session.counters.notSentFlowRecords == 2)
        #expect(session.counters.notSentPackets == 18 && session.counters.notSentOctets == 10_000)
        #expect(session.streams[0].exportedMessages == 0 && session.streams[0].exportedFlowRecords == 0)
        #expect(session.streams[0].exportedOctets == 0)
        #expect(session.sequenceNumber(domain: 0) == 2)
        session.messageNotSent(IPFIXMessageSummary(), now: Flows.t0)
        #expect(session.counters.notSentMessages == 1)
        var forged = IPFIXMessageSummary()  // public fields: a negative count must not trap
        forged.byteCount = -1
        forged.flowRecords = -5
        session.messageNotSent(forged, now: Flows.t0)
        forged.byteCount = 10
        forged.domainIndex = 0
        session.messageNotSent(forged, now: Flows.t0)
        #expect(session.counters.notSentMessages == 2 && session.counters.notSentFlowRecords == 2)
    }
}
