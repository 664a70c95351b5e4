// Upstream UDP queries on SwiftNIO datagram channels (rule N3 of docs/dns64.md; RFC 5452 §9.2 and §10 for ID
// and source-port randomness).
//
// A NIO channel costs about 30 system calls to open and close (measured here: 120–270 µs of CPU each), and a
// cold DNS64 answer needs two upstream queries, so a channel per query would cost more than the resolution it
// serves. Instead each event loop keeps, per upstream, `socketsPerUpstream` connected channels, each on its own
// kernel-chosen random ephemeral port. A query goes out from one of them picked at random, with a random ID no
// other outstanding query on that socket uses. Each socket is retired after `queriesPerSocket` queries and
// replaced by a fresh one on a new random port. A spoofed answer must then guess the 16-bit ID and one of
// `socketsPerUpstream` × loops live ports that keep moving, and echo the question; dnsmasq's fixed pool of 64
// random ports is the model, with port rotation on top. Unbound and BIND open a socket per query: stronger
// against spoofing, at the cost above per query.
//
// Sockets are connected: the kernel delivers only datagrams from the upstream's address and port (the address
// part of the N3 check), and an ICMP port unreachable comes back as ECONNREFUSED on that socket, which fails
// the queries waiting on it at once, so failover does not wait for the timeout. ID, QR and question are checked
// by `UpstreamMatcher`; a datagram that fails them is dropped and counted, and its query keeps waiting.
//
// Everything here runs on the event loop that owns the pool: the listener's loop asks, the channel's handler
// answers, no locks and no thread hops.
import NIOCore
import NIOPosix

/// The channels of every event loop, created lazily, one `LoopSockets` per loop of the group.
final class UpstreamSocketPool: Sendable {
    /// Sockets kept open per upstream and event loop.
    let socketsPerUpstream: Int
    /// Queries one socket carries before it is replaced by one on a new port.
    let queriesPerSocket: Int
    private let counters: CounterStore
    private let upstreams: [SocketAddress]
    /// Per loop, its sockets, made on first use on that loop.
    private let loops: [(loop: any EventLoop, sockets: NIOLoopBoundBox<LoopSockets?>)]

    init(group: any EventLoopGroup, upstreams: [SocketAddress], socketsPerUpstream: Int, queriesPerSocket: Int,
         counters: CounterStore) {
        self.socketsPerUpstream = max(1, socketsPerUpstream)
        self.queriesPerSocket = max(1, queriesPerSocket)
        self.counters = counters
        self.upstreams = upstreams
        loops = group.makeIterator().map { loop in
            (loop, NIOLoopBoundBox.makeEmptyBox(valueType: LoopSockets.self, eventLoop: loop))
        }
    }

    /// The sockets of `entry`'s loop; call on that loop.
    private func sockets(_ entry: (loop: any EventLoop, sockets: NIOLoopBoundBox<LoopSockets?>)) -> LoopSockets {
        if let existing = entry.sockets.value { return existing }
        let made = LoopSockets(
            loop: entry.loop, upstreams: upstreams, size: socketsPerUpstream, queriesPerSocket: queriesPerSocket,
            counters: counters)
        entry.sockets.value = made
        return made
    }

    /// Sends `message` (its ID is set here) to upstream `index` from a random socket of `loop`; the returned
    /// future completes with the first answer `question` matches, or fails on timeout or a socket error.
    /// Costs a thread hop unless called on `loop` (the server always is).
    func ask(_ query: UpstreamQuery, upstream index: Int, timeout: Duration, on loop: any EventLoop)
        -> EventLoopFuture<UpstreamAnswer>
    {
        guard loop.inEventLoop else {
            return loop.flatSubmit { self.ask(query, upstream: index, timeout: timeout, on: loop) }
        }
        guard let entry = loops.first(where: { $0.loop === loop }) else {
            // A loop outside the group the pool was made for: hop to the first one.
            guard let first = loops.first else { return loop.makeFailedFuture(ChannelError.ioOnClosedChannel) }
            return first.loop.flatSubmit { self.ask(query, upstream: index, timeout: timeout, on: first.loop) }
                .hop(to: loop)
        }
        return sockets(entry).ask(query, upstream: index, timeout: timeout)
    }

    /// Closes every socket; outstanding queries fail. Later queries fail at once.
    func shutdown() async {
        for entry in loops {
            try? await entry.loop.submit { self.sockets(entry).closeAll() }.get()
        }
    }

    /// The local ports of the open sockets on every loop (for tests and the control socket).
    func openPorts() async -> [Int] {
        var ports: [Int] = []
        for entry in loops {
            ports += (try? await entry.loop.submit { entry.sockets.value?.openPorts ?? [] }.get()) ?? []
        }
        return ports
    }
}

/// One event loop's sockets: `size` slots per upstream, each holding the socket currently in service.
final class LoopSockets {
    private let loop: any EventLoop
    private let upstreams: [SocketAddress]
    private let size: Int
    private let queriesPerSocket: Int
    private let counters: CounterStore
    private var slots: [[UpstreamSocket?]]
    /// Sockets taken out of their slot that still wait for answers (closed by `closeAll` if still open).
    private var retiring: [UpstreamSocket] = []
    private var closed = false

