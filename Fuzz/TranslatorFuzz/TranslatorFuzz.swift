// libFuzzer target for the translator (NAT64Translator): every packet, from either side, with any offload
// metadata, gets a verdict; nothing traps, and a translated packet fits its buffer. One input is a run of
// records `[length: 2 bytes][mode: 1 byte][packet: length bytes]`, all through one translator (so state built by
// one packet meets the next), with the clock moving 1 s per record. `mode` picks the offload metadata a
// vnet-header TUN would attach: segmentation kind, segment size, checksum state.
//
//   bash scripts/fuzz.sh translator           # build with libFuzzer + ASan and run (scripts/fuzz.sh -h)
//   .build/debug/fuzz-translator FILE...      # without the fuzzer: replay inputs (what the tests do)
import FuzzSupport
import NAT64Translator

let prefix = NAT64Prefix("64:ff9b::/96")!

/// Packet buffers, reused by every input (`load` resets them; they carry nothing from one input to the next).
nonisolated(unsafe) var packet = PacketBuffer(capacity: 70_000)
nonisolated(unsafe) var reply = PacketBuffer(capacity: 2048)

/// Runs one input. Returns the number of verdicts (every record gets exactly one).
@inline(never)
func fuzzTranslator(_ data: UnsafeRawBufferPointer) -> Int {
    let configuration = TranslatorConfiguration(
        prefix: prefix, pool4: [IPv4Address("192.0.2.1")!, IPv4Address("192.0.2.2")!],
        gatewayIPv4: IPv4Address("198.51.100.1")!, gatewayIPv6: IPv6Address("2001:db8:1::1")!, maxSessions: 64,
        seed: 1)
    var translator = Translator(configuration: configuration)
    var at = 0
    var verdicts = 0
    var now: Nanoseconds = 1_000_000_000
    while at + 3 <= data.count, verdicts < 16 {
        let length = min(Int(data[at]) << 8 | Int(data[at + 1]), data.count - at - 3)
        let mode = data[at + 2]
        let bytes = UnsafeRawBufferPointer(rebasing: data[(at + 3)..<(at + 3 + length)])
        at += 3 + length
        packet.load(bytes, offload: offload(mode, length: length))
        let verdict = translator.translate(&packet, reply: &reply, now: now)
        switch verdict {
        case .translated: precondition(packet.count <= 70_000)
        case .icmpError: precondition(reply.count > 0 && reply.count <= 2048)
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
