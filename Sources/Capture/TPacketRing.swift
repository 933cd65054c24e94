import CLinux
import Syscalls

#if canImport(Glibc)
import Glibc
#endif

/// A raw AF_PACKET socket with its own TPACKET_V3 receive ring, read a
/// whole block at a time: the `tpacket` backend. The kernel copies each
/// frame into the ring in its softirq and retires a block to user space
/// when it is full or `timeoutMilliseconds` after its first frame; the
/// worker then takes every frame of the block in one pass and hands the
/// block back. What libpcap does underneath, without its callback per
/// frame or its copy of the VLAN tag handling.
///
/// Set-up order, so that nothing unfiltered slips in: the socket, the BPF
/// filter (SO_ATTACH_FILTER, compiled by `pcap_compile`), the ring (version,
/// PACKET_RX_RING, mmap), then bind, promiscuous mode and fanout.
public struct TPacketRing: ~Copyable {
    let socket: Descriptor
    public var fd: Int32 { socket.rawValue }
    public let interface: String
    public let interfaceIndex: Int32
    /// Ethernet: the backend takes Ethernet and loopback interfaces.
    public let linkType: Int32 = 1
    /// A loopback interface sees each frame leaving and arriving: one is kept.
    public let loopback: Bool
    /// Bytes of each frame kept (the rest is cut, as a snap length does).
    public let snaplen: Int
    let map: UnsafeMutableRawPointer
    public let blockSize: Int
    public let blockCount: Int
    /// The next block to read.
    public private(set) var current = 0

    /// A ring of `bufferBytes` on the interface, joined to its fanout group
    /// as `options` say. Blocks of 1 MiB retire when full or after
    /// `timeoutMilliseconds`; in immediate mode they retire after 1 ms,
    /// mostly far from full, so they are 128 KiB (any frame up to 64 KiB
    /// fits) and many: the ring then rides out a worker's absence of as
    /// many milliseconds as it has blocks (256 with 32 MiB).
    public init(_ options: LiveSourceOptions) throws(LiveCaptureError) {
        let name = options.interface
        let index = try Capture.interfaceIndex(name)
        let type = PacketSocket.hardwareType(name)
        guard type == 1 || type == 772 else {
            throw LiveCaptureError(
                interface: name,
                "the tpacket backend takes Ethernet and loopback interfaces (this one is ARPHRD \(type.map(String.init) ?? "unknown")); use the pcap backend"
            )
        }
        let owned: Descriptor
        switch Syscall.negatedErrno({ clinux_packet_socket() }) {
        case .success(let s): owned = Descriptor(adopting: s)
        case .failure(let e): throw LiveCaptureError(interface: name, "AF_PACKET socket", errno: e)
        }
        let fd = owned.rawValue
        func fail(_ what: String, _ e: Errno) -> LiveCaptureError {
            LiveCaptureError(interface: name, what, errno: e)
        }
        if let expression = options.filter {
            let program = try BPFProgram(expression, linkType: 1, snaplen: Int32(options.snaplen), interface: name)
            try program.attach(to: fd, interface: name)
        }
        let blockSize = options.immediate ? 128 << 10 : 1 << 20
        let blockCount = Swift.max(2, options.bufferBytes / blockSize)
        let retire = options.immediate ? 1 : Swift.max(1, options.timeoutMilliseconds)
        var error: Int32 = 0
        guard
            let map = clinux_tpacket_v3_ring(
                fd, UInt32(blockSize), UInt32(blockCount), UInt32(retire), &error)
        else {
            throw fail("TPACKET_V3 ring (\(blockCount) blocks of \(blockSize >> 10) KiB)", Errno(rawValue: -error))
        }
        func step(_ what: String, _ call: () -> Int32) throws(LiveCaptureError) {
            if case .failure(let e) = Syscall.negatedErrno(call) {
                munmap(map, blockSize * blockCount)
                throw fail(what, e)
            }
        }
        try step("bind") { clinux_packet_bind(fd, index) }
        if options.promiscuous { try step("promiscuous mode") { clinux_packet_promiscuous(fd, index) } }
        let group = options.resolvedFanoutGroup(interfaceIndex: index)
        if options.joinsFanout {
            try step("PACKET_FANOUT (\(options.fanout.rawValue), group \(group))") {
                clinux_packet_fanout(fd, group, options.fanout.kernelValue)
            }
        }
        socket = owned
        self.map = map
        self.blockSize = blockSize
        self.blockCount = blockCount
        interface = name
        interfaceIndex = index
        loopback = type == 772
        snaplen = options.snaplen
    }

    /// The next block, when the kernel has retired it to user space.
    @inline(__always)
    public func readyBlock() -> UnsafeMutableRawPointer? {
        let block = map + current &* blockSize
        return clinux_tpacket_block_ready(block) ? block : nil
    }

    /// Hands the block back to the kernel and moves to the next.
    @inline(__always)
    public mutating func release(_ block: UnsafeMutableRawPointer) {
        clinux_tpacket_block_release(block)
        current = current &+ 1 == blockCount ? 0 : current &+ 1
    }

    /// Replaces the kernel filter (atomically: SO_ATTACH_FILTER swaps it);
    /// nil passes everything.
    public func setFilter(_ expression: String?, snaplen: Int32) throws(LiveCaptureError) {
        let program = try BPFProgram(expression ?? "", linkType: linkType, snaplen: snaplen, interface: interface)
        try program.attach(to: fd, interface: interface)
    }

    deinit {
        munmap(map, blockSize * blockCount)
    }
}
