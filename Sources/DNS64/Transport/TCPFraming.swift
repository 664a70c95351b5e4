// DNS over TCP framing (RFC 1035 §4.2.2, RFC 7766 §8): each message is preceded by its length as two bytes.
import NIOCore

/// Splits a TCP byte stream into DNS messages (without their length prefix). A length of 0 is no message and
/// closes the stream with an error, so a peer cannot make the decoder spin.
struct DNSTCPFrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = ByteBuffer

    /// A zero-length frame (no DNS message is shorter than a header).
    struct EmptyFrame: Error {}

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt16.self) else { return .needMoreData }
        guard length > 0 else { throw EmptyFrame() }
        guard buffer.readableBytes >= 2 + Int(length) else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: 2)
        let frame = buffer.readSlice(length: Int(length))!
        context.fireChannelRead(NIOAny(frame))
        return .continue
    }
}

extension ByteBuffer {
    /// `message` with its two-byte length prefix, ready to write on a TCP stream. Messages are at most 65 535
    /// bytes by construction (the prefix cannot say more).
    static func dnsTCPFrame(_ message: [UInt8]) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(message.count + 2)
        buffer.writeInteger(UInt16(clamping: message.count))
        buffer.writeBytes(message.prefix(Int(UInt16.max)))
        return buffer
    }
}
