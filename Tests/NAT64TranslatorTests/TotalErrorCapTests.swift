// E4: the total cap on generated ICMP errors, over every destination and every translator sharing the table.
// Time is injected.
import NAT64Translator
import PacketTestSupport
import Testing

@Suite struct TotalErrorCapTests {
    /// A hop-limit-1 packet from IPv6 source number `n` (each one its own E3 bucket).
    func expired(from n: Int) -> [UInt8] {
        buildIPv6(src: hostNumber(n), dst: server6, hopLimit: 1, l4: .udp(src: 1, dst: 2, payload: []))
    }

    @Test("E4: errors to many destinations stop at the total cap, counted as rate-limited; tokens come back with time")
    func E4_totalCap() {
        var t = translator {
            $0.icmpErrorsPerSecond = 100
            $0.icmpErrorsTotalPerSecond = 20
        }
        var sent = 0
        for n in 0..<200 where run(&t, expired(from: n), now: 5 * second).0 == .icmpError(.hopLimitExceeded) { sent += 1 }
        #expect(sent == 20)
        #expect(t.counters.icmpErrorsRateLimited == 180 && t.counters.icmpErrorsSent == 20)
        // Each suppressed packet is still counted under its own reason.
        #expect(t.counters.drops(.hopLimitExceeded) == 200)
        // Half a second later: 10 more, whatever the destinations; IPv4 errors draw from the same bucket.
        sent = 0
        for n in 200..<230 where run(&t, expired(from: n), now: 5 * second + second / 2).0 == .icmpError(.hopLimitExceeded) { sent += 1 }
        #expect(sent == 10)
        let v4 = buildIPv4(src: server4, dst: pool, ttl: 1, l4: .udp(src: 1, dst: 2, payload: []))
        #expect(run(&t, v4, now: 5 * second + second / 2).0 == .drop(.hopLimitExceeded))
        #expect(run(&t, v4, now: 5 * second + second / 2 + 50_000_000).0 == .icmpError(.hopLimitExceeded))
    }

    @Test("E4: translators sharing one table share the cap; a reload changes it; 0 turns generated errors off")
    func E4_sharedAndReloaded() {
        var config = TranslatorConfiguration(prefix: prefix, pool4: [pool], gatewayIPv4: gateway4, gatewayIPv6: gateway6,
                                             maxSessions: 64, seed: 3)
        config.icmpErrorsTotalPerSecond = 10
        var a = Translator(configuration: config)
        var b = Translator(configuration: config, sharing: a.table)
        var sent = 0
        for n in 0..<20 {
            if run(&a, expired(from: n), now: second).0 == .icmpError(.hopLimitExceeded) { sent += 1 }
            if run(&b, expired(from: 100 + n), now: second).0 == .icmpError(.hopLimitExceeded) { sent += 1 }
        }
        #expect(sent == 10)
        #expect(a.counters.icmpErrorsRateLimited + b.counters.icmpErrorsRateLimited == 30)
        var off = config
        off.icmpErrorsTotalPerSecond = 0
        a.reconfigure(off)
        #expect(a.table.generatedErrorCap == 0)
        #expect(run(&b, expired(from: 500), now: 100 * second).0 == .drop(.hopLimitExceeded))
        var more = config
        more.icmpErrorsTotalPerSecond = 1000
        a.reconfigure(more)
        #expect(run(&a, expired(from: 501), now: 101 * second).0 == .icmpError(.hopLimitExceeded))
    }
}
