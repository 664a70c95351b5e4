// The packet loop on the in-memory device: batching and its bounds, housekeeping order and interval, the S6
// answer to a held SYN after 6 s of virtual time, capture taps, device failures, the event ring, and the
// thread runner's control mailbox. Time is a number passed in: no test waits on a clock.
import Forwarding
import NAT64Translator
import PacketCapture
import PacketTestSupport
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

let client = IPv6Address("2001:db8:1::2")!
let server4 = IPv4Address("198.51.100.10")!
let pool = IPv4Address("192.0.2.1")!
let prefix = NAT64Prefix("2001:db8:64::/96")!
let server6 = prefix.embed(server4)
let gateway4 = IPv4Address("198.51.100.1")!
let gateway6 = IPv6Address("2001:db8:1::1")!

func configuration(seed: UInt64 = 7) -> TranslatorConfiguration {
    TranslatorConfiguration(prefix: prefix, pool4: [pool], gatewayIPv4: gateway4, gatewayIPv6: gateway6,
                            maxSessions: 1024, seed: seed)
}

func udpOut(_ port: UInt16, payload: String = "q") -> [UInt8] {
    buildIPv6(src: client, dst: server6, l4: .udp(src: port, dst: 53, payload: Array(payload.utf8)))
}

let second: Nanoseconds = 1_000_000_000

/// Records every hook call, in order.
final class RecordingTap: PacketTap {
    var events: [String] = []
    func stash(_ packet: UnsafeRawBufferPointer) { events.append("stash v\(packet[0] >> 4)") }
    func record(_ verdict: Verdict, output: UnsafeRawBufferPointer) {
        events.append("record \(verdict) \(output.isEmpty ? "-" : "v\(output[0] >> 4)")")
    }
    func recordAdditional(output: UnsafeRawBufferPointer) { events.append("additional v\(output[0] >> 4)") }
    func recordGenerated(_ output: UnsafeRawBufferPointer) { events.append("generated v\(output[0] >> 4)") }
    func flush() { events.append("flush") }
}

@Suite struct ForwardingEngineTests {
    @Test func batchIsBoundedByItsCapacityAndKeepsOrder() throws {
        var engine = ForwardingEngine(translator: Translator(configuration: configuration()), batchSize: 4)
        var device = MemoryPacketDevice()
        for port in UInt16(5000)..<5010 { device.inject(udpOut(port)) }
        var reads: [Int] = []
        while true {
            let n = try engine.forwardBatch(&device, tap: NoCapture(), now: second)
            if n == 0 { break }
            reads.append(n)
        }
        #expect(reads == [4, 4, 2])
        #expect(device.largestBatch == 4)
        let out = device.takeWritten()
        #expect(out.count == 10)
        // In order, each from its own pool4 port to the server, translated with valid checksums.
        let parsed = out.map { Parsed(bytes: $0.bytes) }
        #expect(parsed.allSatisfy { $0.version == 4 && $0.dst4 == server4 && $0.src4 == pool && $0.l4ChecksumValid })
        #expect(Set(parsed.map(\.srcPort)).count == 10)
        #expect(engine.stats.packets == 10 && engine.stats.batches == 3)
        #expect(engine.translator.counters.translated6to4 == 10)
    }

