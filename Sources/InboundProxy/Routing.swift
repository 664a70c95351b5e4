// Routes, backends and their selection: which backend a connection goes to, given the name it asked for.
// Pure logic with the time passed in (nanoseconds of a monotonic clock), so the tests set the clock.
//
// Rules (IP-R*, tested in RoutingTests):
//   IP-R1  a name matches a route's exact name first, then the longest `*.suffix` wildcard (which matches any
//          name ending in `.suffix`, at any depth, but not `suffix` itself); otherwise the listener's default
//          route; otherwise the connection is refused (counted as unknown-name).
//   IP-R2  round-robin takes the healthy backends in turn; least-connections takes the healthy backend with
//          the fewest open connections (ties in round-robin order).
//   IP-R3  passive health: a failed connect marks the backend down for `downTime`; a successful connect or
//          active check marks it up again. A down backend is skipped while another one is up. A socket that
//          could not even be made (descriptors, buffers or memory exhausted here) blames no backend: the
//          client is closed, counted resource-shortage.
//   IP-R4  when every backend is down, the proxy still tries them (a stale mark must not black-hole a route),
//          each at most once per connection.
//   IP-R5  `apply` swaps the routes atomically; connections already relayed keep their backend, and a backend
//          kept across the change (same route name and address) keeps its health and connection count.

import Synchronization

/// How a route picks among its backends.
public enum BalancePolicy: String, Sendable, CaseIterable {
    case roundRobin = "round-robin"
    case leastConnections = "least-connections"
}

/// What a listener expects the client to send first.
public enum ListenerMode: String, Sendable, CaseIterable {
    /// A TLS ClientHello: routed by its SNI, relayed without decryption.
    case tls
    /// An HTTP/1.x request head: routed by its Host.
    case http
    /// Anything: every connection goes to the listener's one route (SSH and other port forwards).
    case tcp
}

/// One route: the names it serves and the backends behind them.
public struct RouteConfiguration: Sendable, Equatable {
    public var name: String
    /// Exact names and `*.suffix` wildcards, lower case (IP-R1). Unused by `tcp` listeners.
    public var hostnames: [String]
    /// The backends, normally IPv6 addresses of IPv6-only hosts.
    public var backends: [IPEndpoint]
    public var balance: BalancePolicy = .roundRobin
    public var proxyProtocol: ProxyProtocolVersion = .none
    /// For `http` listeners: add `Forwarded` and `X-Forwarded-For` to the first request head.
    public var forwardedHeaders = false
    /// Most open connections through this route.
    public var maxConnections = 10_000

    public init(name: String, hostnames: [String], backends: [IPEndpoint]) {
        self.name = name
        self.hostnames = hostnames
        self.backends = backends
    }
}

/// One listener: where it listens, what it reads, and which routes it consults.
public struct ListenerConfiguration: Sendable, Equatable {
    public var name: String
    public var addresses: [IPEndpoint]
    public var mode: ListenerMode
    /// Routes whose names this listener serves (`tls`, `http`).
    public var routes: [String]
    /// The route for names no route has (`tls`, `http`), or the one route (`tcp`).
    public var defaultRoute: String?

    public init(name: String, addresses: [IPEndpoint], mode: ListenerMode, routes: [String], defaultRoute: String?) {
        self.name = name
        self.addresses = addresses
        self.mode = mode
        self.routes = routes
        self.defaultRoute = defaultRoute
    }
}

/// The health and load of one backend; shared by every connection to it, across route changes (IP-R5).
public final class BackendState: Sendable {
    public let endpoint: IPEndpoint
    /// Open connections relayed to it.
    public let active = Atomic<Int>(0)
    /// Connections relayed to it since start.
    public let connections = Atomic<Int>(0)
    /// Connects that failed (or timed out).
    public let connectFailures = Atomic<Int>(0)
    /// Down until this time (monotonic nanoseconds); 0 when up.
    let downUntil = Atomic<UInt64>(0)

    init(endpoint: IPEndpoint) { self.endpoint = endpoint }

    /// Whether it counts as up at `now` (IP-R3).
    public func isUp(now: UInt64) -> Bool { downUntil.load(ordering: .relaxed) <= now }

    /// IP-R3: a failed connect or check.
    public func markDown(now: UInt64, for downTime: UInt64) {
        downUntil.store(max(1, now &+ downTime), ordering: .relaxed)
    }

    /// IP-R3: a successful connect or check.
    public func markUp() { downUntil.store(0, ordering: .relaxed) }
}

