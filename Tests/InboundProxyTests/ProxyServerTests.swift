// IP-S1–IP-S7 over loopback with real sockets: a client, the proxy, and an echo backend that records what it
// receives. No timing is asserted; each test waits for the connection it made to end.
import Foundation
import Logging
import NAT64Translator
import NIOCore
import NIOPosix
import Synchronization
import Testing

@testable import InboundProxy

/// Collects every byte a channel receives and completes when the peer has finished sending.
final class Collector: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    let done: EventLoopPromise<[UInt8]>
    var bytes: [UInt8] = []
    var finished = false

    init(done: EventLoopPromise<[UInt8]>) { self.done = done }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        bytes += Array(buffer: unwrapInboundIn(data))
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let e = event as? ChannelEvent, e == .inputClosed { finish() }
    }

    func channelInactive(context: ChannelHandlerContext) { finish() }

    private func finish() {
        guard !finished else { return }
        finished = true
        done.succeed(bytes)
    }
}

/// A backend: optionally says `greeting` first, echoes everything, half-closes when the client does, and
/// records what it received.
final class EchoBackend: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    let received = Mutex<[UInt8]>([])
    let greeting: [UInt8]
    /// Written after the client's EOF, before the backend's own.
    let farewell: [UInt8]

    init(greeting: [UInt8] = [], farewell: [UInt8] = []) { (self.greeting, self.farewell) = (greeting, farewell) }

    func channelActive(context: ChannelHandlerContext) {
        if !greeting.isEmpty { context.writeAndFlush(wrapOutboundOut(ByteBuffer(bytes: greeting)), promise: nil) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        received.withLock { $0 += Array(buffer: buffer) }
        context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard let e = event as? ChannelEvent, e == .inputClosed else { return }
        // Closing output once the input is closed is a full close in NIO, which drops unwritten bytes: close
        // once everything queued (the echo, the farewell) has been written.
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(bytes: farewell)))
            .assumeIsolated().whenComplete { _ in context.close(mode: .output, promise: nil) }
    }
}

struct Harness {
    let group: MultiThreadedEventLoopGroup
    let backendChannel: any Channel
    let backend: EchoBackend
    let proxy: ProxyServer

    var backendEndpoint: IPEndpoint { IPEndpoint(backendChannel.localAddress)! }
    var proxyAddress: SocketAddress { proxy.boundAddresses[0] }

    /// An echo backend on [::1] and a proxy listener on 127.0.0.1 whose routes `makeRoutes` builds.
    static func start(mode: ListenerMode, greeting: [UInt8] = [], farewell: [UInt8] = [], listenerDefault: String? = nil,
                      clock: (@Sendable () -> UInt64)? = nil, configure: (inout ProxySettings) -> Void = { _ in },
                      makeRoutes: (IPEndpoint) -> [RouteConfiguration]) async throws -> Harness {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let backend = EchoBackend(greeting: greeting, farewell: farewell)
        let backendChannel = try await ServerBootstrap(group: group)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { $0.pipeline.addHandler(backend) }
            .bind(host: "::1", port: 0).get()
        let routes = makeRoutes(IPEndpoint(backendChannel.localAddress)!)
        let listener = ListenerConfiguration(
            name: "l", addresses: [IPEndpoint(.v4(IPv4Address(127, 0, 0, 1)), 0)], mode: mode,
            routes: mode == .tcp ? [] : routes.map(\.name), defaultRoute: mode == .tcp ? routes[0].name : listenerDefault)
        var settings = ProxySettings(listeners: [listener], routes: routes)
        // Tests run in parallel on a shared machine: a client whose task waits for a busy thread must not be cut
        // by the handshake timeout (that rule is tested on a clock the test drives, in FrontHandlerTests).
        settings.handshakeTimeout = .seconds(120)
        configure(&settings)
        let proxy = if let clock {
            try ProxyServer(settings: settings, group: group, logger: Logger(label: "test"), clock: clock)
        } else {
            try ProxyServer(settings: settings, group: group, logger: Logger(label: "test"))
        }
        try await proxy.start()
        return Harness(group: group, backendChannel: backendChannel, backend: backend, proxy: proxy)
    }

