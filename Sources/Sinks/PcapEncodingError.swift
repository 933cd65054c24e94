/// Why a pcapng or pcap encoder refused to write a block.
///
/// The encoders never trap on their inputs: every length and timestamp that a
/// file format cannot hold comes back as one of these, and nothing has been
/// written when one is thrown.
public enum PcapEncodingError: Error, Equatable, Sendable {
    /// The destination holds `available` bytes; the block needs `needed`.
    case bufferTooSmall(needed: Int, available: Int)
    /// A captured length below 0, or above what the format's 32-bit lengths
    /// hold (`PcapngEncoder.maximumCapturedLength`,
    /// `PcapEncoder.maximumCapturedLength`).
    case capturedLengthOutOfRange(Int)
    /// An original (wire) length shorter than the captured length, or beyond
    /// 2^32 − 1.
    case originalLengthOutOfRange(captured: Int, original: Int)
    /// A timestamp the format cannot hold: before the epoch for both formats,
    /// and from 2106-02-07T06:28:16Z on for classic pcap (32-bit seconds).
    case timestampOutOfRange(nanoseconds: Int64)
    /// An option value longer than the 65,535 bytes its 16-bit length holds.
    case optionTooLong(code: UInt16, length: Int)
}

extension PcapEncodingError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .bufferTooSmall(let needed, let available):
            return "buffer too small: the block needs \(needed) bytes, \(available) available"
        case .capturedLengthOutOfRange(let length):
            return "captured length \(length) out of range"
        case .originalLengthOutOfRange(let captured, let original):
            return "original length \(original) out of range (captured \(captured), at most 4294967295)"
        case .timestampOutOfRange(let ns):
            return "timestamp \(ns) ns out of the format's range"
        case .optionTooLong(let code, let length):
            return "option \(code) is \(length) bytes long, at most 65535"
        }
    }
}
