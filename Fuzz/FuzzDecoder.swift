import Packet

/// One input: byte 0 picks the link type, byte 1 how much of the frame the
/// "snap length" kept; the rest is the frame as it was on the wire.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 2 else { return 0 }
    let linkTypes: [UInt32] = [1, 113, 276, 0, 108, 101, 12, 14, 228, 229, 147]
    let linkType = LinkType(rawValue: linkTypes[Int(data[0]) % linkTypes.count])
    let frame = UnsafeRawBufferPointer(start: data + 2, count: size - 2)
    let cut = data[1] == 0 ? frame.count : min(frame.count, Int(data[1]) * 4)
    // Copy exactly the captured bytes so that ASan sees any read past them.
    let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: cut, alignment: 1)
    defer { copy.deallocate() }
    copy.copyMemory(from: UnsafeRawBufferPointer(rebasing: frame[0..<cut]))
    let d = decodePacket(UnsafeRawBufferPointer(copy), wireLength: frame.count, linkType: linkType)
    if d.hasFlow { _ = d.key.hash64 }
    precondition(!(d.truncated && d.malformation != .none && cut == frame.count), "truncated without a snap length cut")
    return 0
}
