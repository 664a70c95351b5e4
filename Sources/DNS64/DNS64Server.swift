// The DNS64 service: UDP listeners (N1, UDP only so far), intake (D10, N5), the query state machine
// (D1–D7, D11) and the upstream client (N3), wired together.
import Logging
import NIOCore
import NIOPosix
import Synchronization

/// Why the server could not start.
public struct DNS64ServerError: Error, CustomStringConvertible {
    /// The address that could not be bound.
    public var address: SocketAddress
    /// The system's explanation (the errno text from NIO's `IOError`).
    public var reason: String

    public var description: String { "DNS64: cannot listen on \(address): \(reason)" }
}

/// A DNS64 (RFC 6147) forwarder on UDP. Start it once, stop it once; safe to use from any task.
public final class DNS64Server: Sendable {
    /// The configuration it was created with.
    public let configuration: DNS64Configuration
    let logger: Logger
    private let group: any EventLoopGroup
    private let intake: QueryIntake
    private let upstream: UpstreamClient
    private let store = CounterStore()
    private let channels = Mutex<[any Channel]>([])

    /// Creates a server; nothing is bound until `start()`.
    /// - Parameters:
    ///   - configuration: listeners, upstreams, prefixes, allow list.
    ///   - group: event loops for all sockets (listeners and upstream queries).
    ///   - logger: where to log; per-query events are at debug level.
    public init(configuration: DNS64Configuration, group: any EventLoopGroup, logger: Logger) {
        self.configuration = configuration
        self.group = group
        self.logger = logger
        intake = QueryIntake(allowedClients: configuration.allowedClients, policy: configuration.policy)
        let store = store
        upstream = UpstreamClient(
            upstreams: configuration.upstreams, timeout: configuration.upstreamTimeout, group: group, logger: logger,
            failures: { store.upstreamFailures.add(1, ordering: .relaxed) })
    }

    /// Binds every listen address. On failure, closes what was bound and throws.
    /// - Throws: `DNS64ServerError` naming the address and the errno text.
    public func start() async throws {
        for address in configuration.listen {
            let bootstrap = DatagramBootstrap(group: group).channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(QueryHandler(server: self))
                }
            }
            do {
                let channel = try await bootstrap.bind(to: address).get()
                channels.withLock { $0.append(channel) }
                logger.info("DNS64 listening", metadata: ["address": "\(channel.localAddress.map { "\($0)" } ?? "?")"])
            } catch {
                await stop()
                throw DNS64ServerError(address: address, reason: "\(error)")
            }
        }
    }

    /// Closes all listeners. Queries in progress finish, but their replies are dropped.
    public func stop() async {
        let open = channels.withLock { list in
            defer { list.removeAll() }
            return list
        }
        for channel in open { try? await channel.close() }
    }

    /// The addresses actually bound (with the real port when `listen` asked for port 0).
    public var boundAddresses: [SocketAddress] {
        channels.withLock { $0.compactMap(\.localAddress) }
    }

    /// A snapshot of the counters.
    public var counters: DNS64Counters { store.snapshot }

    /// One datagram from `client`: intake at once, then (for accepted queries) a task that resolves it.
    /// `send` is called at most once, with the reply bytes.
    func handle(_ bytes: [UInt8], from client: SocketAddress, send: @escaping @Sendable ([UInt8]) -> Void) {
        switch intake.accept(bytes, from: client) {
        case .drop:
            return
        case .reply(let reply):
            store.queries.add(1, ordering: .relaxed)
            store.count(reply.outcome)
            send(reply.bytes)
        case .resolve(let machine):
            store.queries.add(1, ordering: .relaxed)
            guard store.inFlight.add(1, ordering: .relaxed).newValue <= configuration.maxConcurrentQueries else {
                store.inFlight.subtract(1, ordering: .relaxed)
                store.overloadDrops.add(1, ordering: .relaxed)
                return
            }
            Task {
                let reply = await resolve(machine)
                store.inFlight.subtract(1, ordering: .relaxed)
                store.count(reply.outcome)
                send(reply.bytes)
            }
        }
    }

    /// Drives one state machine to its reply through the upstream client.
    func resolve(_ machine: QueryStateMachine) async -> DNSReply {
        var machine = machine
        var action = machine.start()
        while true {
            switch action {
            case .reply(let reply):
                return reply
            case .askUpstream(let query):
                action = machine.upstreamAnswered(await upstream.resolve(query))
            }
        }
    }
}
