// The byte mover for established connections: splice(2) through one pipe per direction, socket → pipe →
// socket, so relayed bytes never enter user space.
//
// Where it runs: a small pool of relay threads (one per core), each with its own epoll instance. SwiftNIO has no
// channel type that splices and no public way to put a raw descriptor on its selector, so a connection leaves
// NIO once it is routed: the FrontHandler has read and replayed the first bytes and the PROXY header has been
// written, then both sockets are duplicated, NIO's channels are closed (closing NIO's descriptor only drops a
// reference; the socket lives on in the duplicate) and a relay thread takes the two duplicates. NIO keeps
// everything before that point (accepting, admission, the first-bytes parse, the backend connect and its
// timeout); the relay threads do only the byte moving, and never allocate per chunk: a connection costs one
// object and two pipes (taken from a bounded pool of empty pipes when one is there) when it arrives.
// When splicing is not possible (the descriptors cannot be found or duplicated, no pipe can be made, the
// threads did not start, or `ProxySettings.byteMover` is `.nio`) the connection stays on NIO's relay
// (GlueHandler), counted as a splice fallback.
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

/// What a relay thread holds for one connection. Touched only by its thread once handed over.
final class SplicedConnection: @unchecked Sendable {
    let client: Int32
    let backend: Int32
    /// Client → backend.
    var up: SpliceDirection
    /// Backend → client.
    var down: SpliceDirection
    let counters: RouteCounters
    /// Gives back the connection's places (admission, route, backend); called once when it ends.
    let release: @Sendable () -> Void
    var lastActive: UInt64 = 0
    var index = -1
    var queued = false

    init(client: Int32, backend: Int32, pipes: (SplicePipe, SplicePipe), counters: RouteCounters,
         release: @escaping @Sendable () -> Void) {
        self.client = client
        self.backend = backend
        up = SpliceDirection(readEnd: pipes.0.readEnd, writeEnd: pipes.0.writeEnd, capacity: pipes.0.capacity)
        down = SpliceDirection(readEnd: pipes.1.readEnd, writeEnd: pipes.1.writeEnd, capacity: pipes.1.capacity)
        self.counters = counters
        self.release = release
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
    init?(threads: Int, pipeSize: Int, sliceBytes: Int = 1 << 20, idleTimeout: UInt64, clock: @escaping @Sendable () -> UInt64,
          counters: ProxyCounters) {
        var workers: [SpliceWorker] = []
        for _ in 0..<max(1, threads) {
            guard let w = SpliceWorker(sliceBytes: sliceBytes, idleTimeout: idleTimeout, clock: clock, counters: counters)
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
}

/// One relay thread: an epoll loop over the connections it holds (IP-S8–IP-S12).
final class SpliceWorker: @unchecked Sendable {
    // Shared with other threads: the inbox (under its lock), the wake-up eventfd, `stopping`, `held`.
    private let epoll: Int32
    private let wake: Int32
    private let inbox = Mutex<[SplicedConnection]>([])
    private let stopping = Atomic<Bool>(false)
    let held = Atomic<Int>(0)
    unowned(unsafe) var relay: SpliceRelay!
    private var thread: pthread_t?

    // Owned by the thread.
    private let sliceBytes: Int
    private let idleTimeout: UInt64
    private let clock: @Sendable () -> UInt64
    private let counters: ProxyCounters
    private var table: [SplicedConnection?] = []
    private var generations: [UInt32] = []
    private var free: [Int] = []
    private var ready: [Int] = []
    private var again: [Int] = []
    private var tags = [UInt64](repeating: 0, count: 64)
    private var nextSweep: UInt64 = 0
    private static let wakeTag = UInt64.max

    init?(sliceBytes: Int, idleTimeout: UInt64, clock: @escaping @Sendable () -> UInt64, counters: ProxyCounters) {
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
            let n = tags.withUnsafeMutableBufferPointer {
                CSplice_epoll_wait(epoll, $0.baseAddress, Int32($0.count), ready.isEmpty ? 1000 : 0)
            }
            for i in 0..<max(0, Int(n)) {
                let tag = tags[i]
                if tag == Self.wakeTag {
                    CSplice_eventfd_drain(wake)
                    takeInbox()
                    continue
                }
                let index = Int(tag & 0xFFFF_FFFF)
                guard index < table.count, generations[index] == UInt32(tag >> 32), let c = table[index] else { continue }
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
            if now >= nextSweep {
                nextSweep = now &+ 1_000_000_000
                sweep(now: now)
            }
        }
        takeInbox()
        for case let c? in table { close(c) }
    }

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
            let tag = UInt64(generations[index]) << 32 | UInt64(index)
            guard !stopping.load(ordering: .relaxed), CSplice_epoll_add(epoll, c.client, tag) == 0,
                  CSplice_epoll_add(epoll, c.backend, tag) == 0 else {
                close(c)
                continue
            }
            service(c)
        }
    }

    /// Moves what can move both ways; closes the connection when it is over (IP-S9).
    private func service(_ c: SplicedConnection) {
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
        for case let c? in table where now &- c.lastActive >= idleTimeout && now > c.lastActive {
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
        _ = CSplice_close(c.backend)
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
