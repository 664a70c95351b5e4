// Upstream UDP queries on plain sockets (rule N3 of docs/dns64.md; RFC 5452 §9.2). Every query still gets its
// own socket, so its own kernel-chosen random source port, but without a SwiftNIO channel around it: measured
// here, opening and closing a NIO datagram channel costs about 200 µs of CPU, a raw socket() + connect() +
// close() under 10 µs, and a cold DNS64 answer needs two upstream queries. One thread polls all outstanding
// upstream sockets and completes each query's promise (NIO promises may be completed from any thread; the
// callbacks run on the promise's event loop). poll(2), because Glibc's Swift module has no epoll; the set is
// rebuilt per wake-up, which costs little next to the socket calls for the few hundred queries in flight.
// While queries are outstanding the thread wakes at least every millisecond to pick up new sockets; when it is
// idle it sleeps until a new query writes to its wake-up socket.
//
// The socket is connected to the upstream, so the kernel delivers only datagrams from that address and port
// (the address part of the N3 check), and an ICMP port unreachable fails the query at once (fast failover).
// The ID and question are checked by `UpstreamMatcher` as before; anything else is read and dropped.
import NIOCore
import NIOPosix
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Why a raw upstream socket could not be used.
struct UpstreamSocketError: Error, CustomStringConvertible {
    /// The system call that failed.
    var call: String
    /// errno.
    var errno: Int32

    var description: String { "\(call): \(String(cString: strerror(errno)))" }
}

/// Waits for the answers of outstanding upstream UDP queries, one socket each.
///
/// Threads: event loops call `send` and `cancel`, which only append to short lists under a lock; the polling
/// thread owns the table of outstanding queries and is the only one that reads or closes their sockets, so
/// no descriptor can be closed (and its number reused) while it is being read, and no lock is held during
/// system calls.
final class UDPUpstreamReactor: Sendable {
    private struct Pending: Sendable {
        var fd: Int32
        var matcher: UpstreamMatcher
        var promise: EventLoopPromise<UpstreamAnswer>
    }

    private struct Shared: Sendable {
        /// Queries sent since the polling thread last looked.
        var added: [(token: UInt64, query: Pending)] = []
        /// Queries given up since then (their promises are already failed).
        var cancelled: [UInt64] = []
        var next: UInt64 = 1
        var stopped = false
        /// The polling thread is (about to be) blocked without a timeout: a new query must wake it.
        var sleeping = false
    }

    /// The wake-up socket pair: [0] is polled by the thread, [1] is written to wake it.
    private let wake: [Int32]
    private let shared = Mutex(Shared())
    private let pool = NIOThreadPool(numberOfThreads: 1)

    /// Creates the wake-up socket pair and starts the polling thread.
    init() {
        var pair: [Int32] = [-1, -1]
        let type = Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        if socketpair(AF_UNIX, type, 0, &pair) != 0 { pair = [-1, -1] }
        wake = pair
        pool.start()
        pool.submit { [self] state in
            if case .active = state { run() }
        }
    }

    /// Stops the polling thread, which fails the outstanding queries and closes their sockets. Later calls do
    /// nothing.
    func shutdown() async {
        let first = shared.withLock { state in
            defer { state.stopped = true }
            return !state.stopped
        }
        guard first else { return }
        wakeUp()
        try? await pool.shutdownGracefully()
        for fd in wake where fd >= 0 { close(fd) }
    }

    private func wakeUp() {
        var one: UInt8 = 1
        _ = Glibc.send(wake[1], &one, 1, 0)
    }

