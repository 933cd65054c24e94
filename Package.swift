// swift-tools-version: 6.1
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
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
        .executable(name: "labyrinthd", targets: ["labyrinthd"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        .package(url: "https://github.com/x-sheep/swift-property-based.git", from: "2.0.0"),
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

        // Swift: one module per layer.
        .target(name: "Rooms", dependencies: ["CRoomsSupport"], swiftSettings: strict),
        .target(name: "Packet", swiftSettings: strict),
        .target(name: "Capture", dependencies: ["Packet", "CPcap"], swiftSettings: strict),
        .target(name: "DataPlane", dependencies: ["Rooms", "Packet", "Capture", "CURing", "CRoomsSupport"], swiftSettings: strict),
        .target(name: "ControlPlane", dependencies: ["Rooms", "Packet", "Capture", "DataPlane"], swiftSettings: strict),
        .executableTarget(
            name: "labyrinthd",
            dependencies: [
                "Rooms",
                "DataPlane",
                "ControlPlane",
                "Capture",
                "Packet",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict
        ),

        // Helpers shared by the test targets (libpcap as the reference reader,
        // capture writers, paths); never linked into the daemon.
        .target(name: "TestSupport", dependencies: ["CPcap"], path: "Tests/TestSupport", swiftSettings: strict),
        .testTarget(
            name: "CaptureTests",
            dependencies: ["Capture", "Packet", "TestSupport"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "ReplayTests",
            dependencies: ["DataPlane", "ControlPlane", "Capture", "Packet", "Rooms", "TestSupport"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "PacketTests",
            dependencies: ["Packet"],
            swiftSettings: strict
        ),
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
