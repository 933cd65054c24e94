import Packet

/// One input: byte 0 picks the link type, byte 1 how much of the frame the
/// "snap length" kept; the rest is the frame as it was on the wire.
///
/// Invariants, each of which a wrong decoder breaks:
/// - a frame captured whole is never `truncated` (only a snap length cuts);
/// - a frame with no captured byte is `empty_record`, whatever the wire says;
/// - the straight-line decoder for the common frame gives what the general
///   decoder gives, field for field, flow key included.
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
    let general = decodePacketGeneral(UnsafeRawBufferPointer(copy), wireLength: frame.count, linkType: linkType)
    precondition(!(d.truncated && cut == frame.count), "truncated without a snap length cut")
    if cut == 0 { precondition(d.malformation == .emptyRecord, "an empty record decoded as \(d.malformation)") }
    precondition(
        d.protocols == general.protocols && d.malformation == general.malformation && d.truncated == general.truncated
            && d.hasFlow == general.hasFlow && d.forward == general.forward && d.tcpFlags == general.tcpFlags
            && d.ipOctets == general.ipOctets && d.l3Offset == general.l3Offset && d.l4Offset == general.l4Offset
            && d.icmpTypeCode == general.icmpTypeCode,
        "the fast decoder and the general one disagree")
    if d.hasFlow {
        precondition(d.key == general.key, "the fast decoder's flow key differs")
        _ = d.key.hash64
    }
    return 0
}
