// Packet timestamps as pcap stores them (seconds and microseconds since the Unix epoch).
#if canImport(Glibc)
import Glibc
#endif

/// A pcap record timestamp: wall-clock seconds and microseconds since 1970-01-01 UTC.
public struct PcapTimestamp: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// Whole seconds since the epoch.
    public var seconds: Int64
    /// Microseconds within the second, 0...999_999.
    public var microseconds: Int64

    /// Creates a timestamp; `microseconds` beyond a second carry into `seconds`.
    ///
    /// - Parameters:
    ///   - seconds: seconds since the epoch.
    ///   - microseconds: microseconds (normalised into 0...999_999).
    public init(seconds: Int64, microseconds: Int64 = 0) {
        self.seconds = seconds + microseconds / 1_000_000
        self.microseconds = microseconds % 1_000_000
        if self.microseconds < 0 {
            self.microseconds += 1_000_000
            self.seconds -= 1
        }
    }

    /// The timestamp `nanoseconds` after the epoch (sub-microsecond parts are dropped, as pcap stores them).
    public init(nanoseconds: Int64) {
        self.init(seconds: nanoseconds / 1_000_000_000, microseconds: (nanoseconds % 1_000_000_000) / 1000)
    }

    /// The time in nanoseconds since the epoch, saturating instead of overflowing for absurd file values.
    public var nanoseconds: Int64 {
        let (s, o1) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        let (t, o2) = s.addingReportingOverflow(microseconds * 1000)
        if o1 || o2 { return seconds < 0 ? .min : .max }
        return t
    }

    /// The current wall-clock time (CLOCK_REALTIME): what live capture stamps packets with.
    public static func now() -> PcapTimestamp {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return PcapTimestamp(seconds: Int64(ts.tv_sec), microseconds: Int64(ts.tv_nsec) / 1000)
    }

    public static func < (lhs: PcapTimestamp, rhs: PcapTimestamp) -> Bool {
        (lhs.seconds, lhs.microseconds) < (rhs.seconds, rhs.microseconds)
    }

    /// `SECONDS.MICROSECONDS`, as tcpdump prints with `-tt`.
    public var description: String {
        let us = String(microseconds)
        return "\(seconds)." + String(repeating: "0", count: 6 - us.count) + us
    }
}

/// `strerror(errno)` as a Swift string.
func errnoText(_ code: Int32 = errno) -> String { String(cString: strerror(code)) }
