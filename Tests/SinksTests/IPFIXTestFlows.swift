import Sinks
import TestSupport

/// Flows and helpers shared by the IPFIX tests.
enum IPFIXTestFlows {
    /// 2026-11-30 12:00:00 UTC in nanoseconds.
    static let t0: Int64 = 1_796_040_000_000_000_000

    /// A TCP flow with traffic both ways (10.0.0.1:40000 ⇄ 10.0.0.2:443).
    static func tcp4() -> FlowExportRecord {
        var f = FlowExportRecord(version: .v4, ipProtocol: 6, endReason: .endOfFlowDetected)
        f.setIPv4(a: 0x0A00_0001, b: 0x0A00_0002)
        f.portA = 40000
        f.portB = 443
        f.packetsAB = 10
        f.octetsAB = 1_000
        f.packetsBA = 8
        f.octetsBA = 9_000
        f.firstAB = t0 + 1_234_567_890
        f.lastAB = t0 + 5_678_901_234
        f.firstBA = t0 + 1_300_000_000
        f.lastBA = t0 + 5_600_000_000
        f.tcpFlagsAB = 0x1B  // FIN SYN PSH ACK
        f.tcpFlagsBA = 0x12  // SYN ACK
        f.ingressInterface = 7
        return f
    }

    /// Ethernet + IPv4 + UDP around `payload`, from 127.0.0.1:sport to 127.0.0.1:dport.
    static func udpFrame(_ payload: [UInt8], sport: UInt16, dport: UInt16) -> [UInt8] {
        Frames.loopbackUDP(payload, sport: sport, dport: dport)
    }

