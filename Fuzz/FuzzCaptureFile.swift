import Capture
import Packet

/// One input is a whole capture file: read every record and decode it.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    // Copy into an allocation of exactly `size` bytes so that ASan sees any
    // read past the end of the file.
    let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: max(size, 1), alignment: 8)
    defer { copy.deallocate() }
    copy.copyMemory(from: UnsafeRawBufferPointer(start: data, count: size))
    do {
        var reader = try CaptureFileReader(buffer: UnsafeRawBufferPointer(rebasing: copy[0..<size]), name: "fuzz")
        var records = 0
        while let r = try reader.next() {
            records += 1
            precondition(r.capturedLength >= 0 && r.data >= UnsafeRawPointer(copy.baseAddress!))
            precondition(r.data + r.capturedLength <= UnsafeRawPointer(copy.baseAddress!) + size, "record past the end")
            if r.linkType.isSupported {
                _ = decodePacket(r.bytes, wireLength: r.wireLength, linkType: r.linkType)
            }
            if records > 1_000_000 { break }
        }
    } catch {
        _ = error.description
    }
    return 0
}
