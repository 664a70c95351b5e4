// Repeating TUN errors: the packet thread backs off (1 ms doubling to 100 ms) and the daemon logs the count at
// most once a minute (time injected).
import Forwarding
import Testing

@testable import nat64d

@Suite struct IOErrorWatchTests {
    @Test func backoffDoublesToACap() {
        #expect(IOBackoff.pauseMicroseconds(afterFailures: 0) == nil)
        #expect((1...10).map { IOBackoff.pauseMicroseconds(afterFailures: $0)! }
            == [1000, 2000, 4000, 8000, 16000, 32000, 64000, 100_000, 100_000, 100_000])
    }

    @Test func oneLinePerMinuteWithTheErrorsSinceTheLast() {
        var watch = IOErrorWatch()
        let s: UInt64 = 1_000_000_000
        #expect(watch.check(readErrors: 0, writeErrors: 0, now: 5 * s) == nil)
        // A persistent error: a million errors a second, checked every 5 s for 3 minutes.
        var lines: [(UInt64, UInt64, UInt64)] = []
        for t in stride(from: UInt64(10), through: 190, by: 5) {
            if let new = watch.check(readErrors: (t - 5) * 1_000_000, writeErrors: 7, now: t * s) {
                lines.append((t, new.read, new.write))
            }
        }
        #expect(lines.map(\.0) == [10, 70, 130, 190])
        #expect(lines[0].1 == 5_000_000 && lines[0].2 == 7)
        #expect(lines[1].1 == 60_000_000 && lines[1].2 == 0)
        // Errors stop: no more lines.
        #expect(watch.check(readErrors: 185_000_000, writeErrors: 7, now: 300 * s) == nil)
    }
}
