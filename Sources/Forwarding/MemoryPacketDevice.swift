// An in-memory `PacketDevice` for tests and benchmarks: packets are injected into an input queue and whatever
// the engine writes is kept in order. No root, no TUN.
import NAT64Translator

/// A device backed by arrays.
public struct MemoryPacketDevice: PacketDevice {
    /// One packet written by the engine.
    public struct Written: Equatable, Sendable {
        public var bytes: [UInt8]
        public var offload: OffloadInfo
    }

    public let name: String
    /// Packets waiting to be read, oldest first.
    public private(set) var pending: [(bytes: [UInt8], offload: OffloadInfo)] = []
    private var nextPending = 0
    /// Everything written, in order.
    public private(set) var written: [Written] = []
    public var counters = DeviceCounters()
    /// When set, the next read (and every wait) fails with it: a device that disappeared.
    public var failure: DeviceError?
    /// Largest number of packets returned by one `readBatch` (to see batching at work).
    public private(set) var largestBatch = 0

    public init(name: String = "memory") { self.name = name }

    /// Queues a packet for the engine to read.
    public mutating func inject(_ bytes: [UInt8], offload: OffloadInfo = .plain) {
        pending.append((bytes, offload))
    }

    /// Packets still queued.
    public var queued: Int { pending.count - nextPending }

    /// Removes and returns what was written so far.
    public mutating func takeWritten() -> [Written] {
        defer { written.removeAll() }
        return written
    }

    public mutating func readBatch(into batch: inout PacketBatch) throws(DeviceError) -> Int {
        if let failure { throw failure }
        var n = 0
        while n < batch.capacity && nextPending < pending.count {
            let p = pending[nextPending]
            nextPending += 1
            batch.withSlot(n) { $0.load(p.bytes, offload: p.offload) }
            n += 1
        }
        if nextPending == pending.count {
            pending.removeAll(keepingCapacity: true)
            nextPending = 0
        }
        batch.count = n
        largestBatch = max(largestBatch, n)
        return n
    }

    public mutating func write(_ packet: UnsafeRawBufferPointer, offload: OffloadInfo) {
        written.append(Written(bytes: Array(packet), offload: offload))
    }

    public func waitReadable(timeoutMilliseconds: Int32, wakeDescriptor: Int32) -> DeviceWait {
        if let failure { return .failed(failure) }
        return queued > 0 ? .readable : .timedOut
    }
}
