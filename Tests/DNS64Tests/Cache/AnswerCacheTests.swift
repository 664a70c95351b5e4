import NAT64Translator
import Logging
import NIOCore
import NIOPosix
import Testing
@testable import DNS64

/// Rule N4: what is cached for how long (RFC 2308 §5), how a cached answer is served to another client (ID, RD,
/// name spelling, TTLs aged, OPT only for EDNS clients, size limit), and the cache's bounds.
struct AnswerCacheTests {
    static let seconds: UInt64 = 1_000_000_000

    private func answer(_ bytes: [UInt8], limits: CacheLimits = CacheLimits()) throws -> CachedAnswer {
        try #require(CachedAnswer(DNSReply(bytes: bytes, outcome: .relayed), limits: limits))
    }

    private func query(_ bytes: [UInt8]) throws -> QueryStateMachine {
        try #require(Fixture.machine(bytes))
    }

    @Test func N4_positiveLifetimeIsSmallestAnswerTTL() throws {
        let bytes = Fixture.response(
            type: Bytes.typeA, answers: [Fixture.aRecord(ttl: 300, 192, 0, 2, 1), Fixture.aRecord(ttl: 120, 192, 0, 2, 2)])
        #expect(try answer(bytes).lifetime == 120)
        // Caps: at most max-ttl (and each TTL lowered to it), at least min-ttl.
        let capped = try answer(bytes, limits: CacheLimits(maxTTL: 60))
        #expect(capped.lifetime == 60)
        #expect(try DNSMessage(parsing: capped.bytes).answers.map(\.ttl) == [60, 60])
        #expect(try answer(bytes, limits: CacheLimits(minTTL: 500)).lifetime == 500)
    }

    @Test func N4_negativeLifetimeFromSOA() throws {
        // NODATA: min(SOA TTL 3600, MINIMUM 1200); NXDOMAIN likewise; capped by max-negative-ttl.
        #expect(try answer(Fixture.nodata(soaTTL: 3600, minimum: 1200)).lifetime == 1200)
        #expect(try answer(Fixture.nodata(soaTTL: 30, minimum: 1200)).lifetime == 30)
        let nx = Fixture.response(
            type: Bytes.typeAAAA, rcode: 3,
            authority: [Bytes.record("example.com", type: Bytes.typeSOA, ttl: 900, rdata: Bytes.soaRData(minimum: 600))])
        #expect(try answer(nx).lifetime == 600)
        #expect(try answer(nx, limits: CacheLimits(maxNegativeTTL: 100)).lifetime == 100)
        // No SOA, an error, TC=1 or TTL 0: not cached.
        #expect(try answer(Fixture.response(type: Bytes.typeAAAA)).lifetime == nil)
        #expect(try answer(Fixture.response(type: Bytes.typeAAAA, rcode: 2)).lifetime == nil)
        #expect(try answer(Fixture.response(type: Bytes.typeA, flags: 0x8380, answers: [Fixture.aRecord(ttl: 60, 1, 2, 3, 4)])).lifetime == nil)
        #expect(try answer(Fixture.response(type: Bytes.typeA, answers: [Fixture.aRecord(ttl: 0, 1, 2, 3, 4)])).lifetime == nil)
    }

    @Test func N4_renderPatchesIDRDNameAndAgesTTLs() throws {
        // Stored from a compressed answer (owner = pointer C0 0C), served to a client spelling the name differently.
        let stored = Fixture.response("Example.COM", type: Bytes.typeA, answers: [Bytes.recordAtQName(type: Bytes.typeA, ttl: 300, rdata: [192, 0, 2, 1])])
        let cached = try answer(stored)
        let client = try query(Fixture.query("example.com", type: Bytes.typeA, id: 0x1234, flags: 0x0000))
        let out = cached.render(for: client.query, sizeLimit: 512, age: 100)
        let expected: [UInt8] =
            [0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0] + Bytes.question("example.com", type: 1)
            + [0xC0, 0x0C, 0, 1, 0, 1, 0, 0, 0, 200, 0, 4, 192, 0, 2, 1]
        #expect(out == expected.enumerated().map { $0.offset == 2 ? 0x80 : $0.element })  // RD=0 echoed
        // Aged past the TTL: 0, never wrapped.
        let old = cached.render(for: client.query, sizeLimit: 512, age: 400)
        #expect(try DNSMessage(parsing: old).answers.first?.ttl == 0)
    }

