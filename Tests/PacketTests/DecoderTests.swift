import Packet
import Testing

/// Hand-built frames: every byte is known.
enum F {
    static let macs: [UInt8] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]

    static func ipv4(
        proto: UInt8 = 17, ihl: UInt8 = 5, total: Int? = nil, flagsOffset: UInt16 = 0,
        src: [UInt8] = [10, 0, 0, 1], dst: [UInt8] = [10, 0, 0, 2], payload: [UInt8]
    ) -> [UInt8] {
        let header = Int(ihl) * 4
        let t = total ?? (max(20, header) + payload.count)
        var p: [UInt8] =
            [
                0x40 | ihl, 0, UInt8(t >> 8), UInt8(t & 0xFF), 0, 7,
                UInt8(flagsOffset >> 8), UInt8(flagsOffset & 0xFF), 64, proto, 0, 0,
            ] + src + dst
        if header > 20 { p += [UInt8](repeating: 1, count: header - 20) }  // NOP options
        return p + payload
    }

    static func udp(_ sport: UInt16, _ dport: UInt16, length: Int? = nil, data: Int = 4) -> [UInt8] {
        let l = length ?? (8 + data)
        return [
            UInt8(sport >> 8), UInt8(sport & 0xFF), UInt8(dport >> 8), UInt8(dport & 0xFF),
            UInt8(l >> 8), UInt8(l & 0xFF), 0, 0,
        ] + [UInt8](repeating: 0xEE, count: data)
    }

    static func tcp(_ sport: UInt16, _ dport: UInt16, offset: UInt8 = 5, flags: UInt8 = 0x18) -> [UInt8] {
        var t: [UInt8] = [
            UInt8(sport >> 8), UInt8(sport & 0xFF), UInt8(dport >> 8), UInt8(dport & 0xFF),
            0, 0, 0, 1, 0, 0, 0, 2, offset << 4, flags, 0x10, 0, 0, 0, 0, 0,
        ]
        if offset > 5 { t += [UInt8](repeating: 1, count: Int(offset - 5) * 4) }
        return t
    }

    static func ether(_ type: UInt16, _ payload: [UInt8], tags: [UInt16] = []) -> [UInt8] {
        var f = macs
        for tpid in tags { f += [UInt8(tpid >> 8), UInt8(tpid & 0xFF), 0, 100] }
        return f + [UInt8(type >> 8), UInt8(type & 0xFF)] + payload
    }

    static func ipv6(next: UInt8, payload: [UInt8], payloadLength: Int? = nil) -> [UInt8] {
        let l = payloadLength ?? payload.count
        var p: [UInt8] = [0x60, 0, 0, 0, UInt8(l >> 8), UInt8(l & 0xFF), next, 64]
        p += [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [1]
        p += [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [2]
        return p + payload
    }

    /// An extension header of `next`, 8 bytes (hop-by-hop, routing, destination).
    static func ext(_ next: UInt8) -> [UInt8] { [next, 0, 1, 4, 0, 0, 0, 0] }
    static func fragment(_ next: UInt8, offset: UInt16, more: Bool) -> [UInt8] {
        let v = offset << 3 | (more ? 1 : 0)
        return [next, 0, UInt8(v >> 8), UInt8(v & 0xFF), 0, 0, 0, 9]
    }
}

func decode(_ frame: [UInt8], wire: Int? = nil, captured: Int? = nil, linkType: LinkType = .ethernet) -> DecodedPacket {
    let bytes = Array(frame.prefix(captured ?? frame.count))
    return bytes.withUnsafeBytes { decodePacket($0, wireLength: wire ?? frame.count, linkType: linkType) }
}

@Suite("Decoder")
struct DecoderTests {
    @Test("Ethernet, IPv4, UDP: protocols, key and direction")
    func udp() {
        let d = decode(F.ether(0x0800, F.ipv4(payload: F.udp(5000, 53))))
        #expect(d.protocols == [.ipv4, .udp])
        #expect(d.hasFlow && d.malformation == .none && !d.truncated)
        #expect(d.key.proto == 17 && d.key.version == 4)
        let back = decode(F.ether(0x0800, F.ipv4(src: [10, 0, 0, 2], dst: [10, 0, 0, 1], payload: F.udp(53, 5000))))
        #expect(back.key == d.key)
        #expect(back.key.hash64 == d.key.hash64)
        #expect(back.forward != d.forward)
    }

    @Test("802.1Q, 802.1ad stacks and the 0x9100 tag; too many tags is malformed")
    func vlans() {
        let payload = F.ipv4(payload: F.udp(1, 2))
        #expect(decode(F.ether(0x0800, payload, tags: [0x8100])).protocols == [.vlan, .ipv4, .udp])
        let qinq = decode(F.ether(0x0800, payload, tags: [0x88A8, 0x8100]))
        #expect(qinq.protocols == [.vlan, .ipv4, .udp] && qinq.vlanTags == 2)
        #expect(decode(F.ether(0x0800, payload, tags: [0x9100, 0x8100])).vlanTags == 2)
        #expect(
            decode(F.ether(0x0800, payload, tags: [UInt16](repeating: 0x8100, count: 9))).malformation
                == .tooManyVLANTags)
        #expect(decode(Array(F.ether(0x0800, payload, tags: [0x8100]).prefix(16))).malformation == .truncatedVLAN)
    }

    @Test("IPv4 options, bad IHL, bad version, bad total length")
    func ipv4Checks() {
        #expect(decode(F.ether(0x0800, F.ipv4(ihl: 7, payload: F.udp(1, 2)))).protocols == [.ipv4, .udp])
        #expect(decode(F.ether(0x0800, F.ipv4(ihl: 4, payload: F.udp(1, 2)))).malformation == .badIHL)
        var v6 = F.ipv4(payload: F.udp(1, 2))
        v6[0] = 0x65
        #expect(decode(F.ether(0x0800, v6)).malformation == .badIPVersion)
        // Claims more bytes than the frame had on the wire.
        #expect(decode(F.ether(0x0800, F.ipv4(total: 500, payload: F.udp(1, 2)))).malformation == .badTotalLength)
        #expect(decode(F.ether(0x0800, F.ipv4(total: 10, payload: F.udp(1, 2)))).malformation == .badTotalLength)
        // Ethernet padding after the datagram is fine.
        #expect(decode(F.ether(0x0800, F.ipv4(payload: F.udp(1, 2)) + [0, 0, 0, 0])).malformation == .none)
    }

    @Test("a snap length cut is truncation, not malformation; decoding goes as far as the bytes")
    func snaplen() {
        let frame = F.ether(0x0800, F.ipv4(proto: 6, payload: F.tcp(80, 1024)))
        let cutInTCP = decode(frame, captured: 14 + 20 + 10)
        #expect(cutInTCP.truncated && cutInTCP.malformation == .none)
        #expect(cutInTCP.protocols == [.ipv4])
        let cutInIP = decode(frame, captured: 20)
        #expect(cutInIP.truncated && cutInIP.protocols.isEmpty)
        // The same bytes as a whole frame on the wire are malformed.
        let short = decode(Array(frame.prefix(14 + 20 + 10)), wire: 14 + 20 + 10)
        #expect(short.malformation == .badTotalLength)
    }

    @Test("only a first fragment carries L4")
    func fragments() {
        let first = decode(F.ether(0x0800, F.ipv4(flagsOffset: 0x2000, payload: F.udp(1, 2, length: 1480))))
        #expect(first.protocols == [.ipv4, .udp, .fragment] && first.hasFlow)
        let later = decode(F.ether(0x0800, F.ipv4(flagsOffset: 185, payload: [UInt8](repeating: 0, count: 40))))
        #expect(later.protocols == [.ipv4, .fragment] && !later.hasFlow)
    }

    @Test("TCP data offset and UDP length")
    func transportChecks() {
        #expect(
            decode(F.ether(0x0800, F.ipv4(proto: 6, payload: F.tcp(1, 2, offset: 4)))).malformation == .badTCPDataOffset
        )
        #expect(decode(F.ether(0x0800, F.ipv4(proto: 6, payload: F.tcp(1, 2, offset: 8)))).protocols == [.ipv4, .tcp])
        #expect(
            decode(F.ether(0x0800, F.ipv4(proto: 6, payload: Array(F.tcp(1, 2).prefix(12))))).malformation
                == .truncatedTCPHeader)
        #expect(decode(F.ether(0x0800, F.ipv4(payload: F.udp(1, 2, length: 4)))).malformation == .badUDPLength)
        #expect(decode(F.ether(0x0800, F.ipv4(payload: F.udp(1, 2, length: 400)))).malformation == .badUDPLength)
        let tcp = decode(F.ether(0x0800, F.ipv4(proto: 6, payload: F.tcp(1, 2, flags: 0x12))))
        #expect(tcp.tcpFlags == 0x12)
    }

    @Test("IPv6 extension chains")
    func ipv6Chains() {
        let chain = F.ext(43) + F.ext(60) + F.ext(44) + F.fragment(6, offset: 0, more: true) + F.tcp(443, 5555)
        let d = decode(F.ether(0x86DD, F.ipv6(next: 0, payload: chain)))
        #expect(d.protocols == [.ipv6, .tcp, .fragment] && d.hasFlow && d.key.version == 6)
        let later = decode(
            F.ether(
                0x86DD,
                F.ipv6(next: 44, payload: F.fragment(17, offset: 100, more: false) + [UInt8](repeating: 0, count: 16))))
        #expect(later.protocols == [.ipv6, .fragment] && !later.hasFlow)
        let none = decode(F.ether(0x86DD, F.ipv6(next: 60, payload: F.ext(59))))
        #expect(none.protocols == [.ipv6] && none.malformation == .none)
        // An extension header longer than the payload.
        var long = F.ext(17)
        long[1] = 10
        #expect(
            decode(F.ether(0x86DD, F.ipv6(next: 0, payload: long + F.udp(1, 2)))).malformation == .badExtensionChain)
        #expect(
            decode(F.ether(0x86DD, F.ipv6(next: 17, payload: F.udp(1, 2), payloadLength: 400))).malformation
                == .badPayloadLength)
    }

    @Test("ICMP echo flows by identifier; ICMPv6; ARP")
    func icmpAndArp() {
        let echo: [UInt8] = [8, 0, 0, 0, 0x12, 0x34, 0, 1]
        let d = decode(F.ether(0x0800, F.ipv4(proto: 1, payload: echo)))
        #expect(d.protocols == [.ipv4, .icmp] && d.key.portA == 0x1234 && d.key.portB == 0x1234)
        let reply = decode(
            F.ether(
                0x0800,
                F.ipv4(proto: 1, src: [10, 0, 0, 2], dst: [10, 0, 0, 1], payload: [0, 0, 0, 0, 0x12, 0x34, 0, 1])))
        #expect(reply.key == d.key)
        let v6 = decode(F.ether(0x86DD, F.ipv6(next: 58, payload: [128, 0, 0, 0, 0, 7, 0, 1])))
        #expect(v6.protocols == [.ipv6, .icmpv6] && v6.key.portA == 7)
        #expect(
            decode(F.ether(0x0806, [0, 1, 8, 0, 6, 4, 0, 1] + [UInt8](repeating: 0, count: 20))).protocols == [.arp])
        #expect(decode(F.ether(0x0806, [0, 1, 8, 0])).malformation == .truncatedARP)
        #expect(decode(F.ether(0x88CC, [1, 2, 3])).protocols == [.other])
        #expect(decode(F.ether(0x0026, [0x42, 0x42, 3])).protocols == [.other])  // 802.3 + LLC
    }

    @Test("link headers that are cut short, and empty frames")
    func shortLinks() {
        #expect(decode([1, 2, 3]).malformation == .truncatedLinkHeader)
        #expect(decode([], wire: 0).protocols.isEmpty)
        // No captured byte at all (caplen 0): malformed, whatever the wire
        // length, on every link type; never "truncated".
        for linkType: LinkType in [.ethernet, .raw, .linuxSLL, .null] {
            for wire in [0, 60, 65535] {
                let d = decode([], wire: wire, linkType: linkType)
                #expect(d.malformation == .emptyRecord && !d.truncated, "\(linkType) wire \(wire)")
            }
        }
        #expect(decode([0, 0], linkType: .linuxSLL).malformation == .truncatedLinkHeader)
        #expect(decode([2, 0], linkType: .null).malformation == .truncatedLinkHeader)
        #expect(decode([0x45], linkType: .raw).malformation == .truncatedIPv4Header)
        #expect(decode([0x75, 0, 0], linkType: .raw).malformation == .badIPVersion)
        // An unsupported link type decodes to nothing.
        #expect(decode([1, 2, 3, 4], linkType: LinkType(rawValue: 147)).protocols.isEmpty)
    }

    @Test("every prefix of every frame decodes without trapping", arguments: 0..<6)
    func prefixes(_ which: Int) {
        // Each ends with its last header (no payload).
        let frames: [[UInt8]] = [
            F.ether(0x0800, F.ipv4(proto: 6, ihl: 7, payload: F.tcp(1, 2, offset: 8))),
            F.ether(
                0x86DD,
                F.ipv6(
                    next: 0,
                    payload: F.ext(43) + F.ext(44) + F.fragment(17, offset: 0, more: true) + F.udp(1, 2, data: 0))),
            F.ether(0x0800, F.ipv4(payload: F.udp(1, 2, data: 0)), tags: [0x88A8, 0x8100]),
            F.ether(0x0806, [0, 1, 8, 0, 6, 4, 0, 1] + [UInt8](repeating: 1, count: 20)),
            F.ether(0x0800, F.ipv4(proto: 1, payload: [8, 0, 0, 0, 1, 2, 3, 4])),
            F.ether(0x86DD, F.ipv6(next: 58, payload: [128, 0, 0, 0, 0, 7, 0, 1])),
        ]
        let frame = frames[which]
        // These frames end with their last header: every proper prefix cuts
        // a header, so each decodes as truncated (cut by a snap length), never
        // as malformed; the empty one is an empty record; the whole frame is
        // neither.
        for n in 0...frame.count {
            let d = decode(frame, wire: frame.count, captured: n)
            if n == 0 {
                #expect(d.malformation == .emptyRecord && !d.truncated, "empty: \(d.malformation)")
            } else if n < frame.count {
                #expect(d.truncated, "\(n) of \(frame.count) bytes: not truncated")
                #expect(d.malformation == .none, "\(n) of \(frame.count) bytes: \(d.malformation)")
            } else {
                #expect(!d.truncated && d.malformation == .none, "whole: \(d.malformation)")
            }
            // The same prefix as a whole frame: never trapping either.
            _ = decode(Array(frame.prefix(n)))
        }
    }
}

