// PcapWriter and PcapReader: round trips, snap length, and every way a file can be unreadable.
import Foundation
import NAT64Translator
import PacketTestSupport
import PacketCapture
import Testing

@Suite struct PcapFileTests {
    let udp6 = buildIPv6(src: client, dst: server6, l4: .udp(src: 5000, dst: 53, payload: [1, 2, 3]))
    let echo4 = buildIPv4(src: pool, dst: server4, l4: .echo(request: true, id: 7, seq: 1, payload: [9]))

    @Test func writtenPacketsReadBackWithTimestampsAndLinkType() throws {
        let dir = ScratchDirectory()
        let path = dir.file("a.pcap")
        try writePcap(path, [(ts(0.25), udp6), (ts(1.5), echo4), (ts(2), [])])
        var reader = try PcapReader(path: path)
        #expect(reader.linkType == .raw)
        let packets = try reader.readAll()
        #expect(packets.map(\.data) == [udp6, echo4, []])
        #expect(packets.map(\.timestamp) == [ts(0.25), ts(1.5), ts(2)])
        #expect(packets.map(\.originalLength) == [udp6.count, echo4.count, 0])
        #expect(reader.packetsRead == 3)
    }

    @Test func fileStartsWithLibpcapsHeaderForLinktypeRaw() throws {
        let dir = ScratchDirectory()
        let path = dir.file("h.pcap")
        try writePcap(path, [(ts(0), udp6)])
        let bytes = fileBytes(path)
        #expect(bytes.count == 24 + 16 + udp6.count)
        #expect(Array(bytes[0..<4]) == [0xD4, 0xC3, 0xB2, 0xA1], "little-endian microsecond magic")
        #expect(Array(bytes[20..<24]) == [101, 0, 0, 0], "LINKTYPE_RAW is 101 in the file")
    }

    @Test func snapLengthTruncatesButKeepsTheOriginalLength() throws {
        let dir = ScratchDirectory()
        let path = dir.file("s.pcap")
        var writer = try PcapWriter(path: path, snapLength: 20)
        writer.write(udp6, timestamp: ts(0))
        #expect(writer.bytesWritten == 24 + 16 + 20)
        let flushed = writer.flush()
    #expect(flushed)
        let p = try readPcap(path)
        #expect(p.count == 1)
        #expect(p.first?.data == Array(udp6.prefix(20)))
        #expect(p.first?.originalLength == udp6.count)
    }

    @Test func tcpdumpReadsTheFile() throws {
        guard let tcpdump = tcpdumpPath else {
            Issue.record("tcpdump is not installed (scripts/install-deps.sh installs it)")
            return
        }
        let dir = ScratchDirectory()
        let path = dir.file("t.pcap")
        try writePcap(path, [(ts(0), udp6), (ts(1), echo4)])
        let r = try #require(runProcess(tcpdump, ["-nn", "-r", path]))
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n")
        #expect(lines.count == 2, "\(r.stdout)")
        #expect(lines.first?.contains("2001:db8:1::2.5000 > 2001:db8:64::c633:640a.53") == true, "\(r.stdout)")
        #expect(lines.last?.contains("192.0.2.1 > 198.51.100.10: ICMP echo request") == true, "\(r.stdout)")
    }

    // MARK: Unreadable input: clear errors naming the file and the call, never a crash

    @Test func missingFileNamesPathAndCall() {
        let error = #expect(throws: PcapError.self) { try PcapReader(path: "/nonexistent/in.pcap") }
        #expect(error?.code == .openFailed)
        #expect(error?.description.hasPrefix("/nonexistent/in.pcap: pcap_open_offline: ") == true, "\(String(describing: error))")
    }

    @Test func garbageIsNotACaptureFile() throws {
        let dir = ScratchDirectory()
        let path = dir.file("garbage.pcap")
        try Data("this is not a capture file at all".utf8).write(to: URL(fileURLWithPath: path))
        let error = #expect(throws: PcapError.self) { try PcapReader(path: path) }
        #expect(error?.code == .openFailed)
        #expect(error?.message.contains("unknown file format") == true, "\(String(describing: error))")
    }

    @Test func emptyFileIsAnError() throws {
        let dir = ScratchDirectory()
        let path = dir.file("empty.pcap")
        try Data().write(to: URL(fileURLWithPath: path))
        let error = #expect(throws: PcapError.self) { try PcapReader(path: path) }
        #expect(error?.code == .openFailed)
    }

    @Test func headerOnlyFileHasNoPackets() throws {
        let dir = ScratchDirectory()
        let path = dir.file("header.pcap")
        try writePcap(path, [])
        #expect(try readPcap(path).isEmpty)
    }

    /// Every truncation of a valid file either opens and reads cleanly, or throws `PcapError`.
    @Test func everyTruncationGivesPacketsOrAClearError() throws {
        let dir = ScratchDirectory()
        let full = dir.file("full.pcap")
        try writePcap(full, [(ts(0), udp6), (ts(1), echo4)])
        let bytes = fileBytes(full)
        let cut = dir.file("cut.pcap")
        var readFailures = 0
        for length in 0..<bytes.count {
            try Data(bytes[..<length]).write(to: URL(fileURLWithPath: cut))
            do {
                var reader = try PcapReader(path: cut)
                _ = try reader.readAll()
            } catch {
                #expect(error.description.hasPrefix(cut + ": pcap_"), "\(error)")
                if error.code == .readFailed {
                    readFailures += 1
                    #expect(error.message.contains("truncated"), "\(error)")
                }
            }
        }
        #expect(readFailures > 0, "cuts inside a record must be reported by pcap_next_ex")
    }

    @Test func writerReportsAnUncreatableFile() {
        let error = #expect(throws: PcapError.self) { try PcapWriter(path: "/nonexistent/dir/out.pcap") }
        #expect(error?.code == .openFailed)
        #expect(error?.description.hasPrefix("/nonexistent/dir/out.pcap: open: No such file") == true, "\(String(describing: error))")
    }
}
