// Upstream queries of the UDP listener threads, without SwiftNIO (rules N2, N3 of docs/dns64.md; RFC 5452 §9.2
// and §10 for ID and source-port randomness; D16 for the client deadline).
//
// Why not the NIO pool (UpstreamSocketPool.swift), which TCP queries still use: a cold answer costs two upstream
// queries, and through NIO each one was a hop from the listener thread to an event loop (an eventfd write and a
// wake-up), a promise, a future chain, a scheduled timer, an envelope and a ByteBuffer, and the reply went back
// from the event loop's thread. Profiles of cold resolution put most of the server's CPU there, not in DNS work.
// Here the listener thread that received the query drives its state machine to the end itself: it sends from
// its own connected upstream sockets, waits for them in the same epoll as its listening socket, and keeps the
// timeouts in a heap on its own monotonic clock. One thread, no locks beyond the shared cache and in-flight table.
//
// The defences are the pool's (see there): per upstream `upstream-ports` connected sockets per thread, each on a
// kernel-chosen random ephemeral port and replaced after `queriesPerSocket` queries; a random ID no other query
// waiting on that socket uses; an answer counts only if it comes from the upstream (the connected socket checks
// address and port), carries the ID and echoes the question (`UpstreamMatcher`). An ICMP port unreachable fails
// every query waiting on that socket at once (ECONNREFUSED), so failover does not wait for the timeout. A
// truncated answer is asked again over TCP on an event loop (rare; NIO's TCP client does it), and the machine
// goes on there.
//
// Bounds: resolutions in progress are bounded by the server's `maxConcurrentQueries` (admission counts them
// across threads); sockets by upstreams × `upstream-ports` plus retired ones that still have queries waiting;
// the timer heap by the resolutions in progress.
import CDNSSocket
import Listening
import Logging
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// The upstream side of one listener thread. Owned by that thread; every call comes from it.
struct UpstreamLane: ~Copyable {
    /// The epoll tag of the listening socket (upstream sockets use their index and a 31-bit generation).
    static let listenerTag: UInt64 = 1 << 63
    /// Datagrams per receive on an upstream socket.
    static let receiveBatch = 8

    private let epoll: Int32
    private let server: DNS64Server
    private let client: UpstreamClient
    private let loops: any EventLoopGroup
    private let addresses: [(storage: sockaddr_storage, length: UInt32)]
    private let portsPerUpstream: Int
    private let queriesPerSocket: Int
    private let timeout: UInt64

    private var sockets: [LaneSocket] = []
    private var freeSockets: [Int32] = []
    private var generation: UInt32 = 0
    /// Per upstream, `portsPerUpstream` slots: the index of the socket in service there, or -1.
    private var slots: [[Int32]]
    private var pendings: [Pending?] = []
    private var freePendings: [Int32] = []
    private var due = DueHeap()
    private var random = RandomPool()
    private let buffer: UnsafeMutableRawPointer
    private let batch: UnsafeMutablePointer<CDNS_datagram>
    /// How an upstream socket is made: `CDNS_upstream_socket` (the fd, or -errno). Tests put a stand-in here
    /// (a descriptor shortage on demand).
    var openSocket: (_ upstream: UnsafePointer<sockaddr>, _ length: UInt32, _ failedCall: inout UnsafePointer<CChar>?)
        -> Int32 = { CDNS_upstream_socket($0, $1, &$2) }

    /// One upstream socket: the queries waiting on it by ID, how many it has carried.
    private struct LaneSocket {
        /// -1 when this entry is free.
        var fd: Int32
        var upstream: Int
        var slot: Int
        var generation: UInt32
        var sent = 0
        var retired = false
        var waiting: [(id: UInt16, pending: Int32)] = []
    }

    /// One resolution in progress: its machine, the upstream query of its current step and the attempt out.
    private struct Pending {
        var machine: QueryStateMachine
        var key: CacheKey
        var query: UpstreamQuery
        /// N3: the upstreams in order of health when this step began, and which one is being tried.
        var order: [Int]
        var position = 0
        /// The socket and ID of the attempt out (socket -1: none).
        var socket: Int32 = -1
        var id: UInt16 = 0
        var started: UInt64 = 0
    }

