// What `labyrinthd replay --json` and `labyrinthd capture --json` print: the
// same ``TrafficTotals`` at the top level as the socket's `stats`, plus what
// only a finished run knows.

/// Rates over a run's wall time.
public struct Rates: Codable, Sendable, Equatable {
    public var pps: Double
    public var bytesPerSecond: Double
    public var mbps: Double
    public init(pps: Double, bytesPerSecond: Double, mbps: Double) {
        self.pps = pps
        self.bytesPerSecond = bytesPerSecond
        self.mbps = mbps
    }
}

/// One file of a replay.
public struct FileReport: Codable, Sendable, Equatable {
    public var file: String
    public var format: String?
    public var packets: Int
    public var bytes: Int
    public var wireBytes: Int
    public var ok: Bool
    public init(file: String, format: String?, packets: Int, bytes: Int, wireBytes: Int, ok: Bool) {
        self.file = file
        self.format = format
        self.packets = packets
        self.bytes = bytes
        self.wireBytes = wireBytes
        self.ok = ok
    }
}

/// `labyrinthd replay --json`.
public struct ReplayReportDocument: Codable, Sendable, Equatable {
    public var traffic: TrafficTotals
    /// Wire length of the records read.
    public var wireBytes: Int
    public var elapsedSeconds: Double
    public var rate: Rates
    public var pacing: String
    public var loops: Int
    public var workers: [WorkerReport]
    public var rooms: [RoomReport]
    public var files: [FileReport]
    public var notes: [String]
    public var errors: [FileErrorReport]
    /// With `--ipfix`: what the exporter sent.
    public var export: ExportReport?
    /// With `-w`: what the recording wrote.
    public var recording: RecordingReport?

    public init(
        traffic: TrafficTotals, wireBytes: Int, elapsedSeconds: Double, rate: Rates, pacing: String, loops: Int,
        workers: [WorkerReport], rooms: [RoomReport], files: [FileReport], notes: [String], errors: [FileErrorReport],
        export: ExportReport? = nil, recording: RecordingReport? = nil
    ) {
        self.recording = recording
        self.export = export
        self.traffic = traffic
        self.wireBytes = wireBytes
        self.elapsedSeconds = elapsedSeconds
        self.rate = rate
        self.pacing = pacing
        self.loops = loops
        self.workers = workers
        self.rooms = rooms
        self.files = files
        self.notes = notes
        self.errors = errors
    }

    enum CodingKeys: String, CodingKey {
        case wireBytes, elapsedSeconds, rate, pacing, loops, workers, rooms, files, notes, errors, export, recording
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        traffic = try TrafficTotals(from: decoder)
        wireBytes = try c.decode(Int.self, forKey: .wireBytes)
        elapsedSeconds = try c.decode(Double.self, forKey: .elapsedSeconds)
        rate = try c.decode(Rates.self, forKey: .rate)
        pacing = try c.decode(String.self, forKey: .pacing)
        loops = try c.decode(Int.self, forKey: .loops)
        workers = try c.decode([WorkerReport].self, forKey: .workers)
        rooms = try c.decode([RoomReport].self, forKey: .rooms)
        files = try c.decode([FileReport].self, forKey: .files)
        notes = try c.decode([String].self, forKey: .notes)
        errors = try c.decode([FileErrorReport].self, forKey: .errors)
        export = try c.decodeIfPresent(ExportReport.self, forKey: .export)
        recording = try c.decodeIfPresent(RecordingReport.self, forKey: .recording)
    }

    public func encode(to encoder: any Encoder) throws {
        try traffic.encode(to: encoder)
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(wireBytes, forKey: .wireBytes)
        try c.encode(elapsedSeconds, forKey: .elapsedSeconds)
        try c.encode(rate, forKey: .rate)
        try c.encode(pacing, forKey: .pacing)
        try c.encode(loops, forKey: .loops)
        try c.encode(workers, forKey: .workers)
        try c.encode(rooms, forKey: .rooms)
        try c.encode(files, forKey: .files)
        try c.encode(notes, forKey: .notes)
        try c.encode(errors, forKey: .errors)
        try c.encodeIfPresent(export, forKey: .export)
        try c.encodeIfPresent(recording, forKey: .recording)
    }
}

