import TestSupport
import Testing

@testable import Sinks

@Suite("IPFIX encoder")
struct IPFIXEncoderTests {
    typealias Flows = IPFIXTestFlows

    static func requireBitwiseCopyable<T: BitwiseCopyable & Sendable>(_: T.Type) -> Int { MemoryLayout<T>.stride }

    @Test("the ring record is plain, compact and 120 bytes")
    func recordLayout() {
        #expect(Self.requireBitwiseCopyable(FlowExportRecord.self) == 120)
        #expect(MemoryLayout<FlowExportRecord>.size == 115)
        #expect(MemoryLayout<FlowExportRecord>.alignment == 8)
    }

    @Test("template and record sizes")
    func sizes() {
        #expect(IPFIX.ipv4FlowTemplate.recordLength == 56)
        #expect(IPFIX.ipv6FlowTemplate.recordLength == 80)
        #expect(IPFIXFlowEncoding.ipv4RecordLength == IPFIX.ipv4FlowTemplate.recordLength)
        #expect(IPFIXFlowEncoding.ipv6RecordLength == IPFIX.ipv6FlowTemplate.recordLength)
        #expect(IPFIX.ipv4FlowTemplate.templateRecordLength == 60)
        #expect(IPFIX.flowTemplateSetLength == 124)
        #expect(IPFIX.meteringStatisticsTemplate.recordLength == 28)
        #expect(IPFIX.meteringReliabilityTemplate.recordLength == 36)
        #expect(IPFIX.exportingReliabilityTemplate.recordLength == 44)
        #expect(IPFIX.optionsTemplateSetsLength == 26 + 30 + 34)
        #expect(IPFIXExportConfiguration.minimumMessageLength == 304)
    }

    @Test("the template set announces exactly the documented fields")
    func templateFields() throws {
        var session = try IPFIXExportSession(IPFIXExportConfiguration(observationDomains: [7]))
        let messages = try Flows.messages(&session, flows: [])
        #expect(messages.count == 1)
        var decoder = IPFIXTestDecoder()
        let m = try decoder.decode(messages[0])
        #expect(m.header.version == 10 && m.header.domain == 7 && m.header.sequence == 0)
        #expect(m.header.exportTime == UInt32(Flows.t0 / 1_000_000_000))
        #expect(m.sets.map(\.id) == [2] && m.sets[0].length == 124 && m.records.isEmpty)
        let common: [(UInt16, Int)] = [
            (7, 2), (0, 2), (11, 2), (4, 1), (6, 2), (1, 8), (2, 8), (152, 8), (153, 8), (136, 1), (58, 2), (10, 4),
        ]
        func fields(_ a: (UInt16, Int), _ b: (UInt16, Int), icmp: UInt16) -> [IPFIXTestDecoder.Field] {
            ([a, b] + common.map { ($0.0 == 0 ? icmp : $0.0, $0.1) }).map {
                IPFIXTestDecoder.Field(id: $0.0, length: $0.1)
            }
        }
        #expect(m.templates.count == 2)
        #expect(m.templates[0].id == 256 && m.templates[0].fields == fields((8, 4), (12, 4), icmp: 32))
        #expect(m.templates[1].id == 257 && m.templates[1].fields == fields((27, 16), (28, 16), icmp: 139))
    }

    @Test("a flow becomes one uniflow record per direction with packets, B→A swapped")
    func uniflowSplit() throws {
        var session = try IPFIXExportSession(IPFIXExportConfiguration())
        var oneWay = Flows.tcp4()
        oneWay.packetsBA = 0
        oneWay.octetsBA = 0
        var otherWay = Flows.tcp4()
        otherWay.packetsAB = 0
        var none = Flows.tcp4()
        none.packetsAB = 0
        none.packetsBA = 0
        let flows = [Flows.tcp4(), oneWay, none, otherWay]
        let messages = try Flows.messages(&session, flows: flows)
        #expect(messages.count == 1)
        var decoder = IPFIXTestDecoder()
        let m = try decoder.decode(messages[0])
        let got = m.records.compactMap(Flows.uniflow)
        let want = flows.flatMap(Flows.uniflows)
        #expect(got.count == 4)
        #expect(got == want)
        #expect(got[0].source == "10.0.0.1" && got[0].sourcePort == 40000 && got[0].destinationPort == 443)
        #expect(got[1].source == "10.0.0.2" && got[1].sourcePort == 443 && got[1].destinationPort == 40000)
        #expect(got[0].tcpFlags == 0x1B && got[1].tcpFlags == 0x12)
        #expect(got[0].firstMs == UInt64((Flows.t0 + 1_234_567_890) / 1_000_000))
        #expect(got[0].packets == 10 && got[0].octets == 1_000 && got[1].packets == 8 && got[1].octets == 9_000)
        // One data set: all IPv4.
        #expect(m.sets.map(\.id) == [2, 256])
        #expect(session.counters.flows == 4 && session.counters.emptyFlows == 1 && session.counters.flowRecords == 4)
    }

