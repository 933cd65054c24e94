/// What one message holds, for the caller's accounting and for
/// `IPFIXExportSession.messageNotSent(_:now:)`.
public struct IPFIXMessageSummary: Sendable, Equatable {
    /// Bytes of the message; 0 when there was nothing to send (then nothing else is set).
    public var byteCount: Int = 0
    /// The domain index of a flow message, or -1 for a statistics message.
    public var domainIndex: Int = -1
    /// The header's observation domain and sequence number.
    public var observationDomain: UInt32 = 0
    public var sequenceNumber: UInt32 = 0
    /// Template and options template records.
    public var templateRecords: Int = 0
    /// Data records of flows (uniflow records).
    public var flowRecords: Int = 0
    /// Options data records (statistics).
    public var optionsRecords: Int = 0
    /// Flows taken from the source, including those with no packet (which have no record).
    public var flows: Int = 0
    /// Flows taken that had no packet either way.
    public var emptyFlows: Int = 0
    /// Packets and IP-layer octets of the flow records.
    public var packets: UInt64 = 0
    public var octets: UInt64 = 0

    public init() {}

    /// Data records of any kind: what the sequence number counts.
    public var dataRecords: Int { flowRecords &+ optionsRecords }
    /// Whether the message carries statistics rather than flows.
    public var isStatistics: Bool { domainIndex < 0 }
}

/// A session's running totals since it started. Single writer (the
/// exporter thread); names follow the path taken.
public struct IPFIXExportCounters: Sendable, Equatable {
    /// Messages written, and their bytes.
    public var messages: UInt64 = 0
    public var octets: UInt64 = 0
    /// Flow data records, options data records, template and options template records written.
    public var flowRecords: UInt64 = 0
    public var optionsRecords: UInt64 = 0
    public var templateRecords: UInt64 = 0
    /// Messages that carried templates (session start and every refresh).
    public var templateRefreshes: UInt64 = 0
    /// Flows taken from sources, and those among them with no packet (no record).
    public var flows: UInt64 = 0
    public var emptyFlows: UInt64 = 0
    /// Messages the caller could not send (`messageNotSent`).
    public var notSentMessages: UInt64 = 0
    /// Flow records, packets and octets not sent: lost messages plus flows dropped before export (`flowsNotSent`).
    public var notSentFlowRecords: UInt64 = 0
    public var notSentPackets: UInt64 = 0
    public var notSentOctets: UInt64 = 0

    public init() {}
}

/// The state of one IPFIX exporting session (RFC 7011) over UDP to one
/// collector: per observation domain the sequence number and the template
/// refresh, and the statistics the session reports about itself. Pure: it
/// writes messages into the caller's buffer, the caller sends them, and time
/// comes in as `now`, nanoseconds since the epoch from the caller's wall clock.
///
/// Sequence numbers follow RFC 7011 section 3.1: a message carries the count,
/// modulo 2^32, of the data records (flow and options data records, not
/// template records) sent before it in its observation domain.
///
/// Templates go out in the first message of every stream, then again when
/// `templateRefreshSeconds` have passed or `templateRefreshMessages`
/// messages went out without them, and when the clock steps back, so a
/// collector that starts late decodes within one period.
public struct IPFIXExportSession: Sendable {
    public let configuration: IPFIXExportConfiguration
    public private(set) var counters = IPFIXExportCounters()

    struct Stream: Sendable {
        var domain: UInt32
        var sequence: UInt32 = 0
        var templatesSent = false
        var templatesSentAt: Int64 = 0
        var messagesWithoutTemplates = 0
        // RFC 7011 section 4.1: what was sent in this domain.
        var exportedMessages: UInt64 = 0
        var exportedFlowRecords: UInt64 = 0
        var exportedOctets: UInt64 = 0
        // Section 4.2: what the metering process ignored in this domain.
        var ignoredPackets: UInt64 = 0
        var ignoredOctets: UInt64 = 0
        var firstIgnored: Int64? = nil
        var lastIgnored: Int64? = nil

        init(domain: UInt32) { self.domain = domain }
    }

    var streams: [Stream]
    var statistics: Stream
    var statisticsSent = false
    var statisticsSentAt: Int64 = 0
    /// The next domain index a statistics round reports, or -1 when no round is under way.
    var statisticsCursor = -1
    // Section 4.3: what the exporting process did not send.
    var firstNotSent: Int64? = nil
    var lastNotSent: Int64? = nil

