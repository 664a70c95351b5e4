// The relay threads: each accepts clients on its own listening sockets, reads their first bytes until the route
// is known, connects the backend, and moves bytes with splice(2) through one pipe per direction, socket → pipe
// → socket, so relayed bytes never enter user space.
//
// Why the project keeps its own loop instead of SwiftNIO for this: NIO has no channel type that splices and no
// public way to put a raw descriptor on its selector, and a new connection through NIO costs a channel with a
// pipeline, promises and option set-up on each side, which measured as the largest part of the proxy's own CPU
// per connection (docs/performance.md, "Inbound proxy"). So when `ProxySettings.byteMover` is `.splice`, a
// small pool of relay threads (one per core), each with its own epoll instance (edge-triggered for connections),
// does what HAProxy does in one thread per core: each thread has its own listening socket per listener address
// (SO_REUSEPORT, so the kernel spreads new connections over the threads), accepts, applies the same admission
// limits, first-bytes parse and handshake timeout as NIO's FrontHandler (FirstBytes.swift), connects the backend
// with a plain non-blocking socket, writes the PROXY header and the replayed first bytes, and splices. Nothing
// is allocated per chunk: a connection costs a few objects (its state, its first bytes, the set of backends
// tried) and two pipes (taken from a bounded pool of empty pipes when one is there) once it is routed.
// When the threads cannot start, or `byteMover` is `.nio`, NIO does all of it (ProxyServer.swift: FrontHandler,
// then GlueHandler).
//
// Rules (IP-S*, tested in SpliceRelayTests and ProxyServerTests over loopback sockets and by
// scripts/netns-proxy-test.sh):
//   IP-S8  bytes pass unchanged and in order each way; each pipe holds at most its capacity (F_SETPIPE_SZ,
//          `ProxySettings.pipeSize`), so a side is read only while its pipe has room (backpressure, IP-S4).
//   IP-S9  half-close (RFC 9293 §3.6): end of input from one side, once its pipe is drained, shuts down
//          writing (SHUT_WR) to the other side; the connection is closed when both directions have ended, or at
//          once when either side fails (reset, broken pipe).
//   IP-S10 a spliced connection that moved no byte either way for `idleTimeout` is closed (counted
//          idle-closed); the threads look once a second of the proxy's clock.
//   IP-S11 every byte moved is counted on its route (bytesToBackend, bytesToClient), as on NIO's relay.
//   IP-S12 one connection moves at most `sliceBytes` per turn, then the others on its thread get theirs
//          (edge-triggered epoll: a connection cut short is kept on a ready list, not left waiting for an edge).
//   IP-S13 the relay thread connects the backend (IP-S2, IP-S3 as on NIO): the client is not read and the
//          backend not read until the PROXY header and the first bytes are written (a short write waits for
//          the socket to take the rest); a refused or failed connect, or one not done within `connectTimeout`
//          on the proxy's clock, counts a connect failure, marks the backend down (IP-R3) and tries the next
//          one (IP-R4); when all failed the client is closed (counted no-backend).
//   IP-S14 the relay threads' listeners apply IP-L1 and IP-L2 at accept, and IP-S1 while reading the first
//          bytes (at most `maxHandshakeBytes` plus 16 KiB are read; a ClientHello or head not complete within
//          `handshakeTimeout` on the proxy's clock is cut; end of input before the route is known is counted
//          closed-early). Deadlines (handshake, connect) are looked at every 100 ms while one is pending. A
//          failed accept (descriptors exhausted) is counted and pauses that listener for a second of the
//          proxy's clock; a routed connection that gets no pipe is closed, counted as a splice fallback.

import CSpliceLinux
import FastPath
import Listening
import Logging
import NAT64Translator
import NIOCore
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// How established connections move their bytes.
public enum ByteMover: String, Sendable {
    /// splice(2) through a pipe per direction on the relay threads (falls back to `.nio` when not possible).
    case splice
    /// NIO's reads and writes (one copy into user space and one out per direction).
    case nio
}

/// One direction of a spliced connection: its pipe and how far it got.
struct SpliceDirection {
    var readEnd: Int32 = -1
    var writeEnd: Int32 = -1
    var capacity = 0
    /// Bytes in the pipe.
    var fill = 0
    /// The source said end of input.
    var eof = false
    /// The source may have bytes: set by its input events, cleared when a read finds none (edge-triggered,
    /// so a direction is read only after an input event on its source or while a read still found bytes).
    var readable = true
    /// The destination's writing was shut down (eof passed on).
    var shut = false
    var done: Bool { shut }
    /// Bytes read from the source, and written to the destination.
    var taken = 0
    var delivered = 0
    /// While a splice is pending (IP-O2): bytes still to move before the rest is read and discarded; nil
    /// otherwise (and before the boundary is measured).
    var allowance: Int?
}

/// An empty pipe: read end, write end, capacity in bytes.
struct SplicePipe {
    var readEnd: Int32
    var writeEnd: Int32
    var capacity: Int
}

/// A client whose first bytes its relay thread is still reading (IP-S14).
final class FrontState {
    let listener: FrontListener
    let client: IPEndpoint
    let local: IPEndpoint
    var bytes: [UInt8] = []
    /// TLS: no parse before `bytes` holds this many (IP-T6).
    var wanted = 0

    init(listener: FrontListener, client: IPEndpoint, local: IPEndpoint) {
        (self.listener, self.client, self.local) = (listener, client, local)
    }
}

/// The backend side of a connection that its relay thread still has to open (IP-S13).
final class BackendOpening {
    let route: RouteState
    /// The PROXY header and the client's first bytes, written before splicing starts.
    let first: [UInt8]
    var written = 0
    /// Backends tried so far (indices into `route.backends`).
    var tried = Set<Int>()
    /// The backend being connected (or connected once `connected`).
    var backend: BackendState?
    var connected = false
    /// A connect is under way (counted in `SpliceWorker.connectsUnderWay`).
    var pending = false

    init(route: RouteState, first: [UInt8]) {
        self.route = route
        self.first = first
    }
}

