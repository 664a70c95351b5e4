// The proxy on SwiftNIO: listeners accept clients, read their first bytes until the route is known, connect to
// a backend, send the PROXY header and the bytes read so far, then relay both ways until both sides close.
//
// Rules (IP-S*, tested in ProxyServerTests over loopback and by scripts/netns-proxy-test.sh):
//   IP-S1  the first bytes are buffered up to `maxHandshakeBytes` (plus at most one more read); a ClientHello or
//          request head not complete within `handshakeTimeout` is cut (counted handshake-timeout).
//   IP-S2  while the backend connects, the client is not read (autoRead off); the backend is not read until
//          the relay is in place, so a server that speaks first (SSH) loses nothing.
//   IP-S3  a failed connect (or one slower than `connectTimeout`) marks the backend down (IP-R3) and the next
//          backend is tried (IP-R4); when all failed the client is closed (counted no-backend).
//   IP-S4  relaying has backpressure: a side is read only while the other side is writable.
//   IP-S5  half-close is passed on: EOF from one side shuts down writing to the other; a connection ends when
//          both directions are closed or either side closes fully or fails.
//   IP-S6  a relayed connection idle (no byte either way) for `idleTimeout` is closed (counted idle-closed).
//   IP-S7  route changes (`apply`) affect new connections only (IP-R5).
//   IP-S8–IP-S14: with the splice relay (the default), the relay threads do all of this themselves
//          (SpliceRelay.swift: their own listeners, the same first-bytes rules, the backend connect, splice);
//          this file's FrontHandler and GlueHandler serve when `byteMover` is `.nio` or the threads cannot run.

import CSpliceLinux
import Listening
import Logging
import NIOCore
import NIOPosix
import NAT64Translator
import Synchronization

/// Everything the proxy needs to run.
public struct ProxySettings: Sendable {
    public var listeners: [ListenerConfiguration]
    public var routes: [RouteConfiguration]
    public var maxConnections = 10_000
    public var maxConnectionsPerClient = 256
    public var maxHandshakeBytes = ClientHello.defaultMaxBytes
    public var handshakeTimeout: TimeAmount = .seconds(5)
    public var connectTimeout: TimeAmount = .seconds(3)
    public var idleTimeout: TimeAmount = .seconds(600)
    /// How long a failed backend stays down (IP-R3).
    public var downTime: TimeAmount = .seconds(10)
    /// Active TCP checks of every backend at this interval; nil: passive health only.
    public var healthCheckInterval: TimeAmount? = nil
    /// How established connections move their bytes (SpliceRelay.swift).
    public var byteMover = ByteMover.splice
    /// Capacity asked for each splice pipe (F_SETPIPE_SZ; the kernel rounds it to pages and caps it).
    public var pipeSize = 256 * 1024
    /// Relay threads for spliced connections.
    public var relayThreads = System.coreCount
    /// Hands routed connections to the kernel (Offload.swift); nil: off. Only with the splice relay.
    public var offload: (any ConnectionOffload)? = nil
    /// Bytes a connection moves on the relay (both ways together) before it is handed over; 0: as soon as its
    /// first bytes are written. Short exchanges then never pay for a hand-over.
    public var offloadAfter = 256 * 1024

    public init(listeners: [ListenerConfiguration], routes: [RouteConfiguration]) {
        self.listeners = listeners
        self.routes = routes
    }
}

/// The running proxy.
public final class ProxyServer: Sendable {
    public let settings: ProxySettings
    public let counters = ProxyCounters()
    public let admission: Admission
    let group: any EventLoopGroup
    let logger: Logger
    /// Monotonic nanoseconds (injectable for tests).
    let clock: @Sendable () -> UInt64
    private let current: Mutex<RouteTable>
    private let channels = Mutex<[any Channel]>([])
    private let checks = Mutex<RepeatedTask?>(nil)
    /// The splice relay threads (nil: `byteMover` is `.nio`, or epoll could not be set up).
    let splice: SpliceRelay?
    /// How the NIO byte mover connects a backend: `bootstrap.connect(to:)`. Tests put a stand-in here (a
    /// shortage on demand, IP-R3), as `SpliceRelay.backendConnect` does for the relay threads.
    /// (In a struct for the reason given at `SpliceRelay.BackendConnector`.)
    typealias BackendConnect = @Sendable (ClientBootstrap, SocketAddress, any EventLoop) -> EventLoopFuture<any Channel>
    struct BackendConnector: Sendable { var connect: BackendConnect }
    let backendConnect = Mutex(BackendConnector(connect: { bootstrap, address, _ in bootstrap.connect(to: address) }))

