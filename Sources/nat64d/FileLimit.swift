// The daemon's open-file limit. Debian and systemd start services with a soft limit of 1024 descriptors and a
// much higher hard limit; the DNS64's TCP connections alone may use 1024 by default. At start nat64d raises
// its soft limit to the hard one (as nginx's worker_rlimit_nofile or systemd's LimitNOFILE= would), and logs
// the limit it runs with. If descriptors still run out, each listener pauses accepting and says so once a
// minute (Sources/Listening); UDP, the packet threads and established connections keep working.
import Logging
#if canImport(Glibc)
import Glibc
#endif

enum FileLimit {
    /// Raises the soft RLIMIT_NOFILE to the hard limit.
    /// - Returns: the soft limit in force afterwards (nil when it could not be read).
    @discardableResult
    static func raise(logger: Logger) -> UInt64? {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return nil }
        let before = UInt64(limit.rlim_cur)
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
        }
        let now = UInt64(limit.rlim_cur)
        logger.info("open file limit", metadata: ["soft": "\(now)", "was": "\(before)", "hard": "\(UInt64(limit.rlim_max))"])
        return now
    }
}
