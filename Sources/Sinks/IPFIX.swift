/// IPFIX (RFC 7011) constants and the templates this exporter announces.
///
/// Every template is a fixed list of fixed-length fields, so every record of
/// a template has the same length and the encoder writes it with plain
/// stores, no per-record work but the values.
public enum IPFIX {
    /// The version number in every message header.
    public static let version: UInt16 = 10
    /// Bytes of a message header: version, length, export time, sequence number, observation domain.
    public static let messageHeaderLength = 16
    /// Bytes of a set header: set id and length.
    public static let setHeaderLength = 4
    /// The set id of a Template Set.
    public static let templateSetID: UInt16 = 2
    /// The set id of an Options Template Set.
    public static let optionsTemplateSetID: UInt16 = 3
    /// The largest message the 16-bit length field can describe.
    public static let maximumMessageLength = 65535

    /// One field of a template: an IANA information element and its length on the wire.
    @frozen
    public struct FieldSpecifier: Sendable, Equatable, CustomStringConvertible {
        public var elementID: UInt16
        public var length: UInt16
        public init(_ elementID: UInt16, _ length: UInt16) {
            self.elementID = elementID
            self.length = length
        }
        public var description: String { "\(elementID)/\(length)" }
    }

    /// A template: its id, how many of its leading fields are scope fields (options templates), and its fields.
    public struct Template: Sendable, Equatable {
        public var id: UInt16
        public var scopeFieldCount: Int
        public var fields: [FieldSpecifier]

        /// Bytes of every data record of this template.
        public var recordLength: Int { fields.reduce(0) { $0 + Int($1.length) } }
        /// Bytes of this template's record in a (Options) Template Set.
        public var templateRecordLength: Int { (scopeFieldCount > 0 ? 6 : 4) + 4 * fields.count }
    }

    /// IANA information element ids used here.
    public enum Element {
        public static let octetDeltaCount: UInt16 = 1
        public static let packetDeltaCount: UInt16 = 2
        public static let protocolIdentifier: UInt16 = 4
        public static let tcpControlBits: UInt16 = 6
        public static let sourceTransportPort: UInt16 = 7
        public static let sourceIPv4Address: UInt16 = 8
        public static let ingressInterface: UInt16 = 10
        public static let destinationTransportPort: UInt16 = 11
        public static let destinationIPv4Address: UInt16 = 12
        public static let sourceIPv6Address: UInt16 = 27
        public static let destinationIPv6Address: UInt16 = 28
        public static let icmpTypeCodeIPv4: UInt16 = 32
        public static let exportedOctetTotalCount: UInt16 = 40
        public static let exportedMessageTotalCount: UInt16 = 41
        public static let exportedFlowRecordTotalCount: UInt16 = 42
        public static let vlanId: UInt16 = 58
        public static let flowEndReason: UInt16 = 136
        public static let icmpTypeCodeIPv6: UInt16 = 139
        public static let exportingProcessId: UInt16 = 144
        public static let observationDomainId: UInt16 = 149
        public static let flowStartMilliseconds: UInt16 = 152
        public static let flowEndMilliseconds: UInt16 = 153
        public static let ignoredPacketTotalCount: UInt16 = 164
        public static let ignoredOctetTotalCount: UInt16 = 165
        public static let notSentFlowTotalCount: UInt16 = 166
        public static let notSentPacketTotalCount: UInt16 = 167
        public static let notSentOctetTotalCount: UInt16 = 168
        public static let observationTimeMilliseconds: UInt16 = 323
    }

    /// Template ids (data sets use them as set ids; 256 and up).
    public static let ipv4FlowTemplateID: UInt16 = 256
    public static let ipv6FlowTemplateID: UInt16 = 257
    public static let meteringStatisticsTemplateID: UInt16 = 258
    public static let meteringReliabilityTemplateID: UInt16 = 259
    public static let exportingReliabilityTemplateID: UInt16 = 260

    /// The uniflow record of an IPv4 flow direction: 56 bytes.
    ///
    /// icmpTypeCode comes before destinationTransportPort because nfcapd
    /// stores both in one slot and keeps the last: this way a protocol with
    /// ports other than TCP and UDP (SCTP, DCCP) keeps its destination port.
    /// tcpControlBits is the RFC 7125 unsigned16; nfcapd keeps its low byte.
    public static let ipv4FlowTemplate = Template(
        id: ipv4FlowTemplateID, scopeFieldCount: 0,
        fields: [
            FieldSpecifier(Element.sourceIPv4Address, 4),
            FieldSpecifier(Element.destinationIPv4Address, 4),
        ] + commonFlowFields(icmp: Element.icmpTypeCodeIPv4))

