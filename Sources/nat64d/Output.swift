#if canImport(Glibc)
import Glibc
#endif

/// Writes a line to standard error (fd 2, unbuffered).
func printError(_ message: String) {
    var line = message
    line.append("\n")
    var utf8 = Array(line.utf8)  // mutable for withUnsafeMutableBytes
    var offset = 0
    while offset < utf8.count {
        let n = utf8.withUnsafeMutableBytes { write(2, $0.baseAddress! + offset, $0.count - offset) }
        if n <= 0 { break }
        offset += n
    }
}

/// True when `path` names an existing file (or directory).
func fileExists(_ path: String) -> Bool {
    var info = stat()
    return stat(path, &info) == 0
}

/// `seconds` since the epoch as UTC, `2026-12-01T05:19:36Z`.
func utcText(_ seconds: Int64) -> String {
    var t = time_t(seconds)
    var parts = tm()
    guard gmtime_r(&t, &parts) != nil else { return "\(seconds)" }
    func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
    return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):"
        + "\(two(parts.tm_min)):\(two(parts.tm_sec))Z"
}