/// `labyrinthd capture --json`.
public struct CaptureReportDocument: Codable, Sendable, Equatable {
    public var sources: [SourceSummary]
    public var traffic: TrafficTotals
    public var elapsedSeconds: Double
    /// `duration`, `count`, `SIGINT`, `SIGTERM` or `a worker exiting`.
    public var stoppedBy: String
    public var rate: Rates
    public var kernel: KernelTotals
    public var noBuffers: Int
    public var bufferTruncated: Int
    public var receiveErrors: Int
    public var workers: [WorkerReport]
    public var rooms: [RoomReport]
    public var notes: [String]
    /// With `--ipfix`: what the exporter sent.
    public var export: ExportReport?
    /// With `-w`: what the recording wrote.
    public var recording: RecordingReport?

    public init(
        sources: [SourceSummary], traffic: TrafficTotals, elapsedSeconds: Double, stoppedBy: String, rate: Rates,
        kernel: KernelTotals, noBuffers: Int, bufferTruncated: Int, receiveErrors: Int, workers: [WorkerReport],
        rooms: [RoomReport], notes: [String], export: ExportReport? = nil, recording: RecordingReport? = nil
    ) {
        self.recording = recording
        self.export = export
        self.sources = sources
        self.traffic = traffic
        self.elapsedSeconds = elapsedSeconds
        self.stoppedBy = stoppedBy
        self.rate = rate
        self.kernel = kernel
        self.noBuffers = noBuffers
        self.bufferTruncated = bufferTruncated
        self.receiveErrors = receiveErrors
        self.workers = workers
        self.rooms = rooms
        self.notes = notes
    }

    enum CodingKeys: String, CodingKey {
        case sources, elapsedSeconds, stoppedBy, rate, kernel, noBuffers, bufferTruncated, receiveErrors, workers
        case rooms, notes, export, recording
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        sources = try c.decode([SourceSummary].self, forKey: .sources)
        traffic = try TrafficTotals(from: decoder)
        elapsedSeconds = try c.decode(Double.self, forKey: .elapsedSeconds)
        stoppedBy = try c.decode(String.self, forKey: .stoppedBy)
        rate = try c.decode(Rates.self, forKey: .rate)
        kernel = try c.decode(KernelTotals.self, forKey: .kernel)
        noBuffers = try c.decode(Int.self, forKey: .noBuffers)
        bufferTruncated = try c.decode(Int.self, forKey: .bufferTruncated)
        receiveErrors = try c.decode(Int.self, forKey: .receiveErrors)
        workers = try c.decode([WorkerReport].self, forKey: .workers)
        rooms = try c.decode([RoomReport].self, forKey: .rooms)
        notes = try c.decode([String].self, forKey: .notes)
        export = try c.decodeIfPresent(ExportReport.self, forKey: .export)
        recording = try c.decodeIfPresent(RecordingReport.self, forKey: .recording)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(sources, forKey: .sources)
        try traffic.encode(to: encoder)
        try c.encode(elapsedSeconds, forKey: .elapsedSeconds)
        try c.encode(stoppedBy, forKey: .stoppedBy)
        try c.encode(rate, forKey: .rate)
        try c.encode(kernel, forKey: .kernel)
        try c.encode(noBuffers, forKey: .noBuffers)
        try c.encode(bufferTruncated, forKey: .bufferTruncated)
        try c.encode(receiveErrors, forKey: .receiveErrors)
        try c.encode(workers, forKey: .workers)
        try c.encode(rooms, forKey: .rooms)
        try c.encode(notes, forKey: .notes)
        try c.encodeIfPresent(export, forKey: .export)
        try c.encodeIfPresent(recording, forKey: .recording)
    }
}
