// IP-R1–IP-R5 and IP-L1–IP-L3: name lookup, backend choice, passive health with the time passed in, route
// changes, and the connection limits.
import NAT64Translator
import Testing

@testable import InboundProxy

func backend(_ n: Int, port: UInt16 = 443) -> IPEndpoint { IPEndpoint(.v6(IPv6Address("2001:db8:a::\(n)")!), port) }

func route(_ name: String, _ hosts: [String], _ backends: [IPEndpoint], balance: BalancePolicy = .roundRobin)
    -> RouteConfiguration
{
    var r = RouteConfiguration(name: name, hostnames: hosts, backends: backends)
    r.balance = balance
    return r
}

func listener(_ name: String, _ routes: [String], default d: String? = nil, mode: ListenerMode = .tls) -> ListenerConfiguration {
    ListenerConfiguration(name: name, addresses: [IPEndpoint(.v4(IPv4Address("192.0.2.1")!), 443)], mode: mode,
                          routes: routes, defaultRoute: d)
}

@Suite struct RoutingTests {
    let routes = [
        route("a", ["a.example", "*.a.example"], [backend(1)]),
        route("deep", ["*.x.a.example"], [backend(2)]),
        route("b", ["b.example"], [backend(3)]),
        route("fallback", [], [backend(4)]),
    ]

    @Test func ipR1_exactThenLongestWildcardThenDefault() throws {
        let table = try RouteTable(routes: routes, listeners: [listener("https", ["a", "deep", "b"], default: "fallback"),
                                                               listener("strict", ["a", "b"])], previous: nil)
        func name(_ l: String, _ n: String?) -> String? { table.route(listener: l, name: n)?.configuration.name }
        #expect(name("https", "a.example") == "a")
        #expect(name("https", "www.a.example") == "a")
        #expect(name("https", "one.two.a.example") == "a")
        #expect(name("https", "y.x.a.example") == "deep")
        #expect(name("https", "x.a.example") == "a")  // `*.x.a.example` does not match its apex
        #expect(name("https", "b.example") == "b")
        #expect(name("https", "www.b.example") == "fallback")
        #expect(name("https", "xa.example") == "fallback")  // a wildcard matches whole labels only
        #expect(name("https", nil) == "fallback")
        #expect(name("strict", "c.example") == nil)
        #expect(name("strict", nil) == nil)
        #expect(name("strict", "y.x.a.example") == "a")  // `deep` is not on this listener
    }

