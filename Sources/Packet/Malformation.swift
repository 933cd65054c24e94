/// Why a frame could not be decoded all the way: each is a counter.
///
/// A header that runs past the captured bytes of a frame cut by the snap
/// length is *truncated* (not malformed): the frame was fine on the wire. A
/// header that runs past the frame as it was on the wire, or a field that
/// contradicts itself, is malformed.
public enum Malformation: UInt8, CaseIterable, Sendable, CustomStringConvertible {
    case none = 0
    /// The link-layer header (Ethernet, SLL, SLL2, NULL) is incomplete.
    case truncatedLinkHeader
    /// A VLAN tag is incomplete.
    case truncatedVLAN
    /// More VLAN tags than anyone stacks (8).
    case tooManyVLANTags
    /// The IPv4 header is incomplete.
    case truncatedIPv4Header
    /// An IPv4 ethertype carrying another IP version.
    case badIPVersion
    /// IHL below 5.
    case badIHL
    /// Total length below the header length, or beyond the frame.
    case badTotalLength
    /// The IPv6 fixed header is incomplete.
    case truncatedIPv6Header
    /// Payload length beyond the frame.
    case badPayloadLength
    /// An IPv6 extension header runs past the payload, or the chain is too long.
    case badExtensionChain
    /// The TCP header is incomplete.
    case truncatedTCPHeader
    /// TCP data offset below 5 or beyond the segment.
    case badTCPDataOffset
    /// The UDP header is incomplete.
    case truncatedUDPHeader
    /// UDP length below 8 or beyond the datagram.
    case badUDPLength
    /// The ICMP or ICMPv6 header is incomplete.
    case truncatedICMPHeader
    /// The ARP header is incomplete.
    case truncatedARP
    /// A record with no captured bytes at all (caplen 0): nothing to decode,
    /// whatever the wire length says. A sparse file of zeros is millions
    /// of these.
    case emptyRecord

    /// How many reasons there are (`none` included), without building
    /// `allCases`: the workers' counter layout is computed on the data path.
    @inlinable public static var caseCount: Int { Int(Malformation.emptyRecord.rawValue) + 1 }

    /// The name in reports and JSON.
    public var description: String {
        switch self {
        case .none: return "none"
        case .truncatedLinkHeader: return "truncated_link_header"
        case .truncatedVLAN: return "truncated_vlan_tag"
        case .tooManyVLANTags: return "too_many_vlan_tags"
        case .truncatedIPv4Header: return "truncated_ipv4_header"
        case .badIPVersion: return "bad_ip_version"
        case .badIHL: return "bad_ihl"
        case .badTotalLength: return "bad_total_length"
        case .truncatedIPv6Header: return "truncated_ipv6_header"
        case .badPayloadLength: return "bad_payload_length"
        case .badExtensionChain: return "bad_extension_chain"
        case .truncatedTCPHeader: return "truncated_tcp_header"
        case .badTCPDataOffset: return "bad_tcp_data_offset"
        case .truncatedUDPHeader: return "truncated_udp_header"
        case .badUDPLength: return "bad_udp_length"
        case .truncatedICMPHeader: return "truncated_icmp_header"
        case .truncatedARP: return "truncated_arp"
        case .emptyRecord: return "empty_record"
        }
    }
}