/// What a relay thread holds for one connection, from accept to close. Touched only by its thread.
final class SplicedConnection {
    /// Route counters of a connection not routed yet (never read).
    static let unrouted = RouteCounters()

    let client: Int32
    /// -1 while the relay thread has no backend socket yet (IP-S13).
    var backend: Int32 = -1
    /// Client → backend (no pipe before the route is known).
    var up = SpliceDirection()
    /// Backend → client.
    var down = SpliceDirection()
    var counters = SplicedConnection.unrouted
    /// Gives back the connection's places (admission, then the route too); called once when it ends.
    var release: @Sendable () -> Void
    /// Set while the first bytes are read (IP-S14).
    var front: FrontState?
    /// Set until the backend is connected and the first bytes are written (IP-S13).
    var opening: BackendOpening?
    /// The backend whose `active` count this connection holds (given back when it ends).
    var backendState: BackendState?
    /// The client's and the proxy's addresses of the client connection (for an offload, IP-O1).
    var clientEnd: IPEndpoint?
    var frontEnd: IPEndpoint?
    /// Bytes written to the backend before splicing (PROXY header and first bytes), and how many of those were
    /// the client's own.
    var firstCount = 0
    var clientFirst = 0
    /// Set while the kernel's splice of this connection is pending (Offload.swift), and once it was tried.
    var splice: PendingSplice?
    var spliceTried = false
    /// The handshake or connect deadline (the proxy's clock), and whether it is on the thread's list.
    var deadline: UInt64 = 0
    var watched = false
    var lastActive: UInt64 = 0
    var index = -1
    var queued = false

    init(client: Int32, release: @escaping @Sendable () -> Void) {
        self.client = client
        self.release = release
    }

    func take(_ pipes: (SplicePipe, SplicePipe)) {
        up = SpliceDirection(readEnd: pipes.0.readEnd, writeEnd: pipes.0.writeEnd, capacity: pipes.0.capacity)
        down = SpliceDirection(readEnd: pipes.1.readEnd, writeEnd: pipes.1.writeEnd, capacity: pipes.1.capacity)
    }
}

/// One listening socket of one relay thread (IP-S14).
final class FrontListener: @unchecked Sendable {
    let fd: Int32
    let configuration: ListenerConfiguration
    /// The local address of every connection it accepts, unless it listens on a wildcard address.
    let local: IPEndpoint?
    /// Paused after a failed accept until this time (the proxy's clock); 0: listening.
    var pausedUntil: UInt64 = 0

    init(fd: Int32, configuration: ListenerConfiguration, address: IPEndpoint) {
        self.fd = fd
        self.configuration = configuration
        local = switch address.address {
        case .v4(let a): a.value == 0 ? nil : address
        case .v6(let a): a.high == 0 && a.low == 0 ? nil : address
        }
    }
}

/// What the relay threads' listeners need from the proxy (IP-S14).
struct FrontSettings: @unchecked Sendable {
    let admission: Admission
    /// The route of a name on a listener (IP-R1), from the routes in force.
    let route: @Sendable (_ listener: String, _ name: String?) -> RouteState?
    let maxHandshakeBytes: Int
    let handshakeTimeout: UInt64
    let acceptErrors: AcceptErrors
    let logger: Logger
    /// Hands routed connections to the kernel (`offload`; nil: off).
    var offload: (any ConnectionOffload)? = nil
    /// The proxy's idle timeout, for offloaded connections.
    var idleTimeout: UInt64 = 0
    /// Bytes a connection moves (both ways) on the relay before it is handed over; 0: at once.
    var offloadAfter = 0
}

/// A listener address that could not be bound.
public struct ProxyListenError: Error, CustomStringConvertible {
    public let address: IPEndpoint
    public let errno: Int32
    public var description: String { "cannot listen on \(address): \(String(cString: strerror(errno)))" }
}

/// The relay threads and the pool of empty pipes.
public final class SpliceRelay: Sendable {
    /// At most this many empty pipes are kept for reuse. Kept pipes count against the user's pipe pages
    /// (fs.pipe-user-pages-soft, 16384 pages by default for users without CAP_SYS_RESOURCE): 64 pipes of
    /// 256 KiB are a quarter of that.
    static let poolLimit = 64
    let pipeSize: Int
    private let workers: [SpliceWorker]
    private let pool = Mutex<[SplicePipe]>([])
    private let running = Atomic<Bool>(false)
    private let bound = Mutex<[IPEndpoint]>([])

    /// How the relay threads open a backend socket and start its connect: `CSplice_connect` (the fd, or -errno;
    /// `pending` set when the connect is under way). Tests put a stand-in here (a shortage on demand, IP-R3).
    typealias BackendConnect = @Sendable (
        _ family: Int32, _ address: UnsafePointer<UInt8>, _ port: Int32, _ mss: Int32,
        _ pending: UnsafeMutablePointer<Int32>
    ) -> Int32
    /// The function in a struct, never bare in the `Mutex`: a closure stored straight in a generic container is
    /// wrapped in two more reabstraction thunks by every `withLock` (its inout write-back), so each call costs
    /// more than the last. Bare, it took the proxy's CPU per connection from 150 µs to 1.3 ms within 20,000
    /// connections (docs/performance.md, "Inbound proxy").
    struct BackendConnector: Sendable { var connect: BackendConnect }
    let backendConnect = Mutex(BackendConnector(connect: { CSplice_connect($0, $1, $2, $3, $4) }))

    /// Prepares `threads` relay threads (not started); nil when the kernel refuses epoll or eventfd.
    /// `connectTimeout` and `downTime` (nanoseconds) apply to the backend connects the threads make (IP-S13).
    init?(threads: Int, pipeSize: Int, sliceBytes: Int = 1 << 20, idleTimeout: UInt64, connectTimeout: UInt64,
          downTime: UInt64, clock: @escaping @Sendable () -> UInt64, counters: ProxyCounters) {
        var workers: [SpliceWorker] = []
        for _ in 0..<max(1, threads) {
            guard let w = SpliceWorker(sliceBytes: sliceBytes, idleTimeout: idleTimeout, connectTimeout: connectTimeout,
                                       downTime: downTime, clock: clock, counters: counters)
            else { return nil }
            workers.append(w)
        }
        self.workers = workers
        self.pipeSize = pipeSize
        for w in workers { w.relay = self }
    }

