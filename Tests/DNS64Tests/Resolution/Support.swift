import NAT64Translator
import NIOCore
import Testing
@testable import DNS64

/// Shared inputs for the resolution tests: a loopback client, the test prefix, hand-built upstream answers.
enum Fixture {
    static let client = try! SocketAddress(ipAddress: "127.0.0.1", port: 40000)
    static let prefix96 = NAT64Prefix("2001:db8:64::/96")!
    static let policy = SynthesisPolicy(prefixes: [prefix96])
    static let clientID: UInt16 = 0xBEEF

    /// A client query for `name`/`type`, RD=1 unless flags given.
    static func query(
        _ name: String = "example.com", type: UInt16 = Bytes.typeAAAA, id: UInt16 = clientID, flags: UInt16 = 0x0100,
        opt: [UInt8]? = nil
    ) -> [UInt8] {
        Bytes.header(id: id, flags: flags, ar: opt == nil ? 0 : 1) + Bytes.question(name, type: type) + (opt ?? [])
    }

    /// An upstream answer to `name`/`type` (upstream ID 0x0777) with the given rcode and records.
    static func response(
        _ name: String = "example.com", type: UInt16, rcode: UInt16 = 0, flags: UInt16 = 0x8180,
        answers: [[UInt8]] = [], authority: [[UInt8]] = []
    ) -> [UInt8] {
        Bytes.header(id: 0x0777, flags: flags | rcode, an: UInt16(answers.count), ns: UInt16(authority.count))
            + Bytes.question(name, type: type) + answers.joined() + authority.joined()
    }

    /// NODATA for AAAA with an SOA whose TTL and MINIMUM are given.
    static func nodata(_ name: String = "example.com", soaTTL: UInt32 = 3600, minimum: UInt32 = 1200) -> [UInt8] {
        response(
            name, type: Bytes.typeAAAA,
            authority: [Bytes.record("example.com", type: Bytes.typeSOA, ttl: soaTTL, rdata: Bytes.soaRData(minimum: minimum))])
    }

    static func aRecord(_ owner: String = "example.com", ttl: UInt32, _ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8)
        -> [UInt8]
    {
        Bytes.record(owner, type: Bytes.typeA, ttl: ttl, rdata: [a, b, c, d])
    }

    static func answer(_ bytes: [UInt8]) throws -> UpstreamResult {
        .answer(try DNSMessage(parsing: bytes), raw: bytes)
    }

    /// Runs intake on `bytes` and returns the machine; records an issue if intake did not accept the query.
    static func machine(_ bytes: [UInt8], policy: SynthesisPolicy = policy) -> QueryStateMachine? {
        let intake = QueryIntake(allowedClients: ClientNetwork.loopback, policy: policy)
        guard case .resolve(let machine) = intake.accept(bytes, from: client) else {
            Issue.record("intake did not accept the query")
            return nil
        }
        return machine
    }

    /// Drives a machine through a scripted list of upstream results; returns the questions asked and the reply.
    static func run(_ machine: QueryStateMachine, _ results: [UpstreamResult]) -> (asked: [UpstreamQuery], reply: DNSReply?) {
        var machine = machine
        var asked: [UpstreamQuery] = []
        var action = machine.start()
        var pending = results[...]
        while true {
            switch action {
            case .reply(let reply):
                return (asked, reply)
            case .askUpstream(let query):
                asked.append(query)
                guard let next = pending.popFirst() else { return (asked, nil) }
                action = machine.upstreamAnswered(next, now: 0)
            }
        }
    }
}
