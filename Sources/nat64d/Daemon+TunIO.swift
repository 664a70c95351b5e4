// `tun.io` and `tun.steering`: the packet threads' I/O mode and the queue steering, each with its quiet fallback.
import Forwarding
import GatewayConfig
import Logging
import TunDevice

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

    /// `tun.steering`: attaches the steering program when asked to; where the kernel refuses it, logs why once
    /// and leaves the choice to the kernel's flow table.
    /// - Returns: the steering in force.
    static func tunSteering(_ configured: TunSteering, queue: borrowing TunQueue, logger: Logger) -> TunSteering {
        guard configured == .hash else { return .kernel }
        do {
            try queue.attachSteering()
            return .hash
        } catch {
            logger.warning("TUN steering program refused: the kernel's flow table picks the queues",
                           metadata: ["error": "\(error)", "config": "tun.steering = \"hash\"",
                                      "fix": "grant CAP_BPF, or set tun.steering = \"kernel\""])
            return .kernel
        }
    }
}
