// Stores in native byte order at any alignment (storeBytes has accepted
// unaligned offsets since Swift 5.7), shared by the pcap and pcapng encoders.

extension UnsafeMutableRawPointer {
    @inline(__always)
    func storeUInt16(_ value: UInt16, at offset: Int) {
        storeBytes(of: value, toByteOffset: offset, as: UInt16.self)
    }

    @inline(__always)
    func storeUInt32(_ value: UInt32, at offset: Int) {
        storeBytes(of: value, toByteOffset: offset, as: UInt32.self)
    }

    @inline(__always)
    func storeUInt64(_ value: UInt64, at offset: Int) {
        storeBytes(of: value, toByteOffset: offset, as: UInt64.self)
    }
}

/// `length` rounded up to a multiple of 4, for lengths already known to be
/// far below `Int.max`.
@inline(__always)
func padded4(_ length: Int) -> Int {
    (length &+ 3) & ~3
}
