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

#if canImport(Glibc)
import Glibc
#endif

/// `labyrinthd run`: the foreground daemon under systemd or a terminal.
public enum Daemon {
    /// Exit codes, for systemd and scripts.
    public enum Exit: Int32, Error {
        case ok = 0
        case startFailed = 1
        case config = 78  // EX_CONFIG
        case leaked = 3
    }

    /// Runs until SIGTERM or SIGINT; returns the exit code. The steps:
    /// configuration, process settings, the arena, the workers and the
    /// replay reader, the stats socket, READY=1, then a ``ServiceGroup``
    /// whose graceful shutdown (SIGTERM, SIGINT) leads to an orderly stop.
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
        let groups: (socket: gid_t?, admin: gid_t?)
        switch prepareProcess(config, logger: logger) {
        case .success(let g): groups = g
        case .failure(let exit): return exit.rawValue
        }
        let cpus = workerCPUs(config)
        let freeCPUs = PinnedThread.currentAffinity.filter { !(cpus ?? []).contains($0) }
        let options = workerOptions(config)
        let recorder: Recorder?
        switch prepareRecorder(config, logger: logger) {
        case .success(let r): recorder = r
        case .failure(let exit): return exit.rawValue
        }
        let taps =
            config.daemon.maxTaps > 0
            ? TapBoard(limit: config.daemon.maxTaps, ringBytes: config.daemon.tapBuffer, workers: config.workerCount)
            : nil
        // Arena, recording, workers, exporter: built in order, undone in
        // reverse if a stage fails (Pipeline), as the CLI's runs are.
        let helperCPUs = freeCPUs.isEmpty ? nil : freeCPUs
        var pipeline: Pipeline
        do {
            pipeline = try Pipeline(
                arena: config.arena, recorder: recorder, recorderCPUs: helperCPUs, workers: options, taps: taps,
                cpus: cpus,
                fifoPriority: config.workers.priority, ringCapacity: config.replay.ring,
                sources: config.sources.map(\.liveOptions),
                exporter: config.ipfix.options.map { export in
                    { pool in try FlowExporter(options: export, rings: pool.exportRings) }
                }, exporterCPUs: nil)
        } catch {
            switch (error.stage, error.error) {
            case (.exporter, let e as FlowExporter.ExportError):
                logger.error("[ipfix] (line \(config.ipfix.line)): \(e)")
                return Exit.config.rawValue
            case (.recorder, let e):
                logger.error("recording: \(e)")
            case (_, let e):
                logger.error("\(e)")
            }
            if let leaks = error.leaks, !leaks.isClean { logger.error("\(leaks)") }
            return Exit.startFailed.rawValue
        }
        let pool = pipeline.pool
        let exporter = pipeline.exporter
        logger.info("\(pipeline.arena.layout.description.split(separator: "\n").prefix(2).joined(separator: "; "))")
        for note in pipeline.arena.layout.notes { logger.warning("\(note)") }
        if let recorder {
            let r = recorder.options.naming.rotation
            let rotation =
                [
                    r.maximumFileSize.map { "every \($0) bytes" }, r.intervalSeconds.map { "every \($0) s" },
                    r.ringSize.map { "the newest \($0) kept" }, r.minimumFreeBytes.map { "\($0) bytes kept free" },
                ].compactMap { $0 }
            logger.info(
                "recording to \(recorder.options.naming.template) (\(recorder.options.format.rawValue)\(rotation.isEmpty ? "" : ", " + rotation.joined(separator: ", ")))"
            )
        }
        for source in config.sources {
            logger.info(
                "capturing on \(source.interface): \(source.backend.rawValue), fanout \(source.fanout.rawValue)\(source.filter.map { ", filter \"\($0)\"" } ?? "")"
            )
        }
        for note in pool.workers.flatMap(\.notes) { logger.warning("\(note)") }
        if let options = config.ipfix.options {
            logger.info(
                "exporting flows (IPFIX, observation domain \(config.ipfix.observationDomain)) to \(options.collectors.map(\.description).joined(separator: ", "))"
            )
        }
        // Replay alone ages flows on the packets' clock: each job ends with
        // a flush, so that its last flows reach the collectors with it.
        let replay = ReplayQueue(
            pool: pool, flushAfterEachJob: exporter != nil && config.sources.isEmpty,
            maximumGap: config.replay.maximumGapNanoseconds)
        let replayThread: PinnedThread
        do {
            replayThread = try PinnedThread(name: "lab-replay") { replay.run() }
        } catch {
            logger.error("\(error)")
            _ = pipeline.finish()
            return Exit.startFailed.rawValue
        }
        let state = DaemonState(
            workers: pool.workers, rooms: pipeline.arena.rooms, replay: replay, configuration: config,
            exporter: exporter, recorder: recorder, taps: taps)
        for problem in state.allowedDirectories.problems { logger.warning("\(problem)") }
        // SIGTERM and SIGINT are trapped before the socket answers: a stop
        // asked for as soon as the daemon is seen (a test, `systemctl stop`
        // right after start) is an orderly stop, never the signal's default
        // action. The ServiceGroup below gets it once it runs.
        let stops = await UnixSignalsSequence(trapping: .sigterm, .sigint)
        let servers: SocketServers
        do {
            servers = try await startSocketServers(config, groups: groups, state: state, logger: logger)
        } catch {
            logger.error("\(error)")
            replay.stop()
            replayThread.join()
            _ = pipeline.finish()
            return Exit.startFailed.rawValue
        }
        confineControlPlane(workerCPUs: cpus, logger: logger)
        let notifier = SystemdNotifier()
        await waitUntilWorkersRun(state)
        // SIGHUP is trapped before READY=1: a reload asked for at once
        // (`systemctl reload` right after start) waits for the control
        // service instead of killing the daemon (SIGHUP's default action).
        let hangups = await UnixSignalsSequence(trapping: .sighup)
        notifier.notify("READY=1\nSTATUS=\(Self.status(state, rates: nil))\nMAINPID=\(getpid())")
        logger.info(
            "running: \(config.workerCount) workers, pid \(getpid())\(notifier.watchdogPeriod.map { ", watchdog every \($0)" } ?? "")"
        )

        let control = ControlService(
            configPath: configPath, state: state, notifier: notifier, hangups: hangups, logger: logger)
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(services: [control], logger: logger))
        let stopper = Task { [logger] in
            for await signal in stops {
                logger.info("\(signal): stopping")
                await group.triggerGracefulShutdown()
                break
            }
        }
        do {
            try await group.run()
        } catch {
            logger.error("control plane: \(error)")
        }
        stopper.cancel()
        logger.notice("shutting down")
        let deadline = StopDeadline(seconds: state.config.daemon.stopTimeout, logger: logger)
        defer { deadline.finish() }
        return await shutdown(
            deadline: deadline, pipeline: pipeline, state: state, servers: servers, replay: replay,
            replayThread: replayThread, notifier: notifier, logger: logger
        ).rawValue
    }

    /// Process-wide settings before anything starts: mlockall, the open
    /// file limit, the socket and admin groups' ids.
    static func prepareProcess(_ config: DaemonConfiguration, logger: Logger) -> Result<
        (socket: gid_t?, admin: gid_t?), Exit
    > {
        raiseFileLimit()
        if config.workers.mlockall,
            case .failure(let e) = Syscall.nothingOrErrno({ mlockall(MCL_CURRENT | MCL_FUTURE) })
        {
            logger.error("workers.mlockall: \(e) (needs CAP_IPC_LOCK or a high LimitMEMLOCK=)")
            return .failure(.startFailed)
        }
        var ids: [gid_t?] = []
        for (key, name) in [("socket_group", config.daemon.socketGroup), ("admin_group", config.daemon.adminGroup)] {
            guard let name else {
                ids.append(nil)
                continue
            }
            guard let gid = groupID(name) else {
                logger.error("daemon.\(key): no group named \"\(name)\" on this system")
                return .failure(.config)
            }
            ids.append(gid)
        }
        return .success((ids[0], ids[1]))
    }

    /// How the configuration's workers run.
    static func workerOptions(_ config: DaemonConfiguration) -> WorkerOptions {
        var options = WorkerOptions()
        options.budget = config.workers.budget
        options.busyPoll = config.workers.busyPoll
        options.flowCapacity = config.workers.flowCapacity
        options.timeouts = FlowTimeouts(
            idle: Int64(config.workers.flowIdleTimeout * 1e9), active: Int64(config.workers.flowActiveTimeout * 1e9),
            linger: Int64(config.workers.flowTCPLinger * 1e9))
        options.exportRing = config.ipfix.options?.ringCapacity
        options.fragments.chunkOrder = config.rooms.chunkOrder
        #if DEBUG
        options.hooks = config.workers.hooks
        #endif
        if config.workerCount + 1 > PinnedThread.currentAffinity.count { options.spinBeforeSleep = 0 }
        return options
    }

    /// The `[[sink]]` recorder, its first files prepared (not started):
    /// a path that cannot be opened, a source that cannot be recorded or
    /// a group that does not exist stops the start (exit 78).
    static func prepareRecorder(_ config: DaemonConfiguration, logger: Logger) -> Result<Recorder?, Exit> {
        guard var sink = config.sink else { return .success(nil) }
        if sink.minFree == nil {
            // The default floor, from the size of the file system the
            // files go to (its directory must exist: the recorder says so).
            let directory = String(sink.path[..<(sink.path.lastIndex(of: "/") ?? sink.path.startIndex)])
            var fs = statvfs()
            let total =
                statvfs(directory.isEmpty ? "/" : directory, &fs) == 0 ? Int(fs.f_blocks) * Int(fs.f_frsize) : 0
            sink.minFree = DaemonConfiguration.SinkSection.defaultMinimumFree(totalBytes: total > 0 ? total : 1 << 40)
        }
        var options: RecordingOptions
        do {
            options = try sink.options(workers: config.workerCount)
        } catch {
            logger.error("[[sink]] (line \(sink.line)): path: \(error)")
            return .failure(.config)
        }
        options.version = DaemonState.version
        if let filter = sink.filter {
            do {
                options.filter = try FilterPrograms(filter, linkTypes: FilterPrograms.decodedLinkTypes)
            } catch {
                logger.error("[[sink]] (line \(sink.line)): filter: \(error.message)")
                return .failure(.config)
            }
        }
        if sink.group == nil {
            options.group = groupID("labyrinth")
            if options.group == nil {
                logger.notice("[[sink]]: no group labyrinth on this system; the files keep the daemon's group")
            }
        } else if let name = sink.group, !name.isEmpty {
            guard let gid = groupID(name) else {
                logger.error(
                    "[[sink]] (line \(sink.line)): group: no group named \"\(name)\" on this system (set group = \"\" for the daemon's own)"
                )
                return .failure(.config)
            }
            options.group = gid
        }
        for source in config.sources {
            guard let linkType = interfaceLinkType(source.interface) else {
                logger.error(
                    "[[sink]]: cannot record \(source.interface): no such interface, or its link type is neither Ethernet nor raw IP"
                )
                return .failure(.config)
            }
            options.interfaces.append(
                RecordedInterface(
                    name: source.interface, linkType: linkType, snapLength: source.snaplen,
                    filter: Self.both(source.filter, sink.filter)))
        }
        if options.format == .pcap && Set(options.interfaces.map(\.linkType)).count > 1 {
            logger.error(
                "[[sink]] (line \(sink.line)): format pcap holds one link type per file; the sources have several")
            return .failure(.config)
        }
        do {
            let recorder = try Recorder(options: options)
            var log = logger
            log[metadataKey: "sink"] = "\(sink.path)"
            let sinkLogger = log
            recorder.log = { sinkLogger.info("\($0)") }
            recorder.warn = { sinkLogger.warning("\($0)") }
            return .success(recorder)
        } catch {
            logger.error("[[sink]] (line \(sink.line)): \(error)")
            return .failure(.config)
        }
    }

    /// The filter a recorded interface's frames passed: its source's and
    /// the sink's.
    static func both(_ a: String?, _ b: String?) -> String? {
        switch (a, b) {
        case (let a?, let b?): return "(\(a)) and (\(b))"
        default: return a ?? b
        }
    }

    /// The CPU of each worker: as configured, or the allowed CPUs in order.
    static func workerCPUs(_ config: DaemonConfiguration) -> [Int]? {
        if let cpus = config.workers.cpus { return cpus }
        let allowed = PinnedThread.currentAffinity
        return allowed.isEmpty ? nil : (0..<config.workerCount).map { allowed[$0 % allowed.count] }
    }

    /// The daemon's sockets: the stats socket (SwiftNIO) and the replay
    /// socket (descriptors, on a thread of its own).
    struct SocketServers {
        let stats: StatsServer
        let replay: ReplaySocketServer?
        /// `[metrics]`: HTTP for Prometheus, on the stats socket's loop.
        let metrics: MetricsServer?

        /// Closes them all.
        func close() async {
            await metrics?.close()
            await stats.close()
            replay?.stop()
        }
    }

    /// The sockets: handed over by systemd (matched by the path they are
    /// bound to), or bound at the configured paths.
    static func startSocketServers(
        _ config: DaemonConfiguration, groups: (socket: gid_t?, admin: gid_t?), state: DaemonState, logger: Logger
    ) async throws -> SocketServers {
        let activated = SystemdNotifier.activatedSockets()
        let limits = StatsServerLimits(
            maxClients: config.daemon.maxClients, requestMaxBytes: config.daemon.requestMaxBytes,
            idleTimeout: .milliseconds(Int(config.daemon.clientIdleTimeout * 1000)),
            requestTimeout: .milliseconds(Int(config.daemon.requestTimeout * 1000)), group: groups.socket,
            adminGroup: groups.admin, maxClientsPerUser: config.daemon.clientsPerUser,
            reservedClients: config.daemon.reservedClients)
        let processor = CommandProcessor(state: state)
        // A single socket handed over is the stats socket, wherever it is.
        let statsFD =
            activated.first { $0.path == config.daemon.socket }?.fd
            ?? (activated.count == 1 ? activated[0].fd : nil)
        let stats: StatsServer
        do {
            stats = try await StatsServer(
                path: config.daemon.socket, listeningSocket: statsFD, mode: config.daemon.socketMode,
                gid: groups.socket, limits: limits, processor: processor, logger: logger)
        } catch {
            throw StatsServerError("stats socket \(config.daemon.socket)", wrapping: error)
        }
        logger.info("stats socket \(statsFD.map { "handed over by systemd (fd \($0))" } ?? config.daemon.socket)")
        var metrics: MetricsServer?
        if let listen = config.metrics.listen {
            do {
                metrics = try await MetricsServer(
                    listen: listen, limits: MetricsServerLimits(config.metrics), processor: processor,
                    loop: stats.group.next(), logger: logger)
            } catch {
                await stats.close()
                throw StatsServerError("metrics.listen \(listen)", wrapping: error)
            }
        }
        guard let path = config.replaySocketPath else {
            return SocketServers(stats: stats, replay: nil, metrics: metrics)
        }
        let replayFD = activated.first { $0.path == path }?.fd
        do {
            let replay = try ReplaySocketServer(
                path: path, listeningSocket: replayFD, mode: config.daemon.socketMode,
                gid: groups.admin ?? groups.socket, limits: limits, processor: processor, logger: logger)
            logger.info("replay socket \(replayFD.map { "handed over by systemd (fd \($0))" } ?? path)")
            return SocketServers(stats: stats, replay: replay, metrics: metrics)
        } catch {
            await metrics?.close()
            await stats.close()
            throw error
        }
    }

    /// Moves the control plane (this thread, the socket's event loop, the
    /// task pool) off the workers' CPUs when any CPU is left over.
    static func confineControlPlane(workerCPUs cpus: [Int]?, logger: Logger) {
        let workerCPUs = Set(cpus ?? [])
        let controlCPUs = PinnedThread.currentAffinity.filter { !workerCPUs.contains($0) }
        guard !controlCPUs.isEmpty && !workerCPUs.isEmpty else { return }
        let moved = PinnedThread.confineOtherThreads(to: controlCPUs, exceptNamesStartingWith: "lab-")
        logger.info(
            "control plane (\(moved.count) threads) on CPUs \(controlCPUs.map(String.init).joined(separator: ",")), off the workers' CPUs"
        )
    }

    /// Waits (at most 5 s) until every worker's heartbeat has moved.
    static func waitUntilWorkersRun(_ state: DaemonState) async {
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(5)
        while state.workers.contains(where: { $0.heartbeat == 0 }) && clock.now < deadline {
            // Cancelled: stop polling at once (not a spin until the deadline).
            guard (try? await Task.sleep(for: .milliseconds(5))) != nil else { break }
        }
    }

    /// Shutdown: the socket and the sources first, then the workers drain,
    /// then the leak check.
    static func shutdown(
        deadline: StopDeadline, pipeline: consuming Pipeline, state: DaemonState, servers: SocketServers,
        replay: ReplayQueue, replayThread: consuming PinnedThread, notifier: SystemdNotifier, logger: Logger
    ) async -> Exit {
        notifier.notify("STOPPING=1\nSTATUS=stopping")
        deadline.step("closing the sockets")
        await servers.close()
        // The running replay stops at its next batch (or at once, in a
        // paced gap); queued ones never start.
        deadline.step("cancelling the replay jobs")
        for job in replay.stop() {
            logger.notice(
                "replay job \(job.id) cancelled (\(job.state == .queued ? "queued" : "running")): \(job.file)")
        }
        replayThread.join()
        // The pipeline in reverse: the workers end their flows as they stop
        // (exported when flows are) and retire their files, the recording
        // finishes them (statistics blocks, final names), the exporter sends
        // what the rings hold; then the leak check.
        deadline.step("stopping the workers, finishing the recording files, sending the last flows")
        let end = pipeline.finish()
        let flows = end.flows.reduce(0) { $0 + $1.count }
        if let recorder = state.recorder {
            let report = RecordingReport(recorder, workers: state.workers)
            logger.info(
                "recording",
                metadata: [
                    "written": "\(report.written)", "unwritten": "\(report.unwritten.total)",
                    "files": "\(report.filesWritten)", "bytes": "\(report.bytesWritten)",
                ])
        }
        if let exporter = state.exporter {
            let report = ExportReport(exporter, workers: state.workers)
            logger.info(
                "IPFIX export",
                metadata: [
                    "flows": "\(report.flows)", "records": "\(report.records)", "messages": "\(report.messagesSent)",
                    "failed": "\(report.messagesFailed)", "dropped": "\(report.dropped)",
                ])
        }
        let leaks = end.leaks
        logger.info(
            "final counters",
            metadata: [
                "packets": "\(state.received)", "bytes": "\(state.total(.bytes))",
                "flows": "\(state.total(.flowsCreated) + state.total(.icmpFlowsCreated))",
                "flows_in_tables": "\(flows)", "dropped_nomem": "\(state.total(.droppedNoMemory))",
                "rx_missed": "\(state.rxMissed)", "uptime_seconds": "\(Int(state.uptime))",
            ])
        if !leaks.isClean {
            logger.error("\(leaks)")
            return .leaked
        }
        logger.info("\(leaks)")
        return .ok
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

    /// The STATUS= line: rates since the previous one.
    static func status(_ state: DaemonState, rates: (pps: Double, mbps: Double)?) -> String {
        let rooms = state.rooms.map(\.stats)
        let free = rooms.reduce(0) { $0 + $1.freePages }
        let pages = rooms.reduce(0) { $0 + $1.pages }
        var s = "\(state.workers.count) workers; \(state.received) packets"
        if let rates { s += " (\(TextFormat.fixed(rates.pps, 0)) pps, \(TextFormat.fixed(rates.mbps, 1)) Mbps)" }
        s +=
            "; \(state.total(.flowsCreated) + state.total(.icmpFlowsCreated)) flows; rooms \(pages > 0 ? free * 100 / pages : 0)% free"
        let drops = state.total(.droppedNoMemory) + state.rxMissed
        if drops > 0 { s += "; \(drops) dropped" }
        return s
    }
}
