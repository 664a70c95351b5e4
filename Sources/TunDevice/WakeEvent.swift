// An eventfd that wakes a thread blocked in poll(2): the control side signals it, the packet thread polls it
// beside its TUN queue, so a request is answered at once instead of after the poll timeout.
import CTunLinux
#if canImport(Glibc)
import Glibc
#endif

/// Owns one non-blocking eventfd.
public final class WakeEvent: Sendable {
    /// The descriptor to poll for POLLIN.
    public let fd: Int32

    public init() throws(SystemError) {
        fd = try syscall("eventfd") { CTunLinux_eventfd() }
    }

    deinit { close(fd) }

    /// Makes the descriptor readable (any thread).
    public func signal() {
        var one: UInt64 = 1
        _ = Glibc.write(fd, &one, 8)
    }

    /// Resets it after poll reported it (the waiting thread).
    public func reset() {
        var value: UInt64 = 0
        _ = Glibc.read(fd, &value, 8)
    }
}
