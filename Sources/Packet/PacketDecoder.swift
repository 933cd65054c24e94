/// The protocols a decoded frame carried.
public struct Protocols: OptionSet, Sendable, Hashable {
    public let rawValue: UInt16
    @inlinable public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// At least one 802.1Q, 802.1ad or 0x9100 tag.
    @inlinable public static var vlan: Protocols { Protocols(rawValue: 1 << 0) }
    @inlinable public static var ipv4: Protocols { Protocols(rawValue: 1 << 1) }
    @inlinable public static var ipv6: Protocols { Protocols(rawValue: 1 << 2) }
    @inlinable public static var arp: Protocols { Protocols(rawValue: 1 << 3) }
    @inlinable public static var tcp: Protocols { Protocols(rawValue: 1 << 4) }
    @inlinable public static var udp: Protocols { Protocols(rawValue: 1 << 5) }
    @inlinable public static var icmp: Protocols { Protocols(rawValue: 1 << 6) }
    @inlinable public static var icmpv6: Protocols { Protocols(rawValue: 1 << 7) }
    /// A network layer other than IPv4, IPv6 and ARP (LLC, LLDP, …).
    @inlinable public static var other: Protocols { Protocols(rawValue: 1 << 8) }
    /// An IP fragment (any, first or not).
    @inlinable public static var fragment: Protocols { Protocols(rawValue: 1 << 9) }
}

/// What the decoder found in one frame. A plain value: decoding allocates
/// nothing.
@frozen
public struct DecodedPacket: Sendable {
    public var protocols: Protocols
    /// Why decoding stopped early, or `.none`.
    public var malformation: Malformation
    /// The snap length cut a header short: decoded as far as the bytes went.
    public var truncated: Bool
    /// `key` and `forward` are valid: a TCP, UDP, ICMP or ICMPv6 header was decoded.
    public var hasFlow: Bool
    /// Whether the packet goes from the key's A endpoint to its B endpoint.
    public var forward: Bool
    /// The TCP flags byte (FIN 0x01 … CWR 0x80), when TCP.
    public var tcpFlags: UInt8
    public var vlanTags: UInt8
    /// The outer tag's VLAN id (0: untagged).
    public var vlanID: UInt16
    /// ICMP and ICMPv6: `type << 8 | code`.
    public var icmpTypeCode: UInt16
    /// The IP datagram's length by its own header (IPv4 total length, IPv6
    /// 40 + payload length): what IPFIX calls octets, which a snap length
    /// does not shrink. 0 without IP.
    public var ipOctets: UInt32
    /// Where the network and transport headers start, or -1.
    public var l3Offset: Int32
    public var l4Offset: Int32
    public var key: FlowKey

    @inlinable
    public init() {
        protocols = []
        malformation = .none
        truncated = false
        hasFlow = false
        forward = true
        tcpFlags = 0
        vlanTags = 0
        vlanID = 0
        icmpTypeCode = 0
        ipOctets = 0
        l3Offset = -1
        l4Offset = -1
        key = FlowKey()
    }

    /// A symmetric hash for picking a worker: the flow key's when there is
    /// one, else 0 (such frames carry no flow).
    @inlinable
    public var dispatchHash: UInt64 { hasFlow ? key.hash64 : 0 }
}

/// Decodes link, network and transport headers without allocating and
/// without reading a byte outside the frame.
///
/// - Parameters:
///   - frame: the captured bytes.
///   - wireLength: the frame's length on the wire (≥ captured when cut by the
///     snap length).
///   - linkType: the link-layer header type.
/// - Returns: what was found. Unsupported link types decode to nothing.
@inlinable @inline(__always)
public func decodePacket(_ frame: UnsafeRawBufferPointer, wireLength: Int, linkType: LinkType) -> DecodedPacket {
    if linkType == .ethernet, let base = frame.baseAddress, let d = decodeCommonEthernet(base, frame.count, wireLength)
    {
        return d
    }
    return decodePacketGeneral(frame, wireLength: wireLength, linkType: linkType)
}

