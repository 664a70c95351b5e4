import NIOCore
import Testing
@testable import DNS64

/// Rule N3: an upstream answer must match source address, ID, QR and question; anything else is dropped.
struct UpstreamMatcherTests {
    let upstream = try! SocketAddress(ipAddress: "192.0.2.53", port: 53)
    let question = DNSQuestion(name: DNSName("example.com")!, type: .aaaa)
    var matcher: UpstreamMatcher { UpstreamMatcher(upstream: upstream, id: 0x0777, question: question) }
    let good = Fixture.nodata()

    @Test func N3_matchingAnswerAccepted() {
        #expect(matcher.match(good, from: upstream) != nil)
        // Names compare without case (RFC 4343).
        #expect(matcher.match(Fixture.response("EXAMPLE.com", type: 28), from: upstream) != nil)
    }

    @Test func N3_spoofedAnswersDropped() throws {
        #expect(matcher.match(good, from: try SocketAddress(ipAddress: "192.0.2.54", port: 53)) == nil)
        #expect(matcher.match(good, from: try SocketAddress(ipAddress: "192.0.2.53", port: 5353)) == nil)
        var wrongID = good
        wrongID[1] = 0x78
        #expect(matcher.match(wrongID, from: upstream) == nil)
        var notResponse = good
        notResponse[2] &= 0x7F
        #expect(matcher.match(notResponse, from: upstream) == nil)
        #expect(matcher.match(Fixture.response("example.org", type: 28), from: upstream) == nil)
        #expect(matcher.match(Fixture.response(type: Bytes.typeA), from: upstream) == nil)
        #expect(matcher.match(Array(good.dropLast()), from: upstream) == nil)
    }

    @Test func N3_upstreamQueryHasRDAndGivenID() throws {
        let query = UpstreamQuery(question: question, checkingDisabled: true, edns: EDNSInfo(udpPayloadSize: 1232))
        let bytes = query.message(id: 0xABCD).encoded()
        #expect(Array(bytes[0..<4]) == [0xAB, 0xCD, 0x01, 0x10])  // RD + CD
        #expect(Array(bytes[10..<12]) == [0, 1])  // one OPT record
    }
}
