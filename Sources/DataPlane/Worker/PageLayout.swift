import Rooms

/// Where a frame sits in its page, for every path that puts one there, so
/// that a recording writes it where it lies: the block header goes in the
/// headroom right before the frame, the trailer in the tailroom right after
/// it, and one iovec covers the whole block.
///
/// - Copied frames (replay, the `pcap` backend) start at ``headroom``.
/// - Frames the kernel receives into pages (the `uring` backend) start after
///   the recvmsg header, the sockaddr_ll and the control messages, at least
///   ``minimumHeadroom`` in even after a VLAN tag is put back (4 bytes taken
///   from that space); the provided buffers stop ``tailroom`` short of the
///   page's end.
public enum PageLayout {
    /// Bytes before a copied frame: a pcapng Enhanced Packet Block header
    /// (28) or a pcap record header (16), rounded up to a cache line.
    public static let headroom = 64
    /// Bytes a block header needs before the frame.
    public static let minimumHeadroom = 28
    /// Bytes after the frame: an Enhanced Packet Block's padding (up to 3)
    /// and its trailing length (4).
    public static let tailroom = 8
    /// The longest frame a page block of the largest order holds whole.
    public static let largestFrame = (Room.pageSize << Room.maxOrder) - headroom - tailroom
}
