import Foundation
import Logging
import NAT64Translator
import NIOCore
import NIOPosix
import Testing
@testable import DNS64

/// Not a rule test: the CPU cost behind `UpstreamSocketPool`'s design (a NIO datagram channel per upstream
/// query against a plain socket, and a pooled resolve). Runs only with DNS64_PROBE set, best in release:
/// `DNS64_PROBE=1 swift test -c release -Xswiftc -enable-testing --filter UpstreamCostProbe`.
struct UpstreamCostProbe {
    func cpu() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6 + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
    }

    @Test(.enabled(if: ProcessInfo.processInfo.environment["DNS64_PROBE"] != nil)) func upstreamSocketCosts() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        let n = 5000
        var t0 = cpu()
        for _ in 0..<n {
            let ch = try await DatagramBootstrap(group: loop).bind(to: try SocketAddress(ipAddress: "127.0.0.1", port: 0)).get()
            try await ch.close()
        }
        print("bind+close: \((cpu() - t0) / Double(n) * 1e6) us")
        t0 = cpu()
        for _ in 0..<n {
            let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
            var sin = sockaddr_in()
            sin.sin_family = sa_family_t(AF_INET)
            sin.sin_addr.s_addr = UInt32(0x7f000001).bigEndian
            _ = withUnsafePointer(to: &sin) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            close(fd)
        }
        print("raw socket+bind+close: \((cpu() - t0) / Double(n) * 1e6) us")
        t0 = cpu()
        for _ in 0..<n {
            let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
            close(fd)
        }
        print("raw socket+close: \((cpu() - t0) / Double(n) * 1e6) us")
        let fake = try await LoopbackIntegrationTests.udp(loop) { FakeUpstreamHandler() }
        let client = UpstreamClient(upstreams: [fake.localAddress!], timeout: .seconds(2), group: group, logger: Logger(label: "x"), counters: CounterStore())
        let q = UpstreamQuery(question: DNSQuestion(name: DNSName("a.example")!, type: .a))
        t0 = cpu()
        for _ in 0..<n { _ = try await client.resolve(q, on: loop).get() }
        print("resolve: \((cpu() - t0) / Double(n) * 1e6) us")
        let bytes = FakeUpstreamHandler.answer(to: q.message(id: 7).encoded())!
        t0 = cpu()
        for _ in 0..<n { _ = try DNSMessage(parsing: bytes) }
        print("parse: \((cpu() - t0) / Double(n) * 1e6) us")
        t0 = cpu()
        for _ in 0..<n { _ = q.message(id: 7).encoded() }
        print("encode: \((cpu() - t0) / Double(n) * 1e6) us")
        try await fake.close()
        try await group.shutdownGracefully()
    }
}