    deinit {
        stop()
        for pipe in pool.withLock({ $0 }) { _ = CSplice_close(pipe.readEnd); _ = CSplice_close(pipe.writeEnd) }
    }

    /// True once the threads run.
    var isRunning: Bool { running.load(ordering: .acquiring) }

    /// Binds every listener address once per thread (SO_REUSEPORT when there are several; port 0 is bound by
    /// the first thread and the others join the port the kernel chose). Before `start`. Throws when an
    /// address cannot be bound (then nothing stays bound).
    func listen(_ listeners: [ListenerConfiguration], front: FrontSettings) throws(ProxyListenError) {
        var made: [(SpliceWorker, FrontListener)] = []
        var addresses: [IPEndpoint] = []
        for listener in listeners {
            for var endpoint in listener.addresses {
                for w in workers {
                    let fd = endpoint.withRawAddress { family, bytes in
                        CSplice_listen(family, bytes, Int32(endpoint.port), workers.count > 1 ? 1 : 0, 1024)
                    }
                    if fd >= 0, let offload = front.offload, case .v4 = endpoint.address {
                        _ = CSplice_set_mss(fd, Int32(offload.spliceClientMSS))  // IP-O5
                    }
                    guard fd >= 0 else {
                        for (_, l) in made { _ = CSplice_close(l.fd) }
                        throw ProxyListenError(address: endpoint, errno: -fd)
                    }
                    if endpoint.port == 0, let local = IPEndpoint(localOf: fd) { endpoint.port = local.port }
                    made.append((w, FrontListener(fd: fd, configuration: listener, address: endpoint)))
                }
                if !addresses.contains(endpoint) { addresses.append(endpoint) }
            }
        }
        for (w, l) in made { w.add(l, front: front) }
        bound.withLock { $0 = addresses }
    }

    /// The addresses the threads listen on (ports chosen by the kernel filled in).
    var boundAddresses: [IPEndpoint] { bound.withLock { $0 } }

    /// Starts the threads; false if one could not start (then none is used and the listeners are closed).
    @discardableResult
    func start() -> Bool {
        for w in workers where !w.start() {
            stop()
            return false
        }
        running.store(true, ordering: .releasing)
        return true
    }

    /// Stops the threads; the connections they hold and their listeners are closed.
    func stop() {
        running.store(false, ordering: .releasing)
        for w in workers { w.stop() }
        bound.withLock { $0 = [] }
    }

    /// Two empty pipes (from the pool or new), or nil.
    func takePipes() -> (SplicePipe, SplicePipe)? {
        let pooled = pool.withLock { p -> (SplicePipe, SplicePipe)? in
            guard p.count >= 2 else { return nil }
            return (p.removeLast(), p.removeLast())
        }
        if let pooled { return pooled }
        guard let a = makePipe() else { return nil }
        guard let b = makePipe() else {
            giveBack(a)
            return nil
        }
        return (a, b)
    }

    private func makePipe() -> SplicePipe? {
        var fds: (Int32, Int32) = (-1, -1)
        let capacity = withUnsafeMutablePointer(to: &fds) {
            $0.withMemoryRebound(to: Int32.self, capacity: 2) { CSplice_pipe($0, Int32(pipeSize)) }
        }
        return capacity > 0 ? SplicePipe(readEnd: fds.0, writeEnd: fds.1, capacity: Int(capacity)) : nil
    }

    /// Keeps an empty pipe for reuse (or closes it when the pool is full).
    func giveBack(_ pipe: SplicePipe) {
        let kept = pool.withLock { p -> Bool in
            guard p.count < Self.poolLimit else { return false }
            p.append(pipe)
            return true
        }
        if !kept {
            _ = CSplice_close(pipe.readEnd)
            _ = CSplice_close(pipe.writeEnd)
        }
    }

    /// Connections held by the relay threads now.
    var connections: Int { workers.reduce(0) { $0 + $1.held.load(ordering: .relaxed) } }

    /// Backend connects under way on the relay threads now (IP-S13).
    var connecting: Int { workers.reduce(0) { $0 + $1.connectsUnderWay.load(ordering: .relaxed) } }
}

extension IPEndpoint {
    /// Calls `body` with the address family and the address bytes (network order) as CSplice takes them.
    func withRawAddress<R>(_ body: (Int32, UnsafePointer<UInt8>) -> R) -> R {
        switch address {
        case .v4(let a):
            withUnsafeBytes(of: a.value.bigEndian) { body(AF_INET, $0.baseAddress!.assumingMemoryBound(to: UInt8.self)) }
        case .v6(let a):
            withUnsafeBytes(of: (a.high.bigEndian, a.low.bigEndian)) {
                body(AF_INET6, $0.baseAddress!.assumingMemoryBound(to: UInt8.self))
            }
        }
    }

    /// An address in CSplice's form (the first 4 bytes for IPv4), or nil for another family.
    init?(family: Int32, raw: (UInt64, UInt64), port: Int32) {
        let (high, low) = (UInt64(bigEndian: raw.0), UInt64(bigEndian: raw.1))
        switch family {
        case AF_INET: self.init(.v4(IPv4Address(UInt32(truncatingIfNeeded: high >> 32))), UInt16(truncatingIfNeeded: port))
        case AF_INET6: self.init(.v6(IPv6Address(high: high, low: low)), UInt16(truncatingIfNeeded: port))
        default: return nil
        }
    }