/// The general decoder: every link type, tag stack, option and extension.
@inlinable
public func decodePacketGeneral(_ frame: UnsafeRawBufferPointer, wireLength: Int, linkType: LinkType) -> DecodedPacket {
    var d = DecodedPacket()
    guard let base = frame.baseAddress, frame.count > 0 else {
        d.malformation = .emptyRecord
        return d
    }
    var c = Cursor(base: base, captured: frame.count, wire: Swift.max(wireLength, frame.count))
    c.decode(linkType: linkType, into: &d)
    return d
}

/// The straight line for the frame most traffic is: untagged Ethernet,
/// IPv4 without options, not a fragment, TCP or UDP, all headers captured
/// and consistent. Anything else returns nil for the general decoder, which
/// gives the same answer for these frames (a test holds them to it).
@inlinable @inline(__always)
func decodeCommonEthernet(_ p: UnsafeRawPointer, _ captured: Int, _ wireLength: Int) -> DecodedPacket? {
    // 14 Ethernet + 20 IPv4 + 20 TCP covers UDP's 8 as well.
    guard captured >= 54 else { return nil }
    let wire = Swift.max(wireLength, captured)
    let type = UInt16(bigEndian: p.loadUnaligned(fromByteOffset: 12, as: UInt16.self))
    let vihl = p.load(fromByteOffset: 14, as: UInt8.self)
    guard type == 0x0800, vihl == 0x45 else { return nil }
    let totalLength = Int(UInt16(bigEndian: p.loadUnaligned(fromByteOffset: 16, as: UInt16.self)))
    let fragment = UInt16(bigEndian: p.loadUnaligned(fromByteOffset: 20, as: UInt16.self))
    guard fragment & 0x3FFF == 0, totalLength >= 40, 14 &+ totalLength <= wire, 14 &+ totalLength <= captured else {
        return nil
    }
    let proto = p.load(fromByteOffset: 23, as: UInt8.self)
    let src = UInt64(UInt32(bigEndian: p.loadUnaligned(fromByteOffset: 26, as: UInt32.self)))
    let dst = UInt64(UInt32(bigEndian: p.loadUnaligned(fromByteOffset: 30, as: UInt32.self)))
    let ports = UInt32(bigEndian: p.loadUnaligned(fromByteOffset: 34, as: UInt32.self))
    var d = DecodedPacket()
    d.l3Offset = 14
    d.l4Offset = 34
    d.ipOctets = UInt32(truncatingIfNeeded: totalLength)
    if proto == 6 {
        let flagsWord = p.load(fromByteOffset: 46, as: UInt8.self)
        let dataOffset = Int(flagsWord &>> 4) &* 4
        guard dataOffset >= 20, 34 &+ dataOffset <= 14 &+ totalLength else { return nil }
        d.protocols = [.ipv4, .tcp]
        d.tcpFlags = p.load(fromByteOffset: 47, as: UInt8.self)
    } else if proto == 17 {
        let length = Int(UInt16(bigEndian: p.loadUnaligned(fromByteOffset: 38, as: UInt16.self)))
        guard length >= 8, 34 &+ length <= 14 &+ totalLength else { return nil }
        d.protocols = [.ipv4, .udp]
    } else {
        return nil
    }
    let (key, forward) = FlowKey.canonical(
        version: 4, proto: proto, src0: 0, src1: src, srcPort: UInt16(truncatingIfNeeded: ports &>> 16),
        dst0: 0, dst1: dst, dstPort: UInt16(truncatingIfNeeded: ports))
    d.key = key
    d.forward = forward
    d.hasFlow = true
    return d
}

/// The decoder's state over one frame.
@usableFromInline
struct Cursor {
    @usableFromInline let base: UnsafeRawPointer
    @usableFromInline let captured: Int
    @usableFromInline let wire: Int

