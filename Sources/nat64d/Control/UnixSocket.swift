// Unix stream sockets for the control interface: the checks before listening (stale socket files replaced, a
// live one refused), connecting, and bounded I/O for the client. Errors name the call and the path.
#if canImport(Glibc)
import Glibc
#endif

/// A failed socket call on the control path: the call, the path and errno's text.
struct SocketError: Error, CustomStringConvertible {
    var call: String
    var path: String
    var message: String

    init(_ call: String, _ path: String, errno code: Int32 = errno) {
        self.call = call
        self.path = path
        message = String(cString: strerror(code))
    }

    init(_ call: String, _ path: String, message: String) {
        self.call = call
        self.path = path
        self.message = message
    }

    var description: String { "\(path): \(call): \(message)" }
}

/// An open socket file descriptor, closed in `deinit`.
struct SocketFD: ~Copyable {
    let fd: Int32
    init(_ fd: Int32) { self.fd = fd }
    deinit { close(fd) }

    /// A Unix stream socket.
    static func unixStream(path: String) throws(SocketError) -> SocketFD {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SocketError("socket", path) }
        return SocketFD(fd)
    }

    /// Runs `body` with `path` as a `sockaddr_un`.
    static func withAddress<R>(_ path: String, _ body: (UnsafePointer<sockaddr>, socklen_t) -> R) throws(SocketError) -> R {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard bytes.count < capacity else {
            throw SocketError("bind", path, message: "path longer than \(capacity - 1) bytes")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in raw.copyBytes(from: bytes) }
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
    }

    /// Connects to the socket at `path`.
    static func connect(to path: String) throws(SocketError) -> SocketFD {
        let s = try unixStream(path: path)
        let r = try withAddress(path) { Glibc.connect(s.fd, $0, $1) }
        guard r == 0 else { throw SocketError("connect", path) }
        return s
    }

    /// Applies send and receive timeouts, so a stuck peer cannot hold the caller.
    func setTimeouts(seconds: Int) {
        var tv = timeval(tv_sec: seconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    /// Writes all of `text`; false when the peer went away or timed out.
    @discardableResult
    func writeAll(_ text: String) -> Bool {
        var bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeMutableBytes { send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return false }
            offset += n
        }
        return true
    }

    /// Reads until EOF, at most `limit` bytes.
    func readAll(limit: Int) -> String {
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while out.count < limit {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            out.append(contentsOf: chunk[0..<n])
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// The socket file's place: what the control server checks before it binds.
enum UnixSocketPath {
    /// Creates the parent directory (mode 0700) if missing, replaces a stale socket file and refuses to take
    /// over a live one or a file that is not a socket.
    ///
    /// - Throws: `SocketError` naming the call and path.
    static func prepare(_ path: String) throws(SocketError) {
        let parent = path.split(separator: "/").dropLast().joined(separator: "/")
        if !parent.isEmpty, mkdir("/" + parent, 0o700) != 0, errno != EEXIST {
            throw SocketError("mkdir", "/" + parent)
        }
        let capacity = MemoryLayout.size(ofValue: sockaddr_un().sun_path)
        guard path.utf8.count < capacity else {
            throw SocketError("bind", path, message: "path longer than \(capacity - 1) bytes")
        }
        var info = stat()
        if lstat(path, &info) == 0 {
            guard info.st_mode & S_IFMT == S_IFSOCK else {
                throw SocketError("bind", path, message: "exists and is not a socket; remove it or choose another [control] socket")
            }
            if (try? SocketFD.connect(to: path)) != nil {
                throw SocketError("bind", path, message: "another process (a running nat64d?) is listening on it")
            }
            unlink(path)  // a stale socket left by a process that died
        }
    }
}