    /// Starts a session; nothing is sent until the first `nextMessage`.
    /// - Throws: the configuration's `problem`, if it has one.
    public init(_ configuration: IPFIXExportConfiguration) throws(IPFIXConfigurationError) {
        if let problem = configuration.problem { throw problem }
        self.configuration = configuration
        streams = configuration.observationDomains.map { Stream(domain: $0) }
        statistics = Stream(domain: configuration.statisticsDomain)
    }

    /// The sequence number the next message of domain `index` will carry, or nil for an unknown index.
    public func sequenceNumber(domain index: Int) -> UInt32? {
        streams.indices.contains(index) ? streams[index].sequence : nil
    }

    /// The sequence number the next statistics message will carry.
    public var statisticsSequenceNumber: UInt32 { statistics.sequence }

    /// Writes the next message of observation domain `index`: the templates when they are
    /// due, then as many flows from `source` as fit, each as one uniflow record per direction
    /// that has packets (both in this message or neither).
    /// - Parameters:
    ///   - buffer: at least `configuration.maximumMessageLength` bytes; the message starts at its start.
    ///   - index: which of `configuration.observationDomains`.
    ///   - source: flows are taken from it only when written (or when they have no packet).
    ///   - now: the wall clock in nanoseconds since the epoch (export time, template refresh).
    /// - Returns: what the message holds; `byteCount` is 0 when neither templates nor flows were due
    ///   (`flows` and `emptyFlows` still count the flows without packets that were taken).
    /// - Throws: `unknownDomain` or `bufferTooSmall`, having written nothing.
    /// - Cost: no allocation; a few dozen stores per record. Stops at the first flow that does not fit.
    public mutating func nextMessage(
        into buffer: UnsafeMutableRawBufferPointer, domain index: Int, from source: inout some FlowExportSource,
        now: Int64
    ) throws(IPFIXExportError) -> IPFIXMessageSummary {
        guard streams.indices.contains(index) else { throw .unknownDomain(index) }
        guard let base = buffer.baseAddress, buffer.count >= configuration.maximumMessageLength else {
            throw .bufferTooSmall(buffer.count)
        }
        var w = IPFIXMessageWriter(base: base, limit: configuration.maximumMessageLength)
        var summary = IPFIXMessageSummary()
        summary.domainIndex = index
        let withTemplates = templatesDue(streams[index], now: now)
        if withTemplates {
            for template in IPFIX.flowTemplates where w.appendTemplate(template, set: IPFIX.templateSetID) {
                summary.templateRecords &+= 1
            }
        }
        while let flow = source.peekFlow() {
            let count = flow.uniflowRecordCount
            if count == 0 {
                source.removeFlow()
                summary.flows &+= 1
                summary.emptyFlows &+= 1
                continue
            }
            let (templateID, recordLength) = IPFIXFlowEncoding.layout(flow.version)
            guard let p = w.reserve(set: templateID, byteCount: count &* recordLength) else { break }
            var at = p
            if flow.packetsAB != 0 {
                IPFIXFlowEncoding.write(flow, reverse: false, to: at)
                at += recordLength
            }
            if flow.packetsBA != 0 { IPFIXFlowEncoding.write(flow, reverse: true, to: at) }
            source.removeFlow()
            summary.flows &+= 1
            summary.flowRecords &+= count
            summary.packets = Self.saturatingAdd(summary.packets, flow.totalPackets)
            summary.octets = Self.saturatingAdd(summary.octets, flow.totalOctets)
        }
        counters.flows &+= UInt64(summary.flows)
        counters.emptyFlows &+= UInt64(summary.emptyFlows)
        if w.isEmpty { return summary }  // byteCount 0: nothing to send
        Self.finish(
            &w, stream: &streams[index], counters: &counters, summary: &summary, withTemplates: withTemplates, now: now)
        streams[index].exportedMessages &+= 1
        streams[index].exportedFlowRecords &+= UInt64(summary.flowRecords)
        streams[index].exportedOctets &+= UInt64(summary.byteCount)
        return summary
    }

    /// Makes a statistics round due now (the exporter's last, as it stops),
    /// unless one is under way.
    public mutating func requestStatistics() {
        if statisticsCursor < 0 { statisticsSent = false }
    }

    /// Whether `nextStatisticsMessage` would write something now.
    public func statisticsDue(now: Int64) -> Bool {
        if statisticsCursor >= 0 { return true }
        if configuration.statisticsSeconds == 0 { return false }
        return !statisticsSent
            || Self.elapsed(since: statisticsSentAt, now: now, seconds: configuration.statisticsSeconds)
    }

