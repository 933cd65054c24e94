// The stats socket's requests: one JSON object per line, `{"command": NAME,
// ...fields}`. Each command has a request type that lists its fields and
// their ranges in one table (``RequestField``), and names its reply type.
// A request is checked against that table before it is decoded: an
// unknown field, a field of the wrong type or out of range is refused with
// an error that names the field and its range; an absent field takes its
// default. No number from a client reaches arithmetic unchecked.

/// Who may send a command.
public enum Access: String, Codable, Sendable {
    /// Root, the daemon's user, the socket group: read counters.
    case read
    /// Root, the daemon's user or the admin group: act, or see payloads.
    case act
}

/// The commands of the stats socket.
public enum Command: String, Codable, CaseIterable, Sendable {
    case version, help, stats, workers, rooms, flows, config, uptime, replay, cancel, prometheus, flush, rotate, dump,
        extract

    /// What it does, for `help`.
    public var summary: String {
        switch self {
        case .version: return "the daemon's version"
        case .help: return "this list, with each command's fields and their ranges"
        case .stats: return "totals over all workers: packets, decoded protocols, malformations, drops, flows, rooms"
        case .workers: return "per worker: CPU, heartbeat, state and counters"
        case .rooms: return "per room: the page allocator's counters and watermarks"
        case .flows: return "the top flows over all workers"
        case .config: return "the running configuration"
        case .uptime: return "seconds since start"
        case .replay:
            return
                "\"file\": PATH queues a capture through the workers; \"job\": N shows one job; neither lists them"
        case .cancel:
            return
                "\"job\": N cancels a replay job: a queued one never runs, a running one stops at its next batch"
        case .prometheus: return "the counters in Prometheus text exposition format"
        case .flush: return "ends every flow now (IPFIX forced end), exporting each when flows are exported"
        case .rotate: return "every worker of the [[sink]] recording closes its file and starts the next one"
        case .dump:
            return
                "a live tap: after the {\"ok\":true,…} line the connection carries pcapng until the tap ends (count, duration, a line from the client, or the client leaving)"
        case .extract:
            return
                "the frames of a window, a flow and a filter from the [[sink]] recordings: after the {\"ok\":true,…} line the connection carries pcapng (or pcap) until the answer ends"
        }
    }

    /// Who may send it.
    public var access: Access {
        switch self {
        case .replay, .cancel, .flush, .rotate, .dump, .extract: return .act
        default: return .read
        }
    }

    /// The fields it takes.
    public var fields: [RequestField] {
        switch self {
        case .flows: return FlowsRequest.fields
        case .replay: return ReplayRequest.fields
        case .cancel: return CancelRequest.fields
        case .dump: return DumpRequest.fields
        case .extract: return ExtractRecordingRequest.fields
        default: return []
        }
    }
}

extension Command {
    /// The command a request names, and its request decoded through that
    /// command's field table: the one way into the typed schema.
    public static func request(from json: JSON) throws(RequestError) -> (Command, any StatsRequest) {
        guard case .object = json else { throw RequestError("the request must be a JSON object with a \"command\"") }
        guard let name = json["command"]?.stringValue else {
            throw RequestError("missing \"command\" (a string); try {\"command\":\"help\"}")
        }
        guard let command = Command(rawValue: name) else {
            let known = Command.allCases.map(\.rawValue).joined(separator: ", ")
            throw RequestError("unknown command \(RequestField.shown(.string(name))); known: \(known)")
        }
        return (command, try command.decode(json))
    }

    /// `json` decoded as this command's request.
    public func decode(_ json: JSON) throws(RequestError) -> any StatsRequest {
        switch self {
        case .version: return try VersionRequest.decode(json)
        case .help: return try HelpRequest.decode(json)
        case .stats: return try StatsCommandRequest.decode(json)
        case .workers: return try WorkersRequest.decode(json)
        case .rooms: return try RoomsRequest.decode(json)
        case .flows: return try FlowsRequest.decode(json)
        case .config: return try ConfigRequest.decode(json)
        case .uptime: return try UptimeRequest.decode(json)
        case .replay: return try ReplayRequest.decode(json)
        case .cancel: return try CancelRequest.decode(json)
        case .prometheus: return try PrometheusRequest.decode(json)
        case .flush: return try FlushRequest.decode(json)
        case .rotate: return try RotateRequest.decode(json)
        case .dump: return try DumpRequest.decode(json)
        case .extract: return try ExtractRecordingRequest.decode(json)
        }
    }
}

/// One field of a request: its name, its type and the values it may take.
public struct RequestField: Sendable, CustomStringConvertible {
    public enum Kind: Sendable {
        /// An integer within the range.
        case integer(ClosedRange<Int>)
        /// A finite number within the range.
        case number(ClosedRange<Double>)
        /// One of these strings.
        case choice([String])
        /// An absolute path of at most 4095 bytes, without NUL.
        case absolutePath
        /// A string of at most this many bytes, without NUL.
        case string(maximumBytes: Int)
        case boolean
    }

