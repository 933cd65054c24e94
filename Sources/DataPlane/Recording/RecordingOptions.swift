import Capture
import Sinks
import Syscalls

#if canImport(Glibc)
import Glibc
#endif

/// The file format of a recording.
public enum RecordFormat: String, Sendable, CaseIterable {
    /// pcapng: a Section Header, one Interface Description per source (or
    /// per link type in a replay), Enhanced Packet Blocks, and Interface
    /// Statistics at every file's end.
    case pcapng
    /// Classic pcap with nanosecond timestamps: one link type per file.
    case pcap
}

/// One interface a recording describes (a live source).
public struct RecordedInterface: Sendable, Equatable {
    public var name: String
    /// LINKTYPE_ value.
    public var linkType: UInt32
    public var snapLength: Int
    public var filter: String?

    public init(name: String, linkType: UInt32, snapLength: Int, filter: String? = nil) {
        self.name = name
        self.linkType = linkType
        self.snapLength = snapLength
        self.filter = filter
    }
}

/// What and how a run records: every worker writes its own files.
public struct RecordingOptions: Sendable {
    /// The path template, the workers and the rotation (`-C`, `-G`, `-W`,
    /// `min_free`).
    public var naming: FileNaming
    public var format: RecordFormat = .pcapng
    /// `-s`: frames are written cut to this many bytes (nil: whole).
    public var snapLength: Int? = nil
    /// Data reaches the file within about this long, even at low rates.
    public var flushMilliseconds = 1000
    /// Pages each worker may hold in flight to the disk; beyond it frames
    /// are not written (`unwritten_overload`). nil: a quarter of its room.
    public var pagesInFlight: Int? = nil
    /// Live: the sources, in the order of the workers' source indices.
    /// Empty: a replay, with one interface per link type met.
    public var interfaces: [RecordedInterface] = []
    /// Ask for RWF_DONTCACHE (dropped per file where refused).
    public var dontCache = true
    /// Each finished file gets its index (`.NAME.idx` beside it), which
    /// `labyrinthd extract` uses to skip what a question rules out.
    public var index = true
    /// Mode and group of every file.
    public var fileMode: mode_t = 0o640
    public var group: gid_t? = nil
    /// A file of the same name is replaced, as tcpdump's `-w` does (the
    /// command line); false: the new file gets `-1`, `-2`… before its
    /// extension (the daemon, whose restarts and `rotate` must not lose
    /// a recording).
    public var replaceExisting = false
    /// The wall clock rotates files by time (live), or the packets' own (replay).
    public var wallClockRotation = false
    /// `shb_userappl`'s version.
    public var version = "0.3.0"
    /// The sink's own BPF filter (`[[sink]] filter`): frames it does not
    /// match are not written (`unwritten.filtered`), and are processed and
    /// counted as ever.
    public var filter: FilterPrograms? = nil

    public init(naming: FileNaming) {
        self.naming = naming
    }

    /// The link types a replay may name, each with its small key (the
    /// interface header a worker writes for it).
    static let replayLinkTypes: [UInt32] = [0, 1, 12, 14, 101, 108, 113, 228, 229, 276]

    /// The key of a replayed frame's link type (the index above), or -1.
    @usableFromInline @inline(__always)
    static func replayKey(_ linkType: UInt32) -> Int {
        switch linkType {
        case 0: return 0
        case 1: return 1
        case 12: return 2
        case 14: return 3
        case 101: return 4
        case 108: return 5
        case 113: return 6
        case 228: return 7
        case 229: return 8
        case 276: return 9
        default: return -1
        }
    }

    /// The snap length written in headers: the sink's, else the source's,
    /// else 262144 (what readers accept for every link type).
    func declaredSnapLength(source: Int?) -> Int {
        let base = source.map { $0 > 0 ? $0 : 262_144 } ?? 262_144
        return Swift.min(base, snapLength ?? .max)
    }
}

/// A recording that cannot start; the path and the reason.
public struct RecordingError: ErrnoCarrying, Sendable, CustomStringConvertible {
    /// What failed, naming the file.
    public var context: String
    public var errno: Errno?

    public init(_ context: String, errno: Errno? = nil) {
        self.context = context
        self.errno = errno
    }

    public var description: String { errno.map { "\(context): \($0)" } ?? context }
}
