// sd_notify without libsystemd: under `Type=notify` systemd passes a datagram socket in $NOTIFY_SOCKET and
// reads `KEY=VALUE` lines from it (sd_notify(3)): READY=1 once the gateway runs, RELOADING=1 with
// MONOTONIC_USEC while a reload is applied (then READY=1 again), STATUS= a line for `systemctl status`,
// STOPPING=1 on the way down. A path starting with `@` names an abstract socket (leading NUL byte).
// Without $NOTIFY_SOCKET (not started by systemd) every call does nothing.
#if canImport(Glibc)
import Glibc
#endif

struct SystemdNotifier: Sendable {
    /// The socket address bytes for `sun_path`; nil when not running under systemd's notify protocol.
    let address: [UInt8]?

    init(socket value: String?) { address = value.flatMap(Self.address) }

    /// From `$NOTIFY_SOCKET`.
    static func fromEnvironment() -> SystemdNotifier {
        SystemdNotifier(socket: getenv("NOTIFY_SOCKET").map { String(cString: $0) })
    }

    /// The `sun_path` bytes for a `$NOTIFY_SOCKET` value: an absolute path, or `@name` for the abstract name
    /// `\0name`. Nil for anything else (empty, relative, too long for `sun_path`).
    static func address(_ value: String) -> [UInt8]? {
        var bytes = Array(value.utf8)
        guard let first = bytes.first, first == UInt8(ascii: "/") || first == UInt8(ascii: "@") else { return nil }
        if first == UInt8(ascii: "@") { bytes[0] = 0 }
        guard bytes.count < 108 else { return nil }
        return bytes
    }

    /// The datagram for `fields`: one `KEY=VALUE` line each; newlines inside a value become spaces.
    static func message(_ fields: [(key: String, value: String)]) -> String {
        fields.map { "\($0.key)=\($0.value.map { $0 == "\n" || $0 == "\r" ? " " : $0 }.reduce(into: "") { $0.append($1) })\n" }
            .joined()
    }

    /// READY=1 with a status line.
    static func ready(status: String) -> String { message([("READY", "1"), ("STATUS", status)]) }

    /// RELOADING=1 with the monotonic time in microseconds, as `Type=notify-reload` expects.
    static func reloading(monotonicMicroseconds: UInt64, status: String) -> String {
        message([("RELOADING", "1"), ("MONOTONIC_USEC", "\(monotonicMicroseconds)"), ("STATUS", status)])
    }

    /// CLOCK_MONOTONIC in microseconds.
    static func monotonicMicroseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000 + UInt64(ts.tv_nsec) / 1000
    }

    /// Sends `text` as one datagram; false when there is no socket or the send failed (systemd gone: ignored).
    @discardableResult
    func send(_ text: String) -> Bool {
        guard let address else { return false }
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var sa = sockaddr_un()
        sa.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &sa.sun_path) { $0.copyBytes(from: address) }
        // An abstract name is exactly its bytes long; a path ends at its NUL.
        let length = MemoryLayout<sa_family_t>.size + address.count + (address.first == 0 ? 0 : 1)
        var bytes = Array(text.utf8)
        let sent = withUnsafePointer(to: &sa) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sp in
                bytes.withUnsafeMutableBytes { sendto(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL), sp, socklen_t(length)) }
            }
        }
        return sent == bytes.count
    }
}
