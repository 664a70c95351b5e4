// The proxy's counters and its admission limits. Every refused or cut connection is counted by reason.
//
// Rules (IP-L*, tested in AdmissionTests):
//   IP-L1  at most `maxConnections` connections are open at once (accepted and not yet closed); one more is
//          refused (closed at once) and counted as total-limit.
//   IP-L2  at most `maxConnectionsPerClient` per client address; counted as client-limit. The table of
//          clients holds only addresses with open connections, so it is bounded by IP-L1.
//   IP-L3  at most the route's `maxConnections` through one route; counted as route-limit.

import Listening
import Synchronization

/// Why a connection was refused or cut before relaying.
public enum RefusalReason: String, Sendable, CaseIterable {
    case totalLimit = "total-limit"
    case clientLimit = "client-limit"
    case routeLimit = "route-limit"
    /// No route serves the name and the listener has no default route.
    case unknownName = "unknown-name"
    /// The first bytes were not a TLS ClientHello / HTTP/1.x request head.
    case invalidHandshake = "invalid-handshake"
    /// The ClientHello or request head was over the size limit.
    case oversizedHandshake = "oversized-handshake"
    /// The ClientHello or request head did not arrive within the handshake timeout.
    case handshakeTimeout = "handshake-timeout"
    /// The client closed before its route was known.
    case closedEarly = "closed-early"
    /// Every backend of the route failed to connect.
    case noBackend = "no-backend"
    /// No socket could be made for the backend (descriptors, buffers or memory exhausted here): the client is
    /// closed and no backend is marked down for it.
    case resourceShortage = "resource-shortage"
}

/// Counters of the whole proxy.
public final class ProxyCounters: Sendable {
    public let accepted = Atomic<Int>(0)
    public let relayed = Atomic<Int>(0)
    public let active = Atomic<Int>(0)
    public let idleClosed = Atomic<Int>(0)
    public let connectFailures = Atomic<Int>(0)
    public let healthChecks = Atomic<Int>(0)
    public let healthCheckFailures = Atomic<Int>(0)
    /// Connections whose bytes the relay threads splice (IP-S8), counted once the first bytes are written.
    public let spliced = Atomic<Int>(0)
    /// Routed connections on the relay threads that got no pipe (closed: there is no NIO channel to fall
    /// back to; IP-S14).
    public let spliceFallbacks = Atomic<Int>(0)
    /// Connections handed to the kernel (`offload`, Offload.swift): begun, completed (the proxy's sockets
    /// closed, the kernel carries the connection), declined (not eligible, or no slot), abandoned (not
    /// completed in time: closed).
    public let offloadBegun = Atomic<Int>(0)
    public let offloaded = Atomic<Int>(0)
    public let offloadDeclined = Atomic<Int>(0)
    public let offloadAbandoned = Atomic<Int>(0)
    /// Failed accepts (file descriptors exhausted); the listener pauses a second each time.
    public let acceptErrors = AcceptErrors()
    /// One counter per `RefusalReason`, in `allCases` order.
    private let refusals: [10 of Atomic<Int>] = InlineArray { _ in Atomic(0) }

    public init() {}

    private static func slot(_ reason: RefusalReason) -> Int { RefusalReason.allCases.firstIndex(of: reason)! }
    public func refused(_ reason: RefusalReason) -> Int { refusals[Self.slot(reason)].load(ordering: .relaxed) }
    public func countRefusal(_ reason: RefusalReason) { refusals[Self.slot(reason)].add(1, ordering: .relaxed) }

    /// `(name, value)` of every counter, for `ctl stats` and /metrics (`refused.REASON` per reason).
    public var fields: [(name: String, value: Int)] {
        [("accepted", accepted.load(ordering: .relaxed)), ("relayed", relayed.load(ordering: .relaxed)),
         ("active", active.load(ordering: .relaxed)), ("idle-closed", idleClosed.load(ordering: .relaxed)),
         ("connect-failures", connectFailures.load(ordering: .relaxed)),
         ("health-checks", healthChecks.load(ordering: .relaxed)),
         ("health-check-failures", healthCheckFailures.load(ordering: .relaxed)),
         ("accept-errors", acceptErrors.count),
         ("spliced", spliced.load(ordering: .relaxed)), ("splice-fallbacks", spliceFallbacks.load(ordering: .relaxed)),
         ("offload-begun", offloadBegun.load(ordering: .relaxed)), ("offloaded", offloaded.load(ordering: .relaxed)),
         ("offload-declined", offloadDeclined.load(ordering: .relaxed)),
         ("offload-abandoned", offloadAbandoned.load(ordering: .relaxed))]
            + RefusalReason.allCases.map { ("refused.\($0.rawValue)", refused($0)) }
    }
}

/// The connection limits (IP-L1, IP-L2), shared by every listener.
public final class Admission: Sendable {
    public let maxConnections: Int
    public let maxConnectionsPerClient: Int
    private let state = Mutex<(total: Int, perClient: [IPAddress: Int])>((0, [:]))

    public init(maxConnections: Int, maxConnectionsPerClient: Int) {
        self.maxConnections = maxConnections
        self.maxConnectionsPerClient = maxConnectionsPerClient
    }

    /// Takes a place for a connection from `client`, or says why not.
    public func admit(_ client: IPAddress) -> RefusalReason? {
        state.withLock { s in
            if s.total >= maxConnections { return .totalLimit }
            let n = s.perClient[client, default: 0]
            if n >= maxConnectionsPerClient { return .clientLimit }
            s.total += 1
            s.perClient[client] = n + 1
            return nil
        }
    }

    /// Gives back the place `admit` took.
    public func release(_ client: IPAddress) {
        state.withLock { s in
            s.total -= 1
            let n = s.perClient[client, default: 1] - 1
            s.perClient[client] = n > 0 ? n : nil
        }
    }

    /// Open connections, and distinct clients holding them.
    public var usage: (connections: Int, clients: Int) { state.withLock { ($0.total, $0.perClient.count) } }
}

extension RouteState {
    /// IP-L3: takes a place on the route, or false at its limit (counted).
    public func admit() -> Bool {
        let before = counters.active.wrappingAdd(1, ordering: .relaxed).oldValue
        if before >= configuration.maxConnections {
            counters.active.subtract(1, ordering: .relaxed)
            counters.refusedAtLimit.add(1, ordering: .relaxed)
            return false
        }
        counters.connections.add(1, ordering: .relaxed)
        return true
    }

    /// Gives back the place `admit` took.
    public func release() { counters.active.subtract(1, ordering: .relaxed) }
}
