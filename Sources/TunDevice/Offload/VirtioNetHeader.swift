// The virtio-net header a TUN device with IFF_VNET_HDR puts in front of every packet (struct virtio_net_hdr_v1,
// include/uapi/linux/virtio_net.h; 12 bytes after TUNSETVNETHDRSZ). With TUNSETOFFLOAD(TUN_F_CSUM | TUN_F_TSO4 |
// TUN_F_TSO6) the kernel hands over TCP super-packets of up to 64 KiB with an unfinished checksum, and takes
// them back the same way: one read and one write per 64 KiB instead of per 1500 bytes.
//
// Fields are in the host's byte order (little-endian on every platform nat64d runs on). The kernel's values are
// checked, not trusted: a header that does not describe the packet it came with is refused.
import NAT64Translator

/// Encoding and decoding of the 12-byte virtio-net header.
public enum VirtioNetHeader {
    /// Size of struct virtio_net_hdr_v1 (set with TUNSETVNETHDRSZ).
    public static let size = 12

    static let needsChecksum: UInt8 = 1  // VIRTIO_NET_HDR_F_NEEDS_CSUM
    static let dataValid: UInt8 = 2  // VIRTIO_NET_HDR_F_DATA_VALID

    /// Why a header was refused.
    public enum DecodeError: Error, Equatable, Sendable {
        /// A GSO type nat64d did not ask for (UFO, ECN) or does not know.
        case unsupportedSegmentation(UInt8)
        /// csum_start/csum_offset point outside the packet.
        case checksumOutOfRange
    }

    /// Reads the header at `pointer` describing a packet of `packetLength` bytes that follows it.
    public static func decode(_ pointer: UnsafeRawPointer, packetLength: Int) -> Result<OffloadInfo, DecodeError> {
        let flags = pointer.load(fromByteOffset: 0, as: UInt8.self)
        let gsoType = pointer.load(fromByteOffset: 1, as: UInt8.self)
        let headerLength = Int(UInt16(littleEndian: pointer.loadUnaligned(fromByteOffset: 2, as: UInt16.self)))
        let gsoSize = Int(UInt16(littleEndian: pointer.loadUnaligned(fromByteOffset: 4, as: UInt16.self)))
        let csumStart = Int(UInt16(littleEndian: pointer.loadUnaligned(fromByteOffset: 6, as: UInt16.self)))
        let csumOffset = Int(UInt16(littleEndian: pointer.loadUnaligned(fromByteOffset: 8, as: UInt16.self)))
        let segmentation: OffloadInfo.Segmentation
        switch gsoType {
        case 0: segmentation = .none
        case 1: segmentation = .tcp4
        case 4: segmentation = .tcp6
        case 5: segmentation = .udpL4
        default: return .failure(.unsupportedSegmentation(gsoType))
        }
        var checksum = ChecksumState.complete
        if flags & needsChecksum != 0 {
            guard csumStart + csumOffset + 2 <= packetLength else { return .failure(.checksumOutOfRange) }
            checksum = .partial(start: csumStart, offset: csumOffset)
        }
        return .success(OffloadInfo(segmentation: segmentation, segmentSize: segmentation == .none ? 0 : gsoSize,
                                    headerLength: headerLength, checksum: checksum))
    }

    /// Writes the header for a packet with `offload` metadata at `pointer` (12 bytes).
    public static func encode(_ offload: OffloadInfo, into pointer: UnsafeMutableRawPointer) {
        var flags: UInt8 = 0
        var start = 0
        var offset = 0
        if case .partial(let s, let o) = offload.checksum {
            flags = needsChecksum
            start = s
            offset = o
        }
        pointer.storeBytes(of: flags, toByteOffset: 0, as: UInt8.self)
        pointer.storeBytes(of: offload.segmentation.rawValue, toByteOffset: 1, as: UInt8.self)
        pointer.storeBytes(of: UInt16(truncatingIfNeeded: offload.headerLength).littleEndian, toByteOffset: 2, as: UInt16.self)
        pointer.storeBytes(of: UInt16(truncatingIfNeeded: offload.segmentSize).littleEndian, toByteOffset: 4, as: UInt16.self)
        pointer.storeBytes(of: UInt16(truncatingIfNeeded: start).littleEndian, toByteOffset: 6, as: UInt16.self)
        pointer.storeBytes(of: UInt16(truncatingIfNeeded: offset).littleEndian, toByteOffset: 8, as: UInt16.self)
        pointer.storeBytes(of: UInt16(0), toByteOffset: 10, as: UInt16.self)
    }
}
