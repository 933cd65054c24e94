import Packet

#if canImport(Glibc)
import Glibc
#endif

/// `--flow "A B [PROTO]"`: the frames between hosts A and B, in both
/// directions. A and B are IPv4 or IPv6 addresses, each optionally with a
/// port (`10.0.0.1:80`, `[2001:db8::1]:80`); PROTO is `tcp`, `udp`,
/// `icmp`, `icmp6`, `sctp` or a protocol number. Without PROTO and ports,
/// every frame between the two hosts matches, fragments included.
public struct FlowSelector: Sendable, Equatable {
    public var pair: FlowPair
    public var a: (address: (UInt64, UInt64), port: UInt16?)
    public var b: (address: (UInt64, UInt64), port: UInt16?)
    public var proto: UInt8?
    public let text: String

    public static func == (x: FlowSelector, y: FlowSelector) -> Bool { x.text == y.text }

    public init(_ text: String) throws(IndexProblem) {
        self.text = text
        let words = text.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard words.count == 2 || words.count == 3 else {
            throw IndexProblem(
                "--flow \"\(text)\": give two hosts and optionally a protocol, as \"10.0.0.1 10.0.0.2 tcp\"")
        }
        let x = try Self.endpoint(words[0], in: text)
        let y = try Self.endpoint(words[1], in: text)
        guard x.version == y.version else {
            throw IndexProblem("--flow \"\(text)\": one address is IPv4 and the other IPv6")
        }
        a = (x.address, x.port)
        b = (y.address, y.port)
        pair = FlowPair(version: x.version, x.address, y.address)
        if words.count == 3 {
            let names: [String: UInt8] = ["tcp": 6, "udp": 17, "icmp": 1, "icmp6": 58, "icmpv6": 58, "sctp": 132]
            if let p = names[words[2].lowercased()] {
                proto = p
            } else if let p = UInt8(words[2]) {
                proto = p
            } else {
                throw IndexProblem(
                    "--flow \"\(text)\": unknown protocol \"\(words[2])\" (tcp, udp, icmp, icmp6, sctp or 0-255)")
            }
        }
        if a.port != nil || b.port != nil, let p = proto, p != 6 && p != 17 && p != 132 {
            throw IndexProblem("--flow \"\(text)\": ports go with tcp, udp or sctp")
        }
    }

    static func endpoint(_ word: String, in text: String) throws(IndexProblem) -> (
        version: UInt8, address: (UInt64, UInt64), port: UInt16?
    ) {
        var host = word
        var port: UInt16? = nil
        if word.hasPrefix("[") {
            guard let close = word.firstIndex(of: "]") else {
                throw IndexProblem("--flow \"\(text)\": \"\(word)\" has no closing bracket")
            }
            host = String(word[word.index(after: word.startIndex)..<close])
            let rest = word[word.index(after: close)...]
            if !rest.isEmpty {
                guard rest.hasPrefix(":"), let p = UInt16(rest.dropFirst()) else {
                    throw IndexProblem("--flow \"\(text)\": bad port in \"\(word)\"")
                }
                port = p
            }
        } else if word.filter({ $0 == ":" }).count == 1, let colon = word.firstIndex(of: ":") {
            host = String(word[..<colon])
            guard let p = UInt16(word[word.index(after: colon)...]) else {
                throw IndexProblem("--flow \"\(text)\": bad port in \"\(word)\"")
            }
            port = p
        }
        var v4 = in_addr()
        var v6 = in6_addr()
        if inet_pton(AF_INET, host, &v4) == 1 {
            return (4, (0, UInt64(UInt32(bigEndian: v4.s_addr))), port)
        }
        if inet_pton(AF_INET6, host, &v6) == 1 {
            let words = withUnsafeBytes(of: &v6) {
                (
                    UInt64(bigEndian: $0.loadUnaligned(fromByteOffset: 0, as: UInt64.self)),
                    UInt64(bigEndian: $0.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
                )
            }
            return (6, words, port)
        }
        throw IndexProblem("--flow \"\(text)\": \"\(host)\" is not an IPv4 or IPv6 address")
    }

    /// Whether the decoded frame belongs to the flow.
    public func matches(_ frame: UnsafeRawBufferPointer, _ d: DecodedPacket) -> Bool {
        guard let p = FlowPair.of(frame, d), p == pair else { return false }
        if let proto {
            let have: UInt8
            if d.hasFlow {
                have = d.key.proto
            } else if let base = frame.baseAddress {
                // No transport key (a later fragment, another protocol):
                // the IPv4 protocol field, or IPv6's first next header.
                let at = Int(d.l3Offset) &+ (p.version == 4 ? 9 : 6)
                have = base.load(fromByteOffset: at, as: UInt8.self)
            } else {
                return false
            }
            guard have == proto else { return false }
        }
        guard a.port != nil || b.port != nil else { return true }
        guard d.hasFlow, [6, 17, 132].contains(d.key.proto) else { return false }
        let k = d.key
        func fits(_ x: (address: (UInt64, UInt64), port: UInt16?), _ port: UInt16) -> Bool {
            x.port == nil || x.port == port
        }
        let keyA = (k.a0, k.a1)
        // A is the key's first endpoint, or its second (both when A == B).
        let aFirst = keyA == a.address && fits(a, k.portA) && fits(b, k.portB)
        let aSecond = keyA == b.address && fits(b, k.portA) && fits(a, k.portB)
        return aFirst || aSecond
    }
}