    @Test func N4_optStrippedAndAddedPerClient() throws {
        let withOPT = Fixture.response(type: Bytes.typeA, answers: [Fixture.aRecord(ttl: 60, 192, 0, 2, 1)])
        var bytes = withOPT
        bytes[11] = 1  // ARCOUNT 1
        bytes += Bytes.opt(size: 4096, dnssecOK: true)
        let cached = try answer(bytes)
        #expect(cached.bytes[11] == 0 && cached.bytes.count == withOPT.count)
        let plain = try query(Fixture.query(type: Bytes.typeA))
        #expect(try DNSMessage(parsing: cached.render(for: plain.query, sizeLimit: 512, age: 0)).edns == nil)
        let edns = try query(Fixture.query(type: Bytes.typeA, opt: Bytes.opt(size: 4096, dnssecOK: true)))
        #expect(try DNSMessage(parsing: cached.render(for: edns.query, sizeLimit: 1232, age: 0)).edns
            == EDNSInfo(udpPayloadSize: 1232, dnssecOK: true))
    }

    @Test func N4_renderTruncatesToClientSize() throws {
        let many = (1...40).map { Fixture.aRecord(ttl: 60, 192, 0, 2, UInt8($0)) }
        let cached = try answer(Fixture.response(type: Bytes.typeA, answers: many))
        let client = try query(Fixture.query(type: Bytes.typeA))
        let udp = try DNSMessage(parsing: cached.render(for: client.query, sizeLimit: 512, age: 0))
        #expect(udp.header.flags.truncated && udp.answers.isEmpty && udp.questions.count == 1)
        let tcp = try DNSMessage(parsing: cached.render(for: client.query, sizeLimit: 65535, age: 0))
        #expect(!tcp.header.flags.truncated && tcp.answers.count == 40)
    }

    @Test func N4_keySeparatesTypeDOCDAndGroup() throws {
        let aaaa = CacheKey(try query(Fixture.query("Example.com")))
        #expect(aaaa == CacheKey(try query(Fixture.query("example.COM"))))
        #expect(aaaa != CacheKey(try query(Fixture.query(type: Bytes.typeA))))
        #expect(aaaa != CacheKey(try query(Fixture.query(opt: Bytes.opt(size: 1232, dnssecOK: true)))))
        #expect(aaaa != CacheKey(try query(Fixture.query(flags: 0x0110))))
        let grouped = QueryStateMachine(query: try query(Fixture.query()).query, policy: Fixture.policy, group: 2)
        #expect(aaaa != CacheKey(grouped))
    }

    @Test func N4_entriesExpireAndAreBounded() throws {
        var cache = AnswerCache(limits: CacheLimits(maxEntries: 3))
        func entry(_ i: Int) throws -> (CacheKey, CachedAnswer) {
            let name = "n\(i).example"
            let machine = try query(Fixture.query(name, type: Bytes.typeA))
            let bytes = Fixture.response(name, type: Bytes.typeA, answers: [Bytes.recordAtQName(type: 1, ttl: 10, rdata: [192, 0, 2, 1])])
            return (CacheKey(machine), try answer(bytes))
        }
        let (k0, a0) = try entry(0)
        cache.insert(k0, a0, now: 0)
        #expect(cache.lookup(k0, now: 9 * Self.seconds)?.age == 9)
        #expect(cache.lookup(k0, now: 10 * Self.seconds) == nil)  // expired and dropped
        #expect(cache.count == 0)
        for i in 1...5 {
            let (k, a) = try entry(i)
            cache.insert(k, a, now: 0)
        }
        #expect(cache.count == 3 && cache.evictions == 2)
        let (k1, _) = try entry(1)
        let (k5, _) = try entry(5)
        #expect(cache.lookup(k1, now: 0) == nil)
        #expect(cache.lookup(k5, now: 0) != nil)
        // A byte budget smaller than two answers keeps one.
        var small = AnswerCache(limits: CacheLimits(maxEntries: 100, maxBytes: a0.bytes.count + 10))
        for i in 1...4 {
            let (k, a) = try entry(i)
            small.insert(k, a, now: 0)
        }
        #expect(small.count == 1 && small.bytes <= a0.bytes.count + 10)
        // Replacing the same keys over and over keeps the queue bounded, and eviction stays oldest-first.
        var churn = AnswerCache(limits: CacheLimits(maxEntries: 3))
        for round in 0..<5000 {
            let (k, a) = try entry(round % 2)
            churn.insert(k, a, now: UInt64(round))
        }
        #expect(churn.count == 2 && churn.queueLength <= 2 * 2 + 1024 + 1)
        let (k7, a7) = try entry(7)
        let (k8, a8) = try entry(8)
        churn.insert(k7, a7, now: 0)
        churn.insert(k8, a8, now: 0)  // over 3 entries: the oldest (key 0, last written in round 4998) goes
        #expect(churn.lookup(k0, now: 0) == nil && churn.count == 3)
        // Size 0: nothing is cached.
        var off = AnswerCache(limits: CacheLimits(maxEntries: 0))
        off.insert(k0, a0, now: 0)
        #expect(off.count == 0)
    }
}