    /// The local address of socket `fd`.
    init?(localOf fd: Int32) {
        var raw: (UInt64, UInt64) = (0, 0)
        var family: Int32 = 0
        var port: Int32 = 0
        let r = withUnsafeMutableBytes(of: &raw) {
            CSplice_local_address(fd, $0.baseAddress!.assumingMemoryBound(to: UInt8.self), &family, &port)
        }
        guard r == 0 else { return nil }
        self.init(family: family, raw: raw, port: port)
    }
}

/// One relay thread: an epoll loop over its listeners and the connections it holds (IP-S8–IP-S14).
final class SpliceWorker: @unchecked Sendable {
    // Shared with other threads: the wake-up eventfd, `stopping`, `held`, `connectsUnderWay`. `listeners` and
    // `front` are set before the thread starts.
    private let epoll: Int32
    private let wake: Int32
    private let stopping = Atomic<Bool>(false)
    let held = Atomic<Int>(0)
    let connectsUnderWay = Atomic<Int>(0)
    unowned(unsafe) var relay: SpliceRelay!
    private var thread: pthread_t?
    private var listeners: [FrontListener] = []
    private var front: FrontSettings?

    // Owned by the thread.
    private let sliceBytes: Int
    private let idleTimeout: UInt64
    private let connectTimeout: UInt64
    private let downTime: UInt64
    private let clock: @Sendable () -> UInt64
    private let counters: ProxyCounters
    private var table: [SplicedConnection?] = []
    private var generations: [UInt32] = []
    private var free: [Int] = []
    private var ready: [Int] = []
    private var again: [Int] = []
    /// Connections whose splice is pending (epoll tags), looked at every millisecond (Offload.swift).
    private var splicing: [UInt64] = []
    /// Connections with a deadline (epoll tags: generation and index), looked at every `deadlineCheck`.
    private var watching: [UInt64] = []
    private var watched: [UInt64] = []
    private var nextDeadlineCheck = UInt64.max
    private var tags = [UInt64](repeating: 0, count: 64)
    private var scratch = [UInt8](repeating: 0, count: 16 * 1024)
    private var nextSweep: UInt64 = 0
    private static let wakeTag = UInt64.max
    /// Tags of listeners: this bit and the index in `listeners` (connection tags keep it clear).
    private static let listenerBit: UInt64 = 1 << 63
    /// A connection's tag on its backend socket has this bit too (its client socket's has not).
    private static let backendBit: UInt64 = 1 << 62
    /// Set by CSplice_epoll_wait on events with input (or a hang-up or an error).
    private static let readableBit: UInt64 = 1 << 61
    /// Generations fit below those bits.
    private static let generationMask: UInt32 = 0x1FFF_FFFF
    /// How often deadlines are looked at while one is pending.
    private static let deadlineCheck: UInt64 = 100_000_000

    init?(sliceBytes: Int, idleTimeout: UInt64, connectTimeout: UInt64, downTime: UInt64,
          clock: @escaping @Sendable () -> UInt64, counters: ProxyCounters) {
        let e = CSplice_epoll_create()
        guard e >= 0 else { return nil }
        let w = CSplice_eventfd()
        guard w >= 0, CSplice_epoll_add_level(e, w, Self.wakeTag) == 0 else {
            _ = CSplice_close(e)
            if w >= 0 { _ = CSplice_close(w) }
            return nil
        }
        epoll = e
        wake = w
        self.sliceBytes = sliceBytes
        self.idleTimeout = idleTimeout
        self.connectTimeout = connectTimeout
        self.downTime = downTime
        self.clock = clock
        self.counters = counters
    }

    deinit {
        for l in listeners { _ = CSplice_close(l.fd) }
        _ = CSplice_close(epoll)
        _ = CSplice_close(wake)
    }

    /// Takes a listener (before `start`).
    func add(_ listener: FrontListener, front: FrontSettings) {
        self.front = front
        _ = CSplice_epoll_add_level(epoll, listener.fd, Self.listenerBit | UInt64(listeners.count))
        listeners.append(listener)
    }

    func start() -> Bool {
        let box = Unmanaged.passRetained(self)
        var tid = pthread_t()
        let r = pthread_create(&tid, nil, { arg in
            let worker = Unmanaged<SpliceWorker>.fromOpaque(arg!).takeRetainedValue()
            worker.run()
            return nil
        }, box.toOpaque())
        guard r == 0 else {
            box.release()
            return false
        }
        thread = tid
        return true
    }

    func stop() {
        guard let thread else {
            closeListeners()
            return
        }
        stopping.store(true, ordering: .releasing)
        CSplice_eventfd_signal(wake)
        pthread_join(thread, nil)
        self.thread = nil
        closeListeners()
    }

    private func closeListeners() {
        for l in listeners { _ = CSplice_close(l.fd) }
        listeners = []
    }

    private func run() {
        _ = CSplice_name_thread("proxy-relay")
        nextSweep = clock() &+ 1_000_000_000
        while !stopping.load(ordering: .acquiring) {
            let wait: Int32 = !ready.isEmpty ? 0 : !splicing.isEmpty ? 1
                : watching.isEmpty ? 1000 : Int32(Self.deadlineCheck / 1_000_000)
            let n = tags.withUnsafeMutableBufferPointer {
                CSplice_epoll_wait(epoll, $0.baseAddress, Int32($0.count), wait)
            }
            for i in 0..<max(0, Int(n)) {
                let tag = tags[i]
                if tag == Self.wakeTag {
                    CSplice_eventfd_drain(wake)
                } else if tag & Self.listenerBit != 0 {
                    accept(listeners[Int(tag & 0xFFFF)], tag: tag)
                } else if let c = connection(tag: tag) {
                    if tag & Self.readableBit != 0 {
                        if tag & Self.backendBit != 0 { c.down.readable = true } else { c.up.readable = true }
                    }
                    service(c)
                }
            }
            if !ready.isEmpty {
                // IP-S12: connections cut short at their slice go on where they stopped.
                swap(&ready, &again)
                for index in again {
                    guard let c = table[index] else { continue }
                    c.queued = false
                    service(c)
                }
                again.removeAll(keepingCapacity: true)
            }
            let now = clock()
            if !splicing.isEmpty { checkSplices(now: now) }
            if now >= nextDeadlineCheck { checkDeadlines(now: now) }
            if now >= nextSweep {
                nextSweep = now &+ 1_000_000_000
                sweep(now: now)
            }
        }
        for case let c? in table { close(c) }
    }

