// Replay golden tests: input pcaps built here byte by byte, replayed in-process through the translator, and
// checked packet by packet: verdicts, addresses and ports, drop reasons, expiry driven by file timestamps,
// and identical bytes for the same seed.
import Foundation
@testable import Forwarding
import NAT64Translator
import PacketTestSupport
import Testing

@testable import PacketCapture

/// The replay scenario. The IPv4 replies go to `mappedPort`, the pool4 port the translator gave the client's
/// UDP flow; tests learn it from a first replay of the IPv6 packets alone (replay is deterministic).
func scenario(mappedPort: UInt16) -> [(PcapTimestamp, [UInt8])] {
    [
        // 1: UDP out: translated.
        (ts(0), buildIPv6(src: client, dst: server6, l4: .udp(src: 5000, dst: 53, payload: Array("query".utf8)))),
        // 2: TCP SYN out: translated.
        (ts(0.5), buildIPv6(src: client, dst: server6, l4: .tcp(src: 40000, dst: 80, flags: 0x02, payload: []))),
        // 3: not under the NAT64 prefix: dropped.
        (ts(1), buildIPv6(src: client, dst: IPv6Address("2001:db8:77::1")!, l4: .udp(src: 1, dst: 2, payload: []))),
        // 4: hop limit 1: dropped with an ICMPv6 Time Exceeded.
        (ts(1.5), buildIPv6(src: client, dst: server6, hopLimit: 1, l4: .udp(src: 5000, dst: 53, payload: []))),
        // 5: IPv4 to an unmapped pool port: dropped, no state.
        (ts(2), buildIPv4(src: server4, dst: pool, l4: .udp(src: 53, dst: mappedPort &+ 1, payload: []))),
        // 6: the reply to packet 1: translated back to the client's port.
        (ts(3), buildIPv4(src: server4, dst: pool, l4: .udp(src: 53, dst: mappedPort, payload: Array("answer".utf8)))),
        // 7: the same reply 400 s later, after the 300 s UDP timeout: the mapping has expired.
        (ts(403), buildIPv4(src: server4, dst: pool, l4: .udp(src: 53, dst: mappedPort, payload: Array("late".utf8)))),
    ]
}

/// Replays `packets` and returns the report lines, the output and drop packets and the reasons text.
func replay(_ packets: [(PcapTimestamp, [UInt8])], seed: UInt64 = 7, in dir: ScratchDirectory,
            linkType: LinkType = .raw, name: String = "run") throws
    -> (report: [String], out: [CapturedPacket], drops: [CapturedPacket], reasons: [String], summary: ReplaySummary) {
    let input = dir.file("\(name)-in.pcap")
    try writePcap(input, packets, linkType: linkType)
    var report: [String] = []
    let summary = try Replay.run(configuration: translatorConfiguration(seed: seed), input: input,
                                 output: dir.file("\(name)-out.pcap"), drops: dir.file("\(name)-drops.pcap")) {
        report.append($0.description)
    }
    let reasons = try String(contentsOfFile: dir.file("\(name)-drops.reasons"), encoding: .utf8)
    return (report, try readPcap(dir.file("\(name)-out.pcap")), try readPcap(dir.file("\(name)-drops.pcap")),
            Array(reasons.split(separator: "\n").dropFirst().map(String.init)), summary)
}

/// The pool4 port replay maps the client's UDP port 5000 to, for `seed`.
func mappedPort(seed: UInt64 = 7, in dir: ScratchDirectory) throws -> UInt16 {
    let first = try replay(Array(scenario(mappedPort: 0).prefix(1)), seed: seed, in: dir, name: "probe\(seed)")
    let out = try #require(first.out.first)
    return Parsed(bytes: out.data).srcPort
}