    public var name: String
    public var kind: Kind
    /// What it means, and its default when absent.
    public var summary: String

    public init(_ name: String, _ kind: Kind, _ summary: String) {
        self.name = name
        self.kind = kind
        self.summary = summary
    }

    /// The type and range, as in error messages.
    public var expectation: String {
        switch kind {
        case .integer(let r): return "an integer in \(r.lowerBound)...\(r.upperBound)"
        case .number(let r): return "a number in \(Self.text(r.lowerBound))...\(Self.text(r.upperBound))"
        case .choice(let values): return values.map { "\"\($0)\"" }.joined(separator: " or ")
        case .absolutePath: return "an absolute path"
        case .string(let n): return "a string of at most \(n) bytes"
        case .boolean: return "true or false"
        }
    }

    public var description: String { "\"\(name)\": \(expectation); \(summary)" }

    static func text(_ x: Double) -> String {
        x == x.rounded() && abs(x) < 1e15 ? String(Int(x)) : "\(x)"
    }

    /// Checks `value` against the field: nil when it fits, else the reason.
    func check(_ value: JSON) -> String? {
        let fits: Bool
        switch kind {
        case .integer(let range):
            switch value {
            case .int(let i): fits = range.contains(i)
            case .double(let d): fits = d.isFinite && d == d.rounded() && Int(exactly: d).map(range.contains) == true
            default: fits = false
            }
        case .number(let range):
            switch value {
            case .int(let i): fits = range.contains(Double(i))
            case .double(let d): fits = d.isFinite && range.contains(d)
            default: fits = false
            }
        case .choice(let values):
            if case .string(let s) = value { fits = values.contains(s) } else { fits = false }
        case .absolutePath:
            if case .string(let s) = value {
                fits = s.hasPrefix("/") && s.utf8.count < 4096 && !s.utf8.contains(0)
            } else {
                fits = false
            }
        case .string(let n):
            if case .string(let s) = value { fits = s.utf8.count <= n && !s.utf8.contains(0) } else { fits = false }
        case .boolean:
            if case .bool = value { fits = true } else { fits = false }
        }
        if fits { return nil }
        return "\"\(name)\" must be \(expectation), not \(Self.shown(value))"
    }

    /// A client's value, shortened, for an error message.
    public static func shown(_ value: JSON) -> String {
        let text = value.text
        return text.count > 40 ? String(text.prefix(40)) + "…" : text
    }
}

/// Why a request was refused before it was carried out.
public struct RequestError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// A request of one command: its fields, their table and its reply.
public protocol StatsRequest: Codable, Sendable {
    associatedtype Reply: Codable & Sendable
    static var command: Command { get }
    /// The fields and their ranges; checked before decoding.
    static var fields: [RequestField] { get }
    /// Checks what the table cannot say alone (fields that exclude each
    /// other); the table's checks have passed.
    func validate() throws(RequestError)
}

extension StatsRequest {
    public static var fields: [RequestField] { [] }
    public func validate() throws(RequestError) {}

    /// The request as one JSON object, `command` first.
    public var json: JSON {
        guard case .object(let members) = JSONCoding.encode(self) else { return .object([]) }
        return .object([("command", .string(Self.command.rawValue))] + members)
    }

    /// Checks `request` (a parsed JSON object) against the field table, then
    /// decodes and validates it: the one path a client's values take.
    public static func decode(_ request: JSON) throws(RequestError) -> Self {
        guard case .object(let members) = request else {
            throw RequestError("the request must be a JSON object with a \"command\"")
        }
        let fields = Self.fields
        for (key, value) in members where key != "command" {
            guard let field = fields.first(where: { $0.name == key }) else {
                let known =
                    fields.isEmpty
                    ? "it takes none" : "it takes " + fields.map { "\"\($0.name)\"" }.joined(separator: ", ")
                throw RequestError("unknown field \"\(key)\" for \"\(command.rawValue)\"; \(known)")
            }
            if value == .null { continue }
            if let reason = field.check(value) { throw RequestError(reason) }
        }
        let decoded: Self
        do {
            decoded = try JSONCoding.decode(Self.self, from: request)
        } catch {
            throw RequestError("\(error)")
        }
        try decoded.validate()
        return decoded
    }
}

// MARK: - The requests

public struct VersionRequest: StatsRequest {
    public typealias Reply = VersionInfo
    public static let command = Command.version
    public init() {}
}

public struct HelpRequest: StatsRequest {
    public typealias Reply = [CommandHelp]
    public static let command = Command.help
    public init() {}
}