    /// The connection an epoll tag names, if it is still there.
    private func connection(tag: UInt64) -> SplicedConnection? {
        let index = Int(tag & 0xFFFF_FFFF)
        guard index < table.count, generations[index] == UInt32(truncatingIfNeeded: tag >> 32) & Self.generationMask
        else { return nil }
        return table[index]
    }

    private func tag(of c: SplicedConnection) -> UInt64 { UInt64(generations[c.index]) << 32 | UInt64(c.index) }

    // MARK: Accepting and the first bytes (IP-S14)

    /// Accepts what is waiting (at most 64 per turn; the listener is level-triggered, so the rest comes next turn).
    private func accept(_ l: FrontListener, tag: UInt64) {
        guard let front else { return }
        var raw: (UInt64, UInt64) = (0, 0)
        var family: Int32 = 0
        var port: Int32 = 0
        for _ in 0..<64 {
            let fd = withUnsafeMutableBytes(of: &raw) {
                CSplice_accept(l.fd, $0.baseAddress!.assumingMemoryBound(to: UInt8.self), &family, &port)
            }
            if fd == -EAGAIN { return }
            if fd == -ECONNABORTED || fd == -EINTR { continue }
            guard fd >= 0 else {
                // Descriptors exhausted (or another accept error): counted, and the listener rests a second.
                let now = clock()
                if front.acceptErrors.record(now: now, interval: 60_000_000_000) {
                    front.logger.error("accepting connections failed; pausing this listener for a second",
                                       metadata: ["listener": "proxy \(l.configuration.name)", "errno": "\(-fd)"])
                }
                l.pausedUntil = max(1, now &+ 1_000_000_000)
                _ = CSplice_epoll_input(epoll, l.fd, tag, 0)
                return
            }
            guard let client = IPEndpoint(family: family, raw: raw, port: port), let local = l.local ?? IPEndpoint(localOf: fd)
            else {
                _ = CSplice_close(fd)
                continue
            }
            counters.accepted.add(1, ordering: .relaxed)
            if let reason = front.admission.admit(client.address) {  // IP-L1, IP-L2
                counters.countRefusal(reason)
                _ = CSplice_close(fd)
                continue
            }
            counters.active.add(1, ordering: .relaxed)
            let (admission, counters) = (front.admission, counters)
            let c = SplicedConnection(client: fd) {
                admission.release(client.address)
                counters.active.subtract(1, ordering: .relaxed)
            }
            held.add(1, ordering: .relaxed)
            place(c)
            guard CSplice_epoll_add(epoll, fd, self.tag(of: c)) == 0 else {
                close(c)
                continue
            }
            let state = FrontState(listener: l, client: client, local: local)
            if l.configuration.mode == .tcp {
                routeKnown(c, state, name: nil, headLength: nil)
            } else {
                c.front = state
                c.deadline = clock() &+ front.handshakeTimeout
                watch(c)
                readFirstBytes(c, state)
            }
        }
    }

    /// Puts a new connection in the table.
    private func place(_ c: SplicedConnection) {
        let index = free.popLast() ?? {
            table.append(nil)
            generations.append(0)
            return table.count - 1
        }()
        c.index = index
        c.lastActive = clock()
        table[index] = c
    }

    /// IP-S1, IP-S14: reads what the client sent and decides once the route can be known.
    private func readFirstBytes(_ c: SplicedConnection, _ f: FrontState) {
        guard let front else { return }
        let limit = front.maxHandshakeBytes
        let before = f.bytes.count
        var ended = false
        while true {
            let room = min(scratch.count, limit + 16 * 1024 + 1 - f.bytes.count)
            guard room > 0 else { break }
            let n = scratch.withUnsafeMutableBufferPointer { CSplice_recv(c.client, $0.baseAddress!, room) }
            if n > 0 {
                f.bytes += scratch[0..<n]
            } else if n == 0 {
                ended = true
                break
            } else if n == -EAGAIN {
                break
            } else if n != -EINTR {
                refuse(c, .closedEarly)
                return
            }
        }
        if f.bytes.count > before {
            // Parse again only when the answer can change (as FrontHandler does).
            let worth = switch f.listener.configuration.mode {
            case .tls: f.bytes.count >= f.wanted
            case .http: f.bytes[before...].contains(0x0A)
            case .tcp: true
            }
            if worth || f.bytes.count >= limit {
                switch FirstBytes.decide(f.bytes, mode: f.listener.configuration.mode, limit: limit) {
                case .needMore(let w):
                    f.wanted = w
                case .route(let name, let headLength):
                    routeKnown(c, f, name: name, headLength: headLength)
                    return
                case .refuse(let reason):
                    refuse(c, reason)
                    return
                }
            }
        }
        if f.bytes.count > limit + 16 * 1024 {
            refuse(c, .oversizedHandshake)  // records beyond the message: bounded all the same
        } else if ended {
            refuse(c, .closedEarly)  // IP-S5: end of input before the route is known
        }
    }

    private func refuse(_ c: SplicedConnection, _ reason: RefusalReason) {
        counters.countRefusal(reason)
        close(c)
    }

    /// IP-R1, IP-L3: the route, then pipes, then the backend connect (IP-S13).
    private func routeKnown(_ c: SplicedConnection, _ f: FrontState, name: String?, headLength: Int?) {
        guard let front else { return }
        c.front = nil
        guard let route = front.route(f.listener.configuration.name, name) else {
            refuse(c, .unknownName)
            return
        }
        guard route.admit() else {
            refuse(c, .routeLimit)
            return
        }
        let (admission, counters, client) = (front.admission, counters, f.client.address)
        c.release = {
            admission.release(client)
            counters.active.subtract(1, ordering: .relaxed)
            route.release()
        }
        guard let pipes = relay.takePipes() else {
            counters.spliceFallbacks.add(1, ordering: .relaxed)
            close(c)
            return
        }
        c.take(pipes)
        c.counters = route.counters
        let first = FirstBytes.assemble(f.bytes, route: route.configuration, mode: f.listener.configuration.mode,
                                        client: f.client, local: f.local, name: name, headLength: headLength)
        c.clientEnd = f.client
        c.frontEnd = f.local
        c.firstCount = first.count
        c.clientFirst = f.bytes.count
        c.opening = BackendOpening(route: route, first: first)
        connectNext(c)
    }

