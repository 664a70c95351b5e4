// The control socket server: SwiftNIO on the Unix socket, one event loop of its own, off the packet path.
//
// Each connection sends one JSON request line and gets one JSON reply line (ControlProtocol.swift). Clients are
// served concurrently; what keeps them from starving each other or the daemon:
//   - at most `maxConnections` open at once; one more is answered with an error and closed (counted);
//   - a connection that has not sent its whole request within `idleTimeout` is closed (counted), so idle
//     clients cannot hold places forever;
//   - a request line longer than `maxRequestLength` is refused (counted) without reading further;
//   - out of file descriptors, accepting pauses a second at a time and is logged once a minute (Listening).
// The commands run on a small thread pool, never on the event loop: most wait on the packet threads'
// mailboxes (ForwardingGroup), and a reload waits for the reloader. The pool's queue is bounded by the
// connection cap. Nothing here touches the translator directly.
import Listening
import Logging
import NIOCore
import NIOPosix
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The control server's own counters (`ctl stats`, /metrics).
final class ControlServerCounters: Sendable {
    let accepted = Atomic<Int>(0)
    let refused = Atomic<Int>(0)
    let timedOut = Atomic<Int>(0)
    let oversized = Atomic<Int>(0)
    let malformed = Atomic<Int>(0)
    /// Failed accepts (file descriptors exhausted).
    let acceptErrors = AcceptErrors()
    /// Connections open now.
    let open = Atomic<Int>(0)
}

/// Serves the control socket until `stop()`.
final class ControlServer: Sendable {
    typealias Handler = @Sendable (ControlRequest) -> ControlReply

    struct Limits: Sendable {
        var maxConnections = 16
        var idleTimeout: TimeAmount = .seconds(5)
        var maxRequestLength = ControlProtocol.maxRequestLength
        /// Threads that run commands (each may wait up to a few seconds on a packet thread's mailbox).
        var workerThreads = 2
    }

    /// The socket's path.
    let path: String
    let limits: Limits
    let counters = ControlServerCounters()
    private let group: MultiThreadedEventLoopGroup
    private let pool: NIOThreadPool
    private let channel: Mutex<(any Channel)?>
    /// The handler in a struct, never bare in the `Mutex`: a closure stored straight in a generic container is
    /// wrapped in two more reabstraction thunks by every `withLock`, so each request would cost more than the
    /// last (and a long enough chain of them overflows the stack).
    private struct Answering: Sendable { var handler: Handler }
    private let handler = Mutex(Answering(handler: { _ in .failure(ControlError("nat64d is starting")) }))

    /// Binds the socket (mode 0600 in a 0700 directory; a stale socket file replaced, a live one refused), so
    /// a bad path fails startup before anything else runs. Requests are answered "starting" until `start`.
    ///
    /// - Parameter path: the socket path from `[control] socket`.
    init(path: String, limits: Limits = Limits(), logger: Logger = Logger(label: "nat64d.control"))
        throws(SocketError)
    {
        self.path = path
        self.limits = limits
        try UnixSocketPath.prepare(path)
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        pool = NIOThreadPool(numberOfThreads: max(1, limits.workerThreads))
        pool.start()
        channel = Mutex(nil)
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 64)
            .guardingAccept(listener: "control \(path)", errors: counters.acceptErrors, logger: logger)
            .childChannelInitializer { [weak self] child in
                child.eventLoop.makeCompletedFuture {
                    guard let self else { throw ChannelError.ioOnClosedChannel }
                    try self.initialize(child)
                }
            }
        do {
            let bound = try bootstrap.bind(unixDomainSocketPath: path, cleanupExistingSocketFile: false).wait()
            channel.withLock { $0 = bound }
        } catch {
            try? pool.syncShutdownGracefully()
            try? group.syncShutdownGracefully()
            throw SocketError("bind", path, message: "\(error)")
        }
        guard chmod(path, 0o600) == 0 else {
            let e = SocketError("chmod", path)
            stop()
            throw e
        }
    }

    /// A server dropped without `stop()` (start-up failed after it was bound): closes the socket and removes its
    /// file without waiting, since this may run on any thread.
    deinit {
        guard let bound = channel.withLock({ $0 }) else { return }
        bound.close(promise: nil)
        unlink(path)
        pool.shutdownGracefully { _ in }
        group.shutdownGracefully { _ in }
    }

    /// Starts answering with `handler` (run on the worker pool, one call per request).
    func start(handler: @escaping Handler) {
        self.handler.withLock { $0.handler = handler }
    }

    /// Stops accepting, closes the socket and removes its file.
    func stop() {
        guard let bound = channel.withLock({ c -> (any Channel)? in defer { c = nil }; return c }) else { return }
        try? bound.close().wait()
        unlink(path)
        try? pool.syncShutdownGracefully()
        try? group.syncShutdownGracefully()
    }

    /// The pipeline of one accepted connection, or a refusal when `maxConnections` are open.
    private func initialize(_ child: any Channel) throws {
        let sync = child.pipeline.syncOperations
        let open = counters.open.wrappingAdd(1, ordering: .relaxed).newValue
        child.closeFuture.whenComplete { [counters] _ in counters.open.subtract(1, ordering: .relaxed) }
        guard open <= limits.maxConnections else {
            counters.refused.add(1, ordering: .relaxed)
            try sync.addHandler(RefuseHandler(
                message: "too many control connections open (\(limits.maxConnections)); try again"))
            return
        }
        counters.accepted.add(1, ordering: .relaxed)
        try sync.addHandler(IdleStateHandler(readTimeout: limits.idleTimeout))
        try sync.addHandler(ByteToMessageHandler(RequestLineDecoder(maxLength: limits.maxRequestLength)))
        try sync.addHandler(ConnectionHandler(server: self))
    }

    /// Runs `request` on the worker pool; the future completes on `eventLoop`.
    fileprivate func answer(_ request: ControlRequest, on eventLoop: any EventLoop) -> EventLoopFuture<ControlReply> {
        let handler = self.handler.withLock { $0.handler }
        return pool.runIfActive(eventLoop: eventLoop) { handler(request) }
    }
}

