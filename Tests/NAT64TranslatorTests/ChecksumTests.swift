import NAT64Translator
import PacketTestSupport
import Testing

@Suite struct ChecksumTests {
    /// Pseudo-random bytes, deterministic.
    func bytes(_ n: Int, seed: UInt64) -> [UInt8] {
        var g = SplitMix64(seed: seed)
        return (0..<n).map { _ in UInt8(truncatingIfNeeded: g.next()) }
    }

    @Test("Sum over odd and even lengths equals an independent byte-loop checksum")
    func sumMatchesReference() {
        for n in [0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 40, 1499, 1500, 65535] {
            let b = bytes(n, seed: UInt64(n))
            let ours = b.withUnsafeBytes { InternetChecksum.finish(InternetChecksum.sum($0.baseAddress!, count: n)) }
            #expect(ours == referenceChecksum(b), "length \(n)")
        }
    }

    @Test("T4.14: incremental adjustment equals full recomputation for valid packets")
    func T4_14_incrementalEqualsFull() {
        for seed in UInt64(1)...200 {
            var b = bytes(64, seed: seed)
            b[30] = 0; b[31] = 0
            let c = referenceChecksum(b)
            b[30] = UInt8(c >> 8); b[31] = UInt8(c & 0xFF)
            // Replace words 0..<8 (16 bytes) with new random ones.
            let fresh = bytes(16, seed: seed &* 977)
            let removed = b[0..<16].withUnsafeBytes { InternetChecksum.sum($0.baseAddress!, count: 16) }
            let added = fresh.withUnsafeBytes { InternetChecksum.sum($0.baseAddress!, count: 16) }
            let adjusted = InternetChecksum.adjust(c, removing: removed, adding: added)
            var changed = b
            changed.replaceSubrange(0..<16, with: fresh)
            changed[30] = 0; changed[31] = 0
            #expect(adjusted == referenceChecksum(changed) || (adjusted == 0xFFFF && referenceChecksum(changed) == 0)
                    || (adjusted == 0 && referenceChecksum(changed) == 0xFFFF), "seed \(seed)")
        }
    }

    @Test("T4.14: a wrong checksum stays exactly as wrong after adjustment")
    func T4_14_corruptionPreserved() {
        let b = bytes(32, seed: 42)
        let correct = referenceChecksum(b)
        let corrupt = correct ^ 0x0F0F
        let removed = InternetChecksum.sum32(0xC000_0201)
        let added = InternetChecksum.sum32(0xC633_640A)
        let a1 = InternetChecksum.adjust(correct, removing: removed, adding: added)
        let a2 = InternetChecksum.adjust(corrupt, removing: removed, adding: added)
        #expect(a1 != a2)
    }
}
