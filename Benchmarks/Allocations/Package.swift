// swift-tools-version:6.1
// Allocation and time benchmarks of the packet path (ordo-one/benchmark with its malloc counters), in a package
// of their own so the main build and CI do not compile the benchmark framework. Run from this directory:
//
//   swift package benchmark                     # every benchmark, with the malloc thresholds checked
//   swift package benchmark --filter "6to4"     # some
//
// Thresholds: every benchmark asserts 0 mallocs per translated packet (p100), so a regression fails the run.
import Foundation
import PackageDescription

// SwiftPM names a path dependency after its directory: the checkout's directory name, whatever it is.
let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().lastPathComponent.lowercased()

let package = Package(
    name: "nat64d-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: "../.."),
        // Exact, as in the main package: the malloc counts and thresholds depend on the framework's version.
        .package(url: "https://github.com/ordo-one/benchmark.git", exact: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "Translate",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "NAT64Translator", package: root),
                .product(name: "Forwarding", package: root),
                .product(name: "PacketTestSupport", package: root),
            ],
            path: "Benchmarks/Translate",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]),
    ]
)