    // MARK: The backend connect (IP-S13)

    /// Starts a connect to the next backend `pick` gives; closes the client when none is left.
    private func connectNext(_ c: SplicedConnection) {
        guard let o = c.opening else { return }
        while true {
            guard let index = o.route.pick(now: clock(), tried: o.tried) else {
                refuse(c, .noBackend)
                return
            }
            o.tried.insert(index)
            let backend = o.route.backends[index]
            var pending: Int32 = 0
            let connect = relay.backendConnect.withLock { $0.connect }
            let fd = backend.endpoint.withRawAddress { family, bytes in
                connect(family, bytes, Int32(backend.endpoint.port), offloadMSS(c), &pending)
            }
            guard fd >= 0 else {
                if isResourceShortage(-fd) {  // IP-R3: the backend is not to blame
                    refuse(c, .resourceShortage)
                    return
                }
                connectFailed(backend)
                continue
            }
            c.backend = fd
            o.backend = backend
            o.connected = false
            guard CSplice_epoll_add(epoll, fd, tag(of: c) | Self.backendBit) == 0 else {
                close(c)
                return
            }
            if pending == 0 {
                opened(c, o)
            } else {
                o.pending = true
                connectsUnderWay.add(1, ordering: .relaxed)
                c.deadline = clock() &+ connectTimeout
                watch(c)
            }
            return
        }
    }

    /// IP-O5: when connections may be handed to the kernel, the backend is told the client's MSS, so that once
    /// spliced its segments fit the client's path as the client's own connection would have them (0: the
    /// route's, as without offload).
    private func offloadMSS(_ c: SplicedConnection) -> Int32 {
        guard front?.offload != nil, case .v4? = c.clientEnd?.address else { return 0 }
        let mss = CSplice_tcp_send_mss(c.client)
        return mss >= 536 ? mss : 0
    }

    /// IP-R3: a connect that failed or timed out.
    private func connectFailed(_ backend: BackendState) {
        backend.connectFailures.add(1, ordering: .relaxed)
        counters.connectFailures.add(1, ordering: .relaxed)
        backend.markDown(now: clock(), for: downTime)
    }

    /// The connect under way failed: its socket is closed and the next backend tried.
    private func attemptFailed(_ c: SplicedConnection, _ o: BackendOpening) {
        endAttempt(o)
        if let backend = o.backend { connectFailed(backend) }
        o.backend = nil
        _ = CSplice_close(c.backend)  // also takes it off the epoll set
        c.backend = -1
        connectNext(c)
    }

    private func endAttempt(_ o: BackendOpening) {
        guard o.pending else { return }
        o.pending = false
        connectsUnderWay.subtract(1, ordering: .relaxed)
    }

    /// Puts a connection with a deadline on the list looked at every `deadlineCheck`.
    private func watch(_ c: SplicedConnection) {
        nextDeadlineCheck = min(nextDeadlineCheck, c.deadline)
        guard !c.watched else { return }
        c.watched = true
        watching.append(tag(of: c))
    }

    /// IP-S14 and IP-S13: a handshake not done by its deadline is cut; a connect not done by its deadline
    /// fails (and the next backend is tried).
    private func checkDeadlines(now: UInt64) {
        nextDeadlineCheck = .max
        swap(&watching, &watched)
        for tag in watched {
            guard let c = connection(tag: tag), c.watched else { continue }
            c.watched = false
            let waiting = c.front != nil || c.opening?.pending == true
            guard waiting else { continue }
            if now < c.deadline {
                watch(c)
            } else if c.front != nil {
                refuse(c, .handshakeTimeout)
            } else if let o = c.opening {
                attemptFailed(c, o)
            }
        }
        watched.removeAll(keepingCapacity: true)
    }

    /// The backend is connected; counts it and starts writing the first bytes.
    private func opened(_ c: SplicedConnection, _ o: BackendOpening) {
        endAttempt(o)
        o.connected = true
        guard let backend = o.backend else { return }
        backend.markUp()
        backend.active.add(1, ordering: .relaxed)
        backend.connections.add(1, ordering: .relaxed)
        c.backendState = backend
        counters.relayed.add(1, ordering: .relaxed)
        c.counters.bytesToBackend.add(o.first.count, ordering: .relaxed)
        writeFirst(c, o)
    }

    /// Writes what is left of the first bytes; splicing starts once they are all written.
    private func writeFirst(_ c: SplicedConnection, _ o: BackendOpening) {
        while o.written < o.first.count {
            let n = o.first.withUnsafeBufferPointer {
                CSplice_send(c.backend, $0.baseAddress! + o.written, $0.count - o.written)
            }
            if n > 0 {
                o.written += n
            } else if n == -EAGAIN {
                return  // the rest when the socket is writable again (its next edge)
            } else if n != -EINTR {
                close(c)
                return
            }
        }
        c.opening = nil
        c.lastActive = clock()
        c.up.readable = true  // input events that came while connecting were not acted on
        c.down.readable = true
        counters.spliced.add(1, ordering: .relaxed)
        if let front, front.offload != nil, front.offloadAfter == 0 { beginSplice(c) }
        service(c)
    }

    // MARK: Splicing (IP-S8–IP-S12)