    /// Connects to the proxy, sends `chunks` (flushing each), half-closes, and returns what came back.
    func exchange(_ chunks: [[UInt8]]) async throws -> (received: [UInt8], local: IPEndpoint) {
        let (channel, answer) = try await openClient()
        let local = IPEndpoint(channel.localAddress)!
        for chunk in chunks { try await channel.writeAndFlush(ByteBuffer(bytes: chunk)).get() }
        try? await channel.close(mode: .output).get()
        let received = try await answer.get()
        try? await channel.close().get()
        return (received, local)
    }

    /// A client connected to the proxy, and what it will have received when the proxy stops sending.
    func openClient() async throws -> (channel: any Channel, received: EventLoopFuture<[UInt8]>) {
        let promise = group.next().makePromise(of: [UInt8].self)
        let channel = try await ClientBootstrap(group: group)
            .channelOption(.allowRemoteHalfClosure, value: true)
            .channelInitializer { $0.pipeline.addHandler(Collector(done: promise)) }
            .connect(to: proxyAddress).get()
        return (channel, promise.futureResult)
    }

    func stop() async throws {
        await proxy.stop()
        try await backendChannel.close().get()
        try await group.shutdownGracefully()
    }
}

@Suite struct ProxyServerTests {
    @Test func ipS1_ipS2_tlsRouteSendsProxyHeaderAndReplaysTheHello() async throws {
        let h = try await Harness.start(mode: .tls) { backend in
            var r = RouteConfiguration(name: "a", hostnames: ["a.example"], backends: [backend])
            r.proxyProtocol = .v2
            return [r]
        }
        let hello = records(clientHelloMessage(serverName: "a.example"), recordSize: 50)
        // The hello in three segments, then application data.
        let chunks = [Array(hello[..<3]), Array(hello[3..<60]), Array(hello[60...]), Array("after".utf8)]
        let (received, local) = try await h.exchange(chunks)
        let proxyEnd = IPEndpoint(h.proxyAddress)!
        let header = ProxyProtocolHeader.v2(source: local, destination: proxyEnd, authority: "a.example", tls: true)
        let expected = header + hello + Array("after".utf8)
        #expect(h.backend.received.withLock { $0 } == expected)
        #expect(received == expected)  // echoed back through the relay, then the backend's EOF
        let counters = h.proxy.table.routes["a"]!.counters
        #expect(counters.connections.load(ordering: .relaxed) == 1)
        #expect(counters.bytesToBackend.load(ordering: .relaxed) == expected.count)
        #expect(h.proxy.counters.relayed.load(ordering: .relaxed) == 1)
        // What `ctl proxy --json` prints: valid JSON with the same figures.
        let status = h.proxy.status()
        let json = try #require(try JSONSerialization.jsonObject(with: Data(status.json.utf8)) as? [String: Any])
        let routes = try #require(json["routes"] as? [[String: Any]])
        #expect(routes.first?["name"] as? String == "a")
        #expect(routes.first?["connections"] as? Int == 1)
        #expect(routes.first?["bytes-to-backend"] as? Int == expected.count)
        let backends = try #require(routes.first?["backends"] as? [[String: Any]])
        #expect(backends.first?["up"] as? Bool == true)
        #expect(backends.first?["address"] as? String == h.backendEndpoint.description)
        #expect((json["counters"] as? [String: Any])?["relayed"] as? Int == 1)
        #expect(status.lines.contains("relayed 1"))
        try await h.stop()
    }

    @Test func ipR1_unknownNameIsRefusedAndCounted() async throws {
        let h = try await Harness.start(mode: .tls) { [RouteConfiguration(name: "a", hostnames: ["a.example"], backends: [$0])] }
        let (received, _) = try await h.exchange([records(clientHelloMessage(serverName: "zzz.example"))])
        #expect(received.isEmpty)
        #expect(h.proxy.counters.refused(.unknownName) == 1)
        #expect(h.backend.received.withLock { $0 }.isEmpty)
        let (_, _) = try await h.exchange([Array("GET / HTTP/1.1\r\n\r\n".utf8)])
        #expect(h.proxy.counters.refused(.invalidHandshake) == 1)
        try await h.stop()
    }

