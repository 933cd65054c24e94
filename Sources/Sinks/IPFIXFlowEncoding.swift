/// Writes the uniflow data records of `IPFIX.ipv4FlowTemplate` and
/// `IPFIX.ipv6FlowTemplate`: fixed stores in template order, no branches but
/// the version and the direction.
enum IPFIXFlowEncoding {
    /// Bytes of an IPv4 uniflow record (the sum of `IPFIX.ipv4FlowTemplate`'s fields).
    static let ipv4RecordLength = 56
    /// Bytes of an IPv6 uniflow record.
    static let ipv6RecordLength = 80

    /// The template id and record length for a flow's IP version.
    @inline(__always)
    static func layout(_ version: FlowIPVersion) -> (templateID: UInt16, recordLength: Int) {
        version == .v4 ? (IPFIX.ipv4FlowTemplateID, ipv4RecordLength) : (IPFIX.ipv6FlowTemplateID, ipv6RecordLength)
    }

    /// Milliseconds since the epoch from nanoseconds since the epoch; 0 for times before it.
    @inline(__always)
    static func milliseconds(_ nanoseconds: Int64) -> UInt64 {
        nanoseconds > 0 ? UInt64(nanoseconds / 1_000_000) : 0
    }

    /// Writes the record of one direction of `flow` at `p`.
    /// - Parameters:
    ///   - reverse: false for A→B (A is the source), true for B→A (B is the source, ports swapped).
    ///   - p: room for `layout(flow.version).recordLength` bytes.
    /// - Cost: a few dozen stores; no allocation.
    static func write(_ flow: FlowExportRecord, reverse: Bool, to p: UnsafeMutableRawPointer) {
        var w = IPFIXFieldWriter(p)
        let isICMP = flow.ipProtocol == 1 || flow.ipProtocol == 58
        let (s0, s1, d0, d1) =
            reverse
            ? (flow.addressB0, flow.addressB1, flow.addressA0, flow.addressA1)
            : (flow.addressA0, flow.addressA1, flow.addressB0, flow.addressB1)
        if flow.version == .v4 {
            w.put32(UInt32(truncatingIfNeeded: s1))
            w.put32(UInt32(truncatingIfNeeded: d1))
        } else {
            w.put64(s0)
            w.put64(s1)
            w.put64(d0)
            w.put64(d1)
        }
        // ICMP has no ports: nfcapd would read a nonzero source port as a
        // Cisco-style type/code, so they are 0 and the type/code has its own field.
        w.put16(isICMP ? 0 : (reverse ? flow.portB : flow.portA))
        w.put16(isICMP ? (reverse ? flow.icmpTypeCodeBA : flow.icmpTypeCodeAB) : 0)
        w.put16(isICMP ? 0 : (reverse ? flow.portA : flow.portB))
        w.put8(flow.ipProtocol)
        w.put16(UInt16(flow.ipProtocol == 6 ? (reverse ? flow.tcpFlagsBA : flow.tcpFlagsAB) : 0))
        w.put64(reverse ? flow.octetsBA : flow.octetsAB)
        w.put64(reverse ? flow.packetsBA : flow.packetsAB)
        w.put64(milliseconds(reverse ? flow.firstBA : flow.firstAB))
        w.put64(milliseconds(reverse ? flow.lastBA : flow.lastAB))
        w.put8(flow.endReason.rawValue)
        w.put16(flow.vlanID & 0x0FFF)
        w.put32(flow.ingressInterface)
    }
}
