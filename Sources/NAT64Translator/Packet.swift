// The packet handed to the translator: a window into caller-owned memory, plus its offload metadata.
//
// The translator rewrites packets in place. IPv4→IPv6 grows the header by 20 bytes (28 with a Fragment
// header), so the caller leaves `PacketBuffer.headroom` bytes free in front of the packet; IPv6→IPv4 shrinks it
// and the packet simply starts later. Nothing here allocates per packet: buffers are created once per thread.

/// How the L4 checksum of a packet stands (virtio-net `flags`/`csum_start`/`csum_offset`).
public enum ChecksumState: Equatable, Sendable {
    /// The L4 checksum field holds a complete checksum (plain TUN, or `VIRTIO_NET_HDR_F_DATA_VALID`).
    /// Translation adjusts it incrementally (RFC 1624) and never "repairs" it.
    case complete
    /// `VIRTIO_NET_HDR_F_NEEDS_CSUM`: the field at `start + offset` holds only the pseudo-header sum, and
    /// whoever receives the packet finishes the checksum over the bytes from `start`. Translation replaces the
    /// pseudo-header part and moves `start` with the header.
    case partial(start: Int, offset: Int)
}

/// Generic segmentation offload metadata (virtio-net `gso_type`/`gso_size`/`hdr_len`).
public struct OffloadInfo: Equatable, Sendable {
    /// The kind of super-packet.
    public enum Segmentation: UInt8, Sendable {
        /// An ordinary packet.
        case none = 0
        /// TCP over IPv4 super-packet (VIRTIO_NET_HDR_GSO_TCPV4).
        case tcp4 = 1
        /// UDP segmentation (VIRTIO_NET_HDR_GSO_UDP_L4), either IP version.
        case udpL4 = 5
        /// TCP over IPv6 super-packet (VIRTIO_NET_HDR_GSO_TCPV6).
        case tcp6 = 4
    }

    public var segmentation: Segmentation
    /// Segment payload size for GSO packets.
    public var segmentSize: Int
    /// Length of the headers (IP + L4) in front of the payload, as the kernel reports it (not trusted).
    public var headerLength: Int
    public var checksum: ChecksumState

    public init(segmentation: Segmentation = .none, segmentSize: Int = 0, headerLength: Int = 0,
                checksum: ChecksumState = .complete) {
        self.segmentation = segmentation
        self.segmentSize = segmentSize
        self.headerLength = headerLength
        self.checksum = checksum
    }

    /// A plain packet with a complete checksum: what a TUN without IFF_VNET_HDR delivers.
    public static let plain = OffloadInfo()
}

/// A reusable packet buffer with headroom. One per packet thread (or several for batches); never per packet.
public struct PacketBuffer: ~Copyable {
    /// Free bytes kept in front of a freshly read packet so IPv4→IPv6 can grow the header in place.
    public static let headroom = 64

    /// Start of the whole allocation.
    public let base: UnsafeMutableRawPointer
    /// Size of the whole allocation.
    public let capacity: Int
    /// Offset of the first byte of the IP header.
    public var start: Int
    /// Length of the packet from `start`.
    public var count: Int
    /// Offload metadata travelling with the packet.
    public var offload: OffloadInfo

    /// Allocates `capacity` bytes (default: headroom + 64 KiB + slack for GSO super-packets).
    public init(capacity: Int = PacketBuffer.headroom + 65_536 + 256) {
        precondition(capacity > PacketBuffer.headroom)
        base = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16)
        base.initializeMemory(as: UInt8.self, repeating: 0, count: capacity)
        self.capacity = capacity
        start = PacketBuffer.headroom
        count = 0
        offload = .plain
    }

    deinit { base.deallocate() }

    /// Where a device should read the next packet into, and how many bytes fit.
    public var readArea: (pointer: UnsafeMutableRawPointer, count: Int) {
        (base + PacketBuffer.headroom, capacity - PacketBuffer.headroom)
    }

    /// Marks `length` bytes at the read area as the current packet (resets start and offload).
    public mutating func received(length: Int, offload: OffloadInfo = .plain) {
        start = PacketBuffer.headroom
        count = length
        self.offload = offload
    }

    /// The current packet bytes.
    public var packet: UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(start: base + start, count: count)
    }

    /// Copies `bytes` in as the current packet (tests, replay).
    public mutating func load(_ bytes: [UInt8], offload: OffloadInfo = .plain) {
        precondition(bytes.count <= capacity - PacketBuffer.headroom)
        bytes.withUnsafeBytes { src in
            (base + PacketBuffer.headroom).copyMemory(from: src.baseAddress!, byteCount: bytes.count)
        }
        received(length: bytes.count, offload: offload)
    }

    /// Copies `bytes` in as the current packet, without an intermediate array (held packets, replay).
    public mutating func load(_ bytes: UnsafeRawBufferPointer, offload: OffloadInfo = .plain) {
        precondition(bytes.count <= capacity - PacketBuffer.headroom)
        if let src = bytes.baseAddress { (base + PacketBuffer.headroom).copyMemory(from: src, byteCount: bytes.count) }
        received(length: bytes.count, offload: offload)
    }

    /// A copy of the current packet bytes (tests, slow paths).
    public var bytes: [UInt8] { Array(UnsafeRawBufferPointer(start: base + start, count: count)) }
}