/// The record walk the cache relies on, with compression edge cases (rule N5 applies to it too).
struct DNSRecordWalkTests {
    @Test func N5_walkFindsTTLsBehindPointers() throws {
        // Answer owner is a pointer; the CNAME target is "www" + pointer; the A record's owner points at it.
        let bytes: [UInt8] = Bytes.header(id: 1, flags: 0x8180, an: 2) + Bytes.question("example.com", type: 1)
            + [0xC0, 0x0C] + Bytes.u16(5) + Bytes.u16(1) + Bytes.u32(77) + Bytes.u16(6) + [3] + Array("www".utf8) + [0xC0, 0x0C]
            + [0xC0, 0x29] + Bytes.u16(1) + Bytes.u16(1) + Bytes.u32(88) + Bytes.u16(4) + [192, 0, 2, 1]
        #expect(try DNSMessage(parsing: bytes).answers.last?.name == DNSName("www.example.com"))
        let walk = try DNSRecordWalk(bytes)
        #expect(walk.records.map(\.ttl) == [77, 88])
        #expect(walk.records.map(\.type) == [.cname, .a])
        #expect(walk.firstNameEnd == 12 + 13 && walk.questionEnd == 12 + 17)
    }

    @Test func N5_walkRefusesShortAndOverlongInput() {
        let good = Fixture.response(type: Bytes.typeA, answers: [Fixture.aRecord(ttl: 60, 192, 0, 2, 1)])
        for cut in [5, 20, good.count - 1] {
            #expect(throws: DNSWireError.self) { try DNSRecordWalk(Array(good.prefix(cut))) }
        }
        #expect(throws: DNSWireError(.trailingBytes, "")) { try DNSRecordWalk(good + [0]) }
        // A label length byte 0x40 (extended label type) is refused.
        var bad = good
        bad[12] = 0x40
        #expect(throws: DNSWireError.self) { try DNSRecordWalk(bad) }
    }

