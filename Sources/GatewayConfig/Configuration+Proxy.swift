// The `[proxy]` section: the inbound proxy that lets IPv4-only clients reach IPv6-only hosts through one shared
// IPv4 address (TLS by SNI, HTTP by Host, port forwards). Listeners are `[proxy.listeners.NAME]` sections and
// routes `[proxy.routes.NAME]` sections; InboundProxy runs them (README "Reaching IPv6-only hosts from IPv4").

import NAT64Translator

extension GatewayConfiguration {
    /// `[proxy]`: off unless the section exists.
    public struct Proxy: Sendable, Equatable {
        /// Whether to run the proxy. Default: true when the `[proxy]` section exists.
        public var enabled = false
        /// Open connections at most, all listeners together (key `max-connections`). Default 10000.
        public var maxConnections = 10_000
        /// Open connections per client address (key `max-connections-per-client`). Default 256.
        public var maxConnectionsPerClient = 256
        /// Time for the ClientHello or request head (key `handshake-timeout-ms`). Default 5000.
        public var handshakeTimeoutMilliseconds = 5000
        /// Largest ClientHello or request head, bytes (key `max-handshake-bytes`). Default 16384.
        public var maxHandshakeBytes = 16_384
        /// Time for a backend connect (key `connect-timeout-ms`). Default 3000.
        public var connectTimeoutMilliseconds = 3000
        /// A relayed connection with no byte either way for this long is closed (key `idle-timeout`, seconds).
        /// Default 600.
        public var idleTimeoutSeconds = 600
        /// A backend whose connect failed is skipped for this long (key `down-time`, seconds). Default 10.
        public var downTimeSeconds = 10
        /// Active TCP checks of every backend at this interval (key `health-check-interval-ms`); 0: off.
        /// Default 0.
        public var healthCheckIntervalMilliseconds = 0
        /// Hand routed connections from IPv4 clients to the in-kernel fast path once their first bytes are
        /// written (key `offload`; needs `[fast-path] interfaces`). Default false.
        public var offload = false
        /// Bytes a connection moves through the relay (both ways) before it is handed over (key
        /// `offload-after`); 0: as soon as its first bytes are written. Default 262144.
        public var offloadAfterBytes = 262_144
        /// The `[proxy.listeners.NAME]` sections, in file order.
        public var listeners: [ProxyListener] = []
        /// The `[proxy.routes.NAME]` sections, in file order.
        public var routes: [ProxyRoute] = []

        public init() {}
    }

    /// What a proxy listener reads first.
    public enum ProxyMode: String, Sendable, Equatable, CaseIterable {
        case tls, http, tcp
    }

    /// How a proxy route picks a backend.
    public enum ProxyBalance: String, Sendable, Equatable, CaseIterable {
        case roundRobin = "round-robin"
        case leastConnections = "least-connections"
    }

    /// The PROXY protocol header a route sends to its backends.
    public enum ProxyHeaderVersion: String, Sendable, Equatable, CaseIterable {
        case none, v1, v2
    }

    /// A `[proxy.listeners.NAME]` section.
    public struct ProxyListener: Sendable, Equatable {
        public var name: String
        /// Key `listen`: addresses and ports (IPv4 and IPv6).
        public var listen: [Endpoint]
        /// Key `mode`: `tls`, `http` or `tcp`.
        public var mode: ProxyMode
        /// Key `routes` (`tls`, `http`): the routes whose names this listener serves.
        public var routes: [String]
        /// Key `default-route` (`tls`, `http`), or key `route` (`tcp`): where other names go, or every connection.
        public var defaultRoute: String?
    }

    /// A `[proxy.routes.NAME]` section.
    public struct ProxyRoute: Sendable, Equatable {
        public var name: String
        /// Key `names`: exact names and `*.suffix` wildcards, lower case.
        public var names: [String]
        /// Key `backends`: IPv6 addresses with ports, `[2001:db8::10]:443`.
        public var backends: [Endpoint]
        /// Key `balance`. Default `round-robin`.
        public var balance: ProxyBalance = .roundRobin
        /// Key `proxy-protocol`. Default `none`.
        public var proxyProtocol: ProxyHeaderVersion = .none
        /// Key `forwarded` (http listeners): add Forwarded and X-Forwarded-For. Default false.
        public var forwarded = false
        /// Key `max-connections`. Default 10000.
        public var maxConnections = 10_000
    }
}

