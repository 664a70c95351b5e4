// nat64-bench: the state table's memory per session and per-packet lookup cost at 1k and 1M sessions
// (issue 4). A plain release-mode timing loop with clock_gettime; no framework.
//
//   swift build -c release --product nat64-bench && .build/release/nat64-bench [--quick]
//
// For each size N it fills a table of capacity N with N UDP sessions (N/1000 hosts × 1000 ports, or fewer
// hosts for small N) and measures, over random-order hits:
//   - outbound:  BindingTable.outbound on an established session (IPv6→IPv4 lookup + refresh)
//   - inbound:   BindingTable.inbound on an established session (IPv4→IPv6 lookup + refresh)
//   - translate: Translator.translate of a whole IPv6 UDP packet on an established session
//   - create:    a new session (BIB + port allocation + session), during the fill
//   - expire:    the timer wheel deleting every session
// and reports reserved bytes per session, the resident-memory growth, and heap growth during the hit loops
// (mallinfo2; 0 means no allocation on the lookup path).
import CBenchSupport
import NAT64Translator
#if canImport(Glibc)
import Glibc
#endif

func nowNanoseconds() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)  // CPU time: the build machines are shared
    return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
}

func residentBytes() -> Int {
    guard let f = fopen("/proc/self/statm", "r") else { return 0 }
    defer { fclose(f) }
    var size = 0, resident = 0
    _ = withUnsafeMutablePointer(to: &size) { s in
        withUnsafeMutablePointer(to: &resident) { r in
            withVaList([s, r]) { vfscanf(f, "%ld %ld", $0) }
        }
    }
    return resident * Int(sysconf(Int32(_SC_PAGESIZE)))
}

func heapInUse() -> Int { Int(CBenchSupport_heapInUse()) }

/// Keeps a value alive so the optimiser cannot drop the work that made it.
@inline(never) func consume<T>(_ x: T) { withExtendedLifetime(x) {} }

struct Result {
    var size = 0
    var bytesPerSession = 0.0
    var rssPerSession = 0.0
    var createNs = 0.0
    var outboundNs = 0.0
    var inboundNs = 0.0
    var translateNs = 0.0
    var expireNs = 0.0
    var heapGrowth = 0
}

