// swift-tools-version: 6.1
// Benchmarks live in their own package so that the main package's build and
// tests never pull in the benchmark framework. Run from this folder:
//   swift run -c release rooms-bench            # timings, ratios, latencies
//   swift package benchmark --target RoomsAllocations   # mallocs per operation
import PackageDescription

let package = Package(
    name: "LabyrinthBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "Labyrinth", path: ".."),
        // Pinned: the malloc check reads its output format (check-mallocs.py).
        .package(url: "https://github.com/ordo-one/benchmark.git", exact: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .target(name: "CBenchSupport", path: "Sources/CBenchSupport"),
        .executableTarget(
            name: "rooms-bench",
            dependencies: [
                "CBenchSupport",
                .product(name: "Rooms", package: "Labyrinth"),
                .product(name: "DataPlane", package: "Labyrinth"),
            ],
            path: "Sources/rooms-bench"
        ),
        .executableTarget(
            name: "RoomsAllocations",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "Rooms", package: "Labyrinth"),
                .product(name: "DataPlane", package: "Labyrinth"),
            ],
            path: "Benchmarks/RoomsAllocations",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "ReplayAllocations",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "ForegroundRuns", package: "Labyrinth"),
                .product(name: "DataPlane", package: "Labyrinth"),
                .product(name: "Rooms", package: "Labyrinth"),
            ],
            path: "Benchmarks/ReplayAllocations",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
