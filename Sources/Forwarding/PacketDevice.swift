// The device boundary of the packet loop: where packets come from and go to. Batch-shaped, into memory the
// caller owns (wireguard-go's tun.Device is the model): the engine owns one `PacketBatch` per packet thread and a
// device fills it, so nothing is allocated per packet whichever device it is.
//
// Three devices implement it: a TUN queue (`TunPacketDevice`, the daemon), a capture file
// (`CapturePacketDevice`, `nat64d replay`) and memory (`MemoryPacketDevice`, tests and benchmarks).
import NAT64Translator

/// A source and sink of IP packets.
///
/// A device is owned by one packet thread (`~Copyable` conformers are welcome; nothing here copies one).
public protocol PacketDevice: ~Copyable {
    /// A name for logs and errors (the TUN interface name, the capture file path).
    var name: String { get }

    /// Reads what is queued into the batch's slots, from slot 0, at most `batch.capacity` packets; never blocks.
    ///
    /// - Returns: how many slots now hold a packet (`batch.count` is set to it too); 0 when nothing is queued.
    /// - Throws: `DeviceError` for a failure the engine cannot skip (the device is gone).
    mutating func readBatch(into batch: inout PacketBatch) throws(DeviceError) -> Int

    /// Writes one packet (a TUN takes each write as exactly one packet), with its offload metadata.
    ///
    /// A failed write is counted by the device (`counters.writeErrors`) and is not an error for the engine: the
    /// packet is lost as it would be on a congested link.
    mutating func write(_ packet: UnsafeRawBufferPointer, offload: OffloadInfo)

    /// Blocks until a packet can be read, `wakeDescriptor` (an eventfd, or -1 for none) becomes readable, or
    /// `timeoutMilliseconds` pass.
    func waitReadable(timeoutMilliseconds: Int32, wakeDescriptor: Int32) -> DeviceWait

    /// The device's own counters (I/O errors and refused offload headers).
    var counters: DeviceCounters { get }
}

/// What `waitReadable` saw.
public enum DeviceWait: Equatable, Sendable {
    /// A packet can be read.
    case readable
    /// Nothing arrived within the timeout.
    case timedOut
    /// The wake descriptor fired (the control side posted a request).
    case woken
    /// The device reported an error or hang-up (POLLERR/POLLHUP/POLLNVAL: the TUN was deleted): reading again
    /// would fail at once, forever. The loop must end, not spin.
    case failed(DeviceError)
}

/// A device failure that ends the packet loop.
public struct DeviceError: Error, Equatable, Sendable, CustomStringConvertible {
    /// errno, when there is one.
    public var code: Int32
    /// What failed, e.g. `read(nat64)` or `poll(nat64): POLLHUP`.
    public var message: String

    public init(code: Int32, message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}

/// Counters a device keeps about itself.
public struct DeviceCounters: Equatable, Sendable {
    /// Reads that failed (and were skipped).
    public var readErrors: UInt64 = 0
    /// Writes that failed (the packet was lost).
    public var writeErrors: UInt64 = 0
    /// Packets whose virtio-net header did not describe them (kernel offload metadata is checked, not trusted).
    public var badOffloadHeaders: UInt64 = 0
    /// TCP super-packets (GSO TCPv4/TCPv6) read: one translation for up to 64 KiB.
    public var tcpSuperPackets: UInt64 = 0
    /// UDP super-packets (GSO UDP_L4) read: one translation for up to 64 KiB of UDP datagrams.
    public var udpSuperPackets: UInt64 = 0
    /// Whether the device takes and hands over UDP super-packets (TUN_F_USO4/USO6 granted).
    public var udpOffload = false
    /// Whether reads and writes go through io_uring (`tun.io = "uring"` and the kernel allowed it).
    public var uring = false

    public init() {}

    /// Adds `other` (several queues into one total).
    public mutating func add(_ other: DeviceCounters) {
        readErrors &+= other.readErrors
        writeErrors &+= other.writeErrors
        badOffloadHeaders &+= other.badOffloadHeaders
        tcpSuperPackets &+= other.tcpSuperPackets
        udpSuperPackets &+= other.udpSuperPackets
        udpOffload = udpOffload || other.udpOffload
        uring = uring || other.uring
    }
}

/// A fixed set of packet buffers a device reads into: allocated once per packet thread, reused for every batch.
///
/// `PacketBuffer` is `~Copyable`, so the slots live in memory the batch owns rather than in an `Array`; a slot
/// is reached with `withSlot` (or `slots[i]` inside the module) and never copied.
public struct PacketBatch: ~Copyable {
    let slots: UnsafeMutablePointer<PacketBuffer>
    /// Timestamps per slot (the capture device fills them from the file; live devices leave them 0).
    let timestamps: UnsafeMutablePointer<Nanoseconds>
    /// How many slots there are.
    public let capacity: Int
    /// How many slots hold a packet after the last read.
    public var count = 0

    /// - Parameters:
    ///   - capacity: packets per batch (at least 1).
    ///   - bufferSize: bytes per slot, headroom included (default: a 64 KiB GSO super-packet).
    public init(capacity: Int, bufferSize: Int = PacketBuffer.headroom + 65_536 + 256) {
        precondition(capacity >= 1)
        self.capacity = capacity
        slots = .allocate(capacity: capacity)
        timestamps = .allocate(capacity: capacity)
        timestamps.initialize(repeating: 0, count: capacity)
        for i in 0..<capacity { (slots + i).initialize(to: PacketBuffer(capacity: bufferSize)) }
    }

    deinit {
        slots.deinitialize(count: capacity)
        slots.deallocate()
        timestamps.deallocate()
    }

    /// Runs `body` on slot `index`'s buffer.
    public mutating func withSlot<R>(_ index: Int, _ body: (inout PacketBuffer) throws -> R) rethrows -> R {
        precondition(index >= 0 && index < capacity)
        return try body(&slots[index])
    }

    /// The timestamp of slot `index` (0 unless the device sets them).
    public func timestamp(_ index: Int) -> Nanoseconds { timestamps[index] }

    /// Sets the timestamp of slot `index` (devices that know when a packet was seen).
    public mutating func setTimestamp(_ index: Int, _ value: Nanoseconds) { timestamps[index] = value }
}
