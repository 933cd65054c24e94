#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Turns a recording path template into the path of each file a worker
/// writes.
///
/// A template is a path with fields:
/// - strftime conversions, expanded as strftime(3) does in the C locale on
///   the file's name time, in local time (as tcpdump `-G` does) or UTC:
///   `%Y %y %C %G %g %m %b %B %h %U %W %V %d %j %a %A %u %w %F %H %I %p %P
///   %M %R %S %T %s %z %Z`, and `%%` for a `%`. Others are refused: those
///   that give a `/` (`%D`, `%x`, `%c`), a blank or control character (`%n`,
///   `%t`, and `%e %k %l`, padded with a blank: use `%d %H %I`), or that
///   depend on the locale (`%c %x %X %r %E… %O…`), and glibc's flags and
///   widths (`%-d`, `%_H`, `%4Y`).
/// - `{worker}`: the worker's number, decimal (0, 1, …).
/// - `{seq}`: the file's sequence number within its worker, decimal from 0,
///   one more at each rotation; two files of one worker never share one.
///
/// What is added when the template lacks a field, before the extension (the
/// last `.` of the last path component that is not its first character,
/// when no field follows that dot; otherwise at the end):
/// - `.w<worker>` when there is more than one worker and no `{worker}`:
///   `cap.pcapng` → `cap.w1.pcapng`.
/// - `.<seq>` when files rotate, there is no `{seq}`, and either the
///   template has no time field (`%z %Z` do not count), or files rotate by
///   size (two size rotations can fall within one second; tcpdump appends its
///   count with `-C` too): `cap.pcapng` → `cap.0.pcapng`, `cap.1.pcapng`, …;
///   `cap` → `cap.0`. With both: `cap.w1.0.pcapng`.
/// - Rotation by time alone, with time fields and no `{seq}`, uses the
///   template as it is, and refuses one whose finest time field is coarser
///   than the interval (`%Y%m%d` with `-G 3600` would name 24 files alike).
///   A field that wraps (`%M` without `%H`) is the operator's choice, as in
///   tcpdump.
///
/// `-` alone means standard output: allowed with one worker and no rotation.
public struct FileNaming: Equatable, Sendable {
    /// Which clock face strftime fields show.
    public enum TimeZone: Equatable, Sendable {
        /// The process's local time (TZ, /etc/localtime), like tcpdump.
        case local
        /// UTC.
        case utc
    }

    private enum Piece: Equatable, Sendable {
        case literal([UInt8])
        case time(UInt8)
        case worker
        case sequence
    }

    /// The template as given.
    public let template: String
    /// The number of workers, each writing its own files.
    public let workers: Int
    /// The rotation the names are made for; `RotationPolicy` follows it.
    public let rotation: RotationConfiguration
    /// The clock face of the time fields.
    public let timeZone: TimeZone
    /// True for `-`: standard output.
    public let isStandardOutput: Bool
    /// True when `.w<worker>` is added.
    public let addsWorker: Bool
    /// True when `.<seq>` is added.
    public let addsSequence: Bool
    private let pieces: [Piece]

    /// Checks a template against the workers and the rotation, and prepares it.
    ///
    /// - Parameters:
    ///   - template: The path template, or `-` for standard output.
    ///   - workers: How many workers record (at least 1).
    ///   - rotation: The rotation settings (validated here too).
    ///   - timeZone: The clock face of strftime fields; `.local` by default.
    /// - Throws: `FileNamingError` with the reason; a trial expansion at the
    ///   epoch catches templates that name a directory or nothing.
    public init(
        template: String, workers: Int, rotation: RotationConfiguration, timeZone: TimeZone = .local
    ) throws(FileNamingError) {
        guard workers >= 1 else { throw .workerCountOutOfRange(workers) }
        do {
            try rotation.validate()
        } catch {
            throw .rotation(error)
        }
        self.template = template
        self.workers = workers
        self.rotation = rotation
        self.timeZone = timeZone
        if template == "-" {
            guard workers == 1 else { throw .standardOutputWithWorkers(workers) }
            guard !rotation.rotates else { throw .standardOutputWithRotation }
            isStandardOutput = true
            addsWorker = false
            addsSequence = false
            pieces = []
            return
        }
        isStandardOutput = false
        guard !template.isEmpty else { throw .emptyTemplate }
        let bytes = Array(template.utf8)
        let all = try Self.parse(bytes[...], template: template)

        var hasWorker = false
        var hasSequence = false
        var finest: (field: UInt8, seconds: Int64)?
        for piece in all {
            switch piece {
            case .worker: hasWorker = true
            case .sequence: hasSequence = true
            case .time(let c):
                if let r = Self.resolution(c), r < finest?.seconds ?? .max { finest = (c, r) }
            case .literal: break
            }
        }
        addsWorker = workers > 1 && !hasWorker
        addsSequence = rotation.rotates && !hasSequence && (finest == nil || rotation.maximumFileSize != nil)
        if rotation.rotates, !hasSequence, !addsSequence, let finest, let interval = rotation.intervalSeconds,
            finest.seconds > interval
        {
            throw .timeFieldsTooCoarse(field: "%" + String(UnicodeScalar(finest.field)), intervalSeconds: interval)
        }

        if addsWorker || addsSequence {
            let split = Self.extensionStart(bytes)
            var joined = try Self.parse(bytes[..<split], template: template)
            if addsWorker { joined += [.literal(Array(".w".utf8)), .worker] }
            if addsSequence { joined += [.literal([UInt8(ascii: ".")]), .sequence] }
            joined += try Self.parse(bytes[split...], template: template)
            pieces = joined
        } else {
            pieces = all
        }
        if timeZone == .local { tzset() }
        _ = try path(worker: 0, sequence: 0, timeSeconds: 0)
    }

