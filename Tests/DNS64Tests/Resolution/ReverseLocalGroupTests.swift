import NAT64Translator
import NIOCore
import Testing
@testable import DNS64

/// Rules D4 (mapped list), D7 (break-dnssec), D8 (PTR), D9 (ipv4only.arpa), D10 (client groups) and the EDNS
/// version check, with hand-built wire vectors.
struct ReverseLocalGroupTests {
    private func records(_ reply: DNSReply?) throws -> [DNSResourceRecord] {
        try DNSMessage(parsing: try #require(reply).bytes).answers
    }

    private func aaaa(_ reply: DNSReply?) throws -> [String] {
        try records(reply).compactMap { if case .aaaa(let a) = $0.rdata { a.description } else { nil } }
    }

    /// Nibble labels of an IPv6 address, least significant first, + ip6.arpa.
    private func reverse(_ address: String) -> String {
        let bytes = IPv6Address(address)!.byteArray
        let hex = bytes.flatMap { [String($0 >> 4, radix: 16), String($0 & 0xF, radix: 16)] }
        return hex.reversed().joined(separator: ".") + ".ip6.arpa"
    }

    // MARK: D4

    @Test func D4_wellKnownPrefixSkipsNonGlobalIPv4() throws {
        let policy = SynthesisPolicy(prefixes: [.wellKnown, NAT64Prefix("2001:db8:64::/96")!])
        let machine = try #require(Fixture.machine(Fixture.query(), policy: policy))
        let aAnswer = Fixture.response(
            type: Bytes.typeA, answers: [Fixture.aRecord(ttl: 60, 10, 1, 2, 3), Fixture.aRecord(ttl: 60, 8, 8, 4, 4)])
        let (_, reply) = Fixture.run(machine, [try Fixture.answer(Fixture.nodata()), try Fixture.answer(aAnswer)])
        // 10.1.2.3 only under the network-specific prefix (RFC 6052 §3.1); 8.8.4.4 under both.
        #expect(try aaaa(reply) == ["2001:db8:64::a01:203", "64:ff9b::808:404", "2001:db8:64::808:404"])
    }

    @Test func D4_mappedListLimitsSynthesis() throws {
        var policy = Fixture.policy
        policy.mappedIPv4 = [IPv4Prefix("192.0.2.0/25")!]
        let aAnswer = Fixture.response(
            type: Bytes.typeA, answers: [Fixture.aRecord(ttl: 60, 192, 0, 2, 1), Fixture.aRecord(ttl: 60, 192, 0, 2, 200)])
        let machine = try #require(Fixture.machine(Fixture.query(), policy: policy))
        let (_, reply) = Fixture.run(machine, [try Fixture.answer(Fixture.nodata()), try Fixture.answer(aAnswer)])
        #expect(try aaaa(reply) == ["2001:db8:64::c000:201"])
        // Nothing on the list: the original NODATA comes back.
        policy.mappedIPv4 = [IPv4Prefix("203.0.113.0/24")!]
        let nodata = Fixture.nodata()
        let (_, none) = Fixture.run(
            try #require(Fixture.machine(Fixture.query(), policy: policy)), [try Fixture.answer(nodata), try Fixture.answer(aAnswer)])
        #expect(try #require(none).bytes[2...] == nodata[2...])
    }

    // MARK: D7

    private func signedNodata() -> [UInt8] {
        let soa = Bytes.record("example.com", type: Bytes.typeSOA, ttl: 3600, rdata: Bytes.soaRData(minimum: 1200))
        let rrsig = Bytes.record("example.com", type: 46, ttl: 3600, rdata: Array(repeating: 7, count: 30))
        return Bytes.header(id: 0x0777, flags: 0x81A0, an: 0, ns: 2) + Bytes.question("example.com", type: 28) + soa + rrsig
    }

    @Test func D7_signedNegativeAnswerPassedWithDO() throws {
        let query = Fixture.query(opt: Bytes.opt(size: 1232, dnssecOK: true))
        let (asked, reply) = Fixture.run(try #require(Fixture.machine(query)), [try Fixture.answer(signedNodata())])
        #expect(asked.count == 1)
        #expect(try DNSMessage(parsing: try #require(reply).bytes).authorities.count == 2)
        // Without DO the same answer is synthesized.
        let aAnswer = Fixture.response(type: Bytes.typeA, answers: [Fixture.aRecord(ttl: 60, 192, 0, 2, 1)])
        let plain = Fixture.run(try #require(Fixture.machine(Fixture.query())), [try Fixture.answer(signedNodata()), try Fixture.answer(aAnswer)])
        #expect(try aaaa(plain.reply) == ["2001:db8:64::c000:201"])
    }

    @Test func D7_breakDNSSECSynthesizesWithoutAD() throws {
        var policy = Fixture.policy
        policy.breakDNSSEC = true
        let query = Fixture.query(opt: Bytes.opt(size: 1232, dnssecOK: true))
        let aAnswer = Fixture.response(type: Bytes.typeA, flags: 0x81A0, answers: [Fixture.aRecord(ttl: 60, 192, 0, 2, 1)])
        let (asked, reply) = Fixture.run(
            try #require(Fixture.machine(query, policy: policy)), [try Fixture.answer(signedNodata()), try Fixture.answer(aAnswer)])
        #expect(asked.count == 2)
        #expect(try aaaa(reply) == ["2001:db8:64::c000:201"])
        #expect(try DNSMessage(parsing: try #require(reply).bytes).header.flags.authenticData == false)
    }

    // MARK: D8

    @Test(arguments: ["2001:db8::/32", "2001:db8:100::/40", "2001:db8:122::/48", "2001:db8:122:300::/56",
                      "2001:db8:122:344::/64", "2001:db8:122:344::/96"])
    func D8_ptrUnderEachPrefixLengthBecomesCNAME(prefixText: String) throws {
        let prefix = NAT64Prefix(prefixText)!
        let address = prefix.embed(IPv4Address(192, 0, 2, 33))
        let name = reverse(address.description)
        let policy = SynthesisPolicy(prefixes: [prefix])
        let machine = try #require(Fixture.machine(Fixture.query(name, type: 12), policy: policy))
        let ptr = Bytes.header(id: 0x0777, flags: 0x8180, an: 1) + Bytes.question("33.2.0.192.in-addr.arpa", type: 12)
            + Bytes.recordAtQName(type: 12, ttl: 900, rdata: Bytes.name("host.example"))
        let (asked, reply) = Fixture.run(machine, [try .answer(try DNSMessage(parsing: ptr), raw: ptr)])
        #expect(asked.map(\.question) == [DNSQuestion(name: DNSName("33.2.0.192.in-addr.arpa")!, type: .ptr)])
        let answers = try records(reply)
        #expect(answers.count == 2)
        #expect(answers.first == .cname(DNSName(name)!, ttl: 600, target: DNSName("33.2.0.192.in-addr.arpa")!))
        #expect(answers.last?.rdata == .name(DNSName("host.example")!))
        #expect(reply?.outcome == .synthesized)
    }

    @Test func D8_partialNameUnderPrefixIsEmptyNotNXDOMAIN() throws {
        let policy = SynthesisPolicy(prefixes: [NAT64Prefix("2001:db8:64::/96")!])
        // 2001:0db8:0064:0000:0000:0000 is 24 nibbles; take 26 (two more nibbles of the IPv4 part).
        let full = reverse("2001:db8:64::c000:221").split(separator: ".")
        let partial = full.suffix(26 + 2).joined(separator: ".")
        let (asked, reply) = Fixture.run(try #require(Fixture.machine(Fixture.query(partial, type: 12), policy: policy)), [])
        #expect(asked.isEmpty)
        let message = try DNSMessage(parsing: try #require(reply).bytes)
        #expect(message.header.flags.rcode == .noError && message.answers.isEmpty)
        // Above the prefix (fewer nibbles than the prefix has) it is not ours: relayed.
        let above = full.suffix(20 + 2).joined(separator: ".")
        let (relayed, _) = Fixture.run(try #require(Fixture.machine(Fixture.query(above, type: 12), policy: policy)), [.failed])
        #expect(relayed.map(\.question.name) == [DNSName(above)!])
    }

    @Test func D8_outsideAnyPrefixRelayedAndUpstreamNXDOMAINKept() throws {
        let policy = SynthesisPolicy(prefixes: [NAT64Prefix("2001:db8:64::/96")!])
        let outside = reverse("2001:db8:65::c000:221")
        let (asked, _) = Fixture.run(try #require(Fixture.machine(Fixture.query(outside, type: 12), policy: policy)), [.failed])
        #expect(asked.map(\.question.name) == [DNSName(outside)!])
        // Inside, upstream says NXDOMAIN for the in-addr name: rcode kept, CNAME first, SOA kept.
        let inside = reverse("2001:db8:64::c000:221")
        let nx = Bytes.header(id: 0x0777, flags: 0x8183, ns: 1) + Bytes.question("33.2.0.192.in-addr.arpa", type: 12)
            + Bytes.record("2.0.192.in-addr.arpa", type: Bytes.typeSOA, ttl: 300, rdata: Bytes.soaRData(minimum: 60))
        let (_, reply) = Fixture.run(
            try #require(Fixture.machine(Fixture.query(inside, type: 12), policy: policy)), [try .answer(try DNSMessage(parsing: nx), raw: nx)])
        let message = try DNSMessage(parsing: try #require(reply).bytes)
        #expect(message.header.flags.rcode == .nxDomain)
        #expect(message.answers.map(\.type) == [.cname] && message.answers.first?.ttl == 60)
        #expect(message.authorities.map(\.type) == [.soa])
    }

    // MARK: D9

    @Test func D9_ipv4onlyArpaAnsweredLocally() throws {
        let policy = SynthesisPolicy(prefixes: [.wellKnown, NAT64Prefix("2001:db8:64::/96")!])
        let a = Fixture.run(try #require(Fixture.machine(Fixture.query("ipv4only.arpa", type: 1), policy: policy)), [])
        #expect(a.asked.isEmpty)
        #expect(try records(a.reply).map(\.rdata) == [.a(IPv4Address(192, 0, 0, 170)), .a(IPv4Address(192, 0, 0, 171))])
        let q = Fixture.run(try #require(Fixture.machine(Fixture.query("IPv4Only.Arpa", type: 28), policy: policy)), [])
        #expect(q.asked.isEmpty)
        #expect(try aaaa(q.reply) == ["64:ff9b::c000:aa", "2001:db8:64::c000:aa", "64:ff9b::c000:ab", "2001:db8:64::c000:ab"])
        #expect(q.reply?.outcome == .local)
        let mx = Fixture.run(try #require(Fixture.machine(Fixture.query("ipv4only.arpa", type: Bytes.typeMX), policy: policy)), [])
        let mxRecords = try records(mx.reply)
        #expect(mx.asked.isEmpty && mxRecords.isEmpty)
        let below = Fixture.run(try #require(Fixture.machine(Fixture.query("x.ipv4only.arpa", type: 28), policy: policy)), [])
        let belowRcode = try #require(below.reply).bytes[3] & 0x0F
        #expect(below.asked.isEmpty && belowRcode == 3)
    }

    @Test func D9_reverseNamesAnsweredLocally() throws {
        let ptr = Fixture.run(try #require(Fixture.machine(Fixture.query("170.0.0.192.in-addr.arpa", type: 12))), [])
        #expect(ptr.asked.isEmpty)
        #expect(try records(ptr.reply).map(\.rdata) == [.name(DNSName("ipv4only.arpa")!)])
        // The ip6.arpa name of the synthesized 2001:db8:64::192.0.0.171: CNAME (D8) then the local PTR (D9).
        let name = reverse("2001:db8:64::c000:ab")
        let chain = Fixture.run(try #require(Fixture.machine(Fixture.query(name, type: 12))), [])
        #expect(chain.asked.isEmpty)
        #expect(try records(chain.reply).map(\.type) == [.cname, .ptr])
    }

    // MARK: D10

    @Test func D10_clientGroupsGetTheirOwnPrefixOrNoSynthesis() throws {
        let lab = ClientGroup(
            name: "lab", clients: [.v6(IPv6Prefix("2001:db8:1:8::/64")!)],
            policy: SynthesisPolicy(prefixes: [NAT64Prefix("2001:db8:6400::/40")!]))
        let plain = ClientGroup(name: "plain", clients: [.v6(IPv6Prefix("2001:db8:1:9::/64")!)], policy: SynthesisPolicy(prefixes: []))
        let intake = QueryIntake(
            allowedClients: [.v6(IPv6Prefix("2001:db8:1::/48")!)], policy: Fixture.policy, groups: [lab, plain])
        func machine(_ client: String) throws -> QueryStateMachine {
            guard case .resolve(let m) = intake.accept(Fixture.query(), from: try SocketAddress(ipAddress: client, port: 5)) else {
                throw DNSWireError(.truncated, "not accepted")
            }
            return m
        }
        let aAnswer = Fixture.response(type: Bytes.typeA, answers: [Fixture.aRecord(ttl: 60, 192, 0, 2, 33)])
        let inLab = Fixture.run(try machine("2001:db8:1:8::5"), [try Fixture.answer(Fixture.nodata()), try Fixture.answer(aAnswer)])
        #expect(try aaaa(inLab.reply) == ["2001:db8:64c0:2:21::"])
        #expect(try machine("2001:db8:1:8::5").group == 1)
        let other = Fixture.run(try machine("2001:db8:1:1::5"), [try Fixture.answer(Fixture.nodata()), try Fixture.answer(aAnswer)])
        #expect(try aaaa(other.reply) == ["2001:db8:64::c000:221"])
        #expect(try machine("2001:db8:1:1::5").group == 0)
        // Synthesis off: the NODATA is relayed, no A query.
        let nodata = Fixture.nodata()
        let off = Fixture.run(try machine("2001:db8:1:9::5"), [try Fixture.answer(nodata)])
        let offBytes = try #require(off.reply).bytes
        #expect(off.asked.count == 1 && offBytes[2...] == nodata[2...])
        // Groups do not widen the allow list.
        let outsider = intake.accept(Fixture.query(), from: try SocketAddress(ipAddress: "2001:db8:2::5", port: 5))
        if case .reply(let r) = outsider { #expect(r.outcome == .refused) } else { Issue.record("outsider served") }
    }

    // MARK: N2 (EDNS version)

    @Test func N2_ednsVersionAboveZeroGetsBADVERS() throws {
        let opt: [UInt8] = [0, 0, 41, 0x04, 0xD0, 0, 1, 0, 0, 0, 0]  // version 1
        let intake = QueryIntake(allowedClients: ClientNetwork.loopback, policy: Fixture.policy)
        guard case .reply(let reply) = intake.accept(Fixture.query(opt: opt), from: Fixture.client) else {
            Issue.record("BADVERS expected")
            return
        }
        let message = try DNSMessage(parsing: reply.bytes)
        #expect(message.header.flags.rcode == .noError)
        #expect(message.edns?.extendedRcode == 1 && message.edns?.version == 0)  // 1 << 4 | 0 = 16 BADVERS
        #expect(reply.outcome == .badVersion)
    }
}