    @Test func ipR1_unknownRouteNamesAreProblems() {
        #expect(throws: RouteTable.Problem.self) {
            try RouteTable(routes: routes, listeners: [listener("l", ["nope"])], previous: nil)
        }
        #expect(throws: RouteTable.Problem.self) {
            try RouteTable(routes: routes + [route("a", [], [backend(9)])], listeners: [], previous: nil)
        }
        #expect(throws: RouteTable.Problem.self) {
            try RouteTable(routes: [route("empty", ["e.example"], [])], listeners: [], previous: nil)
        }
    }

    @Test func ipR2_roundRobinTakesEachInTurn() throws {
        let table = try RouteTable(routes: [route("r", ["r"], [backend(1), backend(2), backend(3)])], listeners: [], previous: nil)
        let r = table.routes["r"]!
        let picks = (0..<6).map { _ in r.pick(now: 0, tried: [])! }
        #expect(picks == [0, 1, 2, 0, 1, 2])
    }

    @Test func ipR2_leastConnectionsTakesTheLeastLoaded() throws {
        let table = try RouteTable(routes: [route("r", ["r"], [backend(1), backend(2), backend(3)], balance: .leastConnections)],
                                   listeners: [], previous: nil)
        let r = table.routes["r"]!
        r.backends[0].active.store(5, ordering: .relaxed)
        r.backends[1].active.store(1, ordering: .relaxed)
        r.backends[2].active.store(3, ordering: .relaxed)
        #expect(r.pick(now: 0, tried: []) == 1)
        r.backends[1].active.store(4, ordering: .relaxed)
        #expect(r.pick(now: 0, tried: []) == 2)
        #expect(r.pick(now: 0, tried: [2]) == 1)
    }

    @Test func ipR3_failedBackendIsSkippedForTheDownTime() throws {
        let table = try RouteTable(routes: [route("r", ["r"], [backend(1), backend(2)])], listeners: [], previous: nil)
        let r = table.routes["r"]!
        let second: UInt64 = 1_000_000_000
        r.backends[0].markDown(now: 100 * second, for: 10 * second)
        #expect((0..<4).map { _ in r.pick(now: 105 * second, tried: [])! } == [1, 1, 1, 1])
        #expect(!r.backends[0].isUp(now: 109 * second))
        #expect(r.backends[0].isUp(now: 110 * second))
        #expect(Set((0..<4).map { _ in r.pick(now: 110 * second, tried: [])! }) == [0, 1])
        r.backends[0].markDown(now: 200 * second, for: 10 * second)
        r.backends[0].markUp()  // an active check or connect succeeded
        #expect(r.backends[0].isUp(now: 200 * second))
    }

    @Test func ipR4_allDownStillTriesEachOnce() throws {
        let table = try RouteTable(routes: [route("r", ["r"], [backend(1), backend(2)])], listeners: [], previous: nil)
        let r = table.routes["r"]!
        for b in r.backends { b.markDown(now: 0, for: 1_000) }
        var tried = Set<Int>()
        while let i = r.pick(now: 10, tried: tried) { tried.insert(i) }
        #expect(tried == [0, 1])
        #expect(r.pick(now: 10, tried: tried) == nil)
    }

    @Test func ipR5_applyKeepsStateOfBackendsThatStay() throws {
        let listeners = [listener("https", ["a", "b"])]
        let first = try RouteTable(routes: [route("a", ["a.example"], [backend(1), backend(2)]), route("b", ["b.example"], [backend(3)])],
                                   listeners: listeners, previous: nil)
        let kept = first.routes["a"]!.backends[1]
        kept.active.store(7, ordering: .relaxed)
        kept.markDown(now: 0, for: 1_000)
        #expect(first.routes["a"]!.admit())
        let second = try RouteTable(routes: [route("a", ["a.example", "www.a.example"], [backend(2), backend(5)]),
                                             route("b", ["b2.example"], [backend(3)])],
                                    listeners: listeners, previous: first)
        let a = second.routes["a"]!
        #expect(a.backends[0] === kept)
        #expect(a.backends[0].active.load(ordering: .relaxed) == 7)
        #expect(!a.backends[0].isUp(now: 10))
        #expect(a.backends[1].active.load(ordering: .relaxed) == 0)
        #expect(a.counters === first.routes["a"]!.counters)
        #expect(a.counters.active.load(ordering: .relaxed) == 1)
        // The new names take effect; the old table is unchanged for connections that hold it.
        #expect(second.route(listener: "https", name: "www.a.example")?.configuration.name == "a")
        #expect(second.route(listener: "https", name: "b.example") == nil)
        #expect(first.route(listener: "https", name: "b.example")?.configuration.name == "b")
    }

    @Test func ipL1_ipL2_totalAndPerClientLimits() {
        let admission = Admission(maxConnections: 3, maxConnectionsPerClient: 2)
        let c1 = IPAddress.v4(IPv4Address("198.51.100.7")!)
        let c2 = IPAddress.v4(IPv4Address("198.51.100.8")!)
        let c3 = IPAddress.v6(IPv6Address("2001:db8::9")!)
        #expect(admission.admit(c1) == nil)
        #expect(admission.admit(c1) == nil)
        #expect(admission.admit(c1) == .clientLimit)
        #expect(admission.admit(c2) == nil)
        #expect(admission.admit(c3) == .totalLimit)
        admission.release(c1)
        #expect(admission.admit(c3) == nil)
        #expect(admission.usage.connections == 3)
        #expect(admission.usage.clients == 3)
        for c in [c1, c2, c3] { admission.release(c) }
        #expect(admission.usage.connections == 0)
        #expect(admission.usage.clients == 0)  // the client table holds only clients with open connections
    }

    @Test func ipL3_routeLimitIsCounted() throws {
        var r = route("r", ["r"], [backend(1)])
        r.maxConnections = 2
        let state = try RouteTable(routes: [r], listeners: [], previous: nil).routes["r"]!
        #expect(state.admit())
        #expect(state.admit())
        #expect(!state.admit())
        #expect(state.counters.refusedAtLimit.load(ordering: .relaxed) == 1)
        state.release()
        #expect(state.admit())
        #expect(state.counters.connections.load(ordering: .relaxed) == 3)
    }
}

/// Every refusal reason has its own counter (the storage is fixed-size) and its own `refused.REASON` field.
@Suite struct RefusalCounterTests {
    @Test func everyReasonCountsAlone() {
        for reason in RefusalReason.allCases {
            let counters = ProxyCounters()
            counters.countRefusal(reason)
            #expect(RefusalReason.allCases.allSatisfy { counters.refused($0) == ($0 == reason ? 1 : 0) })
            #expect(counters.fields.contains { $0.name == "refused.\(reason.rawValue)" && $0.value == 1 })
        }
    }
}
