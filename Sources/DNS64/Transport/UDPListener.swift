// The listening side over UDP (rule N1 of docs/dns64.md): each listening socket (`udp-sockets` per address,
// spread by the kernel with SO_REUSEPORT) is read by a thread of its own, which answers cached plain queries
// on the spot and hands everything else to `DNS64Server.handle`, whose upstream work runs on NIO's event loops.
//
// Why not NIO's DatagramChannel, as the first version did: per datagram NIO builds a `SocketAddress` (an
// allocation and an inet_ntop of the source), an envelope and a ByteBuffer, and sends each through the channel
// pipeline. For a cached answer that was about half the server's user CPU per query, and the answers of one
// wake-up (up to 256 datagrams) went out only when the last was read. Here a receive batch is answered and sent
// as one sendmmsg before the next receive: no allocation for a cache hit beyond the reply itself, and no
// answer waits for more than one batch. Upstream sockets and DNS over TCP stay on NIO.
import CDNSSocket
import Logging
import NIOCore
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A bind or socket failure of a UDP listener, worded like NIO's `IOError` ("call(): reason (errno: N)").
struct UDPListenerError: Error, CustomStringConvertible {
    var call: String
    var code: Int32

    var description: String { "\(call)(): \(String(cString: strerror(code))) (errno: \(code))" }
}

/// One UDP listening socket and the thread that serves it. Start once, stop once.
///
/// The descriptor number stays open as long as anything may send on it (the thread, and replies of queries
/// still being resolved), so it can never be reused by another socket under them. `stop` frees the port at
/// once by pointing that number at /dev/null (later sends fail, counted); the number closes on deinit.
final class UDPListener: Sendable {
    /// Datagrams per receive and per send batch.
    static let batch = 32

    let descriptor: Int32
    /// Where the socket is bound (the port the kernel picked when asked for port 0).
    let localAddress: SocketAddress
    private let stopping = Atomic<Bool>(false)
    /// Whether the thread runs, and who waits for it to end. The thread is detached: `stop` waits by
    /// suspending, never by blocking one of Swift's few cooperative threads in pthread_join.
    private let state = Mutex<RunState>(.notStarted)
    private let retired = Atomic<Bool>(false)

    private enum RunState {
        case notStarted
        /// Between `start` and the thread's first step: what the thread serves with.
        case starting(DNS64Server, any EventLoopGroup)
        case running(waiter: CheckedContinuation<Void, Never>?)
        case ended
    }

