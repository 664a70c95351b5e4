// IP-P1–IP-P5: PROXY protocol headers, checked byte for byte against the layouts and examples of the
// specification (HAProxy doc/proxy-protocol.txt, §2.1 and §2.2).
import NAT64Translator
import Testing

@testable import InboundProxy

@Suite struct ProxyProtocolTests {
    let source = IPEndpoint(.v4(IPv4Address("192.168.0.1")!), 56324)
    let destination = IPEndpoint(.v4(IPv4Address("192.168.0.11")!), 443)

    @Test func ipP1_v1MatchesTheSpecificationExample() {
        // §2.1: "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n"
        #expect(ProxyProtocolHeader.v1(source: source, destination: destination)
            == Array("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n".utf8))
    }

    @Test func ipP1_v1LongestLinesHaveTheSpecifiedLengths() {
        let all4 = IPAddress.v4(IPv4Address("255.255.255.255")!)
        let v4 = ProxyProtocolHeader.v1(source: .init(all4, 65535), destination: .init(all4, 65535))
        #expect(v4 == Array("PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n".utf8))
        #expect(v4.count == 56)
        let all6 = IPAddress.v6(IPv6Address(high: .max, low: .max))
        let v6 = ProxyProtocolHeader.v1(source: .init(all6, 65535), destination: .init(all6, 65535))
        #expect(v6.count == 104)
        let compressed = ProxyProtocolHeader.v1(source: .init(.v6(IPv6Address("2001:db8::1")!), 1234),
                                                destination: .init(.v6(IPv6Address("2001:db8:0:0:1::2")!), 443))
        #expect(compressed == Array("PROXY TCP6 2001:db8::1 2001:db8::1:0:0:2 1234 443\r\n".utf8))
    }

    @Test func ipP2_mixedFamiliesAreUnknown() {
        let v6 = IPEndpoint(.v6(IPv6Address("2001:db8::1")!), 443)
        #expect(ProxyProtocolHeader.v1(source: source, destination: v6) == Array("PROXY UNKNOWN\r\n".utf8))
        #expect(ProxyProtocolHeader.v2(source: source, destination: v6, authority: nil)
            == ProxyProtocolHeader.v2Signature + [0x21, 0x00, 0x00, 0x00])
    }

    @Test func ipP3_v2IPv4Layout() {
        let header = ProxyProtocolHeader.v2(source: source, destination: destination, authority: nil)
        #expect(header == [
            0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A,  // signature
            0x21,  // version 2, PROXY
            0x11,  // TCP over IPv4
            0x00, 0x0C,  // 12 address bytes
            192, 168, 0, 1, 192, 168, 0, 11,  // source, destination
            0xDC, 0x04, 0x01, 0xBB,  // 56324, 443
        ])
    }

    @Test func ipP3_v2IPv6Layout() {
        let s = IPEndpoint(.v6(IPv6Address("2001:db8::1")!), 1)
        let d = IPEndpoint(.v6(IPv6Address("2001:db8::2")!), 2)
        let header = ProxyProtocolHeader.v2(source: s, destination: d, authority: nil)
        let addr1: [UInt8] = [0x20, 0x01, 0x0D, 0xB8] + [UInt8](repeating: 0, count: 11) + [1]
        let addr2: [UInt8] = [0x20, 0x01, 0x0D, 0xB8] + [UInt8](repeating: 0, count: 11) + [2]
        #expect(header == ProxyProtocolHeader.v2Signature + [0x21, 0x21, 0x00, 36] + addr1 + addr2 + [0, 1, 0, 2])
        #expect(header.count == 16 + 36)
    }

    @Test func ipP4_v2CarriesTheAuthorityTLV() {
        let header = ProxyProtocolHeader.v2(source: source, destination: destination, authority: "site-a.example")
        let name = Array("site-a.example".utf8)
        #expect(header[14...15] == [0x00, UInt8(12 + 3 + name.count)])
        #expect(Array(header[28...]) == [0x02, 0x00, UInt8(name.count)] + name)
    }

    @Test func ipP4_v2MarksTLSConnectionsWithTheSSLTLV() {
        let header = ProxyProtocolHeader.v2(source: source, destination: destination, authority: "a.example", tls: true)
        let name = Array("a.example".utf8)
        #expect(header[14...15] == [0x00, UInt8(12 + 3 + name.count + 8)])
        #expect(Array(header[(28 + 3 + name.count)...]) == [0x20, 0x00, 0x05, 0x01, 0x00, 0x00, 0x00, 0x01])
        let plain = ProxyProtocolHeader.v2(source: source, destination: destination, authority: nil, tls: true)
        #expect(Array(plain[28...]) == [0x20, 0x00, 0x05, 0x01, 0x00, 0x00, 0x00, 0x01])
    }

    @Test func ipP5_mappedAddressesAreSentAsIPv4() {
        let mapped = IPEndpoint(.v6(IPv6Address("::ffff:192.168.0.1")!), 56324)
        let local = IPEndpoint(.v6(IPv6Address("::ffff:192.168.0.11")!), 443)
        #expect(ProxyProtocolHeader.v1(source: mapped, destination: local)
            == Array("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n".utf8))
        #expect(ProxyProtocolHeader.encode(.v2, source: mapped, destination: local, authority: nil)
            == ProxyProtocolHeader.v2(source: source, destination: destination, authority: nil))
        #expect(ProxyProtocolHeader.encode(.none, source: mapped, destination: local, authority: "x").isEmpty)
    }
}
