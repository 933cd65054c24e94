import Packet
import Rooms
import StatsProtocol

// The data plane's counters in the socket's and the reports' one schema.
// Every mapping is an exhaustive switch: a counter, a malformation or a
// protocol added on one side and not the other does not compile.

extension WorkerCounterSet {
    /// Every counter of a worker, read through `load`.
    public init(_ load: (WorkerCounter) -> Int, malformed: (Malformation) -> Int) {
        self.init()
        for counter in WorkerCounter.allCases {
            let v = load(counter)
            switch counter {
            case .processed: processed = v
            case .bytes: bytes = v
            case .droppedNoMemory: droppedNomem = v
            case .oversized: oversized = v
            case .truncated: truncated = v
            case .vlan: vlan = v
            case .ipv4: ipv4 = v
            case .ipv6: ipv6 = v
            case .arp: arp = v
            case .tcp: tcp = v
            case .udp: udp = v
            case .icmp: icmp = v
            case .icmpv6: icmpv6 = v
            case .other: other = v
            case .fragments: fragments = v
            case .flowsCreated: flowsCreated = v
            case .icmpFlowsCreated: icmpFlowsCreated = v
            case .flowsExpired: flowsExpired = v
            case .flowsActiveTimeout: flowsActiveTimeout = v
            case .flowsClosed: flowsClosed = v
            case .flowsForced: flowsForced = v
            case .flowsEvicted: flowsEvicted = v
            case .flowsActive: flowsActive = v
            case .flowRecordsExported: flowRecordsExported = v
            case .flowExportDropped: flowExportDropped = v
            case .heartbeat: heartbeat = v
            case .polls: polls = v
            case .budgetExhausted: budgetExhausted = v
            case .sleeps: sleeps = v
            case .kernelPackets: kernelPackets = v
            case .kernelDrops: kernelDrops = v
            case .noBuffers: noBuffers = v
            case .bufferTruncated: bufferTruncated = v
            case .receiveErrors: receiveErrors = v
            case .vlanFromMetadata: vlanFromMetadata = v
            case .uringErrors: uringErrors = v
            case .kernelCountErrors: kernelCountErrors = v
            case .replayFrames: replayFrames = v
            case .written: written = v
            case .writtenBytes: writtenBytes = v
            case .unwrittenOverload: unwrittenOverload = v
            case .unwrittenOverloadBytes: unwrittenOverloadBytes = v
            case .unwrittenDiskFull: unwrittenDiskFull = v
            case .unwrittenDiskFullBytes: unwrittenDiskFullBytes = v
            case .unwrittenError: unwrittenError = v
            case .unwrittenOversized: unwrittenOversized = v
            case .unwrittenLinkType: unwrittenLinktype = v
            case .unwrittenFiltered: unwrittenFiltered = v
            case .filesStarted: filesStarted = v
            case .writes: writes = v
            case .writeIovecs: writeIovecs = v
            case .writtenLate: writtenLate = v
            case .tapCopied: tapCopied = v
            case .tapDropped: tapDropped = v
            case .malformedBase: break
            }
        }
        self.malformed = Malformation.allCases.reduce(0) { $0 + ($1 == .none ? 0 : malformed($1)) }
    }

    /// From a snapshot of a worker's counter block.
    public init(snapshot c: [Int]) {
        self.init({ c[$0.rawValue] }, malformed: { c[WorkerCounter.malformed($0)] })
    }
}

extension MalformedCounts {
    /// Every reason's count, read through `load`.
    public init(_ load: (Malformation) -> Int) {
        self.init()
        for m in Malformation.allCases {
            let v = load(m)
            switch m {
            case .none: break
            case .truncatedLinkHeader: truncatedLinkHeader = v
            case .truncatedVLAN: truncatedVlanTag = v
            case .tooManyVLANTags: tooManyVlanTags = v
            case .truncatedIPv4Header: truncatedIpv4Header = v
            case .badIPVersion: badIpVersion = v
            case .badIHL: badIhl = v
            case .badTotalLength: badTotalLength = v
            case .truncatedIPv6Header: truncatedIpv6Header = v
            case .badPayloadLength: badPayloadLength = v
            case .badExtensionChain: badExtensionChain = v
            case .truncatedTCPHeader: truncatedTcpHeader = v
            case .badTCPDataOffset: badTcpDataOffset = v
            case .truncatedUDPHeader: truncatedUdpHeader = v
            case .badUDPLength: badUdpLength = v
            case .truncatedICMPHeader: truncatedIcmpHeader = v
            case .truncatedARP: truncatedArp = v
            case .emptyRecord: emptyRecord = v
            }
        }
    }
}

