import CLinux
import CPcap
import Syscalls

#if canImport(Glibc)
import Glibc
#endif

/// How frames come off an interface.
public enum CaptureBackend: String, Sendable, CaseIterable {
    /// libpcap (TPACKET_V3 underneath; V2 in immediate mode), one handle per
    /// worker, readiness through io_uring.
    case pcap
    /// A raw AF_PACKET socket per worker, io_uring multishot recvmsg into
    /// pages of the worker's room (provided buffers).
    case uring
    /// A raw AF_PACKET socket per worker with its own TPACKET_V3 ring, read
    /// a whole block at a time (readiness through io_uring).
    case tpacket

    /// The backend when none is named: `tpacket` where it measured best
    /// (BENCHMARKS.md, "The frame's shape": an Ethernet or loopback
    /// interface, which is all it takes), `pcap` otherwise (or for an
    /// interface that does not exist yet: its open names the problem).
    public static func preferred(for interface: String) -> CaptureBackend {
        switch PacketSocket.hardwareType(interface) {
        case 1?, 772?: return .tpacket
        default: return .pcap
        }
    }
}

/// PACKET_FANOUT's ways of spreading frames over the group's sockets.
public enum FanoutMode: String, Sendable, CaseIterable {
    /// By flow hash (symmetric: both directions of a flow on one worker).
    case hash
    /// Round robin.
    case lb
    /// By the CPU the frame arrived on.
    case cpu
    /// By the frame's receive queue.
    case qm

    public var kernelValue: UInt16 {
        switch self {
        case .hash: return clinux_fanout_hash()
        case .lb: return clinux_fanout_lb()
        case .cpu: return clinux_fanout_cpu()
        case .qm: return clinux_fanout_qm()
        }
    }
}

/// Everything about one capture source.
public struct LiveSourceOptions: Sendable, Equatable {
    public var interface: String
    public var backend: CaptureBackend = .pcap
    public var fanout: FanoutMode = .hash
    /// The PACKET_FANOUT group (nil: derived from the process and interface).
    public var fanoutGroup: UInt16? = nil
    /// Whether handles join the fanout group. A single handle with no
    /// group named has nothing to share frames with, and the kernel's
    /// fanout demux (a flow hash, defragmentation for `hash`) would cost
    /// every frame for nothing.
    public var joinsFanout: Bool = true
    public var snaplen: Int = 262_144
    /// A tcpdump expression, compiled by libpcap and run in the kernel.
    public var filter: String? = nil
    public var promiscuous: Bool = true
    /// The kernel buffer per handle (pcap's ring, or the socket's receive
    /// buffer for uring).
    public var bufferBytes: Int = 32 << 20
    public var immediate: Bool = false
    public var timeoutMilliseconds: Int = 100
    /// uring: ask the kernel for each frame's receive time (SO_TIMESTAMPNS,
    /// about 150 ns a frame here); otherwise frames take the time their
    /// batch was reaped. pcap always has the kernel's.
    public var kernelTimestamps: Bool = false

    public init(interface: String) {
        self.interface = interface
    }

    /// The group used when none is configured: unique per process and
    /// interface, so that two daemons never join each other's group.
    public func resolvedFanoutGroup(interfaceIndex: Int32) -> UInt16 {
        if let fanoutGroup { return fanoutGroup }
        return UInt16(truncatingIfNeeded: (UInt32(bitPattern: getpid()) &* 31) ^ UInt32(bitPattern: interfaceIndex))
    }
}

/// Why a live source could not be opened or configured: the interface, what
/// was being done, and the kernel's error when there was one.
public struct LiveCaptureError: ErrnoCarrying, Sendable, CustomStringConvertible {
    public var interface: String
    public var message: String
    public var errno: Errno?

    public init(interface: String, _ message: String, errno: Errno? = nil) {
        self.interface = interface
        self.message = message
        self.errno = errno
    }

    public var description: String {
        guard let errno else { return "\(interface): \(message)" }
        let hint =
            errno == .notPermitted || errno == .permissionDenied ? " (needs CAP_NET_RAW and CAP_NET_ADMIN)" : ""
        return "\(interface): \(message): \(errno)\(hint)"
    }
}

/// The index of an interface, or a clear error.
public func interfaceIndex(_ name: String) throws(LiveCaptureError) -> Int32 {
    let index = if_nametoindex(name)
    guard index != 0 else {
        throw LiveCaptureError(interface: name, "no such interface", errno: .current)
    }
    return Int32(bitPattern: index)
}

/// A compiled tcpdump expression.
public struct BPFProgram: ~Copyable {
    var program: bpf_program

