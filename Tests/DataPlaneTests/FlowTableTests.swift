import DataPlane
import Packet
import Testing

/// A UDP/IPv4 flow key between 10.0.0.1:port and 10.0.0.2:53.
func udpKey(_ port: UInt16) -> FlowKey {
    FlowKey.canonical(
        version: 4, proto: 17, src0: 0, src1: 0x0A00_0001, srcPort: port, dst0: 0, dst1: 0x0A00_0002, dstPort: 53
    ).0
}

@Suite("Flow table")
struct FlowTableTests {
    static let second: Int64 = 1_000_000_000

    @Test("a new key is created, the same key in either direction counts on it")
    func createAndCount() {
        var table = FlowTable(capacity: 64, idleTimeout: 10 * Self.second)
        let key = udpKey(1000)
        #expect(table.update(key: key, forward: true, bytes: 100, tcpFlags: 0, now: 1) == .created)
        #expect(table.update(key: key, forward: false, bytes: 60, tcpFlags: 0, now: 2) == .existing)
        #expect(table.update(key: key, forward: true, bytes: 40, tcpFlags: 0, now: 3) == .existing)
        #expect(table.count == 1)
        let flows = table.flows()
        #expect(flows.count == 1)
        #expect(flows[0].packetsAB == 2 && flows[0].packetsBA == 1)
        #expect(flows[0].bytesAB == 140 && flows[0].bytesBA == 60)
        #expect(flows[0].firstSeen == 1 && flows[0].lastSeen == 3)
    }

    @Test("keys that land on one slot probe past each other and are all found again")
    func probing() {
        var table = FlowTable(capacity: 64, idleTimeout: 10 * Self.second)
        // The same hash for every key: they all start at one slot.
        let keys = (0..<20).map { udpKey(UInt16(2000 + $0)) }
        for k in keys {
            #expect(table.update(key: k, hash: 7, forward: true, bytes: 1, tcpFlags: 0, now: 1) == .created)
        }
        for k in keys {
            #expect(table.update(key: k, hash: 7, forward: true, bytes: 1, tcpFlags: 0, now: 2) == .existing)
        }
        #expect(table.count == 20)
        #expect(table.flows().allSatisfy { $0.packets == 2 })
    }

    @Test("a flow silent for longer than the timeout is a new flow when its key comes back")
    func expiryOnReturn() {
        var table = FlowTable(capacity: 64, idleTimeout: 10 * Self.second)
        let key = udpKey(3000)
        #expect(table.update(key: key, forward: true, bytes: 1, tcpFlags: 0, now: 0) == .created)
        #expect(table.update(key: key, forward: true, bytes: 1, tcpFlags: 0, now: 10 * Self.second) == .existing)
        #expect(
            table.update(key: key, forward: true, bytes: 1, tcpFlags: 0, now: 21 * Self.second) == .createdAfterExpiry)
        #expect(table.expired == 1)
        #expect(table.flows().first?.packets == 1)
    }

    @Test("the sweep evicts idle flows on the packets' clock, and probe chains survive the removals")
    func sweep() {
        var table = FlowTable(capacity: 16, idleTimeout: Self.second)
        // Three keys on one chain; the middle one goes idle.
        let a = udpKey(1)
        let b = udpKey(2)
        let c = udpKey(3)
        for k in [a, b, c] { _ = table.update(key: k, hash: 5, forward: true, bytes: 1, tcpFlags: 0, now: 0) }
        // Keep a and c alive while b idles out and the sweep passes by.
        var now: Int64 = 0
        for _ in 0..<200 {
            now += Self.second / 10
            _ = table.update(key: a, hash: 5, forward: true, bytes: 1, tcpFlags: 0, now: now)
            _ = table.update(key: c, hash: 5, forward: true, bytes: 1, tcpFlags: 0, now: now)
        }
        #expect(table.expired >= 1)
        #expect(table.count == 2)
        // c, behind the removed b on the chain, is still found.
        #expect(table.update(key: c, hash: 5, forward: true, bytes: 1, tcpFlags: 0, now: now) == .existing)
        #expect(!table.flows().contains { $0.key == b })
    }

    @Test("a full table refuses new flows and keeps counting the old ones")
    func full() {
        var table = FlowTable(capacity: 16, idleTimeout: 100 * Self.second)
        var created = 0
        var refused = 0
        for i in 0..<32 {
            switch table.update(key: udpKey(UInt16(4000 + i)), forward: true, bytes: 1, tcpFlags: 0, now: 1) {
            case .created: created += 1
            case .full: refused += 1
            default: Issue.record("unexpected outcome")
            }
        }
        // New flows stop at 7/8 of the slots.
        #expect(created == 14)
        #expect(refused == 18)
        #expect(table.update(key: udpKey(4000), forward: false, bytes: 1, tcpFlags: 0, now: 2) == .existing)
    }

    @Test("top flows by bytes and by packets, biggest first")
    func top() {
        var table = FlowTable(capacity: 64, idleTimeout: 100 * Self.second)
        for i in 0..<10 {
            for _ in 0...i {
                _ = table.update(key: udpKey(UInt16(5000 + i)), forward: true, bytes: 100 - i * 9, tcpFlags: 0, now: 1)
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
