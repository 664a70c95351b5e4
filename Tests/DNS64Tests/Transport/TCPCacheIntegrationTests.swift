import Logging
import NAT64Translator
import NIOCore
import NIOPosix
import Synchronization
import Testing
@testable import DNS64

/// A UDP upstream that counts queries and answers like `FakeUpstreamHandler` after `delay`; with `truncate`,
/// every UDP answer is TC=1 with no records (the full answer is on TCP, see `FakeTCPUpstreamHandler`).
final class CountingUpstreamHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>
    let count = Atomic<Int>(0)
    let delay: TimeAmount
    let truncate: Bool

    init(delay: TimeAmount = .zero, truncate: Bool = false) {
        self.delay = delay
        self.truncate = truncate
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        let query = Array(envelope.data.readableBytesView)
        guard var answer = FakeUpstreamHandler.answer(to: query) else { return }
        count.add(1, ordering: .relaxed)
        if truncate {
            var end = 12
            while end < query.count, query[end] != 0 { end += Int(query[end]) + 1 }
            answer = [query[0], query[1], 0x83, 0x80, 0, 1, 0, 0, 0, 0, 0, 0] + Array(query[12...(end + 4)])
        }
        let channel = context.channel
        let out = AddressedEnvelope(remoteAddress: envelope.remoteAddress, data: ByteBuffer(bytes: answer))
        context.eventLoop.scheduleTask(in: delay) { channel.writeAndFlush(out, promise: nil) }
    }
}

/// TCP side of the fake upstream: framed queries in, framed full answers out; counts queries.
final class FakeTCPUpstreamHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    let count: Counter

    /// A shared counter.
    final class Counter: Sendable {
        let value = Atomic<Int>(0)
        func add(_ n: Int, ordering: AtomicUpdateOrdering) { value.add(n, ordering: .relaxed) }
        func load(ordering: AtomicLoadOrdering) -> Int { value.load(ordering: .relaxed) }
    }

    init(count: Counter) { self.count = count }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let answer = FakeUpstreamHandler.answer(to: Array(unwrapInboundIn(data).readableBytesView)) else { return }
        count.add(1, ordering: .relaxed)
        context.writeAndFlush(NIOAny(ByteBuffer.dnsTCPFrame(answer)), promise: nil)
    }
}

struct TCPCacheIntegrationTests {
    static let localhost = try! SocketAddress(ipAddress: "127.0.0.1", port: 0)

