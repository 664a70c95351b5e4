// Live capture as the packet thread drives it: stash, translate, record; per-side files, drops with reasons,
// and the filter keeping a packet together with its translation.
import Foundation
import NAT64Translator
import PacketTestSupport
import PacketCapture
import Testing

/// Runs `packets` through a translator with `recorder` attached, as PacketForwarder does.
func translateRecording(_ packets: [[UInt8]], recorder: CaptureRecorder) {
    var translator = Translator(configuration: translatorConfiguration())
    var packet = PacketBuffer()
    var reply = PacketBuffer(capacity: PacketBuffer.headroom + 2048)
    for (i, bytes) in packets.enumerated() {
        packet.load(bytes)
        recorder.stash(UnsafeRawBufferPointer(packet.packet))
        let verdict = translator.translate(&packet, reply: &reply, now: Nanoseconds(i) * 1_000_000)
        switch verdict {
        case .translated: recorder.record(verdict, output: UnsafeRawBufferPointer(packet.packet))
        case .icmpError: recorder.record(verdict, output: UnsafeRawBufferPointer(reply.packet))
        case .drop: recorder.record(verdict, output: UnsafeRawBufferPointer(start: nil, count: 0))
        case .translatedFragments(let n):
            recorder.record(verdict, output: translator.fragment(at: 0))
            for f in 1..<n { recorder.recordAdditional(output: translator.fragment(at: f)) }
        }
    }
    recorder.close()
}

@Suite struct CaptureRecorderTests {
    let udp6 = buildIPv6(src: client, dst: server6, l4: .udp(src: 5000, dst: 53, payload: [1]))
    let echo6 = buildIPv6(src: client, dst: server6, l4: .echo(request: true, id: 9, seq: 1, payload: [2]))
    let expiring6 = buildIPv6(src: client, dst: server6, hopLimit: 1, l4: .udp(src: 5001, dst: 53, payload: [3]))
    let stray4 = buildIPv4(src: server4, dst: pool, l4: .udp(src: 53, dst: 999, payload: [4]))

    @Test func everySideGetsItsFileAndDropsKeepTheirReason() throws {
        let dir = ScratchDirectory()
        let recorder = try CaptureRecorder(settings: CaptureSettings(directory: dir.file("cap")))
        translateRecording([udp6, echo6, expiring6, stray4], recorder: recorder)
        let in6 = try readPcap(dir.file("cap/in6.pcap"))
        let out4 = try readPcap(dir.file("cap/out4.pcap"))
        let in4 = try readPcap(dir.file("cap/in4.pcap"))
        let out6 = try readPcap(dir.file("cap/out6.pcap"))
        let drops = try readPcap(dir.file("cap/drops.pcap"))
        #expect(in6.map(\.data) == [udp6, echo6, expiring6], "received, dropped ones included")
        #expect(out4.count == 2)
        #expect(out4.allSatisfy { Parsed(bytes: $0.data).src4 == pool && Parsed(bytes: $0.data).dst4 == server4 })
        #expect(in4.map(\.data) == [stray4])
        #expect(out6.count == 1, "the ICMPv6 Time Exceeded for the expiring packet")
        #expect(out6.first.map { Parsed(bytes: $0.data).dst6 } == client)
        #expect(out6.first.map { Parsed(bytes: $0.data).l4.first } == 3, "ICMPv6 type 3, Time Exceeded")
        #expect(drops.map(\.data) == [expiring6, stray4])
        let reasons = try String(contentsOfFile: dir.file("cap/drops.reasons"), encoding: .utf8)
        #expect(reasons.split(separator: "\n").dropFirst() == ["1 hop-limit-exceeded", "2 no-state"])
        let status = recorder.status
        #expect(status.streams.map(\.packets) == [3, 2, 1, 1, 2])
        #expect(status.streams.allSatisfy { $0.errors == 0 && $0.failure == nil })
        #expect(status.filteredOut == 0)
    }

    @Test func filterKeepsMatchingPacketsWithTheirTranslation() throws {
        let dir = ScratchDirectory()
        let recorder = try CaptureRecorder(settings: CaptureSettings(directory: dir.path, filter: "icmp or icmp6"))
        translateRecording([udp6, echo6, stray4], recorder: recorder)
        #expect(try readPcap(dir.file("in6.pcap")).map(\.data) == [echo6])
        let out4 = try readPcap(dir.file("out4.pcap"))
        #expect(out4.count == 1 && out4.first.map { Parsed(bytes: $0.data).proto } == 1, "ICMPv4 echo")
        #expect(try readPcap(dir.file("in4.pcap")).isEmpty)
        #expect(try readPcap(dir.file("drops.pcap")).isEmpty)
        #expect(recorder.status.filteredOut == 2)
    }

    /// An IPv4-only filter keeps the IPv6 side of the matching flow too, because its translation matches.
    @Test func ipv4FilterFollowsTheFlowToIPv6() throws {
        let dir = ScratchDirectory()
        let recorder = try CaptureRecorder(settings: CaptureSettings(directory: dir.path, filter: "host 198.51.100.10 and udp port 53"))
        let other6 = buildIPv6(src: client, dst: prefix.embed(IPv4Address("203.0.113.5")!), l4: .udp(src: 1, dst: 53, payload: []))
        translateRecording([udp6, other6, echo6], recorder: recorder)
        #expect(try readPcap(dir.file("in6.pcap")).map(\.data) == [udp6])
        #expect(try readPcap(dir.file("out4.pcap")).count == 1)
    }

    @Test func badFilterAndUncreatableDirectoryAreClearErrors() {
        let bad = #expect(throws: PcapError.self) {
            try CaptureRecorder(settings: CaptureSettings(directory: "/tmp", filter: "port port"))
        }
        #expect(bad?.code == .badFilter)
        let dir = #expect(throws: PcapError.self) {
            try CaptureRecorder(settings: CaptureSettings(directory: "/proc/nat64d-capture"))
        }
        #expect(dir?.description.hasPrefix("/proc/nat64d-capture: mkdir: ") == true, "\(String(describing: dir))")
    }
}
