import NAT64Translator
import Testing
@testable import DNS64

/// Rules D1–D7 and D11 (RFC 6147 §5.1, §5.5), driven with hand-built upstream answers.
struct QueryStateMachineTests {
    private func aaaaAddresses(_ reply: DNSReply?) throws -> [IPv6Address] {
        let message = try DNSMessage(parsing: try #require(reply).bytes)
        return message.answers.compactMap { if case .aaaa(let a) = $0.rdata { a } else { nil } }
    }

    @Test func D1_realAAAAReturnedUnchanged() throws {
        let upstream = Fixture.response(
            type: Bytes.typeAAAA,
            answers: [Bytes.record("example.com", type: Bytes.typeAAAA, ttl: 60, rdata: [0x20, 0x01, 0x0d, 0xb8] + Array(repeating: 0, count: 11) + [1])])
        let machine = try #require(Fixture.machine(Fixture.query()))
        let (asked, reply) = Fixture.run(machine, [try Fixture.answer(upstream)])
        #expect(asked.map(\.question.type) == [.aaaa])
        let bytes = try #require(reply).bytes
        #expect(bytes[0...1] == [0xBE, 0xEF])  // client's ID, not the upstream's 0x0777
        #expect(bytes[2...] == upstream[2...])  // everything else as received
        #expect(reply?.outcome == .relayed)
    }

    @Test func D2_synthesizesFromA() throws {
        let machine = try #require(Fixture.machine(Fixture.query()))
        let aAnswer = Fixture.response(type: Bytes.typeA, answers: [Bytes.recordAtQName(type: Bytes.typeA, ttl: 500, rdata: [192, 0, 2, 1])])
        let (asked, reply) = Fixture.run(machine, [try Fixture.answer(Fixture.nodata()), try Fixture.answer(aAnswer)])
        #expect(asked.map(\.question) == [
            DNSQuestion(name: DNSName("example.com")!, type: .aaaa), DNSQuestion(name: DNSName("example.com")!, type: .a),
        ])
        // Expected reply, by hand: ID BEEF, QR RD RA, one question, one AAAA at C0 0C, TTL 500 (D5),
        // 2001:db8:64::c000:201 (RFC 6052 /96).
        let expected: [UInt8] =
            [0xBE, 0xEF, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0] + Bytes.question("example.com", type: 28)
            + [0xC0, 0x0C, 0x00, 0x1C, 0x00, 0x01, 0x00, 0x00, 0x01, 0xF4, 0x00, 0x10]
            + [0x20, 0x01, 0x0D, 0xB8, 0x00, 0x64, 0, 0, 0, 0, 0, 0, 0xC0, 0x00, 0x02, 0x01]
        #expect(reply?.bytes == expected)
        #expect(reply?.outcome == .synthesized)
    }

    @Test func D2_eachARecordUnderEachPrefix() throws {
        // RFC 6052 §2.4 examples for 192.0.2.33.
        let policy = SynthesisPolicy(prefixes: [NAT64Prefix("2001:db8::/32")!, NAT64Prefix("2001:db8:122:344::/96")!])
        let machine = try #require(Fixture.machine(Fixture.query(), policy: policy))
        let aAnswer = Fixture.response(
            type: Bytes.typeA, answers: [Fixture.aRecord(ttl: 60, 192, 0, 2, 33), Fixture.aRecord(ttl: 60, 198, 51, 100, 1)])
        let (_, reply) = Fixture.run(machine, [try Fixture.answer(Fixture.nodata()), try Fixture.answer(aAnswer)])
        #expect(try aaaaAddresses(reply).map(\.description) == [
            "2001:db8:c000:221::", "2001:db8:122:344::c000:221", "2001:db8:c633:6401::", "2001:db8:122:344::c633:6401",
        ])
    }

    @Test func D2_noARecordsReturnsOriginalNODATA() throws {
        let machine = try #require(Fixture.machine(Fixture.query()))
        let nodata = Fixture.nodata()
        let (asked, reply) = Fixture.run(
            machine, [try Fixture.answer(nodata), try Fixture.answer(Fixture.response(type: Bytes.typeA))])
        #expect(asked.count == 2)
        let bytes = try #require(reply).bytes
        #expect(bytes[0...1] == [0xBE, 0xEF])
        #expect(bytes[2...] == nodata[2...])  // the NODATA with its SOA, as received
    }

    @Test func D3_nxdomainReturnedWithoutAQuery() throws {
        let machine = try #require(Fixture.machine(Fixture.query()))
        let nx = Fixture.response(type: Bytes.typeAAAA, rcode: 3)
        let (asked, reply) = Fixture.run(machine, [try Fixture.answer(nx)])
        #expect(asked.count == 1)
        #expect(try #require(reply).bytes[3] & 0x0F == 3)
    }

    @Test func D3_servfailOnAAAAStillAsksA() throws {
        let machine = try #require(Fixture.machine(Fixture.query()))
        let servfail = Fixture.response(type: Bytes.typeAAAA, rcode: 2)
        let aAnswer = Fixture.response(type: Bytes.typeA, answers: [Fixture.aRecord(ttl: 120, 192, 0, 2, 1)])
        let (asked, reply) = Fixture.run(machine, [try Fixture.answer(servfail), try Fixture.answer(aAnswer)])
        #expect(asked.map(\.question.type) == [.aaaa, .a])
        #expect(try aaaaAddresses(reply) == [IPv6Address("2001:db8:64::192.0.2.1")!])
    }

    @Test func D3_timeoutOnBothGivesServfail() throws {
        let machine = try #require(Fixture.machine(Fixture.query()))
        let (asked, reply) = Fixture.run(machine, [.failed, .failed])
        #expect(asked.map(\.question.type) == [.aaaa, .a])
        let message = try DNSMessage(parsing: try #require(reply).bytes)
        #expect(message.header.flags.rcode == .servFail)
        #expect(message.header.id == Fixture.clientID)
        #expect(message.questions.first?.type == .aaaa)
        #expect(reply?.outcome == .upstreamFailure)
    }

    @Test func D3_errorOnBothReturnsTheAError() throws {
        let machine = try #require(Fixture.machine(Fixture.query()))
        let (_, reply) = Fixture.run(
            machine,
            [try Fixture.answer(Fixture.response(type: Bytes.typeAAAA, rcode: 2)),
             try Fixture.answer(Fixture.response(type: Bytes.typeA, rcode: 5))])
        #expect(try DNSMessage(parsing: try #require(reply).bytes).header.flags.rcode == .refused)
    }

    @Test func D3_nodataThenAFailureKeepsNODATA() throws {
        let machine = try #require(Fixture.machine(Fixture.query()))
        let nodata = Fixture.nodata()
        let (_, reply) = Fixture.run(machine, [try Fixture.answer(nodata), .failed])
        #expect(try #require(reply).bytes[2...] == nodata[2...])
    }

    @Test func D3_optionLimitsSynthesisToNODATA() throws {
        var policy = Fixture.policy
        policy.synthesizeOnUpstreamErrors = false
        let machine = try #require(Fixture.machine(Fixture.query(), policy: policy))
        let (asked, reply) = Fixture.run(machine, [try Fixture.answer(Fixture.response(type: Bytes.typeAAAA, rcode: 2))])
        #expect(asked.count == 1)
        #expect(try #require(reply).bytes[3] & 0x0F == 2)
        let (askedAfterTimeout, _) = Fixture.run(try #require(Fixture.machine(Fixture.query(), policy: policy)), [.failed])
        #expect(askedAfterTimeout.count == 1)
    }

    @Test func D4_excludedAAAAIgnoredAndOnlyThoseRemoved() throws {
        let mapped: [UInt8] = Array(repeating: 0, count: 10) + [0xFF, 0xFF, 192, 0, 2, 9]
        let real: [UInt8] = [0x20, 0x01, 0x0d, 0xb8] + Array(repeating: 0, count: 11) + [1]
        // Only an excluded AAAA: synthesis goes ahead.
        let onlyMapped = Fixture.response(
            type: Bytes.typeAAAA, answers: [Bytes.recordAtQName(type: Bytes.typeAAAA, ttl: 60, rdata: mapped)])
        let aAnswer = Fixture.response(type: Bytes.typeA, answers: [Fixture.aRecord(ttl: 60, 192, 0, 2, 1)])
        let first = Fixture.run(try #require(Fixture.machine(Fixture.query())), [try Fixture.answer(onlyMapped), try Fixture.answer(aAnswer)])
        #expect(first.asked.count == 2)
        #expect(try aaaaAddresses(first.reply) == [IPv6Address("2001:db8:64::c000:201")!])
        // Excluded plus a real one: the real one is returned, the excluded one removed, no A query.
        let both = Fixture.response(
            type: Bytes.typeAAAA,
            answers: [Bytes.recordAtQName(type: Bytes.typeAAAA, ttl: 60, rdata: mapped), Bytes.recordAtQName(type: Bytes.typeAAAA, ttl: 60, rdata: real)])
        let second = Fixture.run(try #require(Fixture.machine(Fixture.query())), [try Fixture.answer(both)])
        #expect(second.asked.count == 1)
        #expect(try aaaaAddresses(second.reply) == [IPv6Address("2001:db8::1")!])
        #expect(second.reply?.outcome == .filtered)
        #expect(try DNSMessage(parsing: try #require(second.reply).bytes).header.id == Fixture.clientID)
    }

    /// D5: min(A TTL, min(SOA TTL, SOA MINIMUM)), or min(A TTL, 600) without an SOA.
    @Test(arguments: [
        (aTTL: UInt32(500), soa: (ttl: UInt32(3600), minimum: UInt32(1200)) as (ttl: UInt32, minimum: UInt32)?, expected: UInt32(500)),
        (aTTL: 1300, soa: (ttl: 3600, minimum: 1200), expected: 1200),
        (aTTL: 1300, soa: (ttl: 100, minimum: 1200), expected: 100),
        (aTTL: 1300, soa: nil, expected: 600),
        (aTTL: 300, soa: nil, expected: 300),
    ])
    func D5_synthesizedTTL(aTTL: UInt32, soa: (ttl: UInt32, minimum: UInt32)?, expected: UInt32) throws {
        let aaaaAnswer = soa.map { Fixture.nodata(soaTTL: $0.ttl, minimum: $0.minimum) } ?? Fixture.response(type: Bytes.typeAAAA)
        let aAnswer = Fixture.response(type: Bytes.typeA, answers: [Fixture.aRecord(ttl: aTTL, 192, 0, 2, 1)])
        let (_, reply) = Fixture.run(
            try #require(Fixture.machine(Fixture.query())), [try Fixture.answer(aaaaAnswer), try Fixture.answer(aAnswer)])
        let bytes = try #require(reply).bytes
        // TTL of the only answer: header 12 + question 17 + owner pointer 2 + type 2 + class 2.
        #expect(Array(bytes[35..<39]) == Bytes.u32(expected))
    }

    @Test func D6_cnameChainKeptWithAAAAAtItsEnd() throws {
        let machine = try #require(Fixture.machine(Fixture.query("www.example.com")))
        let aaaaNodata = Fixture.response(
            "www.example.com", type: Bytes.typeAAAA,
            answers: [Bytes.record("www.example.com", type: Bytes.typeCNAME, ttl: 300, rdata: Bytes.name("web.example.net"))],
            authority: [Bytes.record("example.net", type: Bytes.typeSOA, ttl: 900, rdata: Bytes.soaRData(minimum: 900))])
        // Chain out of order, plus an unrelated A record that must not be synthesized.
        let aAnswer = Fixture.response(
            "www.example.com", type: Bytes.typeA,
            answers: [
                Fixture.aRecord("cdn.example.org", ttl: 60, 192, 0, 2, 7),
                Bytes.record("web.example.net", type: Bytes.typeCNAME, ttl: 200, rdata: Bytes.name("cdn.example.org")),
                Bytes.record("www.example.com", type: Bytes.typeCNAME, ttl: 300, rdata: Bytes.name("web.example.net")),
                Fixture.aRecord("unrelated.example", ttl: 60, 203, 0, 113, 1),
            ])
        let (_, reply) = Fixture.run(machine, [try Fixture.answer(aaaaNodata), try Fixture.answer(aAnswer)])
        let message = try DNSMessage(parsing: try #require(reply).bytes)
        #expect(message.answers == [
            .cname(DNSName("web.example.net")!, ttl: 200, target: DNSName("cdn.example.org")!),
            .cname(DNSName("www.example.com")!, ttl: 300, target: DNSName("web.example.net")!),
            .aaaa(DNSName("cdn.example.org")!, ttl: 60, IPv6Address("2001:db8:64::192.0.2.7")!),
        ])
        #expect(message.questions == [DNSQuestion(name: DNSName("www.example.com")!, type: .aaaa)])
    }

    @Test func D7_checkingDisabledPassesRealAnswer() throws {
        let machine = try #require(Fixture.machine(Fixture.query(flags: 0x0110)))  // RD + CD
        let nodata = Fixture.nodata()
        let (asked, reply) = Fixture.run(machine, [try Fixture.answer(nodata)])
        #expect(asked.count == 1)
        #expect(asked.first?.checkingDisabled == true)
        #expect(try #require(reply).bytes[2...] == nodata[2...])
    }

    @Test func D7_synthesizedAnswerNeverCarriesAD() throws {
        let machine = try #require(Fixture.machine(Fixture.query()))
        let aAnswer = Fixture.response(type: Bytes.typeA, flags: 0x81A0, answers: [Fixture.aRecord(ttl: 60, 192, 0, 2, 1)])
        let (_, reply) = Fixture.run(machine, [try Fixture.answer(Fixture.nodata()), try Fixture.answer(aAnswer)])
        let flags = try DNSMessage(parsing: try #require(reply).bytes).header.flags
        #expect(!flags.authenticData && flags.isResponse && flags.recursionAvailable && flags.recursionDesired)
    }

    @Test func D11_otherTypesRelayedUnchanged() throws {
        let machine = try #require(Fixture.machine(Fixture.query(type: Bytes.typeMX)))
        let mx = Fixture.response(
            type: Bytes.typeMX, answers: [Bytes.recordAtQName(type: Bytes.typeMX, ttl: 60, rdata: [0, 10, 0xC0, 0x0C])])
        let (asked, reply) = Fixture.run(machine, [try Fixture.answer(mx)])
        #expect(asked.map(\.question.type) == [.mx])
        #expect(try #require(reply).bytes[2...] == mx[2...])
        #expect(Fixture.run(try #require(Fixture.machine(Fixture.query(type: Bytes.typeA))), [.failed]).asked.map(\.question.type) == [.a])
    }

    @Test func D11_relayEchoesClientRD() throws {
        let machine = try #require(Fixture.machine(Fixture.query(type: Bytes.typeMX, flags: 0x0000)))  // RD = 0
        let (_, reply) = Fixture.run(machine, [try Fixture.answer(Fixture.response(type: Bytes.typeMX))])
        let bytes = try #require(reply).bytes
        #expect(bytes[2] & 0x01 == 0)
        #expect(bytes[2] & 0x80 == 0x80)
    }

    @Test func N2_ednsCarriedUpstreamAndBack() throws {
        let machine = try #require(Fixture.machine(Fixture.query(opt: Bytes.opt(size: 4096, dnssecOK: true))))
        let aAnswer = Fixture.response(type: Bytes.typeA, answers: [Fixture.aRecord(ttl: 60, 192, 0, 2, 1)])
        let (asked, reply) = Fixture.run(machine, [try Fixture.answer(Fixture.nodata()), try Fixture.answer(aAnswer)])
        #expect(asked.first?.edns == EDNSInfo(udpPayloadSize: 1232, dnssecOK: true))
        #expect(try DNSMessage(parsing: try #require(reply).bytes).edns == EDNSInfo(udpPayloadSize: 1232, dnssecOK: true))
        // Without EDNS from the client, none goes upstream (RFC 6891 §7).
        let plain = Fixture.run(try #require(Fixture.machine(Fixture.query())), [.failed, .failed])
        #expect(plain.asked.allSatisfy { $0.edns == nil })
    }

    @Test func N2_oversizedSynthesisTruncated() throws {
        let machine = try #require(Fixture.machine(Fixture.query()))
        let many = (1...40).map { Fixture.aRecord(ttl: 60, 192, 0, 2, UInt8($0)) }
        let (_, reply) = Fixture.run(
            machine, [try Fixture.answer(Fixture.nodata()), try Fixture.answer(Fixture.response(type: Bytes.typeA, answers: many))])
        let message = try DNSMessage(parsing: try #require(reply).bytes)
        #expect(message.header.flags.truncated)
        #expect(message.answers.isEmpty && message.questions.count == 1)
        #expect(try #require(reply).bytes.count <= 512)
    }
}

/// N2 (first part): a truncated upstream answer is never taken as complete.
struct UpstreamTruncationTests {
    @Test func N2_truncatedAAAAAnswerRelayedNotSynthesized() throws {
        let machine = try #require(Fixture.machine(Fixture.query()))
        let truncated = Fixture.response(type: Bytes.typeAAAA, flags: 0x8380)  // QR TC RD RA, no records
        let (asked, reply) = Fixture.run(machine, [try Fixture.answer(truncated)])
        #expect(asked.count == 1)
        #expect(try #require(reply).bytes[2...] == truncated[2...])
    }

    @Test func N2_truncatedAAnswerGivesTCReply() throws {
        let machine = try #require(Fixture.machine(Fixture.query()))
        let partialA = Fixture.response(type: Bytes.typeA, flags: 0x8380, answers: [Fixture.aRecord(ttl: 60, 192, 0, 2, 1)])
        let (_, reply) = Fixture.run(machine, [try Fixture.answer(Fixture.nodata()), try Fixture.answer(partialA)])
        let message = try DNSMessage(parsing: try #require(reply).bytes)
        #expect(message.header.flags.truncated && message.answers.isEmpty)
        #expect(message.header.id == Fixture.clientID)
    }
}
