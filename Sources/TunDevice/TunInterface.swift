// A Linux TUN device (drivers/net/tun.c; Documentation/networking/tuntap.rst).
// IFF_TUN | IFF_NO_PI gives raw IP packets with no extra header. The device exists while a queue fd is open
// (no IFF_PERSIST), so closing the last fd — including when the process dies — removes it.
import CTunLinux
import NAT64Translator
#if canImport(Glibc)
import Glibc
#endif

/// One queue (file descriptor) of a TUN device. Owns the fd; closing it is `deinit`.
public struct TunQueue: ~Copyable {
    /// The file descriptor.
    public let fd: Int32
    /// The interface name the kernel gave the device.
    public let name: String
    /// True when every packet carries a virtio-net header (IFF_VNET_HDR with TSO/checksum offload).
    public let offload: Bool
    /// True when the kernel also hands over and takes UDP GSO super-packets (TUN_F_USO4/USO6, Linux >= 6.2).
    public let udpOffload: Bool

    /// Opens `/dev/net/tun` and attaches to (or creates) the device `name`.
    /// - Parameters:
    ///   - name: interface name, at most 15 bytes.
    ///   - multiQueue: set IFF_MULTI_QUEUE so several queues can share the device.
    ///   - offload: set IFF_VNET_HDR and ask for checksum and TCP segmentation offload (TUN_F_CSUM,
    ///     TUN_F_TSO4, TUN_F_TSO6): packets then come and go with a `VirtioNetHeader`.
    public init(name: String, multiQueue: Bool = false, offload: Bool = false) throws(SystemError) {
        let fd = try syscall("open(/dev/net/tun)") { open("/dev/net/tun", O_RDWR | O_CLOEXEC) }
        var flags = CTunLinux_IFF_TUN() | CTunLinux_IFF_NO_PI()
        if multiQueue { flags |= CTunLinux_IFF_MULTI_QUEUE() }
        if offload { flags |= CTunLinux_IFF_VNET_HDR() }
        var ifr = ifreq()
        guard CTunLinux_fillIfreq(&ifr, name, flags) == 0 else {
            close(fd)
            throw SystemError(code: EINVAL, call: "TUNSETIFF", detail: "interface name \"\(name)\" is longer than 15 bytes")
        }
        do {
            _ = try syscall("ioctl(TUNSETIFF, \(name))") { ioctl(fd, CTunLinux_TUNSETIFF(), &ifr) }
        } catch {
            close(fd)
            throw error
        }
        var udpOffloadGranted = false
        if offload {
            do {
                var size = CInt(VirtioNetHeader.size)
                _ = try syscall("ioctl(TUNSETVNETHDRSZ)") { ioctl(fd, CTunLinux_TUNSETVNETHDRSZ(), &size) }
                let features = CTunLinux_TUN_F_CSUM() | CTunLinux_TUN_F_TSO4() | CTunLinux_TUN_F_TSO6()
                // UDP GSO where the kernel has it (6.2+); an older kernel answers EINVAL and TCP offload stays.
                let uso = features | CTunLinux_TUN_F_USO4() | CTunLinux_TUN_F_USO6()
                if ioctl(fd, CTunLinux_TUNSETOFFLOAD(), CInt(uso)) == 0 {
                    udpOffloadGranted = true
                } else {
                    _ = try syscall("ioctl(TUNSETOFFLOAD)") { ioctl(fd, CTunLinux_TUNSETOFFLOAD(), CInt(features)) }
                }
            } catch {
                close(fd)
                throw error
            }
        }
        self.offload = offload
        self.udpOffload = udpOffloadGranted
        var buffer = [CChar](repeating: 0, count: Int(IFNAMSIZ))
        CTunLinux_ifreqName(&ifr, &buffer)
        self.fd = fd
        self.name = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    deinit { close(fd) }

    /// Reads one packet into `buffer` (blocking). Returns its length.
    public func read(into buffer: UnsafeMutableRawPointer, capacity: Int) throws(SystemError) -> Int {
        try syscall("read(\(name))") { Glibc.read(fd, buffer, capacity) }
    }

    /// Writes one packet. A TUN takes each write as exactly one packet.
    public func write(_ packet: UnsafeRawPointer, count: Int) throws(SystemError) {
        _ = try syscall("write(\(name))") { Glibc.write(fd, packet, count) }
    }

    /// Waits until the queue is readable or `timeoutMilliseconds` pass. Returns true when readable.
    public func waitReadable(timeoutMilliseconds: Int32) throws(SystemError) -> Bool {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let n = try syscall("poll(\(name))") { poll(&p, 1, timeoutMilliseconds) }
        return n > 0
    }
}

extension TunQueue {
    /// Puts the fd in non-blocking mode (use with `waitReadable` and `readNonBlocking`).
    public func setNonBlocking() throws(SystemError) {
        let flags = try syscall("fcntl(F_GETFL)") { fcntl(fd, F_GETFL) }
        _ = try syscall("fcntl(F_SETFL)") { fcntl(fd, F_SETFL, flags | O_NONBLOCK) }
    }