/// A request line longer than the limit.
private struct RequestTooLong: Error {}

/// Splits the first line off the stream; refuses one that grows past `maxLength` before its newline.
private struct RequestLineDecoder: ByteToMessageDecoder {
    typealias InboundOut = ByteBuffer
    let maxLength: Int

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        let view = buffer.readableBytesView
        guard let newline = view.firstIndex(of: UInt8(ascii: "\n")) else {
            if buffer.readableBytes > maxLength { throw RequestTooLong() }
            return .needMoreData
        }
        let length = newline - view.startIndex
        if length > maxLength { throw RequestTooLong() }
        let line = buffer.readSlice(length: length)!
        buffer.moveReaderIndex(forwardBy: 1)
        context.fireChannelRead(wrapInboundOut(line))
        return .continue
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws
        -> DecodingState
    {
        try decode(context: context, buffer: &buffer)
    }
}

/// Writes `reply` as one line and closes.
private func send(_ reply: ControlReply, context: ChannelHandlerContext) {
    let bytes = (try? ControlProtocol.line(reply)) ?? Array("{\"error\":\"cannot encode the answer\"}\n".utf8)
    let channel = context.channel
    context.writeAndFlush(NIOAny(context.channel.allocator.buffer(bytes: bytes))).whenComplete { _ in
        channel.close(promise: nil)
    }
}

/// Answers a connection over the cap with an error and closes it.
private final class RefuseHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    let message: String
    init(message: String) { self.message = message }

    func channelActive(context: ChannelHandlerContext) {
        send(.failure(ControlError(message)), context: context)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}
}

/// One connection: its request line, the command on the pool, the reply.
private final class ConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let server: ControlServer
    /// A request has been read: later lines are ignored and the read timeout no longer applies.
    private var answering = false

    init(server: ControlServer) { self.server = server }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !answering else { return }
        answering = true
        let line = unwrapInboundIn(data)
        let request: ControlRequest
        do {
            request = try ControlProtocol.decode(ControlRequest.self, from: line.readableBytesView)
        } catch {
            server.counters.malformed.add(1, ordering: .relaxed)
            send(.failure(ControlError("the request is not a control request in JSON (\(Self.describe(error))); "
                + "use nat64d ctl")), context: context)
            return
        }
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        server.answer(request, on: context.eventLoop).whenComplete { result in
            switch result {
            case .success(let reply): send(reply, context: bound.value)
            case .failure: send(.failure(ControlError("nat64d is stopping")), context: bound.value)
            }
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let idle = event as? IdleStateHandler.IdleStateEvent, idle == .read {
            guard !answering else { return }
            server.counters.timedOut.add(1, ordering: .relaxed)
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if error is RequestTooLong {
            guard !answering else { return context.close(promise: nil) }
            answering = true
            server.counters.oversized.add(1, ordering: .relaxed)
            send(.failure(ControlError("the request is longer than \(server.limits.maxRequestLength) bytes")),
                 context: context)
            return
        }
        context.close(promise: nil)
    }

    private static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.dataCorrupted(let c): c.debugDescription
        case DecodingError.keyNotFound(let key, _): "no \"\(key.stringValue)\""
        case DecodingError.typeMismatch(_, let c), DecodingError.valueNotFound(_, let c):
            "\(c.codingPath.map(\.stringValue).joined(separator: ".")): \(c.debugDescription)"
        default: "\(error)"
        }
    }
}
