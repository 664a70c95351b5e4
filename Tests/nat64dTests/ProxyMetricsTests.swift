import GatewayConfig
import InboundProxy
import NAT64Translator
import Testing
@testable import nat64d

/// The inbound proxy's metrics: refusals by reason, per-route connections and bytes, backend health.
struct ProxyMetricsTests {
    static func status(relayed: Int, unknownName: Int, bytes: Int, up: Bool) -> ProxyStatus {
        let backend = ProxyStatus.Backend(address: "[2001:db8:a::10]:443", up: up, active: 1, connections: relayed,
                                          connectFailures: up ? 0 : 1)
        let route = ProxyStatus.Route(name: "site-a", names: ["site-a.example"], balance: "round-robin",
                                      proxyProtocol: "v2", active: 1, connections: relayed, refusedAtLimit: 0,
                                      bytesToBackend: bytes, bytesToClient: 2 * bytes, backends: [backend])
        return ProxyStatus(listeners: [], routes: [route],
                           counters: [("accepted", relayed + unknownName), ("relayed", relayed), ("active", 1),
                                      ("connect-failures", up ? 0 : 1), ("refused.unknown-name", unknownName)],
                           clients: 1)
    }

    @Test func proxyCountersAndRoutesAreExported() {
        let exporter = MetricsExporter()
        var snapshot = MetricsTests.snapshot(six: 0, four: 0, truncated: 0, sessions: 0, dnsQueries: nil)
        snapshot.proxy = Self.status(relayed: 3, unknownName: 2, bytes: 100, up: true)
        var text = String(decoding: exporter.render(snapshot), as: UTF8.self)
        #expect(MetricsTests.value(text, "nat64d_proxy_relayed_total") == "3")
        #expect(MetricsTests.value(text, "nat64d_proxy_accepted_total") == "5")
        #expect(MetricsTests.value(text, #"nat64d_proxy_refused_total{reason="unknown-name"}"#) == "2")
        #expect(MetricsTests.value(text, "nat64d_proxy_active_connections") == "1.0")
        #expect(MetricsTests.value(text, #"nat64d_proxy_route_connections_total{route="site-a"}"#) == "3")
        #expect(MetricsTests.value(text, #"nat64d_proxy_route_bytes_total{route="site-a",direction="to-client"}"#) == "200")
        #expect(MetricsTests.value(text, #"nat64d_proxy_backend_up{route="site-a",backend="[2001:db8:a::10]:443"}"#) == "1.0")
        snapshot.proxy = Self.status(relayed: 4, unknownName: 2, bytes: 150, up: false)
        text = String(decoding: exporter.render(snapshot), as: UTF8.self)
        #expect(MetricsTests.value(text, "nat64d_proxy_relayed_total") == "4")
        #expect(MetricsTests.value(text, #"nat64d_proxy_backend_up{route="site-a",backend="[2001:db8:a::10]:443"}"#) == "0.0")
        #expect(MetricsTests.value(text, "nat64d_proxy_connect_failures_total") == "1")
    }
}

/// `[proxy]` as the daemon hands it to the proxy.
struct ProxySetupTests {
    @Test func configurationBecomesSettings() throws {
        let text = """
            [translator]
            prefix = "64:ff9b::/96"
            pool4 = ["192.0.2.2"]

            [gateway]
            ipv4 = "192.0.2.1"
            ipv6 = "2001:db8:1::1"

            [proxy]
            handshake-timeout-ms = 1500

            [proxy.listeners.ssh]
            listen = ["192.0.2.1:2201"]
            mode = "tcp"
            route = "vm"

            [proxy.routes.vm]
            backends = ["[2001:db8::22]:22"]
            balance = "least-connections"
            proxy-protocol = "v1"
            max-connections = 5
            """
        let p = try GatewayConfiguration.parse(text, file: "t.toml").proxy
        let s = ProxyRunner.settings(p)
        #expect(s.handshakeTimeout == .milliseconds(1500))
        #expect(s.healthCheckInterval == nil)
        #expect(s.listeners == [ListenerConfiguration(name: "ssh", addresses: [IPEndpoint(.v4(IPv4Address(192, 0, 2, 1)), 2201)],
                                                      mode: .tcp, routes: [], defaultRoute: "vm")])
        #expect(s.routes.first?.backends == [IPEndpoint(.v6(IPv6Address("2001:db8::22")!), 22)])
        #expect(s.routes.first?.balance == .leastConnections)
        #expect(s.routes.first?.proxyProtocol == .v1)
        #expect(s.routes.first?.maxConnections == 5)
    }
}