    @inlinable
    init(base: UnsafeRawPointer, captured: Int, wire: Int) {
        self.base = base
        self.captured = captured
        self.wire = wire
    }

    @inlinable @inline(__always)
    func u8(_ at: Int) -> UInt8 { base.load(fromByteOffset: at, as: UInt8.self) }

    @inlinable @inline(__always)
    func be16(_ at: Int) -> UInt16 { UInt16(bigEndian: base.loadUnaligned(fromByteOffset: at, as: UInt16.self)) }

    @inlinable @inline(__always)
    func be32(_ at: Int) -> UInt32 { UInt32(bigEndian: base.loadUnaligned(fromByteOffset: at, as: UInt32.self)) }

    @inlinable @inline(__always)
    func be64(_ at: Int) -> UInt64 { UInt64(bigEndian: base.loadUnaligned(fromByteOffset: at, as: UInt64.self)) }

    /// Whether bytes up to `end` were captured. If not, records why: cut by
    /// the snap length (`truncated`) when the frame had them on the wire and
    /// `limit` allows them, else `reason`.
    @inlinable @inline(__always)
    func have(_ end: Int, limit: Int = Int.max, _ reason: Malformation, _ d: inout DecodedPacket) -> Bool {
        if end <= captured && end <= limit { return true }
        if end <= wire && end <= limit {
            d.truncated = true
        } else {
            d.malformation = reason
        }
        return false
    }

    @inlinable @inline(__always)
    mutating func decode(linkType: LinkType, into d: inout DecodedPacket) {
        switch linkType.rawValue {
        case 1:
            guard have(14, .truncatedLinkHeader, &d) else { return }
            network(type: be16(12), at: 14, vlanAllowed: true, &d)
        case 113:
            // SLL: packet type, ARPHRD, address length, address (8), protocol.
            guard have(16, .truncatedLinkHeader, &d) else { return }
            network(type: sllProtocol(be16(14)), at: 16, vlanAllowed: true, &d)
        case 276:
            // SLL2: protocol, reserved, ifindex, ARPHRD, packet type, address length, address (8).
            guard have(20, .truncatedLinkHeader, &d) else { return }
            network(type: sllProtocol(be16(0)), at: 20, vlanAllowed: true, &d)
        case 0, 108:
            guard have(4, .truncatedLinkHeader, &d) else { return }
            var family = base.loadUnaligned(as: UInt32.self)
            if linkType.rawValue == 108 {
                family = UInt32(bigEndian: family)
            } else if family & 0xFFFF_0000 != 0 {
                // Written by a host of the other byte order.
                family = family.byteSwapped
            }
            switch family {
            case 2: ip(version: 4, at: 4, &d)
            case 10, 23, 24, 28, 30: ip(version: 6, at: 4, &d)
            default: d.protocols.insert(.other)
            }
        case 12, 14, 101:
            guard have(1, .truncatedIPv4Header, &d) else { return }
            let version = u8(0) >> 4
            if version == 4 || version == 6 {
                ip(version: version, at: 0, &d)
            } else {
                d.malformation = .badIPVersion
            }
        case 228: ip(version: 4, at: 0, &d)
        case 229: ip(version: 6, at: 0, &d)
        default: return
        }
    }

    /// SLL's protocol field: an ethertype, or 1 (802.3), 4 (802.2) for LLC.
    @inlinable @inline(__always)
    func sllProtocol(_ p: UInt16) -> UInt16 { p < 0x0600 ? 0 : p }