    /// Moves what can move both ways; closes the connection when it is over (IP-S9).
    private func service(_ c: SplicedConnection) {
        if let f = c.front {
            readFirstBytes(c, f)
            return
        }
        if let o = c.opening {
            if o.connected {
                writeFirst(c, o)
                return
            }
            guard c.backend >= 0 else { return }
            let r = CSplice_connect_result(c.backend)
            if r == 0 {
                opened(c, o)
            } else if r != -EINPROGRESS {
                attemptFailed(c, o)
            }
            return
        }
        var budget = sliceBytes
        let hold = c.splice != nil
        let upOK = pump(&c.up, from: c.client, to: c.backend, budget: &budget, counter: c.counters.bytesToBackend,
                        hold: hold)
        let downOK = upOK && pump(&c.down, from: c.backend, to: c.client, budget: &budget,
                                  counter: c.counters.bytesToClient, hold: hold)
        if budget != sliceBytes { c.lastActive = clock() }
        if !downOK || (c.up.done && c.down.done) {
            close(c)
        } else if !hold, !c.spliceTried, let front, front.offload != nil,
                  c.up.delivered + c.down.delivered >= front.offloadAfter {
            beginSplice(c)  // IP-O1: a connection that has moved `offload-after` bytes
            if budget <= 0 && !c.queued {
                c.queued = true
                ready.append(c.index)
            }
        } else if budget <= 0 && !c.queued {
            c.queued = true
            ready.append(c.index)
        }
    }

    /// One direction (IP-S8, IP-S9, IP-S11): false when a side failed. `hold`: a splice is pending, so an end of
    /// input is not passed on (the kernel carries the connection's end) and bytes past the allowance are read
    /// and discarded (IP-O2).
    private func pump(_ d: inout SpliceDirection, from source: Int32, to destination: Int32, budget: inout Int,
                      counter: borrowing Atomic<Int>, hold: Bool = false) -> Bool {
        while true {
            var moved = false
            if hold, d.allowance == 0, !d.eof, d.readable {
                guard budget > 0 else { return true }  // IP-S12: copies keep coming at the sender's rate
                let n = scratch.withUnsafeMutableBufferPointer { CSplice_recv(source, $0.baseAddress!, $0.count) }
                if n > 0 {
                    budget -= n
                    moved = true
                } else if n == 0 {
                    d.eof = true
                } else if n == -EAGAIN {
                    d.readable = false
                } else if n != -EINTR {
                    return false
                }
            } else if !d.eof && d.readable && d.fill < d.capacity && budget > 0 {
                let n = CSplice_move(source, d.writeEnd, min(d.capacity - d.fill, d.allowance ?? Int.max))
                if n > 0 {
                    d.fill += n
                    d.taken += n
                    if let a = d.allowance { d.allowance = a - n }
                    budget -= n
                    counter.add(n, ordering: .relaxed)
                    moved = true
                } else if n == 0 {
                    d.eof = true
                    moved = true
                } else if n == -EAGAIN {
                    d.readable = false
                } else if n != -EINTR {
                    return false
                }
            }
            if d.fill > 0 {
                let n = CSplice_move(d.readEnd, destination, d.fill)
                if n > 0 {
                    d.fill -= n
                    d.delivered += n
                    moved = true
                } else if n != -EAGAIN && n != -EINTR {
                    return false
                }
            }
            if d.eof && d.fill == 0 && !d.shut && !hold {
                d.shut = true
                let r = CSplice_shutdown_write(destination)
                if r != 0 && r != -ENOTCONN { return false }
            }
            if !moved { return true }
        }
    }

    /// IP-S10: closes connections idle for `idleTimeout`; listeners paused after a failed accept listen again.
    private func sweep(now: UInt64) {
        for case let c? in table where c.front == nil && c.opening == nil && now &- c.lastActive >= idleTimeout
            && now > c.lastActive {
            counters.idleClosed.add(1, ordering: .relaxed)
            close(c)
        }
        for (i, l) in listeners.enumerated() where l.pausedUntil != 0 && now >= l.pausedUntil {
            l.pausedUntil = 0
            _ = CSplice_epoll_input(epoll, l.fd, Self.listenerBit | UInt64(i), 1)
        }
    }

    // MARK: Offload (Offload.swift, IP-O1–IP-O4)

    /// How long a splice may stay pending (IP-O4), and how long after it began the sockets' boundary is taken
    /// (IP-O2): segments the program let through just before its entries took effect can still be on their way
    /// up the stack for a moment.
    static let spliceTimeout: UInt64 = 3_000_000_000
    static let spliceGrace: UInt64 = 2_000_000

    /// IP-O1: hands the connection to the kernel if it can go; otherwise it stays on the relay (counted).
    private func beginSplice(_ c: SplicedConnection) {
        guard let front, let offload = front.offload, !c.spliceTried else { return }
        c.spliceTried = true
        guard case .v4(let client)? = c.clientEnd?.address, case .v4(let frontAddress)? = c.frontEnd?.address,
              let backend = c.backendState, case .v6(let backendAddress) = backend.endpoint.address,
              let local = IPEndpoint(localOf: c.backend), case .v6(let localAddress) = local.address,
              !c.up.eof, !c.down.eof
        else {
            counters.offloadDeclined.add(1, ordering: .relaxed)
            return
        }
        var a = CSplice_tcp_snapshot()
        var b = CSplice_tcp_snapshot()
        guard CSplice_tcp_state(c.client, &a) == 0, CSplice_tcp_state(c.backend, &b) == 0,
              a.state == 1, b.state == 1, a.options & 3 == b.options & 3 else {
            counters.offloadDeclined.add(1, ordering: .relaxed)
            return
        }
        // Where each stream's first byte sits in each connection: the client's byte k is at irsA1 + k on the
        // client connection and at issB1 + shift + k on the backend one (the PROXY header and any rewritten
        // head come first); the backend's byte k at irsB1 + k and issA1 + k.
        let irsA1 = a.rcv_nxt &- UInt32(truncatingIfNeeded: a.bytes_received)
        let issA1 = a.write_seq &- UInt32(truncatingIfNeeded: c.down.delivered)
        let irsB1 = b.rcv_nxt &- UInt32(truncatingIfNeeded: b.bytes_received)
        let issB1 = b.write_seq &- UInt32(truncatingIfNeeded: c.firstCount + c.up.delivered)
        let shift = UInt32(truncatingIfNeeded: c.firstCount - c.clientFirst)
        var ends = SpliceEnds(
            client: client, clientPort: c.clientEnd!.port, front: frontAddress, frontPort: c.frontEnd!.port,
            local: localAddress, localPort: local.port, backend: backendAddress, backendPort: backend.endpoint.port,
            clientToBackend: issB1 &+ shift &- irsA1, backendToClient: issA1 &- irsB1,
            clientScale: a.snd_wscale, frontScale: a.rcv_wscale, localScale: b.rcv_wscale, backendScale: b.snd_wscale,
            frontTimestampOffset: a.tsval &- a.monotonic_ms, localTimestampOffset: b.tsval &- b.monotonic_ms)
        ends.frontAckCeiling = a.rcv_nxt
        ends.localAckCeiling = b.rcv_nxt
        ends.frontSent = a.write_seq
        ends.localSent = b.write_seq
        let (release, backendState) = (c.release, backend)
        guard let slot = offload.beginSplice(ends, idleTimeout: front.idleTimeout, ended: { _, _ in
            backendState.active.subtract(1, ordering: .relaxed)
            release()
        }) else {
            counters.offloadDeclined.add(1, ordering: .relaxed)
            return
        }
        counters.offloadBegun.add(1, ordering: .relaxed)
        c.splice = PendingSplice(slot: slot, started: clock())
        splicing.append(tag(of: c))
    }