@Suite("Decoder fast path")
struct FastPathTests {
    static func equal(_ a: DecodedPacket, _ b: DecodedPacket) -> Bool {
        a.protocols == b.protocols && a.malformation == b.malformation && a.truncated == b.truncated
            && a.hasFlow == b.hasFlow && (!a.hasFlow || (a.key == b.key && a.forward == b.forward))
            && a.tcpFlags == b.tcpFlags && a.l3Offset == b.l3Offset && (!a.hasFlow || a.l4Offset == b.l4Offset)
    }

    @Test("the common-case straight line and the raw-byte hash agree with the general decoder")
    func agrees() {
        var rng = SystemRandomNumberGenerator()
        var checked = 0
        let bases: [[UInt8]] = [
            F.ether(0x0800, F.ipv4(proto: 6, payload: F.tcp(443, 55555, flags: 0x12))),
            F.ether(0x0800, F.ipv4(proto: 17, payload: F.udp(53, 5353, data: 30))),
            F.ether(0x0800, F.ipv4(proto: 6, payload: F.tcp(22, 2222, offset: 8)) + [0, 0, 0, 0]),
        ]
        for base in bases {
            for _ in 0..<20_000 {
                var frame = base
                // Flip a few bytes among those the fast path reads.
                for _ in 0..<Int.random(in: 0...3, using: &rng) {
                    let i = Int.random(in: 12..<min(frame.count, 54), using: &rng)
                    frame[i] = UInt8.random(in: 0...255, using: &rng)
                }
                let captured = Int.random(in: 0...frame.count, using: &rng)
                let wire = Bool.random(using: &rng) ? frame.count : Int.random(in: 0...frame.count + 40, using: &rng)
                let bytes = Array(frame.prefix(captured))
                let (fast, general) = bytes.withUnsafeBytes {
                    (
                        decodePacket($0, wireLength: wire, linkType: .ethernet),
                        decodePacketGeneral($0, wireLength: wire, linkType: .ethernet)
                    )
                }
                // The dispatch hash read from raw bytes agrees with the key's.
                let quick = bytes.withUnsafeBytes {
                    $0.baseAddress.flatMap { FlowKey.quickHash($0, captured: bytes.count) }
                }
                if general.hasFlow, let quick, quick != general.key.hash64 {
                    Issue.record("quickHash \(quick) differs from the key's \(general.key.hash64) for \(bytes)")
                    return
                }
                if !Self.equal(fast, general) {
                    Issue.record(
                        "fast \(fast.protocols) \(fast.malformation) vs general \(general.protocols) \(general.malformation) for \(bytes) wire \(wire)"
                    )
                    return
                }
                checked += 1
            }
        }
        #expect(checked == 60_000)
    }
}
