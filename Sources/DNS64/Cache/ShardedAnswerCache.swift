// The answer cache shared by every event loop without one global lock (rule N4 of docs/dns64.md; per-core
// scaling): `AnswerCache` split into shards by the key's fingerprint, each behind its own lock, so lookups from
// different cores rarely wait for each other. Each shard holds an equal part of the entry and byte limits
// (eviction is first-in first-out within a shard). Small caches keep one shard, so their limits stay exact.
import Synchronization

/// One shard: a lock and the cache behind it, padded so two shards' locks never share a cache line.
final class AnswerCacheShard: Sendable {
    let cache: Mutex<AnswerCache>
    // 64 bytes after the lock and the cache's fields: the next shard object starts on another line.
    private let padding: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0)

    init(limits: CacheLimits) {
        cache = Mutex(AnswerCache(limits: limits))
    }
}

/// `AnswerCache` for many threads: shards chosen by key.
final class ShardedAnswerCache: Sendable {
    /// Shards when the cache holds at least `minimumEntriesToShard` entries. A power of two.
    static let shardCount = 16
    /// Below this many entries the cache stays in one shard (a per-shard limit would be too coarse).
    static let minimumEntriesToShard = 1024

    private let shards: [AnswerCacheShard]
    private let mask: UInt64

    /// Creates an empty cache with `limits` spread over the shards.
    init(limits: CacheLimits) {
        let count = limits.maxEntries >= Self.minimumEntriesToShard ? Self.shardCount : 1
        var part = limits
        part.maxEntries = (limits.maxEntries + count - 1) / count
        part.maxBytes = (limits.maxBytes + count - 1) / count
        shards = (0..<count).map { _ in AnswerCacheShard(limits: part) }
        mask = UInt64(count - 1)
    }

    /// How many shards there are.
    var count: Int { shards.count }

    /// The shard that holds `key` (the high bits of its fingerprint: the dictionary inside uses all of them).
    func shard(for key: CacheKey) -> AnswerCacheShard {
        shards[Int(truncatingIfNeeded: (key.fingerprint >> 56) & mask)]
    }

    /// The answer for `key` and its age, or nil (see `AnswerCache.lookup`). Locks only `key`'s shard.
    func lookup(_ key: CacheKey, now: UInt64) -> (answer: CachedAnswer, age: UInt32)? {
        shard(for: key).cache.withLock { $0.lookup(key, now: now) }
    }

    /// Entries held in all shards.
    var entries: Int { shards.reduce(0) { $0 + $1.cache.withLock { $0.count } } }
}

extension ShardedAnswerCache {
    /// Runs `body` with `key`'s shard locked (for an insert that must happen together with other work).
    func withShard<R>(for key: CacheKey, _ body: (inout AnswerCache) -> R) -> R {
        shard(for: key).cache.withLock { body(&$0) }
    }

    /// Stores `answer` under `key` (see `AnswerCache.insert`). Locks only `key`'s shard.
    func insert(_ key: CacheKey, _ answer: CachedAnswer, now: UInt64) {
        withShard(for: key) { $0.insert(key, answer, now: now) }
    }

    /// The limits each shard got.
    var shardLimits: CacheLimits { shards[0].cache.withLock { $0.limits } }
}
