// swift-tools-version: 6.1
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny")
]

let package = Package(
    name: "Labyrinth",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "Rooms", targets: ["Rooms"]),
        .library(name: "DataPlane", targets: ["DataPlane"]),
        .library(name: "Packet", targets: ["Packet"]),
        .library(name: "Capture", targets: ["Capture"]),
        .library(name: "ControlPlane", targets: ["ControlPlane"]),
        .library(name: "StatsProtocol", targets: ["StatsProtocol"]),
        .library(name: "ForegroundRuns", targets: ["ForegroundRuns"]),
        .library(name: "Sinks", targets: ["Sinks"]),
        .executable(name: "labyrinthctl", targets: ["labyrinthctl"]),
        .executable(name: "labyrinthd", targets: ["labyrinthd"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        .package(url: "https://github.com/x-sheep/swift-property-based.git", from: "2.0.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-system.git", from: "1.8.0"),
    ],
    targets: [
        // C: one module per system library, plus the allocator's support.
        .systemLibrary(name: "CPcap", pkgConfig: "libpcap", providers: [.apt(["libpcap-dev"])]),
        .target(
            name: "CURing",
            cSettings: [.define("_GNU_SOURCE")],
            linkerSettings: [.linkedLibrary("uring")]
        ),
        .target(name: "CRoomsSupport", cSettings: [.define("_GNU_SOURCE")]),
        // Linux itself: what Glibc's module leaves out (threads' affinity,
        // AF_PACKET and TPACKET_V3, SCM_RIGHTS, openat2, SO_PEERCRED, xattrs).
        .target(name: "CLinux", cSettings: [.define("_GNU_SOURCE")]),

        // The kernel boundary: Errno-typed results, EINTR retried in one place.
        .target(
            name: "Syscalls",
            dependencies: [.product(name: "SystemPackage", package: "swift-system")],
            swiftSettings: strict
        ),

        // Swift: one module per layer.
        .target(name: "Rooms", dependencies: ["CRoomsSupport", "Syscalls"], swiftSettings: strict),
        .target(name: "Packet", swiftSettings: strict),
        .target(
            name: "Capture", dependencies: ["Packet", "CPcap", "CLinux", "Syscalls"], swiftSettings: strict),
        .target(
            name: "DataPlane",
            dependencies: [
                "Rooms", "Packet", "Capture", "CURing", "CLinux", "CRoomsSupport", "Syscalls", "StatsProtocol", "Sinks",
                "Extraction",
            ],
            swiftSettings: strict),
        .target(name: "StatsProtocol", dependencies: ["Syscalls"], swiftSettings: strict),
        // The command line's own engines and reports (labyrinthd replay/capture).
        .target(
            name: "ForegroundRuns",
            dependencies: [
                "Rooms", "Packet", "Capture", "DataPlane", "StatsProtocol", "Syscalls", "Sinks",
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        // Pure formats of the sinks: pcapng/pcap blocks, rotation naming and
        // policy, IPFIX messages. No sockets, no io_uring.
        .target(name: "Sinks", swiftSettings: strict),
        // Finding packets again: the recordings' indexes and `extract`.
        .target(
            name: "Extraction", dependencies: ["Packet", "Capture", "Sinks", "Syscalls"], swiftSettings: strict),
        .target(
            name: "ControlPlane",
            dependencies: [
                "Rooms", "Packet", "Capture", "DataPlane", "StatsProtocol", "Syscalls", "Sinks", "CLinux", "Extraction",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "labyrinthd",
            dependencies: [
                "Rooms",
                "DataPlane",
                "ControlPlane",
                "ForegroundRuns",
                "Capture",
                "Packet",
                "Sinks",
                "StatsProtocol",
                "Extraction",
                "CLinux",
                "Syscalls",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict
        ),

        // Helpers shared by the test targets (libpcap as the reference reader,
        // capture writers, paths); never linked into the daemon.
        .target(
            name: "TestSupport", dependencies: ["CPcap", "StatsProtocol"], path: "Tests/TestSupport",
            swiftSettings: strict),
        .executableTarget(
            name: "labyrinthctl",
            dependencies: [
                "StatsProtocol", "Syscalls",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "CaptureTests",
            dependencies: ["Capture", "Packet", "TestSupport"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "ReplayTests",
            dependencies: [
                "DataPlane", "ForegroundRuns", "StatsProtocol", "Capture", "Packet", "Rooms", "TestSupport",
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "DaemonTests",
            dependencies: ["ControlPlane", "StatsProtocol", "TestSupport"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "RecordingTests",
            dependencies: ["StatsProtocol", "TestSupport", "Extraction"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "LiveCaptureTests",
            dependencies: ["StatsProtocol", "TestSupport"],
            swiftSettings: strict
        ),
        .testTarget(name: "StatsProtocolTests", dependencies: ["StatsProtocol"], swiftSettings: strict),
        .testTarget(name: "ExtractionTests", dependencies: ["Extraction", "Packet"], swiftSettings: strict),
        .testTarget(
            name: "DataPlaneTests",
            dependencies: ["DataPlane", "Rooms", "Packet", "Sinks", "Syscalls", "TestSupport"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "SinksTests",
            dependencies: ["Sinks", "TestSupport"],
            swiftSettings: strict
        ),
        // Flow export end to end: labyrinthd's IPFIX to nfcapd, softflowd,
        // tshark and the tests' own sockets.
        .testTarget(
            name: "ExportTests",
            dependencies: ["StatsProtocol", "TestSupport"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "PacketTests",
            dependencies: ["Packet"],
            swiftSettings: strict
        ),
        // Reads Tests/ for the programs the tests start; needs no root.
        .testTarget(name: "ToolListTests", dependencies: ["TestSupport"], swiftSettings: strict),
        .testTarget(
            name: "RoomsTests",
            dependencies: [
                "Rooms",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ],
            swiftSettings: strict
        ),
    ],
    swiftLanguageModes: [.v6]
)
