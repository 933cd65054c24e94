/// A capture's link-layer header type, as the LINKTYPE_ value in a pcap or
/// pcapng file (https://www.tcpdump.org/linktypes.html).
public struct LinkType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt32

    @inlinable
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// LINKTYPE_NULL: a 4-byte address family in the capturing host's byte order.
    @inlinable public static var null: LinkType { LinkType(rawValue: 0) }
    /// LINKTYPE_ETHERNET (DLT_EN10MB).
    @inlinable public static var ethernet: LinkType { LinkType(rawValue: 1) }
    /// LINKTYPE_RAW: a bare IPv4 or IPv6 packet.
    @inlinable public static var raw: LinkType { LinkType(rawValue: 101) }
    /// LINKTYPE_LOOP: a 4-byte address family in network byte order.
    @inlinable public static var loop: LinkType { LinkType(rawValue: 108) }
    /// LINKTYPE_LINUX_SLL: Linux cooked capture v1.
    @inlinable public static var linuxSLL: LinkType { LinkType(rawValue: 113) }
    /// LINKTYPE_IPV4: bare IPv4.
    @inlinable public static var ipv4: LinkType { LinkType(rawValue: 228) }
    /// LINKTYPE_IPV6: bare IPv6.
    @inlinable public static var ipv6: LinkType { LinkType(rawValue: 229) }
    /// LINKTYPE_LINUX_SLL2: Linux cooked capture v2.
    @inlinable public static var linuxSLL2: LinkType { LinkType(rawValue: 276) }

    /// Whether the decoder understands this link type. DLT_RAW's
    /// platform values 12 and 14, still found in old files, count as RAW.
    @inlinable
    public var isSupported: Bool {
        switch rawValue {
        case 0, 1, 12, 14, 101, 108, 113, 228, 229, 276: return true
        default: return false
        }
    }

    public var description: String {
        switch rawValue {
        case 0: return "NULL"
        case 1: return "EN10MB"
        case 12, 14, 101: return "RAW"
        case 108: return "LOOP"
        case 113: return "LINUX_SLL"
        case 228: return "IPV4"
        case 229: return "IPV6"
        case 276: return "LINUX_SLL2"
        default: return "LINKTYPE_\(rawValue)"
        }
    }
}
