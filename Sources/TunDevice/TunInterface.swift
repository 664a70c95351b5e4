// A Linux TUN device (drivers/net/tun.c; Documentation/networking/tuntap.rst).
// IFF_TUN | IFF_NO_PI gives raw IP packets with no extra header. The device exists while a queue fd is open
// (no IFF_PERSIST), so closing the last fd — including when the process dies — removes it.
import CTunLinux
#if canImport(Glibc)
import Glibc
#endif

/// One queue (file descriptor) of a TUN device. Owns the fd; closing it is `deinit`.
public struct TunQueue: ~Copyable {
    /// The file descriptor.
    public let fd: Int32
    /// The interface name the kernel gave the device.
    public let name: String

    /// Opens `/dev/net/tun` and attaches to (or creates) the device `name`.
    /// - Parameters:
    ///   - name: interface name, at most 15 bytes.
    ///   - multiQueue: set IFF_MULTI_QUEUE so several queues can share the device.
    public init(name: String, multiQueue: Bool = false) throws(SystemError) {
        let fd = try syscall("open(/dev/net/tun)") { open("/dev/net/tun", O_RDWR | O_CLOEXEC) }
        var flags = CTunLinux_IFF_TUN() | CTunLinux_IFF_NO_PI()
        if multiQueue { flags |= CTunLinux_IFF_MULTI_QUEUE() }
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