    /// The path of one file.
    ///
    /// - Parameters:
    ///   - worker: The worker, 0..<`workers`.
    ///   - sequence: The file's sequence number within the worker.
    ///   - timeSeconds: The file's name time, seconds since the epoch
    ///     (`RotationFile.nameTimeSeconds`).
    /// - Returns: The path; `-` for standard output.
    /// - Throws: `workerOutOfRange`, `timeOutOfRange` (beyond what the C
    ///   library's calendar holds), `emptyResult`, `namesADirectory`.
    /// - Complexity: one localtime_r/gmtime_r and one strftime per time
    ///   field; allocates the string. For the control thread, not per frame.
    public func path(worker: Int, sequence: UInt64, timeSeconds: Int64) throws(FileNamingError) -> String {
        guard worker >= 0, worker < workers else { throw .workerOutOfRange(worker: worker, workers: workers) }
        if isStandardOutput { return "-" }
        var t = time_t(truncatingIfNeeded: timeSeconds)
        var parts = tm()
        if pieces.contains(where: { if case .time = $0 { true } else { false } }) {
            guard Int64(t) == timeSeconds else { throw .timeOutOfRange(timeSeconds) }
            let converted = timeZone == .utc ? gmtime_r(&t, &parts) : localtime_r(&t, &parts)
            guard converted != nil else { throw .timeOutOfRange(timeSeconds) }
        }
        var out: [UInt8] = []
        var field: [CChar] = [37, 0, 0]  // "%?"
        var expanded = [CChar](repeating: 0, count: 256)
        for piece in pieces {
            switch piece {
            case .literal(let bytes):
                out += bytes
            case .worker:
                out += Array(String(worker).utf8)
            case .sequence:
                out += Array(String(sequence).utf8)
            case .time(let c):
                field[1] = CChar(bitPattern: c)
                let n = strftime(&expanded, expanded.count, field, &parts)
                out += expanded.prefix(n).map { UInt8(bitPattern: $0) }
            }
        }
        let result = String(decoding: out, as: UTF8.self)
        guard !out.isEmpty else { throw .emptyResult(template) }
        let last = out.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false).last ?? []
        guard !last.isEmpty, last != [0x2E], last != [0x2E, 0x2E] else { throw .namesADirectory(result) }
        return result
    }

    // MARK: Parsing

    private static func parse(_ bytes: ArraySlice<UInt8>, template: String) throws(FileNamingError) -> [Piece] {
        var pieces: [Piece] = []
        var literal: [UInt8] = []
        func flush() {
            if !literal.isEmpty { pieces.append(.literal(literal)) }
            literal = []
        }
        var i = bytes.startIndex
        while i < bytes.endIndex {
            let b = bytes[i]
            if b == 0 { throw .containsNul(template) }
            if b == UInt8(ascii: "%") {
                guard i + 1 < bytes.endIndex else { throw .trailingPercent(template) }
                let c = bytes[i + 1]
                if c == UInt8(ascii: "%") {
                    literal.append(c)
                } else if resolution(c) != nil || c == UInt8(ascii: "z") || c == UInt8(ascii: "Z") {
                    flush()
                    pieces.append(.time(c))
                } else {
                    // Show the whole character when it is not ASCII.
                    var end = i + 2
                    while end < bytes.endIndex, bytes[end] & 0xC0 == 0x80 { end += 1 }
                    throw .unsupportedConversion(String(decoding: bytes[i..<end], as: UTF8.self), template)
                }
                i += 2
            } else if b == UInt8(ascii: "{") {
                guard let close = bytes[i...].firstIndex(of: UInt8(ascii: "}")) else {
                    throw .unclosedBrace(template)
                }
                let name = String(decoding: bytes[(i + 1)..<close], as: UTF8.self)
                flush()
                switch name {
                case "worker": pieces.append(.worker)
                case "seq": pieces.append(.sequence)
                default: throw .unknownField("{" + name + "}", template)
                }
                i = close + 1
            } else {
                literal.append(b)
                i += 1
            }
        }
        flush()
        return pieces
    }

    /// Where the extension starts in the template: the last `.` of the last
    /// component, not its first byte, followed by no field; else the end.
    private static func extensionStart(_ bytes: [UInt8]) -> Int {
        let componentStart = (bytes.lastIndex(of: UInt8(ascii: "/")) ?? -1) + 1
        guard let dot = bytes.lastIndex(of: UInt8(ascii: ".")), dot > componentStart else { return bytes.count }
        let tail = bytes[(dot + 1)...]
        if tail.contains(UInt8(ascii: "%")) || tail.contains(UInt8(ascii: "{")) || tail.contains(UInt8(ascii: "}")) {
            return bytes.count
        }
        // A dot right after an unescaped '%' is part of a field, refused by parse.
        return dot
    }

    /// The shortest time one value of a strftime field lasts, in seconds;
    /// nil for fields not accepted, and for %z %Z (which name no time).
    private static func resolution(_ c: UInt8) -> Int64? {
        switch UnicodeScalar(c) {
        case "S", "s", "T": return 1
        case "M", "R": return 60
        case "H", "I": return 3600
        case "p", "P": return 43200
        case "d", "j", "a", "A", "u", "w", "F": return 86400
        case "U", "W", "V": return 7 * 86400
        case "m", "b", "B", "h": return 28 * 86400
        case "Y", "y", "C", "G", "g": return 365 * 86400
        default: return nil
        }
    }
}

