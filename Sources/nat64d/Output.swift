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
