import Extraction

#if canImport(Glibc)
import Glibc
#endif

/// One input is a recording and its index, as `labyrinthd extract` finds
/// them in a ring: a 4-byte length, that many bytes of recording, then the
/// sidecar. An index that decodes is made to claim the recording (its
/// length, inode and time patched, its checksum redone), so that the
/// indexed path (the prefix, the stretches, the readers over them) runs on
/// whatever it says; one that does not is written as it came. Then the
/// whole extraction runs, with and without a flow and a window, to
/// /dev/null. Nothing may trap; a decoded index must encode to its bytes.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 4 else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let split = Swift.min(size - 4, Int(bytes[0]) | Int(bytes[1]) << 8 | Int(bytes[2]) << 16)
    let recording = Array(bytes[4..<(4 + split)])
    var sidecar = Array(bytes[(4 + split)...])
    let decoded = RecordingIndex.decode(sidecar)
    if case .success(let index) = decoded {
        precondition(index.encoded() == sidecar, "a decoded index encodes to other bytes")
    }
    let directory = FuzzDirectory.shared.path
    let path = directory + "/r.pcapng"
    write(path, recording)
    if case .success(var index) = decoded {
        var st = stat()
        if stat(path, &st) == 0 {
            index.recordingLength = UInt64(st.st_size)
            index.inode = UInt64(st.st_ino)
            index.modifiedNanoseconds = Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec)
            sidecar = index.encoded()
        }
    }
    write(RecordingIndex.sidecarPath(for: path), sidecar)
    guard case .success(let sink) = Descriptor.open("/dev/null", O_WRONLY | O_CLOEXEC) else { return 0 }
    let null = sink.rawValue
    for variant in 0..<2 {
        var request = ExtractRequest(directory: directory)
        if variant == 1 {
            request.flow = try? FlowSelector("10.0.0.1 10.0.0.2")
            request.from = 1_700_000_000_000_000_000
            request.to = 1_700_000_001_000_000_000
        }
        guard let output = try? ExtractOutput(fd: null, name: "/dev/null", format: .pcapng, version: "fuzz") else {
            continue
        }
        _ = try? Extractor(request: request, output: output).run()
        _ = try? output.finish(emptyLinkType: 1)
    }
    return 0
}

func write(_ path: String, _ bytes: [UInt8]) {
    guard case .success(let file) = Descriptor.open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode: 0o600) else {
        fatalError("cannot create \(path)")
    }
    bytes.withUnsafeBytes { _ = Glibc.write(file.rawValue, $0.baseAddress, $0.count) }
}

/// A directory of this process's own in /dev/shm (or /tmp).
final class FuzzDirectory: @unchecked Sendable {
    static let shared = FuzzDirectory()
    let path: String
    init() {
        var template = Array((access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp").utf8CString.dropLast())
        template += Array("/fuzz-index-XXXXXX".utf8CString)
        path = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)) }
        // Gone when the fuzzer exits.
        atexit {
            let p = FuzzDirectory.shared.path
            unlink(p + "/r.pcapng")
            unlink(p + "/.r.pcapng.idx")
            rmdir(p)
        }
    }
}
