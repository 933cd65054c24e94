import CRoomsSupport
import Capture
import DataPlane
import Logging
import Rooms
import ServiceLifecycle
import StatsProtocol
import Synchronization
import Syscalls
import UnixSignals

#if canImport(Glibc)
import Glibc
#endif

extension Daemon {
    /// SIGHUP: re-reads the file and applies what can change live; refuses
    /// (with a log line) what cannot. A file that does not parse changes
    /// nothing.
    static func reload(path: String, state: DaemonState, logger: inout Logger) async {
        let old = state.config
        let new: DaemonConfiguration
        do {
            new = try DaemonConfiguration.load(path: path)
        } catch {
            logger.error("reload refused, keeping the running configuration: \(error)")
            return
        }
        var applied = old
        var changes: [String] = []
        if new.daemon.logLevel != old.daemon.logLevel {
            applied.daemon.logLevel = new.daemon.logLevel
            JournalLogHandler.setLevel(new.daemon.logLevel.loggerLevel)
            logger.logLevel = new.daemon.logLevel.loggerLevel
            changes.append("daemon.log_level \(old.daemon.logLevel) → \(new.daemon.logLevel)")
        }
        if new.daemon.stopTimeout != old.daemon.stopTimeout {
            applied.daemon.stopTimeout = new.daemon.stopTimeout
            changes.append("daemon.stop_timeout \(old.daemon.stopTimeout) → \(new.daemon.stopTimeout)")
        }
        if new.daemon.maxRequestsPerSecond != old.daemon.maxRequestsPerSecond {
            applied.daemon.maxRequestsPerSecond = new.daemon.maxRequestsPerSecond
            state.requestBudget.perSecond = new.daemon.maxRequestsPerSecond
            changes.append(
                "daemon.max_requests_per_second \(old.daemon.maxRequestsPerSecond) → \(new.daemon.maxRequestsPerSecond)"
            )
        }
        if new.replay.pacing != old.replay.pacing {
            applied.replay.pacing = new.replay.pacing
            changes.append("replay pacing \(old.replay.pacing) → \(new.replay.pacing)")
        }
        if new.replay.allowedDirectories != old.replay.allowedDirectories {
            applied.replay.allowedDirectories = new.replay.allowedDirectories
            let opened = AllowedDirectories(new.replay.allowedDirectories)
            for problem in opened.problems { logger.warning("\(problem)") }
            state.allowedDirectories = opened
            changes.append("replay.allowed_directories \(new.replay.allowedDirectories)")
        }
        if new.replay.maxGap != old.replay.maxGap {
            applied.replay.maxGap = new.replay.maxGap
            state.replay.maximumGap = new.replay.maximumGapNanoseconds
            changes.append("replay.max_gap \(old.replay.maxGap) → \(new.replay.maxGap) (from the next job)")
        }
        if new.replay.maxOpenJobs != old.replay.maxOpenJobs {
            applied.replay.maxOpenJobs = new.replay.maxOpenJobs
            changes.append("replay.max_open_jobs \(old.replay.maxOpenJobs) → \(new.replay.maxOpenJobs)")
        }
        if new.sources.map(\.filter) != old.sources.map(\.filter) && new.sources.count == old.sources.count {
            // Every new expression must compile before any worker sees it.
            var bad: String? = nil
            for source in new.sources {
                guard let filter = source.filter else { continue }
                do {
                    _ = try BPFProgram(filter, linkType: 1, snaplen: Int32(source.snaplen), interface: source.interface)
                } catch {
                    bad = "\(error)"
                    break
                }
            }
            if let bad {
                logger.error("reload: \(bad); keeping the running filters")
            } else {
                for i in new.sources.indices { applied.sources[i].filter = new.sources[i].filter }
                let generations = state.workers.map { $0.postFilters(new.sources.map(\.filter)) }
                let clock = ContinuousClock()
                let deadline = clock.now + .seconds(2)
                while zip(state.workers, generations).contains(where: { $0.appliedFilters < $1 && !$0.exited })
                    && clock.now < deadline
                {
                    // Cancelled: stop polling at once (not a spin until the deadline).
                    guard (try? await Task.sleep(for: .milliseconds(1))) != nil else { break }
                }
                changes.append(
                    "source filters ("
                        + new.sources.map { "\($0.interface): \($0.filter.map { "\"\($0)\"" } ?? "none")" }.joined(
                            separator: ", ") + ")")
            }
        }
        var refused: [String] = []
        if new.rooms != old.rooms { refused.append("[rooms]") }
        if new.workerCount != old.workerCount || new.workers.cpus != old.workers.cpus
            || new.workers.priority != old.workers.priority
            || new.workers.budget != old.workers.budget || new.workers.flowCapacity != old.workers.flowCapacity
            || new.workers.busyPoll != old.workers.busyPoll
            || new.workers.flowIdleTimeout != old.workers.flowIdleTimeout
            || new.workers.flowActiveTimeout != old.workers.flowActiveTimeout
            || new.workers.flowTCPLinger != old.workers.flowTCPLinger
            || new.workers.mlockall != old.workers.mlockall
        {
            refused.append("[workers]")
        }
        if new.replay.ring != old.replay.ring { refused.append("replay.ring") }
        var newIPFIX = new.ipfix
        newIPFIX.line = old.ipfix.line
        if newIPFIX != old.ipfix { refused.append("[ipfix]") }
        var newSink = new.sink
        newSink?.line = old.sink?.line ?? 0
        if newSink != old.sink { refused.append("[[sink]]") }
        var newMetrics = new.metrics
        newMetrics.line = old.metrics.line
        if newMetrics != old.metrics { refused.append("[metrics]") }
        if new.daemon.maxTaps != old.daemon.maxTaps || new.daemon.tapBuffer != old.daemon.tapBuffer {
            refused.append("daemon.max_taps and daemon.tap_buffer")
        }
        if new.daemon.socket != old.daemon.socket || new.daemon.socketGroup != old.daemon.socketGroup
            || new.daemon.socketMode != old.daemon.socketMode || new.daemon.maxClients != old.daemon.maxClients
            || new.daemon.clientsPerUser != old.daemon.clientsPerUser
            || new.daemon.reservedClients != old.daemon.reservedClients
            || new.replaySocketPath != old.replaySocketPath || new.daemon.adminGroup != old.daemon.adminGroup
        {
            refused.append("the stats socket settings")
        }
        if new.sources.count != old.sources.count
            || zip(new.sources, old.sources).contains(where: {
                $0.interface != $1.interface || $0.backend != $1.backend
            })
        {
            refused.append("[[source]] backends and interfaces")
        }
        state.config = applied
        for what in refused {
            logger.warning("reload: \(what) cannot change while running; restart the service to apply it")
        }
        logger.notice(
            "reloaded \(path): \(changes.isEmpty ? "nothing to change live" : changes.joined(separator: ", "))")
    }
}