    /// - Parameters:
    ///   - epoll: the thread's epoll instance; upstream sockets are added to it (the caller keeps it open
    ///     longer than the lane and has its own sockets on it under `listenerTag`).
    ///   - server: whose upstreams, counters, cache and in-flight table the resolutions use.
    ///   - loops: event loops for the TCP retry of a truncated answer.
    init(epoll: Int32, server: DNS64Server, loops: any EventLoopGroup) {
        self.epoll = epoll
        self.server = server
        client = server.upstreamClient
        self.loops = loops
        addresses = client.upstreams.map(\.storage)
        portsPerUpstream = client.sockets.socketsPerUpstream
        queriesPerSocket = client.sockets.queriesPerSocket
        timeout = client.timeout.nanosecondCount
        slots = Array(repeating: Array(repeating: -1, count: portsPerUpstream), count: client.upstreams.count)
        buffer = UnsafeMutableRawPointer.allocate(byteCount: Self.receiveBatch * UDPReceive.slot, alignment: 16)
        batch = UnsafeMutablePointer<CDNS_datagram>.allocate(capacity: Self.receiveBatch)
        batch.initialize(repeating: CDNS_datagram(), count: Self.receiveBatch)
        for i in 0..<Self.receiveBatch {
            batch[i].base = buffer + i * UDPReceive.slot
            batch[i].capacity = UInt32(UDPReceive.slot)
        }
    }

    deinit {
        for socket in sockets where socket.fd >= 0 { close(socket.fd) }
        buffer.deallocate()
        batch.deallocate()
    }

    /// Resolutions in progress on this lane.
    var resolving: Int { pendings.count - freePendings.count }

    /// Upstream sockets open on this lane (in their slots or retired with queries still waiting).
    var openSockets: Int { sockets.count - freeSockets.count }

    /// How long the thread may wait for input before the next timeout is due (epoll's milliseconds, rounded
    /// up; -1 when nothing waits).
    func waitMilliseconds(now: UInt64) -> Int32 {
        guard let first = due.first else { return -1 }
        guard first.due > now else { return 0 }
        return Int32(min((first.due - now + 999_999) / 1_000_000, 60_000))
    }

    /// Drives a resolution `DNS64Server.admit` handed out: locally answered, or its first upstream query sent.
    mutating func start(_ machine: QueryStateMachine, key: CacheKey, now: UInt64) {
        var machine = machine
        switch machine.start() {
        case .reply(let reply):
            server.resolved(key, reply)
        case .askUpstream(let query):
            let p = allocate(Pending(machine: machine, key: key, query: query, order: client.health.order(now: now)))
            attempt(p, now: now)
        }
    }

    /// Reads the answers queued on the upstream socket behind `tag` (an epoll event).
    mutating func readable(_ tag: UInt64, now: UInt64) {
        let s = Int32(truncatingIfNeeded: tag & 0xffff_ffff)
        let generation = UInt32(truncatingIfNeeded: tag >> 32)
        for _ in 0..<4 {
            guard Int(s) < sockets.count, sockets[Int(s)].fd >= 0, sockets[Int(s)].generation == generation else {
                return
            }
            let n = CDNS_receive_now(sockets[Int(s)].fd, batch, UInt32(Self.receiveBatch))
            if n < 0 {
                if -n != EAGAIN && -n != EWOULDBLOCK { broken(s, error: -n, now: now) }
                return
            }
            for i in 0..<Int(n) {
                guard batch[i].truncated == 0 else {
                    client.counters.upstreamMismatches.add(1, ordering: .relaxed)  // cut: cannot be ours whole
                    continue
                }
                let bytes = Array(UnsafeRawBufferPointer(start: batch[i].base, count: Int(batch[i].length)))
                answer(bytes, on: s, generation: generation, now: now)
            }
            if Int(n) < Self.receiveBatch { return }
        }
    }

    /// Ends every attempt whose time is up (N3: the next upstream is tried; D16: none past the deadline).
    mutating func expire(now: UInt64) {
        while let first = due.first, first.due <= now {
            let p = first.pending
            due.remove(p)
            let s = pendings[Int(p)]!.socket
            let id = pendings[Int(p)]!.id
            if s >= 0 {
                sockets[Int(s)].waiting.removeAll { $0.id == id && $0.pending == p }
                pendings[Int(p)]!.socket = -1
                closeIfIdle(s)
            }
            failed(p, because: "\(UpstreamTimeout())", now: now)
            attempt(p, now: now)
        }
    }

