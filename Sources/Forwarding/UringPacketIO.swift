// Batched TUN I/O through io_uring (`tun.io = "uring"`): a whole batch of writes and the next batch of reads
// go to the kernel in one io_uring_enter, instead of one read(2) and one writev(2) per packet.
//
// How a batch goes:
// - `write` only queues: a vectored-write request pointing at the packet where it lies. A packet still in one
//   of the batch's slots (the translated packet, the usual case) is not copied; anything else (the engine's
//   ICMP error buffer, the translator's fragments, both reused for the next packet) is copied into a staging
//   area the device owns, so what is queued stays valid until it is sent.
// - `readBatch` queues up to `readAhead` reads into slots 0, 1, ... and submits them behind the queued writes
//   in one io_uring_enter that waits for every completion. The first read carries IOSQE_IO_DRAIN: it starts
//   only once every write before it has completed, because those writes point into the very slots the reads
//   fill. Every read carries RWF_NOWAIT, so a read with nothing queued completes at once with -EAGAIN (it is
//   never left in flight; io_uring ignores the fd's O_NONBLOCK and would keep it waiting for a packet): when
//   the call returns, the kernel holds no pointer into any buffer.
// - `flush` (before the thread waits, and when the queue of writes is full) submits the writes alone.
// Reads complete in submission order; a read that found nothing leaves a gap, and the slots are compacted so
// the engine sees packets 0..<n in arrival order.
//
// `readAhead` adapts: it doubles while every read finds a packet and drops back to just above what the last
// batch found, so an idle gateway does not pay for a batch of empty reads per wake-up.
import CURing
import NAT64Translator
import TunDevice
#if canImport(Glibc)
import Glibc
#endif

/// One ring over one TUN queue's fd, owned by the device of one packet thread (created on that thread: the
/// ring is single-issuer).
final class UringPacketIO {
    private let ring: OpaquePointer
    let fd: Int32
    /// Packets carry a virtio-net header (IFF_VNET_HDR).
    let vnetHeader: Bool
    let name: String

    /// Writes queued before a flush (each a request of at most 2 iovecs).
    static let maxWrites = 128
    /// Bytes per staging slot: a copied packet larger than this is written at once instead (after a flush).
    static let stagingSize = 2048
    static let entries: UInt32 = 256
    static let minimumReadAhead = 4

    private let iovecs: UnsafeMutablePointer<iovec>
    private let headers: UnsafeMutableRawPointer
    private let staging: UnsafeMutableRawPointer
    private let userData: UnsafeMutablePointer<UInt64>
    private let results: UnsafeMutablePointer<Int32>
    private let lengths: UnsafeMutablePointer<Int32>
    private var pendingWrites = 0
    /// Reads queued in the next batch.
    private(set) var readAhead = UringPacketIO.minimumReadAhead
    /// The slots of the last batch read (zero-copy writes point into them) and where the next write is looked for.
    private var slots: UnsafeMutablePointer<PacketBuffer>?
    private var slotCount = 0
    private var slotHint = 0
    /// Writes that failed since the device last collected them.
    var writeErrors: UInt64 = 0
    /// Writes sent without a copy (statistics for tests).
    private(set) var zeroCopyWrites: UInt64 = 0
    /// io_uring_enter calls made (statistics for tests and the benchmark's reasoning).
    private(set) var enters: UInt64 = 0

    private static let writeTag: UInt64 = 1 << 63

    /// - Returns: nil when the kernel refuses io_uring (too old, `kernel.io_uring_disabled`, seccomp); errno
    ///   says why.
    init?(fd: Int32, vnetHeader: Bool, name: String) {
        guard let ring = CURing_create(Self.entries) else { return nil }
        self.ring = ring
        self.fd = fd
        self.vnetHeader = vnetHeader
        self.name = name
        iovecs = .allocate(capacity: 2 * Self.maxWrites)
        headers = .allocate(byteCount: 16 * Self.maxWrites, alignment: 16)
        staging = .allocate(byteCount: Self.stagingSize * Self.maxWrites, alignment: 64)
        let completions = Int(Self.entries) * 2
        userData = .allocate(capacity: completions)
        results = .allocate(capacity: completions)
        lengths = .allocate(capacity: Int(Self.entries))
    }

