import NAT64Translator
import NIOCore
import Testing
@testable import DNS64

/// Rule D10 (allow list → REFUSED) and rule N5 (FORMERR, NOTIMP, no crash).
struct QueryIntakeTests {
    let intake = QueryIntake(allowedClients: ClientNetwork.loopback + [.v6(IPv6Prefix("2001:db8:1::/48")!)], policy: Fixture.policy)

    private func reply(_ verdict: IntakeVerdict) -> DNSReply? {
        if case .reply(let r) = verdict { return r }
        return nil
    }

    @Test func D10_outsiderGetsRefusedWithQuestionEchoed() throws {
        let outsider = try SocketAddress(ipAddress: "192.0.2.99", port: 1234)
        let verdict = intake.accept(Fixture.query(), from: outsider)
        let expected = [0xBE, 0xEF, 0x81, 0x85, 0, 1, 0, 0, 0, 0, 0, 0] + Bytes.question("example.com", type: 28)
        #expect(reply(verdict)?.bytes == expected)
        #expect(reply(verdict)?.outcome == .refused)
    }

    @Test func D10_allowListMatching() throws {
        let inside = try SocketAddress(ipAddress: "2001:db8:1:ff::5", port: 53)
        let outside = try SocketAddress(ipAddress: "2001:db8:2::5", port: 53)
        let mappedLoopback = try SocketAddress(ipAddress: "::ffff:127.0.0.1", port: 53)
        let mappedOutsider = try SocketAddress(ipAddress: "::ffff:192.0.2.1", port: 53)
        let networks = intake.allowedClients
        #expect(networks.contains { $0.contains(inside) })
        #expect(!networks.contains { $0.contains(outside) })
        #expect(networks.contains { $0.contains(mappedLoopback) })
        #expect(!networks.contains { $0.contains(mappedOutsider) })
        #expect(!networks.contains { $0.contains(try! SocketAddress(unixDomainSocketPath: "/tmp/x")) })
        if case .resolve = intake.accept(Fixture.query(), from: inside) {} else { Issue.record("allowed client not served") }
        // An empty allow list refuses everyone, loopback included.
        let closed = QueryIntake(allowedClients: [], policy: Fixture.policy)
        #expect(reply(closed.accept(Fixture.query(), from: Fixture.client))?.outcome == .refused)
    }

    @Test func N5_malformedQueryGetsFORMERR() throws {
        let cut = Array(Fixture.query().dropLast(3))
        let r = try #require(reply(intake.accept(cut, from: Fixture.client)))
        #expect(r.bytes == [0xBE, 0xEF, 0x81, 0x81, 0, 0, 0, 0, 0, 0, 0, 0])
        #expect(r.outcome == .formErr)
    }

    @Test func N5_twoQuestionsOrBadOPTGetFORMERR() throws {
        let two = Bytes.header(id: 1, flags: 0x0100, qd: 2) + Bytes.question("a.example", type: 28) + Bytes.question("b.example", type: 28)
        #expect(reply(intake.accept(two, from: Fixture.client))?.outcome == .formErr)
        let none = Bytes.header(id: 1, flags: 0x0100, qd: 0)
        #expect(reply(intake.accept(none, from: Fixture.client))?.outcome == .formErr)
        let twoOPT = Bytes.header(id: 1, flags: 0x0100, ar: 2) + Bytes.question("a.example", type: 28) + Bytes.opt(size: 1232) + Bytes.opt(size: 1232)
        #expect(reply(intake.accept(twoOPT, from: Fixture.client))?.outcome == .formErr)
    }

    @Test func N5_unsupportedOpcodeGetsNOTIMP() throws {
        // Opcode 5 (UPDATE): flags 0x2800.
        let update = Fixture.query(flags: 0x2800)
        let r = try #require(reply(intake.accept(update, from: Fixture.client)))
        #expect(r.outcome == .notImp)
        #expect(Array(r.bytes[0..<4]) == [0xBE, 0xEF, 0xA8, 0x84])  // QR, opcode 5 echoed, RA, rcode 4
    }

    @Test func N5_responsesAndShortMessagesDropped() {
        if case .drop(.notAQuery) = intake.accept(Fixture.query(flags: 0x8100), from: Fixture.client) {} else {
            Issue.record("a response was not dropped")
        }
        if case .drop(.noHeader) = intake.accept([0xBE, 0xEF, 0x01], from: Fixture.client) {} else {
            Issue.record("a short message was not dropped")
        }
    }

    /// Whatever arrives: no crash, and every reply echoes the ID and is a parseable response.
    @Test func N5_randomInputNeverCrashes() throws {
        var rng = SplitMix(state: 42)
        let seed = Fixture.query(opt: Bytes.opt(size: 1400))
        for round in 0..<10_000 {
            var bytes = seed
            for _ in 0..<Int.random(in: 1...6, using: &rng) {
                bytes[Int.random(in: 0..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
            }
            if round % 5 == 0 { bytes.removeLast(Int.random(in: 0..<bytes.count, using: &rng)) }
            guard let r = reply(intake.accept(bytes, from: Fixture.client)) else { continue }
            let message = try DNSMessage(parsing: r.bytes)
            #expect(message.header.flags.isResponse)
            #expect(Array(r.bytes[0..<2]) == Array(bytes[0..<2]))
        }
    }
}
