// Replay gives the bytes the daemon's loop gives: one capture file goes through `Replay.run` (capture device,
// file time) and, packet by packet, through a `ForwardingEngine` on the in-memory device with the same clock
// and housekeeping ticks, and the two output streams must be identical. The input includes an IPv4 SYN that
// nothing answers, so the S6 ICMPv4 3/3 the daemon sends 6 s later is part of both outputs (replay used to miss
// it).
import NAT64Translator
import PacketCapture
import PacketTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

@testable import Forwarding

func timestamp(_ seconds: Int64) -> PcapTimestamp { PcapTimestamp(seconds: 1_704_067_200 + seconds) }

func scratchPath(_ name: String) -> String {
    var template = Array("/tmp/nat64d-forwarding-test.XXXXXX".utf8CString)
    let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
    precondition(made != nil)
    return String(cString: template) + "/" + name
}

@Suite struct ReplayEquivalenceTests {
    /// The input: UDP and TCP out, the UDP reply, an unanswered IPv4 SYN, a hop-limit error, and a late packet
    /// after the UDP mapping expired.
    func input(replyPort: UInt16) -> [(PcapTimestamp, [UInt8])] {
        [
            (timestamp(0), udpOut(5000)),
            (timestamp(1), buildIPv6(src: client, dst: server6, l4: .tcp(src: 40000, dst: 80, flags: 0x02, payload: []))),
            (timestamp(2), buildIPv4(src: server4, dst: pool, l4: .udp(src: 53, dst: replyPort, payload: Array("a".utf8)))),
            (timestamp(3), buildIPv4(src: server4, dst: pool, l4: .tcp(src: 443, dst: 41000, flags: 0x02, payload: []))),
            (timestamp(4), buildIPv6(src: client, dst: server6, hopLimit: 1, l4: .udp(src: 1, dst: 2, payload: []))),
            (timestamp(20), udpOut(5001)),
            (timestamp(400), buildIPv4(src: server4, dst: pool, l4: .udp(src: 53, dst: replyPort, payload: Array("b".utf8)))),
        ]
    }

    /// What the loop writes for `packets` on the in-memory device, with replay's clock.
    func throughMemoryDevice(_ packets: [(PcapTimestamp, [UInt8])]) throws -> [[UInt8]] {
        var engine = ForwardingEngine(translator: Translator(configuration: configuration()), batchSize: 1)
        var device = MemoryPacketDevice()
        var clock = ReplayClock(capacity: configuration().maxSessions)
        var out: [[UInt8]] = []
        for (t, bytes) in packets {
            while let tick = clock.nextTick(upTo: t.nanoseconds) {
                engine.housekeeping(&device, tap: NoCapture(), now: tick)
            }
            let now = clock.settle(at: t.nanoseconds)
            device.inject(bytes)
            _ = try engine.forwardBatch(&device, tap: NoCapture(), now: now)
            out += device.takeWritten().map(\.bytes)
        }
        return out
    }

    @Test func replayAndTheDaemonLoopWriteTheSameBytes() throws {
        // The pool4 port of the first UDP flow, learned from a first run (both are deterministic for a seed).
        let probe = try throughMemoryDevice(Array(input(replyPort: 0).prefix(1)))
        let replyPort = Parsed(bytes: try #require(probe.first)).srcPort
        let packets = input(replyPort: replyPort)

        let inputPath = scratchPath("in.pcap")
        var writer = try PcapWriter(path: inputPath, linkType: .raw)
        for (t, p) in packets { writer.write(p, timestamp: t) }
        let flushed = writer.flush()
        #expect(flushed)
        let outputPath = inputPath.replacingSuffix("in.pcap", with: "out.pcap")
        let summary = try Replay.run(configuration: configuration(), input: inputPath, output: outputPath)
        var reader = try PcapReader(path: outputPath)
        let replayed = try reader.readAll().map(\.data)

        let looped = try throughMemoryDevice(packets)
        #expect(replayed == looped)
        #expect(summary.generated == 1)
        // UDP out, TCP SYN out, UDP reply in, (SYN held), ICMPv6 time exceeded, the S6 3/3 at t = 9 s, UDP out;
        // the late reply finds no mapping.
        #expect(replayed.count == 6)
        let held = Parsed(bytes: replayed[4])
        #expect(held.version == 4 && held.proto == 1 && held.dst4 == server4 && held.l4[0] == 3 && held.l4[1] == 3)
        #expect(summary.counters.drops(.noState) == 1 && summary.counters.drops(.synHeld) == 1)
    }
}

extension String {
    func replacingSuffix(_ suffix: String, with other: String) -> String {
        hasSuffix(suffix) ? String(dropLast(suffix.count)) + other : self
    }
}
