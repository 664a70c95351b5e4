// The listening side: one handler per UDP listener. It runs intake on the event loop (cheap, no allocation
// beyond the parse) and hands accepted queries to a task that drives the state machine through the upstream
// client, then writes the reply from wherever that task ends.
import NIOCore

/// Reads client datagrams, answers them through `DNS64Server.handle`.
final class QueryHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    private let server: DNS64Server

    init(server: DNS64Server) { self.server = server }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        let client = envelope.remoteAddress
        let channel = context.channel
        server.handle(Array(envelope.data.readableBytesView), from: client) { reply in
            channel.writeAndFlush(AddressedEnvelope(remoteAddress: client, data: ByteBuffer(bytes: reply)), promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A UDP socket reports e.g. ICMP errors for earlier sends here; the listener keeps running.
        server.logger.debug("listener error", metadata: ["error": "\(error)"])
    }
}