    /// Checks the routes and prepares the proxy; `start` binds the listeners.
    public init(settings: ProxySettings, group: any EventLoopGroup, logger: Logger,
                clock: @escaping @Sendable () -> UInt64 = { NIODeadline.now().uptimeNanoseconds }) throws(RouteTable.Problem) {
        self.settings = settings
        self.group = group
        self.logger = logger
        self.clock = clock
        self.admission = Admission(maxConnections: settings.maxConnections,
                                   maxConnectionsPerClient: settings.maxConnectionsPerClient)
        current = Mutex(try RouteTable(routes: settings.routes, listeners: settings.listeners, previous: nil))
        splice = settings.byteMover == .splice
            ? SpliceRelay(threads: settings.relayThreads, pipeSize: settings.pipeSize,
                          idleTimeout: UInt64(settings.idleTimeout.nanoseconds),
                          connectTimeout: UInt64(settings.connectTimeout.nanoseconds),
                          downTime: UInt64(settings.downTime.nanoseconds), clock: clock, counters: counters)
            : nil
    }

    /// The routes in force.
    public var table: RouteTable { current.withLock { $0 } }

    /// Replaces the routes for new connections; established ones keep theirs (IP-R5, IP-S7).
    public func apply(_ routes: [RouteConfiguration]) throws(RouteTable.Problem) {
        let old = table
        let new = try RouteTable(routes: routes, listeners: settings.listeners, previous: old)
        current.withLock { $0 = new }
    }

    /// The addresses the listeners are bound to (with the ports the kernel chose for port 0), each once.
    public var boundAddresses: [SocketAddress] {
        var seen: [SocketAddress] = channels.withLock { list in
            var seen: [SocketAddress] = []
            for case let a? in list.map(\.localAddress) where !seen.contains(a) { seen.append(a) }
            return seen
        }
        for case let a? in (splice?.boundAddresses ?? []).map({ try? $0.socketAddress }) where !seen.contains(a) { seen.append(a) }
        return seen
    }

    /// Binds every listener address and starts the health checks.
    ///
    /// With the splice relay (IP-S14), each relay thread listens on every address itself (SpliceRelay.swift).
    /// Otherwise each address is bound once per event loop with SO_REUSEPORT: the kernel spreads new
    /// connections over the loops, and a connection lives on the loop that accepted it (its backend connect
    /// too, through that loop's own ClientBootstrap), so no connection crosses threads. Port 0 is bound on the
    /// first loop or thread and the others join the port the kernel chose.
    public func start() async throws {
        if let splice {
            var front = FrontSettings(
                admission: admission, route: { [weak self] in self?.table.route(listener: $0, name: $1) },
                maxHandshakeBytes: settings.maxHandshakeBytes,
                handshakeTimeout: UInt64(settings.handshakeTimeout.nanoseconds), acceptErrors: counters.acceptErrors,
                logger: logger)
            front.offload = settings.offload
            front.offloadAfter = settings.offloadAfter
            front.idleTimeout = UInt64(settings.idleTimeout.nanoseconds)
            try splice.listen(settings.listeners, front: front)
            if splice.start() {
                startChecks()
                return
            }
        }
        let loops = Array(group.makeIterator())
        for listener in settings.listeners {
            for endpoint in listener.addresses {
                var address = try endpoint.socketAddress
                for loop in loops {
                    let connector = LoopConnector(bootstrap: makeConnector(loop))
                    let channel = try await ServerBootstrap(group: loop)
                        .serverChannelOption(.backlog, value: 1024)
                        .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                        .serverChannelOption(.socket(SocketOptionLevel(SOL_SOCKET), SO_REUSEPORT), value: loops.count > 1 ? 1 : 0)
                        .guardingAccept(listener: "proxy \(address)", errors: counters.acceptErrors, logger: logger)
                        .childChannelOption(.allowRemoteHalfClosure, value: true)
                        .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                        .childChannelInitializer { [self] channel in
                            channel.eventLoop.makeCompletedFuture {
                                try channel.pipeline.syncOperations.addHandler(
                                    FrontHandler(server: self, listener: listener, connector: connector.bootstrap))
                            }
                        }
                        .bind(to: address).get()
                    channels.withLock { $0.append(channel) }
                    if let bound = channel.localAddress { address = bound }
                }
            }
        }
        startChecks()
    }

