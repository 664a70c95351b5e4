// The io_uring device I/O (`tun.io = "uring"`) on a SOCK_SEQPACKET socketpair, which keeps message boundaries
// as a TUN keeps packet boundaries: reads land in the batch's slots in arrival order however many reads find
// nothing; a batch of writes is one io_uring_enter; packets that live in the batch's slots are sent without a
// copy and are not overwritten by the next batch's reads (IOSQE_IO_DRAIN); other buffers are copied when
// queued, so the caller may reuse them at once. The real TUN path is in the netns suites (`tun.io`).
@testable import Forwarding
import NAT64Translator
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A non-blocking SOCK_SEQPACKET pair: `device` is the side io_uring works on, `peer` the test's side.
private final class SocketPair {
    let device: Int32
    let peer: Int32

    init() throws {
        var fds: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0, &fds) == 0
        else { throw DeviceError(code: errno, message: "socketpair") }
        device = fds[0]
        peer = fds[1]
    }

    deinit {
        close(device)
        close(peer)
    }

    func send(_ bytes: [UInt8]) {
        let n = bytes.withUnsafeBytes { Glibc.send(peer, $0.baseAddress, $0.count, 0) }
        precondition(n == bytes.count)
    }

    /// Every message waiting at the peer, in order.
    func receiveAll() -> [[UInt8]] {
        var out: [[UInt8]] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(peer, $0.baseAddress, $0.count, 0) }
            if n < 0 { return out }
            out.append(Array(buffer[..<n]))
        }
    }
}

private func message(_ i: Int, length: Int = 64) -> [UInt8] {
    (0..<length).map { UInt8(truncatingIfNeeded: i &* 31 &+ $0) }
}

private func contents(_ batch: inout PacketBatch) -> [[UInt8]] {
    (0..<batch.count).map { i in batch.withSlot(i) { $0.bytes } }
}

@Suite(.enabled(if: TunIO.uringUnavailableReason() == nil, "io_uring is not available here"))
struct UringPacketIOTests {
    @Test func readsFillSlotsInArrivalOrderAndReadAheadGrows() throws {
        let pair = try SocketPair()
        let io = try #require(UringPacketIO(fd: pair.device, vnetHeader: false, name: "pair"))
        var batch = PacketBatch(capacity: 16, bufferSize: PacketBuffer.headroom + 2048)
        for i in 0..<11 { pair.send(message(i)) }

        // 4 reads first (the minimum), all found: the next batch reads 8, finds 7, and says so.
        let first = try io.readBatch(into: &batch).get()
        #expect(first.packets == 4 && batch.count == 4)
        #expect(contents(&batch) == (0..<4).map { message($0) })
        #expect(io.readAhead == 8)
        let second = try io.readBatch(into: &batch).get()
        #expect(second.packets == 7)
        #expect(contents(&batch) == (4..<11).map { message($0) })
        #expect(io.readAhead == 8)  // just above what was found
        let empty = try io.readBatch(into: &batch).get()
        #expect(empty.packets == 0 && empty.readErrors == 0 && empty.fatal == nil)
        #expect(io.readAhead == UringPacketIO.minimumReadAhead)
        #expect(io.enters == 3)
    }

    @Test func aBatchOfWritesIsOneEnterInOrder() throws {
        let pair = try SocketPair()
        let io = try #require(UringPacketIO(fd: pair.device, vnetHeader: false, name: "pair"))
        var other = [UInt8](repeating: 0, count: 100)
        for i in 0..<20 {
            // The same buffer for every packet, rewritten at once: each write must have copied it.
            for k in other.indices { other[k] = UInt8(truncatingIfNeeded: i &+ k) }
            other.withUnsafeBytes { io.write($0, offload: .plain) }
        }
        #expect(pair.receiveAll().isEmpty)  // queued, not sent
        io.flush()
        #expect(io.enters == 1)
        let got = pair.receiveAll()
        #expect(got.count == 20)
        #expect(got == (0..<20).map { i in (0..<100).map { UInt8(truncatingIfNeeded: i &+ $0) } })
        #expect(io.zeroCopyWrites == 0 && io.writeErrors == 0)
    }

    @Test func slotWritesAreZeroCopyAndLeaveBeforeTheNextReadsFillTheSlots() throws {
        let pair = try SocketPair()
        let io = try #require(UringPacketIO(fd: pair.device, vnetHeader: false, name: "pair"))
        var batch = PacketBatch(capacity: 8, bufferSize: PacketBuffer.headroom + 2048)
        for i in 0..<4 { pair.send(message(i)) }
        #expect(try io.readBatch(into: &batch).get().packets == 4)
        // Echo every slot back (as the engine writes translated packets), with the next packets already queued:
        // the next batch's reads go into the same slots in the same io_uring_enter as these writes.
        for i in 0..<4 { batch.withSlot(i) { io.write(UnsafeRawBufferPointer($0.packet), offload: .plain) } }
        for i in 100..<104 { pair.send(message(i)) }
        let next = try io.readBatch(into: &batch).get()
        #expect(io.zeroCopyWrites == 4)
        #expect(next.packets == 4)
        #expect(contents(&batch) == (100..<104).map { message($0) })
        #expect(pair.receiveAll() == (0..<4).map { message($0) })  // the old contents, not the new reads
        #expect(io.enters == 2)
    }

    @Test func aWriteLargerThanAStagingSlotKeepsItsPlaceInOrder() throws {
        let pair = try SocketPair()
        let io = try #require(UringPacketIO(fd: pair.device, vnetHeader: false, name: "pair"))
        let small = message(1)
        let large = message(2, length: UringPacketIO.stagingSize + 1)
        small.withUnsafeBytes { io.write($0, offload: .plain) }
        large.withUnsafeBytes { io.write($0, offload: .plain) }
        small.withUnsafeBytes { io.write($0, offload: .plain) }
        io.flush()
        var sizes: [Int] = []
        var buffer = [UInt8](repeating: 0, count: 8192)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(pair.peer, $0.baseAddress, $0.count, 0) }
            if n < 0 { break }
            sizes.append(n)
        }
        #expect(sizes == [64, UringPacketIO.stagingSize + 1, 64])
    }

    @Test func moreWritesThanTheQueueHoldsAreAllSent() throws {
        let pair = try SocketPair()
        let io = try #require(UringPacketIO(fd: pair.device, vnetHeader: false, name: "pair"))
        let total = UringPacketIO.maxWrites + 10
        for i in 0..<total { message(i, length: 16).withUnsafeBytes { io.write($0, offload: .plain) } }
        io.flush()
        #expect(io.enters == 2)
        #expect(pair.receiveAll() == (0..<total).map { message($0, length: 16) })
    }
}
