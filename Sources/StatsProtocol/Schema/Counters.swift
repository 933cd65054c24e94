// The counter sets every report shares: the stats socket's `stats` and
// `workers`, `labyrinthd replay --json` and `labyrinthd capture --json`.
// Keys on the wire are the fields' names in snake_case.

/// Frames by protocol found (a frame counts once per protocol it carries).
public struct DecodedCounts: Codable, Sendable, Equatable {
    public var ipv4 = 0
    public var ipv6 = 0
    public var tcp = 0
    public var udp = 0
    public var icmp = 0
    public var icmpv6 = 0
    public var arp = 0
    public var vlan = 0
    public var other = 0
    public var fragments = 0

    public init() {}
}

/// Malformed frames by reason: a frame that contradicts itself.
public struct MalformedCounts: Codable, Sendable, Equatable {
    public var truncatedLinkHeader = 0
    public var truncatedVlanTag = 0
    public var tooManyVlanTags = 0
    public var truncatedIpv4Header = 0
    public var badIpVersion = 0
    public var badIhl = 0
    public var badTotalLength = 0
    public var truncatedIpv6Header = 0
    public var badPayloadLength = 0
    public var badExtensionChain = 0
    public var truncatedTcpHeader = 0
    public var badTcpDataOffset = 0
    public var truncatedUdpHeader = 0
    public var badUdpLength = 0
    public var truncatedIcmpHeader = 0
    public var truncatedArp = 0
    /// Records with no captured bytes (caplen 0).
    public var emptyRecord = 0

    public init() {}

    /// Every reason with its count, in wire order (for tables).
    public var reasons: [(name: String, count: Int)] {
        guard case .object(let members) = JSONCoding.encode(self) else { return [] }
        return members.map { ($0.0, $0.1.intValue ?? 0) }
    }

    public var total: Int { reasons.reduce(0) { $0 + $1.count } }
}

/// Frames lost, by who lost them.
public struct DropCounts: Codable, Sendable, Equatable {
    /// No page in the worker's room (`.atomic` allocation failed).
    public var nomem = 0
    /// Paced replay: the worker's queue was full.
    public var rxMissed = 0
    /// Live capture: the kernel dropped them (ring or socket buffer full).
    public var kernel = 0

    public init() {}
}

/// The flow tables.
public struct FlowCounts: Codable, Sendable, Equatable {
    /// Every flow started: `tcp_udp` plus `icmp`.
    public var total = 0
    /// TCP and UDP flows started (both directions are one flow).
    public var tcpUdp = 0
    /// ICMP and ICMPv6 flows started.
    public var icmp = 0
    /// Flows that idled out (IPFIX flowEndReason 1).
    public var expired = 0
    /// Records cut by the active timeout; the flows go on (2).
    public var activeTimeout = 0
    /// TCP flows ended by FIN both ways or RST, after the linger (3).
    public var closed = 0
    /// Flows forced out: shutdown, the end of a replay, a flush (4).
    public var forced = 0
    /// Flows evicted from a full table for a new one (5).
    public var evicted = 0
    /// Flows in the tables now.
    public var active = 0
    /// Ended flows handed to the exporter, and those its rings had no room for.
    public var exported = 0
    public var exportDropped = 0
    /// The biggest flows (reports only; the socket has `flows`).
    public var top: [FlowEntry]? = nil

    public init() {}
}

/// What every report of traffic says, spelled the same everywhere: the
/// socket's `stats`, `labyrinthd replay --json` and `labyrinthd capture
/// --json` all carry these keys at their top level.
public struct TrafficTotals: Codable, Sendable, Equatable {
    /// Frames offered: read from capture files (replay) or taken from the
    /// kernel (live). `received + unsupported_linktype + filtered +
    /// dropped.rx_missed`.
    public var packets = 0
    /// Their captured bytes.
    public var bytes = 0
    /// Frames the workers took: `processed + dropped.nomem`.
    public var received = 0
    /// Frames copied into a page and decoded.
    public var processed = 0
    public var decoded = DecodedCounts()
    /// Frames with a header cut by the snap length.
    public var truncated = 0
    /// Frames above the largest block (64 KiB), decoded as cut there.
    public var oversized = 0
    public var malformed = MalformedCounts()
    /// Replayed records of link types the decoder does not know: counted,
    /// not dispatched.
    public var unsupportedLinktype = 0
    /// Replayed records a replay filter (`-f`) did not match: counted, not
    /// dispatched.
    public var filtered = 0
    public var dropped = DropCounts()
    public var flows = FlowCounts()