/// Why a template or a file name was refused; `description` is the
/// operator's message.
public enum FileNamingError: Error, Equatable, Sendable, CustomStringConvertible {
    case emptyTemplate
    case trailingPercent(String)
    case unsupportedConversion(String, String)
    case unknownField(String, String)
    case unclosedBrace(String)
    case containsNul(String)
    case standardOutputWithWorkers(Int)
    case standardOutputWithRotation
    case timeFieldsTooCoarse(field: String, intervalSeconds: Int64)
    case workerCountOutOfRange(Int)
    case rotation(RotationConfigurationError)
    case workerOutOfRange(worker: Int, workers: Int)
    case timeOutOfRange(Int64)
    case emptyResult(String)
    case namesADirectory(String)

    public var description: String {
        switch self {
        case .emptyTemplate:
            return "empty file name"
        case .trailingPercent(let t):
            return "'\(t)' ends with a lone '%': write %% for a percent sign"
        case .unsupportedConversion(let c, let t):
            return "'\(t)': \(c) is not supported in file names "
                + "(use %Y %m %d %H %M %S and the like; no field that gives '/', blanks or locale text)"
        case .unknownField(let f, let t):
            return "'\(t)': unknown field \(f); the fields are {worker} and {seq}"
        case .unclosedBrace(let t):
            return "'\(t)': '{' without '}'; the fields are {worker} and {seq}"
        case .containsNul(let t):
            return "'\(t.replacingNUL)': a file name cannot contain a NUL byte"
        case .standardOutputWithWorkers(let n):
            return "'-' (standard output) takes one worker, not \(n): use a file name with {worker}"
        case .standardOutputWithRotation:
            return "'-' (standard output) cannot be rotated: use a file name"
        case .timeFieldsTooCoarse(let f, let interval):
            return "\(f) is the finest time field, too coarse for a \(interval) s rotation: "
                + "files would share names; add a finer field or {seq}"
        case .workerCountOutOfRange(let n):
            return "\(n) workers: at least one is needed"
        case .rotation(let e):
            return e.description
        case .workerOutOfRange(let w, let n):
            return "worker \(w) out of 0..<\(n)"
        case .timeOutOfRange(let s):
            return "time \(s) s is out of the calendar's range"
        case .emptyResult(let t):
            return "'\(t)' gives an empty file name"
        case .namesADirectory(let p):
            return "'\(p)' names a directory, not a file"
        }
    }
}

extension String {
    fileprivate var replacingNUL: String {
        String(decoding: utf8.map { $0 == 0 ? UInt8(ascii: "?") : $0 }, as: UTF8.self)
    }
}
