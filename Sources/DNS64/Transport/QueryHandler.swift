// The listening side over TCP (rule N1 of docs/dns64.md): one handler per connection (RFC 7766: pipelined
// queries, answers sent as they are ready, idle timeout, connection limits). Each message goes to
// `DNS64Server.handle`, which answers from the cache on the event loop or resolves in a task and calls back,
// from wherever that task ends, with the reply. UDP has its own threads: UDPListener.swift.
import NIOCore
import Synchronization

/// One client TCP connection (N1): framed queries in, framed replies out in completion order (RFC 7766 §6.2.1.1
/// allows out-of-order answers).
///
/// Defences (robustness): a client outside the allow list (D10) is closed before it takes one of the
/// connection slots, so outsiders cannot use up the limits; each connection must deliver a *whole* message
/// within the idle timeout of its start or of its previous message (bytes trickling in do not extend it), and
/// after a message it stays open at least as long as the answer may take (the D16 client deadline). Closed
/// otherwise, on a framing error, or when the client is over its limit.
final class TCPQueryHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let server: DNS64Server
    private var client: SocketAddress?
    private var keyBuffer: [UInt8] = []
    /// Closes the connection unless a whole message arrives first; re-armed after each message.
    private var deadline: Scheduled<Void>?
    private let messageTimeout: TimeAmount
    private let afterMessageTimeout: TimeAmount

    /// - Parameters:
    ///   - messageTimeout: time for the first whole message, and for the next one after the previous.
    ///   - answerTime: the longest an answer can take (D16); the connection stays open at least this long
    ///     after a message.
    init(server: DNS64Server, messageTimeout: TimeAmount, answerTime: TimeAmount) {
        self.server = server
        self.messageTimeout = messageTimeout
        afterMessageTimeout = max(messageTimeout, answerTime)
    }

    func channelActive(context: ChannelHandlerContext) {
        guard let remote = context.channel.remoteAddress else {
            context.close(promise: nil)
            return
        }
        guard server.isAllowed(remote) else {
            server.store.tcpConnectionsNotAllowed.add(1, ordering: .relaxed)
            context.close(promise: nil)
            return
        }
        guard server.connections.open(remote) else {
            server.store.tcpConnectionsRefused.add(1, ordering: .relaxed)
            context.close(promise: nil)
            return
        }
        client = remote
        server.store.tcpConnections.add(1, ordering: .relaxed)
        arm(context, after: messageTimeout)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
        if let client { server.connections.close(client) }
        client = nil
        context.fireChannelInactive()
    }

    /// (Re)starts the whole-message deadline.
    private func arm(_ context: ChannelHandlerContext, after timeout: TimeAmount) {
        deadline?.cancel()
        let channel = context.channel
        let store = server.store
        deadline = context.eventLoop.scheduleTask(in: timeout) {
            store.tcpMessageTimeouts.add(1, ordering: .relaxed)
            channel.close(promise: nil)  // RFC 7766 §6.2.3: the server closes idle connections.
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let client else { return }
        arm(context, after: afterMessageTimeout)
        let channel = context.channel
        let message = unwrapInboundIn(data)
        let cached = message.withUnsafeReadableBytes {
            server.cachedReply($0, from: client, overTCP: true, keyBuffer: &keyBuffer)
        }
        let immediate = cached ?? server.handle(
            Array(message.readableBytesView), from: client, overTCP: true, on: context.eventLoop
        ) { reply in
            channel.writeAndFlush(ByteBuffer.dnsTCPFrame(reply), promise: nil)
        }
        if let immediate { context.writeAndFlush(wrapOutboundOut(ByteBuffer.dnsTCPFrame(immediate)), promise: nil) }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        server.logger.debug("TCP connection error", metadata: ["error": "\(error)"])
        context.close(promise: nil)
    }
}

/// Open TCP connections per client address and in total (N1, RFC 7766 §6.2.2).
final class ConnectionLimiter: Sendable {
    let perClient: Int
    let total: Int
    private let open = Mutex<(byClient: [String: Int], total: Int)>(([:], 0))

    init(perClient: Int, total: Int) {
        self.perClient = perClient
        self.total = total
    }

    /// Takes a slot for `client`; false when it or the server is at its limit.
    func open(_ client: SocketAddress) -> Bool {
        let key = client.ipAddress ?? "?"
        return open.withLock { state in
            guard state.total < total, state.byClient[key, default: 0] < perClient else { return false }
            state.total += 1
            state.byClient[key, default: 0] += 1
            return true
        }
    }

    /// Gives back the slot `open` took.
    func close(_ client: SocketAddress) {
        let key = client.ipAddress ?? "?"
        open.withLock { state in
            state.total -= 1
            let left = state.byClient[key, default: 1] - 1
            state.byClient[key] = left > 0 ? left : nil
        }
    }
}