    public init() {}
}

/// Every counter of one worker, by name. Built with an exhaustive switch
/// over the data plane's counters, so a counter added there and not here is
/// a compile error.
public struct WorkerCounterSet: Codable, Sendable, Equatable {
    public var processed = 0
    public var bytes = 0
    public var droppedNomem = 0
    public var oversized = 0
    public var truncated = 0
    public var vlan = 0
    public var ipv4 = 0
    public var ipv6 = 0
    public var arp = 0
    public var tcp = 0
    public var udp = 0
    public var icmp = 0
    public var icmpv6 = 0
    public var other = 0
    public var fragments = 0
    public var flowsCreated = 0
    public var icmpFlowsCreated = 0
    public var flowsExpired = 0
    public var flowsActiveTimeout = 0
    public var flowsClosed = 0
    public var flowsForced = 0
    public var flowsEvicted = 0
    public var flowsActive = 0
    public var flowRecordsExported = 0
    public var flowExportDropped = 0
    public var heartbeat = 0
    public var polls = 0
    public var budgetExhausted = 0
    public var sleeps = 0
    public var kernelPackets = 0
    public var kernelDrops = 0
    public var noBuffers = 0
    public var bufferTruncated = 0
    public var receiveErrors = 0
    public var vlanFromMetadata = 0
    public var uringErrors = 0
    public var kernelCountErrors = 0
    public var replayFrames = 0
    public var written = 0
    public var writtenBytes = 0
    public var unwrittenOverload = 0
    public var unwrittenOverloadBytes = 0
    public var unwrittenDiskFull = 0
    public var unwrittenDiskFullBytes = 0
    public var unwrittenError = 0
    public var unwrittenOversized = 0
    public var unwrittenLinktype = 0
    public var unwrittenFiltered = 0
    public var filesStarted = 0
    public var writes = 0
    public var writeIovecs = 0
    public var writtenLate = 0
    /// Live taps: frames copied for a tap's reader, and frames a tap had
    /// no room for (its reader was behind or gone).
    public var tapCopied = 0
    public var tapDropped = 0
    /// Malformed frames, all reasons.
    public var malformed = 0

    public init() {}
}

/// One worker: who it is, where it runs and its counters.
public struct WorkerReport: Codable, Sendable, Equatable {
    public var worker: Int
    /// The thread's name (`lab-irq/N`).
    public var name: String
    public var cpu: Int?
    /// `running`, `stalled` (heartbeat still for over a second) or `exited`;
    /// absent in reports made after the workers stopped.
    public var state: String?
    /// Frames taken: `processed + dropped_nomem`.
    public var received: Int
    public var counters: WorkerCounterSet
    /// Paced replay: frames dropped on this worker's full queue.
    public var rxMissed: Int

    public init(
        worker: Int, cpu: Int?, state: String?, received: Int, counters: WorkerCounterSet, rxMissed: Int
    ) {
        self.worker = worker
        self.name = "lab-irq/\(worker)"
        self.cpu = cpu
        self.state = state
        self.received = received
        self.counters = counters
        self.rxMissed = rxMissed
    }

    // The counters sit at the worker's top level on the wire.
    enum CodingKeys: String, CodingKey {
        case worker, name, cpu, state, received, rxMissed
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        worker = try c.decode(Int.self, forKey: .worker)
        name = try c.decode(String.self, forKey: .name)
        cpu = try c.decodeIfPresent(Int.self, forKey: .cpu)
        state = try c.decodeIfPresent(String.self, forKey: .state)
        received = try c.decode(Int.self, forKey: .received)
        rxMissed = try c.decode(Int.self, forKey: .rxMissed)
        counters = try WorkerCounterSet(from: decoder)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(worker, forKey: .worker)
        try c.encode(name, forKey: .name)
        try c.encode(cpu, forKey: .cpu)
        try c.encodeIfPresent(state, forKey: .state)
        try c.encode(received, forKey: .received)
        try counters.encode(to: encoder)
        try c.encode(rxMissed, forKey: .rxMissed)
    }
}