    /// Compiles `expression` for frames of `linkType` (DLT_*). A bad
    /// expression is an error that quotes it and libpcap's reason.
    public init(_ expression: String, linkType: Int32, snaplen: Int32, interface: String) throws(LiveCaptureError) {
        guard let dead = pcap_open_dead(linkType, snaplen) else {
            throw LiveCaptureError(interface: interface, "pcap_open_dead failed")
        }
        defer { pcap_close(dead) }
        var program = bpf_program()
        if pcap_compile(dead, &program, expression, 1, PCAP_NETMASK_UNKNOWN) != 0 {
            let reason = String(cString: pcap_geterr(dead))
            throw LiveCaptureError(interface: interface, "filter \"\(expression)\": \(reason)")
        }
        self.program = program
    }

    public var instructionCount: Int { Int(program.bf_len) }

    /// Attaches it to a socket in the kernel (SO_ATTACH_FILTER).
    public func attach(to fd: Int32, interface: String) throws(LiveCaptureError) {
        let length = program.bf_len
        guard let instructions = program.bf_insns, length <= UInt32(UInt16.max) else {
            throw LiveCaptureError(interface: interface, "SO_ATTACH_FILTER: a program of \(length) instructions")
        }
        let r = Syscall.negatedErrno {
            instructions.withMemoryRebound(to: sock_filter.self, capacity: Int(length)) {
                clinux_attach_filter(fd, $0, UInt16(length))
            }
        }
        if case .failure(let e) = r { throw LiveCaptureError(interface: interface, "SO_ATTACH_FILTER", errno: e) }
    }

    deinit {
        var owned = program
        pcap_freecode(&owned)
    }
}

/// The LINKTYPE_ of the frames an interface delivers, as libpcap maps its
/// hardware type: Ethernet and loopback are EN10MB (1), a tunnel with no
/// link header is RAW (101); nil for others (or when it cannot be read).
public func interfaceLinkType(_ name: String) -> UInt32? {
    let t = clinux_interface_hardware_type(name)
    switch t {
    case 1, 772: return 1  // ARPHRD_ETHER, ARPHRD_LOOPBACK
    case 0xFFFE: return 101  // ARPHRD_NONE
    default: return nil
    }
}

/// A BPF filter run in user space on replayed frames, as `tcpdump -r F
/// EXPRESSION` does (`pcap_offline_filter`): compiled once per link type
/// the files bring, when the first frame of it comes.
public final class OfflineFilter: @unchecked Sendable {
    public let expression: String
    private var linkTypes: [UInt32] = []
    private var programs: [bpf_program] = []

    public init(_ expression: String) {
        self.expression = expression
    }

    deinit {
        for i in programs.indices { pcap_freecode(&programs[i]) }
    }

    /// Whether the frame matches; throws when the expression cannot be
    /// compiled for its link type (naming both).
    public func matches(linkType: UInt32, frame: UnsafeRawPointer, captured: Int, wire: Int) throws(LiveCaptureError)
        -> Bool
    {
        var i = 0
        while i < linkTypes.count && linkTypes[i] != linkType { i &+= 1 }
        if i == linkTypes.count { try compile(linkType) }
        var header = pcap_pkthdr()
        header.caplen = UInt32(truncatingIfNeeded: captured)
        header.len = UInt32(truncatingIfNeeded: Swift.max(wire, captured))
        return programs.withUnsafeMutableBufferPointer {
            pcap_offline_filter(&$0[i], &header, frame.assumingMemoryBound(to: UInt8.self)) != 0
        }
    }

    private func compile(_ linkType: UInt32) throws(LiveCaptureError) {
        // pcap_open_dead takes a DLT_ value: LINKTYPE_RAW (101) is DLT_RAW
        // (12 on Linux); the others the decoder knows are the same number.
        let dlt = linkType == 101 ? Int32(DLT_RAW) : Int32(bitPattern: linkType)
        guard let dead = pcap_open_dead(dlt, 262_144) else {
            throw LiveCaptureError(interface: "replay", "pcap_open_dead failed")
        }
        defer { pcap_close(dead) }
        var program = bpf_program()
        if pcap_compile(dead, &program, expression, 1, PCAP_NETMASK_UNKNOWN) != 0 {
            let reason = String(cString: pcap_geterr(dead))
            let known: UnsafePointer<CChar>? = pcap_datalink_val_to_name(dlt)
            let name = known.map { String(cString: $0) } ?? "DLT \(linkType)"
            throw LiveCaptureError(
                interface: "replay", "filter \"\(expression)\" cannot run on link type \(name) (\(linkType)): \(reason)"
            )
        }
        linkTypes.append(linkType)
        programs.append(program)
    }
}

/// The kernel's counts for one socket, kept as 64-bit running totals
/// (PACKET_STATISTICS resets on every read; its `packets` already include
/// `drops`).
public struct KernelCounts: Sendable, Equatable {
    public var packets: UInt64 = 0
    public var drops: UInt64 = 0

