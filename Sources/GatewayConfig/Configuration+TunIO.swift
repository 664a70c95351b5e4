// `tun.io` and `tun.steering`: how the packet threads read and write the TUN queues, and how the kernel picks
// the queue of each packet (docs/performance.md has the measurements).

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

/// How the kernel picks the queue of a packet it hands to a multi-queue TUN.
public enum TunSteering: String, Sendable, Equatable, CaseIterable {
    /// nat64d's eBPF steering program (TUNSETSTEERINGEBPF): a hash of the addresses and, unless the packet is
    /// a fragment, its ports. The kernel then no longer hashes every packet it reads and writes for its flow
    /// table. Where the kernel refuses the program (no CAP_BPF), the daemon logs it once and uses `kernel`.
    case hash
    /// The kernel's own choice: its per-device flow table, learnt from the queue each flow was last written on.
    case kernel
}

extension ConfigReader {
    /// `tun.steering`: "hash" or "kernel".
    mutating func readTunSteering(_ s: Section) -> TunSteering? {
        let fallback = GatewayConfiguration.Tun.defaultSteering
        guard let text = string(s, "steering", example: "\"\(fallback.rawValue)\"") else {
            return s["steering"] == nil ? fallback : nil
        }
        return convert(text, label: s.path("steering")) { (v: String) -> Result<TunSteering, Problem> in
            TunSteering(rawValue: v).map { .success($0) }
                ?? .failure(Problem("is not one of " + TunSteering.allCases.map(\.rawValue).joined(separator: ", ")))
        }
    }
}