    /// The thread is stopping: every resolution in progress ends without a reply (see
    /// `DNS64Server.abandoned`), uncached.
    /// - Returns: how many clients were waiting for them.
    @discardableResult
    mutating func abandonAll() -> Int {
        var clients = 0
        for (i, pending) in pendings.enumerated() {
            guard let pending else { continue }
            pendings[i] = nil
            clients += server.abandoned(pending.key)
        }
        freePendings = []
        pendings = []
        due = DueHeap()
        // Their sockets go too: an answer arriving later finds nothing waiting for it.
        for s in sockets.indices where sockets[s].fd >= 0 {
            sockets[s].waiting = []
            retire(Int32(s))
        }
        return clients
    }

    // MARK: - Steps

    /// Sends the pending's current query to the next upstream in its order, failing over past upstreams whose
    /// socket cannot send; with none left, or past the deadline, the step fails (`.failed` to the machine).
    private mutating func attempt(_ p: Int32, now: UInt64) {
        while true {
            let pending = pendings[Int(p)]!
            guard pending.position < pending.order.count, now < pending.machine.deadline else {
                deliver(.failed, to: p, now: now)
                return
            }
            let index = pending.order[pending.position]
            client.counters.upstreamQueries.add(1, ordering: .relaxed)
            let error = send(p, to: index, now: now)
            if error == 0 { return }
            // Out of descriptors or buffers here is this process's shortage, not the upstream's failure: the
            // attempt fails over, but the upstream keeps its place in the order (N3).
            let local = isResourceShortage(error) || error == EAGAIN || error == EWOULDBLOCK
            failed(p, because: "\(UDPListenerError(call: "send", code: error))", blame: !local, now: now)
        }
    }

    /// One UDP attempt: a random socket of upstream `index`, a random free ID. 0, or the errno that stopped it.
    private mutating func send(_ p: Int32, to index: Int, now: UInt64) -> Int32 {
        let s: Int32
        switch socket(for: index) {
        case .success(let index): s = index
        case .failure(let error): return error.code
        }
        guard sockets[Int(s)].waiting.count < 16_384 else {
            retire(s)  // never in practice: 4096 resolutions at most, spread over the slots
            return ENOBUFS
        }
        var id: UInt16
        repeat { id = random.uint16() } while sockets[Int(s)].waiting.contains { $0.id == id }
        let message = pendings[Int(p)]!.query.message(id: id).encoded()
        let fd = sockets[Int(s)].fd
        let sent = message.withUnsafeBytes { CDNS_send_one(fd, $0.baseAddress, $0.count) }
        if sent < 0 {
            let error = Int32(-sent)
            // A full buffer fails this attempt only; anything else (an ICMP error of an earlier query showing
            // here) ends the socket and every query waiting on it.
            if error != EAGAIN && error != EWOULDBLOCK && error != ENOBUFS { broken(s, error: error, now: now) }
            return error
        }
        sockets[Int(s)].sent += 1
        sockets[Int(s)].waiting.append((id, p))
        if sockets[Int(s)].sent >= queriesPerSocket { retire(s) }  // its last query: a fresh port next time
        pendings[Int(p)]!.socket = s
        pendings[Int(p)]!.id = id
        pendings[Int(p)]!.started = now
        let deadline = pendings[Int(p)]!.machine.deadline
        due.insert(p, due: now &+ min(timeout, deadline &- now))
        return 0
    }

    /// A datagram from socket `s`: the answer a waiting query matches (N3), or a counted mismatch.
    private mutating func answer(_ bytes: [UInt8], on s: Int32, generation: UInt32, now: UInt64) {
        guard sockets[Int(s)].fd >= 0, sockets[Int(s)].generation == generation,
            let header = DNSHeader(peeking: bytes),
            let w = sockets[Int(s)].waiting.firstIndex(where: { $0.id == header.id })
        else {
            client.counters.upstreamMismatches.add(1, ordering: .relaxed)
            return
        }
        let p = sockets[Int(s)].waiting[w].pending
        let pending = pendings[Int(p)]!
        let index = sockets[Int(s)].upstream
        let upstream = client.upstreams[index]
        guard
            let message = UpstreamMatcher(upstream: upstream, id: header.id, question: pending.query.question)
                .match(bytes, from: upstream)
        else {
            client.counters.upstreamMismatches.add(1, ordering: .relaxed)
            return
        }
        sockets[Int(s)].waiting.remove(at: w)
        pendings[Int(p)]!.socket = -1
        due.remove(p)
        closeIfIdle(s)
        client.counters.upstreamAnswered(after: now &- pending.started)
        client.health.succeeded(index)
        let received = UpstreamResult.answer(message, raw: bytes)
        let deadline = pending.machine.deadline
        guard message.header.flags.truncated, now < deadline else {
            deliver(received, to: p, now: now)
            return
        }
        // N2: ask again over TCP, on an event loop; the machine goes on there (the truncated answer stands if
        // TCP fails). D16: no TCP retry once the deadline has passed.
        release(p)
        let server = server
        let loop = loops.next()
        let machine = pending.machine
        let key = pending.key
        client.retryOverTCP(
            index, pending.query, truncated: received, timeout: .nanoseconds(Int64(clamping: min(timeout, deadline - now))),
            on: loop
        ).flatMap { result in
            var machine = machine
            let action = machine.upstreamAnswered(result, now: NIODeadline.now().uptimeNanoseconds)
            return server.step(machine, action, on: loop)
        }.whenSuccess { reply in server.resolved(key, reply) }
    }