    public init() {}

    /// Adds what the kernel counted since the last read. A failure (the
    /// socket is gone, say) is returned, and the totals stay as they were.
    /// The corresponding C call is `getsockopt(PACKET_STATISTICS)`.
    public mutating func read(fd: Int32) -> Result<Void, Errno> {
        var p: UInt64 = 0
        var d: UInt64 = 0
        let r = Syscall.negatedErrno { clinux_packet_statistics(fd, true, &p, &d) }
        if case .failure(let e) = r { return .failure(e) }
        packets &+= p
        drops &+= d
        return .success(())
    }
}

/// A libpcap live handle, activated, non-blocking, filtered and joined to
/// the fanout group.
public struct PcapHandle: ~Copyable {
    public let handle: OpaquePointer
    public let interface: String
    /// The link type of the frames (DLT_*).
    public let linkType: Int32
    public let fileDescriptor: Int32
    /// The interface's index (IPFIX ingressInterface).
    public let interfaceIndex: Int32
    /// Whether the timestamps libpcap gives are in nanoseconds (asked for;
    /// microseconds where the kernel cannot).
    public let nanosecondTimestamps: Bool
    /// Warnings from activation (e.g. promiscuous mode not supported).
    public let warnings: [String]

    public init(_ options: LiveSourceOptions) throws(LiveCaptureError) {
        let name = options.interface
        let index = try Capture.interfaceIndex(name)
        var errbuf = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE) + 1)
        guard let p = pcap_create(name, &errbuf) else {
            throw LiveCaptureError(interface: name, String(nulTerminated: errbuf))
        }
        func fail(_ what: String) -> LiveCaptureError {
            let e = LiveCaptureError(interface: name, "\(what): \(String(cString: pcap_geterr(p)))")
            pcap_close(p)
            return e
        }
        pcap_set_snaplen(p, Int32(options.snaplen))
        pcap_set_promisc(p, options.promiscuous ? 1 : 0)
        pcap_set_timeout(p, Int32(options.timeoutMilliseconds))
        pcap_set_buffer_size(p, Int32(clamping: options.bufferBytes))
        pcap_set_immediate_mode(p, options.immediate ? 1 : 0)
        // The kernel stamps TPACKET_V3 frames in nanoseconds: keep them.
        let nano = pcap_set_tstamp_precision(p, Int32(PCAP_TSTAMP_PRECISION_NANO)) == 0
        var warnings: [String] = []
        let status = pcap_activate(p)
        if status < 0 {
            let reason: String
            switch status {
            case PCAP_ERROR_PERM_DENIED: reason = "permission denied (needs CAP_NET_RAW)"
            case PCAP_ERROR_NO_SUCH_DEVICE: reason = "no such device"
            case PCAP_ERROR_IFACE_NOT_UP: reason = "the interface is down"
            default: reason = String(cString: pcap_statustostr(status))
            }
            let detail = String(cString: pcap_geterr(p))
            pcap_close(p)
            throw LiveCaptureError(interface: name, "cannot capture: \(reason)\(detail.isEmpty ? "" : " (\(detail))")")
        }
        if status > 0 {
            warnings.append("\(String(cString: pcap_statustostr(status))): \(String(cString: pcap_geterr(p)))")
        }
        if pcap_setnonblock(p, 1, &errbuf) != 0 {
            pcap_close(p)
            throw LiveCaptureError(interface: name, "non-blocking mode: \(String(nulTerminated: errbuf))")
        }
        let linkType = pcap_datalink(p)
        if let expression = options.filter {
            var program = bpf_program()
            if pcap_compile(p, &program, expression, 1, PCAP_NETMASK_UNKNOWN) != 0 {
                let reason = String(cString: pcap_geterr(p))
                pcap_close(p)
                throw LiveCaptureError(interface: name, "filter \"\(expression)\": \(reason)")
            }
            defer { pcap_freecode(&program) }
            if pcap_setfilter(p, &program) != 0 { throw fail("filter \"\(expression)\"") }
        }
        let fd = pcap_get_selectable_fd(p)
        if fd < 0 {
            pcap_close(p)
            throw LiveCaptureError(interface: name, "no selectable file descriptor")
        }
        if options.joinsFanout {
            let group = options.resolvedFanoutGroup(interfaceIndex: index)
            let r = Syscall.negatedErrno { clinux_packet_fanout(fd, group, options.fanout.kernelValue) }
            if case .failure(let e) = r {
                pcap_close(p)
                throw LiveCaptureError(
                    interface: name, "PACKET_FANOUT (\(options.fanout.rawValue), group \(group))", errno: e)
            }
        }
        handle = p
        interface = name
        interfaceIndex = index
        nanosecondTimestamps = nano && pcap_get_tstamp_precision(p) == Int32(PCAP_TSTAMP_PRECISION_NANO)
        self.linkType = linkType
        fileDescriptor = fd
        self.warnings = warnings
    }

    /// Replaces the kernel filter ("" passes everything).
    public func setFilter(_ expression: String) throws(LiveCaptureError) {
        var program = bpf_program()
        if pcap_compile(handle, &program, expression, 1, PCAP_NETMASK_UNKNOWN) != 0 {
            throw LiveCaptureError(
                interface: interface, "filter \"\(expression)\": \(String(cString: pcap_geterr(handle)))")
        }
        defer { pcap_freecode(&program) }
        if pcap_setfilter(handle, &program) != 0 {
            throw LiveCaptureError(
                interface: interface, "filter \"\(expression)\": \(String(cString: pcap_geterr(handle)))")
        }
    }

    deinit {
        pcap_close(handle)
    }
}

