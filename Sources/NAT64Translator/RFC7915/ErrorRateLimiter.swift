// E3: ICMP errors the translator generates itself are rate-limited per destination with a token bucket, so a
// flood of bad packets never turns the gateway into an amplifier (RFC 4443 §2.4(f), RFC 1812 §4.3.2.8).
//
// Buckets live in a fixed array indexed by a hash of the destination (no allocation per packet); two
// destinations that share a slot share a bucket, which only ever makes the limit stricter.

/// A fixed-size table of token buckets keyed by destination address.
public struct ErrorRateLimiter: Sendable {
    @usableFromInline var tokens: [Int32]
    @usableFromInline var refilled: [Nanoseconds]
    public let perSecond: Int
    public static let slots = 1024
    /// Set by the first `allow`: a reset of an untouched limiter has nothing to do.
    @usableFromInline var touched = false

    public init(perSecond: Int) {
        self.perSecond = perSecond
        tokens = Array(repeating: Int32(clamping: perSecond), count: ErrorRateLimiter.slots)
        refilled = Array(repeating: 0, count: ErrorRateLimiter.slots)
    }

    /// Fills every bucket again (a reset; no allocation).
    public mutating func reset() {
        guard touched else { return }
        touched = false
        for i in 0..<ErrorRateLimiter.slots {
            tokens[i] = Int32(clamping: perSecond)
            refilled[i] = 0
        }
    }

    /// Takes one token for `key` (a hash of the destination); false when the bucket is empty.
    @inlinable
    public mutating func allow(key: UInt64, now: Nanoseconds) -> Bool {
        if perSecond <= 0 { return false }
        touched = true
        let i = Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> 54) & (ErrorRateLimiter.slots - 1)
        let elapsed = now - refilled[i]
        if elapsed > 0 {
            let add = elapsed / (1_000_000_000 / Nanoseconds(perSecond))
            if add > 0 {
                tokens[i] = Int32(clamping: min(Int64(tokens[i]) + add, Int64(perSecond)))
                refilled[i] = now
            }
        }
        guard tokens[i] > 0 else { return false }
        tokens[i] -= 1
        return true
    }
}

/// E4: one token bucket for every ICMP error the translator generates, whatever the destination. The
/// per-destination buckets alone let a flood from many (spoofed) sources draw one error per packet; this caps
/// the total. It lives in the shared state table (`BindingTable.allowGeneratedError`), so the cap holds for
/// all packet threads together.
public struct TotalErrorBucket: Sendable, Equatable {
    public var perSecond: Int
    @usableFromInline var tokens: Int64
    @usableFromInline var refilled: Nanoseconds = .min

    public init(perSecond: Int) {
        self.perSecond = perSecond
        tokens = Int64(max(0, perSecond))
    }

    /// Takes one token; false when the bucket is empty (or the cap is 0: no generated errors).
    @inlinable
    public mutating func allow(now: Nanoseconds) -> Bool {
        if perSecond <= 0 { return false }
        if refilled == .min { refilled = now }
        let elapsed = now - refilled
        if elapsed > 0 {
            let add = elapsed * Int64(perSecond) / 1_000_000_000
            if add > 0 {
                tokens = min(tokens + add, Int64(perSecond))
                // Keep the remainder: the refill time advances by exactly what the tokens paid for.
                refilled = tokens == Int64(perSecond) ? now : refilled + add * 1_000_000_000 / Int64(perSecond)
            }
        }
        guard tokens > 0 else { return false }
        tokens -= 1
        return true
    }
}
