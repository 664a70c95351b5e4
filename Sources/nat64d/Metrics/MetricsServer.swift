// The `[metrics]` HTTP listener: GET /metrics answers with `MetricsExporter`'s text; anything else gets 404
// (other paths) or 405 (other methods). One response per connection, then the server closes it: a scraper
// asks once every few seconds, so keep-alive would buy nothing and cost idle connections.
//
// The listener defends itself: at most `maxConnections` at once (when full, a new connection takes the place of
// the oldest one, which is closed and counted: a flood of idle connections cannot lock a real scraper out),
// each connection has `deadline` to deliver its whole request (a slow client trickling bytes is cut off, not
// kept alive by each byte), and a request body beyond `maxBodyBytes` closes the connection. So idle or hostile
// connections can neither exhaust the daemon's descriptors nor keep memory.
import Listening
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// The metrics listener's own counters.
final class MetricsServerCounters: Sendable {
    let accepted = Atomic<Int>(0)
    /// Connections closed to make room for a newer one (the listener was full).
    let refused = Atomic<Int>(0)
    let timedOut = Atomic<Int>(0)
    let oversized = Atomic<Int>(0)
    /// Connections open now.
    let open = Atomic<Int>(0)
    /// Failed accepts (file descriptors exhausted); the listener pauses a second each time.
    let acceptErrors = AcceptErrors()
}

/// Serves Prometheus scrapes on one address.
final class MetricsServer: Sendable {
    private let channel: any Channel

    /// The address actually bound (with the real port when asked for port 0).
    var localAddress: SocketAddress? { channel.localAddress }
    let counters: MetricsServerCounters

    /// Connections served at once; more are closed at accept.
    static let maxConnections = 64
    /// Time a connection has for its whole request.
    static let deadline = TimeAmount.seconds(5)
    /// Largest request body accepted (a scrape has none).
    static let maxBodyBytes = 4096

    /// Binds `address` on `group`; each scrape calls `snapshot` (on an event loop: it must not block).
    /// - Throws: NIO's `IOError` (e.g. address in use) when the address cannot be bound.
    init(address: SocketAddress, group: any EventLoopGroup, exporter: MetricsExporter,
         maxConnections: Int = MetricsServer.maxConnections, deadline: TimeAmount = MetricsServer.deadline,
         logger: Logger = Logger(label: "nat64d.metrics"),
         snapshot: @escaping @Sendable () -> MetricsSnapshot) async throws {
        let counters = MetricsServerCounters()
        self.counters = counters
        let open = Mutex<[any Channel]>([])
        channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 64)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .guardingAccept(listener: "metrics \(address)", errors: counters.acceptErrors, logger: logger)
            .childChannelInitializer { channel in
                // Oldest first; when full, the oldest makes room (it had the most time to send its request).
                let evicted = open.withLock { list -> (any Channel)? in
                    list.append(channel)
                    return list.count > maxConnections ? list.removeFirst() : nil
                }
                if let evicted {
                    counters.refused.wrappingAdd(1, ordering: .relaxed)
                    evicted.close(promise: nil)
                }
                counters.open.wrappingAdd(1, ordering: .relaxed)
                counters.accepted.wrappingAdd(1, ordering: .relaxed)
                let cutoff = channel.eventLoop.scheduleTask(in: deadline) {
                    // An evicted connection is already off the list and counted refused; its close may still be
                    // on its way when the deadline fires, so only a connection still listed is cut off here.
                    let listed = open.withLock { list -> Bool in
                        guard let at = list.firstIndex(where: { $0 === channel }) else { return false }
                        list.remove(at: at)
                        return true
                    }
                    guard listed else { return }
                    counters.timedOut.wrappingAdd(1, ordering: .relaxed)
                    channel.close(promise: nil)
                }
                channel.closeFuture.whenComplete { _ in
                    cutoff.cancel()
                    counters.open.wrappingSubtract(1, ordering: .relaxed)
                    open.withLock { list in list.removeAll { $0 === channel } }
                }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(
                        MetricsHTTPHandler(exporter: exporter, counters: counters, snapshot: snapshot))
                }
            }
            .bind(to: address).get()
    }

    /// Stops listening.
    func stop() async {
        try? await channel.close()
    }
}

/// One connection: reads a request, answers it, closes.
final class MetricsHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let exporter: MetricsExporter
    private let counters: MetricsServerCounters
    private let snapshot: @Sendable () -> MetricsSnapshot
    private var head: HTTPRequestHead?
    private var bodyBytes = 0

    init(exporter: MetricsExporter, counters: MetricsServerCounters,
         snapshot: @escaping @Sendable () -> MetricsSnapshot) {
        self.exporter = exporter
        self.counters = counters
        self.snapshot = snapshot
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h):
            head = h
            bodyBytes = 0
        case .body(let chunk):
            bodyBytes += chunk.readableBytes
            if bodyBytes > MetricsServer.maxBodyBytes {
                counters.oversized.wrappingAdd(1, ordering: .relaxed)
                head = nil
                context.close(promise: nil)
            }
        case .end:
            guard let head else { return }
            self.head = nil
            let path = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
            if head.method != .GET && head.method != .HEAD {
                respond(context, .methodNotAllowed, "use GET /metrics\n", head: head, extra: [("Allow", "GET, HEAD")])
            } else if path != "/metrics" {
                respond(context, .notFound, "nat64d serves /metrics only\n", head: head)
            } else {
                var current = snapshot()
                current.listener = (counters.refused.load(ordering: .relaxed),
                                    counters.timedOut.load(ordering: .relaxed),
                                    counters.oversized.load(ordering: .relaxed), counters.acceptErrors.count)
                let body = exporter.render(current)
                respond(context, .ok, body, head: head,
                        extra: [("Content-Type", "text/plain; version=0.0.4; charset=utf-8")])
            }
        }
    }

    private func respond(_ context: ChannelHandlerContext, _ status: HTTPResponseStatus, _ text: String,
                         head: HTTPRequestHead, extra: [(String, String)] = []) {
        respond(context, status, Array(text.utf8), head: head,
                extra: [("Content-Type", "text/plain; charset=utf-8")] + extra)
    }

    private func respond(_ context: ChannelHandlerContext, _ status: HTTPResponseStatus, _ body: [UInt8],
                         head: HTTPRequestHead, extra: [(String, String)]) {
        var headers = HTTPHeaders(extra)
        headers.add(name: "Content-Length", value: "\(body.count)")
        headers.add(name: "Connection", value: "close")
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))),
                      promise: nil)
        if head.method != .HEAD {
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: body)))),
                          promise: nil)
        }
        context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }
}