    @Test func ipS5_tcpForwardLetsTheBackendSpeakFirst() async throws {
        let banner = Array("SSH-2.0-test\r\n".utf8)
        let h = try await Harness.start(mode: .tcp, greeting: banner) { backend in
            var r = RouteConfiguration(name: "ssh", hostnames: [], backends: [backend])
            r.proxyProtocol = .v1
            return [r]
        }
        let (received, local) = try await h.exchange([Array("hello".utf8)])
        let header = ProxyProtocolHeader.v1(source: local, destination: IPEndpoint(h.proxyAddress)!)
        #expect(received == banner + header + Array("hello".utf8))
        try await h.stop()
    }

    @Test func httpForwardedFieldsAreAddedToTheFirstHead() async throws {
        let h = try await Harness.start(mode: .http) { backend in
            var r = RouteConfiguration(name: "web", hostnames: ["w.example"], backends: [backend])
            r.forwardedHeaders = true
            return [r]
        }
        let head = "GET / HTTP/1.1\r\nHost: w.example\r\n"
        let (received, _) = try await h.exchange([Array((head + "\r\nbody").utf8)])
        let expected = head + "Forwarded: for=127.0.0.1;proto=http\r\nX-Forwarded-For: 127.0.0.1\r\n\r\nbody"
        #expect(String(decoding: received, as: UTF8.self) == expected)
        try await h.stop()
    }

    /// On NIO and on the relay threads (IP-S13) alike.
    @Test(arguments: [ByteMover.splice, .nio])
    func ipS3_deadBackendIsMarkedDownAndTheNextOneServes(mover: ByteMover) async throws {
        // Port 1 on ::1 refuses connections: a dead backend first in round-robin order.
        let dead = IPEndpoint(.v6(.loopback), 1)
        let h = try await Harness.start(mode: .tls, configure: { $0.byteMover = mover }) {
            [RouteConfiguration(name: "a", hostnames: ["a.example"], backends: [dead, $0])]
        }
        let hello = records(clientHelloMessage(serverName: "a.example"))
        let (received, _) = try await h.exchange([hello])
        #expect(received == hello)
        let backends = h.proxy.table.routes["a"]!.backends
        #expect(backends[0].connectFailures.load(ordering: .relaxed) == 1)
        #expect(h.proxy.counters.connectFailures.load(ordering: .relaxed) == 1)
        #expect(!backends[0].isUp(now: h.proxy.clock()))
        #expect(backends[1].connections.load(ordering: .relaxed) == 1)
        #expect(h.proxy.counters.relayed.load(ordering: .relaxed) == 1)
        #expect(h.proxy.counters.spliced.load(ordering: .relaxed) == (mover == .splice ? 1 : 0))
        // The connection ended: its backend's place is given back too.
        while backends[1].active.load(ordering: .relaxed) != 0 || h.proxy.admission.usage.connections != 0 {
            try await Task.sleep(for: .milliseconds(5))
        }
        #expect(h.proxy.counters.active.load(ordering: .relaxed) == 0)
        try await h.stop()
    }

