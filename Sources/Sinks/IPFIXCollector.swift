/// Where IPFIX goes: a collector's address, parsed from `HOST:PORT`,
/// `[IPv6]:PORT` or `HOST` (port 4739).
public struct IPFIXCollector: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: UInt16

    public static let defaultPort: UInt16 = 4739

    /// Parses `HOST:PORT`, `[IPv6]:PORT`, `HOST` or `[IPv6]`; nil (with the
    /// reason in `error`) when it cannot.
    public static func parse(_ text: String) -> Result<IPFIXCollector, ParseError> {
        var host = text
        var port = defaultPort
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return .failure(ParseError("\(text): unclosed [")) }
            host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            if !rest.isEmpty {
                guard rest.hasPrefix(":"), let p = UInt16(rest.dropFirst()), p > 0 else {
                    return .failure(ParseError("\(text): the port must be 1...65535"))
                }
                port = p
            }
        } else if let colon = text.lastIndex(of: ":") {
            if text[..<colon].contains(":") {
                return .failure(ParseError("\(text): write an IPv6 address in brackets, [ADDRESS]:PORT"))
            }
            host = String(text[..<colon])
            guard let p = UInt16(text[text.index(after: colon)...]), p > 0 else {
                return .failure(ParseError("\(text): the port must be 1...65535"))
            }
            port = p
        }
        guard !host.isEmpty else { return .failure(ParseError("\(text): no host")) }
        return .success(IPFIXCollector(host: host, port: port))
    }

    public struct ParseError: Error, Sendable, CustomStringConvertible {
        public var description: String
        init(_ d: String) { description = d }
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// How flows are exported.
public struct FlowExportOptions: Sendable, Equatable {
    public var collectors: [IPFIXCollector]
    public var ipfix: IPFIXExportConfiguration
    /// Records a second at most (nil: no limit), so that a collector on the
    /// same box keeps up; beyond it records wait in the rings (and a full
    /// ring drops, counted).
    public var recordsPerSecond: Int?
    /// Ended flows each worker's ring holds.
    public var ringCapacity: Int

    public init(
        collectors: [IPFIXCollector], ipfix: IPFIXExportConfiguration = IPFIXExportConfiguration(),
        recordsPerSecond: Int? = nil, ringCapacity: Int = 16_384
    ) {
        self.collectors = collectors
        self.ipfix = ipfix
        self.recordsPerSecond = recordsPerSecond
        self.ringCapacity = ringCapacity
    }
}