extension ConfigReader {
    static let proxyKeys = ["enabled", "max-connections", "max-connections-per-client", "handshake-timeout-ms",
                            "max-handshake-bytes", "connect-timeout-ms", "idle-timeout", "down-time",
                            "health-check-interval-ms", "offload", "offload-after"]
    static let proxySubsections = ["listeners", "routes"]
    static let proxyListenerKeys = ["listen", "mode", "routes", "default-route", "route"]
    static let proxyRouteKeys = ["names", "backends", "balance", "proxy-protocol", "forwarded", "max-connections"]

    // MARK: [proxy]

    /// Reads `[proxy]` and its sub-sections; `dns64` and `metrics` are checked for port clashes.
    mutating func readProxy(_ s: Section, dns64: GatewayConfiguration.DNS64?, metrics: GatewayConfiguration.Metrics?,
                            fastPath: GatewayConfiguration.FastPath?) -> GatewayConfiguration.Proxy?
    {
        var p = GatewayConfiguration.Proxy()
        let enabled = boolean(s, "enabled", default: s.table != nil)
        let offload = boolean(s, "offload", default: false)
        let offloadAfter = integer(s, "offload-after", default: p.offloadAfterBytes,
                                   IntegerRule(range: 0...(1 << 30), unit: " bytes",
                                               reason: " (0 hands a connection over as soon as it is routed)"))
        if offload == true, let fastPath, !fastPath.enabled {
            fail(s["offload"]?.line ?? s.line, .conflict, "proxy.offload = true hands connections to the in-kernel "
                + "fast path, which is off; add [fast-path] interfaces = [\"eth0\", ...] (the interfaces where "
                + "clients' and backends' packets arrive), or set offload = false")
        }
        let maxConnections = integer(s, "max-connections", default: p.maxConnections,
                                     IntegerRule(range: 1...1_000_000, unit: " connections"))
        let perClient = integer(s, "max-connections-per-client", default: p.maxConnectionsPerClient,
                                IntegerRule(range: 1...1_000_000, unit: " connections"))
        let handshake = integer(s, "handshake-timeout-ms", default: p.handshakeTimeoutMilliseconds,
                                IntegerRule(range: 100...120_000, unit: " ms"))
        let maxBytes = integer(s, "max-handshake-bytes", default: p.maxHandshakeBytes,
                               IntegerRule(range: 512...65_536, unit: " bytes",
                                           reason: " (a ClientHello is rarely over 2 KiB; 16384 leaves room for large ones)"))
        let connect = integer(s, "connect-timeout-ms", default: p.connectTimeoutMilliseconds,
                              IntegerRule(range: 100...120_000, unit: " ms"))
        let idle = integer(s, "idle-timeout", default: p.idleTimeoutSeconds, IntegerRule(range: 1...604_800, unit: " seconds"))
        let down = integer(s, "down-time", default: p.downTimeSeconds, IntegerRule(range: 1...86_400, unit: " seconds"))
        let interval = integer(s, "health-check-interval-ms", default: 0,
                               IntegerRule(range: 0...3_600_000, unit: " ms", reason: " (0 turns active checks off)"))
        let routes = readProxyRoutes(s)
        // Every [proxy.routes.NAME] counts as defined, valid or not, so one bad route gives one error.
        var defined: [String] = []
        if case .table(let table)? = s["routes"]?.value.kind { defined = table.entries.map(\.key) }
        let listeners = readProxyListeners(s, defined: defined)
        guard let enabled, let offload, let offloadAfter, let maxConnections, let perClient, let handshake, let maxBytes, let connect,
              let idle, let down, let interval, let routes, let listeners
        else { return nil }
        p.enabled = enabled
        p.offload = offload
        p.offloadAfterBytes = offloadAfter
        p.maxConnections = maxConnections
        p.maxConnectionsPerClient = perClient
        p.handshakeTimeoutMilliseconds = handshake
        p.maxHandshakeBytes = maxBytes
        p.connectTimeoutMilliseconds = connect
        p.idleTimeoutSeconds = idle
        p.downTimeSeconds = down
        p.healthCheckIntervalMilliseconds = interval
        p.routes = routes.map(\.route)
        p.listeners = listeners.map(\.listener)
        if enabled {
            if listeners.isEmpty {
                fail(s.line, .missingKey, "[proxy] has no listeners; add a [proxy.listeners.NAME] section with "
                    + "listen = [\"192.0.2.1:443\"], mode = \"tls\" and routes = [\"NAME\"], or set enabled = false")
                return nil
            }
            checkProxyClashes(listeners, routes: routes, dns64: dns64, metrics: metrics)
        }
        return p
    }

