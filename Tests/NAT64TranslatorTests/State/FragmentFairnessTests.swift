// S12: the fragment stores are bounded per source and in total, fairly: the ICMP reassembly slots (T6.11) and
// the out-of-order IPv4 fragment store (S8). A new source takes room from the source holding the most,
// counted as `fragment-evicted`. Time is injected.
import NAT64Translator
import PacketTestSupport
import Testing

@Suite struct FragmentFairnessTests {
    /// The two fragments of a 2000-byte ICMPv6 echo from `source` with fragment id `id`.
    func fragmentedPing(from source: IPv6Address, id: UInt32) -> (first: [UInt8], last: [UInt8]) {
        let echo = icmp6(src: source, dst: server6, type: 128, code: 0, rest: 0x0042_0001,
                         body: (0..<2000).map { UInt8(truncatingIfNeeded: $0 &* 7) })
        return (buildIPv6Raw(src: source, dst: server6, chain: [(44, fragmentHeader(offset: 0, more: true, id: id))],
                             upperProto: 58, payload: Array(echo[0..<1232])),
                buildIPv6Raw(src: source, dst: server6, chain: [(44, fragmentHeader(offset: 1232, more: false, id: id))],
                             upperProto: 58, payload: Array(echo[1232...])))
    }

    @Test("S12: first fragments spoofed from many sources fill the reassembly slots; a large ping still completes")
    func S12_reassemblyAfterSpoofedFirstFragments() {
        var t = translator()
        for n in 0..<40 {
            #expect(run(&t, fragmentedPing(from: hostNumber(n), id: UInt32(n)).first, now: 0).0 == .drop(.fragmentHeld))
        }
        let ping = fragmentedPing(from: client, id: 0xBEEF)
        #expect(run(&t, ping.first, now: 100_000_000).0 == .drop(.fragmentHeld))
        let (v, out) = run(&t, ping.last, now: 101_000_000)
        #expect(v == .translated)
        #expect(Parsed(bytes: out).l4ChecksumValid)
        #expect(t.counters.drops(.fragmentEvicted) == 33)  // 40 + 1 datagrams through 8 slots
    }

    @Test("S12: one source reassembles at most two datagrams at once and cannot take another source's slot")
    func S12_reassemblyPerSource() {
        var t = translator()
        #expect(run(&t, fragmentedPing(from: client, id: 1).first, now: 0).0 == .drop(.fragmentHeld))
        #expect(run(&t, fragmentedPing(from: client, id: 2).first, now: 0).0 == .drop(.fragmentHeld))
        #expect(run(&t, fragmentedPing(from: client, id: 3).first, now: 0).0 == .drop(.heldPacketLimit))
        // Six other sources fill the rest; a heavy source (client, 2) gives way to a new one (0).
        for n in 0..<6 { _ = run(&t, fragmentedPing(from: hostNumber(n), id: 9).first, now: 0) }
        #expect(run(&t, fragmentedPing(from: hostNumber(7), id: 9).first, now: 0).0 == .drop(.fragmentHeld))
        #expect(t.counters.drops(.fragmentEvicted) == 1)
        // The client's other datagram (id 2) is still there and completes.
        #expect(run(&t, fragmentedPing(from: client, id: 2).last, now: 0).0 == .translated)
        // That freed a slot; once it is taken again, a source holding one cannot push out another holding one.
        #expect(run(&t, fragmentedPing(from: hostNumber(8), id: 9).first, now: 0).0 == .drop(.fragmentHeld))
        #expect(run(&t, fragmentedPing(from: hostNumber(0), id: 10).first, now: 0).0 == .drop(.heldPacketLimit))
    }

    @Test("S12: the out-of-order IPv4 fragment store: per-source limit, and a new source takes the heaviest source's oldest")
    func S12_heldFragmentStore() {
        let store = FragmentStore(capacity: 8, maximumFragmentBytes: 64, perSource: 4)
        func source(_ n: Int) -> IPv6Address { IPv6Address(high: 0, low: UInt64(0xCB00_7100 + n)) }
        func hold(_ n: Int, id: UInt32, byte: UInt8) -> FragmentStore.HoldResult {
            let key = FragmentKey(source: source(n), destination: .unspecified, identification: id, proto: 17)
            return [byte].withUnsafeBytes { store.hold($0, key: key, source: source(n), now: 0) }
        }
        for i in 0..<4 { #expect(hold(1, id: UInt32(i), byte: UInt8(i)) == .held) }
        #expect(hold(1, id: 9, byte: 9) == .sourceLimit)
        for i in 0..<3 { #expect(hold(2, id: UInt32(i), byte: 0x20) == .held) }
        #expect(hold(3, id: 0, byte: 0x30) == .held)
        #expect(store.count == 8)
        // Full: source 4 (holding none) takes the place of source 1's oldest fragment (id 0).
        #expect(hold(4, id: 0, byte: 0x40) == .evicted)
        #expect(store.release(FragmentKey(source: source(1), destination: .unspecified, identification: 0, proto: 17)) { _ in } == 0)
        #expect(store.release(FragmentKey(source: source(1), destination: .unspecified, identification: 1, proto: 17)) { _ in } == 1)
        // Now 2 and 3 hold 3 and 1, source 1 two: source 5 evicts from source 2.
        #expect(hold(5, id: 0, byte: 0x50) == .held)
        #expect(hold(6, id: 0, byte: 0x60) == .evicted)
        #expect(store.release(FragmentKey(source: source(2), destination: .unspecified, identification: 0, proto: 17)) { _ in } == 0)
        #expect(store.count == 8)
    }
}
