// The byte mover for established connections: splice(2) through one pipe per direction, socket → pipe →
// socket, so relayed bytes never enter user space.
//
// Where it runs: a small pool of relay threads (one per core), each with its own epoll instance. SwiftNIO has no
// channel type that splices and no public way to put a raw descriptor on its selector, so a connection leaves
// NIO as soon as it is routed: the FrontHandler has read the first bytes and picked the route, then the client's
// socket is duplicated, NIO's channel is closed (closing NIO's descriptor only drops a reference; the socket
// lives on in the duplicate) and a relay thread takes the duplicate with the bytes to replay. The relay thread
// then connects the backend itself, with a plain non-blocking socket on its own epoll (no NIO channel, no
// second hand-over), writes the PROXY header and the replayed bytes, and splices. NIO keeps everything before
// the route is known (accepting, admission, the first-bytes parse and its timeout); the relay threads do the
// backend connect and its timeout, and the byte moving, and never allocate per chunk: a connection costs a few
// objects (its state, the bytes to replay, the set of backends tried) and two pipes (taken from a bounded pool
// of empty pipes when one is there) when it arrives.
// When splicing is not possible (the descriptor cannot be found or duplicated, no pipe can be made, the
// threads did not start, or `ProxySettings.byteMover` is `.nio`) the connection stays on NIO, which connects
// the backend and relays (GlueHandler), counted as a splice fallback.
//
// Rules (IP-S*, tested in SpliceRelayTests over loopback sockets and by scripts/netns-proxy-test.sh):
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
//          on the proxy's clock (looked at every 100 ms while a connect is under way), counts a connect
//          failure, marks the backend down (IP-R3) and tries the next one (IP-R4); when all failed the client is
//          closed (counted no-backend).

import CSpliceLinux
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
    /// The destination's writing was shut down (eof passed on).
    var shut = false
    var done: Bool { shut }
}

/// An empty pipe: read end, write end, capacity in bytes.
struct SplicePipe {
    var readEnd: Int32
    var writeEnd: Int32
    var capacity: Int
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
    /// When the connect under way times out (the proxy's clock).
    var deadline: UInt64 = 0
    /// On its thread's list of connects under way.
    var watched = false

    init(route: RouteState, first: [UInt8]) {
        self.route = route
        self.first = first
    }
}

/// What a relay thread holds for one connection. Touched only by its thread once handed over.
final class SplicedConnection: @unchecked Sendable {
    let client: Int32
    /// -1 while the relay thread has no backend socket yet (IP-S13).
    var backend: Int32
    /// Client → backend.
    var up: SpliceDirection
    /// Backend → client.
    var down: SpliceDirection
    let counters: RouteCounters
    /// Gives back the connection's places (admission, route); called once when it ends.
    let release: @Sendable () -> Void
    /// Set until the backend is connected and the first bytes are written (IP-S13).
    var opening: BackendOpening?
    /// The backend whose `active` count this connection holds (given back when it ends).
    var backendState: BackendState?
    var lastActive: UInt64 = 0
    var index = -1
    var queued = false

    /// A connection whose backend is connected already.
    init(client: Int32, backend: Int32, pipes: (SplicePipe, SplicePipe), counters: RouteCounters,
         release: @escaping @Sendable () -> Void) {
        self.client = client
        self.backend = backend
        up = SpliceDirection(readEnd: pipes.0.readEnd, writeEnd: pipes.0.writeEnd, capacity: pipes.0.capacity)
        down = SpliceDirection(readEnd: pipes.1.readEnd, writeEnd: pipes.1.writeEnd, capacity: pipes.1.capacity)
        self.counters = counters
        self.release = release
    }

    /// A routed client whose backend the relay thread connects, then sends `first` (IP-S13).
    convenience init(client: Int32, pipes: (SplicePipe, SplicePipe), route: RouteState, first: [UInt8],
                     release: @escaping @Sendable () -> Void) {
        self.init(client: client, backend: -1, pipes: pipes, counters: route.counters, release: release)
        opening = BackendOpening(route: route, first: first)
    }
}

