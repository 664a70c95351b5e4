// Asking the upstream resolvers (rules N2, N3 of docs/dns64.md; RFC 5452 §9.2 for ID and port randomness,
// RFC 7766 §5 and RFC 1035 §4.2.2 for the TCP retry). Each UDP attempt goes out from a random socket of
// `UpstreamSocketPool` with a random ID; each TCP attempt opens its own connection. Upstreams are tried in
// order of health, each for `timeout`; a truncated UDP answer is asked again over TCP.
import Logging
import NIOCore
import NIOPosix
import Synchronization

/// Health of each upstream (N3): consecutive failures and when the last one happened. A failed upstream goes
/// to the back of the order for `holdDown`, then gets its turn again.
final class UpstreamHealth: Sendable {
    private struct Status {
        var consecutiveFailures = 0
        var lastFailure: UInt64 = 0
    }

    /// How long a failed upstream is tried only after the healthy ones (ns).
    let holdDown: UInt64
    private let status: Mutex<[Status]>

    init(count: Int, holdDown: Duration = .seconds(30)) {
        status = Mutex(Array(repeating: Status(), count: count))
        self.holdDown = UInt64(holdDown.components.seconds) * 1_000_000_000
    }

    /// N3: upstream indices in the order to try them at `now`: healthy ones (or ones whose hold-down ended) in
    /// configured order, then the failing ones, fewest consecutive failures first.
    func order(now: UInt64) -> [Int] {
        status.withLock { list in
            list.indices.sorted { a, b in
                let fa = list[a].consecutiveFailures > 0 && now &- list[a].lastFailure < holdDown
                let fb = list[b].consecutiveFailures > 0 && now &- list[b].lastFailure < holdDown
                if fa != fb { return !fa }
                if fa && list[a].consecutiveFailures != list[b].consecutiveFailures {
                    return list[a].consecutiveFailures < list[b].consecutiveFailures
                }
                return a < b
            }
        }
    }

    func succeeded(_ index: Int) {
        status.withLock { $0[index].consecutiveFailures = 0 }
    }

    func failed(_ index: Int, now: UInt64) {
        status.withLock {
            $0[index].consecutiveFailures += 1
            $0[index].lastFailure = now
        }
    }
}

/// Sends `UpstreamQuery`s to the configured resolvers and returns the first answer that matches.
struct UpstreamClient: Sendable {
    let upstreams: [SocketAddress]
    let timeout: Duration
    let group: any EventLoopGroup
    let logger: Logger
    let counters: CounterStore
    let health: UpstreamHealth
    /// The UDP sockets queries go out from and answers come back on.
    let sockets: UpstreamSocketPool

    init(
        upstreams: [SocketAddress], timeout: Duration, group: any EventLoopGroup, logger: Logger,
        counters: CounterStore, socketsPerUpstream: Int = 64, queriesPerSocket: Int = 256
    ) {
        self.upstreams = upstreams
        self.timeout = timeout
        self.group = group
        self.logger = logger
        self.counters = counters
        health = UpstreamHealth(count: upstreams.count)
        sockets = UpstreamSocketPool(
            group: group, upstreams: upstreams, socketsPerUpstream: socketsPerUpstream,
            queriesPerSocket: queriesPerSocket, counters: counters)
    }

    /// Tries each upstream in order of health until one answers (N3); a truncated answer is asked again over
    /// TCP on the same upstream (N2), and kept as it is if TCP fails. Everything runs on `loop` (the listener's
    /// event loop), so a query costs no thread hops.
    /// - Returns: the matching answer, or `.failed` when all timed out or failed.
    /// D16: no attempt runs past `deadline` (monotonic ns): each waits at most `min(timeout, deadline - now)`,
    /// and none starts once the deadline has passed, so the whole failover ends by it.
    func resolve(
        _ query: UpstreamQuery, deadline: UInt64 = .max, on loop: any EventLoop
    ) -> EventLoopFuture<UpstreamResult> {
        let order = health.order(now: NIODeadline.now().uptimeNanoseconds)
        let fullTimeout = timeout.nanosecondCount
        /// How long an attempt starting at `now` may wait: the timeout, or less when the deadline comes first.
        @Sendable func wait(from now: UInt64) -> Duration {
            .nanoseconds(Int64(clamping: min(fullTimeout, deadline - now)))
        }
        @Sendable func attempt(_ position: Int) -> EventLoopFuture<UpstreamResult> {
            let started = NIODeadline.now().uptimeNanoseconds
            guard position < order.count, started < deadline else { return loop.makeSucceededFuture(.failed) }
            let index = order[position]
            let upstream = upstreams[index]
            counters.upstreamQueries.add(1, ordering: .relaxed)
            return askUDP(index, query, timeout: wait(from: started), on: loop).flatMap {
                answer -> EventLoopFuture<UpstreamResult> in
                let now = NIODeadline.now().uptimeNanoseconds
                counters.upstreamAnswered(after: now &- started)
                health.succeeded(index)
                let received = UpstreamResult.answer(answer.message, raw: answer.raw)
                // D16: no TCP retry once the deadline has passed; the truncated answer is all there is.
                guard answer.message.header.flags.truncated, now < deadline else {
                    return loop.makeSucceededFuture(received)
                }
                return retryOverTCP(index, query, truncated: received, timeout: wait(from: now), on: loop)
            }.flatMapError { error in
                counters.upstreamFailures.add(1, ordering: .relaxed)
                health.failed(index, now: NIODeadline.now().uptimeNanoseconds)
                logger.debug(
                    "upstream attempt failed",
                    metadata: ["upstream": "\(upstream)", "question": "\(query.question)", "error": "\(error)"])
                return attempt(position + 1)
            }
        }
        return attempt(0)
    }

