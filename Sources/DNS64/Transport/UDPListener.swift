// The listening side over UDP (rule N1 of docs/dns64.md): each listening socket (`udp-sockets` per address,
// spread by the kernel with SO_REUSEPORT) is served by a thread of its own, which answers cached plain queries
// on the spot and resolves the rest itself through its `UpstreamLane` (UpstreamLane.swift): the listening socket
// and the thread's upstream sockets wait in one epoll, and timeouts come from the lane's heap.
//
// Why not NIO's DatagramChannel, as the first version did: per datagram NIO builds a `SocketAddress` (an
// allocation and an inet_ntop of the source), an envelope and a ByteBuffer, and sends each through the channel
// pipeline. For a cached answer that was about half the server's user CPU per query, and the answers of one
// wake-up (up to 256 datagrams) went out only when the last was read. Here a receive batch is answered and sent
// as one sendmmsg before the next receive: no allocation for a cache hit beyond the reply itself, and no
// answer waits for more than one batch. DNS over TCP stays on NIO, and so does the rare retry over TCP.
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
    /// The thread's epoll instance: the listening socket, and the lane's upstream sockets.
    private let epoll: Int32
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
        let (storage, length) = address.storage
        guard length > 0 else { throw UDPListenerError(call: "socket", code: EAFNOSUPPORT) }
        let fd = withUnsafePointer(to: storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                CDNS_udp_socket($0, length, reusePort ? 1 : 0, &failed)
            }
        }
        guard fd >= 0 else { throw UDPListenerError(call: failed.map { String(cString: $0) } ?? "socket", code: -fd) }
        let epoll = CDNS_epoll_create()
        guard epoll >= 0 else {
            close(fd)
            throw UDPListenerError(call: "epoll_create1", code: -epoll)
        }
        let added = CDNS_epoll_add(epoll, fd, UpstreamLane.listenerTag)
        guard added == 0 else {
            close(fd)
            close(epoll)
            throw UDPListenerError(call: "epoll_ctl", code: -added)
        }
        descriptor = fd
        self.epoll = epoll
        var bound = sockaddr_storage()
        var boundLength = UInt32(MemoryLayout<sockaddr_storage>.size)
        let r = CDNS_local_address(fd, &bound, &boundLength)
        localAddress = r == 0 ? (withUnsafePointer(to: &bound) { SocketAddress(peer: $0) } ?? address) : address
    }

    deinit {
        close(descriptor)
        close(epoll)
    }

    /// Starts the thread answering on this socket.
    /// - Parameters:
    ///   - server: the server whose cache and resolution answer the queries.
    ///   - loops: event loops for the retry over TCP of a truncated upstream answer.
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

    /// The thread: wait for the listening socket, an upstream socket or the next timeout; answer a receive
    /// batch from the cache (one sendmmsg for the answers), start the misses on the lane, read upstream answers,
    /// end attempts whose time is up; again.
    private func run(server: DNS64Server, loops: any EventLoopGroup) {
        var lane = UpstreamLane(epoll: epoll, server: server, loops: loops)
        var buffers = ListenerBuffers()
        let tags = UnsafeMutablePointer<UInt64>.allocate(capacity: 16)
        let events = UnsafeMutablePointer<UInt32>.allocate(capacity: 16)
        defer {
            tags.deallocate()
            events.deallocate()
        }
        var backoff = IOBackoffDelay()

        while !stopping.load(ordering: .acquiring) {
            let wait = lane.waitMilliseconds(now: NIODeadline.now().uptimeNanoseconds)
            let n = CDNS_epoll_wait(epoll, tags, events, 16, wait)
            if stopping.load(ordering: .acquiring) { break }
            guard n >= 0 else {
                failing(UDPListenerError(call: "epoll_wait", code: -n), server: server, backoff: &backoff)
                continue
            }
            for i in 0..<Int(n) {
                let now = NIODeadline.now().uptimeNanoseconds
                if tags[i] == UpstreamLane.listenerTag {
                    guard serve(server: server, lane: &lane, buffers: &buffers, backoff: &backoff) else { break }
                } else {
                    lane.readable(tags[i], now: now)
                }
            }
            lane.expire(now: NIODeadline.now().uptimeNanoseconds)
        }
        let dropped = lane.abandonAll()
        if dropped > 0 {
            server.logger.info(
                "DNS64 UDP listener stopped with queries still being resolved; their clients will retry",
                metadata: ["address": "\(localAddress)", "clients": "\(dropped)"])
        }
    }

    /// A wait or receive that failed: counted, logged at most once a minute, and a growing pause.
    private func failing(_ error: UDPListenerError, server: DNS64Server, backoff: inout IOBackoffDelay) {
        server.store.udpReceiveErrors.add(1, ordering: .relaxed)
        if backoff.shouldLog() {
            server.logger.warning(
                "DNS64 UDP receive failing; backing off", metadata: ["address": "\(localAddress)", "error": "\(error)"])
        }
        backoff.wait()
    }

    /// Reads and answers up to four receive batches from the listening socket (fewer once it runs dry).
    /// - Returns: false when the socket is shut (stopping).
    private func serve(
        server: DNS64Server, lane: inout UpstreamLane, buffers: inout ListenerBuffers, backoff: inout IOBackoffDelay
    ) -> Bool {
        let batch = Self.batch
        let slot = UDPReceive.slot
        let received = buffers.received
        let replies = buffers.replies
        let counters = server.store
        for _ in 0..<4 {
            let n = CDNS_receive_now(descriptor, received, UInt32(batch))
            if stopping.load(ordering: .acquiring) { return false }
            guard n >= 0 else {
                if -n == EAGAIN || -n == EWOULDBLOCK { return true }
                if -n == EBADF || -n == ENOTSOCK { return false }
                failing(UDPListenerError(call: "recvmmsg", code: -n), server: server, backoff: &backoff)
                return true
            }
            backoff.reset()
            let now = NIODeadline.now().uptimeNanoseconds
            var count = 0
            for i in 0..<Int(n) {
                let length = Int(received[i].length)
                guard length > 0 else { continue }
                let peer = (UnsafeRawPointer(received + i) + ListenerBuffers.peerOffset)
                    .assumingMemoryBound(to: sockaddr_storage.self)
                guard let ip = ClientIP(peer) else { continue }
                let bytes = UnsafeRawBufferPointer(start: received[i].base, count: length)
                var reply = server.cachedReply(bytes, from: ip, overTCP: false, keyBuffer: &buffers.keyBuffer)
                if reply == nil {
                    // A miss, or not a plain query: through intake. A later answer comes back via `send`.
                    guard let client = SocketAddress(peer: peer) else { continue }
                    let storage = peer.pointee
                    let peerLength = received[i].peer_length
                    let admission = server.admit(Array(bytes), from: client, overTCP: false) { answer in
                        self.send(answer, to: storage, length: peerLength, counters: counters)
                    }
                    switch admission {
                    case .reply(let ready): reply = ready
                    case .later: break
                    case .resolve(let machine, let key): lane.start(machine, key: key, now: now)
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
            if n == 0 { return !stopping.load(ordering: .acquiring) }  // shut: nothing more will come
            if Int(n) < batch { return true }
        }
        return true
    }
}

/// The receive and send batches of one listener thread, and its reusable cache-key storage.
struct ListenerBuffers: ~Copyable {
    static let peerOffset = MemoryLayout<CDNS_datagram>.offset(of: \CDNS_datagram.peer)!

    let received: UnsafeMutablePointer<CDNS_datagram>
    let replies: UnsafeMutablePointer<CDNS_datagram>
    private let inputs: UnsafeMutableRawPointer
    private let outputs: UnsafeMutableRawPointer
    var keyBuffer: [UInt8] = []

    init() {
        let batch = UDPListener.batch
        let slot = UDPReceive.slot
        inputs = UnsafeMutableRawPointer.allocate(byteCount: batch * slot, alignment: 16)
        outputs = UnsafeMutableRawPointer.allocate(byteCount: batch * slot, alignment: 16)
        received = UnsafeMutablePointer<CDNS_datagram>.allocate(capacity: batch)
        replies = UnsafeMutablePointer<CDNS_datagram>.allocate(capacity: batch)
        received.initialize(repeating: CDNS_datagram(), count: batch)
        replies.initialize(repeating: CDNS_datagram(), count: batch)
        for i in 0..<batch {
            received[i].base = inputs + i * slot
            received[i].capacity = UInt32(slot)
            replies[i].base = outputs + i * slot
        }
    }

    deinit {
        inputs.deallocate()
        outputs.deallocate()
        received.deallocate()
        replies.deallocate()
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

extension SocketAddress {
    /// The address as a `sockaddr_storage` and its length (IPv4 or IPv6; length 0 otherwise): what the
    /// listening and upstream sockets are bound or connected to.
    var storage: (storage: sockaddr_storage, length: UInt32) {
        var storage = sockaddr_storage()
        switch self {
        case .v4(let a):
            withUnsafeMutableBytes(of: &storage) { raw in
                withUnsafeBytes(of: a.address) { raw.copyMemory(from: $0) }
            }
            return (storage, UInt32(MemoryLayout<sockaddr_in>.size))
        case .v6(let a):
            withUnsafeMutableBytes(of: &storage) { raw in
                withUnsafeBytes(of: a.address) { raw.copyMemory(from: $0) }
            }
            return (storage, UInt32(MemoryLayout<sockaddr_in6>.size))
        case .unixDomainSocket:
            return (storage, 0)
        }
    }
}
