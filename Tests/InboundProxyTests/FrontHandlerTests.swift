// IP-S1 and the refusals before any backend is contacted, on an EmbeddedChannel whose event loop's clock the
// test advances (no sockets, no wall clock).
import Logging
import NAT64Translator
import NIOCore
import NIOEmbedded
import Testing

@testable import InboundProxy

@Suite struct FrontHandlerTests {
    let loop = EmbeddedEventLoop()
    let listener = ListenerConfiguration(name: "l", addresses: [IPEndpoint(.v4(IPv4Address(192, 0, 2, 1)), 443)],
                                         mode: .tls, routes: ["a"], defaultRoute: nil)

    func server(maxPerClient: Int = 10) throws -> ProxyServer {
        var settings = ProxySettings(
            listeners: [listener],
            routes: [RouteConfiguration(name: "a", hostnames: ["a.example"], backends: [IPEndpoint(.v6(.loopback), 1)])])
        settings.handshakeTimeout = .seconds(5)
        settings.maxHandshakeBytes = 1024
        settings.maxConnectionsPerClient = maxPerClient
        return try ProxyServer(settings: settings, group: loop, logger: Logger(label: "test"))
    }

    func connect(_ server: ProxyServer, from port: Int = 40000) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel(handler: FrontHandler(server: server, listener: listener), loop: loop)
        channel.localAddress = try SocketAddress(ipAddress: "192.0.2.1", port: 443)
        try channel.connect(to: SocketAddress(ipAddress: "198.51.100.7", port: port)).wait()
        return channel
    }

    @Test func ipS1_slowClientHelloIsCutAtTheHandshakeTimeout() throws {
        let server = try server()
        let channel = try connect(server)
        let hello = records(clientHelloMessage(serverName: "a.example"))
        try channel.writeInbound(ByteBuffer(bytes: hello.prefix(20)))
        loop.advanceTime(by: .milliseconds(4_900))
        #expect(channel.isActive)
        #expect(server.admission.usage.connections == 1)
        loop.advanceTime(by: .milliseconds(200))
        #expect(!channel.isActive)
        #expect(server.counters.refused(.handshakeTimeout) == 1)
        #expect(server.admission.usage.connections == 0)
        #expect(server.counters.active.load(ordering: .relaxed) == 0)
    }

    @Test func ipS1_oversizedAndInvalidFirstBytesAreRefusedAtOnce() throws {
        let server = try server()
        let big = try connect(server, from: 40001)
        try big.writeInbound(ByteBuffer(bytes: records(clientHelloMessage(serverName: "a.example", padding: 2000)).prefix(9)))
        #expect(!big.isActive)
        #expect(server.counters.refused(.oversizedHandshake) == 1)
        let http = try connect(server, from: 40002)
        try http.writeInbound(ByteBuffer(string: "GET / HTTP/1.1\r\n"))
        #expect(!http.isActive)
        #expect(server.counters.refused(.invalidHandshake) == 1)
        #expect(server.admission.usage.connections == 0)
    }

    @Test func ipR1_unknownNameIsRefusedWithoutABackend() throws {
        let server = try server()
        let channel = try connect(server)
        try channel.writeInbound(ByteBuffer(bytes: records(clientHelloMessage(serverName: "b.example"))))
        #expect(!channel.isActive)
        #expect(server.counters.refused(.unknownName) == 1)
        #expect(server.table.routes["a"]!.counters.connections.load(ordering: .relaxed) == 0)
    }

    @Test func ipL2_perClientLimitRefusesTheNextConnection() throws {
        let server = try server(maxPerClient: 2)
        let first = try connect(server, from: 40001)
        let second = try connect(server, from: 40002)
        let third = try connect(server, from: 40003)
        #expect(first.isActive && second.isActive)
        #expect(!third.isActive)
        #expect(server.counters.refused(.clientLimit) == 1)
        _ = try first.close().wait()
        #expect(server.counters.refused(.closedEarly) == 1)
        #expect(try connect(server, from: 40004).isActive)
    }

    @Test func ipT6_dripFedFirstBytesAreStillRouted() throws {
        let server = try server()
        // TLS, one byte per read: parsed only at record ends, decided at the last byte.
        let hello = records(clientHelloMessage(serverName: "zzz.example"), recordSize: 40)
        let tls = try connect(server, from: 40001)
        for (i, byte) in hello.enumerated() {
            #expect(tls.isActive, "closed before byte \(i)")
            try tls.writeInbound(ByteBuffer(bytes: [byte]))
        }
        #expect(!tls.isActive)
        // HTTP, one byte per read: parsed only at line ends.
        let httpListener = ListenerConfiguration(name: "h", addresses: listener.addresses, mode: .http, routes: ["a"],
                                                 defaultRoute: nil)
        let http = EmbeddedChannel(handler: FrontHandler(server: server, listener: httpListener), loop: loop)
        http.localAddress = try SocketAddress(ipAddress: "192.0.2.1", port: 80)
        try http.connect(to: SocketAddress(ipAddress: "198.51.100.7", port: 40002)).wait()
        let head = Array("GET / HTTP/1.1\r\nHost: zzz.example\r\n\r\n".utf8)
        for (i, byte) in head.enumerated() {
            #expect(http.isActive, "closed before byte \(i)")
            try http.writeInbound(ByteBuffer(bytes: [byte]))
        }
        #expect(!http.isActive)
        #expect(server.counters.refused(.unknownName) == 2)
    }
}
