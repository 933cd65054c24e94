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

/// `labyrinthd run`: the foreground daemon under systemd or a terminal.
public enum Daemon {
    /// Exit codes, for systemd and scripts.
    /// Exit codes, for systemd and scripts: sysexits(3) by cause
    /// (``StartFailure`` maps a failed start's stage and errno to one).
    public enum Exit: Int32, Error, Sendable {
        case ok = 0
        /// A start that failed with no system call's error behind it.
        case startFailed = 1
        case leaked = 3
        case unavailable = 69  // EX_UNAVAILABLE: another daemon holds the socket
        case osError = 71  // EX_OSERR: mmap, mlock, a thread, another system call
        case cannotCreate = 73  // EX_CANTCREAT: the recording's files
        case noPermission = 77  // EX_NOPERM: a capability is missing
        case config = 78  // EX_CONFIG
    }

    /// Logs why the start failed and what to do; the exit code.
    static func failed(_ failure: StartFailure, logger: Logger) -> Int32 {
        if let advice = failure.advice { logger.error("to fix it: \(advice) (exit \(failure.exit.rawValue))") }
        return failure.exit.rawValue
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
        // Another daemon on the same socket: said before this one builds
        // anything (its live sources would join the other's fanout group).
        // A socket systemd hands over is this daemon's own.
        if getenv("LISTEN_FDS") == nil, StatsServer.answers(on: config.daemon.socket) {
            logger.error("stats socket \(config.daemon.socket): another process answers on it (\(Errno.addressInUse))")
            return failed(StartFailure.verdict(stage: .socket, errno: .addressInUse), logger: logger)
        }
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
            return failed(StartFailure.verdict(error), logger: logger)
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
            return failed(StartFailure.verdict(stage: .other, errno: error.errno), logger: logger)
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
            return failed(StartFailure.verdict(stage: .socket, errno: Errno.behind(error)), logger: logger)
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
            return .failure(.osError)
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
            guard let errno = Errno.behind(error) else { return .failure(.config) }
            let failure = StartFailure.verdict(stage: .recorder, errno: errno)
            _ = failed(failure, logger: logger)
            return .failure(failure.exit)
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
