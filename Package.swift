// swift-tools-version:6.1
import PackageDescription

// Layout (see README "Code map"):
//   NAT64Translator  pure packet translation: bytes in, bytes out + verdict. No I/O, no Foundation.
//   DNS64            DNS wire format, synthesis, upstream client, NIO listeners.
//   TunDevice        file descriptors: TUN open/offloads, netlink (libnl) configuration.
//   GatewayConfig    the TOML config file: parsing with line numbers, validation.
//   PacketCapture    pcap files through libpcap: writer, reader, BPF filters, live capture.
//   Forwarding       the packet loop as a library: devices (TUN, capture file, memory), the engine, packet
//                    threads with their control mailbox, offline replay. Used by `run` and `replay` alike.
//   RouterAdvertisement  router advertisements (RFC 4861, 8106, 8781): option encoders, timing, the sender.
//   Listening        what every TCP listener carries: accept back-off and logging when descriptors run out.
//   nat64d           the daemon: CLI, lifecycle, wiring.
//   C*               small C shims / system libraries (TUN ioctl numbers, libnl, libpcap).
let package = Package(
    name: "nat64d",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "nat64d", targets: ["nat64d"]),
        .library(name: "NAT64Translator", targets: ["NAT64Translator"]),
        .library(name: "DNS64", targets: ["DNS64"]),
        .library(name: "PacketCapture", targets: ["PacketCapture"]),
        .library(name: "Forwarding", targets: ["Forwarding"]),
        // For the allocation benchmarks (Benchmarks/Allocations, a package of its own): packets built by test code.
        .library(name: "PacketTestSupport", targets: ["PacketTestSupport"]),
    ],
    // Exact versions: a minor release may change behaviour the daemon and its tests rely on (NIO's channel
    // semantics, argument-parser's help and errors, the Prometheus text); an upgrade is a change of its own, with
    // the tests run. Package.resolved stays out of git (its ids are machine-local); the transitive packages
    // (atomics, collections, system, async-algorithms, metrics) follow the ranges these versions declare
    // (`swift package show-dependencies` shows what resolved).
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", exact: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio", exact: "2.101.3"),
        .package(url: "https://github.com/swift-server/swift-prometheus", exact: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", exact: "2.13.0"),
    ],
    targets: [
        // C shims
        .target(name: "CTunLinux", path: "Sources/CTunLinux"),
        .target(name: "CSpliceLinux", path: "Sources/CSpliceLinux"),
        // recvmmsg/sendmmsg for the DNS64's UDP listener threads.
        .target(name: "CDNSSocket", path: "Sources/CDNSSocket"),
        .systemLibrary(
            name: "CNetlink", path: "Sources/CNetlink", pkgConfig: "libnl-route-3.0",
            providers: [.apt(["libnl-3-dev", "libnl-route-3-dev"])]),
        .systemLibrary(
            name: "CPcap", path: "Sources/CPcap", pkgConfig: "libpcap",
            providers: [.apt(["libpcap-dev"])]),
        // io_uring for the TUN device's batched reads and writes (`tun.io = "uring"`).
        // A C target (not a system module): liburing stays inside its .c file (see shim.c).
        .target(name: "CURing", path: "Sources/CURing", linkerSettings: [.linkedLibrary("uring")]),
        // The in-kernel fast path's eBPF program (bpf/, built into program.c by scripts/build-bpf.py) and the
        // bpf(2) commands that load and attach it.
        .target(name: "CFastPath", path: "Sources/CFastPath", exclude: ["bpf"]),

        // Libraries
        .target(name: "NAT64Translator"),
        // What every TCP listener puts on its server channel: accept back-off and once-a-minute error logging
        // when file descriptors run out (DNS over TCP, the inbound proxy, /metrics).
        .target(
            name: "Listening",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]),
        .target(
            name: "DNS64",
            dependencies: [
                "NAT64Translator", "Listening", "CDNSSocket",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]),
        .target(name: "TunDevice", dependencies: ["CTunLinux", "CNetlink", "NAT64Translator"]),
        .target(name: "GatewayConfig", dependencies: ["NAT64Translator", "PacketCapture", "RouterAdvertisement"]),
        .target(name: "PacketCapture", dependencies: ["CPcap", "NAT64Translator"]),
        .target(name: "Forwarding", dependencies: ["NAT64Translator", "TunDevice", "PacketCapture", "CURing"]),
        .target(name: "RouterAdvertisement", dependencies: ["NAT64Translator"]),
        // Established TCP and UDP flows translated by a tc program on the gateway's interfaces ([fast-path]).
        .target(name: "FastPath", dependencies: ["CFastPath", "NAT64Translator", "Forwarding"]),
        // Inbound proxy: IPv4 clients to IPv6-only hosts by TLS SNI, HTTP Host or port (README "Reaching
        // IPv6-only hosts from IPv4").
        .target(
            name: "InboundProxy",
            dependencies: [
                "NAT64Translator", "Listening", "CSpliceLinux", "FastPath",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]),

        // Daemon
        .executableTarget(
            name: "nat64d",
            dependencies: [
                "FastPath",
                "NAT64Translator", "DNS64", "TunDevice", "GatewayConfig", "PacketCapture", "Forwarding",
                "RouterAdvertisement", "InboundProxy", "Listening",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]),

        // Benchmarks: state table memory and lookup cost (docs/performance.md, "State table").
        .target(name: "CBenchSupport", path: "Benchmarks/CBenchSupport"),
        .executableTarget(
            name: "nat64-bench", dependencies: ["NAT64Translator", "CBenchSupport"], path: "Benchmarks/StateTableBench"),

        // Fuzz targets (scripts/fuzz.sh): libFuzzer entry points when built with -DFUZZING, input replayers
        // otherwise (so every build compiles them and the tests run the checked-in corpora through them).
        .target(name: "FuzzSupport", path: "Fuzz/FuzzSupport"),
        .executableTarget(
            name: "fuzz-translator", dependencies: ["FuzzSupport", "NAT64Translator"], path: "Fuzz/TranslatorFuzz"),
        .executableTarget(
            name: "fuzz-dns64",
            dependencies: ["FuzzSupport", "DNS64", "NAT64Translator", .product(name: "NIOCore", package: "swift-nio")],
            path: "Fuzz/DNS64Fuzz"),
        .executableTarget(name: "fuzz-config", dependencies: ["FuzzSupport", "GatewayConfig"], path: "Fuzz/ConfigFuzz"),

        // Tests
        .target(name: "PacketTestSupport", dependencies: ["NAT64Translator"], path: "Tests/PacketTestSupport"),
        .testTarget(name: "FastPathTests", dependencies: ["FastPath", "CFastPath", "NAT64Translator"]),
        .testTarget(name: "NAT64TranslatorTests", dependencies: ["NAT64Translator", "PacketTestSupport"]),
        .testTarget(
            name: "DNS64Tests",
            dependencies: [
                "DNS64", "NAT64Translator", "Listening",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]),
        .testTarget(name: "GatewayConfigTests", dependencies: ["GatewayConfig", "RouterAdvertisement"]),
        .testTarget(
            name: "nat64dTests",
            dependencies: [
                "nat64d", "DNS64", "NAT64Translator", "Forwarding", "RouterAdvertisement", "InboundProxy",
                "GatewayConfig", .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]),
        .testTarget(name: "TunDeviceTests", dependencies: ["TunDevice", "NAT64Translator"]),
        .testTarget(
            name: "InboundProxyTests",
            dependencies: [
                "InboundProxy", "NAT64Translator",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]),
        .testTarget(
            name: "RouterAdvertisementTests",
            dependencies: ["RouterAdvertisement", "NAT64Translator", "Forwarding", "PacketTestSupport"]),
        .testTarget(
            name: "PacketCaptureTests",
            dependencies: ["PacketCapture", "Forwarding", "NAT64Translator", "nat64d", "PacketTestSupport"]),
        .testTarget(
            name: "ForwardingTests", dependencies: ["Forwarding", "NAT64Translator", "PacketCapture", "PacketTestSupport"]),
    ]
)