    /// IP-R3: a backend socket that cannot be made (descriptors exhausted here) is this process's shortage:
    /// the client is closed, counted resource-shortage, and the backend is not marked down; once sockets can
    /// be made again the same backend serves the next client.
    @Test(arguments: [ByteMover.splice, .nio])
    func ipR3_aLocalShortageBlamesNoBackend(mover: ByteMover) async throws {
        let h = try await Harness.start(mode: .tls, configure: { $0.byteMover = mover }) { backend in
            [RouteConfiguration(name: "a", hostnames: ["a.example"], backends: [backend])]
        }
        // Each byte mover's backend connect fails as socket(2) does when descriptors run out.
        let restore: () -> Void
        if mover == .splice {
            let relay = try #require(h.proxy.splice)
            let real = relay.backendConnect.withLock { $0.connect }
            relay.backendConnect.withLock { $0.connect = { _, _, _, _, _ in -EMFILE } }
            restore = { relay.backendConnect.withLock { $0.connect = real } }
        } else {
            #expect(h.proxy.splice == nil)
            let real = h.proxy.backendConnect.withLock { $0.connect }
            h.proxy.backendConnect.withLock {
                $0.connect = { _, _, loop in loop.makeFailedFuture(IOError(errnoCode: EMFILE, reason: "socket")) }
            }
            restore = { h.proxy.backendConnect.withLock { $0.connect = real } }
        }
        let hello = records(clientHelloMessage(serverName: "a.example"))
        let (refused, _) = try await h.exchange([hello])
        #expect(refused.isEmpty)
        #expect(h.proxy.counters.refused(.resourceShortage) == 1)
        #expect(h.proxy.counters.refused(.noBackend) == 0)
        let backend = h.proxy.table.routes["a"]!.backends[0]
        #expect(backend.connectFailures.load(ordering: .relaxed) == 0)
        #expect(h.proxy.counters.connectFailures.load(ordering: .relaxed) == 0)
        #expect(backend.isUp(now: h.proxy.clock()))
        restore()
        let (received, _) = try await h.exchange([hello])
        #expect(received == hello)
        try await h.stop()
    }

    @Test(arguments: [ByteMover.splice, .nio])
    func ipS3_whenEveryBackendFailsTheClientIsClosedAndCountedNoBackend(mover: ByteMover) async throws {
        let dead = IPEndpoint(.v6(.loopback), 1)
        let h = try await Harness.start(mode: .tls, configure: { $0.byteMover = mover }) { _ in
            [RouteConfiguration(name: "a", hostnames: ["a.example"], backends: [dead])]
        }
        let (received, _) = try await h.exchange([records(clientHelloMessage(serverName: "a.example"))])
        #expect(received.isEmpty)
        #expect(h.proxy.counters.refused(.noBackend) == 1)
        let backend = h.proxy.table.routes["a"]!.backends[0]
        #expect(backend.connectFailures.load(ordering: .relaxed) == 1)
        #expect(backend.active.load(ordering: .relaxed) == 0)
        #expect(h.proxy.counters.relayed.load(ordering: .relaxed) == 0)
        while h.proxy.admission.usage.connections != 0 { try await Task.sleep(for: .milliseconds(5)) }
        #expect(h.proxy.counters.active.load(ordering: .relaxed) == 0)
        #expect(h.proxy.table.routes["a"]!.counters.active.load(ordering: .relaxed) == 0)
        try await h.stop()
    }

    @Test func ipS7_applySwapsRoutesForNewConnectionsOnly() async throws {
        let h = try await Harness.start(mode: .tls) { [RouteConfiguration(name: "a", hostnames: ["a.example"], backends: [$0])] }
        // An established relay: connected and replayed, still open.
        let (channel, answer) = try await h.openClient()
        let hello = records(clientHelloMessage(serverName: "a.example"))
        try await channel.writeAndFlush(ByteBuffer(bytes: hello)).get()
        while h.proxy.counters.relayed.load(ordering: .relaxed) == 0 { try await Task.sleep(for: .milliseconds(5)) }
        // The route now serves another name only.
        try h.proxy.apply([RouteConfiguration(name: "a", hostnames: ["new.example"], backends: [h.backendEndpoint])])
        let (refused, _) = try await h.exchange([hello])
        #expect(refused.isEmpty)
        #expect(h.proxy.counters.refused(.unknownName) == 1)
        // The established connection still relays.
        try await channel.writeAndFlush(ByteBuffer(string: "still here")).get()
        try await channel.close(mode: .output).get()
        let received = try await answer.get()
        #expect(received == hello + Array("still here".utf8))
        #expect(h.proxy.table.routes["a"]!.counters.connections.load(ordering: .relaxed) == 1)
        try await h.stop()
    }
}
