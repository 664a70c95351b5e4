// Reading the configuration file with plain POSIX calls (no Foundation in this target).

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads a whole configuration file into memory.
enum ConfigFile {
    /// Largest file accepted. A real configuration is a few KiB; this stops `/dev/zero` and similar mistakes.
    static let maxSize = 1 << 20

    /// Reads the file at `path`.
    ///
    /// - Parameter path: the file to read.
    /// - Returns: its bytes (not yet checked for UTF-8; the parser does that).
    /// - Throws: `ConfigError` with line 0, the errno text and the call that failed.
    static func readAll(path: String) throws(ConfigError) -> [UInt8] {
        func failure(_ what: String) -> ConfigError {
            ConfigError(file: path, line: 0, code: .unreadableFile, message: what)
        }
        func errnoFailure(_ call: String) -> ConfigError {
            let code = errno
            return failure("cannot read the configuration file: \(String(cString: strerror(code))) "
                + "(errno \(code) from \(call)); check the path and its permissions")
        }
        var fd: Int32
        repeat { fd = open(path, O_RDONLY | O_CLOEXEC) } while fd < 0 && errno == EINTR
        guard fd >= 0 else { throw errnoFailure("open") }
        defer { close(fd) }
        var contents: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw errnoFailure("read")
            }
            if n == 0 { return contents }
            contents.append(contentsOf: chunk[0..<n])
            if contents.count > maxSize {
                throw failure("the configuration file is larger than \(maxSize / 1024) KiB, so it is not a nat64d "
                    + "configuration; check the path")
            }
        }
    }
}
