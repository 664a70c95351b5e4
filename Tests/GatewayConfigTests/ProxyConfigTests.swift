// The [proxy] section: defaults, listeners and routes, and each error with its line and fix.
import NAT64Translator
import Testing

@testable import GatewayConfig

@Suite struct ProxyConfigTests {
    let sites = """
        [proxy]
        idle-timeout = 60

        [proxy.listeners.https]
        listen = ["192.0.2.1:443", "[2001:db8:1::1]:443"]
        mode = "tls"
        routes = ["a", "b"]
        default-route = "b"

        [proxy.listeners.ssh]
        listen = ["192.0.2.1:2201"]
        mode = "tcp"
        route = "ssh"

        [proxy.routes.a]
        names = ["a.example", "*.a.example"]
        backends = ["[2001:db8:a::10]:443", "[2001:db8:a::11]:443"]
        balance = "least-connections"
        proxy-protocol = "v2"

        [proxy.routes.b]
        names = ["b.example"]
        backends = ["[2001:db8:b::10]:443"]

        [proxy.routes.ssh]
        backends = ["[2001:db8:a::10]:22"]
        """

    func errors(_ extra: String) -> [String] {
        GatewayConfiguration.diagnose(minimal(plus: extra), file: "t.toml").map(\.description)
    }

    /// A reload swaps the routes live (IP-R5: established connections keep theirs); the listeners and limits
    /// wait for a restart, and the effective configuration keeps their running values with the new routes.
    @Test func reloadChangesRoutesLiveAndKeepsListeners() throws {
        let running = try GatewayConfiguration.parse(minimal(plus: sites), file: "t.toml")
        let moved = sites.replacing("[2001:db8:b::10]:443", with: "[2001:db8:b::20]:443")
        let routesOnly = GatewayConfiguration.reloadPlan(
            running: running, file: try GatewayConfiguration.parse(minimal(plus: moved), file: "t.toml"))
        #expect(routesOnly.live == ["proxy.routes"])
        #expect(routesOnly.kept == [])
        #expect(routesOnly.effective.proxy.routes[1].backends == [.init(host: .v6(IPv6Address("2001:db8:b::20")!), port: 443)])

        let both = moved.replacing("idle-timeout = 60", with: "idle-timeout = 90")
            .replacing("192.0.2.1:2201", with: "192.0.2.1:2202")
        let plan = GatewayConfiguration.reloadPlan(
            running: running, file: try GatewayConfiguration.parse(minimal(plus: both), file: "t.toml"))
        #expect(plan.live == ["proxy.routes"])
        #expect(plan.kept == ["proxy"])
        #expect(plan.effective.proxy.idleTimeoutSeconds == 60)
        #expect(plan.effective.proxy.listeners == running.proxy.listeners)
        #expect(plan.effective.proxy.routes[1].backends == [.init(host: .v6(IPv6Address("2001:db8:b::20")!), port: 443)])
    }

    @Test func offWithoutTheSection() throws {
        let config = try GatewayConfiguration.parse(minimalConfig, file: "t.toml")
        #expect(config.proxy == .init())
        #expect(!config.proxy.enabled)
    }

