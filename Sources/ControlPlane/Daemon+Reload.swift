import Capture
import DataPlane
import Logging
import Rooms
import ServiceLifecycle
import StatsProtocol
import Synchronization
import Syscalls
import UnixSignals

extension Daemon {
    /// SIGHUP: re-reads the file and compares every key of the table
    /// (``ConfigKeys``). A changed live key is applied and logged by name; a
    /// changed key that needs a restart is refused by name, keeping its
    /// running value. A file that does not parse, is empty or looks
    /// truncated changes nothing.
    static func reload(path: String, state: DaemonState, logger: inout Logger) async {
        let old = state.config
        let new: DaemonConfiguration
        do {
            new = try DaemonConfiguration.load(path: path, reloading: true)
        } catch {
            logger.error("reload refused, keeping the running configuration: \(error)")
            return
        }
        var applied = old
        var done: [ConfigChange] = []
        var refused: [ConfigChange] = []
        let changes = ConfigChange.between(old, new)
        // Every new filter must compile before any worker sees one.
        let filters = changes.filter { $0.key.dotted == "source.filter" && $0.isLive(old, new) }
        let badFilter = filters.isEmpty ? nil : compileProblem(new.sources)
        for change in changes {
            guard change.isLive(old, new) else {
                refused.append(change)
                logger.warning(
                    "reload: refused \(change): it cannot change while running; restart the service to apply it")
                continue
            }
            if change.key.dotted == "source.filter", let badFilter {
                refused.append(change)
                logger.error("reload: refused \(change): \(badFilter); keeping the running filters")
                continue
            }
            change.key.copy(&applied, new, change.instance)
            done.append(change)
        }
        state.config = applied
        let names = Set(done.map(\.key.dotted))
        if names.contains("daemon.log_level") {
            JournalLogHandler.setLevel(applied.daemon.logLevel.loggerLevel)
            logger.logLevel = applied.daemon.logLevel.loggerLevel
        }
        if names.contains("daemon.max_requests_per_second") {
            state.requestBudget.perSecond = applied.daemon.maxRequestsPerSecond
        }
        if names.contains("replay.allowed_directories") {
            let opened = AllowedDirectories(applied.replay.allowedDirectories)
            for problem in opened.problems { logger.warning("\(problem)") }
            state.allowedDirectories = opened
        }
        if names.contains("replay.max_gap") { state.replay.maximumGap = applied.replay.maximumGapNanoseconds }
        if names.contains("source.filter") { await post(filters: applied.sources.map(\.filter), to: state) }
        // Said once in effect.
        for change in done { logger.notice("reload: applied \(change)") }
        func list(_ c: [ConfigChange]) -> String { c.map(\.name).joined(separator: ", ") }
        let summary =
            changes.isEmpty
            ? "nothing changed" : "\(done.count) applied (\(list(done))), \(refused.count) refused (\(list(refused)))"
        logger.notice("reloaded \(path): \(summary)")
    }

    /// The first source filter that does not compile, or nil.
    static func compileProblem(_ sources: [DaemonConfiguration.Source]) -> String? {
        for source in sources {
            guard let filter = source.filter else { continue }
            do {
                _ = try BPFProgram(filter, linkType: 1, snaplen: Int32(source.snaplen), interface: source.interface)
            } catch {
                return "\(error)"
            }
        }
        return nil
    }

    /// Hands the workers their new filters and waits (2 s at most) until
    /// each has attached them.
    static func post(filters: [String?], to state: DaemonState) async {
        let generations = state.workers.map { $0.postFilters(filters) }
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(2)
        while zip(state.workers, generations).contains(where: { $0.appliedFilters < $1 && !$0.exited })
            && clock.now < deadline
        {
            // Cancelled: stop polling at once (not a spin until the deadline).
            guard (try? await Task.sleep(for: .milliseconds(1))) != nil else { break }
        }
    }
}