    /// Binds a blocking UDP socket to `address`.
    /// - Throws: `UDPListenerError` naming the call that failed.
    init(binding address: SocketAddress, reusePort: Bool) throws(UDPListenerError) {
        var failed: UnsafePointer<CChar>?
        let fd: Int32
        switch address {
        case .v4(let a):
            var sa = a.address
            fd = withUnsafePointer(to: &sa) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    CDNS_udp_socket($0, UInt32(MemoryLayout<sockaddr_in>.size), reusePort ? 1 : 0, &failed)
                }
            }
        case .v6(let a):
            var sa = a.address
            fd = withUnsafePointer(to: &sa) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    CDNS_udp_socket($0, UInt32(MemoryLayout<sockaddr_in6>.size), reusePort ? 1 : 0, &failed)
                }
            }
        case .unixDomainSocket:
            throw UDPListenerError(call: "socket", code: EAFNOSUPPORT)
        }
        guard fd >= 0 else { throw UDPListenerError(call: failed.map { String(cString: $0) } ?? "socket", code: -fd) }
        descriptor = fd
        var bound = sockaddr_storage()
        var length = UInt32(MemoryLayout<sockaddr_storage>.size)
        let r = CDNS_local_address(fd, &bound, &length)
        localAddress = r == 0 ? (withUnsafePointer(to: &bound) { SocketAddress(peer: $0) } ?? address) : address
    }

    deinit { close(descriptor) }

    /// Starts the thread answering on this socket.
    /// - Parameters:
    ///   - server: the server whose cache and resolution answer the queries.
    ///   - loops: event loops for queries that go upstream.
    /// - Throws: `UDPListenerError` when no thread could be created.
    func start(server: DNS64Server, loops: any EventLoopGroup) throws(UDPListenerError) {
        state.withLock { $0 = .starting(server, loops) }
        var tid = pthread_t()
        let r = pthread_create(&tid, nil, { arg in
            Unmanaged<UDPListener>.fromOpaque(arg!).takeRetainedValue().threadMain()
            return nil
        }, Unmanaged.passRetained(self).toOpaque())
        guard r == 0 else {
            Unmanaged.passUnretained(self).release()
            state.withLock { $0 = .ended }
            throw UDPListenerError(call: "pthread_create", code: r)
        }
        pthread_detach(tid)
    }

    /// The thread's body: takes what `start` left for it, serves until stopped, wakes whoever waits in `stop`.
    private func threadMain() {
        // A name for top -H, ps -L and perf (else the creator's, a Swift concurrency pool thread's).
        let comm = open("/proc/thread-self/comm", O_WRONLY | O_CLOEXEC)
        if comm >= 0 {
            _ = write(comm, "dns64-udp", 9)
            close(comm)
        }
        let work = state.withLock { state -> (DNS64Server, any EventLoopGroup)? in
            guard case .starting(let server, let loops) = state else { return nil }
            state = .running(waiter: nil)
            return (server, loops)
        }
        if let (server, loops) = work { run(server: server, loops: loops) }
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            defer { state = .ended }
            if case .running(let waiter) = state { return waiter }
            return nil
        }
        waiter?.resume()
    }

    /// Stops reading, waits for the thread to end and frees the port. Replies to queries still being
    /// resolved are dropped (counted as send errors).
    func stop() async {
        stopping.store(true, ordering: .releasing)
        _ = CDNS_shutdown_receive(descriptor)
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let endedAlready = state.withLock { state -> Bool in
                switch state {
                case .starting, .running:
                    // A thread not yet under way finds no work left for it and ends at once.
                    state = .running(waiter: continuation)
                    return false
                case .notStarted, .ended:
                    return true
                }
            }
            if endedAlready { continuation.resume() }
        }
        retire()
    }

    /// Points the descriptor number at /dev/null: the socket (and its port) goes now, the number stays taken.
    private func retire() {
        guard !retired.exchange(true, ordering: .acquiringAndReleasing) else { return }
        let null = open("/dev/null", O_RDONLY | O_CLOEXEC)
        if null >= 0 {
            dup2(null, descriptor)
            close(null)
        }
    }

    /// Sends one reply that was resolved later, from whichever thread finished it. Never blocks: a full socket
    /// buffer drops the reply (counted), as UDP may.
    func send(_ reply: [UInt8], to peer: sockaddr_storage, length: UInt32, counters: CounterStore) {
        var peer = peer
        let sent = reply.withUnsafeBytes { bytes in
            withUnsafePointer(to: &peer) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(descriptor, bytes.baseAddress, bytes.count, Int32(MSG_DONTWAIT), $0, length)
                }
            }
        }
        if sent < 0 { counters.udpSendErrors.add(1, ordering: .relaxed) }
    }

    /// The thread: receive a batch, answer what the cache can, send those answers as one batch, again.
    private func run(server: DNS64Server, loops: any EventLoopGroup) {
        let batch = Self.batch
        let slot = UDPReceive.slot
        let inputs = UnsafeMutableRawPointer.allocate(byteCount: batch * slot, alignment: 16)
        let outputs = UnsafeMutableRawPointer.allocate(byteCount: batch * slot, alignment: 16)
        let received = UnsafeMutablePointer<CDNS_datagram>.allocate(capacity: batch)
        let replies = UnsafeMutablePointer<CDNS_datagram>.allocate(capacity: batch)
        received.initialize(repeating: CDNS_datagram(), count: batch)
        replies.initialize(repeating: CDNS_datagram(), count: batch)
        defer {
            inputs.deallocate()
            outputs.deallocate()
            received.deallocate()
            replies.deallocate()
        }
        for i in 0..<batch {
            received[i].base = inputs + i * slot
            received[i].capacity = UInt32(slot)
            replies[i].base = outputs + i * slot
        }
        let peerOffset = MemoryLayout<CDNS_datagram>.offset(of: \CDNS_datagram.peer)!
        var keyBuffer: [UInt8] = []
        var backoff = IOBackoffDelay()
        let counters = server.store

        while !stopping.load(ordering: .acquiring) {
            let n = CDNS_receive(descriptor, received, UInt32(batch))
            if stopping.load(ordering: .acquiring) { break }
            guard n >= 0 else {
                if -n == EBADF || -n == ENOTSOCK { break }
                counters.udpReceiveErrors.add(1, ordering: .relaxed)
                if backoff.shouldLog() {
                    server.logger.warning(
                        "DNS64 UDP receive failing; backing off",
                        metadata: ["address": "\(localAddress)", "error": "\(UDPListenerError(call: "recvmmsg", code: -n))"])
                }
                backoff.wait()
                continue
            }
            backoff.reset()
            var count = 0
            for i in 0..<Int(n) {
                let length = Int(received[i].length)
                guard length > 0 else { continue }
                let peer = (UnsafeRawPointer(received + i) + peerOffset).assumingMemoryBound(to: sockaddr_storage.self)
                guard let ip = ClientIP(peer) else { continue }
                let bytes = UnsafeRawBufferPointer(start: received[i].base, count: length)
                var reply = server.cachedReply(bytes, from: ip, overTCP: false, keyBuffer: &keyBuffer)
                if reply == nil {
                    // A miss, or not a plain query: through intake. Its later answer comes back via `send`.
                    guard let client = SocketAddress(peer: peer) else { continue }
                    let storage = peer.pointee
                    let peerLength = received[i].peer_length
                    reply = server.handle(Array(bytes), from: client, overTCP: false, on: loops.next()) { answer in
                        self.send(answer, to: storage, length: peerLength, counters: counters)
                    }
                }
                guard let reply else { continue }
                guard reply.count <= slot else {
                    send(reply, to: peer.pointee, length: received[i].peer_length, counters: counters)
                    continue
                }
                reply.withUnsafeBytes { replies[count].base.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
                replies[count].length = UInt32(reply.count)
                replies[count].peer = peer.pointee
                replies[count].peer_length = received[i].peer_length
                count += 1
            }
            if count > 0 {
                let sent = CDNS_send(descriptor, replies, UInt32(count))
                let lost = sent < 0 ? count : count - Int(sent)
                if lost > 0 { counters.udpSendErrors.add(lost, ordering: .relaxed) }
            }
        }
    }
}