extension TrafficTotals {
    /// The totals over workers whose counters `total` sums, plus what the
    /// replay reader counted before any worker saw a frame.
    ///
    /// - Parameters:
    ///   - total: a worker counter summed over the workers.
    ///   - malformed: a malformation's count summed over the workers.
    ///   - unsupported: replayed records of unknown link types, and their bytes.
    ///   - missed: paced frames dropped on full queues, and their bytes.
    public init(
        total: (WorkerCounter) -> Int, malformed: (Malformation) -> Int, unsupported: (packets: Int, bytes: Int),
        missed: (packets: Int, bytes: Int), filtered: (packets: Int, bytes: Int) = (0, 0)
    ) {
        self.init()
        received = total(.processed) + total(.droppedNoMemory)
        packets = received + unsupported.packets + missed.packets + filtered.packets
        bytes = total(.bytes) + unsupported.bytes + missed.bytes + filtered.bytes
        self.filtered = filtered.packets
        processed = total(.processed)
        decoded.ipv4 = total(.ipv4)
        decoded.ipv6 = total(.ipv6)
        decoded.tcp = total(.tcp)
        decoded.udp = total(.udp)
        decoded.icmp = total(.icmp)
        decoded.icmpv6 = total(.icmpv6)
        decoded.arp = total(.arp)
        decoded.vlan = total(.vlan)
        decoded.other = total(.other)
        decoded.fragments = total(.fragments)
        truncated = total(.truncated)
        oversized = total(.oversized)
        self.malformed = MalformedCounts(malformed)
        unsupportedLinktype = unsupported.packets
        dropped.nomem = total(.droppedNoMemory)
        dropped.rxMissed = missed.packets
        dropped.kernel = total(.kernelDrops)
        flows.tcpUdp = total(.flowsCreated)
        flows.icmp = total(.icmpFlowsCreated)
        flows.total = flows.tcpUdp + flows.icmp
        flows.expired = total(.flowsExpired)
        flows.activeTimeout = total(.flowsActiveTimeout)
        flows.closed = total(.flowsClosed)
        flows.forced = total(.flowsForced)
        flows.evicted = total(.flowsEvicted)
        flows.active = total(.flowsActive)
        flows.exported = total(.flowRecordsExported)
        flows.exportDropped = total(.flowExportDropped)
    }
}

extension RoomReport {
    public init(_ r: RoomStats) {
        self.init(
            room: r.room, pages: r.pages,
            watermarks: Watermarks(min: r.watermarks.min, low: r.watermarks.low, high: r.watermarks.high),
            allocFast: r.allocFast, allocSlow: r.allocSlow, allocEmpty: r.allocEmpty, allocFail: r.allocFail,
            reserveDips: r.reserveDips, lowWatermarkEvents: r.lowWatermarkEvents, refill: r.refill,
            reclaimed: r.reclaimed, freeLocal: r.freeLocal, freeRemote: r.freeRemote, freePages: r.freePages,
            inUsePages: r.inUsePages, inUseHighWater: r.inUseHighWater, cachePages: r.cachePages,
            freeBlocks: r.freeBlocks, remoteInFlight: r.remoteInFlight, failureWarnings: r.failureWarnings)
        fragmentsAllocated = r.fragmentsAllocated
        fragmentsInUse = r.fragmentsInUse
        fragmentBytesInUse = r.fragmentBytesInUse
        chunksAllocated = r.chunksAllocated
        chunksReused = r.chunksReused
        chunksSmaller = r.chunksSmaller
        chunksInUse = r.chunksInUse
        fragmentsPerChunk = (r.fragmentsPerChunk * 10).rounded() / 10
    }
}

extension FlowEntry {
    public init(_ f: FlowRecord) {
        let (a, b) = f.key.endpoints
        self.init(
            protocol: f.key.protocolName, a: a, b: b, packets: Int(clamping: f.packets), bytes: Int(clamping: f.bytes),
            octets: Int(clamping: f.octets),
            packetsAToB: Int(clamping: f.packetsAB), packetsBToA: Int(clamping: f.packetsBA),
            bytesAToB: Int(clamping: f.bytesAB), bytesBToA: Int(clamping: f.bytesBA), firstSeenNs: Int(f.firstSeen),
            lastSeenNs: Int(f.lastSeen), tcpFlags: FlowEntry.flagText(f.tcpFlags))
    }

    /// TCP flags as tcpdump letters: `S`, `A`, `P`, `F`, `R`, `U`, `E`, `C`; `-` for none.
    public static func flagText(_ flags: UInt8) -> String {
        let names: [(UInt8, Character)] = [
            (0x02, "S"), (0x10, "A"), (0x08, "P"), (0x01, "F"), (0x04, "R"), (0x20, "U"), (0x40, "E"), (0x80, "C"),
        ]
        let s = String(names.compactMap { flags & $0.0 != 0 ? $0.1 : nil })
        return s.isEmpty ? "-" : s
    }
}

extension WorkerShared {
    /// This worker's report, with its state as the control plane sees it.
    public func report(state: String?, rxMissed: Int) -> WorkerReport {
        WorkerReport(
            worker: index, cpu: cpu, state: state, received: received,
            counters: WorkerCounterSet(counter, malformed: malformed), rxMissed: rxMissed)
    }
}

extension RecordingReport {
    /// What `recorder` did, with the `workers`' counts of written and
    /// unwritten frames.
    public init(_ recorder: Recorder, workers: [WorkerShared]) {
        func total(_ c: WorkerCounter) -> Int { workers.reduce(0) { $0 + $1.counter(c) } }
        var u = UnwrittenCounts()
        u.overload = total(.unwrittenOverload)
        u.overloadBytes = total(.unwrittenOverloadBytes)
        u.diskFull = total(.unwrittenDiskFull)
        u.diskFullBytes = total(.unwrittenDiskFullBytes)
        u.error = total(.unwrittenError)
        u.oversized = total(.unwrittenOversized)
        u.linktype = total(.unwrittenLinkType)
        u.filtered = total(.unwrittenFiltered)
        let r = recorder.counters
        self.init(
            path: recorder.options.naming.template, format: recorder.options.format.rawValue, written: total(.written),
            writtenBytes: total(.writtenBytes), unwritten: u, filesStarted: total(.filesStarted),
            filesWritten: r.filesWritten, bytesWritten: r.bytesWritten, unlinkedRing: r.unlinkedRing,
            unlinkedFreeSpace: r.unlinkedFreeSpace, diskFullStops: r.diskFullStops, truncations: r.truncations,
            currentFiles: r.currentFiles, files: r.files, lastError: r.lastError)
        writes = total(.writes)
        writeIovecs = total(.writeIovecs)
        writtenLate = total(.writtenLate)
    }
}
