// A TUN queue as a `PacketDevice`: non-blocking reads of up to a batch of packets per wake-up, one write per
// packet (a TUN takes each write as exactly one packet, so writes are never coalesced), offload metadata in
// the virtio-net header when the queue has IFF_VNET_HDR. With `TunIO.uring` the same reads and writes go through
// io_uring in batches (`UringPacketIO`): one io_uring_enter per batch instead of two system calls per packet.
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
    /// The io mode asked for.
    public let io: TunIO
    /// The ring, once the packet thread has set it up (`io == .uring` and the kernel allows it).
    private var uring: UringPacketIO?
    private var uringTried = false

    /// Takes ownership of `queue`, which must be non-blocking (`TunQueue.setNonBlocking`).
    /// - Parameter io: `.uring` batches the reads and writes through io_uring, set up on the packet thread at
    ///   its first call; where the kernel refuses io_uring the device quietly uses system calls
    ///   (`counters.uring` says which).
    public init(queue: consuming TunQueue, io: TunIO = .syscalls) {
        counters.udpOffload = queue.udpOffload
        self.io = io
        self.queue = queue
    }

    public var name: String { queue.name }

    /// Sets up the ring on the first call from the packet thread (a ring is single-issuer).
    @inline(__always)
    private mutating func ring() -> UringPacketIO? {
        if uringTried { return uring }
        uringTried = true
        if io == .uring {
            uring = UringPacketIO(fd: queue.fd, vnetHeader: queue.offload, name: queue.name)
            counters.uring = uring != nil
        }
        return uring
    }

    public mutating func readBatch(into batch: inout PacketBatch) throws(DeviceError) -> Int {
        if let uring = ring() {
            let result = uring.readBatch(into: &batch)
            counters.writeErrors &+= uring.writeErrors
            uring.writeErrors = 0
            switch result {
            case .failure(let error):
                throw error
            case .success(let outcome):
                counters.readErrors &+= outcome.readErrors
                counters.badOffloadHeaders &+= outcome.badOffloadHeaders
                failedReadsInARow = outcome.readErrors > 0 && outcome.packets == 0 ? failedReadsInARow + 1 : 0
                for i in 0..<outcome.packets { countSuperPacket(batch.slots[i].offload) }
                if let code = outcome.fatal, outcome.packets == 0 {
                    throw DeviceError(code: code, message: "read(\(queue.name)) through io_uring: \(String(cString: strerror(code)))")
                }
                return outcome.packets
            }
        }
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
                countSuperPacket(batch.slots[n].offload)
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

    private mutating func countSuperPacket(_ offload: OffloadInfo) {
        switch offload.segmentation {
        case .none: break
        case .tcp4, .tcp6: counters.tcpSuperPackets &+= 1
        case .udpL4: counters.udpSuperPackets &+= 1
        }
    }

    public mutating func write(_ packet: UnsafeRawBufferPointer, offload: OffloadInfo) {
        if let uring = ring() {
            uring.write(packet, offload: offload)
            return
        }
        guard let base = packet.baseAddress else { return }
        do { try queue.send(base, count: packet.count, offload: offload) } catch { counters.writeErrors &+= 1 }
    }

    /// Sends the writes io_uring still holds (the engine calls it before it waits; a no-op with system calls).
    public mutating func flush() {
        guard let uring = ring() else { return }
        uring.flush()
        counters.writeErrors &+= uring.writeErrors
        uring.writeErrors = 0
    }

    public func waitReadable(timeoutMilliseconds: Int32, wakeDescriptor: Int32) -> DeviceWait {
        // The last batch's writes go out before the thread sleeps (their errors are counted at the next read).
        uring?.flush()
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

/// How a TUN device reads and writes (`tun.io`).
public enum TunIO: String, Sendable, CaseIterable {
    /// One read(2) and one writev(2) per packet.
    case syscalls
    /// Batches of reads and writes through io_uring, one io_uring_enter per batch.
    case uring

    /// Nil when io_uring can be set up here; otherwise why not (errno text), for the daemon's one log line.
    public static func uringUnavailableReason() -> String? {
        UringPacketIO.probe().map { String(cString: strerror($0)) }
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
