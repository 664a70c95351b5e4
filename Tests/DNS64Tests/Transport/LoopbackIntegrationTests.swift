import Logging
import NAT64Translator
import NIOCore
import NIOPosix
import Synchronization
import Testing
@testable import DNS64

/// A tiny upstream resolver on 127.0.0.1: AAAA → NODATA + SOA (MINIMUM 1200), A → 192.0.2.1 TTL 300.
/// Before each real answer it sends one with a wrong ID, which the DNS64 must drop (rule N3).
final class FakeUpstreamHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        guard let answer = Self.answer(to: Array(envelope.data.readableBytesView)) else { return }
        var spoofed = answer
        spoofed[1] ^= 0x5A
        spoofed[spoofed.count - 1] = 66  // a different address, if it were ever accepted
        for bytes in [spoofed, answer] {
            let out = AddressedEnvelope(remoteAddress: envelope.remoteAddress, data: ByteBuffer(bytes: bytes))
            context.writeAndFlush(wrapOutboundOut(out), promise: nil)
        }
    }

    /// Hand-built answer: header, the query's question copied, then the records (owner = pointer C0 0C).
    static func answer(to query: [UInt8]) -> [UInt8]? {
        var end = 12
        while end < query.count, query[end] != 0 { end += Int(query[end]) + 1 }
        guard end + 5 <= query.count else { return nil }
        let question = Array(query[12...(end + 4)])
        let qtype = UInt16(query[end + 1]) << 8 | UInt16(query[end + 2])
        switch qtype {
        case Bytes.typeAAAA:
            let soa = Bytes.recordAtQName(type: Bytes.typeSOA, ttl: 3600, rdata: Bytes.soaRData(minimum: 1200))
            return [query[0], query[1], 0x81, 0x80, 0, 1, 0, 0, 0, 1, 0, 0] + question + soa
        case Bytes.typeA:
            let a = Bytes.recordAtQName(type: Bytes.typeA, ttl: 300, rdata: [192, 0, 2, 1])
            return [query[0], query[1], 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0] + question + a
        default:
            return [query[0], query[1], 0x81, 0x85, 0, 1, 0, 0, 0, 0, 0, 0] + question
        }
    }
}

/// Completes a promise with the first datagram received.
final class FirstDatagram: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    let promise: EventLoopPromise<[UInt8]>
    init(promise: EventLoopPromise<[UInt8]>) { self.promise = promise }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        promise.succeed(Array(unwrapInboundIn(data).data.readableBytesView))
    }
}

struct LoopbackIntegrationTests {
    static let localhost = try! SocketAddress(ipAddress: "127.0.0.1", port: 0)