/// The relay threads and the pool of empty pipes.
public final class SpliceRelay: Sendable {
    /// At most this many empty pipes are kept for reuse. Kept pipes count against the user's pipe pages
    /// (fs.pipe-user-pages-soft, 16384 pages by default for users without CAP_SYS_RESOURCE): 64 pipes of
    /// 256 KiB are a quarter of that.
    static let poolLimit = 64
    let pipeSize: Int
    private let workers: [SpliceWorker]
    private let turn = Atomic<Int>(0)
    private let pool = Mutex<[SplicePipe]>([])
    private let running = Atomic<Bool>(false)

    /// Prepares `threads` relay threads (not started); nil when the kernel refuses epoll or eventfd.
    /// `connectTimeout` and `downTime` (nanoseconds) apply to the backend connects the threads make (IP-S13).
    init?(threads: Int, pipeSize: Int, sliceBytes: Int = 1 << 20, idleTimeout: UInt64, connectTimeout: UInt64 = 3_000_000_000,
          downTime: UInt64 = 10_000_000_000, clock: @escaping @Sendable () -> UInt64, counters: ProxyCounters) {
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

    /// True once the threads run (connections are handed over only then).
    var isRunning: Bool { running.load(ordering: .acquiring) }

    /// Starts the threads; false if one could not start (then none is used).
    @discardableResult
    func start() -> Bool {
        for w in workers where !w.start() {
            stop()
            return false
        }
        running.store(true, ordering: .releasing)
        return true
    }

    /// Stops the threads; the connections they hold are closed.
    func stop() {
        running.store(false, ordering: .releasing)
        for w in workers { w.stop() }
    }

    /// The descriptor of a NIO socket channel, duplicated, or nil. NIO does not expose descriptors: the number
    /// is read from the channel's description (`fd=N`) and accepted only if that descriptor is a TCP socket with
    /// the channel's local and remote ports.
    static func duplicateDescriptor(of channel: any Channel) -> Int32? {
        guard let local = channel.localAddress?.port, let remote = channel.remoteAddress?.port else { return nil }
        // A plain byte scan: "fd=" sits in the first few dozen bytes ("SocketChannel { BaseSocket { fd=12 }").
        var text = String(describing: channel)
        var fd: Int32 = 0
        var digits = 0
        text.withUTF8 { bytes in
            var i = 0
            while i + 3 < bytes.count && !(bytes[i] == 0x66 && bytes[i + 1] == 0x64 && bytes[i + 2] == 0x3D) { i += 1 }
            i += 3
            while i < bytes.count, bytes[i] >= 0x30, bytes[i] <= 0x39, digits < 9 {
                fd = fd * 10 + Int32(bytes[i] - 0x30)
                digits += 1
                i += 1
            }
        }
        guard digits > 0, CSplice_is_socket_with_ports(fd, Int32(local), Int32(remote)) == 1 else { return nil }
        let copy = CSplice_dup(fd)
        return copy >= 0 ? copy : nil
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

    /// Hands a connection to a relay thread (round robin). `clientEOF`: the client already ended its input.
    func adopt(_ connection: SplicedConnection, clientEOF: Bool) {
        connection.up.eof = clientEOF
        let worker = workers[turn.wrappingAdd(1, ordering: .relaxed).oldValue % workers.count]
        worker.enqueue(connection)
    }

    /// Connections held by the relay threads now.
    var connections: Int { workers.reduce(0) { $0 + $1.held.load(ordering: .relaxed) } }

    /// Backend connects under way on the relay threads now (IP-S13).
    var connecting: Int { workers.reduce(0) { $0 + $1.connectsUnderWay.load(ordering: .relaxed) } }
}

/// One relay thread: an epoll loop over the connections it holds (IP-S8–IP-S13).
final class SpliceWorker: @unchecked Sendable {
    // Shared with other threads: the inbox (under its lock), the wake-up eventfd, `stopping`, `held`,
    // `connectsUnderWay`.
    private let epoll: Int32
    private let wake: Int32
    private let inbox = Mutex<[SplicedConnection]>([])
    private let stopping = Atomic<Bool>(false)
    let held = Atomic<Int>(0)
    let connectsUnderWay = Atomic<Int>(0)
    unowned(unsafe) var relay: SpliceRelay!
    private var thread: pthread_t?

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
    /// Connects under way (epoll tags: generation and index), looked at for their deadline (IP-S13).
    private var watching: [UInt64] = []
    private var watched: [UInt64] = []
    private var nextConnectCheck = UInt64.max
    private var tags = [UInt64](repeating: 0, count: 64)
    private var nextSweep: UInt64 = 0
    private static let wakeTag = UInt64.max
    /// How often connect deadlines are looked at while a connect is under way.
    private static let connectCheckInterval: UInt64 = 100_000_000

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
        _ = CSplice_close(epoll)
        _ = CSplice_close(wake)
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
        guard let thread else { return }
        stopping.store(true, ordering: .releasing)
        CSplice_eventfd_signal(wake)
        pthread_join(thread, nil)
        self.thread = nil
    }

    func enqueue(_ connection: SplicedConnection) {
        held.add(1, ordering: .relaxed)
        inbox.withLock { $0.append(connection) }
        CSplice_eventfd_signal(wake)
    }

    private func run() {
        nextSweep = clock() &+ 1_000_000_000
        while !stopping.load(ordering: .acquiring) {
            let wait: Int32 = !ready.isEmpty ? 0 : watching.isEmpty ? 1000 : Int32(Self.connectCheckInterval / 1_000_000)
            let n = tags.withUnsafeMutableBufferPointer {
                CSplice_epoll_wait(epoll, $0.baseAddress, Int32($0.count), wait)
            }
            for i in 0..<max(0, Int(n)) {
                let tag = tags[i]
                if tag == Self.wakeTag {
                    CSplice_eventfd_drain(wake)
                    takeInbox()
                    continue
                }
                guard let c = connection(tag: tag) else { continue }
                service(c)
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
            if now >= nextConnectCheck { checkConnects(now: now) }
            if now >= nextSweep {
                nextSweep = now &+ 1_000_000_000
                sweep(now: now)
            }
        }
        takeInbox()
        for case let c? in table { close(c) }
    }

    /// The connection an epoll tag names, if it is still there.
    private func connection(tag: UInt64) -> SplicedConnection? {
        let index = Int(tag & 0xFFFF_FFFF)
        guard index < table.count, generations[index] == UInt32(tag >> 32) else { return nil }
        return table[index]
    }

    private func tag(of c: SplicedConnection) -> UInt64 { UInt64(generations[c.index]) << 32 | UInt64(c.index) }

    private func takeInbox() {
        let arrived = inbox.withLock { list in defer { list.removeAll(keepingCapacity: true) }; return list }
        for c in arrived {
            let index = free.popLast() ?? {
                table.append(nil)
                generations.append(0)
                return table.count - 1
            }()
            c.index = index
            c.lastActive = clock()
            table[index] = c
            let tag = tag(of: c)
            guard !stopping.load(ordering: .relaxed), CSplice_epoll_add(epoll, c.client, tag) == 0 else {
                close(c)
                continue
            }
            if c.opening != nil {
                connectNext(c)
            } else if CSplice_epoll_add(epoll, c.backend, tag) == 0 {
                service(c)
            } else {
                close(c)
            }
        }
    }

    /// IP-S13 (IP-S3): starts a connect to the next backend `pick` gives; closes the client when none is left.
    private func connectNext(_ c: SplicedConnection) {
        guard let o = c.opening else { return }
        while true {
            guard let index = o.route.pick(now: clock(), tried: o.tried) else {
                counters.countRefusal(.noBackend)
                close(c)
                return
            }
            o.tried.insert(index)
            let backend = o.route.backends[index]
            var pending: Int32 = 0
            let fd: Int32 = switch backend.endpoint.address {
            case .v4(let a):
                withUnsafeBytes(of: a.value.bigEndian) {
                    CSplice_connect(AF_INET, $0.baseAddress!.assumingMemoryBound(to: UInt8.self), Int32(backend.endpoint.port), &pending)
                }
            case .v6(let a):
                withUnsafeBytes(of: (a.high.bigEndian, a.low.bigEndian)) {
                    CSplice_connect(AF_INET6, $0.baseAddress!.assumingMemoryBound(to: UInt8.self), Int32(backend.endpoint.port), &pending)
                }
            }
            guard fd >= 0 else {
                connectFailed(backend)
                continue
            }
            c.backend = fd
            o.backend = backend
            o.connected = false
            o.deadline = clock() &+ connectTimeout
            guard CSplice_epoll_add(epoll, fd, tag(of: c)) == 0 else {
                close(c)
                return
            }
            if pending == 0 {
                opened(c, o)
            } else {
                o.pending = true
                connectsUnderWay.add(1, ordering: .relaxed)
                watch(c, o)
            }
            return
        }
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

    private func watch(_ c: SplicedConnection, _ o: BackendOpening) {
        nextConnectCheck = min(nextConnectCheck, o.deadline)
        guard !o.watched else { return }
        o.watched = true
        watching.append(tag(of: c))
    }

    /// IP-S13: connects not done by their deadline fail (and the next backend is tried).
    private func checkConnects(now: UInt64) {
        nextConnectCheck = .max
        swap(&watching, &watched)
        for tag in watched {
            guard let c = connection(tag: tag), let o = c.opening, o.watched else { continue }
            o.watched = false
            guard o.pending else { continue }
            if now >= o.deadline {
                attemptFailed(c, o)
            } else {
                watch(c, o)
            }
        }
        watched.removeAll(keepingCapacity: true)
    }

    /// IP-S13: the backend is connected; counts it and starts writing the first bytes.
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

    /// IP-S13: writes what is left of the first bytes; splicing starts once they are all written.
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
        counters.spliced.add(1, ordering: .relaxed)
        service(c)
    }

    /// Moves what can move both ways; closes the connection when it is over (IP-S9).
    private func service(_ c: SplicedConnection) {
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
        let upOK = pump(&c.up, from: c.client, to: c.backend, budget: &budget, counter: c.counters.bytesToBackend)
        let downOK = upOK && pump(&c.down, from: c.backend, to: c.client, budget: &budget, counter: c.counters.bytesToClient)
        if budget != sliceBytes { c.lastActive = clock() }
        if !downOK || (c.up.done && c.down.done) {
            close(c)
        } else if budget <= 0 && !c.queued {
            c.queued = true
            ready.append(c.index)
        }
    }

    /// One direction (IP-S8, IP-S9, IP-S11): false when a side failed.
    private func pump(_ d: inout SpliceDirection, from source: Int32, to destination: Int32, budget: inout Int,
                      counter: borrowing Atomic<Int>) -> Bool {
        while true {
            var moved = false
            if !d.eof && d.fill < d.capacity && budget > 0 {
                let n = CSplice_move(source, d.writeEnd, d.capacity - d.fill)
                if n > 0 {
                    d.fill += n
                    budget -= n
                    counter.add(n, ordering: .relaxed)
                    moved = true
                } else if n == 0 {
                    d.eof = true
                    moved = true
                } else if n != -EAGAIN && n != -EINTR {
                    return false
                }
            }
            if d.fill > 0 {
                let n = CSplice_move(d.readEnd, destination, d.fill)
                if n > 0 {
                    d.fill -= n
                    moved = true
                } else if n != -EAGAIN && n != -EINTR {
                    return false
                }
            }
            if d.eof && d.fill == 0 && !d.shut {
                d.shut = true
                let r = CSplice_shutdown_write(destination)
                if r != 0 && r != -ENOTCONN { return false }
            }
            if !moved { return true }
        }
    }

    /// IP-S10: closes connections idle for `idleTimeout`.
    private func sweep(now: UInt64) {
        for case let c? in table where c.opening == nil && now &- c.lastActive >= idleTimeout && now > c.lastActive {
            counters.idleClosed.add(1, ordering: .relaxed)
            close(c)
        }
    }

    /// An empty pipe goes back to the pool; one with bytes left is closed.
    private func recycle(_ d: SpliceDirection) {
        if d.fill == 0 && !stopping.load(ordering: .relaxed) {
            relay.giveBack(SplicePipe(readEnd: d.readEnd, writeEnd: d.writeEnd, capacity: d.capacity))
        } else {
            _ = CSplice_close(d.readEnd)
            _ = CSplice_close(d.writeEnd)
        }
    }

    private func close(_ c: SplicedConnection) {
        _ = CSplice_close(c.client)
        if c.backend >= 0 { _ = CSplice_close(c.backend) }
        if let o = c.opening { endAttempt(o) }
        c.backendState?.active.subtract(1, ordering: .relaxed)
        recycle(c.up)
        recycle(c.down)
        if c.index >= 0 && c.index < table.count && table[c.index] === c {
            table[c.index] = nil
            generations[c.index] &+= 1
            free.append(c.index)
        }
        held.subtract(1, ordering: .relaxed)
        c.release()
    }
}
