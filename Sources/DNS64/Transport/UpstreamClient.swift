// Asking the upstream resolvers over UDP (rule N3 of docs/dns64.md; RFC 5452 §9.2 for ID and port randomness).
// One fresh socket per attempt: the kernel picks a random ephemeral source port, and a late answer to an
// earlier attempt cannot be mistaken for this one. Upstreams are tried in order, each for `timeout`.
import Logging
import NIOCore
import NIOPosix

/// Sends `UpstreamQuery`s to the configured resolvers and returns the first answer that matches.
struct UpstreamClient: Sendable {
    let upstreams: [SocketAddress]
    let timeout: Duration
    let group: any EventLoopGroup
    let logger: Logger
    /// Bumped once per failed attempt (timeout or send error).
    let failures: @Sendable () -> Void

    /// Tries each upstream in order until one answers (N3).
    /// - Returns: the matching answer, or `.failed` when all timed out or failed.
    func resolve(_ query: UpstreamQuery) async -> UpstreamResult {
        for upstream in upstreams {
            do {
                let (message, raw) = try await ask(upstream, query)
                return .answer(message, raw: raw)
            } catch {
                failures()
                logger.debug(
                    "upstream attempt failed",
                    metadata: ["upstream": "\(upstream)", "question": "\(query.question)", "error": "\(error)"])
            }
        }
        return .failed
    }

    /// One attempt: bind a fresh socket, send with a random ID, wait for a matching answer or the timeout.
    func ask(_ upstream: SocketAddress, _ query: UpstreamQuery) async throws -> (DNSMessage, [UInt8]) {
        let id = UInt16.random(in: .min ... .max)
        let loop = group.next()
        let promise = loop.makePromise(of: UpstreamAnswer.self)
        let matcher = UpstreamMatcher(upstream: upstream, id: id, question: query.question)
        let bootstrap = DatagramBootstrap(group: loop).channelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(UpstreamResponseHandler(matcher: matcher, promise: promise))
            }
        }
        let channel: any Channel
        do {
            // Numeric wildcard of the upstream's family, port 0: the kernel picks a random ephemeral port.
            let local = try SocketAddress(ipAddress: upstream.protocol == .inet6 ? "::" : "0.0.0.0", port: 0)
            channel = try await bootstrap.bind(to: local).get()
        } catch {
            promise.fail(error)
            throw error
        }
        let timer = loop.scheduleTask(in: TimeAmount(timeout)) { promise.fail(UpstreamTimeout()) }
        let envelope = AddressedEnvelope(
            remoteAddress: upstream, data: ByteBuffer(bytes: query.message(id: id).encoded()))
        channel.writeAndFlush(envelope).whenFailure { promise.fail($0) }
        defer {
            timer.cancel()
            channel.close(promise: nil)
        }
        let answer = try await promise.futureResult.get()
        return (answer.message, answer.raw)
    }
}

/// No matching answer arrived in time.
struct UpstreamTimeout: Error, CustomStringConvertible {
    var description: String { "upstream timeout" }
}

struct UpstreamAnswer: Sendable {
    var message: DNSMessage
    var raw: [UInt8]
}

/// The anti-spoofing check of rule N3: an answer counts only if it comes from the upstream we asked, is a
/// parseable response, carries our ID and echoes our question. Anything else is dropped unseen.
struct UpstreamMatcher: Sendable {
    let upstream: SocketAddress
    let id: UInt16
    let question: DNSQuestion

    /// The parsed answer when `bytes` from `source` is the answer we wait for, else nil.
    func match(_ bytes: [UInt8], from source: SocketAddress) -> DNSMessage? {
        guard source == upstream, let header = DNSHeader(peeking: bytes), header.id == id,
            header.flags.isResponse, let message = try? DNSMessage(parsing: bytes),
            message.questions == [question]
        else { return nil }
        return message
    }
}

/// Reads datagrams on an upstream socket and completes the promise with the first matching answer.
final class UpstreamResponseHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>

    private let matcher: UpstreamMatcher
    private let promise: EventLoopPromise<UpstreamAnswer>

    init(matcher: UpstreamMatcher, promise: EventLoopPromise<UpstreamAnswer>) {
        self.matcher = matcher
        self.promise = promise
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        let bytes = Array(envelope.data.readableBytesView)
        if let message = matcher.match(bytes, from: envelope.remoteAddress) {
            promise.succeed(UpstreamAnswer(message: message, raw: bytes))
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        promise.fail(error)
    }
}