    @Test("IPv6 addresses and ICMP type and code (type << 8 | code), no ports for ICMP")
    func ipv6AndICMP() throws {
        var session = try IPFIXExportSession(IPFIXExportConfiguration())
        let flows = Flows.known()
        let messages = try Flows.messages(&session, flows: flows)
        var decoder = IPFIXTestDecoder()
        var got: [IPFIXTestFlows.Uniflow] = []
        for bytes in messages { got += try decoder.decode(bytes).records.compactMap(Flows.uniflow) }
        #expect(got == flows.flatMap(Flows.uniflows))
        let echo = try #require(got.first { $0.ipProtocol == 1 && $0.icmpType == 8 })
        #expect(echo.icmpCode == 0 && echo.sourcePort == 0 && echo.destinationPort == 0)
        let unreachable = try #require(got.first { $0.ipProtocol == 1 && $0.icmpType == 3 })
        #expect(unreachable.icmpCode == 3 && unreachable.vlan == 4094)
        let rs = try #require(got.first { $0.ipProtocol == 58 })
        #expect(rs.icmpType == 133 && rs.source == "fe80::1" && rs.destination == "ff02::2")
        let ssh = try #require(got.first { $0.ipProtocol == 6 && $0.version == .v6 })
        #expect(ssh.source == "2001:db8::1" && ssh.destination == "2001:db8:abcd:12::fedc:ba98")
        // The raw bytes of one ICMP record: the type/code field is 0x0800.
        let all = try messages.flatMap { try decoder.decode($0).records }
        let raw = try #require(all.first { $0.value(4) == 1 && $0.value(32) == 0x0800 })
        #expect(raw.bytes(32) == [8, 0] && raw.value(7) == 0 && raw.value(11) == 0)
        let raw6 = try #require(all.first { $0.value(4) == 58 })
        #expect(raw6.bytes(139) == [133, 0] && raw6.bytes(27)?.count == 16)
    }

    @Test("values at the edges: times before the epoch, VLAN bits, flags of non-TCP flows")
    func edges() throws {
        var f = Flows.tcp4()
        f.ipProtocol = 17
        f.firstAB = -5
        f.lastAB = 999_999
        f.vlanID = 0xF123
        f.packetsBA = 0
        var session = try IPFIXExportSession(IPFIXExportConfiguration())
        var decoder = IPFIXTestDecoder()
        let m = try decoder.decode(try Flows.messages(&session, flows: [f])[0])
        let r = try #require(m.records.first)
        #expect(r.value(152) == 0 && r.value(153) == 0 && r.value(58) == 0x123 && r.value(6) == 0)
    }