public struct StatsCommandRequest: StatsRequest {
    public typealias Reply = Stats
    public static let command = Command.stats
    public init() {}
}

public struct WorkersRequest: StatsRequest {
    public typealias Reply = [WorkerReport]
    public static let command = Command.workers
    public init() {}
}

public struct RoomsRequest: StatsRequest {
    public typealias Reply = [RoomReport]
    public static let command = Command.rooms
    public init() {}
}

public struct ConfigRequest: StatsRequest {
    public typealias Reply = ConfigReport
    public static let command = Command.config
    public init() {}
}

public struct UptimeRequest: StatsRequest {
    public typealias Reply = Uptime
    public static let command = Command.uptime
    public init() {}
}

public struct PrometheusRequest: StatsRequest {
    public typealias Reply = String
    public static let command = Command.prometheus
    public init() {}
}

/// `flush`: every worker ends all its flows (flowEndReason forced end).
public struct FlushRequest: StatsRequest {
    public typealias Reply = FlushReply
    public static let command = Command.flush
    public init() {}
}

/// `rotate`: each worker of the daemon's recording (`[[sink]]`) closes its
/// file (statistics blocks, then its final name) and starts the next one
/// at its next frame or timer tick, as a `-C` or `-G` rotation would. The
/// reply comes once every worker has started a new file, or after two
/// seconds with those that have not. An error when nothing is recorded.
public struct RotateRequest: StatsRequest {
    public typealias Reply = RotateReply
    public static let command = Command.rotate
    public init() {}
}

/// `dump`: a live tap. The workers copy the frames that match `filter`
/// (from `interface` alone, when given) into a bounded ring per worker;
/// the daemon streams them to this connection as pcapng (a section header,
/// an interface block per source as its first frame comes, a packet block
/// per frame, statistics blocks at the end). A reader slower than the
/// traffic costs `tap_dropped`, never a worker's time. It ends after
/// `count` frames, after `duration` seconds, when the client sends a line
/// (the frames already taken are still sent, then the statistics), or
/// when the client goes.
public struct DumpRequest: StatsRequest {
    public typealias Reply = DumpReply
    public static let command = Command.dump
    public static let fields: [RequestField] = [
        RequestField(
            "interface", .string(maximumBytes: 64),
            "a configured source's interface, or \"replay\" for replayed frames (default: every source)"),
        RequestField("filter", .string(maximumBytes: 8192), "a tcpdump (BPF) expression (default: every frame)"),
        RequestField("count", .integer(1...Int(Int32.max)), "end after this many frames (default: no limit)"),
        RequestField("duration", .number(0.001...31_536_000), "end after this many seconds (default: no limit)"),
        RequestField("snaplen", .integer(1...262_144), "bytes kept of each frame (default 262144)"),
    ]
    public var interface: String?
    public var filter: String?
    public var count: Int?
    public var duration: Double?
    public var snaplen: Int?

    public init(
        interface: String? = nil, filter: String? = nil, count: Int? = nil, duration: Double? = nil,
        snaplen: Int? = nil
    ) {
        self.interface = interface
        self.filter = filter
        self.count = count
        self.duration = duration
        self.snaplen = snaplen
    }
}

/// `extract`: `labyrinthd extract` over the daemon's own recordings
/// (`[[sink]]`), run as a child process at the idle scheduling class, its
/// reads bounded by `[[sink]] extract_read_rate`: it never takes a
/// worker's CPU. After the reply line the connection carries the answer
/// (pcapng, or pcap), then closes; the daemon logs the report.
public struct ExtractRecordingRequest: StatsRequest {
    public typealias Reply = ExtractReply
    public static let command = Command.extract
    public static let fields: [RequestField] = [
        RequestField(
            "from", .string(maximumBytes: 64),
            "the window's start, inclusive: epoch seconds with a fraction, or RFC 3339 (default: the ring's start)"),
        RequestField("to", .string(maximumBytes: 64), "the window's end, exclusive, as from (default: the ring's end)"),
        RequestField("filter", .string(maximumBytes: 8192), "a tcpdump (BPF) expression (default: every frame)"),
        RequestField(
            "flow", .string(maximumBytes: 256),
            "the frames between two hosts, both ways: \"A B [PROTO]\", with optional ports (default: every frame)"),
        RequestField("format", .choice(["pcapng", "pcap"]), "the output's format (default pcapng)"),
    ]
    public var from: String?
    public var to: String?
    public var filter: String?
    public var flow: String?
    public var format: String?

    public init(
        from: String? = nil, to: String? = nil, filter: String? = nil, flow: String? = nil, format: String? = nil
    ) {
        self.from = from
        self.to = to
        self.filter = filter
        self.flow = flow
        self.format = format
    }
}