    deinit {
        CURing_destroy(ring)
        iovecs.deallocate()
        headers.deallocate()
        staging.deallocate()
        userData.deallocate()
        results.deallocate()
        lengths.deallocate()
    }

    /// Whether io_uring can be used here at all (a ring can be set up); errno of the refusal otherwise.
    static func probe() -> Int32? {
        guard let ring = CURing_create(4) else { return errno }
        CURing_destroy(ring)
        return nil
    }

    // MARK: Writes

    /// Queues one packet; see the file comment for when it is copied.
    func write(_ packet: UnsafeRawBufferPointer, offload: OffloadInfo) {
        guard let base = packet.baseAddress else { return }
        if pendingWrites == Self.maxWrites { flush() }
        let index = pendingWrites
        var source = base
        if !lies(in: base, count: packet.count) {
            guard packet.count <= Self.stagingSize else {
                // Rare (a fragment larger than a staging slot): keep the order and write it at once.
                flush()
                writeNow(packet, offload: offload)
                return
            }
            let copy = staging + index * Self.stagingSize
            copy.copyMemory(from: base, byteCount: packet.count)
            source = UnsafeRawPointer(copy)
        } else {
            zeroCopyWrites &+= 1
        }
        let iov = iovecs + 2 * index
        var first = iov + 1
        var count: UInt32 = 1
        if vnetHeader {
            let header = headers + 16 * index
            VirtioNetHeader.encode(offload, into: header)
            iov[0] = iovec(iov_base: header, iov_len: VirtioNetHeader.size)
            first = iov
            count = 2
        }
        iov[1] = iovec(iov_base: UnsafeMutableRawPointer(mutating: source), iov_len: packet.count)
        let queued = CURing_prepWritev(ring, fd, first, count, Self.writeTag | UInt64(index))
        precondition(queued == 0, "io_uring submission queue full with \(pendingWrites) writes")
        pendingWrites += 1
    }

    /// Whether `pointer ..< pointer+count` lies in a slot of the last batch read (then it stays put until the
    /// next read, which waits for the write).
    private func lies(in pointer: UnsafeRawPointer, count: Int) -> Bool {
        guard let slots else { return false }
        var i = slotHint
        while i < slotCount {
            let buffer = slots + i
            let start = UnsafeRawPointer(buffer.pointee.base)
            if pointer >= start && pointer + count <= start + buffer.pointee.capacity {
                slotHint = i + 1
                return true
            }
            i += 1
        }
        return false
    }

    /// Submits the queued writes and waits for them (one io_uring_enter).
    func flush() {
        guard pendingWrites > 0 else { return }
        let expected = pendingWrites
        pendingWrites = 0
        if submitAndWait(expected) != nil {
            writeErrors &+= UInt64(expected)
            return
        }
        let reaped = reap(expected)
        for i in 0..<reaped where results[i] < 0 { writeErrors &+= 1 }
    }

    /// A write that bypasses the ring (a plain writev), for packets too large to stage.
    private func writeNow(_ packet: UnsafeRawBufferPointer, offload: OffloadInfo) {
        var header: (UInt64, UInt32) = (0, 0)
        let r = withUnsafeMutableBytes(of: &header) { h -> Int in
            VirtioNetHeader.encode(offload, into: h.baseAddress!)
            var iov = (iovec(iov_base: h.baseAddress!, iov_len: VirtioNetHeader.size),
                       iovec(iov_base: UnsafeMutableRawPointer(mutating: packet.baseAddress!), iov_len: packet.count))
            return withUnsafeMutablePointer(to: &iov) { p in
                p.withMemoryRebound(to: iovec.self, capacity: 2) { v in
                    vnetHeader ? writev(fd, v, 2) : writev(fd, v + 1, 1)
                }
            }
        }
        if r < 0 { writeErrors &+= 1 }
    }

