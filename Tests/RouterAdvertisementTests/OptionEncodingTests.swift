// Byte vectors worked out by hand from the option layouts of RFC 4861 §4.2/§4.6, RFC 8106 §5 and RFC 8781 §4.

import NAT64Translator
import Testing

@testable import RouterAdvertisement

private func hex(_ text: String) -> [UInt8] {
    let digits = text.filter { !$0.isWhitespace }
    return stride(from: 0, to: digits.count, by: 2).map {
        let start = digits.index(digits.startIndex, offsetBy: $0)
        return UInt8(digits[start..<digits.index(start, offsetBy: 2)], radix: 16)!
    }
}

private func prefix(_ text: String) -> NAT64Prefix { NAT64Prefix(text)! }

@Suite struct Pref64Tests {
    /// RA6: one vector per prefix length RFC 8781 §4 allows; the 16-bit field is scaled lifetime << 3 | PLC.
    @Test(arguments: [
        // /96, 1800 s = 225 × 8: 225 << 3 | 0 = 0x0708.
        ("2001:db8:64::/96", 1800 as UInt32, "26 02 0708 20010db8 00640000 00000000"),
        // /64, 100000 s is capped at 8191: 8191 << 3 | 1 = 0xfff9.
        ("2001:db8:1:2::/64", 100_000, "26 02 fff9 20010db8 00010002 00000000"),
        // /56, 1 s rounds up to 8 s, scaled 1: 1 << 3 | 2 = 0x000a.
        ("2001:db8:1:200::/56", 1, "26 02 000a 20010db8 00010200 00000000"),
        // /48, 8 s, scaled 1: 1 << 3 | 3 = 0x000b.
        ("2001:db8:1::/48", 8, "26 02 000b 20010db8 00010000 00000000"),
        // /40, 600 s, scaled 75: 75 << 3 | 4 = 0x025c.
        ("2001:db8:100::/40", 600, "26 02 025c 20010db8 01000000 00000000"),
        // /32, 65528 s, scaled 8191: 8191 << 3 | 5 = 0xfffd.
        ("2001:db8::/32", 65528, "26 02 fffd 20010db8 00000000 00000000"),
    ])
    func RA6_plcForEachPrefixLength(text: String, lifetime: UInt32, expected: String) {
        #expect(NDOption.pref64(prefix(text), lifetime: lifetime) == hex(expected))
    }

    @Test func RA6_plcCodesAndTheirInverse() {
        #expect([96, 64, 56, 48, 40, 32].map { Pref64.plc(prefixLength: $0) } == [0, 1, 2, 3, 4, 5])
        #expect(Pref64.plc(prefixLength: 80) == nil)
        #expect((0...7).map { Pref64.prefixLength(plc: UInt8($0)) } == [96, 64, 56, 48, 40, 32, nil, nil])
    }

    /// RA7: 0 stays 0; anything else rounds up to a multiple of 8 s; the cap is 8191 (65528 s).
    @Test func RA7_lifetimeScalingRoundsUpAndCaps() {
        let cases: [(UInt32, UInt16)] = [(0, 0), (1, 1), (7, 1), (8, 1), (9, 2), (601, 76), (1800, 225),
                                         (65527, 8191), (65528, 8191), (65529, 8191), (UInt32.max, 8191)]
        for (seconds, scaled) in cases {
            #expect(Pref64.scaledLifetime(seconds) == scaled, "\(seconds) s")
        }
        #expect(Pref64.seconds(scaled: 76) == 608)
        #expect(Pref64.seconds(scaled: 8191) == 65528)
    }

    /// RA6: bits past the prefix length are not sent.
    @Test func RA6_hostBitsAreCleared() {
        let p = NAT64Prefix(IPv6Prefix(IPv6Address("2001:db8:1:ffff::")!, length: 48))!
        #expect(NDOption.pref64(p, lifetime: 0) == hex("26 02 0003 20010db8 00010000 00000000"))
    }
}

@Suite struct DNSOptionTests {
    /// RA4: length 1 + 2 × addresses; 16 reserved bits; the lifetime; the addresses.
    @Test func RA4_rdnssWithOneAddress() {
        let option = NDOption.rdnss([IPv6Address("2001:db8:1::1")!], lifetime: 1800)
        #expect(option == hex("19 03 0000 00000708 20010db8 00010000 00000000 00000001"))
    }