    static func start(
        _ group: any EventLoopGroup, upstream: SocketAddress, configure: (inout DNS64Configuration) -> Void = { _ in }
    ) async throws -> (DNS64Server, SocketAddress) {
        var configuration = DNS64Configuration(
            listen: [localhost], upstreams: [upstream], prefixes: [NAT64Prefix("2001:db8:64::/96")!],
            allowedClients: ClientNetwork.loopback)
        configuration.upstreamTimeout = .seconds(2)
        configure(&configuration)
        let server = DNS64Server(configuration: configuration, group: group, logger: Logger(label: "test"))
        try await server.start()
        return (server, try #require(server.boundAddresses.first))
    }

    /// Sends framed `queries` on one TCP connection and collects `expect` framed replies (5 s at most).
    static func askTCP(_ group: any EventLoopGroup, _ server: SocketAddress, _ queries: [[UInt8]], expect: Int) async throws -> [[UInt8]] {
        let loop = group.next()
        let promise = loop.makePromise(of: [[UInt8]].self)
        let channel = try await ClientBootstrap(group: loop).channelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(DNSTCPFrameDecoder()))
                try channel.pipeline.syncOperations.addHandler(FrameCollector(expect: expect, promise: promise))
            }
        }.connect(to: server).get()
        defer { channel.close(promise: nil) }
        let timer = loop.scheduleTask(in: .seconds(5)) { promise.fail(UpstreamTimeout()) }
        defer { timer.cancel() }
        var all = ByteBuffer()
        for query in queries { all.writeImmutableBuffer(ByteBuffer.dnsTCPFrame(query)) }
        try await channel.writeAndFlush(all)  // pipelined: all queries in one write
        return try await promise.futureResult.get()
    }

    final class FrameCollector: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        let expect: Int
        let promise: EventLoopPromise<[[UInt8]]>
        var frames: [[UInt8]] = []
        init(expect: Int, promise: EventLoopPromise<[[UInt8]]>) {
            self.expect = expect
            self.promise = promise
        }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            frames.append(Array(unwrapInboundIn(data).readableBytesView))
            if frames.count == expect { promise.succeed(frames) }
        }
        func channelInactive(context: ChannelHandlerContext) { promise.fail(ChannelError.eof) }
    }

    private static func query(_ name: String, id: UInt16, type: UInt16 = Bytes.typeAAAA) -> [UInt8] {
        Bytes.header(id: id, flags: 0x0100) + Bytes.question(name, type: type)
    }

    @Test func N1_tcpListenerAnswersPipelinedQueries() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let handler = CountingUpstreamHandler()
        let upstream = try await LoopbackIntegrationTests.udp(group) { handler }
        let (server, address) = try await Self.start(group, upstream: try #require(upstream.localAddress))
        let replies = try await Self.askTCP(
            group, address, [Self.query("a.example", id: 1), Self.query("b.example", id: 2), Self.query("c.example", id: 3, type: Bytes.typeA)],
            expect: 3)
        let byID = Dictionary(uniqueKeysWithValues: try replies.map { (try DNSMessage(parsing: $0).header.id, try DNSMessage(parsing: $0)) })
        #expect(Set(byID.keys) == [1, 2, 3])
        #expect(byID[1]?.answers == [.aaaa(DNSName("a.example")!, ttl: 300, IPv6Address("2001:db8:64::c000:201")!)])
        #expect(byID[3]?.answers.first?.rdata == .a(IPv4Address(192, 0, 2, 1)))
        #expect(server.counters.tcpConnections == 1)
        await server.stop()
        try await upstream.close()
        try await group.shutdownGracefully()
    }

    @Test func N1_tcpConnectionLimitPerClient() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let upstream = try await LoopbackIntegrationTests.udp(group) { CountingUpstreamHandler() }
        let (server, address) = try await Self.start(group, upstream: try #require(upstream.localAddress)) {
            $0.maxTCPConnectionsPerClient = 1
            $0.tcpIdleTimeout = .seconds(5)
        }
        let first = try await ClientBootstrap(group: group).connect(to: address).get()
        // The second connection from 127.0.0.1 is accepted by the kernel, then closed by the server.
        await #expect(throws: (any Error).self) {
            _ = try await Self.askTCP(group, address, [Self.query("a.example", id: 1)], expect: 1)
        }
        #expect(server.counters.tcpConnectionsRefused == 1)
        try await first.close()
        await server.stop()
        try await upstream.close()
        try await group.shutdownGracefully()
    }

    // Only the idle timeout closes the connection: no upper wall-clock bound, the time limit only stops a hang.
    @Test(.timeLimit(.minutes(1))) func N1_idleTCPConnectionClosed() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let upstream = try await LoopbackIntegrationTests.udp(group) { CountingUpstreamHandler() }
        let (server, address) = try await Self.start(group, upstream: try #require(upstream.localAddress)) {
            $0.tcpIdleTimeout = .milliseconds(200)
        }
        let clock = ContinuousClock()
        let start = clock.now
        let idle = try await ClientBootstrap(group: group).connect(to: address).get()
        try await idle.closeFuture.get()  // the server closes it
        #expect(clock.now - start >= .milliseconds(150))
        await server.stop()
        try await upstream.close()
        try await group.shutdownGracefully()
    }

    /// A client that trickles a message one byte at a time is closed at the whole-message deadline: the bytes
    /// do not extend it. The frame announces 65 535 bytes at one byte per 20 ms (over 20 minutes to finish), so
    /// only the deadline can end this test; the time limit only stops a hang.
    @Test(.timeLimit(.minutes(1))) func N1_tricklingClientClosedAtMessageDeadline() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let upstream = try await LoopbackIntegrationTests.udp(group) { CountingUpstreamHandler() }
        let (server, address) = try await Self.start(group, upstream: try #require(upstream.localAddress)) {
            $0.tcpIdleTimeout = .milliseconds(300)
        }
        // The length prefix goes out from channelActive, on the event loop, so a busy test run cannot delay
        // it past the deadline (the server would then close before any byte arrived).
        let slow = try await ClientBootstrap(group: group).channelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(SendOnActive([0xFF, 0xFF]))
            }
        }.connect(to: address).get()
        var sent = 0
        while slow.isActive {
            try? await slow.writeAndFlush(ByteBuffer(bytes: [0x00]))
            sent += 1
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(sent < 65_535)
        #expect(server.counters.tcpMessageTimeouts == 1)
        await server.stop()
        try await upstream.close()
        try await group.shutdownGracefully()
    }

    /// D10 before N1: a client outside the allow list is closed without taking a connection slot, so with room
    /// for one connection in all, an allowed client is still served while the outsider's connection was open.
    @Test func D10_outsiderTakesNoConnectionSlot() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let upstream = try await LoopbackIntegrationTests.udp(group) { CountingUpstreamHandler() }
        let v6 = try SocketAddress(ipAddress: "::1", port: 0)
        let (server, v4Address) = try await Self.start(group, upstream: try #require(upstream.localAddress)) {
            $0.listen = [TCPCacheIntegrationTests.localhost, v6]
            $0.allowedClients = [.v6(IPv6Prefix(.loopback, length: 128))]
            $0.maxTCPConnections = 1
        }
        let v6Address = try #require(server.boundAddresses.first { $0.protocol == .inet6 })
        let outsider = try await ClientBootstrap(group: group).connect(to: v4Address).get()
        while server.counters.tcpConnectionsNotAllowed == 0 && server.counters.tcpConnections == 0 {
            try await Task.sleep(for: .milliseconds(10))
        }
        let replies = try await Self.askTCP(group, v6Address, [Self.query("a.example", id: 7)], expect: 1)
        #expect(try DNSMessage(parsing: replies[0]).header.id == 7)
        #expect(server.counters.tcpConnectionsNotAllowed == 1)
        #expect(server.counters.tcpConnections == 1)
        #expect(server.counters.tcpConnectionsRefused == 0)
        try await outsider.closeFuture.get()  // closed by the server, not by us
        await server.stop()
        try await upstream.close()
        try await group.shutdownGracefully()
    }

    @Test func N2_truncatedUpstreamAnswerRetriedOverTCP() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let udpHandler = CountingUpstreamHandler(truncate: true)
        let udp = try await LoopbackIntegrationTests.udp(group) { udpHandler }
        let upstreamAddress = try #require(udp.localAddress)
        let tcpCount = FakeTCPUpstreamHandler.Counter()
        let tcp = try await ServerBootstrap(group: group).childChannelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(DNSTCPFrameDecoder()))
                try channel.pipeline.syncOperations.addHandler(FakeTCPUpstreamHandler(count: tcpCount))
            }
        }.bind(to: upstreamAddress).get()
        let (server, address) = try await Self.start(group, upstream: upstreamAddress)
        let reply = try DNSMessage(parsing: try await LoopbackIntegrationTests.ask(group, address, Self.query("t.example", id: 5)))
        #expect(reply.answers == [.aaaa(DNSName("t.example")!, ttl: 300, IPv6Address("2001:db8:64::c000:201")!)])
        #expect(udpHandler.count.load(ordering: .relaxed) == 2 && tcpCount.load(ordering: .relaxed) == 2)
        #expect(server.counters.upstreamTCPRetries == 2)
        await server.stop()
        try await tcp.close()
        try await udp.close()
        try await group.shutdownGracefully()
    }

    @Test func N4_concurrentIdenticalQueriesShareOneUpstreamQueryAndRepeatsHitTheCache() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let handler = CountingUpstreamHandler(delay: .milliseconds(200))
        let upstream = try await LoopbackIntegrationTests.udp(group) { handler }
        let (server, address) = try await Self.start(group, upstream: try #require(upstream.localAddress))
        // Ten clients at once (different IDs and spellings): one AAAA and one A upstream in total.
        let replies = try await withThrowingTaskGroup(of: [UInt8].self) { tasks in
            for i in 0..<10 {
                let name = i % 2 == 0 ? "shared.example" : "SHARED.example"
                tasks.addTask { try await LoopbackIntegrationTests.ask(group, address, Self.query(name, id: UInt16(100 + i))) }
            }
            return try await tasks.reduce(into: []) { $0.append($1) }
        }
        #expect(handler.count.load(ordering: .relaxed) == 2)
        #expect(Set(replies.map { UInt16($0[0]) << 8 | UInt16($0[1]) }) == Set((100..<110).map(UInt16.init)))
        for reply in replies {
            let message = try DNSMessage(parsing: reply)
            #expect(message.answers.map(\.rdata) == [.aaaa(IPv6Address("2001:db8:64::c000:201")!)])
            // Each client gets its own spelling back (0x20-style case echo).
            #expect(message.questions.first?.name.labels.first == reply[13...18].map { $0 })
        }
        // A repeat later is a cache hit: no new upstream traffic.
        _ = try await LoopbackIntegrationTests.ask(group, address, Self.query("shared.example", id: 7))
        #expect(handler.count.load(ordering: .relaxed) == 2)
        // Which of the ten came before the answer (joins) and which after it (hits) depends on how fast this
        // machine started them (the answer takes 200 ms; a loaded CI host has taken longer to start ten tasks):
        // every query is one or the other, one upstream query served all misses, and the repeat is a hit.
        let counters = server.counters
        #expect(counters.cacheHits >= 1 && counters.cacheHits + counters.cacheMisses == 11)
        #expect(counters.inFlightJoins == counters.cacheMisses - 1)
        #expect(counters.synthesized == 11)
        await server.stop()
        try await upstream.close()
        try await group.shutdownGracefully()
    }

    @Test func N6_countersByTypeRcodeAndLatency() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let upstream = try await LoopbackIntegrationTests.udp(group) { CountingUpstreamHandler() }
        let (server, address) = try await Self.start(group, upstream: try #require(upstream.localAddress))
        _ = try await LoopbackIntegrationTests.ask(group, address, Self.query("x.example", id: 1))
        _ = try await LoopbackIntegrationTests.ask(group, address, Self.query("x.example", id: 2, type: Bytes.typeMX))
        _ = try await LoopbackIntegrationTests.ask(group, address, Self.query("x.example", id: 3, type: Bytes.typeA))
        _ = try await LoopbackIntegrationTests.ask(group, address, Self.query("ipv4only.arpa", id: 4, type: Bytes.typeA))
        let c = server.counters
        #expect(c.queriesByType == [28: 1, 15: 1, 1: 2])
        #expect(c.repliesByRcode == [0: 3, 5: 1])  // the fake answers MX with REFUSED
        #expect(c.local == 1 && c.synthesized == 1 && c.cacheMisses == 4)
        #expect(c.upstreamAnswers == 4 && c.upstreamQueries == 4)  // AAAA, A, MX, A
        #expect(c.upstreamLatencyHistogram.reduce(0, +) == 4 && c.upstreamLatencyMicroseconds > 0)
        await server.stop()
        try await upstream.close()
        try await group.shutdownGracefully()
    }
}