    /// Feeds an upstream result to the pending's machine: its reply ends the resolution, or its next query goes
    /// out (the order of upstreams taken afresh, as each step of the NIO path does).
    private mutating func deliver(_ result: UpstreamResult, to p: Int32, now: UInt64) {
        var machine = pendings[Int(p)]!.machine
        switch machine.upstreamAnswered(result, now: now) {
        case .reply(let reply):
            let key = pendings[Int(p)]!.key
            release(p)
            server.resolved(key, reply)
        case .askUpstream(let query):
            pendings[Int(p)]!.machine = machine
            pendings[Int(p)]!.query = query
            pendings[Int(p)]!.order = client.health.order(now: now)
            pendings[Int(p)]!.position = 0
            attempt(p, now: now)
        }
    }

    /// An attempt that got no answer: counted, the upstream's health told unless the fault was ours (N3), the
    /// next upstream is next.
    private mutating func failed(_ p: Int32, because reason: String, blame: Bool = true, now: UInt64) {
        let pending = pendings[Int(p)]!
        let index = pending.order[pending.position]
        client.counters.upstreamFailures.add(1, ordering: .relaxed)
        if blame { client.health.failed(index, now: now) }
        client.logger.debug(
            "upstream attempt failed",
            metadata: [
                "upstream": "\(client.upstreams[index])", "question": "\(pending.query.question)", "error": "\(reason)",
            ])
        pendings[Int(p)]!.position += 1
    }

    /// Socket `s` failed (ECONNREFUSED from an ICMP port unreachable, or worse): it closes, and every query
    /// waiting on it fails over now (N3).
    private mutating func broken(_ s: Int32, error: Int32, now: UInt64) {
        _ = CDNS_take_error(sockets[Int(s)].fd)
        let waiting = sockets[Int(s)].waiting
        sockets[Int(s)].waiting = []
        retire(s)
        let reason = "\(UDPListenerError(call: "recv", code: error))"
        for (_, p) in waiting {
            due.remove(p)
            pendings[Int(p)]!.socket = -1
            failed(p, because: reason, now: now)
        }
        for (_, p) in waiting { attempt(p, now: now) }
    }

    // MARK: - Sockets

    /// The socket in a random slot of upstream `index`, opened when the slot is empty.
    private mutating func socket(for index: Int) -> Result<Int32, UDPListenerError> {
        let slot = random.below(portsPerUpstream)
        let current = slots[index][slot]
        if current >= 0 { return .success(current) }
        var failedCall: UnsafePointer<CChar>?
        let fd = withUnsafePointer(to: addresses[index].storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                openSocket($0, addresses[index].length, &failedCall)
            }
        }
        guard fd >= 0 else {
            return .failure(UDPListenerError(call: failedCall.map { String(cString: $0) } ?? "socket", code: -fd))
        }
        let s = freeSockets.popLast() ?? {
            sockets.append(LaneSocket(fd: -1, upstream: 0, slot: 0, generation: 0))
            return Int32(sockets.count - 1)
        }()
        generation = (generation &+ 1) & 0x7fff_ffff
        sockets[Int(s)] = LaneSocket(fd: fd, upstream: index, slot: slot, generation: generation)
        let added = CDNS_epoll_add(epoll, fd, UInt64(generation) << 32 | UInt64(UInt32(s)))
        guard added == 0 else {
            close(fd)
            sockets[Int(s)].fd = -1
            freeSockets.append(s)
            return .failure(UDPListenerError(call: "epoll_ctl", code: -added))
        }
        client.counters.upstreamSocketsOpened.add(1, ordering: .relaxed)
        slots[index][slot] = s
        return .success(s)
    }

    /// Takes socket `s` out of service: no new queries; it closes when the last waiting one ends.
    private mutating func retire(_ s: Int32) {
        let socket = sockets[Int(s)]
        if slots[socket.upstream][socket.slot] == s { slots[socket.upstream][socket.slot] = -1 }
        sockets[Int(s)].retired = true
        closeIfIdle(s)
    }

    private mutating func closeIfIdle(_ s: Int32) {
        guard sockets[Int(s)].fd >= 0, sockets[Int(s)].retired, sockets[Int(s)].waiting.isEmpty else { return }
        close(sockets[Int(s)].fd)  // also leaves the epoll set
        sockets[Int(s)].fd = -1
        freeSockets.append(s)
    }

    // MARK: - Pending slots

    private mutating func allocate(_ pending: Pending) -> Int32 {
        if let p = freePendings.popLast() {
            pendings[Int(p)] = pending
            return p
        }
        pendings.append(pending)
        return Int32(pendings.count - 1)
    }

    private mutating func release(_ p: Int32) {
        due.remove(p)
        pendings[Int(p)] = nil
        freePendings.append(p)
    }
}

