/// When a worker's recording moves to a new file, how many files it keeps,
/// and the free space it leaves on the disk.
///
/// Each limit is off when nil. Check a configuration with `validate()`;
/// `RotationPolicy` and `FileNaming` do so when they are made.
public struct RotationConfiguration: Equatable, Sendable {
    /// `-C`: a file is rotated once it holds at least this many bytes (see
    /// `RotationPolicy` for the exact bound).
    public var maximumFileSize: Int?
    /// `-G`: a file covers one interval of this many seconds, the intervals
    /// aligned to multiples of it since the epoch. 1...`maximumIntervalSeconds`.
    public var intervalSeconds: Int64?
    /// `-W`: keep the newest this many files of this run, unlinking older
    /// ones; needs `maximumFileSize` or `intervalSeconds`.
    public var ringSize: Int?
    /// `min_free`: stop writing (or, with a ring, unlink the oldest files)
    /// while the file system has fewer free bytes than this.
    public var minimumFreeBytes: Int?

    /// The longest `-G` interval: 3650 days.
    public static let maximumIntervalSeconds: Int64 = 3650 * 86400

    public init(
        maximumFileSize: Int? = nil, intervalSeconds: Int64? = nil, ringSize: Int? = nil,
        minimumFreeBytes: Int? = nil
    ) {
        self.maximumFileSize = maximumFileSize
        self.intervalSeconds = intervalSeconds
        self.ringSize = ringSize
        self.minimumFreeBytes = minimumFreeBytes
    }

    /// True when files are rotated, by size or by time.
    public var rotates: Bool { maximumFileSize != nil || intervalSeconds != nil }

    /// Checks each limit's range and that a ring comes with a rotation.
    ///
    /// - Throws: The first `RotationConfigurationError` found.
    public func validate() throws(RotationConfigurationError) {
        if let size = maximumFileSize, size < 1 { throw .fileSizeOutOfRange(size) }
        if let interval = intervalSeconds, interval < 1 || interval > Self.maximumIntervalSeconds {
            throw .intervalOutOfRange(interval)
        }
        if let ring = ringSize {
            guard ring >= 1 else { throw .ringSizeOutOfRange(ring) }
            guard rotates else { throw .ringWithoutRotation }
        }
        if let floor = minimumFreeBytes, floor < 0 { throw .minimumFreeOutOfRange(floor) }
    }
}

/// A rotation setting out of range; `description` is the operator's message.
public enum RotationConfigurationError: Error, Equatable, Sendable, CustomStringConvertible {
    case fileSizeOutOfRange(Int)
    case intervalOutOfRange(Int64)
    case ringSizeOutOfRange(Int)
    case ringWithoutRotation
    case minimumFreeOutOfRange(Int)

    public var description: String {
        switch self {
        case .fileSizeOutOfRange(let n):
            return "rotate size \(n): must be at least one byte"
        case .intervalOutOfRange(let n):
            return "rotate interval \(n) s: must be 1 to \(RotationConfiguration.maximumIntervalSeconds) seconds"
        case .ringSizeOutOfRange(let n):
            return "ring of \(n) files: must be at least 1"
        case .ringWithoutRotation:
            return "a ring of files (-W) needs a rotation by size (-C) or by time (-G)"
        case .minimumFreeOutOfRange(let n):
            return "min_free \(n): cannot be negative"
        }
    }
}
