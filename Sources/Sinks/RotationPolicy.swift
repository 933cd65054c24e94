/// One file a worker's recording created in this run.
public struct RotationFile: Equatable, Sendable {
    /// Its path, from `FileNaming`.
    public var path: String
    /// Its sequence number within the worker, from 0.
    public var sequence: UInt64
    /// The time its name shows, seconds since the epoch: the start of its
    /// interval when it was opened at the start or by a time rotation with
    /// `-G`, else the second it was opened in.
    public var nameTimeSeconds: Int64
    /// Bytes accounted to it: the blocks reported with `wrote(bytes:)` and
    /// the packets `packet(bytes:now:)` let through.
    public var bytes: Int
    /// Packets `packet(bytes:now:)` let through to it.
    public var packets: Int
}

/// What the caller does after a `RotationPolicy` call, in this order: close
/// `close`, create `open` and write its headers (reporting them with
/// `wrote(bytes:)`), unlink every path in `unlink`, then write the packet if
/// `writePacket`.
public struct RotationAction: Equatable, Sendable {
    /// Why files change, nil when they do not.
    public enum Reason: Equatable, Sendable {
        case start
        case size
        case time
        case forced
    }

    public var reason: Reason?
    /// The file to finish (closing statistics blocks, then close).
    public var close: RotationFile?
    /// The file to create. Open it with O_EXCL: the policy never names a file
    /// twice in a run, and an existing file of that name is not this run's.
    public var open: RotationFile?
    /// Files of this run to unlink, oldest first: never the current file,
    /// never a file this run did not create.
    public var unlink: [RotationFile]
    /// For `packet(bytes:now:)`: write it (true), or count it unwritten
    /// because the free-space floor stopped writing (false).
    public var writePacket: Bool

    public static let none = RotationAction(reason: nil, close: nil, open: nil, unlink: [], writePacket: false)
}

/// What a recording's policy did, named after the path taken.
public struct RotationCounters: Equatable, Sendable {
    /// Rotations because a file reached `maximumFileSize`.
    public var rotatedSize: UInt64 = 0
    /// Rotations at an interval boundary.
    public var rotatedTime: UInt64 = 0
    /// Rotations asked for (`labyrinthctl rotate`).
    public var rotatedForced: UInt64 = 0
    /// Files unlinked to keep the ring at `ringSize`.
    public var unlinkedRing: UInt64 = 0
    /// Files unlinked to get back above the free-space floor.
    public var unlinkedFreeSpace: UInt64 = 0
    /// Times writing stopped at the free-space floor.
    public var diskFullStops: UInt64 = 0
    /// Packets not written while stopped (`unwritten.disk_full`).
    public var unwrittenDiskFull: UInt64 = 0
    /// Their bytes.
    public var unwrittenDiskFullBytes: UInt64 = 0

    public init() {}
}

/// When one worker's recording rotates files, which of its files to unlink,
/// and when it stops writing for want of space.
///
/// A pure state machine: the clock, sizes and free space come in as
/// arguments, names come from `FileNaming`, and nothing is opened, written,
/// unlinked or measured here. Live, `now` is the wall clock
/// (CLOCK_REALTIME); in replay, the packets' own timestamps: the same policy
/// on another clock. Times are nanoseconds since the epoch.
///
/// - By size (`maximumFileSize` = L): a packet goes to a new file when the
///   current file already holds at least L bytes and at least one packet.
///   (Names that `FileNaming` makes for size rotation always carry a
///   sequence number.) So a file holds less than L bytes before its last packet block: at
///   most L − 1 + that block's bytes (or its headers and one packet when the
///   headers alone reach L), plus whatever closing blocks the caller writes
///   after `close`. Every file closed by size holds at least L bytes.
/// - By time (`intervalSeconds` = N): files cover intervals [kN, (k+1)N)
///   seconds since the epoch, as dumpcap's `interval:`, not counted from the
///   first packet. A packet at or past the current interval's end, or a
///   `tick` there, starts the file of the interval holding `now` (intervals
///   with no packet and no tick get no file). `nextDeadline` is when to tick,
///   so that a quiet link still rotates. A clock going back never rotates
///   back: the current interval waits for its end. When the new name would
///   be the current file's (a template field that wraps, `%M` alone with
///   `-G 3600`), the current file goes on into the new interval.
/// - Ring (`ringSize` = W): after each rotation the newest W files of this
///   run are kept (the current one included), older ones are returned to
///   unlink. Without a ring, files are never unlinked and not remembered.
/// - Free-space floor (`minimumFreeBytes` = F), checked when the caller
///   passes statvfs numbers to `freeSpace`: below F, with a ring, the oldest
///   closed files of this run are unlinked until their bytes would lift the
///   free space to F; when the closed files cannot, or without a ring,
///   writing stops: each packet is counted unwritten, no file rotates, until
///   a `freeSpace` call finds F free again.
public struct RotationPolicy: Sendable {
    public let configuration: RotationConfiguration
    public let naming: FileNaming
    public let worker: Int
    /// The file being written, nil before `start`.
    public private(set) var current: RotationFile?
    /// The closed files of this run kept on disk, oldest first (ring only).
    public private(set) var closed: [RotationFile] = []
    /// False while the free-space floor stops writing.
    public private(set) var writing = true
    public private(set) var counters = RotationCounters()
    /// The end of the current interval, nanoseconds; nil without `-G` or
    /// before `start`. Tick then, or soon after, so a quiet link rotates.
    public private(set) var nextDeadline: Int64?
    private var nextSequence: UInt64 = 0

