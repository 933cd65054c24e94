/// A bidirectional flow's key: both endpoints in canonical order (the lower
/// address-and-port first), so that both directions of a flow have the same
/// key and the same hash.
///
/// TCP and UDP use addresses and ports; ICMP and ICMPv6 use the addresses
/// and the echo identifier (0 for other messages) in both port fields.
/// IPv4 addresses sit in the low 32 bits of `a1`/`b1`.
@frozen
public struct FlowKey: Hashable, Sendable {
    public var a0: UInt64
    public var a1: UInt64
    public var b0: UInt64
    public var b1: UInt64
    public var portA: UInt16
    public var portB: UInt16
    /// The IP protocol number (6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6).
    public var proto: UInt8
    /// 4 or 6.
    public var version: UInt8

    @inlinable
    public init() {
        a0 = 0
        a1 = 0
        b0 = 0
        b1 = 0
        portA = 0
        portB = 0
        proto = 0
        version = 0
    }

    /// Builds the canonical key from a packet's source and destination.
    /// - Returns: the key, and whether the packet goes from A to B.
    @inlinable @inline(__always)
    public static func canonical(
        version: UInt8, proto: UInt8,
        src0: UInt64, src1: UInt64, srcPort: UInt16,
        dst0: UInt64, dst1: UInt64, dstPort: UInt16
    ) -> (FlowKey, forward: Bool) {
        var k = FlowKey()
        k.version = version
        k.proto = proto
        let srcFirst = src0 != dst0 ? src0 < dst0 : (src1 != dst1 ? src1 < dst1 : srcPort <= dstPort)
        if srcFirst {
            k.a0 = src0; k.a1 = src1; k.portA = srcPort
            k.b0 = dst0; k.b1 = dst1; k.portB = dstPort
        } else {
            k.a0 = dst0; k.a1 = dst1; k.portA = dstPort
            k.b0 = src0; k.b1 = src1; k.portB = srcPort
        }
        return (k, srcFirst)
    }

    /// A 64-bit hash, the same for both directions (the key is canonical).
    @inlinable @inline(__always)
    public var hash64: UInt64 {
        var h = FlowKey.mix(a0 ^ 0x9E37_79B9_7F4A_7C15, a1)
        h = FlowKey.mix(h ^ b0, b1)
        let tail = UInt64(portA) | UInt64(portB) &<< 16 | UInt64(proto) &<< 32 | UInt64(version) &<< 40
        return FlowKey.mix(h, tail)
    }

    /// A 128-bit multiply folded to 64 bits (wyhash's mum).
    @inlinable @inline(__always)
    static func mix(_ a: UInt64, _ b: UInt64) -> UInt64 {
        let r = (a ^ 0xA076_1D64_78BD_642F).multipliedFullWidth(by: b ^ 0xE703_7ED1_A0B4_28DB)
        return r.high ^ r.low
    }

    /// The endpoints printed as `addr:port` (IPv6 in brackets).
    public var endpoints: (String, String) {
        (FlowKey.format(a0, a1, portA, version: version, proto: proto),
         FlowKey.format(b0, b1, portB, version: version, proto: proto))
    }

    /// The protocol's short name.
    public var protocolName: String {
        switch proto {
        case 6: return "tcp"
        case 17: return "udp"
        case 1: return "icmp"
        case 58: return "icmpv6"
        default: return "ip-proto-\(proto)"
        }
    }

    static func format(_ hi: UInt64, _ lo: UInt64, _ port: UInt16, version: UInt8, proto: UInt8) -> String {
        let address: String
        if version == 4 {
            let v = UInt32(truncatingIfNeeded: lo)
            address = "\(v >> 24).\((v >> 16) & 0xFF).\((v >> 8) & 0xFF).\(v & 0xFF)"
        } else {
            address = "[" + IPv6Text.format(hi, lo) + "]"
        }
        if proto == 1 || proto == 58 { return port == 0 ? address : "\(address) id \(port)" }
        return "\(address):\(port)"
    }
}

/// RFC 5952 text for an IPv6 address held as two big-endian halves.
enum IPv6Text {
    static func format(_ hi: UInt64, _ lo: UInt64) -> String {
        var groups = [UInt16]()
        for i in 0..<4 { groups.append(UInt16(truncatingIfNeeded: hi >> UInt64(48 - 16 * i))) }
        for i in 0..<4 { groups.append(UInt16(truncatingIfNeeded: lo >> UInt64(48 - 16 * i))) }
        // Longest run of two or more zero groups becomes "::".
        var bestStart = -1, bestLength = 0, i = 0
        while i < 8 {
            if groups[i] == 0 {
                var j = i
                while j < 8 && groups[j] == 0 { j += 1 }
                if j - i > bestLength && j - i >= 2 { bestStart = i; bestLength = j - i }
                i = j
            } else {
                i += 1
            }
        }
        func hex(_ range: Range<Int>) -> String {
            range.map { String(groups[$0], radix: 16) }.joined(separator: ":")
        }
        if bestStart < 0 { return hex(0..<8) }
        return hex(0..<bestStart) + "::" + hex((bestStart + bestLength)..<8)
    }
}
