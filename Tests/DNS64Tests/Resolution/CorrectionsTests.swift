import NAT64Translator
import NIOCore
import Testing
@testable import DNS64

/// Rules D12–D16 (the corrections found by comparing with BIND 9's dns64), driven with hand-built upstream answers
/// and, where the transport matters, through real loopback sockets.
struct CorrectionsTests {
    private static let mapped: [UInt8] = Array(repeating: 0, count: 10) + [0xFF, 0xFF, 192, 0, 2, 9]
    private static let real: [UInt8] = [0x20, 0x01, 0x0d, 0xb8] + Array(repeating: 0, count: 11) + [1]
    private static let doQuery = Fixture.query(opt: Bytes.opt(size: 1232, dnssecOK: true))

    /// An AAAA answer with the given AAAA RDATAs, signed (an RRSIG(AAAA) after them) when `signed`; AD set.
    private static func aaaaAnswer(_ addresses: [[UInt8]], signed: Bool) -> [UInt8] {
        var records = addresses.map { Bytes.recordAtQName(type: Bytes.typeAAAA, ttl: 60, rdata: $0) }
        // RRSIG RDATA: type covered AAAA, algorithm 13, 2 labels, original TTL 60, then opaque bytes.
        if signed { records.append(Bytes.recordAtQName(type: 46, ttl: 60, rdata: [0, 28, 13, 2] + Bytes.u32(60) + Array(repeating: 7, count: 24))) }
        return Fixture.response(type: Bytes.typeAAAA, flags: 0x81A0, answers: records)
    }