    // MARK: Reads

    /// What one batch of reads found.
    struct ReadOutcome {
        var packets = 0
        var readErrors: UInt64 = 0
        var badOffloadHeaders: UInt64 = 0
        /// A failure that means the device is gone (EBADFD, ENODEV, EIO, EBADF), if any read saw one.
        var fatal: Int32?
    }

    /// Submits the queued writes and up to `readAhead` reads in one io_uring_enter and leaves the packets
    /// found in slots 0..<n of `batch`, in arrival order.
    func readBatch(into batch: inout PacketBatch) -> Result<ReadOutcome, DeviceError> {
        if pendingWrites + min(readAhead, batch.capacity) > Int(Self.entries) { flush() }
        let reads = min(readAhead, batch.capacity, Int(Self.entries) - pendingWrites)
        let writes = pendingWrites
        for i in 0..<reads {
            let area = TunQueue.receiveArea(of: batch.slots[i], offload: vnetHeader)
            let queued = CURing_prepRead(ring, fd, area.pointer, UInt32(clamping: area.count), UInt64(i),
                                         i == 0 && writes > 0 ? 1 : 0)
            precondition(queued == 0, "io_uring submission queue full")
            lengths[i] = -EAGAIN
        }
        pendingWrites = 0
        if let error = submitAndWait(writes + reads) {
            writeErrors &+= UInt64(writes)
            return .failure(error)
        }
        let reaped = reap(writes + reads)
        for i in 0..<reaped {
            if userData[i] & Self.writeTag != 0 {
                if results[i] < 0 { writeErrors &+= 1 }
            } else {
                lengths[Int(userData[i])] = results[i]
            }
        }
        var outcome = ReadOutcome()
        var n = 0
        for i in 0..<reads {
            let r = lengths[i]
            if r >= 0 {
                switch TunQueue.received(Int(r), into: &batch.slots[i], offload: vnetHeader) {
                case .packet:
                    if i != n { swapSlots(batch.slots, i, n) }
                    n += 1
                case .badOffloadHeader, .empty:
                    outcome.badOffloadHeaders &+= 1
                }
            } else if r == -EAGAIN || r == -EINTR || r == -ECANCELED {
                continue
            } else if r == -EBADFD || r == -ENODEV || r == -EIO || r == -EBADF {
                outcome.fatal = -r
            } else {
                outcome.readErrors &+= 1
            }
        }
        readAhead = n == reads ? min(batch.capacity, max(reads, 1) * 2) : max(Self.minimumReadAhead, n + 1)
        slots = batch.slots
        slotCount = n
        slotHint = 0
        batch.count = n
        outcome.packets = n
        return .success(outcome)
    }

    private func swapSlots(_ slots: UnsafeMutablePointer<PacketBuffer>, _ a: Int, _ b: Int) {
        let moved = (slots + a).move()
        (slots + a).moveInitialize(from: slots + b, count: 1)
        (slots + b).initialize(to: moved)
    }

    // MARK: The ring

    /// One io_uring_enter that submits everything queued and returns once `count` completions are ready.
    private func submitAndWait(_ count: Int) -> DeviceError? {
        var r = CURing_submitAndWait(ring, UInt32(count))
        enters &+= 1
        while r == -EINTR {
            r = CURing_submitAndWait(ring, UInt32(count))
            enters &+= 1
        }
        if r < 0 {
            return DeviceError(code: -r, message: "io_uring_enter(\(name)): \(String(cString: strerror(-r)))")
        }
        return nil
    }

    /// Takes `count` ready completions into `userData`/`results`.
    private func reap(_ count: Int) -> Int {
        Int(CURing_reap(ring, userData, results, UInt32(count)))
    }
}
