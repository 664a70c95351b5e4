// Finding the IP packet in Ethernet, VLAN-tagged, Linux cooked v1/v2 and loopback frames.
import NAT64Translator
import PacketTestSupport
import PacketCapture
import Testing

@Suite struct LinkLayerTests {
    let ip = buildIPv6(src: client, dst: server6, l4: .udp(src: 1, dst: 2, payload: [0]))
    let macs = [UInt8](repeating: 0xAA, count: 6) + [UInt8](repeating: 0xBB, count: 6)

    @Test func ethernetAndVLANTags() {
        #expect(LinkType.ethernet.payload(of: macs + [0x86, 0xDD] + ip) == .ip(offset: 14))
        #expect(LinkType.ethernet.payload(of: macs + [0x81, 0x00, 0, 5, 0x08, 0x00] + ip) == .ip(offset: 18))
        #expect(LinkType.ethernet.payload(of: macs + [0x88, 0xA8, 0, 1, 0x81, 0x00, 0, 5, 0x86, 0xDD]) == .ip(offset: 22))
        #expect(LinkType.ethernet.payload(of: macs + [0x08, 0x06] + [UInt8](repeating: 0, count: 28))
            == .notIP("ethertype 0x0806"))
        #expect(LinkType.ethernet.payload(of: Array(macs.prefix(13))) != .ip(offset: 14))
    }

    @Test func linuxCookedCaptures() {
        let sll = [0, 0, 0, 1, 0, 6] + [UInt8](repeating: 0xCC, count: 8) + [0x86, 0xDD]
        #expect(LinkType.linuxSLL.payload(of: sll + ip) == .ip(offset: 16))
        let sll2 = [0x08, 0x00, 0, 0, 0, 0, 0, 3, 0, 1, 0, 6] + [UInt8](repeating: 0xCC, count: 8)
        #expect(LinkType.linuxSLL2.payload(of: sll2) == .ip(offset: 20))
        #expect(LinkType.linuxSLL2.payload(of: Array(sll2.prefix(19))) != .ip(offset: 20))
    }

    @Test func rawAndLoopback() {
        #expect(LinkType.raw.payload(of: ip) == .ip(offset: 0))
        #expect(LinkType.null.payload(of: [30, 0, 0, 0] + ip) == .ip(offset: 4))
        #expect(LinkType.null.payload(of: [2, 0, 0, 0, 0x00]) == .notIP("loopback frame, not IP"))
        #expect(!LinkType(rawValue: 105).isSupported)
    }

    /// Fuzz-ish: random frames of every length under every link type never trap.
    @Test func randomFramesNeverTrap() {
        var rng = SystemRandomNumberGenerator()
        for type in [LinkType.raw, .ipv4, .ipv6, .ethernet, .linuxSLL, .linuxSLL2, .null, LinkType(rawValue: 999)] {
            for length in 0..<64 {
                for _ in 0..<20 {
                    let frame = (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) }
                    if case .ip(let offset) = type.payload(of: frame) { #expect(offset >= 0) }
                }
            }
        }
    }
}