    private func message(_ reply: DNSReply?) throws -> DNSMessage { try DNSMessage(parsing: try #require(reply).bytes) }

    // MARK: D12

    @Test func D12_signedRRsetOfOnlyExcludedAAAARelayedUnmodifiedWithDO() throws {
        let upstream = Self.aaaaAnswer([Self.mapped], signed: true)
        let (asked, reply) = Fixture.run(try #require(Fixture.machine(Self.doQuery)), [try Fixture.answer(upstream)])
        #expect(asked.map(\.question.type) == [.aaaa])  // D7: signed, DO=1: no synthesis
        let bytes = try #require(reply).bytes
        #expect(bytes[0...1] == [0xBE, 0xEF])
        #expect(bytes[2...] == upstream[2...])  // the AAAA and its RRSIG, byte for byte
        #expect(try message(reply).answers.map(\.type) == [.aaaa, .rrsig])
        #expect(reply?.outcome == .relayed)
    }

    @Test func D12_signedMixedRRsetKeptWholeWithDOAndTrimmedWithout() throws {
        let upstream = Self.aaaaAnswer([Self.mapped, Self.real], signed: true)
        let withDO = Fixture.run(try #require(Fixture.machine(Self.doQuery)), [try Fixture.answer(upstream)])
        #expect(try #require(withDO.reply).bytes[2...] == upstream[2...])
        // DO=0: the client sees no signatures, so D4 trims the excluded record (the RRSIG goes with the answer
        // as the upstream sent it, the client does not validate).
        let withoutDO = Fixture.run(try #require(Fixture.machine(Fixture.query())), [try Fixture.answer(upstream)])
        let aaaa = try message(withoutDO.reply).answers.compactMap { if case .aaaa(let a) = $0.rdata { a } else { nil } }
        #expect(aaaa == [IPv6Address("2001:db8::1")!])
        #expect(withoutDO.reply?.outcome == .filtered)
    }

    @Test func D12_unsignedExcludedOnlyStillSynthesizedAndFallbackUntouchedWithDO() throws {
        let upstream = Self.aaaaAnswer([Self.mapped], signed: false)
        let aAnswer = Fixture.response(type: Bytes.typeA, answers: [Fixture.aRecord(ttl: 60, 192, 0, 2, 1)])
        let synthesized = Fixture.run(
            try #require(Fixture.machine(Self.doQuery)), [try Fixture.answer(upstream), try Fixture.answer(aAnswer)])
        #expect(synthesized.reply?.outcome == .synthesized)
        #expect(try message(synthesized.reply).answers == [.aaaa(DNSName("example.com")!, ttl: 60, IPv6Address("2001:db8:64::c000:201")!)])
        // No A records: nothing is synthesized, so the AAAA answer goes back as received, excluded record included.
        let none = Fixture.run(
            try #require(Fixture.machine(Self.doQuery)),
            [try Fixture.answer(upstream), try Fixture.answer(Fixture.response(type: Bytes.typeA))])
        #expect(try #require(none.reply).bytes[2...] == upstream[2...])
    }

    // MARK: D13

    @Test func D13_rd0CacheMissAnsweredWithoutAskingUpstream() throws {
        let rd0 = Fixture.query(flags: 0x0000)
        let machine = try #require(Fixture.machine(rd0))
        #expect(machine.cacheOnly)
        let (asked, reply) = Fixture.run(machine, [])
        #expect(asked.isEmpty)
        let m = try message(reply)
        #expect(m.header.flags.rcode == .noError && m.answers.isEmpty && m.authorities.isEmpty)
        #expect(!m.header.flags.recursionDesired && m.header.flags.recursionAvailable)
        #expect(reply?.outcome == .cacheOnlyMiss)
        // A PTR under the prefix is not resolved either; ipv4only.arpa is local data and still answered.
        let ptr = Fixture.query("1.0.2.0.0.0.0.c.0.0.0.0.0.0.0.0.0.0.0.0.4.6.0.0.8.b.d.0.1.0.0.2.ip6.arpa", type: 12, flags: 0)
        #expect(Fixture.run(try #require(Fixture.machine(ptr)), []).reply?.outcome == .cacheOnlyMiss)
        let local = Fixture.run(try #require(Fixture.machine(Fixture.query("ipv4only.arpa", flags: 0))), [])
        #expect(local.asked.isEmpty && local.reply?.outcome == .local)
    }

    @Test func D13_recursionWithoutRDWhenConfigured() throws {
        let intake = QueryIntake(allowedClients: ClientNetwork.loopback, policy: Fixture.policy, recurseWithoutRD: true)
        guard case .resolve(let machine) = intake.accept(Fixture.query(flags: 0x0000), from: Fixture.client) else {
            Issue.record("not accepted")
            return
        }
        #expect(!machine.cacheOnly)
        let aAnswer = Fixture.response(type: Bytes.typeA, answers: [Fixture.aRecord(ttl: 60, 192, 0, 2, 1)])
        let (asked, reply) = Fixture.run(machine, [try Fixture.answer(Fixture.nodata()), try Fixture.answer(aAnswer)])
        #expect(asked.map(\.question.type) == [.aaaa, .a])
        #expect(reply?.outcome == .synthesized)
        #expect(try !message(reply).header.flags.recursionDesired)
    }

    // MARK: D14

    @Test func D14_reverseSynthesisForEveryGroupsPrefix() throws {
        let labPrefix = NAT64Prefix("2001:db8:6400::/40")!
        let lab = ClientGroup(name: "lab", clients: [.v6(IPv6Prefix("2001:db8:1:8::/64")!)], policy: SynthesisPolicy(prefixes: [labPrefix]))
        let off = ClientGroup(name: "off", clients: [.v6(IPv6Prefix("2001:db8:1:9::/64")!)], policy: SynthesisPolicy(prefixes: []))
        let intake = QueryIntake(allowedClients: [.v6(IPv6Prefix("2001:db8:1::/48")!)], policy: Fixture.policy, groups: [lab, off])
        #expect(intake.reversePrefixes == [Fixture.prefix96, labPrefix])
        let ptr = Bytes.header(id: 0x0777, flags: 0x8180, an: 1) + Bytes.question("33.2.0.192.in-addr.arpa", type: 12)
            + Bytes.recordAtQName(type: 12, ttl: 900, rdata: Bytes.name("host.example"))
        for prefix in [Fixture.prefix96, labPrefix] {
            let nibbles = prefix.embed(IPv4Address(192, 0, 2, 33)).byteArray
                .flatMap { [String($0 >> 4, radix: 16), String($0 & 0xF, radix: 16)] }
            let name = nibbles.reversed().joined(separator: ".") + ".ip6.arpa"
            // A client of each group, the one with synthesis off included, gets the CNAME for either prefix.
            for client in ["2001:db8:1:1::5", "2001:db8:1:8::5", "2001:db8:1:9::5"] {
                guard case .resolve(let machine) = intake.accept(
                    Fixture.query(name, type: 12), from: try SocketAddress(ipAddress: client, port: 5))
                else {
                    Issue.record("not accepted")
                    continue
                }
                let (asked, reply) = Fixture.run(machine, [try .answer(try DNSMessage(parsing: ptr), raw: ptr)])
                #expect(asked.map(\.question.name) == [DNSName("33.2.0.192.in-addr.arpa")!], "\(prefix) from \(client)")
                #expect(try message(reply).answers.first?.type == .cname, "\(prefix) from \(client)")
            }
        }
    }

    @Test func D14_nestedPrefixesOfTwoGroups() throws {
        // 2001:db8::/32 (one group) contains 2001:db8:100::/40 (another). 2001:db8:1c6:3364:a:: is no embedding
        // under the /32 (its suffix is not zero) but is 198.51.100.10 under the /40.
        let wide = ClientGroup(name: "w", clients: [.v6(IPv6Prefix("2001:db8:1:32::/64")!)], policy: SynthesisPolicy(prefixes: [NAT64Prefix("2001:db8::/32")!]))
        let narrow = ClientGroup(name: "n", clients: [.v6(IPv6Prefix("2001:db8:1:40::/64")!)], policy: SynthesisPolicy(prefixes: [NAT64Prefix("2001:db8:100::/40")!]))
        let intake = QueryIntake(allowedClients: ClientNetwork.loopback, policy: Fixture.policy, groups: [wide, narrow])
        let name = "0.0.0.0.0.0.0.0.0.0.0.0.a.0.0.0.4.6.3.3.6.c.1.0.8.b.d.0.1.0.0.2.ip6.arpa"
        guard case .resolve(let machine) = intake.accept(Fixture.query(name, type: 12), from: Fixture.client) else {
            Issue.record("not accepted")
            return
        }
        let (asked, _) = Fixture.run(machine, [.failed])
        #expect(asked.map(\.question.name) == [DNSName("10.100.51.198.in-addr.arpa")!])
    }

    // MARK: D15

    @Test func D15_relayedAuthoritativeAnswerCarriesRAWithoutAA() throws {
        // QR AA RD, RA clear: what an authoritative-only server sends.
        let mx = Fixture.response(
            type: Bytes.typeMX, flags: 0x8500, answers: [Bytes.recordAtQName(type: Bytes.typeMX, ttl: 60, rdata: [0, 10, 0xC0, 0x0C])])
        let (_, reply) = Fixture.run(try #require(Fixture.machine(Fixture.query(type: Bytes.typeMX))), [try Fixture.answer(mx)])
        let flags = try message(reply).header.flags
        #expect(flags.recursionAvailable && !flags.authoritative && flags.recursionDesired)
        #expect(try #require(reply).bytes[4...] == mx[4...])  // only the flags changed
        // The same for a filtered answer (D4) and a synthesized one (D2).
        let mixed = Fixture.response(
            type: Bytes.typeAAAA, flags: 0x8500,
            answers: [Bytes.recordAtQName(type: Bytes.typeAAAA, ttl: 60, rdata: Self.mapped), Bytes.recordAtQName(type: Bytes.typeAAAA, ttl: 60, rdata: Self.real)])
        let filtered = Fixture.run(try #require(Fixture.machine(Fixture.query())), [try Fixture.answer(mixed)])
        #expect(filtered.reply?.outcome == .filtered)
        let filteredFlags = try message(filtered.reply).header.flags
        #expect(filteredFlags.recursionAvailable && !filteredFlags.authoritative)
        let aAnswer = Fixture.response(type: Bytes.typeA, flags: 0x8500, answers: [Fixture.aRecord(ttl: 60, 192, 0, 2, 1)])
        let synthesized = Fixture.run(
            try #require(Fixture.machine(Fixture.query())), [try Fixture.answer(Fixture.nodata()), try Fixture.answer(aAnswer)])
        let synthesizedFlags = try message(synthesized.reply).header.flags
        #expect(synthesizedFlags.recursionAvailable && !synthesizedFlags.authoritative)
    }

    // MARK: D16

    /// Drives a machine whose deadline is 1 000 ns with results arriving at the given times.
    private func runTimed(_ results: [(UpstreamResult, UInt64)]) throws -> (asked: [UpstreamQuery], reply: DNSReply?) {
        var machine = try #require(Fixture.machine(Fixture.query()))
        machine.deadline = 1000
        var asked: [UpstreamQuery] = []
        var action = machine.start()
        var pending = results[...]
        while case .askUpstream(let query) = action {
            asked.append(query)
            guard let (result, now) = pending.popFirst() else { return (asked, nil) }
            action = machine.upstreamAnswered(result, now: now)
        }
        guard case .reply(let reply) = action else { return (asked, nil) }
        return (asked, reply)
    }

    @Test func D16_failureAtTheDeadlineEndsWithServfailAndNoAQuery() throws {
        let (asked, reply) = try runTimed([(.failed, 1000)])
        #expect(asked.map(\.question.type) == [.aaaa])
        #expect(try message(reply).header.flags.rcode == .servFail)
        #expect(reply?.outcome == .deadline)
        // Before the deadline the A fallback still goes out (D3).
        let early = try runTimed([(.failed, 999)])
        #expect(early.asked.map(\.question.type) == [.aaaa, .a] && early.reply == nil)
    }

    @Test func D16_answerAtTheDeadlineStartsNoFurtherQuery() throws {
        // NODATA right at the deadline would need an A query: SERVFAIL instead.
        let late = try runTimed([(try Fixture.answer(Fixture.nodata()), 1200)])
        #expect(late.asked.count == 1 && late.reply?.outcome == .deadline)
        // NODATA in time, the A query fails at the deadline: SERVFAIL, not the NODATA (which would be cached).
        let aLate = try runTimed([(try Fixture.answer(Fixture.nodata()), 10), (.failed, 1000)])
        #expect(aLate.asked.count == 2 && aLate.reply?.outcome == .deadline)
        // An answer that completes the query is used even at the deadline: it costs no further wait.
        let aAnswer = Fixture.response(type: Bytes.typeA, answers: [Fixture.aRecord(ttl: 60, 192, 0, 2, 1)])
        let done = try runTimed([(try Fixture.answer(Fixture.nodata()), 10), (try Fixture.answer(aAnswer), 1000)])
        #expect(done.reply?.outcome == .synthesized)
    }
}

/// D13 and D16 through the real server: the cache and the upstream client.
struct CorrectionsLoopbackTests {
    @Test func D13_rd0AnsweredFromTheCacheOnly() async throws {
        try await LoopbackIntegrationTests.withServer(upstreams: { _ in [] }) { group, server, address in
            let question = Bytes.question("cached.example", type: Bytes.typeAAAA)
            let miss = try DNSMessage(parsing: try await LoopbackIntegrationTests.ask(group, address, Bytes.header(id: 1, flags: 0) + question))
            #expect(miss.header.flags.rcode == .noError && miss.answers.isEmpty && !miss.header.flags.recursionDesired)
            #expect(server.counters.upstreamQueries == 0 && server.counters.cacheOnlyMisses == 1)
            // RD=1 resolves and caches the synthesized answer; RD=0 then gets it from the cache.
            let full = try await LoopbackIntegrationTests.ask(group, address, Bytes.header(id: 2, flags: 0x0100) + question)
            let upstreamQueries = server.counters.upstreamQueries
            #expect(upstreamQueries == 2)
            let hit = try DNSMessage(parsing: try await LoopbackIntegrationTests.ask(group, address, Bytes.header(id: 3, flags: 0) + question))
            // The cached answer, its TTL lowered by the time it spent in the cache (whole seconds on the server's
            // clock, which this test does not control: a second boundary may fall between the two queries).
            let resolved = try DNSMessage(parsing: full).answers
            #expect(resolved == [.aaaa(DNSName("cached.example")!, ttl: 300, IPv6Address("2001:db8:64::c000:201")!)])
            #expect(hit.answers.allSatisfy { $0.ttl <= 300 })
            #expect(hit.answers.map { record in
                var sameTTL = record
                sameTTL.ttl = 300
                return sameTTL
            } == resolved)
            #expect(!hit.header.flags.recursionDesired && hit.header.flags.recursionAvailable)
            #expect(server.counters.upstreamQueries == upstreamQueries && server.counters.cacheOnlyMisses == 1)
        }
    }

    @Test func D16_deadlineCutsFailoverShort() async throws {
        // Two upstreams that never answer, each allowed 10 s: without the deadline the AAAA and A queries would
        // wait 40 s in all. With a 200 ms deadline the first attempt is cut at it and nothing else is sent.
        try await LoopbackIntegrationTests.withServer(
            upstreams: { group in
                [try #require(try await LoopbackIntegrationTests.udp(group).localAddress),
                 try #require(try await LoopbackIntegrationTests.udp(group).localAddress)]
            }, timeout: .seconds(10),
            configure: {
                $0.upstreams.removeLast()  // the answering fake upstream
                $0.clientDeadline = .milliseconds(200)
            }
        ) { group, server, address in
            let reply = try await LoopbackIntegrationTests.ask(
                group, address, Bytes.header(id: 5, flags: 0x0100) + Bytes.question("silent.example", type: Bytes.typeAAAA))
            #expect(try DNSMessage(parsing: reply).header.flags.rcode == .servFail)
            let counters = server.counters
            #expect(counters.deadlineExpired == 1)
            #expect(counters.upstreamQueries == 1)
        }
    }
}
