/// How an IPFIX exporting session to one collector behaves.
public struct IPFIXExportConfiguration: Sendable, Equatable {
    /// The observation domains whose flows this session exports, addressed by index in
    /// `IPFIXExportSession.nextMessage(into:domain:from:now:)` (say, one per worker). Each has
    /// its own sequence number and its own template refresh.
    public var observationDomains: [UInt32]
    /// The observation domain of the messages that carry the exporter's statistics. RFC 7011
    /// section 3.1 asks for 0 when no single domain is relevant, as for exporting process
    /// statistics; the metering statistics name their domain in a scope field. Must not be one
    /// of `observationDomains`: options data records count in their stream's sequence number,
    /// and a separate stream keeps the flow streams' numbers what a collector that ignores
    /// these records (nfcapd) expects.
    public var statisticsDomain: UInt32
    /// The exportingProcessId scope of the exporting process reliability statistics.
    public var exportingProcessID: UInt32
    /// The largest IPFIX message, in bytes (the UDP payload). Default 1400, below any common path MTU.
    public var maximumMessageLength: Int
    /// Templates are sent again when this many seconds have passed since they were last sent
    /// in a stream; 0 turns the time trigger off. Default 60.
    public var templateRefreshSeconds: Int64
    /// Templates are sent again once this many messages went out in a stream without them;
    /// 0 turns the count trigger off. Default 100.
    public var templateRefreshMessages: Int
    /// The statistics are sent every this many seconds; 0 sends none. Default 60.
    public var statisticsSeconds: Int64

    /// The smallest `maximumMessageLength` accepted: a message with the flow templates and one
    /// IPv6 flow both ways (304 bytes).
    public static let minimumMessageLength =
        IPFIX.messageHeaderLength + IPFIX.flowTemplateSetLength + IPFIX.setHeaderLength + 2
        * IPFIXFlowEncoding.ipv6RecordLength

    public init(
        observationDomains: [UInt32] = [1], statisticsDomain: UInt32 = 0, exportingProcessID: UInt32 = 1,
        maximumMessageLength: Int = 1400, templateRefreshSeconds: Int64 = 60, templateRefreshMessages: Int = 100,
        statisticsSeconds: Int64 = 60
    ) {
        self.observationDomains = observationDomains
        self.statisticsDomain = statisticsDomain
        self.exportingProcessID = exportingProcessID
        self.maximumMessageLength = maximumMessageLength
        self.templateRefreshSeconds = templateRefreshSeconds
        self.templateRefreshMessages = templateRefreshMessages
        self.statisticsSeconds = statisticsSeconds
    }

    /// What is wrong with this configuration, or nil when nothing is.
    public var problem: IPFIXConfigurationError? {
        if observationDomains.isEmpty { return .noObservationDomain }
        for (i, d) in observationDomains.enumerated() {
            if d == statisticsDomain { return .statisticsDomainInUse(d) }
            if observationDomains[..<i].contains(d) { return .duplicateObservationDomain(d) }
        }
        if maximumMessageLength < Self.minimumMessageLength || maximumMessageLength > IPFIX.maximumMessageLength {
            return .maximumMessageLengthOutOfRange(maximumMessageLength)
        }
        let maxSeconds = Int64.max / 1_000_000_000
        if !(0...maxSeconds).contains(templateRefreshSeconds) {
            return .secondsOutOfRange("templateRefreshSeconds", templateRefreshSeconds)
        }
        if !(0...maxSeconds).contains(statisticsSeconds) {
            return .secondsOutOfRange("statisticsSeconds", statisticsSeconds)
        }
        if templateRefreshMessages < 0 { return .negativeMessageCount(templateRefreshMessages) }
        return nil
    }
}

/// Why an `IPFIXExportConfiguration` was refused.
public enum IPFIXConfigurationError: Error, Equatable, Sendable, CustomStringConvertible {
    case noObservationDomain
    case duplicateObservationDomain(UInt32)
    case statisticsDomainInUse(UInt32)
    case maximumMessageLengthOutOfRange(Int)
    case secondsOutOfRange(String, Int64)
    case negativeMessageCount(Int)

    public var description: String {
        switch self {
        case .noObservationDomain: return "ipfix: no observation domain"
        case .duplicateObservationDomain(let d): return "ipfix: observation domain \(d) is listed twice"
        case .statisticsDomainInUse(let d):
            return "ipfix: observation domain \(d) is the statistics domain; choose another for flows"
        case .maximumMessageLengthOutOfRange(let n):
            return
                "ipfix: maximum message length \(n) is outside \(IPFIXExportConfiguration.minimumMessageLength)...\(IPFIX.maximumMessageLength)"
        case .secondsOutOfRange(let key, let n): return "ipfix: \(key) \(n) is out of range"
        case .negativeMessageCount(let n): return "ipfix: templateRefreshMessages \(n) is negative"
        }
    }
}

/// Why an `IPFIXExportSession` call wrote nothing.
public enum IPFIXExportError: Error, Equatable, Sendable {
    /// The domain index is not one of the configuration's observation domains.
    case unknownDomain(Int)
    /// The buffer is smaller than the configured maximum message length.
    case bufferTooSmall(Int)
}