func bench(size: Int, lookups: Int) -> Result {
    var r = Result()
    r.size = size
    let pool = (1...32).map { IPv4Address(192, 0, 2, UInt8($0)) }
    let hostsCount = max(1, size / 1000)
    let perHost = (size + hostsCount - 1) / hostsCount
    let prefix = NAT64Prefix("64:ff9b::/96")!
    let server = IPv4Address(198, 51, 100, 10)
    var limits = StateLimits()
    limits.sessionsPerHost = perHost
    limits.hosts = hostsCount + 16
    limits.portProbes = 4096
    let rssBefore = residentBytes()
    var translator = Translator(configuration: TranslatorConfiguration(
        prefix: prefix, pool4: pool, gatewayIPv4: IPv4Address(198, 51, 100, 1),
        gatewayIPv6: IPv6Address("2001:db8:1::1")!, maxSessions: size, seed: 1,
        state: StateConfiguration(limits: limits)))
    let table = translator.table
    r.bytesPerSession = Double(table.reservedBytes) / Double(size)

    // Fill.
    var hosts: [IPv6Address] = []
    var outside: [Endpoint4] = []
    hosts.reserveCapacity(size)
    outside.reserveCapacity(size)
    let t0 = nowNanoseconds()
    for h in 0..<hostsCount {
        let host = IPv6Address(high: 0x2001_0db8_0001_0000, low: UInt64(h + 1))
        for p in 0..<perHost where hosts.count < size {
            switch table.outbound(source: host, port: UInt16(10_000 + p), remote: server, remotePort: 53, proto: 17,
                                  flags: [], now: 0) {
            case .mapped(let e):
                hosts.append(host)
                outside.append(e)
            case .refused(let reason):
                fatalError("fill refused at \(hosts.count): \(reason)")
            }
        }
    }
    r.createNs = Double(nowNanoseconds() - t0) / Double(size)
    r.rssPerSession = Double(residentBytes() - rssBefore) / Double(size)

    // Random visiting order, precomputed.
    var g = SplitMix64(seed: 99)
    let order = (0..<lookups).map { _ in Int(g.next() % UInt64(size)) }
    var packet = PacketBuffer(capacity: 2048)
    var reply = PacketBuffer(capacity: 2048)
    let heap0 = heapInUse()

    // The host is computed from i (as the fill made it) rather than read from an array, so the loop adds no
    // cache miss of its own; the inbound loop has to read the pool4 endpoint from `outside`.
    var sink: UInt64 = 0
    var t = nowNanoseconds()
    for i in order {
        let host = IPv6Address(high: 0x2001_0db8_0001_0000, low: UInt64(i / perHost + 1))
        let port = UInt16(10_000 + i % perHost)
        if case .mapped(let e) = table.outbound(source: host, port: port, remote: server, remotePort: 53, proto: 17,
                                                 flags: [], now: 1) {
            sink &+= UInt64(e.port)
        }
    }
    r.outboundNs = Double(nowNanoseconds() - t) / Double(lookups)

    t = nowNanoseconds()
    for i in order {
        let e = outside[i]
        if case .mapped(let inside) = table.inbound(destination: e.address, port: e.port, remote: server, remotePort: 53,
                                                    proto: 17, flags: [], now: 2) {
            sink &+= UInt64(inside.port)
        }
    }
    r.inboundNs = Double(nowNanoseconds() - t) / Double(lookups)

    // Whole-packet translation on established sessions: IPv6/UDP, 8 bytes of payload.
    var template = [UInt8](repeating: 0, count: 56)
    template[0] = 0x60
    template[5] = 16
    template[6] = 17
    template[7] = 64
    let dst = prefix.embed(server)
    for k in 0..<16 { template[24 + k] = dst.byte(k) }
    template[42] = 0
    template[43] = 53
    template[45] = 16
    let translateCount = min(lookups, 2_000_000)
    t = nowNanoseconds()
    for j in 0..<translateCount {
        let i = order[j]
        let host = IPv6Address(high: 0x2001_0db8_0001_0000, low: UInt64(i / perHost + 1))
        let port = UInt16(10_000 + i % perHost)
        let area = packet.readArea.pointer
        template.withUnsafeBytes { area.copyMemory(from: $0.baseAddress!, byteCount: 56) }
        area.storeBytes(of: host.high.bigEndian, toByteOffset: 8, as: UInt64.self)
        area.storeBytes(of: host.low.bigEndian, toByteOffset: 16, as: UInt64.self)
        area.storeBytes(of: port.bigEndian, toByteOffset: 40, as: UInt16.self)
        packet.received(length: 56, offload: OffloadInfo(checksum: .partial(start: 40, offset: 6)))
        if case .translated = translator.translate(&packet, reply: &reply, now: 3) { sink &+= 1 }
    }
    r.translateNs = Double(nowNanoseconds() - t) / Double(translateCount)
    r.heapGrowth = heapInUse() - heap0
    consume(sink)
    if sink == 0 { print("warning: nothing translated") }

    t = nowNanoseconds()
    var removed = 0
    var now: Nanoseconds = 400 * 1_000_000_000
    while table.sessionCount > 0 {
        removed += table.expire(now: now, budget: 1 << 30)
        now += 1_000_000_000
    }
    r.expireNs = Double(nowNanoseconds() - t) / Double(max(1, removed))
    return r
}

let quick = CommandLine.arguments.contains("--quick")
let sizes = quick ? [1_000, 100_000] : [1_000, 1_000_000]
print("nat64-bench: state table (release build, one thread)")
print("sessions   bytes/session(reserved)  rss/session  create ns  outbound ns  inbound ns  translate ns  expire ns  heap growth")
for size in sizes {
    let r = bench(size: size, lookups: quick ? 1_000_000 : 5_000_000)
    func f(_ x: Double) -> String {
        let v = (x * 10).rounded() / 10
        return String(v)
    }
    print("\(r.size)".padding(11) + f(r.bytesPerSession).padding(25) + f(r.rssPerSession).padding(13)
          + f(r.createNs).padding(11) + f(r.outboundNs).padding(13) + f(r.inboundNs).padding(12)
          + f(r.translateNs).padding(14) + f(r.expireNs).padding(11) + "\(r.heapGrowth) B")
}

extension String {
    func padding(_ width: Int) -> String { count >= width ? self + " " : self + String(repeating: " ", count: width - count) }
}