    @inlinable @inline(__always)
    mutating func network(type: UInt16, at start: Int, vlanAllowed: Bool, _ d: inout DecodedPacket) {
        var type = type
        var at = start
        while vlanAllowed && (type == 0x8100 || type == 0x88A8 || type == 0x9100) {
            if d.vlanTags == 8 {
                d.malformation = .tooManyVLANTags
                return
            }
            guard have(at &+ 4, .truncatedVLAN, &d) else { return }
            if d.vlanTags == 0 { d.vlanID = be16(at) & 0x0FFF }
            d.vlanTags &+= 1
            d.protocols.insert(.vlan)
            type = be16(at &+ 2)
            at &+= 4
        }
        switch type {
        case 0x0800: ip(version: 4, at: at, &d)
        case 0x86DD: ip(version: 6, at: at, &d)
        case 0x0806:
            d.l3Offset = Int32(at)
            guard have(at &+ 8, .truncatedARP, &d) else { return }
            // The fixed part, then sender and target, hardware and protocol
            // addresses: 8 + 2 × (hlen + plen) bytes in all.
            let addresses = 2 &* (Int(u8(at &+ 4)) &+ Int(u8(at &+ 5)))
            guard have(at &+ 8 &+ addresses, .truncatedARP, &d) else { return }
            d.protocols.insert(.arp)
        default:
            d.protocols.insert(.other)
        }
    }

    @inlinable @inline(__always)
    mutating func ip(version: UInt8, at: Int, _ d: inout DecodedPacket) {
        d.l3Offset = Int32(at)
        if version == 4 { ipv4(at: at, &d) } else { ipv6(at: at, &d) }
    }

    @inlinable @inline(__always)
    mutating func ipv4(at: Int, _ d: inout DecodedPacket) {
        guard have(at &+ 1, .truncatedIPv4Header, &d) else { return }
        let vihl = u8(at)
        guard vihl >> 4 == 4 else {
            d.malformation = .badIPVersion
            return
        }
        let headerLength = Int(vihl & 0x0F) &* 4
        guard headerLength >= 20 else {
            d.malformation = .badIHL
            return
        }
        guard have(at &+ headerLength, .truncatedIPv4Header, &d) else { return }
        let totalLength = Int(be16(at &+ 2))
        // The datagram must hold its own header and fit in the frame as it
        // was on the wire (Ethernet padding may follow it).
        guard totalLength >= headerLength, at &+ totalLength <= wire else {
            d.malformation = .badTotalLength
            return
        }
        d.protocols.insert(.ipv4)
        d.ipOctets = UInt32(truncatingIfNeeded: totalLength)
        let fragment = be16(at &+ 6)
        let offset = fragment & 0x1FFF
        let more = fragment & 0x2000 != 0
        if offset != 0 || more { d.protocols.insert(.fragment) }
        if offset != 0 { return }
        let proto = u8(at &+ 9)
        let src = UInt64(be32(at &+ 12))
        let dst = UInt64(be32(at &+ 16))
        transport(
            proto: proto, version: 4, at: at &+ headerLength, end: at &+ totalLength,
            src0: 0, src1: src, dst0: 0, dst1: dst, &d)
    }

    @inlinable
    mutating func ipv6(at: Int, _ d: inout DecodedPacket) {
        guard have(at &+ 40, .truncatedIPv6Header, &d) else { return }
        guard u8(at) >> 4 == 6 else {
            d.malformation = .badIPVersion
            return
        }
        let payloadLength = Int(be16(at &+ 4))
        // 0 is a jumbogram (or a capture tool's shortcut): to the frame's end.
        let end = payloadLength == 0 ? wire : at &+ 40 &+ payloadLength
        guard end <= wire else {
            d.malformation = .badPayloadLength
            return
        }
        d.protocols.insert(.ipv6)
        d.ipOctets = UInt32(truncatingIfNeeded: end &- at)
        var next = u8(at &+ 6)
        var here = at &+ 40
        var headers = 0
        chain: while true {
            switch next {
            case 0, 43, 60:
                // Hop-by-hop, routing, destination options: (len + 1) * 8.
                guard have(here &+ 2, limit: end, .badExtensionChain, &d) else { return }
                let length = (Int(u8(here &+ 1)) &+ 1) &* 8
                guard have(here &+ length, limit: end, .badExtensionChain, &d) else { return }
                next = u8(here)
                here &+= length
            case 44:
                guard have(here &+ 8, limit: end, .badExtensionChain, &d) else { return }
                d.protocols.insert(.fragment)
                if be16(here &+ 2) & 0xFFF8 != 0 { return }  // not the first fragment
                next = u8(here)
                here &+= 8
            case 51:
                // Authentication header: (len + 2) * 4.
                guard have(here &+ 2, limit: end, .badExtensionChain, &d) else { return }
                let length = (Int(u8(here &+ 1)) &+ 2) &* 4
                guard have(here &+ length, limit: end, .badExtensionChain, &d) else { return }
                next = u8(here)
                here &+= length
            default:
                break chain
            }
            headers &+= 1
            if headers > 16 {
                d.malformation = .badExtensionChain
                return
            }
        }
        if next == 59 { return }  // no next header
        transport(
            proto: next, version: 6, at: here, end: end,
            src0: be64(at &+ 8), src1: be64(at &+ 16), dst0: be64(at &+ 24), dst1: be64(at &+ 32), &d)
    }

