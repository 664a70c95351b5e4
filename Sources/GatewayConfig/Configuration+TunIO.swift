// `tun.io`: how the packet threads read and write the TUN queues (docs/performance.md has the measurement).

/// How the TUN queues are read and written.
public enum TunIOMode: String, Sendable, Equatable, CaseIterable {
    /// One read(2) and one writev(2) per packet.
    case syscalls
    /// A batch of writes and the next batch of reads in one io_uring_enter. Where the kernel refuses io_uring
    /// (too old, `kernel.io_uring_disabled`, a seccomp filter) the daemon logs it once and uses system calls.
    case uring
}

extension ConfigReader {
    /// `tun.io`: "uring" or "syscalls".
    mutating func readTunIO(_ s: Section) -> TunIOMode? {
        let fallback = GatewayConfiguration.Tun.defaultIO
        guard let text = string(s, "io", example: "\"\(fallback.rawValue)\"") else { return s["io"] == nil ? fallback : nil }
        return convert(text, label: s.path("io")) { (v: String) -> Result<TunIOMode, Problem> in
            TunIOMode(rawValue: v).map { .success($0) }
                ?? .failure(Problem("is not one of " + TunIOMode.allCases.map(\.rawValue).joined(separator: ", ")))
        }
    }
}
