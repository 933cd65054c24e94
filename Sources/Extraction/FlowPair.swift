import Packet

/// The two IP addresses of a frame, in canonical order (the lower first),
/// which is what the recording index keys on and what `--flow` asks for:
/// both directions of a conversation, every protocol and port between the
/// two hosts, fragments included. The IP header is the one the decoder
/// finds (through VLAN and QinQ tags, Linux cooked headers, loopback and
/// raw IP link types).
public struct FlowPair: Hashable, Sendable {
    /// 4 or 6.
    public var version: UInt8
    /// IPv4 addresses sit in the low 32 bits of `lo1`/`hi1`.
    public var lo0: UInt64
    public var lo1: UInt64
    public var hi0: UInt64
    public var hi1: UInt64

    public init(version: UInt8, _ a: (UInt64, UInt64), _ b: (UInt64, UInt64)) {
        self.version = version
        if a.0 < b.0 || (a.0 == b.0 && a.1 <= b.1) {
            (lo0, lo1, hi0, hi1) = (a.0, a.1, b.0, b.1)
        } else {
            (lo0, lo1, hi0, hi1) = (b.0, b.1, a.0, a.1)
        }
    }

    /// The pair of a decoded frame, or nil when it has no IP header.
    @inlinable
    public static func of(_ frame: UnsafeRawBufferPointer, _ d: DecodedPacket) -> FlowPair? {
        guard let base = frame.baseAddress, d.l3Offset >= 0 else { return nil }
        let at = Int(d.l3Offset)
        if d.protocols.contains(.ipv4), at &+ 20 <= frame.count {
            let src = UInt64(UInt32(bigEndian: base.loadUnaligned(fromByteOffset: at &+ 12, as: UInt32.self)))
            let dst = UInt64(UInt32(bigEndian: base.loadUnaligned(fromByteOffset: at &+ 16, as: UInt32.self)))
            return FlowPair(version: 4, (0, src), (0, dst))
        }
        if d.protocols.contains(.ipv6), at &+ 40 <= frame.count {
            func word(_ o: Int) -> UInt64 {
                UInt64(bigEndian: base.loadUnaligned(fromByteOffset: at &+ o, as: UInt64.self))
            }
            return FlowPair(version: 6, (word(8), word(16)), (word(24), word(32)))
        }
        return nil
    }

    /// A 64-bit hash of the pair (wyhash's 128-bit multiply, folded).
    public var hash: UInt64 {
        var h = Self.mix(lo0 ^ 0x9E37_79B9_7F4A_7C15, lo1 ^ UInt64(version))
        h = Self.mix(h, hi0)
        return Self.mix(h ^ 0x2D35_8DCC_AA6C_78A5, hi1)
    }

    @inline(__always)
    static func mix(_ a: UInt64, _ b: UInt64) -> UInt64 {
        let r = (a ^ 0xA076_1D64_78BD_642F).multipliedFullWidth(by: b ^ 0xE703_7ED1_A0B4_28DB)
        return r.high ^ r.low
    }
}

/// A Bloom filter over flow-pair hashes, in 64-bit words: `k` probes at
/// `h1 + i·h2` (Kirsch and Mitzenmacher's double hashing).
public enum FlowBloom {
    /// Bits per distinct pair, and probes: 8 bits and 5 probes give a
    /// false-positive rate of 2.2 %, (1 − e^(−k/b))^k, for an index of
    /// about 1 byte per distinct pair in each stretch (about 1 % of a ring
    /// of 64-byte frames, where nearly every frame is a pair of its own).
    public static let bitsPerPair = 8
    public static let probes = 5

    /// Words for `pairs` distinct pairs (at least one).
    public static func words(forPairs pairs: Int) -> Int {
        Swift.max(1, (pairs &* bitsPerPair &+ 63) / 64)
    }

    @inline(__always)
    static func positions(_ hash: UInt64, bits: UInt64, probes: Int, _ body: (UInt64) -> Bool) -> Bool {
        let h2 = FlowPair.mix(hash, 0x8EBC_6AF0_9C88_C6E3) | 1
        var h = hash
        for _ in 0..<probes {
            if !body(h % bits) { return false }
            h &+= h2
        }
        return true
    }

    public static func insert(_ hash: UInt64, into words: UnsafeMutableBufferPointer<UInt64>, probes: Int) {
        let bits = UInt64(words.count) &* 64
        _ = positions(hash, bits: bits, probes: probes) { p in
            words[Int(p / 64)] |= 1 &<< (p % 64)
            return true
        }
    }

    public static func mayContain(_ hash: UInt64, in words: UnsafeBufferPointer<UInt64>, probes: Int) -> Bool {
        guard !words.isEmpty else { return false }
        let bits = UInt64(words.count) &* 64
        return positions(hash, bits: bits, probes: probes) { p in words[Int(p / 64)] & (1 &<< (p % 64)) != 0 }
    }
}
