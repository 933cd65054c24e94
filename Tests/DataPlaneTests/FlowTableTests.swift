import DataPlane
import Packet
import Sinks
import Testing

/// A UDP/IPv4 flow key between 10.0.0.1:port and 10.0.0.2:53.
func udpKey(_ port: UInt16) -> FlowKey {
    FlowKey.canonical(
        version: 4, proto: 17, src0: 0, src1: 0x0A00_0001, srcPort: port, dst0: 0, dst1: 0x0A00_0002, dstPort: 53
    ).0
}

/// A TCP/IPv4 key, 10.0.0.1:port → 10.0.0.2:80, with whether 10.0.0.1 is A.
func tcpKey(_ port: UInt16) -> (FlowKey, Bool) {
    FlowKey.canonical(
        version: 4, proto: 6, src0: 0, src1: 0x0A00_0001, srcPort: port, dst0: 0, dst1: 0x0A00_0002, dstPort: 80)
}

/// Everything the export ring holds.
func drain(_ ring: FlowExportRing) -> [FlowExportRecord] {
    var out: [FlowExportRecord] = []
    while let r = ring.ring.pop() { out.append(r) }
    return out
}

/// Every test runs the table on an injected clock: `now` is whatever the
/// test says, in nanoseconds, as the packets' own clock in a replay.
@Suite("Flow table")
struct FlowTableTests {
    static let second: Int64 = 1_000_000_000
    static let timeouts = FlowTimeouts(idle: 10 * second, active: 60 * second, linger: 2 * second)

    @Test("a new key is created, the same key in either direction counts on it")
    func createAndCount() {
        var table = FlowTable(capacity: 64, timeouts: Self.timeouts)
        let key = udpKey(1000)
        #expect(table.update(key: key, forward: true, bytes: 100, octets: 86, tcpFlags: 0, now: 1) == .created)
        #expect(table.update(key: key, forward: false, bytes: 60, octets: 46, tcpFlags: 0, now: 2) == .existing)
        #expect(table.update(key: key, forward: true, bytes: 40, octets: 1400, tcpFlags: 0, now: 3) == .existing)
        #expect(table.count == 1)
        let flows = table.flows()
        #expect(flows.count == 1)
        #expect(flows[0].packetsAB == 2 && flows[0].packetsBA == 1)
        #expect(flows[0].bytesAB == 140 && flows[0].bytesBA == 60)
        // Octets are the IP layer's, whatever the snap length kept.
        #expect(flows[0].octetsAB == 1486 && flows[0].octetsBA == 46)
        #expect(flows[0].firstSeen == 1 && flows[0].lastSeen == 3)
    }

    @Test("keys that land on one slot probe past each other and are all found again")
    func probing() {
        var table = FlowTable(capacity: 64, timeouts: Self.timeouts)
        // The same hash for every key: they all start at one slot.
        let keys = (0..<20).map { udpKey(UInt16(2000 + $0)) }
        for k in keys {
            #expect(table.update(key: k, hash: 7, forward: true, bytes: 1, octets: 1, tcpFlags: 0, now: 1) == .created)
        }
        for k in keys {
            #expect(table.update(key: k, hash: 7, forward: true, bytes: 1, octets: 1, tcpFlags: 0, now: 2) == .existing)
        }
        #expect(table.count == 20)
        #expect(table.flows().allSatisfy { $0.packets == 2 })
    }

