// TUN read and write errors that repeat (ENOBUFS under load, EIO from a device going down...) are counted on
// the packet threads, which never log (no I/O there). This watch, on the daemon's side, reads the counters
// every few seconds and logs an increase at most once per minute, with how many errors came since the last
// line, so a persistent error is seen once a minute instead of never or a million times a second.
import Forwarding
import Logging

/// Decides when TUN error counts are worth a log line (time injected).
struct IOErrorWatch {
    /// The least time between two lines.
    var interval: UInt64 = 60_000_000_000
    private var loggedRead: UInt64 = 0
    private var loggedWrite: UInt64 = 0
    private var lastLogged: UInt64?

    /// The line to log now, if any: the errors counted since the last line, when there are some and the
    /// interval has passed since it.
    mutating func check(readErrors: UInt64, writeErrors: UInt64, now: UInt64) -> (read: UInt64, write: UInt64)? {
        let read = readErrors &- loggedRead
        let write = writeErrors &- loggedWrite
        guard read > 0 || write > 0 else { return nil }
        if let lastLogged, now &- lastLogged < interval { return nil }
        lastLogged = now
        loggedRead = readErrors
        loggedWrite = writeErrors
        return (read, write)
    }

    /// Checks every `period` until cancelled.
    ///
    /// - Parameter errors: the packet threads' read and write error totals (`ForwardingGroup.stats`).
    static func run(
        errors: @Sendable () -> (read: UInt64, write: UInt64), logger: Logger, period: Duration = .seconds(5)
    ) async {
        var watch = IOErrorWatch()
        while !Task.isCancelled {
            try? await Task.sleep(for: period)
            let e = errors()
            if let new = watch.check(readErrors: e.read, writeErrors: e.write, now: UInt64(monotonicNanoseconds())) {
                logger.error("TUN I/O errors", metadata: [
                    "read-errors": "\(new.read)", "write-errors": "\(new.write)",
                    "note": "counted in ctl stats as tun-read-errors and tun-write-errors; logged at most once a minute"])
            }
        }
    }
}
