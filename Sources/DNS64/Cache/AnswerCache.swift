// The answer cache (rule N4 of docs/dns64.md): positive, negative (RFC 2308 §5) and synthesized answers, keyed
// by name, type, class, the DO and CD bits and the client group (whose prefixes shape synthesized answers).
// Bounded in entries and bytes; eviction is first-in first-out over a queue of keys (amortised O(1) per
// operation; the queue grows with the entries, so a large `cache-size` costs nothing until it is used, and slots
// freed out of order are compacted away). Pure: time comes in as a parameter, no locks inside (the server holds
// one around it).

/// What an answer is stored under.
struct CacheKey: Hashable, Sendable {
    /// The question name in lower-cased wire form (RFC 4343: names compare without case).
    let name: [UInt8]
    /// QTYPE.
    let type: UInt16
    /// QCLASS.
    let qclass: UInt16
    /// DO (bit 0) and CD (bit 1): answers differ with them (RFC 4035 §3.2, RFC 6147 §5.5).
    let bits: UInt8
    /// The client group (D10).
    let group: Int
    /// FNV-1a of all the above, computed once. Dictionary probes compare it before the names, so a probe that
    /// lands on another entry costs no read of that entry's name (a cache miss in a large table); it is also
    /// what `hash(into:)` feeds the (seeded) Hasher, so the name is hashed once per key, not per lookup.
    let fingerprint: UInt64

    /// A key from its parts.
    init(name: [UInt8], type: UInt16, qclass: UInt16, bits: UInt8, group: Int) {
        self.name = name
        self.type = type
        self.qclass = qclass
        self.bits = bits
        self.group = group
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        @inline(__always) func mix(_ byte: UInt8) {
            h = (h ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
        }
        for byte in name { mix(byte) }
        mix(UInt8(truncatingIfNeeded: type >> 8)); mix(UInt8(truncatingIfNeeded: type))
        mix(UInt8(truncatingIfNeeded: qclass >> 8)); mix(UInt8(truncatingIfNeeded: qclass))
        mix(bits)
        mix(UInt8(truncatingIfNeeded: group)); mix(UInt8(truncatingIfNeeded: group >> 8))
        fingerprint = h
    }

    static func == (a: CacheKey, b: CacheKey) -> Bool {
        a.fingerprint == b.fingerprint && a.type == b.type && a.qclass == b.qclass && a.bits == b.bits
            && a.group == b.group && a.name == b.name
    }

    func hash(into hasher: inout Hasher) {
        hasher.combine(fingerprint)
    }

    /// The key for a machine's query.
    init(_ machine: QueryStateMachine) {
        let query = machine.query
        self.init(
            name: DNSName.suffixKey(query.question.name.labels[...]), type: query.question.type.rawValue,
            qclass: query.question.qclass.rawValue,
            bits: (query.edns?.dnssecOK == true ? 1 : 0) | (query.flags.checkingDisabled ? 2 : 0),
            group: machine.group)
    }
}

/// A bounded map from questions to answers with expiry.
struct AnswerCache {
    private struct Entry {
        var answer: CachedAnswer
        /// When it was stored (ns, monotonic).
        var stored: UInt64
        /// When it expires (ns, monotonic).
        var expires: UInt64
        /// Its place in the eviction queue, as an absolute sequence number (index = sequence - base).
        var sequence: Int
    }

    /// The limits it was made with.
    let limits: CacheLimits
    private var entries: [CacheKey: Entry] = [:]
    /// Keys in insertion order; nil where an entry was removed out of order.
    private var queue: [CacheKey?] = []
    /// Index in `queue` of the oldest slot still to look at.
    private var head = 0
    /// Sequence number of `queue[0]`.
    private var base = 0
    /// Bytes of answers held.
    private(set) var bytes = 0
    /// Entries evicted to make room (not counting expiries).
    private(set) var evictions = 0

    /// Creates an empty cache.
    init(limits: CacheLimits) {
        self.limits = limits
    }

    /// Entries held (expired ones included until they are looked up or evicted).
    var count: Int { entries.count }

    /// Slots in the eviction queue (for tests of its bound).
    var queueLength: Int { queue.count }

    /// The answer for `key` and its age in whole seconds, or nil when absent or expired (then it is dropped).
    mutating func lookup(_ key: CacheKey, now: UInt64) -> (answer: CachedAnswer, age: UInt32)? {
        guard let entry = entries[key] else { return nil }
        guard now < entry.expires else {
            remove(key)
            return nil
        }
        return (entry.answer, UInt32(clamping: (now &- entry.stored) / 1_000_000_000))
    }

    /// Stores `answer` under `key` when it is cacheable (has a lifetime) and fits; replaces an older entry,
    /// evicting the oldest entries while the cache is over its entry or byte limit.
    mutating func insert(_ key: CacheKey, _ answer: CachedAnswer, now: UInt64) {
        guard let lifetime = answer.lifetime, limits.maxEntries > 0, answer.bytes.count <= limits.maxBytes else { return }
        remove(key)
        while entries.count >= limits.maxEntries || bytes + answer.bytes.count > limits.maxBytes {
            guard evictOldest() else { break }
        }
        entries[key] = Entry(
            answer: answer, stored: now, expires: now &+ UInt64(lifetime) * 1_000_000_000,
            sequence: base + queue.count)
        queue.append(key)
        bytes += answer.bytes.count
        compactIfSparse()
    }

    /// Empties the cache (`ctl dns64 cache --flush`, a reload that changes what answers would say).
    /// - Returns: how many entries went.
    @discardableResult
    mutating func removeAll() -> Int {
        let n = entries.count
        entries.removeAll()
        queue.removeAll()
        base += head
        head = 0
        bytes = 0
        return n
    }

    /// Drops the oldest entry; false when there is none.
    private mutating func evictOldest() -> Bool {
        while head < queue.count {
            let slot = queue[head]
            head += 1
            if let key = slot {
                remove(key)
                evictions += 1
                return true
            }
        }
        return false
    }

    private mutating func remove(_ key: CacheKey) {
        guard let entry = entries.removeValue(forKey: key) else { return }
        queue[entry.sequence - base] = nil
        bytes -= entry.answer.bytes.count
    }

    /// Keeps the queue within a small multiple of the entries: drops the consumed prefix, and rebuilds it
    /// without holes when removals out of order left too many.
    private mutating func compactIfSparse() {
        let live = queue.count - head
        guard (head >= 1024 && head >= live) || live > 2 * entries.count + 1024 else { return }
        var packed: [CacheKey?] = []
        packed.reserveCapacity(entries.count)
        base += queue.count  // new sequence numbers start after every old one
        for case let key? in queue[head...] {
            entries[key]?.sequence = base + packed.count
            packed.append(key)
        }
        queue = packed
        head = 0
    }
}
