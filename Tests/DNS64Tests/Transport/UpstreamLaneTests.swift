import CDNSSocket
import Logging
import NAT64Translator
import NIOCore
import NIOPosix
import Synchronization
import Testing
@testable import DNS64

/// The listener threads' upstream side (`UpstreamLane`) driven by hand: real loopback sockets, but every
/// timeout decided on an injected clock, so no test waits for one (rules N3, D16).
struct UpstreamLaneTests {
    /// An arbitrary start of the injected clock (monotonic ns).
    static let t0: UInt64 = 1_000_000_000_000
    static let second: UInt64 = 1_000_000_000

    /// A server that is never started (its listeners are not needed), whose `admit` hands out the machines
    /// the lane resolves; replies to the test's client are collected.
    final class Harness: Sendable {
        let group: MultiThreadedEventLoopGroup
        let server: DNS64Server
        let epoll: Int32
        let replies = Mutex<[[UInt8]]>([])
        let client = try! SocketAddress(ipAddress: "127.0.0.1", port: 5300)

        init(upstreams: [SocketAddress], group: MultiThreadedEventLoopGroup, timeout: Duration = .seconds(2),
             configure: (inout DNS64Configuration) -> Void = { _ in }) {
            var configuration = DNS64Configuration(
                listen: [LoopbackIntegrationTests.localhost], upstreams: upstreams,
                prefixes: [NAT64Prefix("2001:db8:64::/96")!], allowedClients: ClientNetwork.loopback)
            configuration.upstreamTimeout = timeout
            configure(&configuration)
            self.group = group
            server = DNS64Server(configuration: configuration, group: group, logger: Logger(label: "test"))
            epoll = CDNS_epoll_create()
        }

        deinit { close(epoll) }

        /// The query for `name` AAAA through intake; the machine and key when it must be resolved.
        func admit(_ name: String, id: UInt16 = 7) -> (QueryStateMachine, CacheKey)? {
            let query = Bytes.header(id: id, flags: 0x0100) + Bytes.question(name, type: Bytes.typeAAAA)
            let admission = server.admit(query, from: client, overTCP: false) { reply in
                self.replies.withLock { $0.append(reply) }
            }
            guard case .resolve(let machine, let key) = admission else { return nil }
            return (machine, key)
        }

        var replyCount: Int { replies.withLock { $0.count } }

        /// Hands the lane every upstream socket that turns readable, with the clock standing at `now`, until
        /// `count` replies are in (or about 10 s without one: the test then fails on its expectations).
        func pump(_ lane: inout UpstreamLane, now: UInt64, untilReplies count: Int) {
            var tags = [UInt64](repeating: 0, count: 16)
            var events = [UInt32](repeating: 0, count: 16)
            var idle = 0
            while replyCount < count, idle < 100 {
                let n = CDNS_epoll_wait(epoll, &tags, &events, 16, 100)
                if n <= 0 { idle += 1 }
                for i in 0..<max(0, Int(n)) { lane.readable(tags[i], now: now) }
            }
        }
    }

    static func synthesized(_ reply: [UInt8]) throws -> [DNSRData] {
        try DNSMessage(parsing: reply).answers.map(\.rdata)
    }

    static let expected: [DNSRData] = [.aaaa(IPv6Address("2001:db8:64::c000:201")!)]

