// The `[metrics]` HTTP listener: GET /metrics answers with `MetricsExporter`'s text; anything else gets 404
// (other paths) or 405 (other methods). One response per connection, then the server closes it: a scraper
// asks once every few seconds, so keep-alive would buy nothing and cost idle connections.
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix

/// Serves Prometheus scrapes on one address.
final class MetricsServer: Sendable {
    private let channel: any Channel

    /// The address actually bound (with the real port when asked for port 0).
    var localAddress: SocketAddress? { channel.localAddress }

    /// Binds `address` on `group`; each scrape calls `snapshot` (on an event loop: it must not block).
    /// - Throws: NIO's `IOError` (e.g. address in use) when the address cannot be bound.
    init(address: SocketAddress, group: any EventLoopGroup, exporter: MetricsExporter,
         snapshot: @escaping @Sendable () -> MetricsSnapshot) async throws {
        channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 16)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(
                        MetricsHTTPHandler(exporter: exporter, snapshot: snapshot))
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
    private let snapshot: @Sendable () -> MetricsSnapshot
    private var head: HTTPRequestHead?

    init(exporter: MetricsExporter, snapshot: @escaping @Sendable () -> MetricsSnapshot) {
        self.exporter = exporter
        self.snapshot = snapshot
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h): head = h
        case .body: break
        case .end:
            guard let head else { return }
            self.head = nil
            let path = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
            if head.method != .GET && head.method != .HEAD {
                respond(context, .methodNotAllowed, "use GET /metrics\n", head: head, extra: [("Allow", "GET, HEAD")])
            } else if path != "/metrics" {
                respond(context, .notFound, "nat64d serves /metrics only\n", head: head)
            } else {
                let body = exporter.render(snapshot())
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
