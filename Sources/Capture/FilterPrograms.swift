import CPcap

/// One tcpdump expression compiled for several link types at once, for a
/// filter that runs in user space on another thread (a live tap's, on the
/// workers): compiled on the control plane, then only read. Matching takes
/// no lock, allocates nothing and makes no syscall (`pcap_offline_filter`
/// runs the BPF interpreter over the frame).
public final class FilterPrograms: @unchecked Sendable {
    public let expression: String
    /// The link types it compiled for (LINKTYPE_ values), in table order.
    public let linkTypes: [UInt32]
    /// Why it did not compile for the others, one line per link type.
    public let refusals: [String]
    let programs: UnsafeMutablePointer<bpf_program>
    let types: UnsafeMutablePointer<UInt32>
    let count: Int

    /// The link types the decoder takes (LINKTYPE_ values; DLT_RAW's old
    /// 12 and 14 are RAW): what a filter that runs on the workers is
    /// compiled for.
    public static let decodedLinkTypes: [UInt32] = [1, 101, 0, 108, 113, 276, 228, 229]

    /// Compiles `expression` for each of `linkTypes` (LINKTYPE_ values).
    /// Throws, with libpcap's reason for each, when it compiles for none.
    public init(_ expression: String, linkTypes candidates: [UInt32]) throws(LiveCaptureError) {
        self.expression = expression
        var compiled: [(UInt32, bpf_program)] = []
        var refusals: [String] = []
        for linkType in candidates {
            // pcap_open_dead takes a DLT_ value: LINKTYPE_RAW (101) is DLT_RAW.
            let dlt = linkType == 101 ? Int32(DLT_RAW) : Int32(bitPattern: linkType)
            guard let dead = pcap_open_dead(dlt, 262_144) else { continue }
            var program = bpf_program()
            if pcap_compile(dead, &program, expression, 1, PCAP_NETMASK_UNKNOWN) == 0 {
                compiled.append((linkType, program))
            } else {
                let name = pcap_datalink_val_to_name(dlt).map { String(cString: $0) } ?? "LINKTYPE \(linkType)"
                refusals.append("\(name): \(String(cString: pcap_geterr(dead)))")
            }
            pcap_close(dead)
        }
        guard !compiled.isEmpty else {
            let reasons = refusals.first ?? "no link type to compile for"
            throw LiveCaptureError(interface: "tap", "filter \"\(expression)\": \(reasons)")
        }
        count = compiled.count
        programs = .allocate(capacity: count)
        types = .allocate(capacity: count)
        for (i, (t, p)) in compiled.enumerated() {
            (programs + i).initialize(to: p)
            (types + i).initialize(to: t)
        }
        self.linkTypes = compiled.map(\.0)
        self.refusals = refusals
    }

    deinit {
        for i in 0..<count { pcap_freecode(programs + i) }
        programs.deallocate()
        types.deallocate()
    }

    /// The table the workers read (valid while this object lives).
    public var table: FilterTable {
        FilterTable(programs: UnsafeMutableRawPointer(programs), types: types, count: count)
    }
}

/// A worker's view of ``FilterPrograms``: plain pointers, no reference
/// counting on the packet path.
public struct FilterTable: @unchecked Sendable {
    let programs: UnsafeMutableRawPointer
    let types: UnsafeMutablePointer<UInt32>
    let count: Int

    /// Whether the frame matches. A frame of a link type the expression did
    /// not compile for never does. DLT_RAW's old values (12, 14) are RAW.
    public func matches(linkType: UInt32, frame: UnsafeRawPointer, captured: Int, wire: Int) -> Bool {
        let wanted = linkType == 12 || linkType == 14 ? 101 : linkType
        let p = programs.assumingMemoryBound(to: bpf_program.self)
        var i = 0
        while i < count {
            if types[i] == wanted {
                var header = pcap_pkthdr()
                header.caplen = UInt32(truncatingIfNeeded: captured)
                header.len = UInt32(truncatingIfNeeded: Swift.max(wire, captured))
                return pcap_offline_filter(p + i, &header, frame.assumingMemoryBound(to: UInt8.self)) != 0
            }
            i &+= 1
        }
        return false
    }
}