    @Test func errorsAndDropsGoWhereTheVerdictSays() throws {
        var engine = ForwardingEngine(translator: Translator(configuration: configuration()))
        var device = MemoryPacketDevice()
        device.inject(buildIPv6(src: client, dst: server6, hopLimit: 1, l4: .udp(src: 1, dst: 2, payload: [])))
        device.inject(buildIPv4(src: server4, dst: pool, l4: .udp(src: 53, dst: 4000, payload: [])))
        let tap = RecordingTap()
        #expect(try engine.forwardBatch(&device, tap: tap, now: second) == 2)
        let out = device.takeWritten()
        // The hop-limit error goes back to the client; the packet without state goes nowhere.
        #expect(out.count == 1)
        let error = Parsed(bytes: out[0].bytes)
        #expect(error.version == 6 && error.proto == 58 && error.dst6 == client && error.l4.first == 3)
        #expect(tap.events == [
            "stash v6", "record icmpError(hop-limit-exceeded) v6", "stash v4", "record drop(no-state) -",
        ])
    }

    @Test func housekeepingRunsOncePerIntervalOfTheCallersClock() {
        var engine = ForwardingEngine(translator: Translator(configuration: configuration()))
        var device = MemoryPacketDevice()
        let tap = RecordingTap()
        #expect(!engine.housekeepingIfDue(&device, tap: tap, now: 10 * second), "the first call starts the interval")
        #expect(!engine.housekeepingIfDue(&device, tap: tap, now: 10 * second + second / 2))
        #expect(engine.housekeepingIfDue(&device, tap: tap, now: 11 * second))
        #expect(!engine.housekeepingIfDue(&device, tap: tap, now: 11 * second + 1))
        #expect(engine.housekeepingIfDue(&device, tap: tap, now: 13 * second))
        #expect(engine.stats.housekeepingRuns == 2)
        #expect(tap.events == ["flush", "flush"])
    }

    @Test func housekeepingExpiresMappingsByTheInjectedClock() throws {
        var engine = ForwardingEngine(translator: Translator(configuration: configuration()))
        var device = MemoryPacketDevice()
        device.inject(udpOut(5000))
        _ = try engine.forwardBatch(&device, tap: NoCapture(), now: second)
        #expect(engine.translator.table.count == 1)
        engine.housekeeping(&device, tap: NoCapture(), now: 200 * second)
        #expect(engine.translator.table.count == 1, "UDP lives 300 s (S4)")
        engine.housekeeping(&device, tap: NoCapture(), now: 302 * second)
        #expect(engine.translator.table.count == 0)
        #expect(engine.stats.expired == 1)
    }

    /// S6: an IPv4 SYN without a mapping is held; when no IPv6 SYN comes within 6 s, housekeeping answers it with
    /// ICMPv4 3/3, written to the device and shown to the tap as generated.
    @Test func test_S6_heldSYNIsAnsweredByHousekeepingAfterSixSeconds() throws {
        var engine = ForwardingEngine(translator: Translator(configuration: configuration()))
        var device = MemoryPacketDevice()
        let tap = RecordingTap()
        device.inject(buildIPv4(src: server4, dst: pool, l4: .tcp(src: 443, dst: 40000, flags: 0x02, payload: [])))
        _ = try engine.forwardBatch(&device, tap: tap, now: second)
        #expect(device.takeWritten().isEmpty, "held, not answered yet")
        engine.housekeeping(&device, tap: tap, now: 6 * second)
        #expect(device.takeWritten().isEmpty, "5 s held: not yet")
        engine.housekeeping(&device, tap: tap, now: 8 * second)
        let out = device.takeWritten()
        #expect(out.count == 1)
        let error = Parsed(bytes: out[0].bytes)
        #expect(error.version == 4 && error.proto == 1 && error.dst4 == server4)
        #expect(error.l4[0] == 3 && error.l4[1] == 3, "ICMPv4 port unreachable")
        #expect(engine.stats.generatedErrors == 1)
        #expect(tap.events.suffix(2) == ["generated v4", "flush"])
    }

    @Test func aFailedDeviceEndsTheBatchWithItsError() {
        var engine = ForwardingEngine(translator: Translator(configuration: configuration()))
        var device = MemoryPacketDevice()
        device.failure = DeviceError(code: 77, message: "read(nat64): File descriptor in bad state")
        #expect(throws: DeviceError.self) { try engine.forwardBatch(&device, tap: NoCapture(), now: second) }
        #expect(device.waitReadable(timeoutMilliseconds: 0, wakeDescriptor: -1) == .failed(device.failure!))
    }
}

@Suite struct EventRingTests {
    @Test func keepsOrderAndCountsWhatDoesNotFit() {
        let ring = EventRing<Int>(minimumCapacity: 3)
        #expect(ring.capacity == 4)
        for i in 0..<6 { ring.push(i) }
        #expect(ring.dropped == 2 && ring.count == 4)
        var got: [Int] = []
        #expect(ring.drain { got.append($0) } == 4)
        #expect(got == [0, 1, 2, 3])
        ring.push(9)
        got.removeAll()
        ring.drain { got.append($0) }
        #expect(got == [9] && ring.count == 0)
    }

    @Test func carriesEventsAcrossThreads() async {
        let ring = EventRing<Int>(minimumCapacity: 64)
        let total = 10_000
        let producer = Task.detached {
            var i = 0
            while i < total { if ring.push(i) { i += 1 } else { await Task.yield() } }
        }
        var next = 0
        var inOrder = true
        while next < total {
            ring.drain { value in
                if value != next { inOrder = false }
                next += 1
            }
            await Task.yield()
        }
        await producer.value
        #expect(inOrder && next == total)
    }
}

@Suite struct CounterStorageTests {
    @Test func everyDropReasonFitsTheInlineCounters() {
        #expect(DropReason.allCases.count <= TranslatorCounters.dropCapacity)
        #expect(DropReason.allCases.map(\.rawValue) == Array(0..<DropReason.allCases.count))
        var c = TranslatorCounters()
        for reason in DropReason.allCases { c.count(reason) }
        let snapshot = c
        c.count(.noState)
        #expect(snapshot.drops(.noState) == 1 && c.drops(.noState) == 2 && c.dropsTotal == UInt64(DropReason.allCases.count) + 1)
        var total = TranslatorCounters()
        total.add(c)
        total.add(snapshot)
        #expect(total.drops(.noState) == 3 && total != c)
    }
}

/// Packet threads carry names that `top -H`, `ps -L` and `perf` show.
@Suite struct DedicatedThreadTests {
    @Test func threadIsNamedAndTheNameCutToTheKernelLimit() throws {
        let names = Mutex<[String]>([])
        for requested in ["nat64d-queue1", "a-name-longer-than-fifteen-bytes"] {
            let thread = try DedicatedThread(name: requested) {
                let fd = open("/proc/thread-self/comm", O_RDONLY)
                var buffer = [UInt8](repeating: 0, count: 32)
                let n = fd >= 0 ? read(fd, &buffer, buffer.count) : 0
                if fd >= 0 { close(fd) }
                let name = String(decoding: buffer.prefix(max(0, n)).filter { $0 != 0x0A }, as: UTF8.self)
                names.withLock { $0.append(name) }
            }
            thread.join()
        }
        #expect(names.withLock { $0 } == ["nat64d-queue1", "a-name-longer-t"])
    }
}
