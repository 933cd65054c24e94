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

}