    /// The sub-sections of `[proxy]` under `key`, each as a checked `Section`; nil when `key` is not a table.
    private mutating func proxySubsections(_ s: Section, _ key: String, keys: [String], example: String)
        -> [Section]?
    {
        guard let entry = s["\(key)"] else { return [] }
        guard case .table(let table) = entry.value.kind else {
            fail(entry.line, .wrongType, "proxy.\(key) must be sections, but it is \(entry.value.typeDescription); "
                + "write a [proxy.\(key).NAME] header per entry, \(example)")
            return nil
        }
        var out: [Section] = []
        var ok = true
        for item in table.entries {
            let name = "proxy.\(key).\(item.key)"
            guard case .table(let body) = item.value.kind else {
                fail(item.line, .wrongType, "\(name) must be a section; write [\(name)] on a line of its own")
                ok = false
                continue
            }
            for k in body.entries where !keys.contains(k.key) {
                fail(k.line, .unknownKey, "unknown key `\(name).\(k.key)`" + Self.hint(k.key, keys, "keys in [\(name)]"))
                ok = false
            }
            out.append(Section(name: name, table: body))
        }
        return ok ? out : nil
    }

    /// A word from `T`'s raw values, `fallback` when absent.
    private mutating func proxyWord<T: RawRepresentable & CaseIterable>(_ s: Section, _ key: String, _ fallback: T?)
        -> T? where T.RawValue == String
    {
        let names = T.allCases.map(\.rawValue)
        guard let text = string(s, key, example: "\"\(names[0])\"") else { return s[key] == nil ? fallback : nil }
        return convert(text, label: s.path(key)) { (v: String) -> Result<T, Problem> in
            T(rawValue: v).map { .success($0) } ?? .failure(Problem("is not one of " + names.joined(separator: ", ")))
        }
    }

    private mutating func readProxyRoutes(_ s: Section) -> [(route: GatewayConfiguration.ProxyRoute, section: Section)]? {
        guard let sections = proxySubsections(s, "routes", keys: Self.proxyRouteKeys,
                                              example: "with names = [\"site.example\"] and backends = [\"[2001:db8::10]:443\"]")
        else { return nil }
        var out: [(GatewayConfiguration.ProxyRoute, Section)] = []
        var ok = true
        for r in sections {
            let routeName = String(r.name.dropFirst("proxy.routes.".count))
            var names: [String]? = []
            if let texts = strings(r, "names", example: "[\"site.example\", \"*.site.example\"]") {
                names = convertAll(texts, label: r.path("names"), Self.proxyHostName)?.map(\.value)
            }
            var backends: [GatewayConfiguration.Endpoint]?
            if require(r, "backends", example: "backends = [\"[2001:db8::10]:443\"]"),
               let texts = strings(r, "backends", example: "[\"[2001:db8::10]:443\"]") {
                backends = convertAll(texts, label: r.path("backends"), Self.proxyBackend)?.map(\.value)
                if texts.isEmpty {
                    fail(r["backends"]!.line, .missingKey, "\(r.path("backends")) is empty; list at least one "
                        + "backend, e.g. backends = [\"[2001:db8::10]:443\"]")
                    backends = nil
                }
            }
            let balance = proxyWord(r, "balance", GatewayConfiguration.ProxyBalance.roundRobin)
            let header = proxyWord(r, "proxy-protocol", GatewayConfiguration.ProxyHeaderVersion.none)
            let forwarded = boolean(r, "forwarded", default: false)
            let max = integer(r, "max-connections", default: 10_000, IntegerRule(range: 1...1_000_000, unit: " connections"))
            guard let names, let backends, let balance, let header, let forwarded, let max else {
                ok = false
                continue
            }
            out.append((.init(name: routeName, names: names, backends: backends, balance: balance,
                              proxyProtocol: header, forwarded: forwarded, maxConnections: max), r))
        }
        return ok ? out : nil
    }

