// The inbound proxy's metrics: its counters (refusals by reason), and per route connections, bytes and open
// connections, and per backend health.
import InboundProxy

extension MetricsExporter {
    /// The samples of a proxy status (`nat64d_proxy_` names; labels `route`, `backend`, `reason`, `direction`).
    static func proxySamples(_ p: ProxyStatus) -> [Sample] {
        var list: [Sample] = []
        for (name, value) in p.counters {
            if name.hasPrefix("refused.") {
                list.append(Sample.counter("nat64d_proxy_refused_total", value, "Proxy connections refused or cut, by reason.",
                                    [("reason", String(name.dropFirst("refused.".count)))]))
            } else if name == "active" {
                list.append(Sample.gauge("nat64d_proxy_active_connections", value, "Proxy connections open now."))
            } else {
                let metric = "nat64d_proxy_" + name.replacingDashes + "_total"
                list.append(Sample.counter(metric, value, "Proxy counter \(name) (see `nat64d ctl stats`)."))
            }
        }
        for r in p.routes {
            let route = [("route", r.name)]
            list.append(Sample.counter("nat64d_proxy_route_connections_total", r.connections, "Connections through a route.", route))
            list.append(Sample.gauge("nat64d_proxy_route_active_connections", r.active, "Open connections through a route.", route))
            list.append(Sample.counter("nat64d_proxy_route_refused_at_limit_total", r.refusedAtLimit,
                                "Connections refused at a route's max-connections.", route))
            list.append(Sample.counter("nat64d_proxy_route_bytes_total", r.bytesToBackend, "Bytes relayed through a route.",
                                route + [("direction", "to-backend")]))
            list.append(Sample.counter("nat64d_proxy_route_bytes_total", r.bytesToClient, "Bytes relayed through a route.",
                                route + [("direction", "to-client")]))
            for b in r.backends {
                let labels = route + [("backend", b.address)]
                list.append(Sample.gauge("nat64d_proxy_backend_up", b.up ? 1 : 0, "1 while a backend counts as up.", labels))
                list.append(Sample.gauge("nat64d_proxy_backend_active_connections", b.active, "Open connections to a backend.", labels))
                list.append(Sample.counter("nat64d_proxy_backend_connect_failures_total", b.connectFailures,
                                    "Failed connects to a backend.", labels))
            }
        }
        return list
    }
}

extension String {
    /// `connect-failures` → `connect_failures`.
    var replacingDashes: String { String(map { $0 == "-" ? "_" : $0 }) }
}