/// N3: upstream ordering by health.
struct UpstreamHealthTests {
    @Test func N3_failedUpstreamGoesLastUntilHoldDownEnds() {
        let health = UpstreamHealth(count: 3, holdDown: .seconds(30))
        let s: UInt64 = 1_000_000_000
        #expect(health.order(now: 0) == [0, 1, 2])
        health.failed(0, now: 1 * s)
        #expect(health.order(now: 2 * s) == [1, 2, 0])
        health.failed(1, now: 2 * s)
        health.failed(1, now: 3 * s)
        #expect(health.order(now: 4 * s) == [2, 0, 1])  // fewer failures first among the failing
        #expect(health.order(now: 32 * s) == [0, 2, 1])  // 0's hold-down is over, 1's is not
        health.succeeded(1)
        #expect(health.order(now: 5 * s) == [1, 2, 0])
    }
}

/// N6: the counters as log metadata.
struct CounterMetadataTests {
    @Test func N6_countersAsLogMetadata() {
        let store = CounterStore()
        store.queries.add(3, ordering: .relaxed)
        store.countQuery(type: .aaaa)
        store.countQuery(type: .aaaa)
        store.countQuery(type: DNSRecordType(rawValue: 65280))
        store.count(.synthesized, bytes: [0, 1, 0x81, 0x80] + Array(repeating: 0, count: 8))
        store.count(.refused, bytes: [0, 1, 0x81, 0x85] + Array(repeating: 0, count: 8))
        store.upstreamAnswered(after: 3_000_000)
        let snapshot = store.snapshot
        #expect(snapshot.queriesByType == [28: 2, 65280: 1])
        #expect(snapshot.repliesByRcode == [0: 1, 5: 1])
        #expect(snapshot.upstreamLatencyHistogram == [0, 1, 0, 0, 0])
        let metadata = snapshot.metadata
        #expect(metadata["by-type"]?.description == "AAAA=2,TYPE65280=1")
        #expect(metadata["by-rcode"]?.description == "NOERROR=1,REFUSED=1")
        #expect(metadata["upstream-mean-latency-us"]?.description == "3000")
        #expect(metadata["synthesized"]?.description == "1" && metadata["refused"]?.description == "1")
        // The same as `ctl stats` lines: one name per counter, per type, per rcode and per latency bucket.
        let fields = Dictionary(uniqueKeysWithValues: snapshot.fields.map { ($0.name, $0.value) })
        #expect(fields.count == snapshot.fields.count)  // no name twice
        #expect(fields["queries"] == 3 && fields["synthesized"] == 1 && fields["refused"] == 1)
        #expect(fields["by-type.AAAA"] == 2 && fields["by-type.TYPE65280"] == 1)
        #expect(fields["by-rcode.NOERROR"] == 1 && fields["by-rcode.REFUSED"] == 1)
        #expect(fields["upstream-latency.le-1ms"] == 0 && fields["upstream-latency.le-10ms"] == 1)
        #expect(fields["upstream-answers"] == 1 && fields["upstream-mean-latency-us"] == 3000)
    }
}