    /// Sends `message` to `upstream` from a fresh connected socket; the polling thread completes `promise`
    /// with the first answer `matcher` accepts, or fails it (receive error such as ICMP port unreachable).
    /// - Returns: a token for `cancel`, or nil when the query failed at once (the promise is failed then).
    func send(_ message: [UInt8], to upstream: SocketAddress, matcher: UpstreamMatcher,
              promise: EventLoopPromise<UpstreamAnswer>) -> UInt64? {
        let family = upstream.protocol == .inet6 ? AF_INET6 : AF_INET
        let fd = socket(family, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else {
            promise.fail(UpstreamSocketError(call: "socket", errno: errno))
            return nil
        }
        // connect() on an unbound UDP socket binds it to a random ephemeral port (RFC 5452 §9.2).
        let connected = upstream.withSockAddr { address, length in connect(fd, address, socklen_t(length)) }
        guard connected == 0, message.withUnsafeBytes({ Glibc.send(fd, $0.baseAddress, $0.count, 0) }) == message.count
        else {
            let error = UpstreamSocketError(call: connected == 0 ? "send" : "connect", errno: errno)
            close(fd)
            promise.fail(error)
            return nil
        }
        let registered: (token: UInt64, wakeUp: Bool)? = shared.withLock { state in
            guard !state.stopped else { return nil }
            let token = state.next
            state.next += 1
            state.added.append((token, Pending(fd: fd, matcher: matcher, promise: promise)))
            defer { state.sleeping = false }
            return (token, state.sleeping)
        }
        guard let registered else {
            close(fd)
            promise.fail(ChannelError.ioOnClosedChannel)
            return nil
        }
        if registered.wakeUp { wakeUp() }
        return registered.token
    }

    /// Gives up on a query (its timeout): fails the promise now; the polling thread closes the socket.
    func cancel(_ token: UInt64, promise: EventLoopPromise<UpstreamAnswer>, error: any Error) {
        shared.withLock { $0.cancelled.append(token) }
        promise.fail(error)
    }

    /// The polling thread: take new and cancelled queries, poll, read every ready socket, complete what
    /// matches; at the end fail whatever is left.
    private func run() {
        guard wake[0] >= 0 else { return }
        var table: [UInt64: Pending] = [:]
        var buffer = [UInt8](repeating: 0, count: 65_535)
        var tokens: [UInt64] = []
        var fds: [pollfd] = []
        var added: [(token: UInt64, query: Pending)] = []
        var cancelled: [UInt64] = []
        while true {
            let stopped = shared.withLock { state -> Bool in
                swap(&added, &state.added)
                swap(&cancelled, &state.cancelled)
                state.sleeping = table.isEmpty && added.isEmpty
                return state.stopped
            }
            for (token, query) in added { table[token] = query }
            added.removeAll(keepingCapacity: true)
            for token in cancelled {
                if let query = table.removeValue(forKey: token) { close(query.fd) }
            }
            cancelled.removeAll(keepingCapacity: true)
            if stopped {
                for query in table.values {
                    close(query.fd)
                    query.promise.fail(ChannelError.ioOnClosedChannel)
                }
                return
            }
            tokens.removeAll(keepingCapacity: true)
            fds.removeAll(keepingCapacity: true)
            fds.append(pollfd(fd: wake[0], events: Int16(POLLIN), revents: 0))
            for (token, query) in table {
                tokens.append(token)
                fds.append(pollfd(fd: query.fd, events: Int16(POLLIN), revents: 0))
            }
            let timeout: Int32 = table.isEmpty ? 1000 : 1
            let ready = fds.withUnsafeMutableBufferPointer { poll($0.baseAddress, nfds_t($0.count), timeout) }
            guard ready > 0 else { continue }
            if fds[0].revents != 0 {
                var drain = [UInt8](repeating: 0, count: 64)
                while drain.withUnsafeMutableBytes({ recv(wake[0], $0.baseAddress, $0.count, 0) }) > 0 {}
            }
            for i in 1..<fds.count where fds[i].revents != 0 {
                let token = tokens[i - 1]
                guard let query = table[token], let result = readAll(query, into: &buffer) else { continue }
                table[token] = nil
                close(query.fd)
                query.promise.completeWith(result)
            }
        }
    }

    /// Reads every datagram waiting on the query's socket: the first one the matcher accepts, or a receive
    /// error; nil when nothing matching is there yet.
    private func readAll(_ query: Pending, into buffer: inout [UInt8]) -> Result<UpstreamAnswer, any Error>? {
        while true {
            let received = buffer.withUnsafeMutableBytes { recv(query.fd, $0.baseAddress, $0.count, 0) }
            if received < 0 {
                let code = errno
                if code == EAGAIN || code == EWOULDBLOCK || code == EINTR { return nil }
                return .failure(UpstreamSocketError(call: "recv", errno: code))  // e.g. ECONNREFUSED
            }
            let bytes = Array(buffer[0..<received])
            // The kernel already dropped datagrams from other sources (connected socket).
            if let message = query.matcher.match(bytes, from: query.matcher.upstream) {
                return .success(UpstreamAnswer(message: message, raw: bytes))
            }
        }
    }
}
