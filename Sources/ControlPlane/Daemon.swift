import CRoomsSupport
import Capture
import DataPlane
import Logging
import Rooms
import UnixSignals

#if canImport(Glibc)
import Glibc
#endif

/// `labyrinthd run`: the foreground daemon under systemd or a terminal.
public enum Daemon {
    /// Exit codes, for systemd and scripts.
    public enum Exit: Int32 {
        case ok = 0
        case startFailed = 1
        case config = 78  // EX_CONFIG
        case leaked = 3
    }

    /// Runs until SIGTERM or SIGINT; returns the exit code.
    public static func run(configPath: String) async -> Int32 {
        LoggingSystem.bootstrap(JournalLogHandler.init)
        var logger = Logger(label: "labyrinthd")
        let config: DaemonConfiguration
        do {
            config = try DaemonConfiguration.load(path: configPath)
        } catch {
            logger.error("configuration refused: \(error)")
            return Exit.config.rawValue
        }
        JournalLogHandler.setLevel(config.daemon.logLevel.loggerLevel)
        logger.logLevel = config.daemon.logLevel.loggerLevel
        let notifier = SystemdNotifier()
        Self.raiseFileLimit()

        if config.workers.mlockall && mlockall(MCL_CURRENT | MCL_FUTURE) != 0 {
            logger.error(
                "workers.mlockall: \(String(cString: strerror(errno))) (needs CAP_IPC_LOCK or a high LimitMEMLOCK=)")
            return Exit.startFailed.rawValue
        }
        var socketGID: gid_t? = nil
        if let name = config.daemon.socketGroup {
            guard let gid = Self.groupID(name) else {
                logger.error("daemon.socket_group: no group named \"\(name)\" on this system")
                return Exit.config.rawValue
            }
            socketGID = gid
        }

        let arena: ArenaOwner
        do {
            arena = try ArenaOwner(config.arena)
        } catch {
            logger.error("\(error)")
            return Exit.startFailed.rawValue
        }
        logger.info("\(arena.arena.layout.description.split(separator: "\n").prefix(2).joined(separator: "; "))")
        for note in arena.arena.layout.notes { logger.warning("\(note)") }

        var options = WorkerOptions()
        options.budget = config.workers.budget
        options.busyPoll = config.workers.busyPoll
        options.flowCapacity = config.workers.flowCapacity
        options.idleTimeout = Int64(config.workers.flowIdleTimeout * 1e9)
        options.holdFrames = config.workers.holdFrames
        options.stallWorker = config.workers.stallWorker
        options.stallAfter = Int64(config.workers.stallAfterSeconds * 1e9)
        if config.workerCount + 1 > PinnedThread.currentAffinity.count { options.spinBeforeSleep = 0 }
        let cpus: [Int]? =
            config.workers.cpus
            ?? {
                let allowed = PinnedThread.currentAffinity
                return allowed.isEmpty ? nil : (0..<config.workerCount).map { allowed[$0 % allowed.count] }
            }()
        let pool: ReplayWorkerPool
        do {
            pool = try ReplayWorkerPool(
                rooms: arena.arena.rooms, cpus: cpus, fifoPriority: config.workers.priority, options: options,
                ringCapacity: config.replay.ring, sources: config.sources.map(\.liveOptions), limit: nil)
        } catch {
            logger.error("\(error)")
            return Exit.startFailed.rawValue
        }
        for source in config.sources {
            logger.info(
                "capturing on \(source.interface): \(source.backend.rawValue), fanout \(source.fanout.rawValue)\(source.filter.map { ", filter \"\($0)\"" } ?? "")"
            )
        }
        for note in pool.workers.flatMap(\.notes) { logger.warning("\(note)") }
        let replay = ReplayQueue(pool: pool)
        let replayThread: PinnedThread
        do {
            replayThread = try PinnedThread(name: "lab-replay") { replay.run() }
        } catch {
            logger.error("\(error)")
            _ = pool.finish()
            return Exit.startFailed.rawValue
        }
        let state = DaemonState(workers: pool.workers, rooms: arena.arena.rooms, replay: replay, configuration: config)
        let processor = CommandProcessor(state: state)

        let activated = SystemdNotifier.activatedSocket()
        let server: StatsServer
        do {
            server = try await StatsServer(
                path: config.daemon.socket, listeningSocket: activated, mode: config.daemon.socketMode, gid: socketGID,
                limits: StatsServerLimits(
                    maxClients: config.daemon.maxClients, requestMaxBytes: config.daemon.requestMaxBytes,
                    idleTimeout: .milliseconds(Int(config.daemon.clientIdleTimeout * 1000)),
                    requestTimeout: .milliseconds(Int(config.daemon.requestTimeout * 1000)), group: socketGID),
                processor: processor, logger: logger)
        } catch {
            logger.error("stats socket \(config.daemon.socket): \(error)")
            replay.stop()
            replayThread.join()
            _ = pool.finish()
            return Exit.startFailed.rawValue
        }
        logger.info("stats socket \(activated != nil ? "handed over by systemd (fd 3)" : config.daemon.socket)")
        // The control plane (this thread, the socket's event loop, the task
        // pool) stays off the workers' CPUs when any CPU is left over.
        let workerCPUs = Set(cpus ?? [])
        let controlCPUs = PinnedThread.currentAffinity.filter { !workerCPUs.contains($0) }
        if !controlCPUs.isEmpty && !workerCPUs.isEmpty {
            let moved = PinnedThread.confineOtherThreads(to: controlCPUs, exceptNamesStartingWith: "lab-")
            logger.info(
                "control plane (\(moved.count) threads) on CPUs \(controlCPUs.map(String.init).joined(separator: ",")), off the workers' CPUs"
            )
        }

        // READY=1 once every worker runs: each heartbeat has moved.
        let readyBy = lab_monotonic_ns() + 5_000_000_000
        while pool.workers.contains(where: { $0.heartbeat == 0 }) && lab_monotonic_ns() < readyBy {
            try? await Task.sleep(for: .milliseconds(5))
        }
        notifier.notify("READY=1\nSTATUS=\(Self.status(state, rates: nil))\nMAINPID=\(getpid())")
        logger.info(
            "running: \(config.workerCount) workers, pid \(getpid())\(notifier.watchdogPeriod.map { ", watchdog every \($0)" } ?? "")"
        )

        var housekeeping = Housekeeping(state: state, notifier: notifier, logger: logger)
        let signals = await UnixSignalsSequence(trapping: .sigterm, .sigint, .sighup)
        await withTaskGroup(of: Void.self) { group in
            let (ticks, tickContinuation) = AsyncStream<Void>.makeStream()
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .milliseconds(250))
                    tickContinuation.yield()
                }
                tickContinuation.finish()
            }
            let (events, eventContinuation) = AsyncStream<UnixSignal>.makeStream()
            group.addTask {
                for await signal in signals { eventContinuation.yield(signal) }
                eventContinuation.finish()
            }
            let merged = AsyncStream<UnixSignal?> { continuation in
                let a = Task { for await _ in ticks { continuation.yield(nil) } }
                let b = Task {
                    for await s in events { continuation.yield(s) }
                    continuation.finish()
                }
                continuation.onTermination = { _ in
                    a.cancel()
                    b.cancel()
                }
            }
            for await event in merged {
                switch event {
                case nil:
                    housekeeping.tick()
                case .sighup?:
                    notifier.notify("RELOADING=1\nMONOTONIC_USEC=\(lab_monotonic_ns() / 1000)")
                    Self.reload(path: configPath, state: state, logger: &logger)
                    notifier.notify("READY=1\nSTATUS=\(Self.status(state, rates: nil))")
                case let signal?:
                    logger.notice("\(signal): shutting down")
                    group.cancelAll()
                }
                if Task.isCancelled { break }
            }
        }

        // Shutdown: sources first, then the workers drain, then the leak check.
        notifier.notify("STOPPING=1\nSTATUS=stopping")
        await server.close()
        replay.stop()
        replayThread.join()
        let flows = pool.finish().reduce(0) { $0 + $1.count }
        let leaks = arena.arena.checkForLeaks()
        logger.info(
            "final counters",
            metadata: [
                "packets": "\(state.received)", "bytes": "\(state.total(.bytes))",
                "flows": "\(state.total(.flowsCreated))",
                "flows_in_tables": "\(flows)", "dropped_nomem": "\(state.total(.droppedNoMemory))",
                "rx_missed": "\(state.rxMissed)", "uptime_seconds": "\(Int(state.uptime))",
            ])
        if !leaks.isClean {
            logger.error("\(leaks)")
            return Exit.leaked.rawValue
        }
        logger.info("\(leaks)")
        return Exit.ok.rawValue
    }

    /// Lifts the soft limit on open files to the hard one (as systemd's
    /// default 1024 soft limit would otherwise cap the stats socket's
    /// clients well below what a burst of them needs to be refused politely).
    static func raiseFileLimit() {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
        limit.rlim_cur = limit.rlim_max
        _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    }

    /// The group's id (a name or a number), or nil.
    static func groupID(_ name: String) -> gid_t? {
        if let number = gid_t(name) { return number }
        var group = group()
        var result: UnsafeMutablePointer<group>? = nil
        var buffer = [CChar](repeating: 0, count: 16384)
        guard getgrnam_r(name, &group, &buffer, buffer.count, &result) == 0, result != nil else { return nil }
        return group.gr_gid
    }

    /// SIGHUP: re-reads the file and applies what can change live; refuses
    /// (with a log line) what cannot. A file that does not parse changes
    /// nothing.
    static func reload(path: String, state: DaemonState, logger: inout Logger) {
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
                let generation = state.workers.map { $0.postFilters(new.sources.map(\.filter)) }.max() ?? 0
                let deadline = lab_monotonic_ns() + 2_000_000_000
                while state.workers.contains(where: { $0.appliedFilters < generation && !$0.exited })
                    && lab_monotonic_ns() < deadline
                {
                    usleep(1000)
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
            || new.workers.mlockall != old.workers.mlockall
        {
            refused.append("[workers]")
        }
        if new.replay.ring != old.replay.ring { refused.append("replay.ring") }
        if new.daemon.socket != old.daemon.socket || new.daemon.socketGroup != old.daemon.socketGroup
            || new.daemon.socketMode != old.daemon.socketMode || new.daemon.maxClients != old.daemon.maxClients
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

    /// The STATUS= line: rates since the previous one.
    static func status(_ state: DaemonState, rates: (pps: Double, mbps: Double)?) -> String {
        let rooms = state.rooms.map(\.stats)
        let free = rooms.reduce(0) { $0 + $1.freePages }
        let pages = rooms.reduce(0) { $0 + $1.pages }
        var s = "\(state.workers.count) workers; \(state.received) packets"
        if let rates { s += " (\(Int(rates.pps)) pps, \(fixed(rates.mbps, 1)) Mbps)" }
        s += "; \(state.total(.flowsCreated)) flows; rooms \(pages > 0 ? free * 100 / pages : 0)% free"
        let drops = state.total(.droppedNoMemory) + state.rxMissed
        if drops > 0 { s += "; \(drops) dropped" }
        return s
    }
}

/// The daemon's periodic work: the watchdog, STATUS= lines and the deferred
/// "page allocation failure" log lines.
struct Housekeeping {
    let state: DaemonState
    let notifier: SystemdNotifier
    let logger: Logger
    var lastWatchdog: UInt64 = 0
    var lastStatus: UInt64 = 0
    var lastPackets = 0
    var lastBytes = 0
    var withheld = false
    /// Per room: failure warnings already logged.
    var warned: [Int]
    /// Rate limit: at most 10 failure lines per 5 s, like printk_ratelimit.
    var windowStart: UInt64 = 0
    var windowLines = 0
    var suppressed = 0

    init(state: DaemonState, notifier: SystemdNotifier, logger: Logger) {
        self.state = state
        self.notifier = notifier
        self.logger = logger
        warned = state.rooms.map { $0.failureWarning.count }
        lastStatus = lab_monotonic_ns()
    }

    mutating func tick() {
        let now = lab_monotonic_ns()
        if let period = notifier.watchdogPeriod {
            let (s, a) = period.components
            let periodNs = UInt64(s) * 1_000_000_000 + UInt64(a / 1_000_000_000)
            if now - lastWatchdog >= periodNs {
                lastWatchdog = now
                let stalled = state.stalledWorkers(after: 1.0)
                if stalled.isEmpty {
                    notifier.notify("WATCHDOG=1")
                    if withheld { logger.notice("every worker's heartbeat moves again: watchdog pings resumed") }
                    withheld = false
                } else if !withheld {
                    withheld = true
                    logger.error(
                        "worker(s) \(stalled.map(String.init).joined(separator: ", ")) stalled (heartbeat still for over 1 s): withholding WATCHDOG=1 so that systemd restarts the service"
                    )
                }
            }
        }
        let interval = UInt64(state.config.daemon.statusInterval * 1e9)
        if now - lastStatus >= interval {
            let seconds = Double(now - lastStatus) / 1e9
            let packets = state.received
            let bytes = state.total(.bytes)
            let rates = (Double(packets - lastPackets) / seconds, Double(bytes - lastBytes) * 8 / seconds / 1e6)
            notifier.notify("STATUS=\(Daemon.status(state, rates: rates))")
            lastStatus = now
            lastPackets = packets
            lastBytes = bytes
        }
        logAllocationFailures(now: now)
    }

    mutating func logAllocationFailures(now: UInt64) {
        if now - windowStart > 5_000_000_000 {
            if suppressed > 0 { logger.warning("page allocation failure: \(suppressed) callbacks suppressed") }
            windowStart = now
            windowLines = 0
            suppressed = 0
        }
        for (i, room) in state.rooms.enumerated() {
            let w = room.failureWarning
            let new = w.count - warned[i]
            guard new > 0 else { continue }
            warned[i] = w.count
            if windowLines < 10 {
                windowLines += 1
                logger.warning(
                    "page allocation failure: order:\(w.order), mode:\(w.mode), room:\(i)\(new > 1 ? " (\(new) failures)" : "")"
                )
            } else {
                suppressed += new
            }
        }
    }
}

/// The daemon's arena, held by a reference so that async code can keep it
/// for the daemon's whole life (the arena itself is noncopyable).
final class ArenaOwner: Sendable {
    let arena: Arena

    init(_ configuration: ArenaConfiguration) throws(ArenaError) {
        arena = try Arena(configuration)
    }
}
