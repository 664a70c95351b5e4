// libFuzzer target for the translator (NAT64Translator): every packet, from either side, with any offload
// metadata, gets a verdict; nothing traps, and a translated packet fits its buffer. Oracles: an unfragmented
// TCP/UDP/ICMP packet with a valid L4 checksum comes out with a valid one, and every generated ICMP error has a
// valid checksum (Oracles.swift); every IPv6 record also goes through a `siit` translator and back
// (`siitRoundTrip`): the upper layer must come back unchanged. One input is a run of records
// `[length: 2 bytes][mode: 1 byte][packet: length bytes]`, all through one translator (so state built by one
// packet meets the next), with the clock moving 1 s per record. `mode` picks the offload metadata a
// vnet-header TUN would attach: segmentation kind, segment size, checksum state.
//
// Speed: the two translators are made once and `reset()` between inputs (allocation-free), and the harness
// writes a correct IPv4 header checksum into every IPv4 record (except when the segment-size bits of `mode` are
// all set), so mutated headers reach the translation code instead of stopping at the checksum check.
//
//   bash scripts/fuzz.sh translator           # build with libFuzzer + ASan and run (scripts/fuzz.sh -h)
//   .build/debug/fuzz-translator FILE...      # without the fuzzer: replay inputs (what the tests do)
import FuzzSupport
import NAT64Translator

let prefix = NAT64Prefix("64:ff9b::/96")!

/// The stateful translator: two pool4 addresses, a small table (a reset touches every slot).
let configuration: TranslatorConfiguration = {
    var c = TranslatorConfiguration(
        prefix: prefix, pool4: [IPv4Address("192.0.2.1")!, IPv4Address("192.0.2.2")!],
        gatewayIPv4: IPv4Address("198.51.100.1")!, gatewayIPv6: IPv6Address("2001:db8:1::1")!, maxSessions: 64,
        seed: 1)
    c.state = StateConfiguration(limits: StateLimits(sessionsPerHost: 32, hosts: 64, heldSYNs: 16, portProbes: 64))
    return c
}()

/// The stateless one for the round trip.
let siitConfiguration: TranslatorConfiguration = {
    var c = configuration
    c.pool4 = []
    c.addressPolicy = AddressPolicy(strictWellKnownPrefix: false)  // the seeds' documentation addresses
    c.state = StateConfiguration(  // the seeds' IPv6 client, 2001:db8:1::2, is 192.0.2.2
        mode: .siit, eam: [EAMEntry(inside: IPv6Prefix("2001:db8:1::/120")!, outside: IPv4Prefix("192.0.2.0/24")!)!])
    return c
}()

/// Translators and packet buffers, reused by every input (`reset` and `load` return them to a clean state;
/// they carry nothing from one input to the next).
nonisolated(unsafe) var translator = Translator(configuration: configuration)
nonisolated(unsafe) var siit = Translator(configuration: siitConfiguration)
nonisolated(unsafe) var packet = PacketBuffer(capacity: 70_000)
nonisolated(unsafe) var reply = PacketBuffer(capacity: 2048)
nonisolated(unsafe) var roundTrip = PacketBuffer(capacity: 70_000)

/// Runs one input. Returns the number of verdicts (every record gets exactly one).
@inline(never)
func fuzzTranslator(_ data: UnsafeRawBufferPointer) -> Int {
    translator.reset()
    siit.reset()
    var at = 0
    var verdicts = 0
    var now: Nanoseconds = 1_000_000_000
    while at + 3 <= data.count, verdicts < 16 {
        let length = min(Int(data[at]) << 8 | Int(data[at + 1]), data.count - at - 3)
        let mode = data[at + 2]
        let bytes = UnsafeRawBufferPointer(rebasing: data[(at + 3)..<(at + 3 + length)])
        at += 3 + length
        if length > 0 && bytes[0] >> 4 == 6 { siitRoundTrip(bytes, now: now) }
        packet.load(bytes, offload: offload(mode, length: length))
        if mode & 0x78 != 0x78 { fixIPv4HeaderChecksum(packet.base + packet.start, count: packet.count) }
        let validIn = packet.offload.checksum == .complete
            ? l4ChecksumValid(packet.base + packet.start, count: packet.count) : nil
        let verdict = translator.translate(&packet, reply: &reply, now: now)
        switch verdict {
        case .translated:
            precondition(packet.count <= 70_000)
            if validIn == true && packet.offload.checksum == .complete {
                precondition(l4ChecksumValid(packet.base + packet.start, count: packet.count) != false,
                             "a valid L4 checksum came out invalid")
            }
        case .icmpError:
            precondition(reply.count > 0 && reply.count <= 2048)
            precondition(l4ChecksumValid(reply.base + reply.start, count: reply.count) == true,
                         "a generated ICMP error has a wrong checksum")
        case .translatedFragments(let n):
            for i in 0..<n { precondition(translator.fragment(at: i).count > 0) }
        case .drop: break
        }
        verdicts += 1
        now += 1_000_000_000
        if mode & 0x80 != 0 { _ = translator.expire(now: now + 600_000_000_000) }
    }
    return verdicts
}

