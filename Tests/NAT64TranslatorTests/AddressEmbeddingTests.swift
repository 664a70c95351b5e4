import NAT64Translator
import Testing

/// RFC 6052 §2.4 table: 192.0.2.33 under each prefix length.
let rfc6052Examples: [(String, String)] = [
    ("2001:db8::/32", "2001:db8:c000:221::"),
    ("2001:db8:100::/40", "2001:db8:1c0:2:21::"),
    ("2001:db8:122::/48", "2001:db8:122:c000:2:2100::"),
    ("2001:db8:122:300::/56", "2001:db8:122:3c0:0:221::"),
    ("2001:db8:122:344::/64", "2001:db8:122:344:c0:2:2100:0"),
    ("2001:db8:122:344::/96", "2001:db8:122:344::c000:221"),
    ("64:ff9b::/96", "64:ff9b::c000:221"),
]

@Suite struct AddressEmbeddingTests {
    @Test("A1: embedding matches the RFC 6052 §2.4 examples for every prefix length", arguments: rfc6052Examples)
    func A1_embedMatchesRFCExamples(prefix: String, expected: String) throws {
        let p = try #require(NAT64Prefix(prefix))
        let v4 = try #require(IPv4Address("192.0.2.33"))
        #expect(p.embed(v4) == IPv6Address(expected))
        #expect(p.embed(v4).description == expected)
        #expect(try p.extract(#require(IPv6Address(expected))).get() == v4)
    }

    @Test("A1: only /32 /40 /48 /56 /64 /96 are accepted")
    func A1_permittedLengths() {
        for len in 0...128 {
            let text = "2001:db8::/\(len)"
            let ok = NAT64Prefix(text) != nil
            #expect(ok == [32, 40, 48, 56, 64, 96].contains(len), "length \(len)")
        }
    }

    @Test("A1: a non-zero u-octet or suffix on input is refused, not mis-translated")
    func A1_nonZeroUOctetAndSuffix() throws {
        let p48 = try #require(NAT64Prefix("2001:db8:122::/48"))
        // u-octet (byte 8) set
        let badU = try #require(IPv6Address("2001:db8:122:c000:ff02:2100::"))
        #expect(p48.extract(badU) == .failure(.nonZeroUOctet))
        // suffix byte set
        let badSuffix = try #require(IPv6Address("2001:db8:122:c000:2:2100::1"))
        #expect(p48.extract(badSuffix) == .failure(.nonZeroSuffix))
        let outside = try #require(IPv6Address("2001:db9::1"))
        #expect(p48.extract(outside) == .failure(.notInPrefix))
        let p96 = try #require(NAT64Prefix("2001:db8:64::/96"))
        #expect(p96.extract(try #require(IPv6Address("2001:db8:64::1:c000:221"))) == .failure(.notInPrefix))
    }

    @Test("Address text: parse and RFC 5952 output round trip")
    func addressTextRoundTrip() throws {
        let cases = ["::", "::1", "2001:db8::1", "2001:db8:0:1:1:1:1:1", "fe80::1:2", "64:ff9b::c000:221",
                     "2001:db8:1::1", "1:2:3:4:5:6:7:8"]
        for c in cases {
            #expect(IPv6Address(c)?.description == c, "\(c)")
        }
        #expect(IPv6Address("64:ff9b::192.0.2.1")?.description == "64:ff9b::c000:201")
        #expect(IPv6Address("2001:DB8::0:1")?.description == "2001:db8::1")
        for bad in ["", ":::", "1::2::3", "12345::", "1:2:3:4:5:6:7:8:9", "g::1", "::1.2.3"] {
            #expect(IPv6Address(bad) == nil, "\(bad)")
        }
        #expect(IPv4Address("192.0.2.1")?.value == 0xC000_0201)
        for bad in ["1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "a.b.c.d", ""] {
            #expect(IPv4Address(bad) == nil, "\(bad)")
        }
        #expect(IPv4Prefix("192.0.2.0/24")?.contains(IPv4Address(192, 0, 2, 200)) == true)
        #expect(IPv4Prefix("192.0.2.1/24") == nil)  // host bits set
        #expect(IPv6Prefix("2001:db8::/32")?.contains(try #require(IPv6Address("2001:db8:ffff::1"))) == true)
    }
}