    @Test func listenersAndRoutesAreRead() throws {
        let p = try GatewayConfiguration.parse(minimal(plus: sites), file: "t.toml").proxy
        #expect(p.enabled)
        #expect(p.idleTimeoutSeconds == 60)
        #expect(p.maxConnections == 10_000)
        #expect(p.listeners.map(\.name) == ["https", "ssh"])
        #expect(p.listeners[0].listen == [.init(host: .v4(IPv4Address(192, 0, 2, 1)), port: 443),
                                          .init(host: .v6(IPv6Address("2001:db8:1::1")!), port: 443)])
        #expect(p.listeners[0].mode == .tls)
        #expect(p.listeners[0].routes == ["a", "b"])
        #expect(p.listeners[0].defaultRoute == "b")
        #expect(p.listeners[1].mode == .tcp)
        #expect(p.listeners[1].defaultRoute == "ssh")
        #expect(p.routes.map(\.name) == ["a", "b", "ssh"])
        #expect(p.routes[0].names == ["a.example", "*.a.example"])
        #expect(p.routes[0].balance == .leastConnections)
        #expect(p.routes[0].proxyProtocol == .v2)
        #expect(p.routes[1].balance == .roundRobin)
        #expect(p.routes[1].proxyProtocol == GatewayConfiguration.ProxyHeaderVersion.none)
        #expect(p.routes[2].backends == [.init(host: .v6(IPv6Address("2001:db8:a::10")!), port: 22)])
    }

    @Test func backendsMustBeIPv6WithAPort() {
        let e = errors(sites.replacingFirst("\"[2001:db8:b::10]:443\"", with: "\"198.51.100.10:443\""))
        #expect(e.count == 1)
        #expect(e.first?.hasPrefix("t.toml:30: proxy.routes.b.backends entry \"198.51.100.10:443\" is not an IPv6 address;") == true)
        let noPort = errors(sites.replacingFirst("\"[2001:db8:b::10]:443\"", with: "\"[2001:db8:b::10]\""))
        #expect(noPort.first?.contains("has no port; write it after the brackets") == true)
    }

    @Test func duplicateNamesOnOneListener() {
        let e = errors(sites.replacingFirst("names = [\"b.example\"]", with: "names = [\"b.example\", \"a.example\"]"))
        #expect(e == ["t.toml:29: name \"a.example\" is in both route a and route b, which listener https both serves; "
            + "keep it in one of them"])
    }

    @Test func undefinedRoutesAreNamedWithASuggestion() {
        let e = errors(sites.replacingFirst("routes = [\"a\", \"b\"]", with: "routes = [\"a\", \"bb\"]"))
        #expect(e.first?.hasPrefix("t.toml:14: proxy.listeners.https.routes names route \"bb\", which is not defined; did you mean") == true)
        let tcp = errors(sites.replacingFirst("route = \"ssh\"", with: "routes = [\"ssh\"]"))
        #expect(tcp.contains { $0.contains("missing required key proxy.listeners.ssh.route") })
        #expect(tcp.contains { $0.contains("has mode = \"tcp\", which takes no names") })
    }

    @Test func listenerMustNotTakeTheDNS64Port() {
        let e = errors("""
            [dns64]
            listen = ["192.0.2.1:53"]
            upstream = ["198.51.100.10"]

            [proxy.listeners.dns]
            listen = ["0.0.0.0:53"]
            mode = "tcp"
            route = "r"

            [proxy.routes.r]
            backends = ["[2001:db8::53]:53"]
            """)
        #expect(e == ["t.toml:13: proxy.listeners.dns.listen \"0.0.0.0:53\" uses the port of the DNS64 listener "
            + "(dns64.listen) \"192.0.2.1:53\"; pick another port or address"])
    }

    @Test func badNamesModesAndMissingListeners() {
        #expect(errors(sites.replacingFirst("\"*.a.example\"", with: "\"www.*.example\"")).first?
            .contains("is not a host name") == true)
        #expect(errors(sites.replacingFirst("\"a.example\"", with: "\"A.example\"")).first?
            .contains("has upper-case letters; names are matched in lower case, write \"a.example\"") == true)
        #expect(errors(sites.replacingFirst("mode = \"tls\"", with: "mode = \"https\"")).first?
            .contains("proxy.listeners.https.mode \"https\" is not one of tls, http, tcp") == true)
        #expect(errors("[proxy]\nmax-connections = 10") .first?.contains("[proxy] has no listeners") == true)
        #expect(errors(sites.replacingFirst("listen = [\"192.0.2.1:2201\"]", with: "listen = [\"192.0.2.1\"]")).first?
            .contains("has no port") == true)
        #expect(errors(sites + "\nfoo = 1").first?.contains("unknown key `proxy.routes.ssh.foo`") == true)
    }

    /// IP-O1: `offload` is off by default, read when set, and refused (with its line and the fix) unless the
    /// in-kernel fast path runs, since the fast path's programs carry the spliced connections.
    @Test func IPO1_offloadNeedsTheFastPath() throws {
        #expect(try GatewayConfiguration.parse(minimal(plus: sites), file: "t.toml").proxy.offload == false)
        let on = sites.replacing("[proxy]\n", with: "[proxy]\noffload = true\n")
        let config = try GatewayConfiguration.parse(minimal(plus: on + "\n[fast-path]\ninterfaces = [\"eth0\"]\n"),
                                                    file: "t.toml")
        #expect(config.proxy.offload)
        #expect(config.proxy.offloadAfterBytes == 262_144, "short exchanges stay on the relay by default")
        let soon = try GatewayConfiguration.parse(
            minimal(plus: on.replacing("offload = true\n", with: "offload = true\noffload-after = 0\n")
                + "\n[fast-path]\ninterfaces = [\"eth0\"]\n"), file: "t.toml")
        #expect(soon.proxy.offloadAfterBytes == 0)
        // The extra text starts on line 8: [proxy], then offload on line 9.
        expectConfigError(minimal(plus: on), line: 9, mentioning: ["proxy.offload", "[fast-path] interfaces", "offload = false"])
        expectConfigError(minimal(plus: on.replacing("offload = true\n", with: "offload = true\noffload-after = -1\n")
                                  + "\n[fast-path]\ninterfaces = [\"eth0\"]\n"),
                          line: 10, mentioning: ["offload-after", "0 hands a connection over"])
    }

    /// The README's complete example (three sites and an SSH forward) is a valid configuration.
    @Test func readmeExampleIsValid() throws {
        var parts = "\(#filePath)".split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)
        let readme = String(decoding: try ConfigFile.readAll(path: (parts + ["README.md"]).joined(separator: "/")), as: UTF8.self)
        let section = try #require(readme.split(separator: "## Reaching IPv6-only hosts from IPv4", maxSplits: 1).last)
        let block = try #require(section.split(separator: "```toml\n", maxSplits: 1).last?.split(separator: "```").first)
        let p = try GatewayConfiguration.parse(String(block), file: "README.md").proxy
        #expect(p.enabled)
        #expect(p.listeners.map(\.mode) == [.tls, .http, .tcp])
        #expect(p.listeners[0].routes.count == 3)
        #expect(p.routes.count == 7)
    }
}
