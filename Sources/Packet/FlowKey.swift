/// A bidirectional flow's key: both endpoints in canonical order (the lower
/// address-and-port first), so that both directions of a flow have the same
/// key and the same hash.
///
/// TCP and UDP use addresses and ports; ICMP and ICMPv6 use the addresses
/// and, in both port fields, the echo identifier for echo requests and
/// replies (so that both meet in one flow), or for every other message
/// `type << 8 | code` in the sender's port and 0 in the other (so that a
/// port unreachable and a time exceeded between the same hosts are two
/// flows, and neither is taken for an echo). The outer VLAN id is part of the key: the
/// same 5-tuple on two VLANs is two flows. IPv4 addresses sit in the low 32
/// bits of `a1`/`b1`.
@frozen
public struct FlowKey: Hashable, Sendable {
    public var a0: UInt64
    public var a1: UInt64
    public var b0: UInt64
    public var b1: UInt64
    /// `portA | portB << 16 | proto << 32 | version << 40 | vlan << 48`, so
    /// that a key is five words to compare.
    public var tail: UInt64

    public var portA: UInt16 { UInt16(truncatingIfNeeded: tail) }
    public var portB: UInt16 { UInt16(truncatingIfNeeded: tail &>> 16) }
    /// The IP protocol number (6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6).
    public var proto: UInt8 { UInt8(truncatingIfNeeded: tail &>> 32) }
    /// 4 or 6.
    public var version: UInt8 { UInt8(truncatingIfNeeded: tail &>> 40) }
    /// The outer 802.1Q/802.1ad VLAN id (0: untagged).
    public var vlan: UInt16 { UInt16(truncatingIfNeeded: tail &>> 48) & 0x0FFF }

    @inlinable
    public init() {
        a0 = 0
        a1 = 0
        b0 = 0
        b1 = 0
        tail = 0
    }

    @inlinable @inline(__always)
    public static func == (x: FlowKey, y: FlowKey) -> Bool {
        ((x.a0 ^ y.a0) | (x.a1 ^ y.a1) | (x.b0 ^ y.b0) | (x.b1 ^ y.b1) | (x.tail ^ y.tail)) == 0
    }

    @inlinable
    public func hash(into hasher: inout Hasher) {
        hasher.combine(a0)
        hasher.combine(a1)
        hasher.combine(b0)
        hasher.combine(b1)
        hasher.combine(tail)
    }

    /// Builds the canonical key from a packet's source and destination.
    /// - Returns: the key, and whether the packet goes from A to B.
    @inlinable @inline(__always)
    public static func canonical(
        version: UInt8, proto: UInt8,
        src0: UInt64, src1: UInt64, srcPort: UInt16,
        dst0: UInt64, dst1: UInt64, dstPort: UInt16, vlan: UInt16 = 0
    ) -> (FlowKey, forward: Bool) {
        var k = FlowKey()
        let kind = UInt64(proto) &<< 32 | UInt64(version) &<< 40 | UInt64(vlan & 0x0FFF) &<< 48
        let srcFirst = src0 != dst0 ? src0 < dst0 : (src1 != dst1 ? src1 < dst1 : srcPort <= dstPort)
        if srcFirst {
            k.a0 = src0
            k.a1 = src1
            k.b0 = dst0
            k.b1 = dst1
            k.tail = kind | UInt64(srcPort) | UInt64(dstPort) &<< 16
        } else {
            k.a0 = dst0
            k.a1 = dst1
            k.b0 = src0
            k.b1 = src1
            k.tail = kind | UInt64(dstPort) | UInt64(srcPort) &<< 16
        }
        return (k, srcFirst)
    }

    /// A 64-bit hash, the same for both directions: it mixes the XOR of the
    /// two addresses and of the two ports (RSS's symmetric trick; the VLAN
    /// is left out, as a NIC's RSS leaves it out), so a
    /// source can compute it straight from a frame's bytes without ordering
    /// the endpoints, and gets the same value as from the decoded key.
    @inlinable @inline(__always)
    public var hash64: UInt64 {
        FlowKey.symmetricHash(
            x0: a0 ^ b0, x1: a1 ^ b1, ports: UInt16(truncatingIfNeeded: tail ^ (tail &>> 16)),
            proto: proto, version: version)
    }

