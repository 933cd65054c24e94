import Synchronization

/// Why a worker moved to a new file.
public enum RotationReason: UInt8, Sendable, BitwiseCopyable {
    case start = 0
    case size = 1
    case time = 2
    case forced = 3
}

/// What a worker tells the recorder's control thread: plain values through
/// an SPSC ring, so the worker never allocates or waits.
@frozen
public struct RecordingEvent: BitwiseCopyable, Sendable {
    public enum Kind: UInt8, Sendable, BitwiseCopyable {
        /// The worker took the prepared file `fd` at `time` for `reason`:
        /// name it, and prepare the next.
        case activated = 1
        /// The worker is done with `fd`: `offset` bytes long, `packets`
        /// frames in it, `interfaces` described in it (in id order).
        case retired = 2
        /// Cut `fd` back to `offset` bytes (a short write), then bump
        /// `truncationsDone` to `generation`.
        case truncate = 3
        /// A write to `fd` failed with `errno`.
        case writeError = 4
    }

    public var kind: Kind
    public var reason: RotationReason = .start
    public var fd: Int32 = -1
    public var errno: Int32 = 0
    public var offset: Int64 = 0
    public var time: Int64 = 0
    public var packets: Int64 = 0
    public var generation: Int64 = 0
    /// Interface keys in the file, in id order (up to 16), and how many.
    public var interfaces: InterfaceKeys = InterfaceKeys()

    @inlinable
    public init(kind: Kind) { self.kind = kind }
}

/// Up to 16 small interface keys, in order, as plain bytes.
@frozen
public struct InterfaceKeys: BitwiseCopyable, Sendable {
    @usableFromInline var low: UInt64 = 0
    @usableFromInline var high: UInt64 = 0
    public var count: UInt8 = 0
    public static let capacity = 16

    @inlinable public init() {}

    @inlinable
    public subscript(i: Int) -> Int {
        let word = i < 8 ? low : high
        return Int(truncatingIfNeeded: (word &>> UInt64((i & 7) &* 8)) & 0xFF)
    }

    @inlinable
    public mutating func append(_ key: Int) {
        let i = Int(count)
        let shift = UInt64((i & 7) &* 8)
        if i < 8 {
            low |= UInt64(truncatingIfNeeded: key & 0xFF) &<< shift
        } else {
            high |= UInt64(truncatingIfNeeded: key & 0xFF) &<< shift
        }
        count &+= 1
    }

    /// Keeps the first `n`.
    @inlinable
    public mutating func truncate(to n: Int) {
        var kept = InterfaceKeys()
        for i in 0..<Swift.min(n, Int(count)) { kept.append(self[i]) }
        self = kept
    }
}

/// A file the control thread opened ahead of need: its descriptor, and the
/// bytes already in it (the Section Header, or a pcap file header).
@frozen
public struct PreparedFile: BitwiseCopyable, Sendable {
    public var fd: Int32
    public var length: Int
}

/// The control thread's doorbell, rung by every worker that posts an event.
final class RecorderBell: Sendable {
    let bell = Doorbell()
}

/// What a worker and the recorder's control thread share: the next files,
/// prepared ahead; whether writing is allowed (the free-space floor); the
/// truncations done; forced rotations asked; and the worker's events.
public final class RecordingSlot: @unchecked Sendable {
    public let worker: Int
    /// Files opened ahead, oldest first (the control thread keeps a few
    /// ready, so that rotations in a fast replay never wait for one).
    let prepared = SPSCRing<PreparedFile>(capacity: 8)
    /// False while the free-space floor stops writing (no ring to unlink from).
    let writing = Atomic<Bool>(true)
    /// Truncations done, by generation.
    let truncationsDone = Atomic<Int64>(0)
    /// Forced rotations asked (`rotate`).
    let rotations = Atomic<Int>(0)
    let events = SPSCRing<RecordingEvent>(capacity: 256)
    let bell: RecorderBell

    init(worker: Int, bell: RecorderBell) {
        self.worker = worker
        self.bell = bell
    }

    /// The slot of a writer that does not record.
    static let none = RecordingSlot(worker: -1, bell: RecorderBell())

    /// Control side: hands over a prepared file.
    func offer(_ file: PreparedFile) -> Bool { prepared.push(file) }

    /// Worker side: whether a prepared file is there.
    var hasOffer: Bool { prepared.count > 0 }

    /// Worker side: takes the next prepared file, if there is one.
    @usableFromInline
    func takeNext() -> PreparedFile? { prepared.pop() }

    /// Worker side: posts an event and wakes the control thread.
    func post(_ e: RecordingEvent) -> Bool {
        guard events.push(e) else { return false }
        bell.bell.ring()
        return true
    }

    /// Asks the worker to move to a new file at its next frame or tick.
    public func requestRotation() {
        rotations.wrappingAdd(1, ordering: .relaxed)
    }
}