/// One room's page allocator, named like the kernel's page_pool counters.
public struct RoomReport: Codable, Sendable, Equatable {
    public struct Watermarks: Codable, Sendable, Equatable {
        public var min: Int
        public var low: Int
        public var high: Int
        public init(min: Int, low: Int, high: Int) {
            self.min = min
            self.low = low
            self.high = high
        }
    }
    public var room: Int
    public var pages: Int
    public var watermarks: Watermarks
    public var allocFast: Int
    public var allocSlow: Int
    /// Per order 0...4.
    public var allocEmpty: [Int]
    /// Per order 0...4.
    public var allocFail: [Int]
    public var reserveDips: Int
    public var lowWatermarkEvents: Int
    public var refill: Int
    public var reclaimed: Int
    public var freeLocal: Int
    public var freeRemote: Int
    public var freePages: Int
    public var inUsePages: Int
    public var inUseHighWater: Int
    public var cachePages: Int
    /// Free buddy blocks per order 0...4.
    public var freeBlocks: [Int]
    public var remoteInFlight: Int
    public var failureWarnings: Int
    /// Fragments: handed out in all and in use, their bytes in use; chunks
    /// taken from the room, reused whole and in use; fragments per chunk.
    public var fragmentsAllocated = 0
    public var fragmentsInUse = 0
    public var fragmentBytesInUse = 0
    public var chunksAllocated = 0
    public var chunksReused = 0
    /// Of the chunks allocated, those smaller than the configured size
    /// (the room could not give a whole one).
    public var chunksSmaller = 0
    public var chunksInUse = 0
    public var fragmentsPerChunk = 0.0

    public init(
        room: Int, pages: Int, watermarks: Watermarks, allocFast: Int, allocSlow: Int, allocEmpty: [Int],
        allocFail: [Int], reserveDips: Int, lowWatermarkEvents: Int, refill: Int, reclaimed: Int, freeLocal: Int,
        freeRemote: Int, freePages: Int, inUsePages: Int, inUseHighWater: Int, cachePages: Int, freeBlocks: [Int],
        remoteInFlight: Int, failureWarnings: Int
    ) {
        self.room = room
        self.pages = pages
        self.watermarks = watermarks
        self.allocFast = allocFast
        self.allocSlow = allocSlow
        self.allocEmpty = allocEmpty
        self.allocFail = allocFail
        self.reserveDips = reserveDips
        self.lowWatermarkEvents = lowWatermarkEvents
        self.refill = refill
        self.reclaimed = reclaimed
        self.freeLocal = freeLocal
        self.freeRemote = freeRemote
        self.freePages = freePages
        self.inUsePages = inUsePages
        self.inUseHighWater = inUseHighWater
        self.cachePages = cachePages
        self.freeBlocks = freeBlocks
        self.remoteInFlight = remoteInFlight
        self.failureWarnings = failureWarnings
    }

    /// Failed allocations, all orders.
    public var failures: Int { allocFail.reduce(0, +) }
}

/// One flow, both directions.
public struct FlowEntry: Codable, Sendable, Equatable {
    /// `tcp`, `udp`, `icmp`, `icmpv6` or the protocol number.
    public var `protocol`: String
    /// The endpoints, `address:port` (`[v6]:port`), or the address alone.
    public var a: String
    public var b: String
    public var packets: Int
    /// Captured bytes, and IP-layer octets (what IPFIX exports).
    public var bytes: Int
    public var octets: Int
    public var packetsAToB: Int
    public var packetsBToA: Int
    public var bytesAToB: Int
    public var bytesBToA: Int
    /// Nanoseconds since the epoch, on the packets' own clock.
    public var firstSeenNs: Int
    public var lastSeenNs: Int
    /// TCP flags seen in either direction, as tcpdump letters (`SAF`), or `-`.
    public var tcpFlags: String

    public init(
        protocol: String, a: String, b: String, packets: Int, bytes: Int, octets: Int, packetsAToB: Int,
        packetsBToA: Int,
        bytesAToB: Int, bytesBToA: Int, firstSeenNs: Int, lastSeenNs: Int, tcpFlags: String
    ) {
        self.protocol = `protocol`
        self.a = a
        self.b = b
        self.packets = packets
        self.bytes = bytes
        self.octets = octets
        self.packetsAToB = packetsAToB
        self.packetsBToA = packetsBToA
        self.bytesAToB = bytesAToB
        self.bytesBToA = bytesBToA
        self.firstSeenNs = firstSeenNs
        self.lastSeenNs = lastSeenNs
        self.tcpFlags = tcpFlags
    }
}