/// Pauses between failing receives: 1 ms doubling to 100 ms, and whether to log (the first failure, then at
/// most once a minute), so a socket that keeps failing never spins a core or floods the log. The same schedule
/// as the packet threads' `IOBackoff` (Forwarding), kept here because DNS64 does not depend on the packet loop.
struct IOBackoffDelay {
    private var delayMicroseconds: UInt32 = 0
    private var lastLog: UInt64?

    mutating func reset() { delayMicroseconds = 0 }

    mutating func wait() {
        delayMicroseconds = delayMicroseconds == 0 ? 1000 : min(delayMicroseconds * 2, 100_000)
        usleep(delayMicroseconds)
    }

    mutating func shouldLog() -> Bool {
        let now = NIODeadline.now().uptimeNanoseconds
        if let lastLog, now &- lastLog < 60_000_000_000 { return false }
        lastLog = now
        return true
    }
}

extension SocketAddress {
    /// The IPv4 or IPv6 address the kernel filled in; nil for another family.
    init?(peer: UnsafePointer<sockaddr_storage>) {
        let raw = UnsafeRawPointer(peer)
        switch Int32(peer.pointee.ss_family) {
        case AF_INET: self.init(raw.assumingMemoryBound(to: sockaddr_in.self).pointee)
        case AF_INET6: self.init(raw.assumingMemoryBound(to: sockaddr_in6.self).pointee)
        default: return nil
        }
    }
}
