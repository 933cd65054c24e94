/// Why a flow table ended a flow: IANA's flowEndReason (IPFIX element 136).
@frozen
public enum FlowEndReason: UInt8, BitwiseCopyable, Sendable, CaseIterable {
    /// No packet for the idle timeout.
    case idleTimeout = 1
    /// The flow lived longer than the active timeout; it goes on in a new record.
    case activeTimeout = 2
    /// The end of the flow was seen: TCP FIN both ways, or RST.
    case endOfFlowDetected = 3
    /// Ended from outside: shutdown, flush, reload.
    case forcedEnd = 4
    /// Evicted because the table was full.
    case lackOfResources = 5
}

/// The IP version of a flow.
@frozen
public enum FlowIPVersion: UInt8, BitwiseCopyable, Sendable {
    case v4 = 4
    case v6 = 6
}

/// What a worker pushes into its export ring when a flow ends: plain values,
/// no reference, no heap, so a ring slot is a copy of this and nothing else.
///
/// Endpoints are A and B as the flow table keys them. The two halves of an
/// address are its bytes 0–7 and 8–15 read as big-endian integers, as in
/// `Packet.FlowKey`; an IPv4 address is the low 32 bits of the second half
/// (the first half is 0). Counters and times are kept per direction: `ab`
/// for packets from A to B, `ba` for packets from B to A.
///
/// Size: 115 bytes, stride 120, 8-byte aligned (checked by a test).
@frozen
public struct FlowExportRecord: BitwiseCopyable, Sendable, Equatable {
    /// Packets from A to B.
    public var packetsAB: UInt64
    /// Packets from B to A.
    public var packetsBA: UInt64
    /// IP-layer octets (sum of IP total lengths) from A to B.
    public var octetsAB: UInt64
    /// IP-layer octets from B to A.
    public var octetsBA: UInt64
    /// First and last packet from A to B, in nanoseconds since the epoch.
    public var firstAB: Int64
    public var lastAB: Int64
    /// First and last packet from B to A, in nanoseconds since the epoch.
    public var firstBA: Int64
    public var lastBA: Int64
    /// Address A: bytes 0–7 and 8–15, big-endian (IPv4 in the low 32 bits of `addressA1`).
    public var addressA0: UInt64
    public var addressA1: UInt64
    /// Address B, in the same layout as A.
    public var addressB0: UInt64
    public var addressB1: UInt64
    /// The ingress interface (ifindex); 0 when unknown, as in replay.
    public var ingressInterface: UInt32
    /// The transport ports of A and B (TCP, UDP, SCTP…); not exported for ICMP and ICMPv6.
    public var portA: UInt16
    public var portB: UInt16
    /// ICMP or ICMPv6 `type << 8 | code` of the packets from A to B, and from B to A (0 for other protocols).
    public var icmpTypeCodeAB: UInt16
    public var icmpTypeCodeBA: UInt16
    /// The 802.1Q VLAN id of the outer tag (12 bits), 0 when untagged.
    public var vlanID: UInt16
    /// TCP flags OR-ed over the packets from A to B, and from B to A (0 for other protocols).
    public var tcpFlagsAB: UInt8
    public var tcpFlagsBA: UInt8
    /// The IP protocol number (6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6…).
    public var ipProtocol: UInt8
    public var version: FlowIPVersion
    public var endReason: FlowEndReason

    /// A record with no traffic between all-zero addresses.
    public init(version: FlowIPVersion = .v4, ipProtocol: UInt8 = 0, endReason: FlowEndReason = .idleTimeout) {
        packetsAB = 0
        packetsBA = 0
        octetsAB = 0
        octetsBA = 0
        firstAB = 0
        lastAB = 0
        firstBA = 0
        lastBA = 0
        addressA0 = 0
        addressA1 = 0
        addressB0 = 0
        addressB1 = 0
        ingressInterface = 0
        portA = 0
        portB = 0
        icmpTypeCodeAB = 0
        icmpTypeCodeBA = 0
        vlanID = 0
        tcpFlagsAB = 0
        tcpFlagsBA = 0
        self.ipProtocol = ipProtocol
        self.version = version
        self.endReason = endReason
    }

    /// Sets both endpoints to IPv4 addresses (host order: `0x0A000001` is 10.0.0.1) and the version to 4.
    public mutating func setIPv4(a: UInt32, b: UInt32) {
        version = .v4
        addressA0 = 0
        addressA1 = UInt64(a)
        addressB0 = 0
        addressB1 = UInt64(b)
    }

    /// Sets both endpoints to IPv6 addresses given as 16 bytes each, and the version to 6.
    /// - Parameters:
    ///   - a: address A; only its first 16 bytes are read, missing bytes are 0.
    ///   - b: address B, likewise.
    public mutating func setIPv6(a: some Sequence<UInt8>, b: some Sequence<UInt8>) {
        version = .v6
        (addressA0, addressA1) = Self.halves(a)
        (addressB0, addressB1) = Self.halves(b)
    }

    static func halves(_ bytes: some Sequence<UInt8>) -> (UInt64, UInt64) {
        var hi: UInt64 = 0
        var lo: UInt64 = 0
        var i = 0
        for byte in bytes {
            if i >= 16 { break }
            if i < 8 {
                hi |= UInt64(byte) &<< UInt64(56 &- 8 &* i)
            } else {
                lo |= UInt64(byte) &<< UInt64(120 &- 8 &* i)
            }
            i &+= 1
        }
        return (hi, lo)
    }

    /// How many uniflow data records the encoder writes for this flow: one per direction that has packets.
    @inlinable
    public var uniflowRecordCount: Int { (packetsAB != 0 ? 1 : 0) &+ (packetsBA != 0 ? 1 : 0) }

    /// Packets both ways; saturates rather than wraps.
    @inlinable
    public var totalPackets: UInt64 {
        let (sum, overflow) = packetsAB.addingReportingOverflow(packetsBA)
        return overflow ? .max : sum
    }

    /// IP-layer octets both ways; saturates rather than wraps.
    @inlinable
    public var totalOctets: UInt64 {
        let (sum, overflow) = octetsAB.addingReportingOverflow(octetsBA)
        return overflow ? .max : sum
    }
}