    /// Writes the next message of the statistics round when one is due: in the statistics
    /// domain, the options templates when due, then the exporting process reliability record
    /// (RFC 7011 section 4.3), then for each observation domain its metering process
    /// statistics (4.1) and reliability statistics (4.2). A round that does not fit in one
    /// message goes on in the next call; call until `byteCount` is 0.
    /// - Parameters:
    ///   - buffer: at least `configuration.maximumMessageLength` bytes.
    ///   - now: the wall clock in nanoseconds since the epoch.
    /// - Returns: what the message holds; `byteCount` is 0 when no statistics are due.
    /// - Throws: `bufferTooSmall`, having written nothing.
    /// - Cost: no allocation.
    public mutating func nextStatisticsMessage(into buffer: UnsafeMutableRawBufferPointer, now: Int64)
        throws(IPFIXExportError) -> IPFIXMessageSummary
    {
        guard let base = buffer.baseAddress, buffer.count >= configuration.maximumMessageLength else {
            throw .bufferTooSmall(buffer.count)
        }
        guard statisticsDue(now: now) else { return IPFIXMessageSummary() }
        var w = IPFIXMessageWriter(base: base, limit: configuration.maximumMessageLength)
        var summary = IPFIXMessageSummary()
        let withTemplates = templatesDue(statistics, now: now)
        if withTemplates {
            for template in IPFIX.optionsTemplates {
                if w.appendTemplate(template, set: IPFIX.optionsTemplateSetID) { summary.templateRecords &+= 1 }
                w.closeSet()  // one per set: nfcapd 1.7.1 reads only the first options template of a set
            }
        }
        if statisticsCursor < 0 {
            statisticsCursor = 0
            statisticsSent = true
            statisticsSentAt = now
            let length = IPFIX.exportingReliabilityTemplate.recordLength
            if let p = w.reserve(set: IPFIX.exportingReliabilityTemplateID, byteCount: length) {
                var f = IPFIXFieldWriter(p)
                f.put32(configuration.exportingProcessID)
                f.put64(counters.notSentFlowRecords)
                f.put64(counters.notSentPackets)
                f.put64(counters.notSentOctets)
                f.put64(IPFIXFlowEncoding.milliseconds(firstNotSent ?? 0))
                f.put64(IPFIXFlowEncoding.milliseconds(lastNotSent ?? 0))
                summary.optionsRecords &+= 1
            }
        }
        // As many domains as fit, each with both records: a set of 4.1 records, then a set of 4.2.
        let statLength = IPFIX.meteringStatisticsTemplate.recordLength
        let reliabilityLength = IPFIX.meteringReliabilityTemplate.recordLength
        let room = w.free &- 2 &* IPFIX.setHeaderLength
        let fit = room > 0 ? room / (statLength &+ reliabilityLength) : 0
        let end = min(streams.count, statisticsCursor &+ fit)
        if end > statisticsCursor {
            let n = end &- statisticsCursor
            if let p = w.reserve(set: IPFIX.meteringStatisticsTemplateID, byteCount: n &* statLength) {
                var f = IPFIXFieldWriter(p)
                for s in streams[statisticsCursor..<end] {
                    f.put32(s.domain)
                    f.put64(s.exportedMessages)
                    f.put64(s.exportedFlowRecords)
                    f.put64(s.exportedOctets)
                }
                summary.optionsRecords &+= n
            }
            if let p = w.reserve(set: IPFIX.meteringReliabilityTemplateID, byteCount: n &* reliabilityLength) {
                var f = IPFIXFieldWriter(p)
                for s in streams[statisticsCursor..<end] {
                    f.put32(s.domain)
                    f.put64(s.ignoredPackets)
                    f.put64(s.ignoredOctets)
                    f.put64(IPFIXFlowEncoding.milliseconds(s.firstIgnored ?? 0))
                    f.put64(IPFIXFlowEncoding.milliseconds(s.lastIgnored ?? 0))
                }
                summary.optionsRecords &+= n
            }
        }
        statisticsCursor = end >= streams.count ? -1 : end
        Self.finish(
            &w, stream: &statistics, counters: &counters, summary: &summary, withTemplates: withTemplates, now: now)
        return summary
    }

