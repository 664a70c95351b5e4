// IP-S8–IP-S12: the splice relay over loopback sockets (a client, the proxy, an echo backend), against NIO's
// relay where the two must agree. No timing is asserted; each test waits for the connection it made to end.
import NAT64Translator
import NIOCore
import NIOPosix
import Synchronization
import Testing

@testable import InboundProxy

/// FNV-1a, 64 bits: a hash of what was sent against what came back.
private func fnv1a(_ bytes: [UInt8]) -> UInt64 {
    bytes.withUnsafeBufferPointer { buffer in
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in buffer { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return h
    }
}

/// Deterministic bytes (xorshift) so a reordering or a lost chunk changes the hash.
private func pattern(count: Int, seed: UInt64) -> [UInt8] {
    var x = seed
    return [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
        for i in 0..<count {
            x ^= x << 13
            x ^= x >> 7
            x ^= x << 17
            buffer[i] = UInt8(truncatingIfNeeded: x)
        }
        initialized = count
    }
}

private func tcpRoute(_ backend: IPEndpoint) -> [RouteConfiguration] {
    [RouteConfiguration(name: "fwd", hostnames: [], backends: [backend])]
}

@Suite struct SpliceRelayTests {
    @Test(arguments: [ByteMover.splice, .nio])
    func ipS8_ipS11_largeTransferArrivesWholeAndInOrder(mover: ByteMover) async throws {
        // Small pipes so the 2 MiB pass through them hundreds of times over (backpressure, IP-S8).
        let h = try await Harness.start(mode: .tcp, configure: { $0.byteMover = mover; $0.pipeSize = 4096 }, makeRoutes: tcpRoute)
        let sent = pattern(count: 2 << 20, seed: 0x9E37_79B9_7F4A_7C15)
        let chunks = stride(from: 0, to: sent.count, by: 128 << 10).map { Array(sent[$0..<min($0 + (128 << 10), sent.count)]) }
        let (received, _) = try await h.exchange(chunks)
        #expect(received.count == sent.count)
        #expect(fnv1a(received) == fnv1a(sent))
        #expect(fnv1a(h.backend.received.withLock { $0 }) == fnv1a(sent))
        let route = h.proxy.table.routes["fwd"]!.counters
        #expect(route.bytesToBackend.load(ordering: .relaxed) == sent.count)  // IP-S11
        #expect(route.bytesToClient.load(ordering: .relaxed) == sent.count)
        #expect(h.proxy.counters.spliced.load(ordering: .relaxed) == (mover == .splice ? 1 : 0))
        #expect(h.proxy.counters.spliceFallbacks.load(ordering: .relaxed) == 0)
        try await h.stop()
    }

    @Test(arguments: [ByteMover.splice, .nio])
    func ipS9_halfCloseIsPassedOnAndTheOtherDirectionStaysOpen(mover: ByteMover) async throws {
        // The backend answers after the client's EOF: that answer must still reach the client.
        let farewell = Array("written after your EOF".utf8)
        let h = try await Harness.start(mode: .tcp, farewell: farewell, configure: { $0.byteMover = mover }, makeRoutes: tcpRoute)
        let (received, _) = try await h.exchange([Array("request".utf8)])
        #expect(received == Array("request".utf8) + farewell)
        #expect(h.backend.received.withLock { $0 } == Array("request".utf8))
        // Both directions ended: the connection's places are given back.
        while h.proxy.admission.usage.connections != 0 { try await Task.sleep(for: .milliseconds(5)) }
        #expect(h.proxy.counters.active.load(ordering: .relaxed) == 0)
        #expect(h.proxy.table.routes["fwd"]!.counters.active.load(ordering: .relaxed) == 0)
        try await h.stop()
    }

    @Test func ipS10_idleSplicedConnectionIsClosedOnTheProxyClock() async throws {
        let now = Atomic<UInt64>(1_000_000_000)
        let h = try await Harness.start(mode: .tcp, clock: { now.load(ordering: .relaxed) },
                                        configure: { $0.idleTimeout = .seconds(30) }, makeRoutes: tcpRoute)
        let (channel, answer) = try await h.openClient()
        try await channel.writeAndFlush(ByteBuffer(string: "ping")).get()
        while h.proxy.counters.spliced.load(ordering: .relaxed) == 0 || h.backend.received.withLock({ $0.count }) < 4 {
            try await Task.sleep(for: .milliseconds(5))
        }
        #expect(h.proxy.counters.idleClosed.load(ordering: .relaxed) == 0)
        now.add(31_000_000_000, ordering: .relaxed)  // past the idle timeout on the proxy's clock
        let received = try await answer.get()  // the proxy closed the connection
        #expect(received == Array("ping".utf8))
        #expect(h.proxy.counters.idleClosed.load(ordering: .relaxed) == 1)
        try? await channel.close().get()
        try await h.stop()
    }

    @Test func ipS13_connectNotDoneWithinTheTimeoutOnTheProxyClockMovesToTheNextBackend() async throws {
        // A listener that never accepts, with a backlog of 0 and one connection already queued: the kernel
        // drops further SYNs, so a connect to it stays under way until the proxy gives up on it.
        let stuckGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let stuck = try await ServerBootstrap(group: stuckGroup)
            .serverChannelOption(.backlog, value: 0)
            .serverChannelOption(.autoRead, value: false)
            .bind(host: "::1", port: 0).get()
        let filler = try await ClientBootstrap(group: stuckGroup).connect(to: stuck.localAddress!).get()
        let now = Atomic<UInt64>(1_000_000_000)
        let h = try await Harness.start(mode: .tcp, clock: { now.load(ordering: .relaxed) },
                                        configure: { $0.connectTimeout = .seconds(3) }) { backend in
            [RouteConfiguration(name: "fwd", hostnames: [], backends: [IPEndpoint(stuck.localAddress)!, backend])]
        }
        let splice = try #require(h.proxy.splice)
        let (channel, answer) = try await h.openClient()
        try await channel.writeAndFlush(ByteBuffer(string: "ping")).get()
        while splice.connecting == 0 { try await Task.sleep(for: .milliseconds(5)) }
        let backends = h.proxy.table.routes["fwd"]!.backends
        now.add(2_900_000_000, ordering: .relaxed)  // not yet
        try await Task.sleep(for: .milliseconds(300))  // two looks of the relay thread: the connect stays
        #expect(backends[0].connectFailures.load(ordering: .relaxed) == 0)
        now.add(200_000_000, ordering: .relaxed)  // past the connect timeout on the proxy's clock
        try await channel.close(mode: .output).get()
        let received = try await answer.get()
        #expect(received == Array("ping".utf8))
        #expect(backends[0].connectFailures.load(ordering: .relaxed) == 1)
        #expect(h.proxy.counters.connectFailures.load(ordering: .relaxed) == 1)
        #expect(!backends[0].isUp(now: now.load(ordering: .relaxed)))
        #expect(backends[1].connections.load(ordering: .relaxed) == 1)
        #expect(h.proxy.counters.spliced.load(ordering: .relaxed) == 1)
        #expect(splice.connecting == 0)
        try? await channel.close().get()
        try await h.stop()
        try await filler.close().get()
        try await stuck.close().get()
        try await stuckGroup.shutdownGracefully()
    }

    @Test(arguments: [ByteMover.splice, .nio])
    func ipS13_largeFirstBytesArriveWholeAfterShortWrites(mover: ByteMover) async throws {
        // A 1 MiB request head: more than a new socket takes in one write, so the relay thread writes it in
        // parts as the backend reads.
        let h = try await Harness.start(mode: .http, configure: { $0.byteMover = mover; $0.maxHandshakeBytes = 2 << 20 }) {
            [RouteConfiguration(name: "web", hostnames: ["w.example"], backends: [$0])]
        }
        let pad = pattern(count: 1 << 20, seed: 7).map { 0x61 + $0 % 26 }
        let sent = Array("GET / HTTP/1.1\r\nHost: w.example\r\nX-Pad: ".utf8) + pad + Array("\r\n\r\nbody".utf8)
        let (received, _) = try await h.exchange([sent])
        #expect(received.count == sent.count)
        #expect(fnv1a(received) == fnv1a(sent))
        #expect(h.proxy.table.routes["web"]!.counters.bytesToBackend.load(ordering: .relaxed) == sent.count)
        #expect(h.proxy.counters.spliced.load(ordering: .relaxed) == (mover == .splice ? 1 : 0))
        try await h.stop()
    }

    @Test func ipS14_slowClientHelloIsCutAtTheHandshakeTimeoutOnTheProxyClock() async throws {
        let now = Atomic<UInt64>(1_000_000_000)
        let h = try await Harness.start(mode: .tls, clock: { now.load(ordering: .relaxed) },
                                        configure: { $0.handshakeTimeout = .seconds(5) }) {
            [RouteConfiguration(name: "a", hostnames: ["a.example"], backends: [$0])]
        }
        let (channel, answer) = try await h.openClient()
        let hello = records(clientHelloMessage(serverName: "a.example"))
        try await channel.writeAndFlush(ByteBuffer(bytes: hello.prefix(20))).get()
        while h.proxy.counters.accepted.load(ordering: .relaxed) == 0 { try await Task.sleep(for: .milliseconds(5)) }
        now.add(4_900_000_000, ordering: .relaxed)  // not yet
        try await Task.sleep(for: .milliseconds(300))  // a few looks of the relay thread: the client stays
        #expect(h.proxy.counters.refused(.handshakeTimeout) == 0)
        #expect(h.proxy.admission.usage.connections == 1)
        now.add(200_000_000, ordering: .relaxed)  // past the handshake timeout on the proxy's clock
        let received = try await answer.get()  // the proxy closed the connection
        #expect(received.isEmpty)
        #expect(h.proxy.counters.refused(.handshakeTimeout) == 1)
        // The thread gives the places back right after closing the socket.
        while h.proxy.admission.usage.connections != 0 { try await Task.sleep(for: .milliseconds(5)) }
        #expect(h.proxy.counters.active.load(ordering: .relaxed) == 0)
        #expect(h.backend.received.withLock { $0 }.isEmpty)
        try? await channel.close().get()
        try await h.stop()
    }

    @Test(arguments: [ByteMover.splice, .nio])
    func ipL2_ipS14_aClientOverItsLimitIsRefusedAtAccept(mover: ByteMover) async throws {
        let h = try await Harness.start(mode: .tcp, configure: { $0.byteMover = mover; $0.maxConnectionsPerClient = 1 },
                                        makeRoutes: tcpRoute)
        let (first, firstAnswer) = try await h.openClient()
        try await first.writeAndFlush(ByteBuffer(string: "one")).get()
        while h.backend.received.withLock({ $0.count }) < 3 { try await Task.sleep(for: .milliseconds(5)) }
        let (refused, _) = try await h.exchange([Array("two".utf8)])  // the same address, while the first is open
        #expect(refused.isEmpty)
        #expect(h.proxy.counters.refused(.clientLimit) == 1)
        #expect(h.proxy.counters.accepted.load(ordering: .relaxed) == 2)
        try await first.close(mode: .output).get()
        #expect(try await firstAnswer.get() == Array("one".utf8))
        #expect(h.backend.received.withLock { $0 } == Array("one".utf8))
        try? await first.close().get()
        try await h.stop()
    }

    @Test(arguments: [ByteMover.splice, .nio])
    func ipS1_ipS14_oversizedHelloAndEarlyCloseAreRefusedAndCounted(mover: ByteMover) async throws {
        let h = try await Harness.start(mode: .tls, configure: { $0.byteMover = mover; $0.maxHandshakeBytes = 1024 }) {
            [RouteConfiguration(name: "a", hostnames: ["a.example"], backends: [$0])]
        }
        let big = records(clientHelloMessage(serverName: "a.example", padding: 2000))
        let (tooLarge, _) = try await h.exchange([big])
        #expect(tooLarge.isEmpty)
        #expect(h.proxy.counters.refused(.oversizedHandshake) == 1)
        let hello = records(clientHelloMessage(serverName: "a.example"))
        let (early, _) = try await h.exchange([Array(hello.prefix(30))])  // then EOF before the hello is whole
        #expect(early.isEmpty)
        #expect(h.proxy.counters.refused(.closedEarly) == 1)
        #expect(h.backend.received.withLock { $0 }.isEmpty)
        while h.proxy.admission.usage.connections != 0 { try await Task.sleep(for: .milliseconds(5)) }
        #expect(h.proxy.counters.active.load(ordering: .relaxed) == 0)
        try await h.stop()
    }
}
