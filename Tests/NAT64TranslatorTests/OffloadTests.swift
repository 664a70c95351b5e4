import NAT64Translator
import PacketTestSupport
import Testing

/// Packets handed over with VIRTIO_NET_HDR_F_NEEDS_CSUM: the L4 checksum field holds only the pseudo-header
/// sum and the receiver finishes it from `csum_start`. These tests finish it the way the kernel would and
/// check the result from scratch.
@Suite struct OffloadTests {
    /// Replaces the full L4 checksum with the partial (pseudo-header only, not complemented) value.
    func makePartial(_ bytes: [UInt8], l4Offset: Int, checksumOffset: Int, pseudo: [UInt8]) -> [UInt8] {
        var b = bytes
        let folded = ~referenceChecksum(pseudo)
        b[l4Offset + checksumOffset] = UInt8(folded >> 8)
        b[l4Offset + checksumOffset + 1] = UInt8(folded & 0xFF)
        return b
    }

    /// What the kernel does with NEEDS_CSUM: sum from csum_start to the end, complement, store.
    func finish(_ bytes: [UInt8], start: Int, offset: Int) -> [UInt8] {
        var b = bytes
        let c = referenceChecksum(Array(b[start...]))
        b[start + offset] = UInt8(c >> 8)
        b[start + offset + 1] = UInt8(c & 0xFF)
        return b
    }

    @Test("T4.14 with offload: partial TCP checksum IPv6→IPv4 moves csum_start and stays finishable; GSO type follows")
    func partialChecksum6to4() {
        var t = makeTranslator()
        // S5: a TCP session starts with the IPv6 SYN; the data segment below belongs to it.
        _ = run(&t, buildIPv6(src: client, dst: server6, l4: .tcp(src: 40000, dst: 80, flags: 0x02, payload: [])))
        let full = buildIPv6(src: client, dst: server6, l4: .tcp(src: 40000, dst: 80, flags: 0x18, payload: Array(repeating: 0x42, count: 3000)))
        let body = Array(full[40...])
        let pseudo = client.byteArray + server6.byteArray + be32(UInt32(body.count)) + [0, 0, 0, 6]
        let partial = makePartial(full, l4Offset: 40, checksumOffset: 16, pseudo: pseudo)
        var p = PacketBuffer(capacity: 8192)
        var r = PacketBuffer(capacity: 4096)
        p.load(partial, offload: OffloadInfo(segmentation: .tcp6, segmentSize: 1440, headerLength: 60,
                                             checksum: .partial(start: 40, offset: 16)))
        #expect(t.translate(&p, reply: &r, now: 0) == .translated)
        #expect(p.offload.checksum == .partial(start: 20, offset: 16))
        #expect(p.offload.segmentation == .tcp4)
        #expect(p.offload.headerLength == 40)
        let done = finish(p.bytes, start: 20, offset: 16)
        let parsed = Parsed(bytes: done)
        #expect(parsed.version == 4)
        #expect(parsed.l4ChecksumValid)
    }

    @Test("T4.14 with offload: partial UDP checksum IPv4→IPv6 stays finishable")
    func partialChecksum4to6() {
        var t = makeTranslator()
        let out = Parsed(bytes: run(&t, buildIPv6(src: client, dst: server6, l4: .udp(src: 7000, dst: 5201, payload: [1]))).1)
        let full = buildIPv4(src: server4, dst: pool, l4: .udp(src: 5201, dst: out.srcPort, payload: Array(repeating: 9, count: 1000)))
        let body = Array(full[20...])
        let pseudo = v4bytes(server4) + v4bytes(pool) + [0, 17] + be16(UInt16(body.count))
        let partial = makePartial(full, l4Offset: 20, checksumOffset: 6, pseudo: pseudo)
        var p = PacketBuffer(capacity: 8192)
        var r = PacketBuffer(capacity: 4096)
        p.load(partial, offload: OffloadInfo(checksum: .partial(start: 20, offset: 6)))
        #expect(t.translate(&p, reply: &r, now: 0) == .translated)
        #expect(p.offload.checksum == .partial(start: 40, offset: 6))
        let parsed = Parsed(bytes: finish(p.bytes, start: 40, offset: 6))
        #expect(parsed.version == 6)
        #expect(parsed.dstPort == 7000)
        #expect(parsed.l4ChecksumValid)
    }

    /// UDP segmentation offload (TUN_F_USO6): one 14,000-byte UDP super-packet (ten 1400-byte datagrams) is
    /// translated once; the GSO type (UDP_L4 for both IP versions) and segment size stay, the header length and
    /// csum_start move with the header, and the finished checksum is right for the whole super-packet, which is
    /// what the kernel segments from.
    @Test("T4.14 with UDP GSO: a UDP_L4 super-packet IPv6→IPv4 keeps its segmentation and a finishable checksum")
    func udpSuperPacket6to4() {
        var t = makeTranslator()
        let full = buildIPv6(src: client, dst: server6, l4: .udp(src: 7000, dst: 5201, payload: Array(repeating: 0x5A, count: 14_000)))
        let body = Array(full[40...])
        let pseudo = client.byteArray + server6.byteArray + be32(UInt32(body.count)) + [0, 0, 0, 17]
        let partial = makePartial(full, l4Offset: 40, checksumOffset: 6, pseudo: pseudo)
        var p = PacketBuffer(capacity: 32768)
        var r = PacketBuffer(capacity: 4096)
        p.load(partial, offload: OffloadInfo(segmentation: .udpL4, segmentSize: 1400, headerLength: 48,
                                             checksum: .partial(start: 40, offset: 6)))
        #expect(t.translate(&p, reply: &r, now: 0) == .translated, "no Packet Too Big for a super-packet")
        #expect(p.offload.segmentation == .udpL4 && p.offload.segmentSize == 1400)
        #expect(p.offload.headerLength == 28)
        #expect(p.offload.checksum == .partial(start: 20, offset: 6))
        let parsed = Parsed(bytes: finish(p.bytes, start: 20, offset: 6))
        #expect(parsed.version == 4 && parsed.proto == 17 && parsed.dst4 == server4 && parsed.src4 == pool)
        #expect(parsed.l4ChecksumValid)
        #expect(p.count == 20 + 8 + 14_000)
    }
}
