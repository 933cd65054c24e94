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

/// The daemon's control loop as a service of the group: every 250 ms the
/// housekeeping (watchdog, STATUS=, allocation-failure lines), and a reload
/// whenever SIGHUP came; it returns on graceful shutdown.
struct ControlService: Service {
    let configPath: String
    let state: DaemonState
    let notifier: SystemdNotifier
    /// SIGHUP, trapped by the daemon before it said READY=1.
    let hangups: UnixSignalsSequence
    let logger: Logger

    func run() async throws {
        let reloads = ReloadRequests()
        var logger = self.logger
        var housekeeping = Housekeeping(state: state, notifier: notifier, logger: logger)
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await _ in hangups.cancelOnGracefulShutdown() { reloads.count.add(1, ordering: .releasing) }
            }
            var handled = 0
            while !Task.isShuttingDownGracefully && !Task.isCancelled {
                let asked = reloads.count.load(ordering: .acquiring)
                if asked != handled {
                    handled = asked
                    notifier.notify("RELOADING=1\nMONOTONIC_USEC=\(lab_monotonic_ns() / 1000)")
                    await Daemon.reload(path: configPath, state: state, logger: &logger)
                    notifier.notify("READY=1\nSTATUS=\(Daemon.status(state, rates: nil))")
                }
                housekeeping.tick()
                // Cancelled: stop polling at once (not a spin until the deadline).
                guard (try? await Task.sleep(for: .milliseconds(50))) != nil else { break }
            }
            group.cancelAll()
        }
    }
}

/// SIGHUPs received, counted by the signal task, read by the control loop.
final class ReloadRequests: Sendable {
    let count = Atomic<Int>(0)
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