    init(loop: any EventLoop, upstreams: [SocketAddress], size: Int, queriesPerSocket: Int, counters: CounterStore) {
        self.loop = loop
        self.upstreams = upstreams
        self.size = size
        self.queriesPerSocket = queriesPerSocket
        self.counters = counters
        slots = Array(repeating: Array(repeating: nil, count: size), count: upstreams.count)
    }

    var openPorts: [Int] {
        slots.joined().compactMap { $0?.localPort }
    }

    func ask(_ query: UpstreamQuery, upstream index: Int, timeout: Duration) -> EventLoopFuture<UpstreamAnswer> {
        loop.preconditionInEventLoop()
        guard !closed, upstreams.indices.contains(index) else {
            return loop.makeFailedFuture(ChannelError.ioOnClosedChannel)
        }
        let slot = Int.random(in: 0..<size)
        let socket: UpstreamSocket
        if let current = slots[index][slot], current.usable {
            socket = current
        } else {
            if let broken = slots[index][slot] { retire(broken) }
            socket = UpstreamSocket(loop: loop, upstream: upstreams[index], counters: counters)
            slots[index][slot] = socket
        }
        if socket.sent + 1 >= queriesPerSocket {
            // This is its last query: the next one picking this slot opens a fresh port.
            slots[index][slot] = nil
            defer { retire(socket) }
            return socket.send(query, timeout: timeout)
        }
        return socket.send(query, timeout: timeout)
    }

    private func retire(_ socket: UpstreamSocket) {
        socket.retire()
        retiring.removeAll { $0.isClosed }
        if !socket.isClosed { retiring.append(socket) }
    }

    func closeAll() {
        closed = true
        for socket in slots.joined() { socket?.close() }
        for socket in retiring { socket.close() }
        retiring = []
        slots = Array(repeating: Array(repeating: nil, count: size), count: upstreams.count)
    }
}

/// One connected datagram channel and the queries waiting on it, by ID. Lives on one event loop.
final class UpstreamSocket {
    private let loop: any EventLoop
    let upstream: SocketAddress
    private let handler: UpstreamSocketHandler
    /// The channel being opened; `live` once it is.
    private let opening: EventLoopFuture<any Channel>
    private var live: (any Channel)?
    /// Queries sent so far.
    private(set) var sent = 0
    /// No new queries; the channel closes when the last outstanding one ends.
    private var retired = false
    /// The channel failed to open, or closed.
    private var broken = false
    /// `close()` ran.
    private(set) var isClosed = false

    private static let anyIPv4 = try! SocketAddress(ipAddress: "0.0.0.0", port: 0)
    private static let anyIPv6 = try! SocketAddress(ipAddress: "::", port: 0)

    init(loop: any EventLoop, upstream: SocketAddress, counters: CounterStore) {
        self.loop = loop
        self.upstream = upstream
        let handler = UpstreamSocketHandler(upstream: upstream, counters: counters)
        self.handler = handler
        let boundHandler = NIOLoopBound(handler, eventLoop: loop)
        opening = DatagramBootstrap(group: loop)
            .channelOption(.datagramVectorReadMessageCount, value: UDPReceive.upstreamBatch)
            .channelOption(.recvAllocator, value: UDPReceive.allocator(batch: UDPReceive.upstreamBatch))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(boundHandler.value)
                }
            }
            // Port 0, then connect: the kernel picks a random ephemeral port (RFC 5452 §10).
            .bind(to: upstream.protocol == .inet6 ? Self.anyIPv6 : Self.anyIPv4)
            .flatMap { channel in channel.connect(to: upstream).map { channel } }
        counters.upstreamSocketsOpened.add(1, ordering: .relaxed)
        // The handler keeps the socket alive while queries wait, also after the slot forgot it (retired).
        handler.onIdle = { self.closeIfDone() }
        handler.onInactive = { self.broken = true }
        opening.assumeIsolated().whenComplete { result in
            switch result {
            case .success(let channel):
                // Closed while it was opening (retired with nothing waiting, or shut down): close it now.
                if self.isClosed { channel.close(promise: nil) } else { self.live = channel }
            case .failure(let error):
                self.broken = true
                handler.failAll(error)
            }
        }
    }

    /// Whether new queries may use it.
    var usable: Bool { !retired && !broken }

    /// The local (random) port once the channel is open.
    var localPort: Int? { live?.localAddress?.port }

    /// Sends the query with a fresh random ID unused on this socket; completes with the matching answer.
    func send(_ query: UpstreamQuery, timeout: Duration) -> EventLoopFuture<UpstreamAnswer> {
        sent += 1
        let promise = loop.makePromise(of: UpstreamAnswer.self)
        guard let id = handler.freeID() else {
            promise.fail(UpstreamSocketFull())
            return promise.futureResult
        }
        handler.wait(id, UpstreamWaiter(matcher: UpstreamMatcher(upstream: upstream, id: id, question: query.question),
                                        promise: promise))
        let message = query.message(id: id).encoded()
        let handler = handler
        let timer = loop.assumeIsolated().scheduleTask(in: TimeAmount(timeout)) {
            handler.give(up: id, UpstreamTimeout())
        }
        promise.futureResult.assumeIsolated().whenComplete { _ in timer.cancel() }
        if let live {
            write(message, id: id, on: live)
        } else {
            opening.assumeIsolated().whenSuccess { channel in self.write(message, id: id, on: channel) }
        }
        return promise.futureResult
    }

    private func write(_ message: [UInt8], id: UInt16, on channel: any Channel) {
        var buffer = channel.allocator.buffer(capacity: message.count)
        buffer.writeBytes(message)
        let handler = handler
        channel.writeAndFlush(AddressedEnvelope(remoteAddress: upstream, data: buffer)).assumeIsolated()
            .whenFailure { handler.give(up: id, $0) }
    }

    /// No more queries; closes once the outstanding ones are answered or timed out.
    func retire() {
        retired = true
        closeIfDone()
    }

    private func closeIfDone() {
        guard retired || broken, handler.isIdle else { return }
        close()
    }

    /// Closes the channel now; waiting queries fail.
    func close() {
        retired = true
        isClosed = true
        handler.onIdle = nil
        handler.onInactive = nil
        handler.failAll(ChannelError.ioOnClosedChannel)
        live?.close(promise: nil)
        live = nil
    }
}