/// A raw AF_PACKET socket on one interface: filtered before it is bound (so
/// nothing unfiltered is ever queued), promiscuous if asked, with kernel
/// receive timestamps, joined to the fanout group.
public struct PacketSocket: ~Copyable {
    let socket: Descriptor
    public var fd: Int32 { socket.rawValue }
    public let interface: String
    public let interfaceIndex: Int32
    /// Ethernet: the uring backend takes Ethernet and loopback interfaces.
    public let linkType: Int32 = 1

    public init(_ options: LiveSourceOptions) throws(LiveCaptureError) {
        let name = options.interface
        let index = try Capture.interfaceIndex(name)
        // ARPHRD_ETHER (1) or ARPHRD_LOOPBACK (772): frames start with an
        // Ethernet header.
        let type = PacketSocket.hardwareType(name)
        guard type == 1 || type == 772 else {
            throw LiveCaptureError(
                interface: name,
                "the uring backend takes Ethernet and loopback interfaces (this one is ARPHRD \(type.map(String.init) ?? "unknown")); use the pcap backend"
            )
        }
        let owned: Descriptor
        switch Syscall.negatedErrno({ clinux_packet_socket() }) {
        case .success(let s): owned = Descriptor(adopting: s)
        case .failure(let e): throw LiveCaptureError(interface: name, "AF_PACKET socket", errno: e)
        }
        let fd = owned.rawValue
        func step(_ what: String, _ call: () -> Int32) throws(LiveCaptureError) {
            if case .failure(let e) = Syscall.negatedErrno(call) {
                throw LiveCaptureError(interface: name, what, errno: e)
            }
        }
        if let expression = options.filter {
            let program = try BPFProgram(expression, linkType: 1, snaplen: Int32(options.snaplen), interface: name)
            try program.attach(to: fd, interface: name)
        }
        try step("receive buffer") { clinux_receive_buffer(fd, Int32(clamping: options.bufferBytes)) }
        if options.kernelTimestamps { try step("SO_TIMESTAMPNS") { clinux_timestamps(fd) } }
        // The VLAN tag the kernel takes out of every frame comes back from here.
        try step("PACKET_AUXDATA") { clinux_packet_auxdata(fd) }
        try step("bind") { clinux_packet_bind(fd, index) }
        if options.promiscuous { try step("promiscuous mode") { clinux_packet_promiscuous(fd, index) } }
        let group = options.resolvedFanoutGroup(interfaceIndex: index)
        if options.joinsFanout {
            try step("PACKET_FANOUT (\(options.fanout.rawValue), group \(group))") {
                clinux_packet_fanout(fd, group, options.fanout.kernelValue)
            }
        }
        socket = owned
        interface = name
        interfaceIndex = index
    }

    /// Replaces the kernel filter (atomically: SO_ATTACH_FILTER swaps it);
    /// nil passes everything.
    public func setFilter(_ expression: String?, snaplen: Int32) throws(LiveCaptureError) {
        let program = try BPFProgram(expression ?? "", linkType: linkType, snaplen: snaplen, interface: interface)
        try program.attach(to: fd, interface: interface)
    }

    /// True for a loopback interface (ARPHRD_LOOPBACK).
    public static func isLoopback(_ name: String) -> Bool { hardwareType(name) == 772 }

    /// ARPHRD_* from /sys/class/net/NAME/type.
    static func hardwareType(_ name: String) -> Int? {
        guard case .success(let file) = Descriptor.open("/sys/class/net/\(name)/type", O_RDONLY | O_CLOEXEC) else {
            return nil
        }
        let fd = file.rawValue
        var buffer = [UInt8](repeating: 0, count: 32)
        let n = read(fd, &buffer, buffer.count)
        guard n > 0 else { return nil }
        return Int(String(decoding: buffer.prefix(n).filter { $0 >= 48 && $0 <= 57 }, as: UTF8.self))
    }
}
