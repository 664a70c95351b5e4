import CTunLinux
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The TUN steering program (`tun.steering = "hash"`), run by the kernel on hand-made packets with
/// BPF_PROG_TEST_RUN. Loading a program needs CAP_BPF, so these run as root (as CI does).
@Suite(.enabled(if: getuid() == 0, "loading a BPF program needs root"))
struct SteeringProgramTests {
    /// IPv4 header (IHL 5) + 8 bytes of transport: protocol, addresses, fragment field, ports.
    static func ipv4(src: [UInt8], dst: [UInt8], proto: UInt8 = 17, fragment: UInt16 = 0,
                     sport: UInt16 = 1000, dport: UInt16 = 53) -> [UInt8] {
        [0x45, 0, 0, 28, 0, 1, UInt8(fragment >> 8), UInt8(fragment & 0xff), 64, proto, 0, 0] + src + dst
            + [UInt8(sport >> 8), UInt8(sport & 0xff), UInt8(dport >> 8), UInt8(dport & 0xff), 0, 8, 0, 0]
    }

    /// IPv6 header + 8 bytes: next header, addresses, then ports (or a fragment header when next is 44).
    static func ipv6(src: UInt8, dst: UInt8, next: UInt8 = 17, sport: UInt16 = 1000, dport: UInt16 = 53) -> [UInt8] {
        let prefix: [UInt8] = [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11)
        return [0x60, 0, 0, 0, 0, 8, next, 64] + prefix + [src] + prefix + [dst]
            + [UInt8(sport >> 8), UInt8(sport & 0xff), UInt8(dport >> 8), UInt8(dport & 0xff), 0, 8, 0, 0]
    }

    static func value(_ program: Int32, _ packet: [UInt8]) throws -> UInt32 {
        var value: UInt32 = 0
        let r = packet.withUnsafeBufferPointer { CTunLinux_steeringValue(program, $0.baseAddress, UInt32($0.count), &value) }
        try #require(r == 0, "BPF_PROG_TEST_RUN: errno \(-r)")
        return value
    }

    @Test func theKernelAcceptsTheProgramAndFragmentsOfOneDatagramMeet() throws {
        let program = CTunLinux_loadSteering()
        try #require(program >= 0, "BPF_PROG_LOAD: errno \(-program)")
        defer { close(program) }
        let a: [UInt8] = [192, 0, 2, 1]
        let b: [UInt8] = [198, 51, 100, 7]

        // IPv4: the first fragment (MF) and a later one (offset 185) carry the same addresses: same value,
        // though only the first has ports.
        let first = try Self.value(program, Self.ipv4(src: a, dst: b, fragment: 0x2000))
        let later = try Self.value(program, Self.ipv4(src: a, dst: b, fragment: 185, sport: 0, dport: 0))
        #expect(first == later)
        // IPv6: a fragment header (44) hides the ports; values agree whatever follows it.
        #expect(try Self.value(program, Self.ipv6(src: 2, dst: 9, next: 44, sport: 1, dport: 2))
            == Self.value(program, Self.ipv6(src: 2, dst: 9, next: 44, sport: 7, dport: 8)))

        // Unfragmented TCP and UDP use the ports: flows between the same two hosts spread over 2 queues.
        var queues4 = [0, 0]
        var queues6 = [0, 0]
        for port in UInt16(20_000)..<20_256 {
            queues4[Int(try Self.value(program, Self.ipv4(src: a, dst: b, proto: 6, sport: port)) & 0xffff) % 2] += 1
            queues6[Int(try Self.value(program, Self.ipv6(src: 2, dst: 9, next: 17, sport: port)) & 0xffff) % 2] += 1
        }
        #expect(queues4.allSatisfy { $0 > 80 }, "IPv4 flows per queue: \(queues4)")
        #expect(queues6.allSatisfy { $0 > 80 }, "IPv6 flows per queue: \(queues6)")
        // ICMP has no ports: the addresses alone decide.
        #expect(try Self.value(program, Self.ipv4(src: a, dst: b, proto: 1, sport: 1))
            == Self.value(program, Self.ipv4(src: a, dst: b, proto: 1, sport: 2)))
        // Not IPv4 or IPv6: queue 0.
        #expect(try Self.value(program, [0x50] + [UInt8](repeating: 0, count: 39)) == 0)
    }
}