    /// Decodes TCP, UDP, ICMP or ICMPv6 at `at`; the datagram ends at `end`.
    @inlinable @inline(__always)
    mutating func transport(
        proto: UInt8, version: UInt8, at: Int, end: Int,
        src0: UInt64, src1: UInt64, dst0: UInt64, dst1: UInt64, _ d: inout DecodedPacket
    ) {
        d.l4Offset = Int32(at)
        var srcPort: UInt16 = 0
        var dstPort: UInt16 = 0
        switch proto {
        case 6:
            guard have(at &+ 20, limit: end, .truncatedTCPHeader, &d) else { return }
            let dataOffset = Int(u8(at &+ 12) >> 4) &* 4
            guard dataOffset >= 20, at &+ dataOffset <= end else {
                d.malformation = .badTCPDataOffset
                return
            }
            // Options cut by the snap length: the header is, too (its first
            // 20 bytes still give the ports and flags).
            if at &+ dataOffset > captured { d.truncated = true }
            d.protocols.insert(.tcp)
            d.tcpFlags = u8(at &+ 13)
            srcPort = be16(at)
            dstPort = be16(at &+ 2)
        case 17:
            guard have(at &+ 8, limit: end, .truncatedUDPHeader, &d) else { return }
            let length = Int(be16(at &+ 4))
            // 0 is allowed for jumbograms (RFC 2675). A first fragment
            // carries only the start of the datagram its length covers.
            let fragmented = d.protocols.contains(.fragment)
            guard length == 0 || (length >= 8 && (fragmented || at &+ length <= end)) else {
                d.malformation = .badUDPLength
                return
            }
            d.protocols.insert(.udp)
            srcPort = be16(at)
            dstPort = be16(at &+ 2)
        case 1, 58:
            guard have(at &+ 4, limit: end, .truncatedICMPHeader, &d) else { return }
            d.protocols.insert(proto == 1 ? .icmp : .icmpv6)
            let type = u8(at)
            d.icmpTypeCode = UInt16(type) &<< 8 | UInt16(u8(at &+ 1))
            let echo = proto == 1 ? (type == 0 || type == 8) : (type == 128 || type == 129)
            if echo {
                // Request and reply meet by their identifier, in the 8-byte
                // echo header: one cut short has no key (as a cut TCP or UDP
                // header has none), rather than a key of its own.
                guard have(at &+ 8, limit: end, .truncatedICMPHeader, &d) else { return }
                srcPort = be16(at &+ 4)
                dstPort = srcPort
            } else {
                // Keyed by type and code, on the sender's side only: unequal
                // ports tell it from an echo (whose ports are equal).
                srcPort = d.icmpTypeCode
                dstPort = 0
            }
        default:
            return
        }
        let (key, forward) = FlowKey.canonical(
            version: version, proto: proto, src0: src0, src1: src1, srcPort: srcPort,
            dst0: dst0, dst1: dst1, dstPort: dstPort, vlan: d.vlanID)
        d.key = key
        d.forward = forward
        d.hasFlow = true
    }
}
