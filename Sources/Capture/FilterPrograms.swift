import CPcap

#if canImport(Glibc)
import Glibc
#endif

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

    /// Programs compiled elsewhere (``compiledOutput(_:linkTypes:snaplen:)``,
    /// in a child process): each is checked with `bpf_validate` before a
    /// worker may run it. Throws when none is left.
    public init(
        _ expression: String, compiled: [(linkType: UInt32, instructions: [bpf_insn])], refusals: [String]
    ) throws(LiveCaptureError) {
        self.expression = expression
        var valid: [(UInt32, bpf_program)] = []
        var refused = refusals
        for (linkType, instructions) in compiled {
            let n = Int32(truncatingIfNeeded: instructions.count)
            guard !instructions.isEmpty, instructions.withUnsafeBufferPointer({ bpf_validate($0.baseAddress, n) }) != 0
            else {
                refused.append("LINKTYPE \(linkType): the compiled program does not validate")
                continue
            }
            // pcap_freecode frees bf_insns with free(): allocate with malloc.
            let bytes = instructions.count * MemoryLayout<bpf_insn>.stride
            guard let raw = malloc(bytes) else { continue }
            let insns = raw.bindMemory(to: bpf_insn.self, capacity: instructions.count)
            insns.initialize(from: instructions, count: instructions.count)
            valid.append((linkType, bpf_program(bf_len: UInt32(instructions.count), bf_insns: insns)))
        }
        guard !valid.isEmpty else {
            for (_, var p) in valid { pcap_freecode(&p) }
            throw LiveCaptureError(
                interface: "tap", "filter \"\(expression)\": \(refused.first ?? "no link type to compile for")")
        }
        count = valid.count
        programs = .allocate(capacity: count)
        types = .allocate(capacity: count)
        for (i, (t, p)) in valid.enumerated() {
            (programs + i).initialize(to: p)
            (types + i).initialize(to: t)
        }
        self.linkTypes = valid.map(\.0)
        self.refusals = refused
    }

    deinit {
        for i in 0..<count { pcap_freecode(programs + i) }
        programs.deallocate()
        types.deallocate()
    }

    /// The instructions of the program for each link type it compiled for.
    public var instructions: [(linkType: UInt32, instructions: [bpf_insn])] {
        (0..<count).map { i in
            let p = programs[i]
            return (types[i], Array(UnsafeBufferPointer(start: p.bf_insns, count: Int(p.bf_len))))
        }
    }

    // MARK: Compiled in one process, run in another

    /// What `labyrinthd compile-filter` writes: per link type, its value
    /// (u32), then either the instruction count (i32) and the instructions
    /// (8 bytes each: code u16, jt u8, jf u8, k u32), or -1, the reason's
    /// length (u32) and the reason. Native byte order: parent and child are
    /// one binary.
    public static func compiledOutput(_ expression: String, linkTypes: [UInt32], snaplen: Int32) -> [UInt8] {
        var out: [UInt8] = []
        func put<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v) { out += $0 } }
        for linkType in linkTypes {
            put(linkType)
            let dlt = linkType == 101 ? Int32(DLT_RAW) : Int32(bitPattern: linkType)
            guard let dead = pcap_open_dead(dlt, snaplen) else {
                put(Int32(-1))
                let reason = Array("pcap_open_dead failed".utf8)
                put(UInt32(reason.count))
                out += reason
                continue
            }
            var program = bpf_program()
            if pcap_compile(dead, &program, expression, 1, PCAP_NETMASK_UNKNOWN) == 0 {
                put(Int32(bitPattern: program.bf_len))
                for i in 0..<Int(program.bf_len) {
                    let insn = program.bf_insns[i]
                    put(insn.code)
                    put(insn.jt)
                    put(insn.jf)
                    put(insn.k)
                }
                pcap_freecode(&program)
            } else {
                let name = pcap_datalink_val_to_name(dlt).map { String(cString: $0) } ?? "LINKTYPE \(linkType)"
                let reason = Array("\(name): \(String(cString: pcap_geterr(dead)))".utf8)
                put(Int32(-1))
                put(UInt32(reason.count))
                out += reason
            }
            pcap_close(dead)
        }
        return out
    }

    /// Reads ``compiledOutput(_:linkTypes:snaplen:)``: the programs, the
    /// refusals, and the largest instruction count; nil when the bytes are
    /// not that (a child that died half way).
    public static func parseCompiledOutput(_ bytes: [UInt8]) -> (
        compiled: [(linkType: UInt32, instructions: [bpf_insn])], refusals: [String], largest: Int
    )? {
        var at = 0
        func take<T: FixedWidthInteger>(_: T.Type) -> T? {
            let size = MemoryLayout<T>.size
            guard bytes.count - at >= size else { return nil }
            let v = bytes[at..<at + size].withUnsafeBytes { $0.loadUnaligned(as: T.self) }
            at += size
            return v
        }
        var compiled: [(UInt32, [bpf_insn])] = []
        var refusals: [String] = []
        var largest = 0
        while at < bytes.count {
            guard let linkType = take(UInt32.self), let n = take(Int32.self) else { return nil }
            if n < 0 {
                guard let length = take(UInt32.self), bytes.count - at >= Int(length) else { return nil }
                refusals.append(String(decoding: bytes[at..<at + Int(length)], as: UTF8.self))
                at += Int(length)
                continue
            }
            guard (bytes.count - at) / 8 >= Int(n) else { return nil }
            var instructions: [bpf_insn] = []
            instructions.reserveCapacity(Int(n))
            for _ in 0..<Int(n) {
                guard let code = take(UInt16.self), let jt = take(UInt8.self), let jf = take(UInt8.self),
                    let k = take(UInt32.self)
                else { return nil }
                instructions.append(bpf_insn(code: code, jt: jt, jf: jf, k: k))
            }
            largest = Swift.max(largest, Int(n))
            compiled.append((linkType, instructions))
        }
        return (compiled.map { (linkType: $0.0, instructions: $0.1) }, refusals, largest)
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
