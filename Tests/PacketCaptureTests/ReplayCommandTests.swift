// `nat64d replay` as operators run it: the built binary, its report lines, output files and error messages.
import Foundation
@testable import Forwarding
import NAT64Translator
import PacketCapture
import Testing

/// A config file for the replay topology (the same addresses as `translatorConfiguration`).
func writeReplayConfig(_ dir: ScratchDirectory) throws -> String {
    let path = dir.file("nat64d.toml")
    try """
        [translator]
        prefix = "2001:db8:64::/96"
        pool4 = ["192.0.2.1"]
        max-sessions = 1024

        [gateway]
        ipv4 = "198.51.100.1"
        ipv6 = "2001:db8:1::1"
        """.write(toFile: path, atomically: true, encoding: .utf8)
    return path
}

@Suite struct ReplayCommandTests {
    @Test func binaryReportsEveryPacketAndWritesTheSameBytesAsTheLibrary() throws {
        let dir = ScratchDirectory()
        let config = try writeReplayConfig(dir)
        let port = try mappedPort(in: dir)
        let library = try replay(scenario(mappedPort: port), in: dir, name: "lib")  // writes lib-in.pcap
        for run in ["cli1", "cli2"] {
            let r = try #require(runProcess(nat64dBinary, [
                "replay", "--config", config, "--in", dir.file("lib-in.pcap"), "--out", dir.file("\(run)-out.pcap"),
                "--drops", dir.file("\(run)-drops.pcap"), "--report", "--seed", "7",
            ]), "cannot run \(nat64dBinary)")
            #expect(r.status == 0, "\(r.stderr)")
            #expect(r.stdout.split(separator: "\n").map(String.init) == library.report + [
                "replay: 7 packets: 3 translated, 3 dropped, 1 icmp-error, 0 skipped",
            ])
            #expect(fileBytes(dir.file("\(run)-out.pcap")) == fileBytes(dir.file("lib-out.pcap")))
            #expect(fileBytes(dir.file("\(run)-drops.pcap")) == fileBytes(dir.file("lib-drops.pcap")))
            #expect(fileBytes(dir.file("\(run)-drops.reasons")).count > 0)
        }
    }

    @Test func withoutReportOnlyTheSummaryIsPrinted() throws {
        let dir = ScratchDirectory()
        let config = try writeReplayConfig(dir)
        try writePcap(dir.file("in.pcap"), Array(scenario(mappedPort: 1).prefix(3)))
        let r = try #require(runProcess(nat64dBinary, ["replay", "-c", config, "--in", dir.file("in.pcap"),
                                                       "--out", dir.file("out.pcap")]))
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout == "replay: 3 packets: 2 translated, 1 dropped, 0 icmp-error, 0 skipped\n")
        #expect(try readPcap(dir.file("out.pcap")).count == 2)
    }

    @Test func garbageAndTruncatedInputsFailWithTheFileAndCall() throws {
        let dir = ScratchDirectory()
        let config = try writeReplayConfig(dir)
        try Data("GET / HTTP/1.1\r\n".utf8).write(to: URL(fileURLWithPath: dir.file("http.pcap")))
        let garbage = try #require(runProcess(nat64dBinary, ["replay", "-c", config, "--in", dir.file("http.pcap"),
                                                             "--out", dir.file("o.pcap")]))
        #expect(garbage.status == 1)
        #expect(garbage.stderr.hasPrefix("nat64d replay: \(dir.file("http.pcap")): pcap_open_offline: "), "\(garbage.stderr)")

        try writePcap(dir.file("full.pcap"), scenario(mappedPort: 1))
        let bytes = fileBytes(dir.file("full.pcap"))
        try Data(bytes.dropLast(10)).write(to: URL(fileURLWithPath: dir.file("cut.pcap")))
        let cut = try #require(runProcess(nat64dBinary, ["replay", "-c", config, "--in", dir.file("cut.pcap"),
                                                         "--out", dir.file("o.pcap"), "--report"]))
        #expect(cut.status == 1)
        #expect(cut.stdout.split(separator: "\n").count == 6, "the six whole packets are reported first")
        #expect(cut.stderr.contains("cut.pcap: pcap_next_ex: packet 7: truncated dump file"), "\(cut.stderr)")
    }

    @Test func badConfigIsReportedWithItsLine() throws {
        let dir = ScratchDirectory()
        let good = try String(contentsOfFile: try writeReplayConfig(dir), encoding: .utf8)
        try good.replacingOccurrences(of: "2001:db8:64::/96", with: "2001:db8::/80")
            .write(toFile: dir.file("bad.toml"), atomically: true, encoding: .utf8)
        let r = try #require(runProcess(nat64dBinary, ["replay", "-c", dir.file("bad.toml"), "--in", "x", "--out", "y"]))
        #expect(r.status == 2)
        #expect(r.stderr.hasPrefix(dir.file("bad.toml") + ":2: translator.prefix"), "\(r.stderr)")
    }
}