    private mutating func readProxyListeners(
        _ s: Section, defined: [String]
    ) -> [(listener: GatewayConfiguration.ProxyListener, section: Section, lines: [Int])]? {
        guard let sections = proxySubsections(s, "listeners", keys: Self.proxyListenerKeys,
                                              example: "with listen = [\"192.0.2.1:443\"] and mode = \"tls\"")
        else { return nil }
        var out: [(GatewayConfiguration.ProxyListener, Section, [Int])] = []
        var ok = true
        for l in sections {
            let name = String(l.name.dropFirst("proxy.listeners.".count))
            let mode: GatewayConfiguration.ProxyMode?
            if require(l, "mode", example: "mode = \"tls\"") {
                mode = proxyWord(l, "mode", nil)
            } else {
                mode = nil
            }
            var listen: [Located<GatewayConfiguration.Endpoint>]?
            if require(l, "listen", example: "listen = [\"192.0.2.1:443\"]"),
               let texts = strings(l, "listen", example: "[\"192.0.2.1:443\"]") {
                listen = convertAll(texts, label: l.path("listen")) { text in
                    AddressText.endpoint(text, defaultPort: 0).flatMap { e in
                        e.port == 0 ? .failure(Problem("has no port; write the address with its port, e.g. "
                            + "\"192.0.2.1:443\" or \"[2001:db8::1]:443\"")) : .success(e)
                    }
                }
                if texts.isEmpty {
                    fail(l["listen"]!.line, .missingKey, "\(l.path("listen")) is empty; write e.g. listen = [\"192.0.2.1:443\"]")
                    listen = nil
                }
            }
            var routeNames: [String] = []
            var defaultRoute: String?
            var routesOK = true
            func checkDefined(_ item: Located<String>, _ key: String) -> Bool {
                if defined.contains(item.value) { return true }
                let close = Suggestion.closest(to: item.value, among: defined).map { "; did you mean \"\($0)\"?" }
                    ?? "; define it in a [proxy.routes.\(item.value)] section"
                fail(item.line, .invalidValue, "\(l.path(key)) names route \(Self.quoted(item.value)), which is not defined\(close)")
                return false
            }
            if mode == .tcp {
                if let extra = l["routes"] ?? l["default-route"] {
                    fail(extra.line, .conflict, "\(l.name) has mode = \"tcp\", which takes no names; use route = \"NAME\" "
                        + "for the one route every connection takes")
                    routesOK = false
                }
                if require(l, "route", example: "route = \"ssh-vm1\""), let text = string(l, "route", example: "\"ssh-vm1\"") {
                    if checkDefined(text, "route") { defaultRoute = text.value } else { routesOK = false }
                } else {
                    routesOK = false
                }
            } else if mode != nil {
                if let extra = l["route"] {
                    fail(extra.line, .conflict, "\(l.path("route")) is for mode = \"tcp\"; a \(mode!.rawValue) listener "
                        + "takes routes = [\"NAME\", ...] and optionally default-route = \"NAME\"")
                    routesOK = false
                }
                if require(l, "routes", example: "routes = [\"site-a\"]"), let texts = strings(l, "routes", example: "[\"site-a\"]") {
                    for t in texts { if checkDefined(t, "routes") { routeNames.append(t.value) } else { routesOK = false } }
                } else {
                    routesOK = false
                }
                if let text = string(l, "default-route", example: "\"site-a\"") {
                    if checkDefined(text, "default-route") { defaultRoute = text.value } else { routesOK = false }
                }
            }
            guard let mode, let listen, routesOK else {
                ok = false
                continue
            }
            out.append((.init(name: name, listen: listen.map(\.value), mode: mode, routes: routeNames,
                              defaultRoute: defaultRoute), l, listen.map(\.line)))
        }
        return ok ? out : nil
    }