    /// Reads one packet if one is queued; nil when none is (EAGAIN).
    public func readNonBlocking(into buffer: UnsafeMutableRawPointer, capacity: Int) throws(SystemError) -> Int? {
        while true {
            let r = Glibc.read(fd, buffer, capacity)
            if r >= 0 { return r }
            let e = errno
            if e == EINTR { continue }
            if e == EAGAIN || e == EWOULDBLOCK { return nil }
            throw SystemError(code: e, call: "read(\(name))")
        }
    }
}

/// What one `receive` produced.
public enum Reception: Equatable, Sendable {
    /// A packet is in the buffer.
    case packet
    /// Nothing was queued (EAGAIN).
    case empty
    /// A packet arrived with a virtio-net header that does not describe it; it was discarded.
    case badOffloadHeader
}

extension TunQueue {
    /// Reads one packet into `packet` (at its headroom), with its offload metadata when the queue has
    /// IFF_VNET_HDR. Non-blocking: `.empty` when nothing is queued.
    public func receive(into packet: inout PacketBuffer) throws(SystemError) -> Reception {
        let area = Self.receiveArea(of: packet, offload: offload)
        guard let n = try readNonBlocking(into: area.pointer, capacity: area.count) else { return .empty }
        return Self.received(n, into: &packet, offload: offload)
    }

    /// Where a read into `packet` goes: at its headroom mark, or with IFF_VNET_HDR the 12 bytes before it
    /// for the header and the IP packet right at it. (Reads issued elsewhere, e.g. through io_uring, use it.)
    public static func receiveArea(of packet: borrowing PacketBuffer, offload: Bool)
        -> (pointer: UnsafeMutableRawPointer, count: Int) {
        let area = packet.readArea
        guard offload else { return area }
        return (area.pointer - VirtioNetHeader.size, area.count + VirtioNetHeader.size)
    }

    /// Finishes a read of `length` bytes into `receiveArea(of: packet)`: sets the packet's length and, with
    /// IFF_VNET_HDR, its offload metadata from the header (checked, not trusted).
    public static func received(_ length: Int, into packet: inout PacketBuffer, offload: Bool) -> Reception {
        guard offload else {
            packet.received(length: length)
            return .packet
        }
        guard length >= VirtioNetHeader.size else { return .badOffloadHeader }
        let area = packet.readArea
        switch VirtioNetHeader.decode(UnsafeRawPointer(area.pointer - VirtioNetHeader.size),
                                      packetLength: length - VirtioNetHeader.size) {
        case .success(let info):
            packet.received(length: length - VirtioNetHeader.size, offload: info)
            return .packet
        case .failure:
            return .badOffloadHeader
        }
    }

    /// Writes one packet with its offload metadata (a virtio-net header first when the queue has
    /// IFF_VNET_HDR; the kernel then segments GSO packets and finishes partial checksums).
    public func send(_ pointer: UnsafeRawPointer, count: Int, offload info: OffloadInfo) throws(SystemError) {
        if !offload {
            try write(pointer, count: count)
            return
        }
        var header: (UInt64, UInt32) = (0, 0)
        try withUnsafeMutableBytes(of: &header) { (h) throws(SystemError) in
            VirtioNetHeader.encode(info, into: h.baseAddress!)
            var iov = (iovec(iov_base: h.baseAddress!, iov_len: VirtioNetHeader.size),
                       iovec(iov_base: UnsafeMutableRawPointer(mutating: pointer), iov_len: count))
            _ = try withUnsafeMutablePointer(to: &iov) { (p) throws(SystemError) in
                try p.withMemoryRebound(to: iovec.self, capacity: 2) { (v) throws(SystemError) in
                    try syscall("writev(\(name))") { writev(fd, v, 2) }
                }
            }
        }
    }
}
