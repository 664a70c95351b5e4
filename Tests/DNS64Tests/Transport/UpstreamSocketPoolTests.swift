import Logging
import NAT64Translator
import NIOCore
import NIOPosix
import Synchronization
import Testing
@testable import DNS64

/// An upstream on 127.0.0.1 that records the source port and ID of every query, first sends an answer with
/// the wrong ID (to be dropped), then the real one after `delay`.
final class RecordingUpstreamHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>
    let seen = Mutex<[(port: Int, id: UInt16)]>([])
    let delay: TimeAmount

    init(delay: TimeAmount = .zero) { self.delay = delay }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        let query = Array(envelope.data.readableBytesView)
        guard let answer = FakeUpstreamHandler.answer(to: query) else { return }
        seen.withLock { $0.append((envelope.remoteAddress.port ?? -1, UInt16(query[0]) << 8 | UInt16(query[1]))) }
        var wrongID = answer
        wrongID[0] ^= 0x80
        let channel = context.channel
        for (bytes, after) in [(wrongID, TimeAmount.zero), (answer, delay)] {
            let out = AddressedEnvelope(remoteAddress: envelope.remoteAddress, data: ByteBuffer(bytes: bytes))
            context.eventLoop.scheduleTask(in: after) { channel.writeAndFlush(out, promise: nil) }
        }
    }
}

/// Rule N3 on the NIO socket pool: random source port and ID per query, answers matched by ID among many
/// outstanding on one socket, spoofed IDs dropped and counted, ports rotated, timeouts released.
struct UpstreamSocketPoolTests {
    static func client(_ group: any EventLoopGroup, _ upstream: SocketAddress, ports: Int, queriesPerPort: Int,
                       timeout: Duration = .seconds(2)) -> (UpstreamClient, CounterStore) {
        let counters = CounterStore()
        let client = UpstreamClient(
            upstreams: [upstream], timeout: timeout, group: group, logger: Logger(label: "test"), counters: counters,
            socketsPerUpstream: ports, queriesPerSocket: queriesPerPort)
        return (client, counters)
    }

    @Test func N3_sourcePortAndIDVaryPerQueryAndPortsRotate() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let recorder = RecordingUpstreamHandler()
        let upstream = try await LoopbackIntegrationTests.udp(group) { recorder }
        let (client, counters) = Self.client(group, try #require(upstream.localAddress), ports: 8, queriesPerPort: 4)
        let loop = group.next()
        for i in 0..<64 {
            let query = UpstreamQuery(question: DNSQuestion(name: DNSName("q\(i).example")!, type: .a))
            let result = try await client.resolve(query, on: loop).get()
            guard case .answer(let message, _) = result else {
                Issue.record("query \(i): \(result)")
                continue
            }
            #expect(message.questions == [query.question])
        }
        let seen = recorder.seen.withLock { $0 }
        #expect(seen.count == 64)
        let byPort = Dictionary(grouping: seen, by: \.port)
        // 64 queries, at most 4 per port: at least 16 ports, and every port carried at most 4 queries.
        #expect(byPort.count >= 16)
        #expect(byPort.values.allSatisfy { $0.count <= 4 })
        #expect(Set(seen.map(\.id)).count >= 60)  // 64 random 16-bit IDs: a collision or two at most
        #expect(counters.upstreamSocketsOpened.load(ordering: .relaxed) == byPort.count)
        // Each query also drew one answer with a wrong ID, dropped and counted.
        #expect(counters.upstreamMismatches.load(ordering: .relaxed) == 64)
        // Retired sockets closed once their queries were answered: only the 8 slots' sockets are left.
        let open = await client.sockets.openPorts()
        #expect(open.count <= 8)
        await client.sockets.shutdown()
        #expect(await client.sockets.openPorts().isEmpty)
        try await upstream.close()
        try await group.shutdownGracefully()
    }

    @Test func N3_manyOutstandingOnOneSocketMatchedByID() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let recorder = RecordingUpstreamHandler(delay: .milliseconds(20))
        let upstream = try await LoopbackIntegrationTests.udp(group) { recorder }
        let (client, counters) = Self.client(group, try #require(upstream.localAddress), ports: 1, queriesPerPort: 10_000)
        let loop = group.next()
        let questions = (0..<64).map { DNSQuestion(name: DNSName("m\($0).example")!, type: $0 % 2 == 0 ? .a : .aaaa) }
        let futures = try await loop.submit {
            questions.map { client.resolve(UpstreamQuery(question: $0), on: loop) }
        }.get()
        for (question, future) in zip(questions, futures) {
            guard case .answer(let message, _) = try await future.get() else {
                Issue.record("no answer for \(question)")
                continue
            }
            #expect(message.questions == [question])
        }
        let ports = Set(recorder.seen.withLock { $0.map(\.port) })
        #expect(ports.count == 1)  // one socket carried all 64 at once, told apart by ID
        #expect(counters.upstreamMismatches.load(ordering: .relaxed) == 64)
        await client.sockets.shutdown()
        try await upstream.close()
        try await group.shutdownGracefully()
    }