    /// Duplicate names on one listener, listen addresses used twice, and ports of the DNS64 or metrics listeners.
    private mutating func checkProxyClashes(
        _ listeners: [(listener: GatewayConfiguration.ProxyListener, section: Section, lines: [Int])],
        routes: [(route: GatewayConfiguration.ProxyRoute, section: Section)],
        dns64: GatewayConfiguration.DNS64?, metrics: GatewayConfiguration.Metrics?
    ) {
        for l in listeners {
            var owner: [String: String] = [:]
            for routeName in l.listener.routes {
                guard let r = routes.first(where: { $0.route.name == routeName }) else { continue }
                for name in r.route.names {
                    if let first = owner[name], first != routeName {
                        fail(r.section["names"]?.line ?? r.section.line, .conflict,
                             "name \"\(name)\" is in both route \(first) and route \(routeName), which listener "
                                + "\(l.listener.name) both serves; keep it in one of them")
                    }
                    owner[name] = owner[name] ?? routeName
                }
            }
        }
        var taken: [(endpoint: GatewayConfiguration.Endpoint, what: String)] = []
        if let dns64, dns64.enabled { taken += dns64.listen.map { ($0, "the DNS64 listener (dns64.listen)") } }
        if let metrics, metrics.enabled { taken.append((metrics.listen, "the metrics listener (metrics.listen)")) }
        for l in listeners {
            for (endpoint, line) in zip(l.listener.listen, l.lines) {
                if let clash = taken.first(where: { Self.sameSocket($0.endpoint, endpoint) }) {
                    fail(line, .conflict, "\(l.section.path("listen")) \"\(Self.describe(endpoint))\" uses the port of "
                        + "\(clash.what) \"\(Self.describe(clash.endpoint))\"; pick another port or address")
                }
                taken.append((endpoint, "listener \(l.listener.name)"))
            }
        }
    }

    /// Whether two listeners would bind the same port: same port and family, and the same address or either
    /// one unspecified (0.0.0.0 or ::; `[::]` also takes IPv4 on a dual-stack socket).
    static func sameSocket(_ a: GatewayConfiguration.Endpoint, _ b: GatewayConfiguration.Endpoint) -> Bool {
        guard a.port == b.port else { return false }
        switch (a.host, b.host) {
        case (.v4(let x), .v4(let y)): return x == y || x.value == 0 || y.value == 0
        case (.v6(let x), .v6(let y)): return x == y || x == .unspecified || y == .unspecified
        case (.v6(let x), .v4), (.v4, .v6(let x)): return x == .unspecified
        }
    }

    static func describe(_ e: GatewayConfiguration.Endpoint) -> String {
        switch e.host {
        case .v4(let a): "\(a):\(e.port)"
        case .v6(let a): "[\(a)]:\(e.port)"
        }
    }

    /// A route name: a lower-case DNS name, or `*.` and one.
    static func proxyHostName(_ text: String) -> Result<String, Problem> {
        let body = text.hasPrefix("*.") ? String(text.dropFirst(2)) : text
        let labels = body.split(separator: ".", omittingEmptySubsequences: false)
        let valid = !body.isEmpty && body.utf8.count <= 253 && labels.allSatisfy { label in
            !label.isEmpty && label.count <= 63 && label.unicodeScalars.allSatisfy {
                ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" || $0 == "_"
            }
        }
        if valid { return .success(text) }
        if text.lowercased() != text, case .success = proxyHostName(text.lowercased()) {
            return .failure(Problem("has upper-case letters; names are matched in lower case, write \"\(text.lowercased())\""))
        }
        return .failure(Problem("is not a host name; write e.g. \"site.example\" or \"*.site.example\" (a wildcard "
            + "only as the whole first label)"))
    }

    /// A backend: an IPv6 address in brackets with a port.
    static func proxyBackend(_ text: String) -> Result<GatewayConfiguration.Endpoint, Problem> {
        guard text.hasPrefix("[") else {
            return .failure(Problem("is not an IPv6 address; backends are the IPv6-only hosts the proxy reaches, "
                + "written in brackets with a port, e.g. \"[2001:db8::10]:443\""))
        }
        guard let close = text.firstIndex(of: "]"), text[close...].hasPrefix("]:") else {
            return .failure(Problem("has no port; write it after the brackets, e.g. \"[2001:db8::10]:443\""))
        }
        return AddressText.endpoint(text, defaultPort: 0)
    }
}