    @Test("messages never exceed the maximum length, every flow is taken once", arguments: [304, 512, 1400, 9000])
    func maximumLength(limit: Int) throws {
        var rng = IPFIXTestRandom(seed: UInt64(limit))
        let flows = (0..<5_000).map { _ in Flows.random(&rng) }
        var session = try IPFIXExportSession(IPFIXExportConfiguration(maximumMessageLength: limit))
        let messages = try Flows.messages(&session, flows: flows)
        var decoder = IPFIXTestDecoder()
        var got: [IPFIXTestFlows.Uniflow] = []
        var sequence: UInt32 = 0
        for (i, bytes) in messages.enumerated() {
            #expect(bytes.count <= limit)
            let m = try decoder.decode(bytes)
            #expect(m.header.sequence == sequence)
            sequence &+= UInt32(m.records.count)
            got += m.records.compactMap(Flows.uniflow)
            // Full: the next flow's records (plus a set header) would not have fit.
            if i < messages.count - 1 {
                #expect(bytes.count > limit - 4 - 2 * 80, "message \(i) of \(bytes.count) bytes is not full")
            }
        }
        #expect(got == flows.flatMap(Flows.uniflows))
        #expect(session.counters.flows == 5_000)
        #expect(session.counters.flowRecords == UInt64(got.count))
        #expect(session.counters.messages == UInt64(messages.count))
        #expect(session.counters.octets == UInt64(messages.reduce(0) { $0 + $1.count }))
    }

    @Test("the buffer and the domain are checked before anything is written")
    func callErrors() throws {
        var session = try IPFIXExportSession(IPFIXExportConfiguration(observationDomains: [1, 2]))
        var source = FlowExportCollectionSource([Flows.tcp4()])
        let small = UnsafeMutableRawBufferPointer.allocate(byteCount: 1399, alignment: 8)
        defer { small.deallocate() }
        #expect(throws: IPFIXExportError.bufferTooSmall(1399)) {
            try session.nextMessage(into: small, domain: 0, from: &source, now: 0)
        }
        let big = UnsafeMutableRawBufferPointer.allocate(byteCount: 1400, alignment: 8)
        defer { big.deallocate() }
        #expect(throws: IPFIXExportError.unknownDomain(2)) {
            try session.nextMessage(into: big, domain: 2, from: &source, now: 0)
        }
        #expect(throws: IPFIXExportError.unknownDomain(-1)) {
            try session.packetsIgnored(domain: -1, packets: 1, octets: 1, now: 0)
        }
        #expect(!source.isEmpty && session.counters == IPFIXExportCounters())
    }

    @Test("bad configurations are refused with a reason")
    func configurationProblems() {
        func problem(_ c: IPFIXExportConfiguration) -> IPFIXConfigurationError? {
            do {
                _ = try IPFIXExportSession(c)
                return nil
            } catch {
                return error
            }
        }
        #expect(problem(IPFIXExportConfiguration()) == nil)
        #expect(problem(IPFIXExportConfiguration(observationDomains: [])) == .noObservationDomain)
        #expect(problem(IPFIXExportConfiguration(observationDomains: [1, 2, 1])) == .duplicateObservationDomain(1))
        #expect(problem(IPFIXExportConfiguration(observationDomains: [0])) == .statisticsDomainInUse(0))
        #expect(problem(IPFIXExportConfiguration(maximumMessageLength: 303)) == .maximumMessageLengthOutOfRange(303))
        #expect(problem(IPFIXExportConfiguration(maximumMessageLength: 304)) == nil)
        #expect(
            problem(IPFIXExportConfiguration(maximumMessageLength: 65536)) == .maximumMessageLengthOutOfRange(65536))
        #expect(
            problem(IPFIXExportConfiguration(templateRefreshSeconds: -1))
                == .secondsOutOfRange("templateRefreshSeconds", -1))
        #expect(
            problem(IPFIXExportConfiguration(statisticsSeconds: .max)) == .secondsOutOfRange("statisticsSeconds", .max))
        #expect(problem(IPFIXExportConfiguration(templateRefreshMessages: -1)) == .negativeMessageCount(-1))
        #expect("\(IPFIXConfigurationError.statisticsDomainInUse(0))".contains("statistics domain"))
    }

    @Test("IPv6 address bytes: the first 16 are read, missing ones are 0")
    func addressHalves() {
        var f = FlowExportRecord()
        f.setIPv6(a: 1...20, b: [0xFF])
        #expect(f.addressA0 == 0x0102_0304_0506_0708 && f.addressA1 == 0x090A_0B0C_0D0E_0F10)
        #expect(f.addressB0 == 0xFF00_0000_0000_0000 && f.addressB1 == 0)
        f.packetsAB = .max
        f.packetsBA = 2
        #expect(f.totalPackets == .max && f.uniflowRecordCount == 2)
    }
}
