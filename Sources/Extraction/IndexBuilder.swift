import Capture
import Packet
import Syscalls

#if canImport(Glibc)
import Glibc
#endif

/// Builds the index of a finished recording by reading it once (from the
/// page cache, just after it was written): on the recorder's control
/// thread, or by `labyrinthd index`. Never on a worker.
public enum IndexBuilder {
    /// A stretch ends at the first record that starts this far past its
    /// start: 256 KiB, so that a narrow question reads little more than the
    /// stretches its flow is in.
    public static let stretchBytes = 256 << 10
    /// Bits of the distinct-pair counter: exact to a few percent up to
    /// several times its size in pairs (a 256 KiB stretch holds at most
    /// about 2 700 frames of 64 bytes).
    static let countingBits = 16384

    /// Reads the recording at `path` and returns its index.
    public static func build(path: String, stretchBytes: Int = stretchBytes) throws(IndexProblem) -> RecordingIndex {
        let file: Descriptor
        switch Descriptor.open(path, O_RDONLY | O_CLOEXEC) {
        case .success(let opened): file = opened
        case .failure(let e): throw IndexProblem("\(path): cannot open: \(e)")
        }
        let fd = file.rawValue
        var before = stat()
        guard fstat(fd, &before) == 0 else { throw IndexProblem("\(path): cannot stat: \(Errno.current)") }
        guard before.st_mode & S_IFMT == S_IFREG else { throw IndexProblem("\(path): not a regular file") }
        var stretches: [RecordingIndex.Stretch] = []
        var linkTypes: [UInt32] = []
        var prefix: [UInt8] = []
        do throws(CaptureFileError) {
            var reader = try CaptureFileReader(descriptor: fd, name: path, windowBytes: 4 << 20) {}
            var start = -1
            var end = 0
            var earliest = Int64.max
            var latest = Int64.min
            var frames: UInt32 = 0
            var hashes: [UInt64] = []
            // Distinct pairs per stretch, by linear counting over a
            // bitmap (Whang et al.): no sort, O(frames).
            var seen = [UInt64](repeating: 0, count: Self.countingBits / 64)
            func finishStretch(at stop: Int) {
                guard start >= 0 else { return }
                let zeros = seen.reduce(0) { $0 + (64 - $1.nonzeroBitCount) }
                let m = Double(Self.countingBits)
                let distinct =
                    zeros == 0 ? hashes.count : Swift.min(hashes.count, Int((-m * log(Double(zeros) / m)).rounded(.up)))
                var bloom = [UInt64](repeating: 0, count: FlowBloom.words(forPairs: distinct))
                bloom.withUnsafeMutableBufferPointer { words in
                    for h in hashes { FlowBloom.insert(h, into: words, probes: FlowBloom.probes) }
                }
                stretches.append(
                    RecordingIndex.Stretch(
                        offset: UInt64(start), length: UInt64(stop - start), earliest: earliest, latest: latest,
                        frames: frames, bloom: bloom))
                for i in seen.indices { seen[i] = 0 }
                hashes.removeAll(keepingCapacity: true)
                earliest = .max
                latest = .min
                frames = 0
            }
            // A file cut off mid-block (its writer was killed) is indexed up
            // to its last whole block, which is where every reader stops.
            while true {
                let r: CaptureRecord
                do {
                    guard let record = try reader.next() else { break }
                    r = record
                } catch  where error.message.contains("cut off") || error.message.contains("no interface description") {
                    // (No interface block: a file its writer was killed in
                    // before its first frame. It holds nothing.)
                    break
                }
                if start < 0 {
                    start = r.offset
                } else if r.offset - start >= stretchBytes {
                    finishStretch(at: r.offset)
                    start = r.offset
                }
                earliest = Swift.min(earliest, r.timestamp)
                latest = Swift.max(latest, r.timestamp)
                frames &+= 1
                let bytes = r.bytes
                let d = decodePacket(bytes, wireLength: r.wireLength, linkType: r.linkType)
                if let pair = FlowPair.of(bytes, d) {
                    let h = pair.hash
                    hashes.append(h)
                    let bit = Int(truncatingIfNeeded: (h &>> 40) % UInt64(Self.countingBits))
                    seen[bit &>> 6] |= 1 &<< UInt64(bit & 63)
                }
                if !linkTypes.contains(r.linkType.rawValue) { linkTypes.append(r.linkType.rawValue) }
                end = reader.bytesConsumed
            }
            finishStretch(at: end)
            guard reader.sections <= 1 else {
                throw CaptureFileError(file: path, message: "has several sections (not indexed)")
            }
            switch reader.format {
            case .pcapng:
                prefix += try readBlock(fd, at: 0, path: path)
                for o in reader.interfaceBlockOffsets { prefix += try readBlock(fd, at: o, path: path) }
            case .pcap:
                prefix = try readBytes(fd, at: 0, count: 24, path: path)
            }
        } catch {
            throw IndexProblem("\(error)")
        }
        var after = stat()
        guard fstat(fd, &after) == 0 else { throw IndexProblem("\(path): cannot stat: \(Errno.current)") }
        guard after.st_size == before.st_size, mtime(after) == mtime(before) else {
            throw IndexProblem("\(path): changed while it was indexed")
        }
        return RecordingIndex(
            recordingLength: UInt64(after.st_size), inode: UInt64(after.st_ino), modifiedNanoseconds: mtime(after),
            linkTypes: linkTypes, prefix: prefix, stretches: stretches)
    }

