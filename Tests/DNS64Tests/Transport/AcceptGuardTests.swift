// The accept guard every TCP listener carries: failures are all counted, logged on the first and then at most
// once per interval (time injected).
import Testing

@testable import Listening

@Suite struct AcceptGuardTests {
    @Test func everyFailureCountedOneLogLinePerInterval() {
        let errors = AcceptErrors()
        let second: UInt64 = 1_000_000_000
        var logged: [UInt64] = []
        for t in stride(from: 5 * second, to: 200 * second, by: Int(second / 2)) {
            if errors.record(now: t, interval: 60 * second) { logged.append(t / second) }
        }
        #expect(errors.count == 390)
        #expect(logged == [5, 65, 125, 185])
    }
}
