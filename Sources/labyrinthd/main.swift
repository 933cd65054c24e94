import ArgumentParser
import DataPlane
import Rooms

@main
struct Labyrinthd: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "labyrinthd",
        abstract: "Labyrinth packet data-plane daemon.",
        subcommands: [Layout.self]
    )
}

/// Builds the arena for the default shape and prints its layout.
struct Layout: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Build the arena and rooms, print their layout and run the leak check."
    )

    @Option(help: "Rooms, one per worker (default: one per online CPU).")
    var rooms: Int?

    @Option(help: "Pages of 4 KiB per room.")
    var pagesPerRoom: Int = 4096

    @Flag(help: "Do not lock the arena in memory.")
    var noLock = false

    func run() throws {
        let configuration = ArenaConfiguration(
            rooms: rooms ?? PinnedThread.onlineCPUs, pagesPerRoom: pagesPerRoom, lockMemory: !noLock)
        let arena: Arena
        do {
            arena = try Arena(configuration)
        } catch {
            throw ValidationError("\(error)")
        }
        print(arena.layout)
        print(arena.checkForLeaks())
    }
}
