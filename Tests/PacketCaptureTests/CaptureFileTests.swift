// Size rotation with a cap on the number of files, and the drop-reason sidecar.
import Foundation
import NAT64Translator
import PacketTestSupport
import PacketCapture
import Testing

@Suite struct CaptureFileTests {
    let packet = buildIPv4(src: pool, dst: server4, l4: .udp(src: 1, dst: 2, payload: [UInt8](repeating: 7, count: 72)))

    @Test func rotatesBySizeAndKeepsAtMostMaxFiles() throws {
        let dir = ScratchDirectory()
        let perFile = 3
        let recordSize = 16 + packet.count
        let stream = try CaptureFile(path: dir.file("in4.pcap"), maxBytes: 24 + perFile * recordSize, maxFiles: 3)
        for i in 0..<(perFile * 5 + 1) {  // 16 packets: files of 3, 3, 3, 3, 3, 1
            packet.withUnsafeBytes { stream.write($0, timestamp: ts(Double(i))) }
        }
        stream.close()
        #expect(stream.rotations == 5)
        #expect(stream.packets == 16)
        #expect(stream.errors == 0)
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
        #expect(names == ["in4.1.pcap", "in4.2.pcap", "in4.pcap"])
        #expect(try readPcap(dir.file("in4.pcap")).map(\.timestamp) == [ts(15)], "newest file")
        #expect(try readPcap(dir.file("in4.1.pcap")).map(\.timestamp) == [ts(12), ts(13), ts(14)])
        #expect(try readPcap(dir.file("in4.2.pcap")).map(\.timestamp) == [ts(9), ts(10), ts(11)], "oldest kept")
        for name in names { #expect(fileBytes(dir.file(name)).count <= 24 + perFile * recordSize) }
    }

    @Test func oversizedPacketStillGetsAFileOfItsOwn() throws {
        let dir = ScratchDirectory()
        let stream = try CaptureFile(path: dir.file("x.pcap"), maxBytes: 50, maxFiles: 2)
        for i in 0..<3 { packet.withUnsafeBytes { stream.write($0, timestamp: ts(Double(i))) } }
        stream.close()
        #expect(stream.packets == 3)
        #expect(try readPcap(dir.file("x.pcap")).count == 1)
        #expect(try readPcap(dir.file("x.1.pcap")).count == 1)
    }

    @Test func dropStreamWritesReasonsNumberedLikeTcpdump() throws {
        let dir = ScratchDirectory()
        let stream = try CaptureFile(path: dir.file("drops.pcap"), recordsReasons: true)
        for (i, reason) in [DropReason.noState, .hopLimitExceeded, .notInPrefix].enumerated() {
            packet.withUnsafeBytes { stream.write($0, timestamp: ts(Double(i)), reason: reason) }
        }
        stream.close()
        #expect(CaptureFile.reasonsPath(for: dir.file("drops.pcap")) == dir.file("drops.reasons"))
        let text = try String(contentsOfFile: dir.file("drops.reasons"), encoding: .utf8)
        #expect(text == "# drop reasons for drops.pcap: <packet number> <reason>\n"
            + "1 no-state\n2 hop-limit-exceeded\n3 not-in-prefix\n")
        #expect(try readPcap(dir.file("drops.pcap")).count == 3)
    }

    @Test func sidecarsRotateWithTheirPcap() throws {
        let dir = ScratchDirectory()
        let stream = try CaptureFile(path: dir.file("drops.pcap"), maxBytes: 24 + 2 * (16 + packet.count),
                                     maxFiles: 2, recordsReasons: true)
        for i in 0..<3 { packet.withUnsafeBytes { stream.write($0, timestamp: ts(Double(i)), reason: .noState) } }
        stream.close()
        let old = try String(contentsOfFile: dir.file("drops.1.reasons"), encoding: .utf8)
        let new = try String(contentsOfFile: dir.file("drops.reasons"), encoding: .utf8)
        #expect(old.split(separator: "\n").dropFirst() == ["1 no-state", "2 no-state"])
        #expect(new.split(separator: "\n").dropFirst() == ["1 no-state"])
    }

    /// A write failure closes the stream and counts, never traps: /dev/full fails every flush with ENOSPC.
    @Test func diskFullIsCountedNotFatal() throws {
        let stream = try CaptureFile(path: "/dev/full")
        packet.withUnsafeBytes { stream.write($0, timestamp: ts(0)) }
        stream.flush()
        #expect(stream.errors == 1)
        #expect(stream.failure?.contains("No space left on device") == true, "\(String(describing: stream.failure))")
        packet.withUnsafeBytes { stream.write($0, timestamp: ts(1)) }
        #expect(stream.errors == 2, "later packets are counted as not stored")
    }
}