    /// The uniflow record of an IPv6 flow direction: 80 bytes.
    public static let ipv6FlowTemplate = Template(
        id: ipv6FlowTemplateID, scopeFieldCount: 0,
        fields: [
            FieldSpecifier(Element.sourceIPv6Address, 16),
            FieldSpecifier(Element.destinationIPv6Address, 16),
        ] + commonFlowFields(icmp: Element.icmpTypeCodeIPv6))

    static func commonFlowFields(icmp: UInt16) -> [FieldSpecifier] {
        [
            FieldSpecifier(Element.sourceTransportPort, 2),
            FieldSpecifier(icmp, 2),
            FieldSpecifier(Element.destinationTransportPort, 2),
            FieldSpecifier(Element.protocolIdentifier, 1),
            FieldSpecifier(Element.tcpControlBits, 2),
            FieldSpecifier(Element.octetDeltaCount, 8),
            FieldSpecifier(Element.packetDeltaCount, 8),
            FieldSpecifier(Element.flowStartMilliseconds, 8),
            FieldSpecifier(Element.flowEndMilliseconds, 8),
            FieldSpecifier(Element.flowEndReason, 1),
            FieldSpecifier(Element.vlanId, 2),
            FieldSpecifier(Element.ingressInterface, 4),
        ]
    }

    /// RFC 7011 section 4.1, the Metering Process Statistics Options Template:
    /// scope observationDomainId; what the Exporting Process sent for that
    /// domain (messages, flow records, octets). 28 bytes.
    public static let meteringStatisticsTemplate = Template(
        id: meteringStatisticsTemplateID, scopeFieldCount: 1,
        fields: [
            FieldSpecifier(Element.observationDomainId, 4),
            FieldSpecifier(Element.exportedMessageTotalCount, 8),
            FieldSpecifier(Element.exportedFlowRecordTotalCount, 8),
            FieldSpecifier(Element.exportedOctetTotalCount, 8),
        ])

    /// RFC 7011 section 4.2, the Metering Process Reliability Statistics
    /// Options Template: scope observationDomainId; packets and octets the
    /// Metering Process ignored, and the time of the first and the last
    /// (two observationTimeMilliseconds, 0 when none). 36 bytes.
    public static let meteringReliabilityTemplate = Template(
        id: meteringReliabilityTemplateID, scopeFieldCount: 1,
        fields: [
            FieldSpecifier(Element.observationDomainId, 4),
            FieldSpecifier(Element.ignoredPacketTotalCount, 8),
            FieldSpecifier(Element.ignoredOctetTotalCount, 8),
            FieldSpecifier(Element.observationTimeMilliseconds, 8),
            FieldSpecifier(Element.observationTimeMilliseconds, 8),
        ])

    /// RFC 7011 section 4.3, the Exporting Process Reliability Statistics
    /// Options Template: scope exportingProcessId; flow records, packets and
    /// octets that were not sent, and the time of the first and the last
    /// (two observationTimeMilliseconds, 0 when none). 44 bytes.
    public static let exportingReliabilityTemplate = Template(
        id: exportingReliabilityTemplateID, scopeFieldCount: 1,
        fields: [
            FieldSpecifier(Element.exportingProcessId, 4),
            FieldSpecifier(Element.notSentFlowTotalCount, 8),
            FieldSpecifier(Element.notSentPacketTotalCount, 8),
            FieldSpecifier(Element.notSentOctetTotalCount, 8),
            FieldSpecifier(Element.observationTimeMilliseconds, 8),
            FieldSpecifier(Element.observationTimeMilliseconds, 8),
        ])

    /// The data templates, in the order of the Template Set.
    public static let flowTemplates = [ipv4FlowTemplate, ipv6FlowTemplate]
    /// The options templates, in the order they are sent (each in its own Options Template Set).
    public static let optionsTemplates = [
        exportingReliabilityTemplate, meteringStatisticsTemplate, meteringReliabilityTemplate,
    ]

    /// Bytes of the Template Set that announces both flow templates: 124.
    public static let flowTemplateSetLength =
        setHeaderLength + flowTemplates.reduce(0) { $0 + $1.templateRecordLength }
    /// Bytes of the Options Template Sets, one per options template: 90.
    public static let optionsTemplateSetsLength =
        optionsTemplates.reduce(0) { $0 + setHeaderLength + $1.templateRecordLength }
}