    /// Tells the session that a message it wrote was not sent (the send failed): its flow
    /// records, packets and octets count as not sent (RFC 7011 section 4.3) instead of exported.
    /// Its sequence numbers stay used, so the collector sees the loss.
    public mutating func messageNotSent(_ summary: IPFIXMessageSummary, now: Int64) {
        guard summary.byteCount > 0 else { return }
        counters.notSentMessages &+= 1
        // The summary's fields are public: clamp rather than trap on a forged negative count.
        let flowRecords = UInt64(clamping: summary.flowRecords)
        if streams.indices.contains(summary.domainIndex) {
            let i = summary.domainIndex
            streams[i].exportedMessages = Self.saturatingSubtract(streams[i].exportedMessages, 1)
            streams[i].exportedFlowRecords = Self.saturatingSubtract(streams[i].exportedFlowRecords, flowRecords)
            streams[i].exportedOctets = Self.saturatingSubtract(
                streams[i].exportedOctets, UInt64(clamping: summary.byteCount))
        }
        if flowRecords > 0 {
            flowsNotSent(records: flowRecords, packets: summary.packets, octets: summary.octets, now: now)
        }
    }

    /// Counts flow records that were dropped before export (a full export ring), for the
    /// exporting process reliability statistics (RFC 7011 section 4.3).
    /// - Parameter records: uniflow records (`FlowExportRecord.uniflowRecordCount` of each dropped flow).
    public mutating func flowsNotSent(records: UInt64, packets: UInt64, octets: UInt64, now: Int64) {
        counters.notSentFlowRecords = Self.saturatingAdd(counters.notSentFlowRecords, records)
        counters.notSentPackets = Self.saturatingAdd(counters.notSentPackets, packets)
        counters.notSentOctets = Self.saturatingAdd(counters.notSentOctets, octets)
        if firstNotSent == nil { firstNotSent = now }
        lastNotSent = now
    }

    /// Counts packets the metering process of domain `index` did not account to any flow (no
    /// page, malformed), for the metering process reliability statistics (RFC 7011 section 4.2).
    /// - Throws: `unknownDomain`.
    public mutating func packetsIgnored(domain index: Int, packets: UInt64, octets: UInt64, now: Int64)
        throws(IPFIXExportError)
    {
        guard streams.indices.contains(index) else { throw .unknownDomain(index) }
        streams[index].ignoredPackets = Self.saturatingAdd(streams[index].ignoredPackets, packets)
        streams[index].ignoredOctets = Self.saturatingAdd(streams[index].ignoredOctets, octets)
        if streams[index].firstIgnored == nil { streams[index].firstIgnored = now }
        streams[index].lastIgnored = now
    }

    // MARK: - Internals

    func templatesDue(_ stream: Stream, now: Int64) -> Bool {
        if !stream.templatesSent { return true }
        if configuration.templateRefreshMessages > 0
            && stream.messagesWithoutTemplates >= configuration.templateRefreshMessages
        {
            return true
        }
        if now < stream.templatesSentAt { return true }  // the clock stepped back
        return configuration.templateRefreshSeconds > 0
            && Self.elapsed(since: stream.templatesSentAt, now: now, seconds: configuration.templateRefreshSeconds)
    }

    /// Whether `seconds` have passed from `since` to `now` (true when the clock stepped back).
    static func elapsed(since: Int64, now: Int64, seconds: Int64) -> Bool {
        let (delta, overflow) = now.subtractingReportingOverflow(since)
        return overflow || delta < 0 || delta >= seconds &* 1_000_000_000
    }

    static func finish(
        _ w: inout IPFIXMessageWriter, stream: inout Stream, counters: inout IPFIXExportCounters,
        summary: inout IPFIXMessageSummary, withTemplates: Bool, now: Int64
    ) {
        let exportTime = now > 0 ? UInt32(truncatingIfNeeded: now / 1_000_000_000) : 0
        summary.observationDomain = stream.domain
        summary.sequenceNumber = stream.sequence
        summary.byteCount = w.finish(
            exportTime: exportTime, sequenceNumber: stream.sequence, observationDomain: stream.domain)
        stream.sequence &+= UInt32(truncatingIfNeeded: summary.dataRecords)
        if withTemplates {
            stream.templatesSent = true
            stream.templatesSentAt = now
            stream.messagesWithoutTemplates = 0
            counters.templateRefreshes &+= 1
        } else {
            stream.messagesWithoutTemplates &+= 1
        }
        counters.messages &+= 1
        counters.octets &+= UInt64(summary.byteCount)
        counters.flowRecords &+= UInt64(summary.flowRecords)
        counters.optionsRecords &+= UInt64(summary.optionsRecords)
        counters.templateRecords &+= UInt64(summary.templateRecords)
    }

    static func saturatingAdd(_ a: UInt64, _ b: UInt64) -> UInt64 {
        let (sum, overflow) = a.addingReportingOverflow(b)
        return overflow ? .max : sum
    }

    static func saturatingSubtract(_ a: UInt64, _ b: UInt64) -> UInt64 { a >= b ? a &- b : 0 }
}