    /// The known flows the collector tests send: IPv4 and IPv6, TCP, UDP, SCTP, ICMP and
    /// ICMPv6, VLAN-tagged, one way and both ways, every end reason.
    static func known() -> [FlowExportRecord] {
        var flows: [FlowExportRecord] = [tcp4()]

        var udp = FlowExportRecord(version: .v4, ipProtocol: 17, endReason: .idleTimeout)
        udp.setIPv4(a: 0xC0A8_0101, b: 0x0808_0808)
        udp.portA = 53_000
        udp.portB = 53
        udp.packetsAB = 1
        udp.octetsAB = 60
        udp.packetsBA = 1
        udp.octetsBA = 120
        udp.firstAB = t0 + 2_000_000_000
        udp.lastAB = t0 + 2_000_000_000
        udp.firstBA = t0 + 2_010_000_000
        udp.lastBA = t0 + 2_010_000_000
        udp.vlanID = 100
        udp.ingressInterface = 3
        flows.append(udp)

        var icmp = FlowExportRecord(version: .v4, ipProtocol: 1, endReason: .activeTimeout)
        icmp.setIPv4(a: 0x0A01_0203, b: 0x0A04_0506)
        icmp.portA = 0x1234  // echo id, as the flow key holds it: not exported
        icmp.portB = 0x1234
        icmp.icmpTypeCodeAB = 8 << 8  // echo request
        icmp.icmpTypeCodeBA = 0  // echo reply
        icmp.packetsAB = 5
        icmp.octetsAB = 420
        icmp.packetsBA = 5
        icmp.octetsBA = 420
        icmp.firstAB = t0 + 3_000_000_000
        icmp.lastAB = t0 + 7_000_000_000
        icmp.firstBA = t0 + 3_001_000_000
        icmp.lastBA = t0 + 7_001_000_000
        flows.append(icmp)

        var unreachable = FlowExportRecord(version: .v4, ipProtocol: 1, endReason: .idleTimeout)
        unreachable.setIPv4(a: 0x0A00_0001, b: 0x0A00_0063)
        unreachable.icmpTypeCodeAB = 3 << 8 | 3  // port unreachable, one way only
        unreachable.packetsAB = 2
        unreachable.octetsAB = 112
        unreachable.firstAB = t0 + 4_000_000_999
        unreachable.lastAB = t0 + 4_500_000_001
        unreachable.vlanID = 4094
        flows.append(unreachable)

        var tcp6 = FlowExportRecord(version: .v6, ipProtocol: 6, endReason: .forcedEnd)
        tcp6.setIPv6(
            a: [0x20, 0x01, 0x0D, 0xB8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
            b: [0x20, 0x01, 0x0D, 0xB8, 0xAB, 0xCD, 0, 0x12, 0, 0, 0, 0, 0xFE, 0xDC, 0xBA, 0x98])
        tcp6.portA = 51_000
        tcp6.portB = 22
        tcp6.packetsAB = 300
        tcp6.octetsAB = 40_000
        tcp6.packetsBA = 250
        tcp6.octetsBA = 3_000_000
        tcp6.firstAB = t0 + 10_000_000_000
        tcp6.lastAB = t0 + 70_123_000_000
        tcp6.firstBA = t0 + 10_050_000_000
        tcp6.lastBA = t0 + 70_100_000_000
        tcp6.tcpFlagsAB = 0x1A
        tcp6.tcpFlagsBA = 0x1A
        tcp6.vlanID = 12
        tcp6.ingressInterface = 2
        flows.append(tcp6)

        var icmp6 = FlowExportRecord(version: .v6, ipProtocol: 58, endReason: .lackOfResources)
        icmp6.setIPv6(
            a: [0xFE, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
            b: [0xFF, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2])
        icmp6.icmpTypeCodeAB = 133 << 8  // router solicitation
        icmp6.packetsAB = 3
        icmp6.octetsAB = 144
        icmp6.firstAB = t0 + 20_000_000_000
        icmp6.lastAB = t0 + 28_000_000_000
        flows.append(icmp6)

        var sctp = FlowExportRecord(version: .v4, ipProtocol: 132, endReason: .idleTimeout)
        sctp.setIPv4(a: 0xAC10_0001, b: 0xAC10_0002)
        sctp.portA = 2905
        sctp.portB = 2906
        sctp.packetsBA = 4  // only B→A
        sctp.octetsBA = 512
        sctp.firstBA = t0 + 30_000_000_000
        sctp.lastBA = t0 + 31_000_000_000
        flows.append(sctp)

        var udp6 = FlowExportRecord(version: .v6, ipProtocol: 17, endReason: .idleTimeout)
        udp6.setIPv6(
            a: [0xFE, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
            b: [0xFF, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFB])
        udp6.portA = 5353
        udp6.portB = 5353
        udp6.packetsAB = 7
        udp6.octetsAB = 700
        udp6.firstAB = t0 + 40_000_000_000
        udp6.lastAB = t0 + 41_999_000_000
        udp6.vlanID = 1
        udp6.ingressInterface = 42
        flows.append(udp6)
        return flows
    }

    /// One uniflow record as a collector should see it.
    struct Uniflow: Equatable, CustomStringConvertible {
        var version: FlowIPVersion
        var source: String
        var destination: String
        var sourcePort: UInt16
        var destinationPort: UInt16
        var icmpType: UInt8
        var icmpCode: UInt8
        var ipProtocol: UInt8
        var tcpFlags: UInt8
        var packets: UInt64
        var octets: UInt64
        var firstMs: UInt64
        var lastMs: UInt64
        var endReason: UInt8
        var vlan: UInt16
        var ingress: UInt32

        var description: String {
            "\(source):\(sourcePort) > \(destination):\(destinationPort) p\(ipProtocol) icmp \(icmpType).\(icmpCode)"
                + " flags \(tcpFlags) \(packets) pkts \(octets) B \(firstMs)..\(lastMs) end \(endReason)"
                + " vlan \(vlan) in \(ingress)"
        }
    }

    /// The uniflow records a flow becomes: A→B then B→A, each only when it has packets.
    static func uniflows(_ f: FlowExportRecord) -> [Uniflow] {
        let isICMP = f.ipProtocol == 1 || f.ipProtocol == 58
        func make(reverse: Bool) -> Uniflow {
            let a = address(f.addressA0, f.addressA1, f.version)
            let b = address(f.addressB0, f.addressB1, f.version)
            let typeCode = reverse ? f.icmpTypeCodeBA : f.icmpTypeCodeAB
            return Uniflow(
                version: f.version, source: reverse ? b : a, destination: reverse ? a : b,
                sourcePort: isICMP ? 0 : (reverse ? f.portB : f.portA),
                destinationPort: isICMP ? 0 : (reverse ? f.portA : f.portB),
                icmpType: isICMP ? UInt8(typeCode >> 8) : 0, icmpCode: isICMP ? UInt8(typeCode & 0xFF) : 0,
                ipProtocol: f.ipProtocol,
                tcpFlags: f.ipProtocol == 6 ? (reverse ? f.tcpFlagsBA : f.tcpFlagsAB) : 0,
                packets: reverse ? f.packetsBA : f.packetsAB, octets: reverse ? f.octetsBA : f.octetsAB,
                firstMs: UInt64((reverse ? f.firstBA : f.firstAB) / 1_000_000),
                lastMs: UInt64((reverse ? f.lastBA : f.lastAB) / 1_000_000),
                endReason: f.endReason.rawValue, vlan: f.vlanID, ingress: f.ingressInterface)
        }
        var out: [Uniflow] = []
        if f.packetsAB > 0 { out.append(make(reverse: false)) }
        if f.packetsBA > 0 { out.append(make(reverse: true)) }
        return out
    }

    /// Text of an address: dotted quad, or RFC 5952 IPv6 (as inet_ntop prints it).
    static func address(_ hi: UInt64, _ lo: UInt64, _ version: FlowIPVersion) -> String {
        if version == .v4 {
            let v = UInt32(truncatingIfNeeded: lo)
            return "\(v >> 24).\((v >> 16) & 0xFF).\((v >> 8) & 0xFF).\(v & 0xFF)"
        }
        var bytes: [UInt8] = []
        for i in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: hi >> UInt64(56 - 8 * i))) }
        for i in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: lo >> UInt64(56 - 8 * i))) }
        return ipv6Text(bytes)
    }

    static func ipv6Text(_ bytes: [UInt8]) -> String {
        let groups = (0..<8).map { UInt16(bytes[2 * $0]) << 8 | UInt16(bytes[2 * $0 + 1]) }
        var bestStart = -1
        var bestLength = 0
        var i = 0
        while i < 8 {
            if groups[i] == 0 {
                var j = i
                while j < 8 && groups[j] == 0 { j += 1 }
                if j - i > bestLength && j - i >= 2 {
                    bestStart = i
                    bestLength = j - i
                }
                i = j
            } else {
                i += 1
            }
        }
        func hex(_ r: Range<Int>) -> String { r.map { String(groups[$0], radix: 16) }.joined(separator: ":") }
        if bestStart < 0 { return hex(0..<8) }
        return hex(0..<bestStart) + "::" + hex((bestStart + bestLength)..<8)
    }

    /// A uniflow as decoded from a test-decoder record.
    static func uniflow(_ r: IPFIXTestDecoder.Record) -> Uniflow? {
        let v6 = r.templateID == IPFIX.ipv6FlowTemplateID
        let source: String
        let destination: String
        if v6 {
            guard let s = r.bytes(27), let d = r.bytes(28) else { return nil }
            source = ipv6Text(s)
            destination = ipv6Text(d)
        } else {
            guard let s = r.value(8), let d = r.value(12) else { return nil }
            source = address(0, s, .v4)
            destination = address(0, d, .v4)
        }
        let typeCode = UInt16(r.value(v6 ? 139 : 32) ?? 0)
        return Uniflow(
            version: v6 ? .v6 : .v4, source: source, destination: destination,
            sourcePort: UInt16(r.value(7) ?? 0), destinationPort: UInt16(r.value(11) ?? 0),
            icmpType: UInt8(typeCode >> 8), icmpCode: UInt8(typeCode & 0xFF),
            ipProtocol: UInt8(r.value(4) ?? 0), tcpFlags: UInt8(truncatingIfNeeded: r.value(6) ?? 0),
            packets: r.value(2) ?? 0, octets: r.value(1) ?? 0, firstMs: r.value(152) ?? 0,
            lastMs: r.value(153) ?? 0, endReason: UInt8(r.value(136) ?? 0), vlan: UInt16(r.value(58) ?? 0),
            ingress: UInt32(r.value(10) ?? 0))
    }
}