    @Test("idle timeout (1): a silent flow is a new one when its key comes back, and its record is exported")
    func idleOnReturn() {
        let ring = FlowExportRing(capacity: 64)
        var table = FlowTable(capacity: 64, timeouts: Self.timeouts, export: ring)
        let key = udpKey(3000)
        #expect(table.update(key: key, forward: true, bytes: 1, octets: 1, tcpFlags: 0, now: 1) == .created)
        #expect(
            table.update(key: key, forward: true, bytes: 1, octets: 1, tcpFlags: 0, now: 10 * Self.second) == .existing)
        #expect(
            table.update(key: key, forward: true, bytes: 1, octets: 1, tcpFlags: 0, now: 21 * Self.second)
                == .createdAfterEnd)
        #expect(table.ended(.idleTimeout) == 1)
        #expect(table.flows().first?.packets == 1)
        let records = drain(ring)
        #expect(records.count == 1)
        #expect(records.first?.endReason == .idleTimeout)
        #expect(records.first?.packetsAB == 2)
        #expect(records.first?.firstAB == 1 && records.first?.lastAB == 10 * Self.second)
    }

    @Test("idle timeout (1) by the sweep alone: an idle link still ends its flows, and probe chains survive")
    func sweepIdle() {
        let ring = FlowExportRing(capacity: 64)
        var table = FlowTable(capacity: 16, timeouts: Self.timeouts, export: ring)
        // Three keys on one chain (the same hash); the middle one goes idle.
        let a = udpKey(1)
        let b = udpKey(2)
        let c = udpKey(3)
        for k in [a, b, c] {
            _ = table.update(key: k, hash: 5, forward: true, bytes: 1, octets: 1, tcpFlags: 0, now: 1)
        }
        _ = table.update(key: a, hash: 5, forward: true, bytes: 1, octets: 1, tcpFlags: 0, now: 9 * Self.second)
        _ = table.update(key: c, hash: 5, forward: true, bytes: 1, octets: 1, tcpFlags: 0, now: 9 * Self.second)
        // No packet at all from here: only the timer.
        table.sweep(now: 10 * Self.second + 2, slots: 16)
        #expect(table.count == 2)
        #expect(table.ended(.idleTimeout) == 1)
        // c, behind the removed b on the chain, is still found.
        #expect(
            table.update(key: c, hash: 5, forward: true, bytes: 1, octets: 1, tcpFlags: 0, now: 10 * Self.second)
                == .existing)
        let records = drain(ring)
        #expect(records.count == 1)
        #expect(records.first?.portA == 2 || records.first?.portB == 2)
        table.sweep(now: 30 * Self.second, slots: 16)
        #expect(table.count == 0)
        #expect(table.ended(.idleTimeout) == 3)
        #expect(drain(ring).count == 2)
    }

    @Test("a sweep in small steps visits every slot in turn")
    func sweepInSteps() {
        var table = FlowTable(capacity: 1024, timeouts: Self.timeouts)
        for i in 0..<500 {
            _ = table.update(key: udpKey(UInt16(10_000 + i)), forward: true, bytes: 1, octets: 1, tcpFlags: 0, now: 1)
        }
        // A removal looks at its slot again (a later entry may move in), so
        // a pass may take a few more visits than there are slots.
        var visited = 0
        while visited < table.capacity + 500 {
            visited += table.sweep(now: 11 * Self.second, slots: 7)
        }
        #expect(table.count == 0)
        #expect(table.ended(.idleTimeout) == 500)
    }

    @Test("active timeout (2): a long flow is cut into records that sum to the whole, and goes on")
    func activeTimeout() {
        let ring = FlowExportRing(capacity: 64)
        var table = FlowTable(capacity: 64, timeouts: Self.timeouts, export: ring)
        let key = udpKey(4000)
        // One packet each way every second for 200 s.
        var sent: (ab: UInt64, ba: UInt64, octets: UInt64) = (0, 0, 0)
        for t in 0..<200 {
            let now = Int64(t) * Self.second + 1
            _ = table.update(key: key, forward: true, bytes: 100, octets: 100, tcpFlags: 0, now: now)
            _ = table.update(key: key, forward: false, bytes: 50, octets: 50, tcpFlags: 0, now: now + 1000)
            sent.ab += 1
            sent.ba += 1
            sent.octets += 150
            if t % 10 == 0 { table.sweep(now: now, slots: 64) }
        }
        #expect(table.count == 1)
        table.flushAll()
        let records = drain(ring)
        #expect(records.filter { $0.endReason == .activeTimeout }.count == table.ended(.activeTimeout))
        #expect(table.ended(.activeTimeout) == 3)
        #expect(records.last?.endReason == .forcedEnd)
        #expect(records.reduce(0) { $0 + $1.packetsAB } == sent.ab)
        #expect(records.reduce(0) { $0 + $1.packetsBA } == sent.ba)
        #expect(records.reduce(0) { $0 + $1.octetsAB + $1.octetsBA } == sent.octets)
        // Each record covers its own span, no packet twice.
        for (x, y) in zip(records, records.dropFirst()) { #expect(x.lastBA < y.firstAB) }
        for r in records.dropLast() { #expect(r.lastAB - r.firstAB <= 61 * Self.second) }
    }

    @Test("end of flow (3): FIN both ways, then the linger; the last ACK still counts")
    func tcpFinLinger() {
        let ring = FlowExportRing(capacity: 64)
        var table = FlowTable(capacity: 64, timeouts: Self.timeouts, export: ring)
        let (key, clientIsA) = tcpKey(5000)
        let s = Self.second
        _ = table.update(key: key, forward: clientIsA, bytes: 60, octets: 60, tcpFlags: 0x02, now: 1)  // SYN
        _ = table.update(key: key, forward: !clientIsA, bytes: 60, octets: 60, tcpFlags: 0x12, now: 2)  // SYN-ACK
        _ = table.update(key: key, forward: clientIsA, bytes: 60, octets: 60, tcpFlags: 0x11, now: 3)  // FIN-ACK
        table.sweep(now: 5 * s, slots: 64)
        #expect(table.count == 1, "one FIN is not the end")
        _ = table.update(key: key, forward: !clientIsA, bytes: 60, octets: 60, tcpFlags: 0x11, now: 5 * s)  // FIN-ACK
        _ = table.update(key: key, forward: clientIsA, bytes: 60, octets: 60, tcpFlags: 0x10, now: 5 * s + 10)  // ACK
        table.sweep(now: 6 * s, slots: 64)
        #expect(table.count == 1, "the linger keeps it for the last ACKs")
        table.sweep(now: 7 * s + 11, slots: 64)
        #expect(table.count == 0)
        #expect(table.ended(.endOfFlowDetected) == 1)
        let records = drain(ring)
        #expect(records.count == 1)
        guard let r = records.first else { return }
        #expect(r.endReason == .endOfFlowDetected)
        #expect(r.packetsAB + r.packetsBA == 5)
        let client = clientIsA ? r.tcpFlagsAB : r.tcpFlagsBA
        let server = clientIsA ? r.tcpFlagsBA : r.tcpFlagsAB
        #expect(client == 0x13 && server == 0x13)
    }

    @Test("end of flow (3): an RST ends it after the linger; the key is a new flow after that")
    func tcpReset() {
        let ring = FlowExportRing(capacity: 64)
        var table = FlowTable(capacity: 64, timeouts: Self.timeouts, export: ring)
        let (key, clientIsA) = tcpKey(5001)
        _ = table.update(key: key, forward: clientIsA, bytes: 60, octets: 60, tcpFlags: 0x02, now: 1)
        _ = table.update(key: key, forward: !clientIsA, bytes: 60, octets: 60, tcpFlags: 0x14, now: 2)  // RST-ACK
        // The same 4-tuple reused 3 s later: the old flow ended, a new one starts.
        #expect(
            table.update(key: key, forward: clientIsA, bytes: 60, octets: 60, tcpFlags: 0x02, now: 3 * Self.second)
                == .createdAfterEnd)
        #expect(table.ended(.endOfFlowDetected) == 1)
        #expect(drain(ring).map(\.endReason) == [.endOfFlowDetected])
    }

    @Test("forced end (4): a flush ends every flow and empties the table")
    func forced() {
        let ring = FlowExportRing(capacity: 64)
        var table = FlowTable(capacity: 64, timeouts: Self.timeouts, export: ring)
        for i in 0..<10 {
            _ = table.update(key: udpKey(UInt16(6000 + i)), forward: true, bytes: 1, octets: 1, tcpFlags: 0, now: 1)
        }
        table.flushAll()
        #expect(table.count == 0)
        #expect(table.ended(.forcedEnd) == 10)
        #expect(drain(ring).filter { $0.endReason == .forcedEnd }.count == 10)
        // The table works on afterwards.
        #expect(table.update(key: udpKey(6000), forward: true, bytes: 1, octets: 1, tcpFlags: 0, now: 2) == .created)
    }

    @Test("lack of resources (5): a full table evicts the least recently seen flow, exports it, loses no count")
    func eviction() {
        let ring = FlowExportRing(capacity: 64)
        var table = FlowTable(capacity: 16, timeouts: Self.timeouts, export: ring)
        var outcomes: [FlowUpdate] = []
        for i in 0..<32 {
            outcomes.append(
                table.update(
                    key: udpKey(UInt16(7000 + i)), forward: true, bytes: 10, octets: 10, tcpFlags: 0,
                    now: Int64(i + 1)))
        }
        // New flows fill 7/8 of the slots; each one after evicts.
        #expect(outcomes.filter { $0 == .created }.count == 14)
        #expect(outcomes.filter { $0 == .createdAfterEviction }.count == 18)
        #expect(table.count == 14)
        #expect(table.ended(.lackOfResources) == 18)
        let records = drain(ring)
        #expect(records.count == 18)
        #expect(records.allSatisfy { $0.endReason == .lackOfResources })
        // Every packet is in a record or in the table.
        table.flushAll()
        let all = records + drain(ring)
        #expect(all.reduce(0) { $0 + $1.packetsAB } == 32)
        #expect(all.reduce(0) { $0 + $1.octetsAB } == 320)
        #expect(Set(all.map { $0.portA == 53 ? $0.portB : $0.portA }).count == 32)
    }

    @Test("the evicted flow is the least recently seen on the probe path")
    func evictionChoosesOldest() {
        var table = FlowTable(capacity: 16, timeouts: Self.timeouts)
        let keys = (0..<14).map { udpKey(UInt16(8000 + $0)) }
        for (i, k) in keys.enumerated() {
            _ = table.update(key: k, hash: 3, forward: true, bytes: 1, octets: 1, tcpFlags: 0, now: Int64(100 + i))
        }
        // Touch all but keys[5] later: keys[5] is the oldest.
        for (i, k) in keys.enumerated() where i != 5 {
            _ = table.update(key: k, hash: 3, forward: true, bytes: 1, octets: 1, tcpFlags: 0, now: 1000)
        }
        #expect(
            table.update(key: udpKey(9000), hash: 3, forward: true, bytes: 1, octets: 1, tcpFlags: 0, now: 2000)
                == .createdAfterEviction)
        #expect(!table.flows().contains { $0.key == keys[5] })
        #expect(table.count == 14)
    }

    @Test("a full export ring drops records, counted, and the table never waits")
    func fullRing() {
        let ring = FlowExportRing(capacity: 16)
        var table = FlowTable(capacity: 256, timeouts: Self.timeouts, export: ring)
        for i in 0..<100 {
            _ = table.update(key: udpKey(UInt16(9000 + i)), forward: true, bytes: 1, octets: 1, tcpFlags: 0, now: 1)
        }
        table.flushAll()
        #expect(table.exported == 16)
        #expect(table.exportDropped == 84)
        #expect(drain(ring).count == 16)
    }

    @Test("the same 5-tuple on two VLANs is two flows")
    func keys() {
        var table = FlowTable(capacity: 64, timeouts: Self.timeouts)
        func key(vlan: UInt16) -> FlowKey {
            FlowKey.canonical(
                version: 4, proto: 17, src0: 0, src1: 0x0A00_0001, srcPort: 53, dst0: 0, dst1: 0x0A00_0002,
                dstPort: 53, vlan: vlan
            ).0
        }
        let k10 = key(vlan: 10)
        let k20 = key(vlan: 20)
        #expect(k10.vlan == 10 && k20.vlan == 20)
        #expect(table.update(key: k10, forward: true, bytes: 1, octets: 1, tcpFlags: 0, now: 1) == .created)
        #expect(table.update(key: k20, forward: true, bytes: 1, octets: 1, tcpFlags: 0, now: 1) == .created)
        #expect(table.count == 2)
    }

    @Test("top flows by bytes and by packets, biggest first")
    func top() {
        var table = FlowTable(capacity: 64, timeouts: Self.timeouts)
        for i in 0..<10 {
            for _ in 0...i {
                _ = table.update(
                    key: udpKey(UInt16(5000 + i)), forward: true, bytes: 100 - i * 9, octets: 1, tcpFlags: 0, now: 1)
            }
        }
        let buffer = UnsafeMutablePointer<FlowRecord>.allocate(capacity: 3)
        defer { buffer.deallocate() }
        #expect(table.top(3, byPackets: true, into: buffer) == 3)
        #expect([buffer[0].packets, buffer[1].packets, buffer[2].packets] == [10, 9, 8])
        #expect(table.top(3, byPackets: false, into: buffer) == 3)
        #expect(buffer[0].bytes >= buffer[1].bytes && buffer[1].bytes >= buffer[2].bytes)
    }
}
