/// One capture source as a pcapng Interface Description Block describes it.
///
/// Strings are written as UTF-8 without a terminator; each must be at most
/// 65,535 bytes (65,534 for `filter`, which takes one byte for its kind).
public struct PcapngInterface: Equatable, Sendable {
    /// The LINKTYPE_ value (1 Ethernet, 113 Linux cooked, 276 Linux cooked v2,
    /// 101 raw IP, …): 16 bits in pcapng.
    public var linkType: UInt16
    /// The snapshot length; 0 means no limit.
    public var snapLength: UInt32
    /// `if_name` (option 2), e.g. "eth0".
    public var name: String
    /// `if_description` (option 3); not written when nil.
    public var description: String?
    /// `if_filter` (option 11) as a libpcap filter string (kind byte 0); not
    /// written when nil.
    public var filter: String?

    public init(
        linkType: UInt16, snapLength: UInt32, name: String, description: String? = nil, filter: String? = nil
    ) {
        self.linkType = linkType
        self.snapLength = snapLength
        self.name = name
        self.description = description
        self.filter = filter
    }
}