    /// The hash of a flow from the XOR of its endpoints' addresses (`x0`,
    /// `x1`: high and low halves) and of its ports.
    @inlinable @inline(__always)
    public static func symmetricHash(x0: UInt64, x1: UInt64, ports: UInt16, proto: UInt8, version: UInt8) -> UInt64 {
        let h = mix(x0 ^ 0x9E37_79B9_7F4A_7C15, x1)
        return mix(h, UInt64(ports) | UInt64(proto) &<< 32 | UInt64(version) &<< 40)
    }

    /// The flow hash of an untagged Ethernet, IPv4 (no options), TCP or UDP
    /// frame that is not a later fragment, read straight from its bytes: the
    /// NIC's RSS. Nil for anything else (decode the frame and use `hash64`).
    /// When the decoder finds a flow in such a frame, its key's `hash64` is
    /// this value.
    @inlinable @inline(__always)
    public static func quickHash(_ p: UnsafeRawPointer, captured: Int) -> UInt64? {
        guard captured >= 38 else { return nil }
        let type = p.loadUnaligned(fromByteOffset: 12, as: UInt16.self)
        let vihl = p.load(fromByteOffset: 14, as: UInt8.self)
        let fragment = UInt16(bigEndian: p.loadUnaligned(fromByteOffset: 20, as: UInt16.self))
        let proto = p.load(fromByteOffset: 23, as: UInt8.self)
        guard type == UInt16(0x0800).bigEndian, vihl == 0x45, fragment & 0x1FFF == 0, proto == 6 || proto == 17 else {
            return nil
        }
        let addresses =
            UInt32(bigEndian: p.loadUnaligned(fromByteOffset: 26, as: UInt32.self))
            ^ UInt32(bigEndian: p.loadUnaligned(fromByteOffset: 30, as: UInt32.self))
        let ports =
            UInt16(bigEndian: p.loadUnaligned(fromByteOffset: 34, as: UInt16.self))
            ^ UInt16(bigEndian: p.loadUnaligned(fromByteOffset: 36, as: UInt16.self))
        return symmetricHash(x0: 0, x1: UInt64(addresses), ports: ports, proto: proto, version: 4)
    }

    /// A 128-bit multiply folded to 64 bits (wyhash's mum).
    @inlinable @inline(__always)
    static func mix(_ a: UInt64, _ b: UInt64) -> UInt64 {
        let r = (a ^ 0xA076_1D64_78BD_642F).multipliedFullWidth(by: b ^ 0xE703_7ED1_A0B4_28DB)
        return r.high ^ r.low
    }

    /// The endpoints printed as `addr:port` (IPv6 in brackets); for ICMP
    /// `addr #id` for an echo, `addr type T/C` on the sender's side for
    /// any other message; ` vlan N` after both when tagged.
    public var endpoints: (String, String) {
        var a = FlowKey.format(a0, a1, portA, version: version, proto: proto)
        var b = FlowKey.format(b0, b1, portB, version: version, proto: proto)
        if proto == 1 || proto == 58 {
            let text = { (hi: UInt64, lo: UInt64, port: UInt16) -> String in
                let address = FlowKey.format(hi, lo, 0, version: self.version, proto: self.proto)
                return port == 0 ? address : "\(address) type \(port >> 8)/\(port & 0xFF)"
            }
            if portA != portB {
                a = text(a0, a1, portA)
                b = text(b0, b1, portB)
            }
        }
        if vlan != 0 {
            a += " vlan \(vlan)"
            b += " vlan \(vlan)"
        }
        return (a, b)
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
        if proto == 1 || proto == 58 { return port == 0 ? address : "\(address) #\(port)" }
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
        func hex(_ range: Range<Int>) -> String {
            range.map { String(groups[$0], radix: 16) }.joined(separator: ":")
        }
        if bestStart < 0 { return hex(0..<8) }
        return hex(0..<bestStart) + "::" + hex((bestStart + bestLength)..<8)
    }
}
