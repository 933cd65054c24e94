import Logging
import StatsProtocol
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Log lines on stderr in the form journald reads: a `<N>` syslog priority
/// prefix, then the message and its metadata as `key=value`. Without
/// journald the prefix still reads as a level.
public struct JournalLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level {
        get {
            let index = JournalLogHandler.level.load(ordering: .relaxed)
            return index == 0 ? .info : Logger.Level.allCases[index - 1]
        }
        set { JournalLogHandler.setLevel(newValue) }
    }
    let label: String

    /// The level of every handler, changeable at run time (SIGHUP reload).
    static let level = Atomic<Int>(0)

    public static func setLevel(_ level: Logger.Level) {
        Self.level.store(Logger.Level.allCases.firstIndex(of: level)! + 1, ordering: .relaxed)
    }

    public init(label: String) {
        self.label = label
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let current = JournalLogHandler.level.load(ordering: .relaxed)
        let threshold = current == 0 ? Logger.Level.allCases.firstIndex(of: .info)! : current - 1
        guard Logger.Level.allCases.firstIndex(of: event.level)! >= threshold else { return }
        var line = Self.line(
            level: event.level, message: "\(event.message)",
            metadata: metadata.merging(event.metadata ?? [:]) { $1 }.mapValues { "\($0)" })
        line.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
    }

    /// One journal line: `<N>` (the syslog priority), the message, then
    /// the metadata as sorted `key=value`, and a newline. Whatever the
    /// message carries (a client's job name, a path, a filter) stays on
    /// this one line: control characters are escaped, so nobody writes a
    /// second journal entry, its priority, or a terminal's escape sequence.
    public static func line(level: Logger.Level, message: String, metadata: [String: String]) -> String {
        let priority: Int
        switch level {
        case .trace, .debug: priority = 7
        case .info: priority = 6
        case .notice: priority = 5
        case .warning: priority = 4
        case .error: priority = 3
        case .critical: priority = 2
        }
        var line = "<\(priority)>\(ClientText.escaped(message))"
        for (k, v) in metadata.sorted(by: { $0.key < $1.key }) {
            line += " \(ClientText.escaped(k))=\(ClientText.escaped(v))"
        }
        return line + "\n"
    }
}

extension LogLevel {
    /// The swift-log level.
    public var loggerLevel: Logger.Level {
        switch self {
        case .debug: return .debug
        case .info: return .info
        case .notice: return .notice
        case .warning: return .warning
        case .error: return .error
        }
    }
}