    /// N2: a truncated UDP answer from upstream `index` asked again over TCP; the truncated answer stands when
    /// TCP fails. Shared by the NIO path above and the listener threads (`UpstreamLane`).
    func retryOverTCP(
        _ index: Int, _ query: UpstreamQuery, truncated received: UpstreamResult, timeout: Duration,
        on loop: any EventLoop
    ) -> EventLoopFuture<UpstreamResult> {
        counters.upstreamTCPRetries.add(1, ordering: .relaxed)
        counters.upstreamQueries.add(1, ordering: .relaxed)
        return askTCP(upstreams[index], query, timeout: timeout, on: loop)
            .map { UpstreamResult.answer($0.message, raw: $0.raw) }
            .recover { _ in received }
    }

    /// One UDP attempt on upstream `index`: a random socket of the pool, a random ID, the first matching answer
    /// or the timeout (N3; see `UpstreamSocketPool`).
    func askUDP(
        _ index: Int, _ query: UpstreamQuery, timeout: Duration? = nil, on loop: any EventLoop
    ) -> EventLoopFuture<UpstreamAnswer> {
        sockets.ask(query, upstream: index, timeout: timeout ?? self.timeout, on: loop)
    }

    /// One TCP attempt (N2): connect, send the query framed, wait for the matching framed answer or the timeout.
    func askTCP(
        _ upstream: SocketAddress, _ query: UpstreamQuery, timeout: Duration? = nil, on loop: any EventLoop
    ) -> EventLoopFuture<UpstreamAnswer> {
        let timeout = timeout ?? self.timeout
        let id = UInt16.random(in: .min ... .max)
        let promise = loop.makePromise(of: UpstreamAnswer.self)
        let matcher = UpstreamMatcher(upstream: upstream, id: id, question: query.question)
        let timer = loop.scheduleTask(in: TimeAmount(timeout)) { promise.fail(UpstreamTimeout()) }
        let message = query.message(id: id).encoded()
        ClientBootstrap(group: loop)
            .connectTimeout(TimeAmount(timeout))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(DNSTCPFrameDecoder()))
                    try channel.pipeline.syncOperations.addHandler(
                        UpstreamStreamHandler(matcher: matcher, promise: promise))
                }
            }
            .connect(to: upstream).whenComplete { result in
                switch result {
                case .failure(let error):
                    promise.fail(error)
                case .success(let channel):
                    promise.futureResult.whenComplete { _ in channel.close(promise: nil) }
                    channel.writeAndFlush(ByteBuffer.dnsTCPFrame(message)).whenFailure { promise.fail($0) }
                }
            }
        promise.futureResult.whenComplete { _ in timer.cancel() }
        return promise.futureResult
    }
}

extension Duration {
    /// The duration in whole nanoseconds (negative durations count as 0).
    var nanosecondCount: UInt64 {
        let (seconds, attoseconds) = components
        guard seconds >= 0 else { return 0 }
        return UInt64(seconds) &* 1_000_000_000 &+ UInt64(max(0, attoseconds) / 1_000_000_000)
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

/// The promise of one upstream attempt and the check an answer must pass to complete it (N3).
struct UpstreamWaiter {
    let matcher: UpstreamMatcher
    let promise: EventLoopPromise<UpstreamAnswer>

    /// Completes the promise when `bytes` from `source` is the awaited answer; drops anything else unseen.
    func offer(_ bytes: [UInt8], from source: SocketAddress) {
        if let message = matcher.match(bytes, from: source) {
            promise.succeed(UpstreamAnswer(message: message, raw: bytes))
        }
    }
}

/// Reads framed messages on an upstream TCP connection; completes the promise with the first matching one.
/// The connection's peer is the upstream (the matcher's address check holds by construction).
final class UpstreamStreamHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let waiter: UpstreamWaiter

    init(matcher: UpstreamMatcher, promise: EventLoopPromise<UpstreamAnswer>) {
        waiter = UpstreamWaiter(matcher: matcher, promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        waiter.offer(Array(unwrapInboundIn(data).readableBytesView), from: waiter.matcher.upstream)
    }

    func channelInactive(context: ChannelHandlerContext) {
        waiter.promise.fail(ChannelError.eof)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        waiter.promise.fail(error)
    }
}
