// `tun.io`: the packet threads' I/O mode, with the quiet fallback to system calls where io_uring is refused.
import Forwarding
import GatewayConfig
import Logging

extension GatewayService {
    /// The I/O mode the TUN devices get: `uring` only where a ring can be set up; otherwise one warning and
    /// system calls (a kernel without io_uring, `kernel.io_uring_disabled`, a seccomp filter).
    static func tunIO(_ configured: TunIOMode, logger: Logger) -> TunIO {
        guard configured == .uring else { return .syscalls }
        if let reason = TunIO.uringUnavailableReason() {
            logger.warning("io_uring unavailable: using read and write system calls on the TUN",
                           metadata: ["reason": "\(reason)", "config": "tun.io = \"uring\""])
            return .syscalls
        }
        return .uring
    }
}
