import DataPlane
import ForegroundRuns
import Rooms
import TestSupport

/// A replay configuration for tests: unlocked memory, small rooms.
func testConfiguration(workers: Int = 2) -> ReplayConfiguration {
    var c = ReplayConfiguration(workers: workers)
    c.lock = .off
    c.hugePages = .none
    c.pagesPerRoom = 1024
    c.cpus = []
    return c
}

func replay(_ files: [String], workers: Int = 2, configure: (inout ReplayConfiguration) -> Void = { _ in })
    async throws -> ReplayReport
{
    var c = testConfiguration(workers: workers)
    configure(&c)
    let (report, leaks) = try await ReplayRun.run(files: files, configuration: c)
    precondition(leaks.isClean, "\(leaks)")
    return report
}
