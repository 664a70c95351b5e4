// RFC 4861 §6.2.4–§6.2.6 timing with injected time and a seeded random source, and the per-interface state.

import NAT64Translator
import PacketTestSupport
import Testing

@testable import RouterAdvertisement

typealias SeededRandom = SplitMix64

private let second: RATime = 1_000_000_000

@Suite struct ScheduleTests {
    /// RA9, RA10: the first advertisement at once, the next three at most 16 s apart, later ones uniformly in
    /// [MinRtrAdvInterval, MaxRtrAdvInterval].
    @Test func RA10_initialAdvertisementsAreFastThenRA9Intervals() {
        var random = SeededRandom(seed: 1)
        let start: RATime = 5 * second
        var s = AdvertisementSchedule(minInterval: 198, maxInterval: 600, now: start)
        #expect(s.isDue(start))
        var now = start
        var intervals: [RATime] = []
        for _ in 0..<200 {
            s.sent(at: now, using: &random)
            #expect(!s.isDue(now))
            intervals.append(s.next - now)
            now = s.next
        }
        // MinRtrAdvInterval 198 s is above 16 s, so the capped ones are exactly 16 s.
        #expect(intervals.prefix(3).allSatisfy { $0 == 16 * second })
        #expect(intervals.dropFirst(3).allSatisfy { (198 * second...600 * second).contains($0) })
        // Uniform, not stuck at a bound: both halves of the range occur.
        #expect(intervals.dropFirst(3).contains { $0 < 399 * second })
        #expect(intervals.dropFirst(3).contains { $0 > 399 * second })
    }

    @Test func RA9_shortIntervalsStayWithinMinAndMax() {
        var random = SeededRandom(seed: 7)
        var s = AdvertisementSchedule(minInterval: 3, maxInterval: 4, now: 0)
        var now: RATime = 0
        for _ in 0..<50 {
            s.sent(at: now, using: &random)
            #expect((3 * second...4 * second).contains(s.next - now))
            now = s.next
        }
    }

    /// RA11: a solicitation long after the last advertisement is answered within MAX_RA_DELAY_TIME.
    @Test func RA11_solicitationAnsweredWithinMaxRADelay() {
        var random = SeededRandom(seed: 3)
        var s = AdvertisementSchedule(minInterval: 198, maxInterval: 600, now: 0)
        s.sent(at: 0, using: &random)
        let now = 10 * second
        #expect(s.solicited(at: now, using: &random) == .answered)
        #expect((now...now + AdvertisementSchedule.maxRADelay).contains(s.next))
    }

    /// RA11: within MIN_DELAY_BETWEEN_RAS of the last multicast advertisement the answer waits until 3 s after
    /// it (plus the random delay); further solicitations join the pending answer.
    @Test func RA11_solicitationsRateLimitedByMinDelayBetweenRAs() {
        var random = SeededRandom(seed: 4)
        var s = AdvertisementSchedule(minInterval: 198, maxInterval: 600, now: 0)
        let last = 100 * second
        s.sent(at: last, using: &random)
        #expect(s.solicited(at: last + second, using: &random) == .rateLimited)
        let answer = s.next
        #expect((last + 3 * second...last + 3 * second + AdvertisementSchedule.maxRADelay).contains(answer))
        for k in 0..<10 {
            #expect(s.solicited(at: last + second + RATime(k) * 100_000_000, using: &random) == .rateLimited)
        }
        #expect(s.next == answer)
        // One advertisement answers all of them; the next solicitation 3 s later is answered again.
        s.sent(at: answer, using: &random)
        #expect(s.solicited(at: answer + 3 * second, using: &random) == .answered)
    }

    /// RA15: a restart makes an advertisement due at once and the initial ones fast again.
    @Test func RA15_restartIsDueAtOnce() {
        var random = SeededRandom(seed: 5)
        var s = AdvertisementSchedule(minInterval: 198, maxInterval: 600, now: 0)
        for _ in 0..<5 { s.sent(at: s.next, using: &random) }
        let now = s.next - 50 * second
        #expect(!s.isDue(now))
        s.restart(minInterval: 3, maxInterval: 4, now: now)
        #expect(s.isDue(now))
        s.sent(at: now, using: &random)
        #expect((3 * second...4 * second).contains(s.next - now))
    }
}

@Suite struct InterfaceAdvertiserTests {
    /// RA15: new settings are announced at once, without waiting for the running interval.
    @Test func RA15_applySendsAFreshAdvertisementAtOnce() {
        var random = SeededRandom(seed: 9)
        var a = InterfaceAdvertiser(name: "eth1", settings: AdvertisementSettings(), now: 0)
        let first = a.due(at: 0)
        #expect(first != nil)
        a.sent(at: 0, ok: true, using: &random)
        #expect(a.due(at: second) == nil)
        var new = AdvertisementSettings()
        new.pref64 = NAT64Prefix("2001:db8:64::/96")!
        a.apply(new, at: second)
        let fresh = a.due(at: second)
        #expect(fresh == RouterAdvertisementMessage.build(new))
        #expect(a.counters.sent == 1)
    }

    @Test func RA12_countersOfReceivedMessages() {
        var random = SeededRandom(seed: 10)
        var a = InterfaceAdvertiser(name: "eth1", settings: AdvertisementSettings(), now: 0)
        a.sent(at: 0, ok: true, using: &random)
        let rs: [UInt8] = [133, 0, 0, 0, 0, 0, 0, 0]
        a.received(rs, source: IPv6Address("fe80::2")!, hopLimit: 255, at: 10 * second, using: &random)
        a.received(rs, source: IPv6Address("fe80::2")!, hopLimit: 255, at: 10 * second, using: &random)
        a.received(rs, source: IPv6Address("fe80::2")!, hopLimit: 1, at: 10 * second, using: &random)
        a.received([133, 7, 0, 0, 0, 0, 0, 0], source: IPv6Address("fe80::2")!, hopLimit: 255, at: 10 * second,
                   using: &random)
        #expect(a.counters.solicitations == 2)
        #expect(a.counters.solicitationsAnswered == 1)
        #expect(a.counters.rateLimited == 1)
        #expect(a.counters.malformed == [.hopLimit: 1, .code: 1])
        #expect(a.counters.malformedTotal == 2)
    }
}
