import NAT64Translator
import Testing
import TunDevice

@Suite struct VirtioNetHeaderTests {
    /// A header as the kernel writes it (little-endian fields), built by hand.
    func kernelHeader(flags: UInt8, gso: UInt8, hdrLen: UInt16, gsoSize: UInt16, start: UInt16, offset: UInt16) -> [UInt8] {
        func le(_ v: UInt16) -> [UInt8] { [UInt8(v & 0xFF), UInt8(v >> 8)] }
        return [flags, gso] + le(hdrLen) + le(gsoSize) + le(start) + le(offset) + [0, 0]
    }

    @Test("A TSO6 super-packet header with NEEDS_CSUM decodes to partial checksum + tcp6, and encodes back to the same bytes")
    func decodeEncodeRoundTrip() {
        let bytes = kernelHeader(flags: 1, gso: 4, hdrLen: 60, gsoSize: 1440, start: 40, offset: 16)
        let decoded = bytes.withUnsafeBytes { VirtioNetHeader.decode($0.baseAddress!, packetLength: 64_000) }
        let info = OffloadInfo(segmentation: .tcp6, segmentSize: 1440, headerLength: 60, checksum: .partial(start: 40, offset: 16))
        #expect(decoded == .success(info))
        var out = [UInt8](repeating: 0xEE, count: 12)
        out.withUnsafeMutableBytes { VirtioNetHeader.encode(info, into: $0.baseAddress!) }
        #expect(out == bytes)
    }

    @Test("A plain header decodes to a complete checksum and no segmentation; DATA_VALID counts as complete")
    func plain() {
        for flags: UInt8 in [0, 2] {
            let bytes = kernelHeader(flags: flags, gso: 0, hdrLen: 0, gsoSize: 0, start: 0, offset: 0)
            #expect(bytes.withUnsafeBytes { VirtioNetHeader.decode($0.baseAddress!, packetLength: 100) } == .success(.plain))
        }
    }

    @Test("Headers that do not describe their packet are refused: UFO/ECN types, checksum outside the packet")
    func refused() {
        let ufo = kernelHeader(flags: 0, gso: 3, hdrLen: 0, gsoSize: 0, start: 0, offset: 0)
        #expect(ufo.withUnsafeBytes { VirtioNetHeader.decode($0.baseAddress!, packetLength: 100) } == .failure(.unsupportedSegmentation(3)))
        let ecn = kernelHeader(flags: 0, gso: 0x81, hdrLen: 0, gsoSize: 0, start: 0, offset: 0)
        #expect(ecn.withUnsafeBytes { VirtioNetHeader.decode($0.baseAddress!, packetLength: 100) } == .failure(.unsupportedSegmentation(0x81)))
        let outside = kernelHeader(flags: 1, gso: 0, hdrLen: 0, gsoSize: 0, start: 90, offset: 16)
        #expect(outside.withUnsafeBytes { VirtioNetHeader.decode($0.baseAddress!, packetLength: 100) } == .failure(.checksumOutOfRange))
    }
}
