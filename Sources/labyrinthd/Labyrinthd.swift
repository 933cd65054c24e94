import ArgumentParser
import Capture
import ControlPlane
import DataPlane
import ForegroundRuns
import Rooms
import Sinks
import StatsProtocol

#if canImport(Glibc)
import Glibc
#endif

extension LockPolicy: ExpressibleByArgument {}

@main
struct Labyrinthd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "labyrinthd",
        abstract: "Labyrinth packet data-plane daemon.",
        version: DaemonState.version,
        subcommands: [
            Run.self, CheckConfig.self, Replay.self, CaptureCommand.self, Extract.self, Index.self, Layout.self,
            CompileFilter.self, ConfigReferenceCommand.self,
        ],
        defaultSubcommand: nil
    )
}

extension CaptureBackend: ExpressibleByArgument {}

extension FanoutMode: ExpressibleByArgument {}

enum FileStandardError {
    static func write(_ s: String) {
        var s = s
        s.withUTF8 { _ = Glibc.write(2, $0.baseAddress, $0.count) }
    }
}

extension Substring {
    func trimmingCharacters() -> String {
        String(self.drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}