    /// Makes the policy of one worker.
    ///
    /// - Parameters:
    ///   - naming: Names of the files; its `rotation` (validated when it was
    ///     made) is the policy's configuration.
    ///   - worker: This worker, 0..<naming.workers.
    /// - Throws: `FileNamingError.workerOutOfRange` for a bad worker.
    public init(naming: FileNaming, worker: Int) throws(FileNamingError) {
        guard worker >= 0, worker < naming.workers else {
            throw .workerOutOfRange(worker: worker, workers: naming.workers)
        }
        self.configuration = naming.rotation
        self.naming = naming
        self.worker = worker
    }

    /// The files of this run on disk, oldest first: the kept closed ones,
    /// then the current one.
    public var files: [RotationFile] { closed + (current.map { [$0] } ?? []) }

    /// Opens the first file (a no-op once started).
    ///
    /// - Parameter now: The clock, ns.
    /// - Returns: An action opening the first file, or `.none`.
    /// - Throws: `FileNamingError` when the name cannot be made (a time out
    ///   of the calendar); nothing changed then.
    public mutating func start(now: Int64) throws(FileNamingError) -> RotationAction {
        guard current == nil else { return .none }
        return try rotate(.start, now: now)
    }

    /// Decides where a packet block of `bytes` bytes goes, and accounts it.
    ///
    /// - Parameters:
    ///   - bytes: The whole block (header, frame, padding, trailer).
    ///   - now: The packet's time on the policy's clock, ns.
    /// - Returns: Whether to write it (`writePacket`), after the rotation
    ///   the action may carry (the first file too, if not started).
    /// - Throws: `FileNamingError` when a new name cannot be made; nothing
    ///   changed then, and the packet was not accounted.
    /// - Complexity: O(1) without rotation; a name and O(ring) with one.
    public mutating func packet(bytes: Int, now: Int64) throws(FileNamingError) -> RotationAction {
        guard writing else {
            counters.unwrittenDiskFull &+= 1
            counters.unwrittenDiskFullBytes &+= UInt64(clamping: bytes)
            return .none
        }
        var action = RotationAction.none
        if current == nil {
            action = try rotate(.start, now: now)
        } else if let end = nextDeadline, now >= end {
            action = try rotate(.time, now: now)
        } else if let limit = configuration.maximumFileSize, let file = current, file.packets > 0,
            file.bytes >= limit
        {
            action = try rotate(.size, now: now)
        }
        current?.bytes &+= max(0, bytes)
        current?.packets &+= 1
        action.writePacket = true
        return action
    }

    /// Accounts bytes of a block other than a packet (section and interface
    /// headers, statistics) written to the current file.
    public mutating func wrote(bytes: Int) {
        current?.bytes &+= max(0, bytes)
    }

