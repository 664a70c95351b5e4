// An open-addressing hash index over preallocated memory, used by the session, BIB and host tables
// (issue 4: "an established flow costs one hash lookup in preallocated memory, no allocation").
//
// Each bucket holds `slot + 1` of an entry in a caller-owned slab (0 = empty). Keys and their 32-bit hashes live
// in the entries, so a bucket is 4 bytes and the index stays at most half full (buckets ≥ 2 × capacity).
// Collisions use linear probing; deletion uses backward shifting, so there are no tombstones and a lookup
// never walks further than the longest run.

/// A fixed-size open-addressing index of slot numbers. Reference semantics: it is a view over memory the
/// owning table allocates and frees (`allocate(capacity:)` / `deallocate()`).
@usableFromInline
struct FlatIndex {
    @usableFromInline let buckets: UnsafeMutablePointer<UInt32>
    @usableFromInline let mask: UInt32

    /// Allocates an empty index for up to `capacity` entries (load factor ≤ 0.5).
    static func allocate(capacity: Int) -> FlatIndex {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        precondition(size <= 1 << 32, "index too large")
        let buckets = FlatMemory.allocate(UInt32.self, count: size)
        buckets.initialize(repeating: 0, count: size)
        return FlatIndex(buckets: buckets, mask: UInt32(size - 1))
    }

    init(buckets: UnsafeMutablePointer<UInt32>, mask: UInt32) {
        self.buckets = buckets
        self.mask = mask
    }

    func deallocate() { FlatMemory.deallocate(buckets) }

    /// Number of buckets.
    var bucketCount: Int { Int(mask) + 1 }

    /// Bytes of memory the buckets take.
    var byteCount: Int { bucketCount * MemoryLayout<UInt32>.stride }

    /// The slot whose key `matches`, probing from `hash`; nil when none does.
    @inlinable @inline(__always)
    func find(hash: UInt32, _ matches: (UInt32) -> Bool) -> UInt32? {
        var i = hash & mask
        while true {
            let b = buckets[Int(i)]
            if b == 0 { return nil }
            if matches(b &- 1) { return b &- 1 }
            i = (i &+ 1) & mask
        }
    }

    /// Adds `slot` under `hash`. The caller guarantees the key is not present and the index is not full.
    @inlinable
    func insert(hash: UInt32, slot: UInt32) {
        var i = hash & mask
        while buckets[Int(i)] != 0 { i = (i &+ 1) & mask }
        buckets[Int(i)] = slot &+ 1
    }

    /// Removes `slot` (inserted under `hash`), shifting later entries of the run back; `hashOf` gives the
    /// stored hash of another slot, to find its home bucket.
    @inlinable
    func remove(hash: UInt32, slot: UInt32, hashOf: (UInt32) -> UInt32) {
        var i = hash & mask
        var probes: UInt32 = 0
        while buckets[Int(i)] != slot &+ 1 {
            if buckets[Int(i)] == 0 || probes > mask { return }  // not present: nothing to do
            i = (i &+ 1) & mask
            probes &+= 1
        }
        var hole = i
        var j = (i &+ 1) & mask
        while buckets[Int(j)] != 0 {
            let home = hashOf(buckets[Int(j)] &- 1) & mask
            // The entry at j may move into the hole when the hole lies between its home and j (cyclically).
            if (j &- home) & mask >= (j &- hole) & mask {
                buckets[Int(hole)] = buckets[Int(j)]
                hole = j
            }
            j = (j &+ 1) & mask
        }
        buckets[Int(hole)] = 0
    }

    /// Empties the index.
    func removeAll() { buckets.update(repeating: 0, count: bucketCount) }
}

/// Keyed hashing for table keys: a multiply-fold mix seeded per table, so an attacker who does not know the
/// seed cannot aim many flows at one bucket run.
@usableFromInline
struct FlowHasher: Sendable {
    @usableFromInline let k0: UInt64
    @usableFromInline let k1: UInt64

    init(seed: UInt64) {
        var g = SplitMix64(seed: seed ^ 0xA076_1D64_78BD_642F)
        k0 = g.next() | 1
        k1 = g.next() | 1
    }

    @inlinable @inline(__always)
    static func fold(_ a: UInt64, _ b: UInt64) -> UInt64 {
        let m = a.multipliedFullWidth(by: b)
        return m.high ^ m.low
    }

    /// Hash of three 64-bit words.
    @inlinable @inline(__always)
    func hash(_ a: UInt64, _ b: UInt64, _ c: UInt64) -> UInt32 {
        let h = FlowHasher.fold(a ^ k0, b ^ k1)
        var g = FlowHasher.fold(h ^ c, k1 ^ 0xE703_7ED1_A0B4_28DB)
        // SplitMix64 finaliser: every input bit reaches the low bits the index masks with.
        g = (g ^ (g >> 30)) &* 0xBF58_476D_1CE4_E5B9
        g = (g ^ (g >> 27)) &* 0x94D0_49BB_1331_11EB
        return UInt32(truncatingIfNeeded: g ^ (g >> 31))
    }
}

#if canImport(Glibc)
import Glibc
#endif

/// Allocation of the big flat arrays: 2 MiB-aligned and marked for transparent huge pages, so random lookups
/// over a million sessions are not dominated by TLB misses. Init-time only; never on the packet path.
enum FlatMemory {
    static let hugePage = 2 << 20

    /// Uninitialised memory for `count` values of `T`.
    static func allocate<T>(_ type: T.Type, count: Int) -> UnsafeMutablePointer<T> {
        let bytes = max(1, count) * MemoryLayout<T>.stride
        #if canImport(Glibc)
        if bytes >= hugePage {
            var raw: UnsafeMutableRawPointer?
            let rounded = (bytes + hugePage - 1) / hugePage * hugePage
            if posix_memalign(&raw, hugePage, rounded) == 0, let raw {
                _ = madvise(raw, rounded, MADV_HUGEPAGE)  // a hint: failure only costs speed
                return raw.bindMemory(to: T.self, capacity: max(1, count))
            }
        }
        #endif
        return .allocate(capacity: max(1, count))
    }

    /// Frees memory from `allocate` (posix_memalign memory is released with free, like malloc's).
    static func deallocate<T>(_ pointer: UnsafeMutablePointer<T>) { free(pointer) }
}
