import Sinks
import Synchronization

/// A worker's ring of ended flows, drained by the exporter thread: the
/// worker pushes plain records and never waits; a full ring is a counted
/// drop.
public final class FlowExportRing: @unchecked Sendable {
    public let ring: SPSCRing<FlowExportRecord>
    /// What the ring had no room for: uniflow records, packets and octets
    /// (written by the worker, read by the exporter for the not-sent
    /// statistics of RFC 7011 section 4.3).
    let droppedRecords = Atomic<Int>(0)
    let droppedPackets = Atomic<Int>(0)
    let droppedOctets = Atomic<Int>(0)

    public init(capacity: Int) {
        ring = SPSCRing(capacity: capacity)
    }

    /// Worker side: counts a record that found the ring full.
    @usableFromInline
    func dropped(_ r: FlowExportRecord) {
        let records = (r.packetsAB > 0 ? 1 : 0) + (r.packetsBA > 0 ? 1 : 0)
        droppedRecords.store(droppedRecords.load(ordering: .relaxed) &+ records, ordering: .relaxed)
        droppedPackets.store(
            droppedPackets.load(ordering: .relaxed) &+ Int(truncatingIfNeeded: r.packetsAB &+ r.packetsBA),
            ordering: .relaxed)
        droppedOctets.store(
            droppedOctets.load(ordering: .relaxed) &+ Int(truncatingIfNeeded: r.octetsAB &+ r.octetsBA),
            ordering: .relaxed)
    }

    /// Exporter side: what was dropped in all.
    var droppedTotals: (records: Int, packets: Int, octets: Int) {
        (
            droppedRecords.load(ordering: .relaxed), droppedPackets.load(ordering: .relaxed),
            droppedOctets.load(ordering: .relaxed)
        )
    }
}
