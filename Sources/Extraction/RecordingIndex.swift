/// The index of one finished recording, kept in a sidecar file beside it
/// (`DIR/.NAME.idx`, hidden so that `ls` and `tcpdump -r DIR/*.pcapng` see
/// the recordings alone).
///
/// A sidecar rather than blocks inside the pcapng: it serves classic pcap
/// recordings too; the recording stays byte for byte what every reader
/// expects; the index is written once the file is whole (its stretches,
/// times and flows are known only then) without rewriting the file's
/// tail; and an index that is lost, stale or damaged costs a scan, never
/// the recording. `labyrinthd index FILE…` builds it again.
///
/// Layout (little-endian): the header, the *prefix* (the bytes that make a
/// stretch readable on its own: the Section Header and every Interface
/// Description Block of a pcapng file, or a pcap file's header), the
/// stretches, each with its Bloom filter, and an FNV-1a checksum of all that
/// comes before it.
public struct RecordingIndex: Equatable, Sendable {
    public static let magic: [UInt8] = Array("LBRIDX01".utf8)
    /// What the index was built from: a recording whose length, inode or
    /// modification time differ is not the one indexed.
    public var recordingLength: UInt64
    public var inode: UInt64
    public var modifiedNanoseconds: Int64
    public var probes: UInt32 = UInt32(FlowBloom.probes)
    /// Link types of the file's interfaces, in the order of their blocks.
    public var linkTypes: [UInt32]
    public var prefix: [UInt8]
    public var stretches: [Stretch]

    /// A run of whole blocks (records) of the recording.
    public struct Stretch: Equatable, Sendable {
        public var offset: UInt64
        public var length: UInt64
        /// The earliest and latest timestamps in it (ns since the epoch):
        /// not the first and last, which a replay need not keep in order.
        public var earliest: Int64
        public var latest: Int64
        public var frames: UInt32
        /// The flow pairs present.
        public var bloom: [UInt64]

        public init(offset: UInt64, length: UInt64, earliest: Int64, latest: Int64, frames: UInt32, bloom: [UInt64]) {
            self.offset = offset
            self.length = length
            self.earliest = earliest
            self.latest = latest
            self.frames = frames
            self.bloom = bloom
        }

        /// Whether frames of `[from, to)` may lie in it.
        public func overlaps(from: Int64, to: Int64) -> Bool { latest >= from && earliest < to }

        public func mayContain(_ pairHash: UInt64, probes: Int) -> Bool {
            bloom.withUnsafeBufferPointer { FlowBloom.mayContain(pairHash, in: $0, probes: probes) }
        }
    }

    public init(
        recordingLength: UInt64, inode: UInt64, modifiedNanoseconds: Int64, linkTypes: [UInt32], prefix: [UInt8],
        stretches: [Stretch]
    ) {
        self.recordingLength = recordingLength
        self.inode = inode
        self.modifiedNanoseconds = modifiedNanoseconds
        self.linkTypes = linkTypes
        self.prefix = prefix
        self.stretches = stretches
    }

    public var earliest: Int64? { stretches.map(\.earliest).min() }
    public var latest: Int64? { stretches.map(\.latest).max() }
    public var frames: Int { stretches.reduce(0) { $0 + Int($1.frames) } }