    /// IP-O2–IP-O4, every millisecond while a splice is pending.
    private func checkSplices(now: UInt64) {
        var still: [UInt64] = []
        for tag in splicing {
            guard let c = connection(tag: tag), let p = c.splice else { continue }
            guard p.clientBoundary != nil || now &- p.started >= Self.spliceGrace else {
                still.append(tag)
                continue
            }
            var ackedA: UInt64 = 0, receivedA: UInt64 = 0, ackedB: UInt64 = 0, receivedB: UInt64 = 0
            guard CSplice_tcp_progress(c.client, &ackedA, &receivedA) == 0,
                  CSplice_tcp_progress(c.backend, &ackedB, &receivedB) == 0 else {
                counters.offloadAbandoned.add(1, ordering: .relaxed)
                close(c)
                continue
            }
            if p.clientBoundary == nil {
                // IP-O2: what reached the sockets by now is what they owe; later bytes are copies. (Should a
                // segment the program let through before its entries took effect reach a socket even later, its
                // bytes are discarded, but the socket's acknowledgment is held below them, so their sender sends
                // them again after its timeout, and the program carries them.)
                p.clientBoundary = receivedA
                p.backendBoundary = receivedB
                c.up.allowance = max(0, Int(receivedA) - c.clientFirst - c.up.taken)
                c.down.allowance = max(0, Int(receivedB) - c.down.taken)
                service(c)
                guard c.splice != nil else { continue }
            }
            // What each socket owes its peer, in its own stream: the bytes that reached the other socket by the
            // boundary, or all that came before its end of input (a FIN counts in bytes_received but is no byte
            // to relay: the kernel carries the connection's end).
            let shift = UInt64(c.firstCount - c.clientFirst)
            let owedUp = shift + (c.up.eof ? UInt64(c.clientFirst + c.up.taken) : p.clientBoundary!)
            let owedDown = c.down.eof ? UInt64(c.down.taken) : p.backendBoundary!
            if c.up.allowance == 0 || c.up.eof, c.down.allowance == 0 || c.down.eof, c.up.fill == 0, c.down.fill == 0,
               ackedB >= owedUp, ackedA >= owedDown {
                handOff(c, p)  // IP-O3
            } else if now &- p.started >= Self.spliceTimeout {
                counters.offloadAbandoned.add(1, ordering: .relaxed)  // IP-O4
                close(c)
            } else {
                still.append(tag)
            }
        }
        splicing = still
    }

    /// IP-O3: the kernel carries the connection from now on; the thread lets go of it without a word to
    /// either side. Its admission and route places stay taken until the splice ends (`ended`).
    private func handOff(_ c: SplicedConnection, _ p: PendingSplice) {
        front?.offload?.completeSplice(p.slot)
        c.splice = nil
        _ = CSplice_close_silently(c.client)
        _ = CSplice_close_silently(c.backend)
        recycle(c.up)
        recycle(c.down)
        unplace(c)
        counters.offloaded.add(1, ordering: .relaxed)
    }

    /// An empty pipe goes back to the pool; one with bytes left is closed.
    private func recycle(_ d: SpliceDirection) {
        guard d.readEnd >= 0 else { return }
        if d.fill == 0 && !stopping.load(ordering: .relaxed) {
            relay.giveBack(SplicePipe(readEnd: d.readEnd, writeEnd: d.writeEnd, capacity: d.capacity))
        } else {
            _ = CSplice_close(d.readEnd)
            _ = CSplice_close(d.writeEnd)
        }
    }

    private func close(_ c: SplicedConnection) {
        if let p = c.splice, let offload = front?.offload {
            offload.abandonSplice(p.slot)
            c.splice = nil
        }
        _ = CSplice_close(c.client)
        if c.backend >= 0 { _ = CSplice_close(c.backend) }
        if let o = c.opening { endAttempt(o) }
        c.backendState?.active.subtract(1, ordering: .relaxed)
        recycle(c.up)
        recycle(c.down)
        unplace(c)
        c.release()
    }

    /// Takes a connection out of the table (its index may serve the next one; old epoll tags no longer match).
    private func unplace(_ c: SplicedConnection) {
        if c.index >= 0 && c.index < table.count && table[c.index] === c {
            table[c.index] = nil
            generations[c.index] = (generations[c.index] &+ 1) & Self.generationMask  // clear of the flag bits
            free.append(c.index)
        }
        held.subtract(1, ordering: .relaxed)
    }
}