/// `cancel`: a replay job ends now. A queued job never runs and its file
/// is closed; a running one stops at the reader's next batch of 32
/// records, or at once when its pacer is waiting out a gap. The reply is
/// the job's report; its state turns `cancelled` once the reader has let
/// go (a running job's report may still say `running` for a batch). A job
/// that was over already is shown as it was.
public struct CancelRequest: StatsRequest {
    public typealias Reply = JobReport
    public static let command = Command.cancel
    public static let fields: [RequestField] = [
        RequestField("job", .integer(1...Int.max), "the job to cancel (required)")
    ]
    public var job: Int?

    public init(job: Int) {
        self.job = job
    }

    public func validate() throws(RequestError) {
        if job == nil { throw RequestError("\"cancel\" needs \"job\": the replay job's number") }
    }
}

/// The order of `flows`.
public enum FlowOrder: String, Codable, Sendable {
    case bytes, packets
}

/// `flows`: the `top` biggest flows over all workers, by bytes or packets.
public struct FlowsRequest: StatsRequest {
    public typealias Reply = TopFlows
    public static let command = Command.flows
    /// The most flows one request may ask for.
    public static let maximumTop = 1000
    public static let fields: [RequestField] = [
        RequestField("top", .integer(1...maximumTop), "how many flows (default 10)"),
        RequestField("by", .choice(["bytes", "packets"]), "the order (default \"bytes\")"),
    ]
    public var top: Int?
    public var by: FlowOrder?

    public init(top: Int? = nil, by: FlowOrder? = nil) {
        self.top = top
        self.by = by
    }

    public var count: Int { top ?? 10 }
    public var order: FlowOrder { by ?? .bytes }
}

/// How fast a replay goes, as asked.
public enum ReplaySpeed: String, Codable, Sendable {
    case max, original
}

/// `replay`: queue a capture file (`file`), show one job (`job`), or list
/// the jobs (neither). Pacing: `speed` (with `multiplier` for `original`),
/// or `pps`, or `mbps`; the configuration's `[replay]` pacing otherwise.
public struct ReplayRequest: StatsRequest {
    public typealias Reply = ReplayReply
    public static let command = Command.replay
    /// The ranges a replay may be paced at: from 1/1000 to 1000 times the
    /// capture's own speed, 1 pps to 100 Mpps, 1 kbit/s to 1 Tbit/s.
    public static let multiplierRange = 0.001...1000.0
    public static let ppsRange = 1.0...100_000_000.0
    public static let mbpsRange = 0.001...1_000_000.0
    public static let fields: [RequestField] = [
        RequestField(
            "file", .absolutePath,
            "a capture to queue, opened by the daemon beneath replay.allowed_directories (none by default)"),
        RequestField(
            "fd", .boolean,
            "true: the capture's descriptor rides with this request (SCM_RIGHTS) on the replay socket"),
        RequestField("name", .string(maximumBytes: 4096), "with fd: what to call the file in the job list"),
        RequestField("job", .integer(1...Int.max), "a job to show"),
        RequestField("speed", .choice(["max", "original"]), "max (lossless) or the capture's own timing"),
        RequestField("multiplier", .number(multiplierRange), "with speed original: this many times faster (1)"),
        RequestField("pps", .number(ppsRange), "pace at this many packets per second"),
        RequestField("mbps", .number(mbpsRange), "pace at this many megabits per second (wire length)"),
    ]
    public var file: String?
    public var fd: Bool?
    public var name: String?
    public var job: Int?
    public var speed: ReplaySpeed?
    public var multiplier: Double?
    public var pps: Double?
    public var mbps: Double?

    public init(
        file: String? = nil, fd: Bool? = nil, name: String? = nil, job: Int? = nil, speed: ReplaySpeed? = nil,
        multiplier: Double? = nil, pps: Double? = nil, mbps: Double? = nil
    ) {
        self.file = file
        self.fd = fd
        self.name = name
        self.job = job
        self.speed = speed
        self.multiplier = multiplier
        self.pps = pps
        self.mbps = mbps
    }

    public func validate() throws(RequestError) {
        let targets = [file != nil, job != nil, fd == true].filter { $0 }.count
        if targets > 1 { throw RequestError("give one of \"file\", \"fd\" and \"job\"") }
        if name != nil && fd != true { throw RequestError("\"name\" goes with \"fd\": true") }
        let pacings = [speed != nil || multiplier != nil, pps != nil, mbps != nil].filter { $0 }.count
        if pacings > 1 { throw RequestError("give one of \"speed\"/\"multiplier\", \"pps\" and \"mbps\"") }
        if multiplier != nil && speed == .max {
            throw RequestError("\"multiplier\" goes with \"speed\": \"original\", not \"max\"")
        }
        if file == nil && fd != true && pacings > 0 { throw RequestError("pacing fields go with \"file\" or \"fd\"") }
    }
}
