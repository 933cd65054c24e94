/// The arena's shape, as built: for the start-up log and `labyrinthctl rooms`.
public struct ArenaLayout: Sendable, Hashable, CustomStringConvertible {
    public var configuration: ArenaConfiguration
    public var baseAddress: UInt
    public var bytes: Int
    public var metadataBytes: Int
    /// "none", "transparent" or "hugetlb": what the mapping actually got.
    public var hugePages: String
    public var locked: Bool
    public var notes: [String]

    public var description: String {
        let c = configuration
        let marks = c.effectiveWatermarks
        let roomBytes = c.pagesPerRoom * Room.pageSize
        var lines: [String] = []
        lines.append(
            "arena: \(ByteCount(bytes)) at 0x\(String(baseAddress, radix: 16)), \(c.rooms) room\(c.rooms == 1 ? "" : "s") "
                + "of \(ByteCount(roomBytes)) (\(c.pagesPerRoom) pages of 4 KiB), hugepages: \(hugePages), "
                + "locked: \(locked ? "yes" : "no"), metadata \(ByteCount(metadataBytes))")
        lines.append(
            "per room: watermarks \(marks) pages (atomic reserve floor \(marks.atomicFloor)), "
                + "order-0 cache \(c.effectiveCacheCapacity) (batch \(c.effectiveCacheBatch)), orders 0...\(Room.maxOrder) "
                + "(\(c.pagesPerRoom / ArenaConfiguration.maxBlockPages) free order-\(Room.maxOrder) blocks at start)")
        lines.append("  room  worker  first page          last byte")
        for r in 0..<c.rooms {
            let first = baseAddress + UInt(r * roomBytes)
            let last = first + UInt(roomBytes) - 1
            lines.append(
                "  \(pad(r, 4))  \(pad(r, 6))  0x\(String(first, radix: 16))  0x\(String(last, radix: 16))")
        }
        for note in notes { lines.append("note: \(note)") }
        return lines.joined(separator: "\n")
    }

    private func pad(_ n: Int, _ width: Int) -> String {
        let s = String(n)
        return String(repeating: " ", count: max(0, width - s.count)) + s
    }
}