    @Test func N5_randomBytesNeverCrashTheWalkOrTheCache() {
        var rng = SplitMix(state: 0x4e34)
        let base = Fixture.response(type: Bytes.typeA, answers: [Fixture.aRecord(ttl: 60, 192, 0, 2, 1)])
        for _ in 0..<3000 {
            var bytes = base
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                bytes[Int.random(in: 0..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
            }
            if Bool.random(using: &rng) { bytes = Array(bytes.prefix(Int.random(in: 0...bytes.count, using: &rng))) }
            _ = try? DNSRecordWalk(bytes)
            _ = CachedAnswer(DNSReply(bytes: bytes, outcome: .relayed), limits: CacheLimits())
        }
    }
}

/// The N4 fast path reads only queries that full intake would accept the same way.
struct PlainQueryTests {
    private func plain(_ bytes: [UInt8]) -> PlainQuery? { bytes.withUnsafeBytes { PlainQuery($0) } }

    @Test func N4_plainQueryReadsTheKeyParts() throws {
        let q = try #require(plain(Fixture.query("WWW.Example.com", type: 28, id: 0x1234, flags: 0x0110, opt: Bytes.opt(size: 4096, dnssecOK: true))))
        #expect(q.id == 0x1234 && q.recursionDesired && q.checkingDisabled && q.dnssecOK == true)
        #expect(q.key == Bytes.name("www.example.com").dropLast() && q.type == 28 && q.qclass == 1)
        #expect(q.replySizeLimit == 1232 && q.nameEnd == 12 + 17)
        #expect(plain(Fixture.query())?.replySizeLimit == 512)
    }

    @Test func N4_plainQueryRefusesOtherShapes() {
        let base = Fixture.query()
        #expect(plain(base) != nil)
        var response = base
        response[2] |= 0x80
        var notify = base
        notify[2] |= 0x20  // opcode 4
        var twoQuestions = base
        twoQuestions[5] = 2
        let compressed = Bytes.header(id: 1, flags: 0x0100) + [0xC0, 0x0C, 0, 28, 0, 1]
        let version1 = Fixture.query(opt: [0, 0, 41, 0x04, 0xD0, 0, 1, 0, 0, 0, 0])
        for bytes in [response, notify, twoQuestions, compressed, version1, base + [0], Array(base.dropLast())] {
            #expect(plain(bytes) == nil)
        }
    }