/// Counters of a route, kept across route changes of the same name.
public final class RouteCounters: Sendable {
    public let active = Atomic<Int>(0)
    public let connections = Atomic<Int>(0)
    public let refusedAtLimit = Atomic<Int>(0)
    /// Bytes from clients to backends, and back.
    public let bytesToBackend = Atomic<Int>(0)
    public let bytesToClient = Atomic<Int>(0)
    init() {}
}

/// A route as the running proxy uses it.
public final class RouteState: Sendable {
    public let configuration: RouteConfiguration
    public let backends: [BackendState]
    public let counters: RouteCounters
    private let turn = Atomic<Int>(0)

    init(_ configuration: RouteConfiguration, previous: RouteState?) {
        self.configuration = configuration
        self.counters = previous?.counters ?? RouteCounters()
        self.backends = configuration.backends.map { endpoint in
            previous?.backends.first { $0.endpoint == endpoint } ?? BackendState(endpoint: endpoint)
        }
    }

    /// The next backend to try (IP-R2, IP-R3, IP-R4), skipping those in `tried` (indices); nil when all were tried.
    public func pick(now: UInt64, tried: Set<Int>) -> Int? {
        let candidates = backends.indices.filter { !tried.contains($0) }
        guard !candidates.isEmpty else { return nil }
        let up = candidates.filter { backends[$0].isUp(now: now) }
        let pool = up.isEmpty ? candidates : up  // IP-R4
        let start = turn.wrappingAdd(1, ordering: .relaxed).oldValue
        // Round-robin order: the pool rotated by the turn counter.
        let rotated = (0..<pool.count).map { pool[(start % pool.count + $0) % pool.count] }
        switch configuration.balance {
        case .roundRobin:
            return rotated[0]
        case .leastConnections:
            return rotated.min { backends[$0].active.load(ordering: .relaxed) < backends[$1].active.load(ordering: .relaxed) }
        }
    }
}

/// Name lookup for one listener (IP-R1).
public struct NameTable: Sendable {
    var exact: [String: String] = [:]
    /// (suffix with its leading dot, route), longest suffix first.
    var wildcards: [(suffix: String, route: String)] = []
    var defaultRoute: String?

    init(routes: [RouteConfiguration], defaultRoute: String?) {
        for route in routes {
            for name in route.hostnames {
                if name.hasPrefix("*.") {
                    wildcards.append((String(name.dropFirst()), route.name))
                } else if exact[name] == nil {
                    exact[name] = route.name
                }
            }
        }
        wildcards.sort { $0.suffix.utf8.count > $1.suffix.utf8.count }
        self.defaultRoute = defaultRoute
    }

    /// The route for `name` (nil: the connection asked for no name), or nil when none serves it.
    public func route(for name: String?) -> String? {
        guard let name else { return defaultRoute }
        if let r = exact[name] { return r }
        if let w = wildcards.first(where: { name.hasSuffix($0.suffix) && name.utf8.count > $0.suffix.utf8.count }) {
            return w.route
        }
        return defaultRoute
    }
}

/// Routes and listeners' name tables of one moment; replaced as a whole by `apply` (IP-R5).
public final class RouteTable: Sendable {
    public let routes: [String: RouteState]
    /// Route names in configuration order, for listings.
    public let order: [String]
    let names: [String: NameTable]

    /// A problem with a set of routes; the message names the route or listener and the fix.
    public struct Problem: Error, CustomStringConvertible, Equatable {
        public var description: String
    }

    /// Builds the table, reusing `previous`'s state for routes and backends that stay (IP-R5).
    public init(routes: [RouteConfiguration], listeners: [ListenerConfiguration], previous: RouteTable?) throws(Problem) {
        var states: [String: RouteState] = [:]
        for route in routes {
            guard states[route.name] == nil else { throw Problem(description: "route \(route.name) is defined twice") }
            guard !route.backends.isEmpty else {
                throw Problem(description: "route \(route.name) has no backends; give it at least one")
            }
            states[route.name] = RouteState(route, previous: previous?.routes[route.name])
        }
        var names: [String: NameTable] = [:]
        for listener in listeners {
            for name in listener.routes + [listener.defaultRoute].compactMap({ $0 }) where states[name] == nil {
                throw Problem(description: "listener \(listener.name) uses route \(name), which is not defined; "
                    + "define it or remove it from the listener")
            }
            names[listener.name] = NameTable(
                routes: listener.routes.compactMap { states[$0]?.configuration }, defaultRoute: listener.defaultRoute)
        }
        self.routes = states
        self.order = routes.map(\.name)
        self.names = names
    }

    /// The route a connection to `listener` asking for `name` takes (IP-R1); nil: refuse.
    public func route(listener: String, name: String?) -> RouteState? {
        names[listener]?.route(for: name).flatMap { routes[$0] }
    }
}
