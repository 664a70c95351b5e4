// The DNS64 service: UDP and TCP listeners (N1), intake (D10, N5), the answer cache with shared in-flight
// queries (N4), the query state machine (D1–D9, D11) and the upstream client (N2, N3), wired together.
import Listening
import Logging
import NIOCore
import NIOPosix
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Why the server could not start.
public struct DNS64ServerError: Error, CustomStringConvertible {
    /// The address that could not be bound.
    public var address: SocketAddress
    /// The system's explanation (the errno text from NIO's `IOError`).
    public var reason: String

    public var description: String { "DNS64: cannot listen on \(address): \(reason)" }
}

/// A DNS64 (RFC 6147) caching forwarder on UDP and TCP. Start it once, stop it once; safe to use from any task.
public final class DNS64Server: Sendable {
    /// The configuration it was created with.
    public let configuration: DNS64Configuration
    let logger: Logger
    private let group: any EventLoopGroup
    private let intake: QueryIntake
    private let upstream: UpstreamClient
    let store = CounterStore()
    let connections: ConnectionLimiter
    /// Failed accepts on the TCP listeners (file descriptors exhausted; see `Listening`).
    let acceptErrors = AcceptErrors()
    /// The answer cache, in shards with a lock each, so the event loops of several cores rarely wait (N4).
    private let cache: ShardedAnswerCache
    private let inFlight = Mutex<[CacheKey: [Waiter]]>([:])
    /// TCP listeners.
    private let channels = Mutex<[any Channel]>([])
    /// UDP listeners, each with its own thread (`UDPListener`).
    private let listeners = Mutex<[UDPListener]>([])
    /// D16: the client deadline in nanoseconds.
    private let clientDeadline: UInt64

    /// A client waiting for an answer being resolved.
    private struct Waiter: Sendable {
        var query: ClientQuery
        var sizeLimit: Int
        var send: @Sendable ([UInt8]) -> Void
    }

    /// Creates a server; nothing is bound until `start()`.
    /// - Parameters:
    ///   - configuration: listeners, upstreams, prefixes, allow list, cache limits.
    ///   - group: event loops for all sockets (listeners and upstream queries).
    ///   - logger: where to log; per-query events are at debug level.
    ///   - previous: a server this one replaces (a reload) whose cached answers stay valid: its cache is taken
    ///     over when the limits are the same.
    public init(configuration: DNS64Configuration, group: any EventLoopGroup, logger: Logger,
                keepingCacheOf previous: DNS64Server? = nil) {
        self.configuration = configuration
        self.group = group
        self.logger = logger
        intake = QueryIntake(
            allowedClients: configuration.allowedClients, policy: configuration.policy, groups: configuration.groups,
            recurseWithoutRD: configuration.recurseWithoutRD)
        clientDeadline = configuration.effectiveClientDeadline.nanosecondCount
        upstream = UpstreamClient(
            upstreams: configuration.upstreams, timeout: configuration.upstreamTimeout, group: group, logger: logger,
            counters: store, socketsPerUpstream: configuration.upstreamPortsPerLoop,
            queriesPerSocket: configuration.upstreamQueriesPerPort)
        cache = previous.flatMap { $0.configuration.cache == configuration.cache ? $0.cache : nil }
            ?? ShardedAnswerCache(limits: configuration.cache)
        connections = ConnectionLimiter(
            perClient: configuration.maxTCPConnectionsPerClient, total: configuration.maxTCPConnections)
    }

    /// Binds every listen address, UDP and TCP on the same port (N1). On failure, closes what was bound and throws.
    /// - Throws: `DNS64ServerError` naming the address and the errno text.
    public func start() async throws {
        for address in configuration.listen {
            do {
                let bound = try await bind(address)
                logger.info("DNS64 listening (UDP and TCP)", metadata: ["address": "\(bound)"])
            } catch {
                await stop()
                throw DNS64ServerError(address: address, reason: "\(error)")
            }
        }
    }

