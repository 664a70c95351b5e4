// What `nat64d ctl proxy [--json]` shows: listeners, routes, backends with their health and connection counts,
// and the proxy's counters. Plain text lines for people, one JSON object for scripts.

/// A snapshot of the running proxy.
public struct ProxyStatus: Sendable {
    public struct Backend: Sendable {
        public var address: String
        public var up: Bool
        public var active: Int
        public var connections: Int
        public var connectFailures: Int

        public init(address: String, up: Bool, active: Int, connections: Int, connectFailures: Int) {
            (self.address, self.up, self.active, self.connections, self.connectFailures) =
                (address, up, active, connections, connectFailures)
        }
    }

    public struct Route: Sendable {
        public var name: String
        public var names: [String]
        public var balance: String
        public var proxyProtocol: String
        public var active: Int
        public var connections: Int
        public var refusedAtLimit: Int
        public var bytesToBackend: Int
        public var bytesToClient: Int
        public var backends: [Backend]

        public init(name: String, names: [String], balance: String, proxyProtocol: String, active: Int,
                    connections: Int, refusedAtLimit: Int, bytesToBackend: Int, bytesToClient: Int, backends: [Backend]) {
            (self.name, self.names, self.balance, self.proxyProtocol) = (name, names, balance, proxyProtocol)
            (self.active, self.connections, self.refusedAtLimit) = (active, connections, refusedAtLimit)
            (self.bytesToBackend, self.bytesToClient, self.backends) = (bytesToBackend, bytesToClient, backends)
        }
    }

    public struct Listener: Sendable {
        public var name: String
        public var mode: String
        public var addresses: [String]
        public var routes: [String]
        public var defaultRoute: String?

        public init(name: String, mode: String, addresses: [String], routes: [String], defaultRoute: String?) {
            (self.name, self.mode, self.addresses, self.routes, self.defaultRoute) = (name, mode, addresses, routes, defaultRoute)
        }
    }

    public var listeners: [Listener]
    public var routes: [Route]
    /// `ProxyCounters.fields`.
    public var counters: [(name: String, value: Int)]
    /// Distinct client addresses with open connections.
    public var clients: Int

    public init(listeners: [Listener], routes: [Route], counters: [(name: String, value: Int)], clients: Int) {
        (self.listeners, self.routes, self.counters, self.clients) = (listeners, routes, counters, clients)
    }

    /// One line per listener, route and backend, then the counters.
    public var lines: [String] {
        var out: [String] = []
        for l in listeners {
            out.append("listener \(l.name) mode=\(l.mode) listen=\(l.addresses.joined(separator: ",")) "
                + "routes=\(l.routes.joined(separator: ",")) default=\(l.defaultRoute ?? "-")")
        }
        for r in routes {
            out.append("route \(r.name) names=\(r.names.joined(separator: ",")) balance=\(r.balance) "
                + "proxy-protocol=\(r.proxyProtocol) active=\(r.active) connections=\(r.connections) "
                + "refused-at-limit=\(r.refusedAtLimit) bytes-to-backend=\(r.bytesToBackend) bytes-to-client=\(r.bytesToClient)")
            for b in r.backends {
                out.append("  backend \(b.address) \(b.up ? "up" : "down") active=\(b.active) "
                    + "connections=\(b.connections) connect-failures=\(b.connectFailures)")
            }
        }
        out += counters.map { "\($0.name) \($0.value)" }
        out.append("clients \(clients)")
        return out
    }

    /// The same as one JSON object (keys as in `lines`).
    public var json: String {
        func str(_ s: String) -> String {
            var out = "\""
            for u in s.unicodeScalars {
                switch u {
                case "\"": out += "\\\""
                case "\\": out += "\\\\"
                case _ where u.value < 0x20:
                    let hex = String(u.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                default: out.unicodeScalars.append(u)
                }
            }
            return out + "\""
        }
        func list(_ items: [String]) -> String { "[" + items.joined(separator: ",") + "]" }
        func object(_ fields: [(String, String)]) -> String {
            "{" + fields.map { "\(str($0.0)):\($0.1)" }.joined(separator: ",") + "}"
        }
        let ls = listeners.map { l in
            object([("name", str(l.name)), ("mode", str(l.mode)), ("listen", list(l.addresses.map(str))),
                    ("routes", list(l.routes.map(str))), ("default-route", l.defaultRoute.map(str) ?? "null")])
        }
        let rs = routes.map { r in
            object([("name", str(r.name)), ("names", list(r.names.map(str))), ("balance", str(r.balance)),
                    ("proxy-protocol", str(r.proxyProtocol)), ("active", "\(r.active)"),
                    ("connections", "\(r.connections)"), ("refused-at-limit", "\(r.refusedAtLimit)"),
                    ("bytes-to-backend", "\(r.bytesToBackend)"), ("bytes-to-client", "\(r.bytesToClient)"),
                    ("backends", list(r.backends.map { b in
                        object([("address", str(b.address)), ("up", b.up ? "true" : "false"), ("active", "\(b.active)"),
                                ("connections", "\(b.connections)"), ("connect-failures", "\(b.connectFailures)")])
                    }))])
        }
        return object([("listeners", list(ls)), ("routes", list(rs)),
                       ("counters", object(counters.map { ($0.name, "\($0.value)") })), ("clients", "\(clients)")])
    }
}

extension ProxyServer {
    /// The proxy as it is now.
    public func status() -> ProxyStatus {
        let table = self.table
        let now = clock()
        let listeners = settings.listeners.map { l in
            ProxyStatus.Listener(name: l.name, mode: l.mode.rawValue, addresses: l.addresses.map(\.description),
                                 routes: l.routes, defaultRoute: l.defaultRoute)
        }
        let routes = table.order.compactMap { table.routes[$0] }.map { r in
            let c = r.counters
            return ProxyStatus.Route(
                name: r.configuration.name, names: r.configuration.hostnames, balance: r.configuration.balance.rawValue,
                proxyProtocol: r.configuration.proxyProtocol.rawValue, active: c.active.load(ordering: .relaxed),
                connections: c.connections.load(ordering: .relaxed), refusedAtLimit: c.refusedAtLimit.load(ordering: .relaxed),
                bytesToBackend: c.bytesToBackend.load(ordering: .relaxed), bytesToClient: c.bytesToClient.load(ordering: .relaxed),
                backends: r.backends.map { b in
                    ProxyStatus.Backend(address: b.endpoint.description, up: b.isUp(now: now),
                                        active: b.active.load(ordering: .relaxed), connections: b.connections.load(ordering: .relaxed),
                                        connectFailures: b.connectFailures.load(ordering: .relaxed))
                })
        }
        return ProxyStatus(listeners: listeners, routes: routes, counters: counters.fields, clients: admission.usage.clients)
    }
}