    /// Builds the index of `path` and writes its sidecar (under a temporary
    /// name, then renamed), with the recording's mode and group. Returns
    /// the index and the sidecar's bytes.
    @discardableResult
    public static func write(path: String) throws(IndexProblem) -> (index: RecordingIndex, bytes: Int) {
        let index = try build(path: path)
        let sidecar = RecordingIndex.sidecarPath(for: path)
        let temporary = "\(sidecar).\(getpid()).tmp"
        var st = stat()
        guard stat(path, &st) == 0 else { throw IndexProblem("\(path): cannot stat: \(Errno.current)") }
        let file: Descriptor
        switch Descriptor.open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode: st.st_mode & 0o666) {
        case .success(let opened): file = opened
        case .failure(let e): throw IndexProblem("\(sidecar): cannot create: \(e)")
        }
        let fd = file.rawValue
        let bytes = index.encoded()
        var problem: String? = nil
        if fchmod(fd, st.st_mode & 0o666) != 0 || (getuid() == 0 && fchown(fd, st.st_uid, st.st_gid) != 0) {
            problem = "cannot give it the recording's mode and owner: \(Errno.current)"
        }
        if problem == nil {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if n != bytes.count { problem = "cannot write: \(n < 0 ? "\(Errno.current)" : "short write")" }
        }
        if case .failure(let e) = file.close(), problem == nil { problem = "cannot write: \(e)" }
        if problem == nil && rename(temporary, sidecar) != 0 { problem = "cannot rename: \(Errno.current)" }
        if let problem {
            unlink(temporary)
            throw IndexProblem("\(sidecar): \(problem)")
        }
        return (index, bytes.count)
    }

    static func mtime(_ st: stat) -> Int64 {
        Int64(st.st_mtim.tv_sec) &* 1_000_000_000 &+ Int64(st.st_mtim.tv_nsec)
    }

    static func readBytes(_ fd: Int32, at offset: Int, count: Int, path: String) throws(CaptureFileError) -> [UInt8] {
        var b = [UInt8](repeating: 0, count: count)
        let n = b.withUnsafeMutableBytes { pread(fd, $0.baseAddress, count, off_t(offset)) }
        guard n == count else {
            throw CaptureFileError(file: path, offset: offset, message: "cannot read \(count) bytes")
        }
        return b
    }

    /// The pcapng block at `offset`, whole (its length is the reader's to check).
    static func readBlock(_ fd: Int32, at offset: Int, path: String) throws(CaptureFileError) -> [UInt8] {
        let head = try readBytes(fd, at: offset, count: 8, path: path)
        var length = head.withUnsafeBytes { Int($0.loadUnaligned(fromByteOffset: 4, as: UInt32.self)) }
        if length > 1 << 20 || length < 12 {
            // A big-endian section: the reader accepted it, so swap.
            length = head.withUnsafeBytes { Int($0.loadUnaligned(fromByteOffset: 4, as: UInt32.self).byteSwapped) }
        }
        guard length >= 12, length <= 1 << 20 else {
            throw CaptureFileError(file: path, offset: offset, message: "block of \(length) bytes in the prefix")
        }
        return try readBytes(fd, at: offset, count: length, path: path)
    }
}