/// Receive buffers of the UDP channels (listeners and upstream sockets). With vector reads (recvmmsg) NIO
/// splits one buffer into `batch` equal slots and truncates, without a word, any datagram longer than its slot.
enum UDPReceive {
    /// Bytes per datagram: above our EDNS size (1232, which upstreams answer within, RFC 6891 §6.2.5) with
    /// room for servers that ignore it and for the largest sane query; a longer datagram is cut and then fails
    /// to parse (FORMERR to a client, a counted mismatch from an upstream).
    static let slot = 4096
    /// Datagrams per recvmmsg on a listener.
    static let listenerBatch = 16
    /// Datagrams per recvmmsg on an upstream socket.
    static let upstreamBatch = 4

    static func allocator(batch: Int) -> FixedSizeRecvByteBufferAllocator {
        FixedSizeRecvByteBufferAllocator(capacity: slot * batch)
    }
}

/// A socket already has a query outstanding under every ID (65 536 at once): never in practice.
struct UpstreamSocketFull: Error, CustomStringConvertible {
    var description: String { "no free query ID on the upstream socket" }
}

/// Reads answers on one upstream socket and hands each to the query waiting under its ID (N3).
final class UpstreamSocketHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>

    private let upstream: SocketAddress
    private let counters: CounterStore
    private var waiting: [UInt16: UpstreamWaiter] = [:]
    /// Called when the last waiting query ends.
    var onIdle: (() -> Void)?
    /// Called when the channel closes.
    var onInactive: (() -> Void)?

    init(upstream: SocketAddress, counters: CounterStore) {
        self.upstream = upstream
        self.counters = counters
    }

    var isIdle: Bool { waiting.isEmpty }

    /// A random ID no waiting query uses (RFC 5452 §9.2), or nil when all are taken.
    func freeID() -> UInt16? {
        guard waiting.count < 65_536 else { return nil }
        while true {
            let id = UInt16.random(in: .min ... .max)
            if waiting[id] == nil { return id }
        }
    }

    func wait(_ id: UInt16, _ waiter: UpstreamWaiter) {
        waiting[id] = waiter
    }

    /// Fails the query waiting under `id`, if it still is.
    func give(up id: UInt16, _ error: any Error) {
        guard let waiter = waiting.removeValue(forKey: id) else { return }
        waiter.promise.fail(error)
        if waiting.isEmpty { onIdle?() }
    }

    /// Fails every waiting query (they fail over to the next upstream), then reports idle.
    func failAll(_ error: any Error) {
        guard !waiting.isEmpty else { return }
        let all = waiting
        waiting.removeAll()
        for waiter in all.values { waiter.promise.fail(error) }
        onIdle?()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        let bytes = Array(envelope.data.readableBytesView)
        guard let header = DNSHeader(peeking: bytes), let waiter = waiting[header.id],
            let message = waiter.matcher.match(bytes, from: envelope.remoteAddress)
        else {
            counters.upstreamMismatches.add(1, ordering: .relaxed)
            return
        }
        waiting[header.id] = nil
        waiter.promise.succeed(UpstreamAnswer(message: message, raw: bytes))
        if waiting.isEmpty { onIdle?() }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // ECONNREFUSED: an ICMP port unreachable for one of this socket's queries. Every query here went to
        // the same upstream, so all of them fail over now (N3) instead of waiting for their timeouts.
        failAll(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        failAll(ChannelError.ioOnClosedChannel)
        onInactive?()
        context.fireChannelInactive()
    }
}