    private func startChecks() {
        if let interval = settings.healthCheckInterval {
            let task = group.next().scheduleRepeatedTask(initialDelay: .zero, delay: interval) { [self] _ in
                checkBackends(timeout: min(interval, settings.connectTimeout))
            }
            checks.withLock { $0 = task }
        }
    }

    /// Closes the listeners (relayed connections end with the event loop group).
    public func stop() async {
        checks.withLock { $0?.cancel(); $0 = nil }
        let all = channels.withLock { list in defer { list = [] }; return list }
        for channel in all { try? await channel.close() }
        splice?.stop()
    }

    /// How backends are connected from `loop` (IP-S2: not read until the relay is in place).
    func makeConnector(_ loop: any EventLoop) -> ClientBootstrap {
        ClientBootstrap(group: loop)
            .connectTimeout(settings.connectTimeout)
            .channelOption(.autoRead, value: false)
            .channelOption(.allowRemoteHalfClosure, value: true)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
    }

    /// One round of active checks: a TCP connect to every backend (IP-R3).
    func checkBackends(timeout: TimeAmount) {
        var seen = Set<IPEndpoint>()
        for route in table.routes.values {
            for backend in route.backends where seen.insert(backend.endpoint).inserted {
                guard let address = try? backend.endpoint.socketAddress else { continue }
                counters.healthChecks.add(1, ordering: .relaxed)
                ClientBootstrap(group: group.next()).connectTimeout(timeout).connect(to: address)
                    .whenComplete { [self] result in
                        switch result {
                        case .success(let channel):
                            backend.markUp()
                            channel.close(promise: nil)
                        case .failure:
                            counters.healthCheckFailures.add(1, ordering: .relaxed)
                            backend.markDown(now: clock(), for: UInt64(settings.downTime.nanoseconds))
                        }
                    }
            }
        }
    }
}

extension IPEndpoint {
    /// The NIO address.
    public var socketAddress: SocketAddress {
        get throws { try SocketAddress(ipAddress: address.description, port: Int(port)) }
    }

    /// The endpoint of a NIO address (nil for Unix sockets), read from the socket address itself (no text).
    public init?(_ address: SocketAddress?) {
        switch address {
        case .v4(let a)?:
            let sa = a.address
            self.init(.v4(IPv4Address(UInt32(bigEndian: sa.sin_addr.s_addr))), UInt16(bigEndian: sa.sin_port))
        case .v6(let a)?:
            let sa = a.address
            let (high, low) = withUnsafeBytes(of: sa.sin6_addr) { raw in
                (UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 0, as: UInt64.self)),
                 UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self)))
            }
            self.init(.v6(IPv6Address(high: high, low: low)), UInt16(bigEndian: sa.sin6_port))
        default:
            return nil
        }
    }
}

/// A ClientBootstrap made for one event loop and used only by the handlers on that loop.
struct LoopConnector: @unchecked Sendable {
    let bootstrap: ClientBootstrap
}

/// What one client connection holds (admission place, route place, backend), released once.
final class ConnectionSlot {
    let server: ProxyServer
    let client: IPAddress
    var route: RouteState?
    var backend: BackendState?
    private var released = false

    init(server: ProxyServer, client: IPAddress) {
        self.server = server
        self.client = client
    }

    func release() {
        guard !released else { return }
        released = true
        server.admission.release(client)
        server.counters.active.subtract(1, ordering: .relaxed)
        route?.release()
        backend?.active.subtract(1, ordering: .relaxed)
    }
}