/// The IPFIX exporter: what left for the collectors. Messages attempted =
/// `messages_sent` + `messages_failed`.
public struct ExportReport: Codable, Sendable, Equatable {
    /// Where records go (`HOST:PORT`).
    public var collectors: [String]
    /// Uniflow data records sent (two per flow with packets both ways).
    public var records: Int
    /// Flows encoded.
    public var flows: Int
    public var messagesSent: Int
    /// Sends that failed (a collector refusing, ENOBUFS); never a wait.
    public var messagesFailed: Int
    /// Messages that could not be encoded (flows, templates or the
    /// exporter's statistics): counted and logged, never sent short.
    public var encodingFailures: Int = 0
    public var templateRecords: Int
    public var bytesSent: Int
    /// Ended flows the workers' rings had no room for.
    public var dropped: Int
    /// The last send error, if any.
    public var lastError: String?

    public init(
        collectors: [String], records: Int, flows: Int, messagesSent: Int, messagesFailed: Int, templateRecords: Int,
        bytesSent: Int, dropped: Int, lastError: String?
    ) {
        self.collectors = collectors
        self.records = records
        self.flows = flows
        self.messagesSent = messagesSent
        self.messagesFailed = messagesFailed
        self.templateRecords = templateRecords
        self.bytesSent = bytesSent
        self.dropped = dropped
        self.lastError = lastError
    }
}

/// Frames a recording did not write, by reason (each frame is still
/// processed and counted as received).
public struct UnwrittenCounts: Codable, Sendable, Equatable {
    /// The pages in flight reached their cap: the disk is behind.
    public var overload = 0
    public var overloadBytes = 0
    /// No space: ENOSPC or EDQUOT, a short write, or below `min_free`.
    public var diskFull = 0
    public var diskFullBytes = 0
    /// A write failed otherwise, or a timestamp the format cannot hold.
    public var error = 0
    /// Larger than the largest block (64 KiB): cut when copied, not written.
    public var oversized = 0
    /// Classic pcap: a second link type.
    public var linktype = 0
    /// Not matched by the sink's own filter (`[[sink]] filter`).
    public var filtered = 0

    public init() {}

    public var total: Int { overload + diskFull + error + oversized + linktype + filtered }
}

/// A recording (`-w`, a `[[sink]]`): `processed = written + unwritten.*`.
public struct RecordingReport: Codable, Sendable, Equatable {
    /// The path template and the format.
    public var path: String
    public var format: String
    /// Frames written whole, and their bytes (after the snap length).
    public var written: Int
    public var writtenBytes: Int
    public var unwritten: UnwrittenCounts
    /// Files started and finished, and the bytes of the finished ones.
    public var filesStarted: Int
    public var filesWritten: Int
    public var bytesWritten: Int
    /// Files removed by the ring (`-W`) and below `min_free`.
    public var unlinkedRing: Int
    public var unlinkedFreeSpace: Int
    /// Times writing stopped below `min_free`; truncations after short writes.
    public var diskFullStops: Int
    public var truncations: Int
    /// Each worker's current file ("" between files), and every file of
    /// this run still on disk, per worker.
    public var currentFiles: [String]
    public var files: [[String]]
    public var lastError: String?
    /// Writes submitted, and their iovecs: blocks that follow each other in
    /// a chunk share one, so iovecs per write says how whole the writes are.
    public var writes = 0
    public var writeIovecs = 0
    /// Frames written into a file already due to rotate (its interval over
    /// or its size reached), because the next file was not ready yet: in
    /// the older file, not lost.
    public var writtenLate = 0

    public init(
        path: String, format: String, written: Int, writtenBytes: Int, unwritten: UnwrittenCounts, filesStarted: Int,
        filesWritten: Int, bytesWritten: Int, unlinkedRing: Int, unlinkedFreeSpace: Int, diskFullStops: Int,
        truncations: Int, currentFiles: [String], files: [[String]], lastError: String?
    ) {
        self.path = path
        self.format = format
        self.written = written
        self.writtenBytes = writtenBytes
        self.unwritten = unwritten
        self.filesStarted = filesStarted
        self.filesWritten = filesWritten
        self.bytesWritten = bytesWritten
        self.unlinkedRing = unlinkedRing
        self.unlinkedFreeSpace = unlinkedFreeSpace
        self.diskFullStops = diskFullStops
        self.truncations = truncations
        self.currentFiles = currentFiles
        self.files = files
        self.lastError = lastError
    }
}