/// A seeded generator (SplitMix64), so random tests repeat.
struct IPFIXTestRandom: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension IPFIXTestFlows {
    /// A random flow (either version, TCP/UDP/ICMP, each direction empty one time in four).
    static func random(_ rng: inout IPFIXTestRandom) -> FlowExportRecord {
        let protocols: [UInt8] = [6, 17, 1, 132]
        var f = FlowExportRecord(
            version: Bool.random(using: &rng) ? .v4 : .v6, ipProtocol: protocols.randomElement(using: &rng)!,
            endReason: FlowEndReason.allCases.randomElement(using: &rng)!)
        if f.version == .v6 && f.ipProtocol == 1 { f.ipProtocol = 58 }
        if f.version == .v4 {
            f.setIPv4(
                a: UInt32.random(in: 0...UInt32.max, using: &rng), b: UInt32.random(in: 0...UInt32.max, using: &rng))
        } else {
            f.addressA0 = rng.next()
            f.addressA1 = rng.next()
            f.addressB0 = rng.next()
            f.addressB1 = rng.next()
        }
        f.portA = UInt16.random(in: 0...UInt16.max, using: &rng)
        f.portB = UInt16.random(in: 0...UInt16.max, using: &rng)
        if Int.random(in: 0..<4, using: &rng) > 0 {
            f.packetsAB = UInt64.random(in: 1...1_000_000, using: &rng)
            f.octetsAB = f.packetsAB * UInt64.random(in: 20...1500, using: &rng)
        }
        if Int.random(in: 0..<4, using: &rng) > 0 {
            f.packetsBA = UInt64.random(in: 1...1_000_000, using: &rng)
            f.octetsBA = f.packetsBA * UInt64.random(in: 20...1500, using: &rng)
        }
        f.firstAB = t0 + Int64.random(in: 0...1_000_000_000_000, using: &rng)
        f.lastAB = f.firstAB + Int64.random(in: 0...1_000_000_000_000, using: &rng)
        f.firstBA = t0 + Int64.random(in: 0...1_000_000_000_000, using: &rng)
        f.lastBA = f.firstBA + Int64.random(in: 0...1_000_000_000_000, using: &rng)
        f.icmpTypeCodeAB = UInt16.random(in: 0...UInt16.max, using: &rng)
        f.icmpTypeCodeBA = UInt16.random(in: 0...UInt16.max, using: &rng)
        f.tcpFlagsAB = UInt8.random(in: 0...UInt8.max, using: &rng)
        f.tcpFlagsBA = UInt8.random(in: 0...UInt8.max, using: &rng)
        f.vlanID = UInt16.random(in: 0...4095, using: &rng)
        f.ingressInterface = UInt32.random(in: 0...UInt32.max, using: &rng)
        return f
    }

    /// Runs a session over `flows` for domain `index` until they are all taken: the messages' bytes.
    static func messages(
        _ session: inout IPFIXExportSession, domain index: Int = 0, flows: [FlowExportRecord], now: Int64 = t0
    ) throws -> [[UInt8]] {
        var source = FlowExportCollectionSource(flows)
        var out: [[UInt8]] = []
        let buffer = UnsafeMutableRawBufferPointer.allocate(
            byteCount: session.configuration.maximumMessageLength, alignment: 8)
        defer { buffer.deallocate() }
        repeat {
            let summary = try session.nextMessage(into: buffer, domain: index, from: &source, now: now)
            if summary.byteCount == 0 { break }
            out.append(Array(buffer[0..<summary.byteCount]))
        } while !source.isEmpty
        return out
    }
}