    /// The sidecar's path for the recording at `path`.
    public static func sidecarPath(for path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return ".\(path).idx" }
        return "\(path[...slash]).\(path[path.index(after: slash)...]).idx"
    }

    // MARK: Encoding

    public func encoded() -> [UInt8] {
        var out = Self.magic
        func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { out += $0 } }
        func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { out += $0 } }
        u64(recordingLength)
        u64(inode)
        u64(UInt64(bitPattern: modifiedNanoseconds))
        u32(probes)
        u32(UInt32(linkTypes.count))
        for t in linkTypes { u32(t) }
        u32(UInt32(prefix.count))
        out += prefix
        u32(UInt32(stretches.count))
        for s in stretches {
            u64(s.offset)
            u64(s.length)
            u64(UInt64(bitPattern: s.earliest))
            u64(UInt64(bitPattern: s.latest))
            u32(s.frames)
            u32(UInt32(s.bloom.count))
            for w in s.bloom { u64(w) }
        }
        u64(Self.fnv1a(out[...]))
        return out
    }

    /// Reads an index; nil with the reason when it is damaged or not one.
    public static func decode(_ bytes: [UInt8]) -> Result<RecordingIndex, IndexProblem> {
        var at = 0
        func take(_ n: Int) throws(IndexProblem) -> ArraySlice<UInt8> {
            guard n >= 0, n <= bytes.count &- at else { throw IndexProblem("cut off at byte \(at)") }
            defer { at &+= n }
            return bytes[at..<(at &+ n)]
        }
        func u32() throws(IndexProblem) -> UInt32 {
            let s = try take(4)
            return UInt32(littleEndian: s.withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) })
        }
        func u64() throws(IndexProblem) -> UInt64 {
            let s = try take(8)
            return UInt64(littleEndian: s.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
        }
        do throws(IndexProblem) {
            guard bytes.count >= magic.count + 8, Array(try take(magic.count)) == magic else {
                throw IndexProblem("not a Labyrinth recording index (bad magic)")
            }
            let sum = UInt64(
                littleEndian: bytes[(bytes.count - 8)...].withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
            guard sum == fnv1a(bytes[..<(bytes.count - 8)]) else { throw IndexProblem("checksum mismatch") }
            let length = try u64()
            let inode = try u64()
            let mtime = Int64(bitPattern: try u64())
            let probes = try u32()
            guard (1...32).contains(probes) else { throw IndexProblem("\(probes) probes") }
            let types = Int(try u32())
            guard types <= (bytes.count &- at) / 4 else { throw IndexProblem("\(types) link types") }
            var linkTypes: [UInt32] = []
            for _ in 0..<types { linkTypes.append(try u32()) }
            let prefix = Array(try take(Int(try u32())))
            let count = Int(try u32())
            guard count <= (bytes.count &- at) / 40 else { throw IndexProblem("\(count) stretches") }
            var stretches: [Stretch] = []
            stretches.reserveCapacity(count)
            var end: UInt64 = 0
            for i in 0..<count {
                let offset = try u64()
                let len = try u64()
                let earliest = Int64(bitPattern: try u64())
                let latest = Int64(bitPattern: try u64())
                let frames = try u32()
                let words = Int(try u32())
                guard words <= (bytes.count &- at) / 8 else { throw IndexProblem("stretch \(i): \(words) words") }
                var bloom: [UInt64] = []
                bloom.reserveCapacity(words)
                for _ in 0..<words { bloom.append(try u64()) }
                // Stretches follow each other inside the recording.
                let (stop, overflow) = offset.addingReportingOverflow(len)
                guard !overflow, offset >= end, stop <= length, earliest <= latest else {
                    throw IndexProblem("stretch \(i) (offset \(offset), \(len) bytes) does not fit the recording")
                }
                end = stop
                stretches.append(
                    Stretch(
                        offset: offset, length: len, earliest: earliest, latest: latest, frames: frames, bloom: bloom))
            }
            guard at == bytes.count - 8 else { throw IndexProblem("\(bytes.count - 8 - at) bytes after the stretches") }
            var index = RecordingIndex(
                recordingLength: length, inode: inode, modifiedNanoseconds: mtime, linkTypes: linkTypes, prefix: prefix,
                stretches: stretches)
            index.probes = probes
            return .success(index)
        } catch {
            return .failure(error)
        }
    }

    static func fnv1a(_ bytes: ArraySlice<UInt8>) -> UInt64 {
        bytes.withUnsafeBytes { b in
            var h: UInt64 = 0xCBF2_9CE4_8422_2325
            for x in b { h = (h ^ UInt64(x)) &* 0x100_0000_01B3 }
            return h
        }
    }
}

/// Why an index cannot be used.
public struct IndexProblem: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