    @Test func RA4_rdnssWithSeveralAddresses() {
        let option = NDOption.rdnss([IPv6Address("2001:db8:1::1")!, IPv6Address("2001:db8:2::53")!,
                                     IPv6Address("fe80::1")!], lifetime: .max)
        #expect(option == hex("""
            19 07 0000 ffffffff
            20010db8 00010000 00000000 00000001
            20010db8 00020000 00000000 00000053
            fe800000 00000000 00000000 00000001
            """))
        #expect(NDOption.rdnss([], lifetime: 1) == nil)
    }

    /// RA5: 8 + 13 octets of "example.com" = 21, padded with three zeros to 24 (length 3).
    @Test func RA5_dnsslNameEncodingAndPadding() {
        #expect(NDOption.dnssl(["example.com"], lifetime: 1800) == hex("""
            1f 03 0000 00000708 07 6578616d706c65 03 636f6d 00 000000
            """))
        // 8 + "a.test" (8) + "b.example." (11) = 27, padded to 32 (length 4).
        #expect(NDOption.dnssl(["a.test", "b.example."], lifetime: 0) == hex("""
            1f 04 0000 00000000 01 61 04 74657374 00 01 62 07 6578616d706c65 00 00000000 00
            """))
    }

    @Test func RA5_invalidNamesAreRefused() {
        #expect(DomainName.wire("a..b") == nil)
        #expect(DomainName.wire("") == nil)
        #expect(DomainName.wire(String(repeating: "x", count: 64) + ".test") == nil)
        #expect(DomainName.wire("bad name.test") == nil)
        #expect(NDOption.dnssl([], lifetime: 1) == nil)
    }
}

@Suite struct AdvertisementMessageTests {
    @Test func RA2_mtuOption() {
        #expect(NDOption.mtu(1500) == hex("05 01 0000 000005dc"))
    }

    /// RA3: L and A set, the RFC 4861 default lifetimes 2592000 (0x278d00) and 604800 (0x93a80).
    @Test func RA3_prefixInformationWithDefaults() {
        let option = NDOption.prefixInformation(PrefixInformation(prefix: IPv6Prefix("2001:db8:1::/64")!))
        #expect(option == hex("03 04 40 c0 00278d00 00093a80 00000000 20010db8 00010000 00000000 00000000"))
    }

    @Test func RA1_sourceLinkLayerAddress() {
        #expect(NDOption.sourceLinkLayerAddress([2, 0, 0, 0, 0, 1]) == hex("01 01 020000000001"))
    }

    /// RA8: type 134, code 0, checksum 0, hop limit 64, flags (Prf), router lifetime, reachable, retrans.
    @Test func RA8_headerAndOptionOrder() {
        var s = AdvertisementSettings()
        s.preference = .high
        s.mtu = 1500
        s.rdnss = [IPv6Address("2001:db8:1::1")!]
        s.pref64 = prefix("2001:db8:64::/96")
        let message = RouterAdvertisementMessage.build(s)
        #expect(Array(message[0..<16]) == hex("86 00 0000 40 08 0708 00000000 00000000"))
        #expect(Array(message[16...]) == NDOption.mtu(1500)
            + NDOption.rdnss(s.rdnss, lifetime: 1800)! + NDOption.pref64(s.pref64!, lifetime: 1800))
        s.preference = .low
        #expect(RouterAdvertisementMessage.build(s)[5] == 0x18)
    }

    /// RA14: the final advertisement: router lifetime 0 (so preference medium), RDNSS and PREF64 lifetime 0.
    @Test func RA14_finalAdvertisementWithdrawsEverything() {
        var s = AdvertisementSettings()
        s.preference = .high
        s.rdnss = [IPv6Address("2001:db8:1::1")!]
        s.dnssl = ["example.com"]
        s.pref64 = prefix("2001:db8:64::/96")
        let message = RouterAdvertisementMessage.build(s, final: true)
        #expect(Array(message[0..<16]) == hex("86 00 0000 40 00 0000 00000000 00000000"))
        #expect(Array(message[16...]) == NDOption.rdnss(s.rdnss, lifetime: 0)! + NDOption.dnssl(s.dnssl, lifetime: 0)!
            + NDOption.pref64(s.pref64!, lifetime: 0))
    }

    /// RFC 4861 §6.2.1 defaults (MinRtrAdvInterval with erratum 3154).
    @Test func RA9_defaultIntervalsAndLifetimes() {
        var s = AdvertisementSettings()
        #expect(s.effectiveMinInterval == 198)
        #expect(s.effectiveRouterLifetime == 1800)
        s.maxInterval = 8
        #expect(s.effectiveMinInterval == 6)
        s.maxInterval = 1800
        #expect(s.effectiveRouterLifetime == 5400)
        s.pref64Lifetime = 601
        #expect(s.effectivePref64Lifetime == 608)
    }
}
