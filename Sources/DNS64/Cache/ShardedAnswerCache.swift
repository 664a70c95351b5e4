// The answer cache shared by every event loop without one global lock (rule N4 of docs/dns64.md; per-core
// scaling): `AnswerCache` split into shards by the key's fingerprint, each behind its own lock, so lookups from
// different cores rarely wait for each other. Each shard holds an equal part of the entry and byte limits
// (eviction is first-in first-out within a shard). Small caches keep one shard, so their limits stay exact.
// The shards sit in one allocation, padded apart, and are reached through a pointer: a lookup touches no
// reference count and no cache line that another shard's lock writes.
import Synchronization

/// `AnswerCache` for many threads: shards chosen by key.
final class ShardedAnswerCache: @unchecked Sendable {  // every shard is a Mutex; the pointer never changes
    /// One shard: a lock and the cache behind it, then 64 bytes so the next shard's lock is on another line.
    private struct Shard: ~Copyable {
        let cache: Mutex<AnswerCache>
        private let padding: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0)

        init(limits: CacheLimits) {
            cache = Mutex(AnswerCache(limits: limits))
        }
    }

    /// Shards when the cache holds at least `minimumEntriesToShard` entries. A power of two.
    static let shardCount = 16
    /// Below this many entries the cache stays in one shard (a per-shard limit would be too coarse).
    static let minimumEntriesToShard = 1024

    private let shards: UnsafeMutablePointer<Shard>
    /// How many shards there are.
    let count: Int
    private let mask: UInt64

    /// Creates an empty cache with `limits` spread over the shards.
    init(limits: CacheLimits) {
        count = limits.maxEntries >= Self.minimumEntriesToShard ? Self.shardCount : 1
        var part = limits
        part.maxEntries = (limits.maxEntries + count - 1) / count
        part.maxBytes = (limits.maxBytes + count - 1) / count
        shards = .allocate(capacity: count)
        for i in 0..<count { (shards + i).initialize(to: Shard(limits: part)) }
        mask = UInt64(count - 1)
    }

    deinit {
        shards.deinitialize(count: count)
        shards.deallocate()
    }

    /// The shard that holds `key` (the high bits of its fingerprint: the dictionary inside uses all of them).
    func shardIndex(for key: CacheKey) -> Int {
        Int(truncatingIfNeeded: (key.fingerprint >> 56) & mask)
    }

    /// Runs `body` with `key`'s shard locked (for an insert that must happen together with other work).
    func withShard<R>(for key: CacheKey, _ body: (inout AnswerCache) -> R) -> R {
        shards[shardIndex(for: key)].cache.withLock { body(&$0) }
    }

    /// The answer for `key` and its age, or nil (see `AnswerCache.lookup`). Locks only `key`'s shard.
    func lookup(_ key: CacheKey, now: UInt64) -> (answer: CachedAnswer, age: UInt32)? {
        shards[shardIndex(for: key)].cache.withLock { $0.lookup(key, now: now) }
    }

    /// Stores `answer` under `key` (see `AnswerCache.insert`). Locks only `key`'s shard.
    func insert(_ key: CacheKey, _ answer: CachedAnswer, now: UInt64) {
        withShard(for: key) { $0.insert(key, answer, now: now) }
    }

    /// Entries held in all shards.
    var entries: Int { (0..<count).reduce(0) { sum, i in sum + shards[i].cache.withLock { $0.count } } }

    /// Entries held in each shard, in shard order.
    var entriesPerShard: [Int] { (0..<count).map { i in shards[i].cache.withLock { $0.count } } }

    /// Empties every shard, one lock at a time.
    /// - Returns: how many entries went.
    func removeAll() -> Int { (0..<count).reduce(0) { sum, i in sum + shards[i].cache.withLock { $0.removeAll() } } }

    /// The limits each shard got.
    var shardLimits: CacheLimits { shards[0].cache.withLock { $0.limits } }
}