    @Test func N4_fastPathAgreesWithIntake() throws {
        var rng = SplitMix(state: 0xfa57)
        let intake = QueryIntake(allowedClients: ClientNetwork.loopback, policy: Fixture.policy)
        let seeds = [Fixture.query(), Fixture.query("a.b.example", type: 1, opt: Bytes.opt(size: 1400, dnssecOK: true))]
        var accepted = 0
        for i in 0..<4000 {
            var bytes = seeds[i % 2]
            for _ in 0..<Int.random(in: 0...2, using: &rng) {
                bytes[Int.random(in: 0..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
            }
            guard let fast = plain(bytes) else { continue }
            accepted += 1
            guard case .resolve(let machine) = intake.accept(bytes, from: Fixture.client) else {
                Issue.record("fast path took a query intake does not resolve: \(bytes)")
                continue
            }
            let full = CacheKey(machine)
            let bits: UInt8 = (fast.dnssecOK == true ? 1 : 0) | (fast.checkingDisabled ? 2 : 0)
            #expect(full == CacheKey(name: fast.key, type: fast.type, qclass: fast.qclass, bits: bits, group: 0))
            #expect(machine.query.replySizeLimit == fast.replySizeLimit && machine.query.id == fast.id)
        }
        #expect(accepted > 100)
    }
}

/// N4 with per-core scaling: the cache shared by every event loop is split into shards by key hash.
struct ShardedAnswerCacheTests {
    private func entry(_ i: Int) throws -> (CacheKey, CachedAnswer) {
        let name = "s\(i).example"
        let machine = try #require(Fixture.machine(Fixture.query(name, type: Bytes.typeA)))
        let bytes = Fixture.response(name, type: Bytes.typeA, answers: [Bytes.recordAtQName(type: 1, ttl: 60, rdata: [192, 0, 2, 1])])
        return (CacheKey(machine), try #require(CachedAnswer(DNSReply(bytes: bytes, outcome: .relayed), limits: CacheLimits())))
    }

    @Test func N4_shardedCacheSpreadsKeysAndLimits() throws {
        let cache = ShardedAnswerCache(limits: CacheLimits(maxEntries: 16_000, maxBytes: 16 << 20))
        #expect(cache.count == ShardedAnswerCache.shardCount)
        #expect(cache.shardLimits.maxEntries == 1000 && cache.shardLimits.maxBytes == 1 << 20)
        var used: Set<Int> = []
        for i in 0..<2000 {
            let (key, answer) = try entry(i)
            cache.insert(key, answer, now: 0)
            used.insert(cache.shardIndex(for: key))
        }
        #expect(used.count == ShardedAnswerCache.shardCount)  // 2000 names reach every shard
        #expect(cache.entries == 2000)
        for i in 0..<2000 {
            let (key, _) = try entry(i)
            #expect(cache.lookup(key, now: 59_000_000_000)?.age == 59)
        }
        // A small cache stays one shard, so its limit is exact.
        let small = ShardedAnswerCache(limits: CacheLimits(maxEntries: 100))
        #expect(small.count == 1)
        for i in 0..<150 {
            let (key, answer) = try entry(i)
            small.insert(key, answer, now: 0)
        }
        #expect(small.entries == 100)
    }

    @Test func flushEmptiesEveryShardAndCountsWhatWent() throws {
        let cache = ShardedAnswerCache(limits: CacheLimits(maxEntries: 16_000, maxBytes: 16 << 20))
        for i in 0..<300 {
            let (key, answer) = try entry(i)
            cache.insert(key, answer, now: 0)
        }
        #expect(cache.entriesPerShard.reduce(0, +) == 300 && cache.entriesPerShard.count == ShardedAnswerCache.shardCount)
        #expect(cache.removeAll() == 300)
        #expect(cache.entries == 0 && cache.entriesPerShard.allSatisfy { $0 == 0 })
        let (key, answer) = try entry(7)
        #expect(cache.lookup(key, now: 0) == nil, "a flushed answer is gone")
        // The cache works on after a flush, eviction queue included.
        cache.insert(key, answer, now: 0)
        #expect(cache.lookup(key, now: 1)?.answer.bytes == answer.bytes)
        let small = ShardedAnswerCache(limits: CacheLimits(maxEntries: 3))
        for i in 0..<3 { let (k, a) = try entry(i); small.insert(k, a, now: 0) }
        #expect(small.removeAll() == 3)
        for i in 10..<15 { let (k, a) = try entry(i); small.insert(k, a, now: 0) }
        #expect(small.entries == 3, "the limit still holds after a flush")
    }

    @Test func aReplacingServerTakesOverTheCacheOnlyWithTheSameLimits() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let address = try SocketAddress(ipAddress: "127.0.0.1", port: 0)
        var configuration = DNS64Configuration(
            listen: [address], upstreams: [address], prefixes: [NAT64Prefix("2001:db8:64::/96")!],
            allowedClients: ClientNetwork.loopback)
        let old = DNS64Server(configuration: configuration, group: group, logger: Logger(label: "test"))
        configuration.upstreamTimeout = .seconds(3)
        let kept = DNS64Server(configuration: configuration, group: group, logger: Logger(label: "test"),
                               keepingCacheOf: old)
        #expect(kept.sharesCache(with: old))
        configuration.cache.maxEntries = 5
        let resized = DNS64Server(configuration: configuration, group: group, logger: Logger(label: "test"),
                                  keepingCacheOf: old)
        #expect(!resized.sharesCache(with: old), "other limits: a cache of its own")
        #expect(!DNS64Server(configuration: configuration, group: group, logger: Logger(label: "test")).sharesCache(with: old))
    }
}
