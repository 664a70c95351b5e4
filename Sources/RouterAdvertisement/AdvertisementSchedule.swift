// When an interface sends its next Router Advertisement (RFC 4861 §6.2.4–§6.2.6), as a state machine that
// takes the time and the random source as parameters: no clock reads, so tests drive it through hours of
// schedule in microseconds.

/// Monotonic time in nanoseconds.
public typealias RATime = Int64

/// The unsolicited and solicited advertisement schedule of one interface.
public struct AdvertisementSchedule: Sendable, Equatable {
    /// RA10: MAX_INITIAL_RTR_ADVERTISEMENTS (RFC 4861 §10).
    public static let maxInitialAdvertisements = 3
    /// RA10: MAX_INITIAL_RTR_ADVERT_INTERVAL, 16 s (RFC 4861 §10).
    public static let maxInitialInterval: RATime = 16_000_000_000
    /// RA11: MAX_RA_DELAY_TIME, 0.5 s (RFC 4861 §10).
    public static let maxRADelay: RATime = 500_000_000
    /// RA11: MIN_DELAY_BETWEEN_RAS, 3 s (RFC 4861 §10).
    public static let minDelayBetweenRAs: RATime = 3_000_000_000

    /// What became of a Router Solicitation.
    public enum SolicitationOutcome: Sendable, Equatable {
        /// An advertisement is now due within MAX_RA_DELAY_TIME.
        case answered
        /// RA11: a multicast advertisement went out less than MIN_DELAY_BETWEEN_RAS ago, so the answer waits
        /// until MIN_DELAY_BETWEEN_RAS after it; or an advertisement was due sooner anyway and answers this one.
        case rateLimited
    }

    /// MinRtrAdvInterval and MaxRtrAdvInterval in nanoseconds.
    public private(set) var minInterval: RATime
    public private(set) var maxInterval: RATime
    /// When the next advertisement is due.
    public private(set) var next: RATime
    /// When the last multicast advertisement went out, if one did.
    public private(set) var lastSent: RATime?
    /// Advertisements sent since the interface started (or its settings changed), up to the initial count.
    public private(set) var initialSent = 0
    /// Whether an answer to a solicitation is scheduled and not sent yet.
    public private(set) var answerPending = false

    /// An interface that starts advertising at `now`: its first advertisement is due at once.
    ///
    /// - Parameters:
    ///   - minInterval: MinRtrAdvInterval in seconds (at least 3, at most 0.75 × maxInterval).
    ///   - maxInterval: MaxRtrAdvInterval in seconds (4...1800).
    ///   - now: the current time.
    public init(minInterval: Int, maxInterval: Int, now: RATime) {
        self.minInterval = RATime(minInterval) * 1_000_000_000
        self.maxInterval = RATime(maxInterval) * 1_000_000_000
        next = now
    }

    /// Whether the advertisement is due at `now`.
    public func isDue(_ now: RATime) -> Bool { now >= next }

    /// RA9, RA10: records the advertisement sent at `now` and schedules the next unsolicited one: a uniformly
    /// random time between MinRtrAdvInterval and MaxRtrAdvInterval, at most MAX_INITIAL_RTR_ADVERT_INTERVAL
    /// after each of the first MAX_INITIAL_RTR_ADVERTISEMENTS.
    public mutating func sent(at now: RATime, using random: inout some RandomNumberGenerator) {
        lastSent = now
        answerPending = false
        var interval = RATime.random(in: minInterval...maxInterval, using: &random)
        if initialSent < Self.maxInitialAdvertisements {
            initialSent += 1
            interval = min(interval, Self.maxInitialInterval)
        }
        next = now + interval
    }

    /// RA11 (RFC 4861 §6.2.6): a valid Router Solicitation arrived at `now`. The answer is due after a random
    /// delay of up to MAX_RA_DELAY_TIME, but no sooner than MIN_DELAY_BETWEEN_RAS after the last multicast
    /// advertisement; an advertisement already due sooner (or an answer already scheduled) answers it.
    public mutating func solicited(at now: RATime, using random: inout some RandomNumberGenerator) -> SolicitationOutcome {
        if answerPending { return .rateLimited }
        let delay = RATime.random(in: 0...Self.maxRADelay, using: &random)
        var at = now + delay
        var limited = false
        if let last = lastSent, now - last < Self.minDelayBetweenRAs {
            at = last + Self.minDelayBetweenRAs + delay
            limited = true
        }
        guard at < next else { return .rateLimited }
        next = at
        answerPending = true
        return limited ? .rateLimited : .answered
    }

    /// RA15: the settings changed at `now` (RFC 4861 §6.2.4: treated like an interface that just started
    /// advertising): new intervals, an advertisement due at once, and the fast initial ones again.
    public mutating func restart(minInterval: Int, maxInterval: Int, now: RATime) {
        self = AdvertisementSchedule(minInterval: minInterval, maxInterval: maxInterval, now: now)
    }
}
