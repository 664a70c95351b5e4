// BPF filters from libpcap's compiler, on raw IPv4 and IPv6 packets.
import NAT64Translator
import PacketTestSupport
import PacketCapture
import Testing

/// Whether `expression` matches each of `packets`, in order.
func filterResults(_ expression: String, _ packets: [[UInt8]]) throws -> [Bool] {
    let filter = try PacketFilter(expression)
    return packets.map { filter.matches($0) }
}

@Suite struct PacketFilterTests {
    let tcp4to80 = buildIPv4(src: pool, dst: server4, l4: .tcp(src: 40000, dst: 80, flags: 0x02, payload: []))
    let udp4 = buildIPv4(src: pool, dst: server4, l4: .udp(src: 40000, dst: 80, payload: [1]))
    let tcp4other = buildIPv4(src: pool, dst: IPv4Address("203.0.113.9")!, l4: .tcp(src: 1, dst: 80, flags: 2, payload: []))
    let tcp6to80 = buildIPv6(src: client, dst: server6, l4: .tcp(src: 40000, dst: 80, flags: 0x02, payload: []))
    let echo6 = buildIPv6(src: client, dst: server6, l4: .echo(request: true, id: 1, seq: 1, payload: []))
    let echo4 = buildIPv4(src: pool, dst: server4, l4: .echo(request: true, id: 1, seq: 1, payload: []))

    @Test func hostAndPortOnIPv4() throws {
        // The IPv6 packet carries the embedded address, not 198.51.100.10.
        #expect(try filterResults("host 198.51.100.10 and tcp port 80", [tcp4to80, udp4, tcp4other, tcp6to80])
            == [true, false, false, false])
    }

    @Test func portFilterAppliesToBothFamilies() throws {
        #expect(try filterResults("tcp port 80", [tcp4to80, tcp6to80, echo6]) == [true, true, false])
    }

    @Test func ipv6HostAndFamilies() throws {
        #expect(try filterResults("host 2001:db8:64::c633:640a", [tcp6to80, tcp4to80]) == [true, false])
        #expect(try filterResults("ip6", [echo6, echo4]) == [true, false])
        #expect(try filterResults("icmp or icmp6", [echo6, echo4, tcp4to80, tcp6to80]) == [true, true, false, false])
    }

    @Test func emptyAndTruncatedPacketsDoNotMatchAPortFilter() throws {
        #expect(try filterResults("tcp port 80", [[], Array(tcp4to80.prefix(21))]) == [false, false])
    }

    @Test func syntaxErrorNamesTheExpressionAndCompiler() {
        let error = #expect(throws: PcapError.self) { _ = try PacketFilter("host and and") }
        #expect(error?.code == .badFilter)
        #expect(error?.description.hasPrefix("filter \"host and and\": pcap_compile: ") == true, "\(String(describing: error))")
        #expect(PacketFilter.problem(with: "tcp prot 80") != nil)
        #expect(PacketFilter.problem(with: "tcp port 80") == nil)
    }
}