/// The client side until the relay starts: admission, first bytes, routing, connecting (IP-S1–IP-S3).
final class FrontHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private enum State { case reading, connecting, relaying, closed }

    let server: ProxyServer
    let listener: ListenerConfiguration
    /// Connects backends on this handler's event loop (nil: made for each connection).
    let connector: ClientBootstrap?
    private var state = State.reading
    private var buffer = ByteBuffer()
    private var slot: ConnectionSlot?
    private var timeout: Scheduled<Void>?
    private var client: IPEndpoint?
    private var local: IPEndpoint?
    private var name: String?
    private var headLength: Int?
    private var tried = Set<Int>()
    /// The client half-closed while the backend was being connected: passed on once the relay is in place.
    private var clientEOF = false
    /// TLS: no parse before the buffer holds this many bytes (IP-T6). HTTP: bytes already searched for a LF.
    private var wanted = 0

    init(server: ProxyServer, listener: ListenerConfiguration, connector: ClientBootstrap? = nil) {
        self.server = server
        self.listener = listener
        self.connector = connector
    }

    func channelActive(context: ChannelHandlerContext) {
        guard let client = IPEndpoint(context.channel.remoteAddress) else {
            context.close(promise: nil)
            return
        }
        self.client = client
        local = IPEndpoint(context.channel.localAddress)
        server.counters.accepted.add(1, ordering: .relaxed)
        if let reason = server.admission.admit(client.address) {  // IP-L1, IP-L2
            state = .closed
            server.counters.countRefusal(reason)
            context.close(promise: nil)
            return
        }
        server.counters.active.add(1, ordering: .relaxed)
        slot = ConnectionSlot(server: server, client: client.address)
        if listener.mode == .tcp {
            routeKnown(context: context, name: nil)
        } else {
            timeout = context.eventLoop.assumeIsolated().scheduleTask(in: server.settings.handshakeTimeout) {
                self.refuse(context: context, .handshakeTimeout)  // IP-S1
            }
        }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        switch state {
        case .relaying:
            context.fireChannelRead(data)
        case .closed:
            return
        case .connecting:
            buffer.writeBuffer(&bytes)
        case .reading:
            let before = buffer.readableBytes
            buffer.writeBuffer(&bytes)
            // Parse again only when the answer can change: TLS once the record under way is whole (IP-T6),
            // HTTP once a new line has ended (the head ends at a line end); the size limit is checked always.
            let ready = switch listener.mode {
            case .tls: buffer.readableBytes >= wanted
            case .http: buffer.readableBytesView[(buffer.readerIndex + before)...].contains(0x0A)
            case .tcp: false
            }
            if ready || buffer.readableBytes >= server.settings.maxHandshakeBytes {
                inspect(context: context)
            }
        }
    }

    /// Decides once the first bytes say where to go (IP-S1).
    private func inspect(context: ChannelHandlerContext) {
        let limit = server.settings.maxHandshakeBytes
        switch FirstBytes.decide(buffer.readableBytesView, mode: listener.mode, limit: limit) {
        case .needMore(let w):
            if listener.mode == .tls { wanted = w }
        case .route(let n, let length):
            headLength = length
            routeKnown(context: context, name: n)
        case .refuse(let reason):
            refuse(context: context, reason)
        }
        if state == .reading && buffer.readableBytes > limit + 16 * 1024 {
            refuse(context: context, .oversizedHandshake)  // records beyond the message: bounded all the same
        }
    }

    private func refuse(context: ChannelHandlerContext, _ reason: RefusalReason) {
        guard state == .reading || state == .connecting else { return }
        state = .closed
        timeout?.cancel()
        server.counters.countRefusal(reason)
        server.logger.debug("proxy refused", metadata: ["reason": "\(reason.rawValue)", "client": "\(client?.description ?? "?")",
                                                        "listener": "\(listener.name)", "name": "\(name ?? "")"])
        slot?.release()
        context.close(promise: nil)
    }

    private func routeKnown(context: ChannelHandlerContext, name: String?) {
        self.name = name
        guard let route = server.table.route(listener: listener.name, name: name) else {
            refuse(context: context, .unknownName)  // IP-R1
            return
        }
        guard route.admit() else {  // IP-L3
            refuse(context: context, .routeLimit)
            return
        }
        slot?.route = route
        timeout?.cancel()
        state = .connecting
        try? context.channel.syncOptions?.setOption(.autoRead, value: false)  // IP-S2
        connectNext(context: context, route: route)
    }

    /// IP-S3: tries the route's backends in the order `pick` gives until one connects.
    private func connectNext(context: ChannelHandlerContext, route: RouteState) {
        guard let index = route.pick(now: server.clock(), tried: tried) else {
            refuse(context: context, .noBackend)
            return
        }
        tried.insert(index)
        let backend = route.backends[index]
        guard let address = try? backend.endpoint.socketAddress else {
            connectNext(context: context, route: route)
            return
        }
        let connect = server.backendConnect.withLock { $0.connect }
        connect(connector ?? server.makeConnector(context.eventLoop), address, context.eventLoop)
            .hop(to: context.eventLoop).assumeIsolated()
            .whenComplete { result in
                switch result {
                case .success(let channel):
                    backend.markUp()
                    self.connected(context: context, route: route, backend: backend, channel: channel)
                case .failure(let error):
                    if let io = error as? IOError, isResourceShortage(io.errnoCode) {  // IP-R3: not the backend's fault
                        if self.state == .connecting { self.refuse(context: context, .resourceShortage) }
                        return
                    }
                    backend.connectFailures.add(1, ordering: .relaxed)
                    self.server.counters.connectFailures.add(1, ordering: .relaxed)
                    backend.markDown(now: self.server.clock(), for: UInt64(self.server.settings.downTime.nanoseconds))
                    guard self.state == .connecting else { return }
                    self.connectNext(context: context, route: route)
                }
            }
    }

    /// Sends the PROXY header and the buffered bytes, then puts the relay in place.
    private func connected(context: ChannelHandlerContext, route: RouteState, backend: BackendState, channel: any Channel) {
        guard state == .connecting, let slot, let client, let local else {
            channel.close(promise: nil)
            return
        }
        state = .relaying
        slot.backend = backend
        backend.active.add(1, ordering: .relaxed)
        backend.connections.add(1, ordering: .relaxed)
        server.counters.relayed.add(1, ordering: .relaxed)
        let first = channel.allocator.buffer(bytes: FirstBytes.assemble(
            buffer.readableBytesView, route: route.configuration, mode: listener.mode, client: client, local: local,
            name: name, headLength: headLength))
        buffer.clear()
        route.counters.bytesToBackend.add(first.readableBytes, ordering: .relaxed)
        startGlue(context: context, route: route, channel: channel, first: first)
    }

    /// NIO's relay (GlueHandler) for this connection; `first`, when given, is written to the backend first.
    private func startGlue(context: ChannelHandlerContext, route: RouteState, channel: any Channel, first: ByteBuffer?) {
        guard let slot else { return }
        let relay = Relay(slot: slot, route: route)
        let front = GlueHandler(relay: relay, toBackend: true)
        let back = GlueHandler(relay: relay, toBackend: false)
        front.partner = back
        back.partner = front
        do {
            try context.pipeline.syncOperations.addHandler(
                IdleStateHandler(allTimeout: server.settings.idleTimeout), position: .first)  // IP-S6
            try context.pipeline.syncOperations.addHandler(front, position: .after(self))
            try channel.pipeline.syncOperations.addHandler(back)
        } catch {
            channel.close(promise: nil)
            context.close(promise: nil)
            return
        }
        if let first { channel.writeAndFlush(first, promise: nil) }
        if clientEOF { front.inputWasClosed() }  // IP-S5: the EOF that came while connecting
        try? channel.syncOptions?.setOption(.autoRead, value: true)
        try? context.channel.syncOptions?.setOption(.autoRead, value: true)
    }

    /// `Forwarded` (RFC 7239 §4, IPv6 in quoted brackets) and `X-Forwarded-For` fields for the client.
    static func forwardedFields(client: IPAddress) -> String {
        switch client.unmapped {
        case .v4(let a): "Forwarded: for=\(a);proto=http\r\nX-Forwarded-For: \(a)\r\n"
        case .v6(let a): "Forwarded: for=\"[\(a)]\";proto=http\r\nX-Forwarded-For: \(a)\r\n"
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard let e = event as? ChannelEvent, e == .inputClosed, state != .relaying else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        switch state {
        case .reading:
            // IP-S5: EOF before the route is known; a request that is complete was routed already.
            refuse(context: context, .closedEarly)
        case .connecting:
            clientEOF = true
        case .relaying, .closed:
            break
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        timeout?.cancel()
        switch state {
        case .reading, .connecting:
            state = .closed
            server.counters.countRefusal(.closedEarly)
            slot?.release()
        case .relaying, .closed:
            break
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if state == .relaying {
            context.fireErrorCaught(error)
        } else {
            context.close(promise: nil)
        }
    }
}

/// One relayed connection: releases its places when both channels are gone.
final class Relay {
    let slot: ConnectionSlot
    let route: RouteState
    private var open = 2

    init(slot: ConnectionSlot, route: RouteState) {
        self.slot = slot
        self.route = route
    }

    func channelClosed() {
        open -= 1
        if open == 0 { slot.release() }
    }
}

/// Moves bytes from its channel to the partner's (IP-S4, IP-S5, IP-S6). Both channels share one event loop.
final class GlueHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let relay: Relay
    /// True on the client's channel (its reads go to the backend).
    let toBackend: Bool
    var partner: GlueHandler?
    private var context: ChannelHandlerContext?
    private var pendingRead = false
    private var inputClosed = false
    private var outputClosed = false
    private var active = true

    init(relay: Relay, toBackend: Bool) {
        self.relay = relay
        self.toBackend = toBackend
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        partner = nil
    }

    // MARK: Called by the partner

    private func partnerWrite(_ data: ByteBuffer) {
        context?.write(wrapOutboundOut(data), promise: nil)
    }

    private func partnerFlush() { context?.flush() }

    private func partnerWriteEOF() {
        guard let context, !outputClosed else { return }
        outputClosed = true
        if inputClosed {
            // Both directions are done. NIO turns a half-close of a channel whose input is closed into a full
            // close, which drops unwritten bytes: close once everything queued has been written.
            context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(capacity: 0)))
                .assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        } else {
            context.close(mode: .output, promise: nil)
        }
    }

    private func partnerClosed() { context?.close(promise: nil) }

    private func partnerBecameWritable() {
        if pendingRead {
            pendingRead = false
            context?.read()
        }
    }

    private var isWritable: Bool { context?.channel.isWritable ?? false }

    // MARK: Own channel

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data)
        if toBackend {
            relay.route.counters.bytesToBackend.add(bytes.readableBytes, ordering: .relaxed)
        } else {
            relay.route.counters.bytesToClient.add(bytes.readableBytes, ordering: .relaxed)
        }
        partner?.partnerWrite(bytes)
    }

    func channelReadComplete(context: ChannelHandlerContext) { partner?.partnerFlush() }

    func channelInactive(context: ChannelHandlerContext) {
        if active {
            active = false
            relay.channelClosed()
        }
        partner?.partnerClosed()
    }

    /// The client's EOF arrived before this handler was in place (IP-S5).
    func inputWasClosed() {
        guard !inputClosed else { return }
        inputClosed = true
        partner?.partnerWriteEOF()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let e = event as? ChannelEvent, e == .inputClosed {
            inputClosed = true
            partner?.partnerWriteEOF()
            if outputClosed { context.close(promise: nil) }
        } else if event is IdleStateHandler.IdleStateEvent {
            relay.slot.server.counters.idleClosed.add(1, ordering: .relaxed)
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) { context.close(promise: nil) }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { partner?.partnerBecameWritable() }
    }

    func read(context: ChannelHandlerContext) {
        if partner?.isWritable ?? false {
            context.read()
        } else {
            pendingRead = true
        }
    }
}