    /// Rotates by time when the current interval has ended; call it at
    /// `nextDeadline`, so that a quiet link still rotates.
    ///
    /// - Returns: The rotation, or `.none` (not due, not started, stopped).
    public mutating func tick(now: Int64) throws(FileNamingError) -> RotationAction {
        guard writing, current != nil, let end = nextDeadline, now >= end else { return .none }
        return try rotate(.time, now: now)
    }

    /// Rotates now, as an operator's `rotate` asks.
    ///
    /// - Returns: The rotation, or `.none` when not started, stopped, or
    ///   when the new name would be the current file's (a template with time
    ///   fields but no `{seq}`, rotated twice within its finest field).
    public mutating func forceRotation(now: Int64) throws(FileNamingError) -> RotationAction {
        guard writing, current != nil else { return .none }
        return try rotate(.forced, now: now)
    }

    /// Applies the free-space floor to statvfs numbers.
    ///
    /// - Parameters:
    ///   - availableBlocks: `f_bavail` (blocks free to unprivileged users).
    ///   - fragmentSize: `f_frsize`, the unit of `f_bavail`.
    /// - Returns: Files to unlink (with a ring); `writing` says whether
    ///   writing goes on, stops or resumes.
    /// - Complexity: O(ring).
    public mutating func freeSpace(availableBlocks: UInt64, fragmentSize: UInt64) -> RotationAction {
        guard let floor = configuration.minimumFreeBytes else { return .none }
        let (product, overflow) = availableBlocks.multipliedReportingOverflow(by: fragmentSize)
        var free = overflow ? Int.max : Int(clamping: product)
        if free >= floor {
            writing = true
            return .none
        }
        var action = RotationAction.none
        if configuration.ringSize != nil {
            while free < floor, !closed.isEmpty {
                let oldest = closed.removeFirst()
                free = free.addingReportingOverflow(oldest.bytes).overflow ? Int.max : free + oldest.bytes
                action.unlink.append(oldest)
                counters.unlinkedFreeSpace &+= 1
            }
        }
        if free < floor {
            if writing { counters.diskFullStops &+= 1 }
            writing = false
        } else {
            writing = true
        }
        return action
    }

    // MARK: The one place files change

    private mutating func rotate(_ reason: RotationAction.Reason, now: Int64) throws(FileNamingError)
        -> RotationAction
    {
        let second = Self.floorDivide(now, 1_000_000_000)
        var nameTime = second
        var deadline = nextDeadline
        if let interval = configuration.intervalSeconds, reason == .start || reason == .time {
            let start = Self.floorDivide(second, interval) * interval
            nameTime = start
            let (end, overflow) = start.multipliedReportingOverflow(by: 1_000_000_000)
            let (next, overflow2) = end.addingReportingOverflow(interval * 1_000_000_000)
            deadline = overflow ? (start < 0 ? Int64.min : Int64.max) : overflow2 ? Int64.max : next
        }
        let path = try naming.path(worker: worker, sequence: nextSequence, timeSeconds: nameTime)
        // A template without {seq} can give the current file's name again: a
        // forced rotation twice within its finest field, or a time field that
        // wraps (%M alone, hourly). The file goes on rather than be reopened.
        if path == current?.path {
            if reason == .time { nextDeadline = deadline }
            return .none
        }

        // Nothing can fail from here on.
        let opened = RotationFile(path: path, sequence: nextSequence, nameTimeSeconds: nameTime, bytes: 0, packets: 0)
        nextSequence &+= 1
        nextDeadline = deadline
        var action = RotationAction.none
        action.reason = reason
        action.close = current
        action.open = opened
        if let old = current, configuration.ringSize != nil {
            closed.append(old)
        }
        current = opened
        if let ring = configuration.ringSize {
            while closed.count + 1 > ring {
                action.unlink.append(closed.removeFirst())
                counters.unlinkedRing &+= 1
            }
        }
        switch reason {
        case .start: break
        case .size: counters.rotatedSize &+= 1
        case .time: counters.rotatedTime &+= 1
        case .forced: counters.rotatedForced &+= 1
        }
        return action
    }

    /// ⌊a / b⌋ for b > 0, also for negative a.
    private static func floorDivide(_ a: Int64, _ b: Int64) -> Int64 {
        let (q, r) = a.quotientAndRemainder(dividingBy: b)
        return r < 0 ? q - 1 : q
    }
}
