// A TUN queue as a `PacketDevice`: non-blocking reads of up to a batch of packets per wake-up, one write per
// packet (a TUN takes each write as exactly one packet, so writes are never coalesced), offload metadata in
// the virtio-net header when the queue has IFF_VNET_HDR.
import NAT64Translator
import TunDevice
#if canImport(Glibc)
import Glibc
#endif

/// One TUN queue, owned by one packet thread.
public struct TunPacketDevice: PacketDevice, ~Copyable {
    /// The queue (its fd closes with this device).
    public let queue: TunQueue
    public private(set) var counters = DeviceCounters()
    /// Reads that failed one after another (a read that succeeds, or finds nothing, resets it): the next wait
    /// backs off (`IOBackoff`), so an error that repeats never spins the thread.
    private var failedReadsInARow = 0

    /// Takes ownership of `queue`, which must be non-blocking (`TunQueue.setNonBlocking`).
    public init(queue: consuming TunQueue) {
        counters.udpOffload = queue.udpOffload
        self.queue = queue
    }

    public var name: String { queue.name }

    public mutating func readBatch(into batch: inout PacketBatch) throws(DeviceError) -> Int {
        var n = 0
        var attempts = 0
        // Bad offload headers are skipped without ending the batch; a bounded number of attempts keeps one
        // wake-up from reading forever.
        while n < batch.capacity && attempts < batch.capacity * 2 {
            attempts += 1
            let result: Result<Reception, SystemError> = batch.withSlot(n) { packet in
                do throws(SystemError) { return .success(try queue.receive(into: &packet)) } catch { return .failure(error) }
            }
            switch result {
            case .success(.packet):
                failedReadsInARow = 0
                switch batch.slots[n].offload.segmentation {
                case .none: break
                case .tcp4, .tcp6: counters.tcpSuperPackets &+= 1
                case .udpL4: counters.udpSuperPackets &+= 1
                }
                n += 1
            case .success(.empty):
                failedReadsInARow = 0
                batch.count = n
                return n
            case .success(.badOffloadHeader): counters.badOffloadHeaders &+= 1
            case .failure(let error):
                // EBADFD/ENODEV/EIO: the device is gone; anything else is counted and the batch ends.
                if error.code == EBADFD || error.code == ENODEV || error.code == EIO || error.code == EBADF {
                    throw DeviceError(code: error.code, message: "\(error)")
                }
                counters.readErrors &+= 1
                failedReadsInARow += 1
                batch.count = n
                return n
            }
        }
        batch.count = n
        return n
    }

    public mutating func write(_ packet: UnsafeRawBufferPointer, offload: OffloadInfo) {
        guard let base = packet.baseAddress else { return }
        do { try queue.send(base, count: packet.count, offload: offload) } catch { counters.writeErrors &+= 1 }
    }

    public func waitReadable(timeoutMilliseconds: Int32, wakeDescriptor: Int32) -> DeviceWait {
        if let pause = IOBackoff.pauseMicroseconds(afterFailures: failedReadsInARow) { usleep(pause) }
        var fds = (pollfd(fd: queue.fd, events: Int16(POLLIN), revents: 0),
                   pollfd(fd: wakeDescriptor, events: Int16(POLLIN), revents: 0))
        let n = withUnsafeMutablePointer(to: &fds) { p in
            p.withMemoryRebound(to: pollfd.self, capacity: 2) { poll($0, wakeDescriptor >= 0 ? 2 : 1, timeoutMilliseconds) }
        }
        if n < 0 {
            let e = errno
            if e == EINTR { return .timedOut }
            return .failed(DeviceError(code: e, message: "poll(\(queue.name)): \(String(cString: strerror(e)))"))
        }
        if n == 0 { return .timedOut }
        let revents = fds.0.revents
        let bad = Int16(POLLERR) | Int16(POLLHUP) | Int16(POLLNVAL)
        if revents & bad != 0 && revents & Int16(POLLIN) == 0 {
            let what = revents & Int16(POLLNVAL) != 0 ? "POLLNVAL" : revents & Int16(POLLHUP) != 0 ? "POLLHUP" : "POLLERR"
            return .failed(DeviceError(code: EBADFD, message: "poll(\(queue.name)): \(what): the TUN device is gone"))
        }
        if revents & Int16(POLLIN) != 0 { return .readable }
        return .woken
    }
}

/// How long a packet thread pauses before waiting again after I/O errors in a row: nothing after none, then
/// 1 ms doubling to at most 100 ms. A persistent error (one the device does not report as fatal) then costs
/// at most 10 wake-ups a second instead of a core; the errors are counted and the daemon logs them once a
/// minute.
public enum IOBackoff {
    public static func pauseMicroseconds(afterFailures n: Int) -> UInt32? {
        guard n > 0 else { return nil }
        return min(100_000, 1000 << UInt32(min(n - 1, 7)))
    }
}