    /// The UDP sockets of one listen address and the TCP listener on the same port, with the UDP threads
    /// started. With port 0 the kernel picks a port free for UDP, which TCP may have in use (another program's
    /// connection): then the pick is dropped and made again, a few times.
    /// - Returns: the address bound.
    private func bind(_ address: SocketAddress) async throws -> SocketAddress {
        var attempt = 1
        while true {
            var made: [UDPListener] = []
            defer { listeners.withLock { $0 += made } }  // stop() closes them if anything below fails
            made.append(try UDPListener(binding: address, reusePort: configuration.udpSocketsPerAddress > 1))
            // With port 0 the kernel picked one: TCP and the extra UDP sockets take the same.
            let bound = made[0].localAddress
            for _ in 1..<max(1, configuration.udpSocketsPerAddress) {
                made.append(try UDPListener(binding: bound, reusePort: true))
            }
            do {
                let tcp = try await bindTCP(bound)
                channels.withLock { $0.append(tcp) }
            } catch let error as IOError where error.errnoCode == EADDRINUSE && address.port == 0 && attempt < 8 {
                for listener in made { await listener.stop() }
                made = []
                attempt += 1
                continue
            }
            for listener in made { try listener.start(server: self, loops: group) }
            return bound
        }
    }

    private func bindTCP(_ address: SocketAddress) async throws -> any Channel {
        let idle = TimeAmount(configuration.tcpIdleTimeout)
        let answerTime = TimeAmount.nanoseconds(Int64(clamping: clientDeadline))
        return try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .guardingAccept(listener: "dns64 tcp \(address)", errors: acceptErrors, logger: logger)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    try sync.addHandler(ByteToMessageHandler(DNSTCPFrameDecoder()))
                    try sync.addHandler(TCPQueryHandler(server: self, messageTimeout: idle, answerTime: answerTime))
                }
            }
            .bind(to: address).get()
    }

    /// Closes all listeners and the upstream sockets. Queries in progress end; their replies are dropped.
    public func stop() async {
        let open = channels.withLock { list in
            defer { list.removeAll() }
            return list
        }
        let udp = listeners.withLock { list in
            defer { list.removeAll() }
            return list
        }
        for listener in udp { await listener.stop() }
        for channel in open { try? await channel.close() }
        await upstream.sockets.shutdown()
        if !open.isEmpty || !udp.isEmpty { logger.info("DNS64 stopped", metadata: counters.metadata) }
    }

    /// The addresses actually bound (with the real port when `listen` asked for port 0), one per listen
    /// address (UDP; TCP listens on the same address and port).
    public var boundAddresses: [SocketAddress] {
        listeners.withLock { list in
            var seen: [SocketAddress] = []
            for address in list.map(\.localAddress) where !seen.contains(address) { seen.append(address) }
            return seen
        }
    }

    /// A snapshot of the counters.
    public var counters: DNS64Counters {
        var c = store.snapshot
        c.tcpAcceptErrors = acceptErrors.count
        return c
    }

    /// Entries in the answer cache (expired ones included until looked up or evicted).
    public var cachedAnswers: Int { cache.entries }

    /// Entries in each shard of the answer cache (`ctl dns64 cache`).
    public var cachedAnswersPerShard: [Int] { cache.entriesPerShard }

    /// Empties the answer cache; queries in flight still complete and store their answers.
    /// - Returns: how many entries went.
    public func flushCache() -> Int { cache.removeAll() }

    /// True when this server answers from `other`'s cache (it was started keeping it).
    public func sharesCache(with other: DNS64Server) -> Bool { cache === other.cache }

    /// What `admit` decided for one message.
    enum Admission {
        /// The reply, ready now (intake errors, cache hits, cache-only misses).
        case reply([UInt8])
        /// Nothing to send now: dropped, or joined a resolution in flight whose end sends the reply.
        case later
        /// The caller resolves this machine (the first asker of its key) and ends with `resolved(_:_:)`.
        case resolve(QueryStateMachine, CacheKey)
    }

    /// One message from `client`, resolved on NIO's event loop `loop` when it has to go upstream (TCP, and
    /// tests): `admit`, then the state machine through `UpstreamClient.resolve`.
    /// - Returns: the reply when it is ready at once (intake errors, cache hits); otherwise nil, and `send` is
    ///   called later, at most once, with the reply bytes (or never, when the query is dropped).
    func handle(
        _ bytes: [UInt8], from client: SocketAddress, overTCP: Bool, on loop: any EventLoop,
        send: @escaping @Sendable ([UInt8]) -> Void
    ) -> [UInt8]? {
        switch admit(bytes, from: client, overTCP: overTCP, send: send) {
        case .reply(let reply):
            return reply
        case .later:
            return nil
        case .resolve(let machine, let key):
            resolve(machine, on: loop).whenSuccess { reply in self.resolved(key, reply) }
            return nil
        }
    }

    /// One message from `client`: intake, then the cache (answered at once), else join the upstream resolution
    /// of the same question in flight, or hand the caller a new one to drive (N4).
    func admit(
        _ bytes: [UInt8], from client: SocketAddress, overTCP: Bool, send: @escaping @Sendable ([UInt8]) -> Void
    ) -> Admission {
        switch intake.accept(bytes, from: client) {
        case .drop:
            return .later
        case .reply(let reply):
            store.queries.add(1, ordering: .relaxed)
            store.count(reply.outcome, bytes: reply.bytes)
            return .reply(reply.bytes)
        case .resolve(let machine):
            store.queries.add(1, ordering: .relaxed)
            store.countQuery(type: machine.query.question.type)
            let sizeLimit = overTCP ? Int(UInt16.max) : machine.query.replySizeLimit
            let key = CacheKey(machine)
            let now = NIODeadline.now().uptimeNanoseconds
            if let (answer, age) = cache.lookup(key, now: now) {
                store.cacheHits.add(1, ordering: .relaxed)
                let reply = answer.render(for: machine.query, sizeLimit: sizeLimit, age: age)
                store.count(answer.outcome, bytes: reply)
                return .reply(reply)
            }
            store.cacheMisses.add(1, ordering: .relaxed)
            if machine.cacheOnly {
                // D13: RD=0 and not cached. The machine answers without asking upstream (it never asks in this
                // mode), and the query joins no resolution in flight either.
                var machine = machine
                if case .reply(let reply) = machine.start() {
                    store.count(reply.outcome, bytes: reply.bytes)
                    return .reply(reply.bytes)
                }
                return .later
            }
            let waiter = Waiter(query: machine.query, sizeLimit: sizeLimit, send: send)
            let first = inFlight.withLock { table -> Bool in
                if table[key] != nil {
                    table[key]!.append(waiter)
                    return false
                }
                table[key] = [waiter]
                return true
            }
            guard first else {
                store.inFlightJoins.add(1, ordering: .relaxed)
                return .later
            }
            guard store.inFlight.add(1, ordering: .relaxed).newValue <= configuration.maxConcurrentQueries else {
                store.inFlight.subtract(1, ordering: .relaxed)
                store.overloadDrops.add(1, ordering: .relaxed)
                _ = inFlight.withLock { $0.removeValue(forKey: key) }
                return .later
            }
            // Resolve the answer whole: each waiter's copy is cut to its own size in `finish`.
            var whole = machine.query
            whole.replySizeOverride = Int(UInt16.max)
            var resolver = QueryStateMachine(
                query: whole, policy: machine.policy, group: machine.group, reversePrefixes: machine.reversePrefixes)
            resolver.deadline = now &+ clientDeadline  // D16
            return .resolve(resolver, key)
        }
    }

    /// The end of a resolution `admit` handed out: the answer is cached and sent to every waiting client.
    func resolved(_ key: CacheKey, _ reply: DNSReply) {
        store.inFlight.subtract(1, ordering: .relaxed)
        finish(key, reply)
    }

    /// A resolution `admit` handed out that cannot go on (its thread is stopping: the server is being stopped
    /// or replaced by a reload). Its waiting clients get no reply, as for any query the server drops: their
    /// retry reaches the server that takes over, where a SERVFAIL now could make a stub resolver give up.
    /// Nothing is cached and the key leaves the in-flight table.
    /// - Returns: how many clients were waiting.
    @discardableResult
    func abandoned(_ key: CacheKey) -> Int {
        store.inFlight.subtract(1, ordering: .relaxed)
        return inFlight.withLock { $0.removeValue(forKey: key)?.count ?? 0 }
    }

    /// The upstream client (its configuration, health and counters are shared by every thread that resolves).
    var upstreamClient: UpstreamClient { upstream }

    /// Whether `client` is on the allow list (D10).
    func isAllowed(_ client: SocketAddress) -> Bool {
        intake.allowedClients.contains(where: { $0.contains(client) })
    }

    /// The N4 fast path: the cached reply to a plain query (see `PlainQuery`) from an allowed client, read
    /// straight from the datagram. nil for anything else (a miss, another shape, a client not on the allow list):
    /// then `handle` takes the message through intake.
    /// `keyBuffer`: the caller's reusable storage for the cache key (see `PlainQuery`).
    func cachedReply(_ raw: UnsafeRawBufferPointer, from client: SocketAddress, overTCP: Bool,
                     keyBuffer: inout [UInt8]) -> [UInt8]? {
        guard let ip = ClientIP(client) else { return nil }
        return cachedReply(raw, from: ip, overTCP: overTCP, keyBuffer: &keyBuffer)
    }

    /// `cachedReply(_:from:overTCP:keyBuffer:)` for a client known by its address alone (the UDP listener
    /// threads: no `SocketAddress` is built for a cache hit).
    func cachedReply(_ raw: UnsafeRawBufferPointer, from client: ClientIP, overTCP: Bool,
                     keyBuffer: inout [UInt8]) -> [UInt8]? {
        guard configuration.cache.maxEntries > 0, let query = PlainQuery(raw, keyBuffer: &keyBuffer),
            intake.allowedClients.contains(where: { $0.contains(client) })
        else { return nil }
        let bits: UInt8 = (query.dnssecOK == true ? 1 : 0) | (query.checkingDisabled ? 2 : 0)
        let key = CacheKey(
            name: query.key, type: query.type, qclass: query.qclass, bits: bits, group: intake.group(for: client))
        let now = NIODeadline.now().uptimeNanoseconds
        guard let (answer, age) = cache.lookup(key, now: now) else { return nil }
        let reply = answer.render(
            id: query.id, recursionDesired: query.recursionDesired, dnssecOK: query.dnssecOK,
            sizeLimit: overTCP ? Int(UInt16.max) : query.replySizeLimit, age: age
        ) { out, nameEnd in
            guard nameEnd == query.nameEnd else { return }
            for i in DNSHeader.length..<nameEnd { out[i] = raw[i] }  // the client's spelling
        }
        store.queries.add(1, ordering: .relaxed)
        store.countQuery(type: DNSRecordType(rawValue: query.type))
        store.cacheHits.add(1, ordering: .relaxed)
        store.count(answer.outcome, bytes: reply)
        return reply
    }

    /// Stores a resolved answer and sends it to every client waiting for it.
    private func finish(_ key: CacheKey, _ reply: DNSReply) {
        let answer = CachedAnswer(reply, limits: configuration.cache)
        let now = NIODeadline.now().uptimeNanoseconds
        // Insert before waking the waiters, so a query arriving now finds the cache, not an empty table.
        let waiters = cache.withShard(for: key) { cache in
            if let answer { cache.insert(key, answer, now: now) }
            return inFlight.withLock { $0.removeValue(forKey: key) ?? [] }
        }
        for waiter in waiters {
            let bytes =
                answer?.render(for: waiter.query, sizeLimit: waiter.sizeLimit, age: 0)
                ?? waiter.query.reply(rcode: .servFail, outcome: .upstreamFailure).bytes
            store.count(answer?.outcome ?? .upstreamFailure, bytes: bytes)
            waiter.send(bytes)
        }
    }

    /// Drives one state machine to its reply through the upstream client, on `loop`.
    func resolve(_ machine: QueryStateMachine, on loop: any EventLoop) -> EventLoopFuture<DNSReply> {
        var machine = machine
        let action = machine.start()
        return step(machine, action, on: loop)
    }

    /// Goes on with `machine` on `loop` from `action` (also where a listener thread hands a query over to NIO:
    /// the retry over TCP).
    func step(_ machine: QueryStateMachine, _ action: QueryAction, on loop: any EventLoop) -> EventLoopFuture<DNSReply> {
        switch action {
        case .reply(let reply):
            return loop.makeSucceededFuture(reply)
        case .askUpstream(let query):
            return upstream.resolve(query, deadline: machine.deadline, on: loop).flatMap { result in
                var next = machine
                let action = next.upstreamAnswered(result, now: NIODeadline.now().uptimeNanoseconds)
                return self.step(next, action, on: loop)
            }
        }
    }
}
