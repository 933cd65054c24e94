import Packet
import Sinks
import Syscalls

#if canImport(Glibc)
import Glibc
#endif

/// Where `extract` writes: pcapng with one Interface Description Block per
/// source interface (its link type, snap length and name; nanosecond
/// timestamps), or classic pcap (nanosecond magic), which holds a single
/// link type. Buffered; `write` errors (a closed pipe, a full disk) end the
/// extraction with the reason.
public final class ExtractOutput {
    public enum Format: String, Sendable { case pcapng, pcap }

    public struct Interface: Hashable, Sendable {
        public var linkType: UInt32
        public var snapLength: Int
        public var name: String
    }

    let fd: Int32
    let name: String
    public let format: Format
    var buffer: [UInt8] = []
    var interfaces: [Interface: UInt32] = [:]
    var pcapLinkType: UInt32? = nil
    public private(set) var bytesWritten = 0
    public private(set) var frames = 0
    static let flushBytes = 1 << 20
    static let snapForPcap: UInt32 = 262_144

    /// `name` names the destination in errors ("-" for standard output).
    public init(fd: Int32, name: String, format: Format, version: String) throws(IndexProblem) {
        self.fd = fd
        self.name = name
        self.format = format
        buffer.reserveCapacity(Self.flushBytes + 300_000)
        if format == .pcapng {
            var b = [UInt8](repeating: 0, count: 1024)
            do {
                let n = try b.withUnsafeMutableBytes { (p) throws(PcapEncodingError) in
                    try PcapngEncoder.sectionHeader(into: p, version: version)
                }
                buffer += b[..<n]
            } catch {
                throw IndexProblem("\(name): \(error)")
            }
        }
    }

    /// The output's number for `interface`, its block written the first time.
    public func interfaceID(_ interface: Interface) throws(IndexProblem) -> UInt32 {
        if let id = interfaces[interface] { return id }
        let id = UInt32(interfaces.count)
        switch format {
        case .pcapng:
            guard interface.linkType <= UInt32(UInt16.max) else {
                throw IndexProblem("link type \(interface.linkType) does not fit a pcapng interface")
            }
            let i = PcapngInterface(
                linkType: UInt16(interface.linkType), snapLength: UInt32(clamping: interface.snapLength),
                name: interface.name.isEmpty ? "extract" : interface.name)
            do {
                let n = try PcapngEncoder.interfaceDescriptionLength(i)
                var b = [UInt8](repeating: 0, count: n)
                _ = try b.withUnsafeMutableBytes { (p) throws(PcapEncodingError) in
                    try PcapngEncoder.interfaceDescription(into: p, i)
                }
                buffer += b
            } catch {
                throw IndexProblem("interface \(interface.name): \(error)")
            }
        case .pcap:
            if let have = pcapLinkType {
                guard have == interface.linkType else {
                    throw IndexProblem(
                        "frames of link types \(have) and \(interface.linkType) match: a pcap file holds one; use --format pcapng"
                    )
                }
            } else {
                header(linkType: interface.linkType)
            }
        }
        interfaces[interface] = id
        return id
    }

    func header(linkType: UInt32) {
        pcapLinkType = linkType
        var b = [UInt8](repeating: 0, count: PcapEncoder.fileHeaderSize)
        b.withUnsafeMutableBytes {
            _ = PcapEncoder.fileHeader(into: $0.baseAddress!, snapLength: Self.snapForPcap, linkType: linkType)
        }
        buffer += b
    }

    public func append(interface: UInt32, timestamp: Int64, frame: UnsafeRawBufferPointer, wireLength: Int)
        throws(IndexProblem)
    {
        let start = buffer.count
        let room = frame.count + 40
        buffer.append(contentsOf: repeatElement(0, count: room))
        let written = buffer.withUnsafeMutableBytes { b -> Result<Int, PcapEncodingError> in
            let slice = UnsafeMutableRawBufferPointer(rebasing: b[start...])
            return Result { () throws(PcapEncodingError) in
                switch format {
                case .pcapng:
                    try PcapngEncoder.enhancedPacket(
                        into: slice, interface: interface, timestampNanoseconds: timestamp, frame: frame,
                        originalLength: Swift.max(wireLength, frame.count))
                case .pcap:
                    try PcapEncoder.record(
                        into: slice, timestampNanoseconds: timestamp, frame: frame,
                        originalLength: Swift.max(wireLength, frame.count))
                }
            }
        }
        switch written {
        case .success(let n): buffer.removeLast(room - n)
        case .failure(let e):
            buffer.removeLast(room)
            throw IndexProblem("a frame at \(timestamp) ns cannot be written: \(e)")
        }
        frames += 1
        if buffer.count >= Self.flushBytes { try flush() }
    }

    /// Writes what is buffered; at the end of a pcap output no frame
    /// reached, the header of `linkType`.
    public func finish(emptyLinkType: UInt32) throws(IndexProblem) {
        if format == .pcap && pcapLinkType == nil { header(linkType: emptyLinkType) }
        try flush()
    }

    func flush() throws(IndexProblem) {
        var done = 0
        while done < buffer.count {
            let n = buffer.withUnsafeBytes { b in
                Syscall.valueOrErrno { write(fd, b.baseAddress! + done, b.count - done) }
            }
            switch n {
            case .success(let k): done += k
            case .failure(let e): throw IndexProblem("\(name): cannot write: \(e)")
            }
        }
        bytesWritten += done
        buffer.removeAll(keepingCapacity: true)
    }
}