/// N3 with the plain upstream sockets: a closed port answers with ICMP port unreachable, which fails the attempt at
/// once (the socket is connected), so failover does not wait for the timeout.
struct UpstreamRefusedTests {
    @Test(.timeLimit(.minutes(1))) func N3_closedPortFailsOverWithoutWaiting() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let closed = try await LoopbackIntegrationTests.udp(group)
        let closedAddress = try #require(closed.localAddress)
        try await closed.close()
        let handler = CountingUpstreamHandler()
        let upstream = try await LoopbackIntegrationTests.udp(group) { handler }
        var configuration = DNS64Configuration(
            listen: [TCPCacheIntegrationTests.localhost], upstreams: [closedAddress, try #require(upstream.localAddress)],
            prefixes: [NAT64Prefix("2001:db8:64::/96")!], allowedClients: ClientNetwork.loopback)
        // A timeout far beyond the test's time limit: only the ICMP-driven failover can answer in time.
        configuration.upstreamTimeout = .seconds(600)
        let server = DNS64Server(configuration: configuration, group: group, logger: Logger(label: "test"))
        try await server.start()
        let reply = try await LoopbackIntegrationTests.ask(
            group, try #require(server.boundAddresses.first),
            Bytes.header(id: 3, flags: 0x0100) + Bytes.question("r.example", type: Bytes.typeAAAA))
        #expect(try DNSMessage(parsing: reply).answers.map(\.rdata) == [.aaaa(IPv6Address("2001:db8:64::c000:201")!)])
        #expect(server.counters.upstreamFailures == 1 && handler.count.load(ordering: .relaxed) == 2)
        await server.stop()
        try await upstream.close()
        try await group.shutdownGracefully()
    }
}

/// Writes its bytes as soon as the connection is up.
final class SendOnActive: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    let bytes: [UInt8]
    init(_ bytes: [UInt8]) { self.bytes = bytes }

    func channelActive(context: ChannelHandlerContext) {
        context.writeAndFlush(NIOAny(ByteBuffer(bytes: bytes)), promise: nil)
        context.fireChannelActive()
    }
}
