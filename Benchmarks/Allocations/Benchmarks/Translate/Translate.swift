// The packet path's cost per packet and its allocations: translation alone in each direction (UDP, TCP and
// ICMP echo on established flows), and one packet through the whole engine (device read, translation,
// device write) on a device that replays one packet without allocating. Every benchmark has a threshold of
// zero mallocs (p100): ordo-one/benchmark's malloc interposer counts every malloc, so unlike mallinfo deltas a
// malloc/free pair inside the loop is seen too.
import Benchmark
import Forwarding
import NAT64Translator
import PacketTestSupport

let client = IPv6Address("2001:db8:1::2")!
let server4 = IPv4Address("198.51.100.10")!
let pool = IPv4Address("192.0.2.1")!
let prefix = NAT64Prefix("2001:db8:64::/96")!
let server6 = prefix.embed(server4)

func configuration() -> TranslatorConfiguration {
    TranslatorConfiguration(prefix: prefix, pool4: [pool], gatewayIPv4: IPv4Address("198.51.100.1")!,
                            gatewayIPv6: IPv6Address("2001:db8:1::1")!, maxSessions: 65_536, seed: 1)
}

/// A translator with its buffers, kept across iterations (the benchmark closures capture a reference).
final class Bench: @unchecked Sendable {
    var translator = Translator(configuration: configuration())
    var packet = PacketBuffer()
    var reply = PacketBuffer(capacity: PacketBuffer.headroom + 2048)
    let outbound: [UInt8]
    var inbound: [UInt8] = []
    var now: Nanoseconds = 1_000_000_000

    /// Sets up an established flow: `outbound(port)` once from the IPv6 side, the reply from the IPv4 side.
    init(_ l4: (UInt16) -> L4, reply: (UInt16) -> L4) {
        outbound = buildIPv6(src: client, dst: server6, l4: l4(5000))
        packet.load(outbound)
        _ = translator.translate(&packet, reply: &self.reply, now: now)
        let mapped = Parsed(bytes: packet.bytes).srcPort
        inbound = buildIPv4(src: server4, dst: pool, l4: reply(mapped))
        packet.load(inbound)
        _ = translator.translate(&packet, reply: &self.reply, now: now)
    }

    @inline(__always) func run(_ bytes: UnsafeRawBufferPointer) -> Verdict {
        now &+= 1000
        packet.load(bytes)
        return translator.translate(&packet, reply: &reply, now: now)
    }
}

/// A device that hands out the same packet `count` times per batch and drops what is written: the engine's own
/// per-packet cost, with no I/O.
struct ReplayOneDevice: PacketDevice {
    let name = "bench"
    let bytes: UnsafeMutableRawBufferPointer
    var counters = DeviceCounters()
    var written = 0

    init(_ packet: [UInt8]) {
        bytes = .allocate(byteCount: packet.count, alignment: 16)
        bytes.copyBytes(from: packet)
    }

    mutating func readBatch(into batch: inout PacketBatch) throws(DeviceError) -> Int {
        for i in 0..<batch.capacity { batch.withSlot(i) { $0.load(UnsafeRawBufferPointer(bytes)) } }
        batch.count = batch.capacity
        return batch.capacity
    }

    mutating func write(_ packet: UnsafeRawBufferPointer, offload: OffloadInfo) { written &+= packet.count }

    func waitReadable(timeoutMilliseconds: Int32, wakeDescriptor: Int32) -> DeviceWait { .readable }
}

final class EngineBench: @unchecked Sendable {
    var engine: ForwardingEngine
    var device: ReplayOneDevice
    var now: Nanoseconds = 1_000_000_000

    init(batchSize: Int) {
        engine = ForwardingEngine(translator: Translator(configuration: configuration()), batchSize: batchSize)
        device = ReplayOneDevice(buildIPv6(src: client, dst: server6, l4: .udp(src: 5000, dst: 53, payload: Array(repeating: 1, count: 16))))
    }
}

let benchmarks: @Sendable () -> Void = {
    let zeroMallocs: [BenchmarkMetric: BenchmarkThresholds] = [
        .mallocCountTotal: .init(absolute: [.p100: 0]),
    ]
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .cpuTotal, .mallocCountTotal, .throughput],
        warmupIterations: 10, scalingFactor: .kilo, maxDuration: .seconds(2), maxIterations: 1_000_000,
        thresholds: zeroMallocs)

    // (name, outbound L4, inbound reply L4)
    let flows: [(String, (UInt16) -> L4, (UInt16) -> L4)] = [
        ("UDP", { .udp(src: $0, dst: 53, payload: Array(repeating: 7, count: 16)) },
         { .udp(src: 53, dst: $0, payload: Array(repeating: 7, count: 16)) }),
        ("TCP", { .tcp(src: $0, dst: 80, flags: 0x02, payload: []) },
         { .tcp(src: 80, dst: $0, flags: 0x12, payload: []) }),
        ("ICMP", { .echo(request: true, id: $0, seq: 1, payload: Array(repeating: 7, count: 16)) },
         { .echo(request: false, id: $0, seq: 1, payload: Array(repeating: 7, count: 16)) }),
    ]
    for (name, out, back) in flows {
        let bench = Bench(out, reply: back)
        Benchmark("translate 6to4 \(name) established") { benchmark in
            bench.outbound.withUnsafeBytes { bytes in
                for _ in benchmark.scaledIterations { blackHole(bench.run(bytes)) }
            }
        }
        Benchmark("translate 4to6 \(name) established") { benchmark in
            bench.inbound.withUnsafeBytes { bytes in
                for _ in benchmark.scaledIterations { blackHole(bench.run(bytes)) }
            }
        }
    }
    let engine = EngineBench(batchSize: 64)
    Benchmark("engine: one batch of 64 UDP packets 6to4") { benchmark in
        for _ in benchmark.scaledIterations {
            engine.now &+= 1000
            blackHole(try? engine.engine.forwardBatch(&engine.device, tap: NoCapture(), now: engine.now))
        }
    }
}
