// IP-H1–IP-H5: the Host of an HTTP/1.x request head.
import Testing

@testable import InboundProxy

@Suite struct HTTPHostTests {
    func parse(_ text: String, max: Int = HTTPHost.defaultMaxBytes) -> HTTPHostResult {
        HTTPHost.parse(Array(text.utf8), maxBytes: max)
    }

    @Test func ipH4_hostFieldNamesTheRoute() {
        let head = "GET /index.html HTTP/1.1\r\nUser-Agent: t\r\nhOsT:  Site-B.Example:8080 \r\nAccept: */*\r\n"
        #expect(parse(head + "\r\nbody") == .host("site-b.example", headLength: head.utf8.count))
    }

    @Test func ipH1_bareLineFeedsAreAccepted() {
        let head = "GET / HTTP/1.1\nHost: a.example\n"
        #expect(parse(head + "\n") == .host("a.example", headLength: head.utf8.count))
    }

    @Test func ipH1_everyPrefixNeedsMore() {
        let text = "GET / HTTP/1.1\r\nHost: a.example\r\n\r\n"
        let bytes = Array(text.utf8)
        for cut in 0..<bytes.count {
            #expect(HTTPHost.parse(bytes[..<cut]) == .needMore, "cut at \(cut)")
        }
    }

    @Test func ipH3_absoluteTargetWinsOverHost() {
        #expect(parse("GET http://Abs.Example:81/x HTTP/1.1\r\nHost: other.example\r\n\r\n")
            == .host("abs.example", headLength: 59))
    }

    @Test func ipH5_ipv6LiteralHost() {
        #expect(parse("GET / HTTP/1.1\r\nHost: [2001:DB8::1]:80\r\n\r\n") == .host("2001:db8::1", headLength: 40))
    }

    @Test func ipH4_missingAndDuplicateHost() {
        #expect(parse("GET / HTTP/1.0\r\nAccept: */*\r\n\r\n") == .noHost(headLength: 29))
        #expect(parse("GET / HTTP/1.1\r\nAccept: */*\r\n\r\n") == .invalid("HTTP/1.1 request without Host"))
        #expect(parse("GET / HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n\r\n") == .invalid("two Host header fields"))
        #expect(parse("GET / HTTP/1.1\r\nHost: a b\r\n\r\n") == .invalid("Host is not a valid host"))
    }

    @Test func ipH2_notHTTPIsRefusedEarly() {
        #expect(HTTPHost.parse(records(clientHelloMessage(serverName: "a.example"))) == .invalid("not an HTTP request line"))
        #expect(parse("SSH-2.0-OpenSSH_9.2\r\n\r\n") == .invalid("not an HTTP request line"))
        #expect(parse("GET / HTTP/2.0\r\nHost: a\r\n\r\n") == .invalid("not HTTP/1.0 or HTTP/1.1"))
        #expect(parse("\r\n") == .invalid("empty line before the request line"))
        #expect(parse("GET / HTTP/1.1\r\nno colon here\r\n\r\n") == .invalid("header line without a field name"))
    }

    @Test func ipH1_headOverTheLimitIsTooLarge() {
        let long = "GET / HTTP/1.1\r\nX-Pad: " + String(repeating: "p", count: 200) + "\r\n"
        #expect(parse(long, max: 100) == .tooLarge)
        #expect(parse(long + "Host: a.example\r\n\r\n", max: 100) == .tooLarge)
        #expect(parse(long + "Host: a.example\r\n\r\n", max: 1000) == .host("a.example", headLength: long.utf8.count + 17))
    }
}