@Suite struct ReplayTests {
    @Test func goldenScenario() throws {
        let dir = ScratchDirectory()
        let port = try mappedPort(in: dir)
        let r = try replay(scenario(mappedPort: port), in: dir)
        #expect(r.report == [
            "1 translated", "2 translated", "3 drop not-in-prefix", "4 icmp-error hop-limit-exceeded",
            "5 drop no-state", "6 translated", "7 drop no-state",
        ])
        #expect(r.summary.description == "7 packets: 3 translated, 3 dropped, 1 icmp-error, 0 skipped")
        #expect(r.summary.counters.drops(.noState) == 2)
        // Housekeeping swept both: the UDP mapping after 300 s, the half-open TCP session (V6 INIT) after
        // TCP_TRANS, 240 s (RFC 6146 §3.5.2.2). Without expiry 2 would remain.
        #expect(r.summary.sessions == 0)

        // Output: the two translations out, the ICMPv6 error, the translated reply, in input order.
        #expect(r.out.count == 4)
        let udp = Parsed(bytes: r.out[0].data)
        #expect(udp.version == 4 && udp.src4 == pool && udp.dst4 == server4 && udp.dstPort == 53)
        #expect(udp.srcPort == port && port >= 1024)
        #expect(udp.l4ChecksumValid && udp.ipv4HeaderChecksumValid)
        let syn = Parsed(bytes: r.out[1].data)
        #expect(syn.version == 4 && syn.proto == 6 && syn.src4 == pool && syn.dstPort == 80 && syn.l4ChecksumValid)
        let error = Parsed(bytes: r.out[2].data)
        #expect(error.version == 6 && error.proto == 58 && error.src6 == gateway6 && error.dst6 == client)
        #expect(error.l4.first == 3, "ICMPv6 Time Exceeded")
        let reply = Parsed(bytes: r.out[3].data)
        #expect(reply.version == 6 && reply.src6 == server6 && reply.dst6 == client)
        #expect(reply.srcPort == 53 && reply.dstPort == 5000 && reply.l4ChecksumValid)
        #expect(r.out.map(\.timestamp) == [ts(0), ts(0.5), ts(1.5), ts(3)], "output keeps input timestamps")

        // Drops: the original packets, with their reasons in the sidecar.
        let input = scenario(mappedPort: port)
        #expect(r.drops.map(\.data) == [input[2].1, input[3].1, input[4].1, input[6].1])
        // Numbered as the input file and the report number them (3, 4, 5, 7), not 1 to 4 in the drops file.
        #expect(r.reasons == ["3 not-in-prefix", "4 hop-limit-exceeded", "5 no-state", "7 no-state"])
        for line in r.reasons {
            let parts = line.split(separator: " ")
            #expect(r.report.contains { $0.hasPrefix("\(parts[0]) ") && $0.hasSuffix(" \(parts[1])") }, "\(line)")
        }
    }

    /// Without the gap, the same reply at t=4 s finds the mapping: expiry in packet 7 comes from the timestamps.
    @Test func expiryFollowsFileTimestamps() throws {
        let dir = ScratchDirectory()
        let port = try mappedPort(in: dir)
        var packets = scenario(mappedPort: port)
        packets[6].0 = ts(4)
        #expect(try replay(packets, in: dir).report.last == "7 translated")
    }

    /// The clock replays the daemon's once-a-second housekeeping, bounded over long gaps.
    @Test func clockTicksLikeTheDaemon() {
        var clock = ReplayClock(capacity: 4096)
        var ticks: [Nanoseconds] = []
        let second: Nanoseconds = 1_000_000_000
        #expect(clock.advance(to: 10 * second) { ticks.append($0) } == 10 * second)
        #expect(clock.advance(to: 13 * second + 5) { ticks.append($0) } == 13 * second + 5)
        #expect(ticks == [11 * second, 12 * second, 13 * second])
        #expect(clock.advance(to: 12 * second) { ticks.append($0) } == 13 * second + 5, "never backwards")
        ticks = []
        _ = clock.advance(to: 100_000 * second) { ticks.append($0) }
        #expect(ticks.count <= 4 && ticks.last == 100_000 * second, "a long gap costs a full sweep, not a call per second")
    }

    @Test func sameSeedSameBytesOtherSeedOtherPorts() throws {
        let dir = ScratchDirectory()
        let port = try mappedPort(in: dir)
        let packets = scenario(mappedPort: port)
        _ = try replay(packets, in: dir, name: "a")
        _ = try replay(packets, in: dir, name: "b")
        #expect(fileBytes(dir.file("a-out.pcap")) == fileBytes(dir.file("b-out.pcap")))
        #expect(fileBytes(dir.file("a-drops.pcap")) == fileBytes(dir.file("b-drops.pcap")))
        #expect(fileBytes(dir.file("a-out.pcap")).count > 24)
        let other = try mappedPort(seed: 8, in: dir)
        #expect(other != port, "the seed drives port allocation")
    }

    /// The same IP packets wrapped in Ethernet (with an ARP frame between) and in Linux cooked v2 headers
    /// replay to the same output bytes as raw IP.
    @Test func linkHeadersAreStripped() throws {
        let dir = ScratchDirectory()
        let port = try mappedPort(in: dir)
        let packets = scenario(mappedPort: port)
        let raw = try replay(packets, in: dir, name: "raw")
        let macs = [UInt8](repeating: 0x02, count: 12)
        var ethernet = packets.map { (t, p) in (t, macs + (p[0] >> 4 == 6 ? [0x86, 0xDD] : [0x08, 0x00]) + p) }
        ethernet.insert((ts(0.1), macs + [0x08, 0x06] + [UInt8](repeating: 0, count: 28)), at: 1)
        let eth = try replay(ethernet, in: dir, linkType: .ethernet, name: "eth")
        #expect(eth.report[1] == "2 skipped ethertype 0x0806")
        #expect(eth.summary.skipped == 1)
        #expect(eth.out.map(\.data) == raw.out.map(\.data))
        let sll2 = packets.map { (t, p) in
            (t, (p[0] >> 4 == 6 ? [0x86, 0xDD] : [0x08, 0x00]) + [0, 0, 0, 0, 0, 3, 0, 1, 0, 4, 6] + [UInt8](repeating: 0, count: 7) + p)
        }
        let cooked = try replay(sll2, in: dir, linkType: .linuxSLL2, name: "sll2")
        #expect(cooked.out.map(\.data) == raw.out.map(\.data))
        #expect(cooked.drops.map(\.data) == raw.drops.map(\.data), "drops hold the IP packet, link header stripped")
    }

    @Test func unsupportedLinkTypeIsAClearError() throws {
        let dir = ScratchDirectory()
        try writePcap(dir.file("wifi.pcap"), [(ts(0), [1, 2, 3])], linkType: LinkType(rawValue: 105))
        let error = #expect(throws: PcapError.self) {
            try Replay.run(configuration: translatorConfiguration(), input: dir.file("wifi.pcap"),
                           output: dir.file("o.pcap"))
        }
        #expect(error?.code == .unsupportedLinkType)
        #expect(error?.description.contains("IEEE802_11") == true, "\(String(describing: error))")
    }

    /// Fuzz-ish: truncations of a valid input at every length, and random records, give output or a
    /// `PcapError`, never a trap.
    @Test func truncatedAndRandomInputsNeverTrap() throws {
        let dir = ScratchDirectory()
        let input = dir.file("full.pcap")
        try writePcap(input, scenario(mappedPort: 1024))
        let bytes = fileBytes(input)
        let cut = dir.file("cut.pcap")
        var errors = 0
        for length in stride(from: 0, to: bytes.count, by: 3) {
            try Data(bytes[..<length]).write(to: URL(fileURLWithPath: cut))
            do {
                _ = try Replay.run(configuration: translatorConfiguration(), input: cut, output: dir.file("o.pcap"))
            } catch {
                errors += 1
                #expect(error.subject == cut, "\(error)")
            }
        }
        #expect(errors > 0)

        var rng = SystemRandomNumberGenerator()
        var random: [(PcapTimestamp, [UInt8])] = []
        for i in 0..<300 {
            var p = (0..<Int.random(in: 0...80, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            if !p.isEmpty { p[0] = (Bool.random(using: &rng) ? 0x45 : 0x60) | (p[0] & 0x0F) }
            random.append((ts(Double(i)), p))
        }
        let r = try replay(random, in: dir, name: "random")
        #expect(r.summary.packets == 300)
    }

    @Test func missingInputNamesTheFile() {
        let error = #expect(throws: PcapError.self) {
            try Replay.run(configuration: translatorConfiguration(), input: "/nonexistent.pcap", output: "/tmp/x.pcap")
        }
        #expect(error?.description.hasPrefix("/nonexistent.pcap: pcap_open_offline:") == true)
    }
}