/// A binary min-heap of pending resolutions by due time, with each one's place kept so a resolution answered in
/// time leaves the heap at once (no dead entries piling up at thousands of answers a second). Our own: the
/// heaps of swift-collections and NIO have no removal of an arbitrary element.
struct DueHeap {
    private var entries: [(due: UInt64, pending: Int32)] = []
    /// Per pending index, its place in `entries`, or -1.
    private var places: [Int32] = []

    var first: (due: UInt64, pending: Int32)? { entries.first }
    var count: Int { entries.count }

    /// Adds `pending` (not in the heap) due at `due`.
    mutating func insert(_ pending: Int32, due: UInt64) {
        let p = Int(pending)
        if p >= places.count { places.append(contentsOf: repeatElement(-1, count: p + 1 - places.count)) }
        precondition(places[p] < 0, "pending already has a timer")
        entries.append((due, pending))
        places[p] = Int32(entries.count - 1)
        _ = siftUp(entries.count - 1)
    }

    /// Removes `pending` if it is in the heap.
    mutating func remove(_ pending: Int32) {
        let p = Int(pending)
        guard p < places.count, places[p] >= 0 else { return }
        let i = Int(places[p])
        places[p] = -1
        let last = entries.removeLast()
        guard i < entries.count else { return }
        entries[i] = last
        places[Int(last.pending)] = Int32(i)
        if siftDown(i) == i { _ = siftUp(i) }
    }

    private mutating func swapAt(_ a: Int, _ b: Int) {
        entries.swapAt(a, b)
        places[Int(entries[a].pending)] = Int32(a)
        places[Int(entries[b].pending)] = Int32(b)
    }

    private mutating func siftUp(_ start: Int) -> Int {
        var i = start
        while i > 0 {
            let parent = (i - 1) / 2
            guard entries[i].due < entries[parent].due else { break }
            swapAt(i, parent)
            i = parent
        }
        return i
    }

    private mutating func siftDown(_ start: Int) -> Int {
        var i = start
        while true {
            let left = 2 * i + 1
            guard left < entries.count else { return i }
            let right = left + 1
            let child = right < entries.count && entries[right].due < entries[left].due ? right : left
            guard entries[child].due < entries[i].due else { return i }
            swapAt(i, child)
            i = child
        }
    }
}

/// Random numbers for IDs and slots from the kernel's generator, 512 bytes per system call (RFC 5452 §9.2 asks
/// for unpredictable IDs; the standard library's generator makes one getrandom call per number).
struct RandomPool {
    private var words = [UInt64](repeating: 0, count: 64)
    private var next = 64

    private mutating func word() -> UInt64 {
        if next == words.count {
            let r = words.withUnsafeMutableBytes { CDNS_random($0.baseAddress, $0.count) }
            if r != 0 {
                var system = SystemRandomNumberGenerator()
                for i in words.indices { words[i] = system.next() }
            }
            next = 0
        }
        defer { next += 1 }
        return words[next]
    }

    mutating func uint16() -> UInt16 { UInt16(truncatingIfNeeded: word()) }

    /// A number in 0..<n (n > 0); the modulo bias of 64 random bits is below 2^-50 for any n used here.
    mutating func below(_ n: Int) -> Int { Int(word() % UInt64(n)) }
}