    @Test func N3_timeoutOnTheLaneClockFailsOverToTheNextUpstream() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let silent = try await LoopbackIntegrationTests.udp(group)
        let fake = try await LoopbackIntegrationTests.udp(group) { FakeUpstreamHandler() }
        let h = Harness(upstreams: [try #require(silent.localAddress), try #require(fake.localAddress)], group: group)
        var lane = UpstreamLane(epoll: h.epoll, server: h.server, loops: group)
        var (machine, key) = try #require(h.admit("t.example"))
        machine.deadline = Self.t0 + 4 * Self.second

        lane.start(machine, key: key, now: Self.t0)
        #expect(lane.resolving == 1 && lane.waitMilliseconds(now: Self.t0) == 2000)
        lane.expire(now: Self.t0 + 2 * Self.second - 1)
        #expect(h.server.counters.upstreamFailures == 0 && h.server.counters.upstreamQueries == 1)
        lane.expire(now: Self.t0 + 2 * Self.second)  // the silent upstream's time is up: the fake one is next
        #expect(h.server.counters.upstreamFailures == 1 && h.server.counters.upstreamQueries == 2)
        h.pump(&lane, now: Self.t0 + 2 * Self.second, untilReplies: 1)

        let reply = try #require(h.replies.withLock { $0.first })
        #expect(try Self.synthesized(reply) == Self.expected)
        #expect(reply[0] == 0 && reply[1] == 7)  // the client's ID
        let counters = h.server.counters
        // AAAA (NODATA) then A; each real answer came after a spoofed one, dropped and counted.
        #expect(counters.upstreamQueries == 3 && counters.upstreamAnswers == 2 && counters.upstreamMismatches == 2)
        #expect(lane.resolving == 0 && lane.waitMilliseconds(now: Self.t0 + 3 * Self.second) == -1)
        #expect(h.server.cachedAnswers == 1)
        lane.abandonAll()
        try await silent.close()
        try await fake.close()
        try await group.shutdownGracefully()
    }

    @Test func D16_deadlineShortensTheLastAttemptAndEndsInServfail() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let silent = try await LoopbackIntegrationTests.udp(group)
        let silent2 = try await LoopbackIntegrationTests.udp(group)
        let h = Harness(upstreams: [try #require(silent.localAddress), try #require(silent2.localAddress)], group: group)
        var lane = UpstreamLane(epoll: h.epoll, server: h.server, loops: group)
        var (machine, key) = try #require(h.admit("late.example"))
        machine.deadline = Self.t0 + 3 * Self.second

        lane.start(machine, key: key, now: Self.t0)
        lane.expire(now: Self.t0 + 2 * Self.second)
        // The second upstream gets what is left before the deadline, not a whole timeout.
        #expect(lane.waitMilliseconds(now: Self.t0 + 2 * Self.second) == 1000)
        #expect(h.replyCount == 0)
        lane.expire(now: Self.t0 + 3 * Self.second)

        let reply = try #require(h.replies.withLock { $0.first })
        #expect(try DNSMessage(parsing: reply).header.flags.rcode == .servFail)
        let counters = h.server.counters
        #expect(counters.upstreamFailures == 2 && counters.upstreamQueries == 2 && counters.deadlineExpired == 1)
        #expect(lane.resolving == 0)
        try await silent.close()
        try await silent2.close()
        try await group.shutdownGracefully()
    }

    @Test func N3_portUnreachableFailsOverAtTheSameInstant() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let closed = try await LoopbackIntegrationTests.udp(group)
        let closedAddress = try #require(closed.localAddress)
        try await closed.close()
        let fake = try await LoopbackIntegrationTests.udp(group) { FakeUpstreamHandler() }
        let h = Harness(upstreams: [closedAddress, try #require(fake.localAddress)], group: group)
        var lane = UpstreamLane(epoll: h.epoll, server: h.server, loops: group)
        let (machine, key) = try #require(h.admit("r.example"))

        lane.start(machine, key: key, now: Self.t0)
        // The clock never moves: only the ICMP error on the connected socket can move the query on.
        h.pump(&lane, now: Self.t0, untilReplies: 1)

        let reply = try #require(h.replies.withLock { $0.first })
        #expect(try Self.synthesized(reply) == Self.expected)
        #expect(h.server.counters.upstreamFailures == 1 && lane.resolving == 0)
        try await fake.close()
        try await group.shutdownGracefully()
    }

    @Test func N3_portsRotateAndRetiredSocketsClose() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let recorder = RecordingUpstreamHandler()
        let upstream = try await LoopbackIntegrationTests.udp(group) { recorder }
        let h = Harness(upstreams: [try #require(upstream.localAddress)], group: group) {
            $0.upstreamPortsPerLoop = 2
            $0.upstreamQueriesPerPort = 3
        }
        var lane = UpstreamLane(epoll: h.epoll, server: h.server, loops: group)
        for i in 0..<12 {
            let (machine, key) = try #require(h.admit("n\(i).example", id: UInt16(i)))
            lane.start(machine, key: key, now: Self.t0)
            h.pump(&lane, now: Self.t0, untilReplies: i + 1)
        }
        #expect(h.replyCount == 12)
        let seen = recorder.seen.withLock { $0 }
        #expect(seen.count == 24)  // AAAA and A per name
        let byPort = Dictionary(grouping: seen, by: \.port)
        #expect(byPort.count >= 8 && byPort.values.allSatisfy { $0.count <= 3 })
        #expect(Set(seen.map(\.id)).count >= 22)  // 24 random 16-bit IDs: a collision or two at most
        #expect(h.server.counters.upstreamSocketsOpened == byPort.count)
        #expect(h.server.counters.upstreamMismatches == 24)  // every wrong-ID answer dropped
        // Retired sockets closed once their queries were answered: at most the two slots' sockets are open.
        #expect(lane.openSockets <= 2)
        try await upstream.close()
        try await group.shutdownGracefully()
    }

    @Test func N4_abandonedResolutionsLeaveNothingInFlightAndCacheNothing() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let silent = try await LoopbackIntegrationTests.udp(group)
        let h = Harness(upstreams: [try #require(silent.localAddress)], group: group)
        var lane = UpstreamLane(epoll: h.epoll, server: h.server, loops: group)
        let (machine, key) = try #require(h.admit("stop.example", id: 1))
        #expect(h.admit("stop.example", id: 2) == nil)  // joins the resolution in flight
        lane.start(machine, key: key, now: Self.t0)

        // Stopping drops both waiting clients (their retry goes to whoever serves next), caches nothing.
        #expect(lane.abandonAll() == 2)
        #expect(h.replyCount == 0)
        #expect(h.server.cachedAnswers == 0 && lane.resolving == 0 && lane.openSockets == 0)
        #expect(h.admit("stop.example", id: 3) != nil)  // nothing left in flight: a new query resolves afresh
        try await silent.close()
        try await group.shutdownGracefully()
    }

    /// A socket that cannot be made (descriptors exhausted) fails the attempt over to the next upstream, but
    /// it is this process's shortage: the upstream is not marked failed and keeps its place (N3).
    @Test func N3_aLocalShortageFailsOverWithoutBlamingTheUpstream() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let first = try await LoopbackIntegrationTests.udp(group) { FakeUpstreamHandler() }
        let second = try await LoopbackIntegrationTests.udp(group) { FakeUpstreamHandler() }
        let h = Harness(upstreams: [try #require(first.localAddress), try #require(second.localAddress)], group: group)
        var lane = UpstreamLane(epoll: h.epoll, server: h.server, loops: group)
        let firstPort = UInt16(try #require(first.localAddress?.port))
        lane.openSocket = { address, length, failed in
            // sin6_port / sin_port: the same offset in both.
            let port = UInt16(bigEndian: UnsafeRawPointer(address).load(fromByteOffset: 2, as: UInt16.self))
            return port == firstPort ? -EMFILE : CDNS_upstream_socket(address, length, &failed)
        }
        let (machine, key) = try #require(h.admit("short.example"))
        lane.start(machine, key: key, now: Self.t0)
        h.pump(&lane, now: Self.t0, untilReplies: 1)

        #expect(try Self.synthesized(try #require(h.replies.withLock { $0.first })) == Self.expected)
        let counters = h.server.counters
        // AAAA and A each tried the first upstream (no socket), then the second.
        #expect(counters.upstreamFailures == 2 && counters.upstreamAnswers == 2)
        #expect(h.server.upstreamClient.health.order(now: Self.t0) == [0, 1])  // the first is not blamed
        try await first.close()
        try await second.close()
        try await group.shutdownGracefully()
    }

    @Test func N3_dueHeapReturnsTimersInOrderAfterRemovals() {
        var heap = DueHeap()
        var model: [Int32: UInt64] = [:]
        var generator = SplitMix(state: 42)
        for p in Int32(0)..<300 {
            let due = generator.next() % 10_000
            heap.insert(p, due: due)
            model[p] = due
        }
        for p in Int32(0)..<300 where p % 3 == 0 {
            heap.remove(p)
            model[p] = nil
        }
        heap.remove(1_000)  // never inserted: nothing happens
        #expect(heap.count == model.count)
        var popped: [(UInt64, Int32)] = []
        while let first = heap.first {
            heap.remove(first.pending)
            popped.append((first.due, first.pending))
        }
        #expect(popped.map(\.0) == model.values.sorted())
        #expect(popped.allSatisfy { model[$0.1] == $0.0 })
    }
}