    /// Binds a UDP socket on 127.0.0.1 with `handler` (none: a black hole that never answers).
    static func udp(_ group: any EventLoopGroup, _ makeHandler: (@Sendable () -> (any ChannelHandler))? = nil) async throws
        -> any Channel
    {
        try await DatagramBootstrap(group: group).channelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                if let makeHandler { try channel.pipeline.syncOperations.addHandler(makeHandler()) }
            }
        }.bind(to: localhost).get()
    }

    /// Sends `query` from a fresh socket to `server` and waits (at most 5 s) for the reply.
    static func ask(_ group: any EventLoopGroup, _ server: SocketAddress, _ query: [UInt8]) async throws -> [UInt8] {
        let loop = group.next()
        let promise = loop.makePromise(of: [UInt8].self)
        let client = try await udp(loop) { FirstDatagram(promise: promise) }
        defer { client.close(promise: nil) }
        let timer = loop.scheduleTask(in: .seconds(5)) { promise.fail(UpstreamTimeout()) }
        defer { timer.cancel() }
        try await client.writeAndFlush(AddressedEnvelope(remoteAddress: server, data: ByteBuffer(bytes: query)))
        return try await promise.futureResult.get()
    }

    static func withServer(
        upstreams: (any EventLoopGroup) async throws -> [SocketAddress], allowed: [ClientNetwork] = ClientNetwork.loopback,
        timeout: Duration = .seconds(2), configure: (inout DNS64Configuration) -> Void = { _ in },
        _ body: (any EventLoopGroup, DNS64Server, SocketAddress) async throws -> Void
    ) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        var upstreamChannels: [any Channel] = []
        do {
            let fake = try await udp(group) { FakeUpstreamHandler() }
            upstreamChannels.append(fake)
            var configuration = DNS64Configuration(
                listen: [localhost], upstreams: try await upstreams(group) + [try #require(fake.localAddress)],
                prefixes: [NAT64Prefix("2001:db8:64::/96")!], allowedClients: allowed)
            configuration.upstreamTimeout = timeout
            configure(&configuration)
            let server = DNS64Server(configuration: configuration, group: group, logger: Logger(label: "test"))
            try await server.start()
            let address = try #require(server.boundAddresses.first)
            try await body(group, server, address)
            await server.stop()
            #expect(server.boundAddresses.isEmpty)
        } catch {
            Issue.record(error)
        }
        for channel in upstreamChannels { try? await channel.close() }
        try await group.shutdownGracefully()
    }

    @Test func D2_loopbackSynthesisThroughRealSockets() async throws {
        try await Self.withServer(upstreams: { _ in [] }) { group, server, address in
            let query = Bytes.header(id: 0x4242, flags: 0x0100) + Bytes.question("ipv4only.example", type: Bytes.typeAAAA)
            let reply = try await Self.ask(group, address, query)
            // By hand: ID 4242, QR RD RA, 1 question, 1 answer; AAAA at C0 0C, TTL min(300, 1200) = 300 (D5),
            // 2001:db8:64::c000:201.
            let expected: [UInt8] =
                [0x42, 0x42, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0] + Bytes.question("ipv4only.example", type: 28)
                + [0xC0, 0x0C, 0x00, 0x1C, 0x00, 0x01, 0x00, 0x00, 0x01, 0x2C, 0x00, 0x10]
                + [0x20, 0x01, 0x0D, 0xB8, 0x00, 0x64, 0, 0, 0, 0, 0, 0, 0xC0, 0x00, 0x02, 0x01]
            #expect(reply == expected)
            let counters = server.counters
            #expect(counters.queries == 1 && counters.synthesized == 1 && counters.upstreamFailures == 0)
        }
    }

    @Test func N3_timeoutFailsOverToNextUpstream() async throws {
        let clock = ContinuousClock()
        let start = clock.now
        // First upstream: a socket that never answers; 300 ms for the AAAA attempt. After that failure the A query
        // goes to the healthy upstream first (N3 order of health), so only one attempt times out.
        try await Self.withServer(upstreams: { group in [try #require(try await Self.udp(group).localAddress)] }, timeout: .milliseconds(300)) {
            group, server, address in
            let reply = try await Self.ask(group, address, Bytes.header(id: 7, flags: 0x0100) + Bytes.question("a.example", type: 28))
            let message = try DNSMessage(parsing: reply)
            #expect(message.answers == [.aaaa(DNSName("a.example")!, ttl: 300, IPv6Address("2001:db8:64::c000:201")!)])
            #expect(server.counters.upstreamFailures == 1)
        }
        #expect(clock.now - start >= .milliseconds(300))
    }

    @Test func D10_outsiderRefusedOverTheWire() async throws {
        try await Self.withServer(upstreams: { _ in [] }, allowed: [.v6(IPv6Prefix("2001:db8::/32")!)]) { group, server, address in
            let reply = try await Self.ask(group, address, Bytes.header(id: 9, flags: 0x0100) + Bytes.question("a.example", type: 28))
            #expect(Array(reply[0..<4]) == [0x00, 0x09, 0x81, 0x85])
            #expect(server.counters.refused == 1)
        }
    }

    /// A burst of queries from several clients, answered from the cache by two listener threads sharing the
    /// port (SO_REUSEPORT): every query gets exactly one answer with its own ID. When the server stops, the
    /// threads end and the port is free again.
    @Test(.timeLimit(.minutes(1))) func N1_udpBurstAnsweredBySharedSockets() async throws {
        var freedAddress: SocketAddress?
        try await Self.withServer(upstreams: { _ in [] }, configure: { $0.udpSocketsPerAddress = 2 }) {
            group, server, address in
            #expect(server.boundAddresses.count == 1)
            let question = Bytes.question("ipv4only.example", type: Bytes.typeAAAA)
            _ = try await Self.ask(group, address, Bytes.header(id: 1, flags: 0x0100) + question)  // fills the cache
            let clients = 4
            let perClient = 50
            let loop = group.next()
            let promise = loop.makePromise(of: [[UInt8]].self)
            let collector = Collector(expected: clients * perClient, promise: promise)
            var sockets: [any Channel] = []
            for _ in 0..<clients { sockets.append(try await Self.udp(loop) { CollectingHandler(collector) }) }
            let timer = loop.scheduleTask(in: .seconds(10)) { promise.fail(UpstreamTimeout()) }
            for (c, socket) in sockets.enumerated() {
                for i in 0..<perClient {
                    let id = UInt16(1000 + c * perClient + i)
                    socket.write(AddressedEnvelope(
                        remoteAddress: address, data: ByteBuffer(bytes: Bytes.header(id: id, flags: 0x0100) + question)),
                        promise: nil)
                }
                socket.flush()
            }
            let replies = try await promise.futureResult.get()
            timer.cancel()
            for socket in sockets { try await socket.close() }
            let ids = replies.map { UInt16($0[0]) << 8 | UInt16($0[1]) }.sorted()
            #expect(ids == (0..<clients * perClient).map { UInt16(1000 + $0) })
            #expect(replies.allSatisfy { $0[2] == 0x81 && $0[3] == 0x80 })
            let counters = server.counters
            #expect(counters.cacheHits == clients * perClient)
            #expect(counters.udpSendErrors == 0 && counters.udpReceiveErrors == 0)
            freedAddress = address
        }
        // The server has stopped: a socket without SO_REUSEPORT can take the port again.
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let again = try await DatagramBootstrap(group: group).bind(to: try #require(freedAddress)).get()
        try await again.close()
        try await group.shutdownGracefully()
    }

    @Test func N1_bindFailureNamesAddressAndErrno() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let taken = try await Self.udp(group)
        let address = try #require(taken.localAddress)
        let server = DNS64Server(
            configuration: DNS64Configuration(listen: [address], upstreams: [], prefixes: [], allowedClients: []),
            group: group, logger: Logger(label: "test"))
        await #expect {
            try await server.start()
        } throws: { error in
            let text = "\(error)"
            return error is DNS64ServerError && text.contains("127.0.0.1") && text.contains("in use")
        }
        #expect(server.boundAddresses.isEmpty)
        try await taken.close()
        try await group.shutdownGracefully()
    }
}

/// Collects datagrams until `expected` have come, then completes the promise with them.
final class Collector: Sendable {
    let expected: Int
    let promise: EventLoopPromise<[[UInt8]]>
    private let received = Mutex<[[UInt8]]>([])

    init(expected: Int, promise: EventLoopPromise<[[UInt8]]>) {
        self.expected = expected
        self.promise = promise
    }

    func add(_ datagram: [UInt8]) {
        let all = received.withLock { list -> [[UInt8]]? in
            list.append(datagram)
            return list.count == expected ? list : nil
        }
        if let all { promise.succeed(all) }
    }
}

/// Hands every datagram to a `Collector`.
final class CollectingHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    let collector: Collector
    init(_ collector: Collector) { self.collector = collector }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        collector.add(Array(unwrapInboundIn(data).data.readableBytesView))
    }
}
