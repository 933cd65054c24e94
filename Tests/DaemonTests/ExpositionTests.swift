import ControlPlane
import DataPlane
import Rooms
import Testing

/// The exposition is driven by tables: every counter a worker keeps and
/// every field of a room's statistics has a row, or a stated reason not to.
@Suite("The exposition's tables")
struct ExpositionTests {
    @Test("every worker counter is in a family, or said to be shown elsewhere")
    func workerCounters() {
        let shown = Exposition.workerFamilies.flatMap { $0.series.map(\.counter) }
        #expect(Set(shown).count == shown.count, "a counter in two series")
        for c in WorkerCounter.allCases {
            let elsewhere = Exposition.workerCountersElsewhere[c] != nil
            #expect(shown.contains(c) != elsewhere, "\(c): in the table \(shown.contains(c)), elsewhere \(elsewhere)")
        }
    }

    @Test("every field of RoomStats is in a family, or said to be shown elsewhere; the values are the fields'")
    func roomFields() throws {
        let arena = try Arena(
            ArenaConfiguration(
                rooms: 1, pagesPerRoom: 64, watermarks: Watermarks(min: 8, low: 10, high: 12), lock: .off,
                hugePages: .none, cacheCapacity: 16, cacheBatch: 4))
        let stats = arena.room(0).stats
        let fields = Set(Mirror(reflecting: stats).children.compactMap(\.label))
        let rows = Set(Exposition.roomFamilies.flatMap { $0.series.map(\.field) })
        let elsewhere = Set(Exposition.roomFieldsElsewhere.keys)
        #expect(rows.isDisjoint(with: elsewhere))
        #expect(fields == rows.union(elsewhere), "missing: \(fields.subtracting(rows.union(elsewhere)))")
        // A series reads its own field (the names are not only labels).
        for family in Exposition.roomFamilies {
            for s in family.series {
                let child = Mirror(reflecting: stats).children.first { $0.label == s.field }?.value
                switch child {
                case let v as Int: #expect(s.value(stats) == v, "\(family.name) \(s.labels)")
                case let vs as [Int]: #expect(vs.contains(s.value(stats)), "\(family.name) \(s.labels)")
                case let w as Watermarks: #expect([w.min, w.low, w.high].contains(s.value(stats)))
                default: Issue.record("\(family.name): \(s.field) is not a field")
                }
            }
        }
        #expect(Exposition.roomFamilies.first { $0.name == "labyrinth_room_pages" }?.series[0].value(stats) == 64)
    }
}