    // The black hole never answers: only the 100 ms timeout can end the query (the time limit only stops a
    // hang; no wall-clock bound is asserted).
    @Test(.timeLimit(.minutes(1))) func N3_timeoutFailsTheQueryAndFreesItsID() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let blackHole = try await LoopbackIntegrationTests.udp(group)
        let (client, counters) = Self.client(
            group, try #require(blackHole.localAddress), ports: 2, queriesPerPort: 2, timeout: .milliseconds(100))
        let loop = group.next()
        let result = try await client.resolve(
            UpstreamQuery(question: DNSQuestion(name: DNSName("t.example")!, type: .a)), on: loop
        ).get()
        guard case .failed = result else {
            Issue.record("expected .failed, got \(result)")
            return
        }
        #expect(counters.upstreamFailures.load(ordering: .relaxed) == 1)
        await client.sockets.shutdown()
        try await blackHole.close()
        try await group.shutdownGracefully()
    }
}

/// Answers A queries with 70 A records (about 1.2 kB), more than NIO's default receive slot per datagram.
final class LargeAnswerUpstreamHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>
    static let count = 70

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        let query = Array(envelope.data.readableBytesView)
        var end = 12
        while end < query.count, query[end] != 0 { end += Int(query[end]) + 1 }
        guard end + 5 <= query.count else { return }
        var answer = [query[0], query[1], 0x81, 0x80, 0, 1, 0, UInt8(Self.count), 0, 0, 0, 0] + query[12...(end + 4)]
        for i in 0..<Self.count {
            answer += Bytes.recordAtQName(type: Bytes.typeA, ttl: 300, rdata: [198, 51, 100, UInt8(i + 1)])
        }
        let out = AddressedEnvelope(remoteAddress: envelope.remoteAddress, data: ByteBuffer(bytes: answer))
        context.writeAndFlush(wrapOutboundOut(out), promise: nil)
    }
}

/// Datagrams longer than NIO's default per-slot receive size (2048 bytes split over the vector read) arrive whole
/// on both sides: a 1.2 kB upstream answer, and a long client query (N1, N2).
struct LargeDatagramTests {
    @Test func N2_largeUpstreamAnswerReceivedWhole() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let upstream = try await LoopbackIntegrationTests.udp(group) { LargeAnswerUpstreamHandler() }
        let (client, counters) = UpstreamSocketPoolTests.client(
            group, try #require(upstream.localAddress), ports: 1, queriesPerPort: 100)
        let result = try await client.resolve(
            UpstreamQuery(question: DNSQuestion(name: DNSName("big.example")!, type: .a)), on: group.next()
        ).get()
        guard case .answer(let message, let raw) = result else {
            Issue.record("no answer: \(result)")
            return
        }
        #expect(raw.count > 1100)
        #expect(message.answers.count == LargeAnswerUpstreamHandler.count)
        #expect(counters.upstreamMismatches.load(ordering: .relaxed) == 0)
        await client.sockets.shutdown()
        try await upstream.close()
        try await group.shutdownGracefully()
    }

    @Test func N1_longClientQueryAnsweredWhole() async throws {
        try await LoopbackIntegrationTests.withServer(upstreams: { _ in [] }) { group, server, address in
            // A 4-label name of 60-byte labels: a 260-byte query, over NIO's default 128-byte slot at 16 per read.
            let label = String(repeating: "x", count: 60)
            let name = "\(label).\(label).\(label).\(label).example"
            let query = Bytes.header(id: 0x0707, flags: 0x0100) + Bytes.question(name, type: Bytes.typeAAAA)
            #expect(query.count > 250)
            let message = try DNSMessage(parsing: try await LoopbackIntegrationTests.ask(group, address, query))
            #expect(message.header.flags.rcode == .noError)
            #expect(message.questions.first?.name == DNSName(name))
            #expect(message.answers.map(\.rdata) == [.aaaa(IPv6Address("2001:db8:64::c000:201")!)])
        }
    }
}