/// The siit oracle (conformance F1, F2): an IPv6 packet that `siit` translates to IPv4 and back comes out with
/// the same upper-layer bytes (a checksum may only swap 0x0000 and 0xFFFF); stateless translation loses nothing
/// but the header fields RFC 7915 rewrites. ICMP errors (truncated on the way) and packets that become
/// fragments are left out.
func siitRoundTrip(_ bytes: UnsafeRawBufferPointer, now: Nanoseconds) {
    roundTrip.load(bytes)
    guard case .translated = siit.translate(&roundTrip, reply: &reply, now: now),
          roundTrip.count > 0, roundTrip.packet[0] >> 4 == 4 else { return }
    let v4 = Array(roundTrip.packet)
    v4.withUnsafeBytes { roundTrip.load($0) }
    guard case .translated = siit.translate(&roundTrip, reply: &reply, now: now) else { return }
    let back = Array(roundTrip.packet)
    guard let before = upperLayer(Array(bytes)), let after = upperLayer(back) else { return }
    precondition(before.proto == after.proto, "siit round trip changed the upper-layer protocol")
    // An error: its quoted packet is cut to what its own header declares, and may be truncated or padded (F13).
    if before.proto == 58 && before.first && before.data.count >= 1 && before.data[0] < 128 { return }
    precondition(before.data.count == after.data.count, "siit round trip changed the upper-layer length")
    var checksumAt: Int?
    if before.first {
        switch before.proto {
        case 6 where before.data.count >= 18: checksumAt = 16
        case 17 where before.data.count >= 8: checksumAt = 6
        case 58 where before.data.count >= 4: checksumAt = 2
        default: break
        }
    }
    for i in before.data.indices where i != checksumAt && i != checksumAt.map({ $0 + 1 }) {
        precondition(before.data[i] == after.data[i], "siit round trip changed upper-layer byte \(i)")
    }
    // The pseudo-header changes when an address came back in another form (an EAM entry and the prefix
    // both covering it): then the checksum may differ.
    if let at = checksumAt, Array(bytes[8..<40]) == Array(back[8..<40]) {
        let a = UInt16(before.data[at]) << 8 | UInt16(before.data[at + 1])
        let b = UInt16(after.data[at]) << 8 | UInt16(after.data[at + 1])
        precondition(a == b || (a == 0 && b == 0xFFFF) || (a == 0xFFFF && b == 0), "siit round trip changed the checksum")
    }
}

/// The upper-layer protocol and bytes of an IPv6 packet, and whether it carries the upper-layer header.
/// Bytes past the IPv6 payload length are not part of the packet.
func upperLayer(_ bytes: [UInt8]) -> (proto: UInt8, data: [UInt8], first: Bool)? {
    guard bytes.count >= 40 else { return nil }
    let end = min(bytes.count, 40 + (Int(bytes[4]) << 8 | Int(bytes[5])))
    var copy = Array(bytes[..<end])
    return copy.withUnsafeMutableBytes { raw -> (UInt8, [UInt8], Bool)? in
        guard case .layout(let layout) = IPv6Layout.walk(raw.baseAddress!, length: raw.count),
              layout.upperOffset <= end
        else { return nil }
        return (layout.proto, Array(bytes[layout.upperOffset..<end]), layout.fragment?.isFirst ?? true)
    }
}

/// The offload metadata `mode` stands for: bits 0-1 the segmentation kind, bit 2 a partial checksum, bits 3-6
/// the segment size (0…1500 in steps of 100); the header length claim is derived from the packet length.
func offload(_ mode: UInt8, length: Int) -> OffloadInfo {
    let kinds: [OffloadInfo.Segmentation] = [.none, .tcp4, .tcp6, .udpL4]
    let kind = kinds[Int(mode & 0x03)]
    let segmentSize = Int((mode >> 3) & 0x0F) * 100
    let checksum: ChecksumState = mode & 0x04 != 0 ? .partial(start: min(40, length), offset: 16) : .complete
    return OffloadInfo(segmentation: kind, segmentSize: segmentSize, headerLength: min(60, length), checksum: checksum)
}

#if FUZZING
@_cdecl("LLVMFuzzerTestOneInput")
public func LLVMFuzzerTestOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let verdicts = fuzzTranslator(UnsafeRawBufferPointer(start: data, count: size))
    precondition(verdicts >= 0)
    return 0
}
#else
@main
struct ReplayMain {
    static func main() { replay(CommandLine.arguments.dropFirst()) { fuzzTranslator($0) } }
}
#endif
