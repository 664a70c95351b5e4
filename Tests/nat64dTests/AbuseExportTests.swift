// the IPFIX encoder's byte layout (RFC 7011 §3, NAT events per RFC 8158) and the mapping log's line
// format as `ctl who` reads it back.
import Foundation
import GatewayConfig
import Logging
import NAT64Translator
import Testing

@testable import nat64d

private let v6 = IPv6Address("2001:db8:1::2")!
private let v4 = IPv4Address("192.0.2.1")!

private func u16(_ b: [UInt8], _ i: Int) -> Int { Int(b[i]) << 8 | Int(b[i + 1]) }
private func u32(_ b: [UInt8], _ i: Int) -> Int { u16(b, i) << 16 | u16(b, i + 2) }

@Suite struct AbuseExportTests {
    @Test("RFC 7011 §3.4.1 / RFC 8158: the template set lists the NAT64 session and port block templates")
    func templateSetLayout() {
        let t = IPFIXEncoder.templateSet
        #expect(u16(t, 0) == 2)  // Template Set ID
        #expect(u16(t, 2) == t.count)
        #expect(u16(t, 4) == 256 && u16(t, 6) == 9)
        let ids = (0..<9).map { u16(t, 8 + 4 * $0) }
        #expect(ids == [323, 230, 4, 27, 7, 225, 227, 226, 228])
        #expect((0..<9).map { u16(t, 10 + 4 * $0) }.reduce(0, +) == 40)
        let second = 8 + 9 * 4
        #expect(u16(t, second) == 257 && u16(t, second + 2) == 8)
        #expect((0..<8).map { u16(t, second + 4 + 4 * $0) } == [323, 230, 27, 225, 361, 362, 363, 364])
    }

    @Test("RFC 7011 §3.1: header, sequence numbers, and a session record in template 256's layout")
    func sessionRecordLayout() {
        var encoder = IPFIXEncoder(observationDomain: 7, destination: false)
        let e = MappingEvent(kind: .sessionCreated, time: 2_000_000_000, proto: 6, inside: v6, insidePort: 51000,
                             outside: v4, outsidePort: 40312, remote: IPv4Address("198.51.100.10")!, remotePort: 80)
        let m = encoder.messages([e, e], wallOffset: 1_700_000_000_000_000_000, exportSeconds: 1_700_000_003,
                                 templates: false)
        #expect(m.count == 1)
        let b = m[0]
        #expect(u16(b, 0) == 10 && u16(b, 2) == b.count && u32(b, 4) == 1_700_000_003 && u32(b, 8) == 0 && u32(b, 12) == 7)
        #expect(u16(b, 16) == 256 && u16(b, 18) == 4 + 2 * 40)
        let r = Array(b[20..<60])
        #expect(u32(r, 0) << 32 | u32(r, 4) == 1_700_000_002_000)  // observationTimeMilliseconds
        #expect(r[8] == 6 && r[9] == 6)  // natEvent 6 NAT64 session create (RFC 8158 Table 2), TCP
        #expect(Array(r[10..<12]) == [0x20, 0x01] && r[25] == 2)
        #expect(u16(r, 26) == 51000 && Array(r[28..<32]) == [192, 0, 2, 1] && u16(r, 32) == 40312)
        #expect(Array(r[34..<40]) == [0, 0, 0, 0, 0, 0])  // no destination unless configured (RFC 6888 §4)
        // The next message's sequence number counts the two records sent.
        let next = encoder.messages([e], wallOffset: 0, exportSeconds: 0, templates: true)
        #expect(u32(next[0], 8) == 2 && u16(next[0], 16) == 2)
    }

    @Test("RFC 8158 §4.7: a port block allocation record carries start, end, step and size")
    func blockRecordLayout() {
        var encoder = IPFIXEncoder(observationDomain: 1, destination: true)
        let e = MappingEvent(kind: .blockAssigned, time: 0, proto: 0, inside: v6, insidePort: 0, outside: v4,
                             outsidePort: 1024, portCount: 128)
        let b = encoder.messages([e], wallOffset: 0, exportSeconds: 0, templates: false)[0]
        #expect(u16(b, 16) == 257 && u16(b, 18) == 4 + 37)
        let r = Array(b[20...])
        #expect(r[8] == 16)  // natEvent 16 port block allocation (RFC 8158 Table 2)
        #expect(Array(r[25..<29]) == [192, 0, 2, 1])
        #expect(u16(r, 29) == 1024 && u16(r, 31) == 1151 && u16(r, 33) == 1 && u16(r, 35) == 128)
    }

    @Test("Mapping log: lines round-trip, and who finds the holder at a time, after deletion and across blocks")
    func logLinesAndWho() {
        let add = MappingEvent(kind: .bibCreated, time: 0, proto: 6, inside: v6, insidePort: 51000, outside: v4,
                               outsidePort: 40312)
        var del = add
        del.kind = .bibDeleted
        del.reason = .expired
        let block = MappingEvent(kind: .blockAssigned, time: 0, proto: 0, inside: IPv6Address("2001:db8:1::9")!,
                                 insidePort: 0, outside: v4, outsidePort: 40256, portCount: 64)
        let t0: Int64 = 1_796_133_802_120_000_000  // 2026-12-01T14:03:22.120Z
        let lines = [MappingLogFormat.line(add, wall: t0, destination: false),
                     MappingLogFormat.line(del, wall: t0 + 90_000_000_000, destination: false),
                     MappingLogFormat.line(block, wall: t0 + 100_000_000_000, destination: false)]
        #expect(lines[0] == "2026-12-01T14:03:22.120Z bib-add tcp [2001:db8:1::2]:51000 192.0.2.1:40312 - -\n")
        #expect(lines[2].contains(" blk-add - [2001:db8:1::9]:0 192.0.2.1:40256-40319 - -"))
        let text = lines.joined().split(separator: "\n")
        let during = MappingLogFormat.holdings(in: text, address: v4, port: 40312, at: "2026-12-01T14:04:00")
        #expect(during.map(\.inside) == [v6] && during[0].until == "2026-12-01T14:04:52.120Z")
        let sameSecond = MappingLogFormat.holdings(in: text, address: v4, port: 40312, at: "2026-12-01T14:03:22")
        #expect(sameSecond.count == 1)
        let later = MappingLogFormat.holdings(in: text, address: v4, port: 40312, at: "2026-12-01T14:05:10")
        #expect(later.map(\.what) == ["block"] && later[0].inside == IPv6Address("2001:db8:1::9")!)
        #expect(MappingLogFormat.holdings(in: text, address: v4, port: 40000, at: nil).isEmpty)
        #expect(MappingLogFormat.parse("garbage line") == nil)
    }
}

@Suite struct MappingLogWriterTests {
    @Test("Mapping log writer: every event becomes a line, files rotate at max-size-mb keeping max-files")
    func writesAndRotates() throws {
        let dir = "/tmp/nat64d-maplog-test-\(getpid())"
        defer { _ = try? FileManager.default.removeItem(atPath: dir) }
        var settings = GatewayConfiguration.MappingLog()
        settings.enabled = true
        settings.path = dir + "/sub/mapping.log"
        settings.detail = .session
        settings.maxSizeMB = 1
        settings.maxFiles = 3
        let writer = try MappingLogWriter(settings: settings, exporter: nil, logger: Logger(label: "test"))
        // about 95 bytes a line: 45000 lines are about 4 MiB, so the oldest file is dropped on rotation.
        for i in 0..<45_000 {
            let e = MappingEvent(kind: i % 2 == 0 ? .sessionCreated : .sessionDeleted, time: Nanoseconds(i),
                                 proto: 17, inside: v6, insidePort: UInt16(i % 60_000), outside: v4,
                                 outsidePort: UInt16(1024 + i % 60_000), remote: IPv4Address("198.51.100.10")!,
                                 remotePort: 53, reason: i % 2 == 0 ? .none : .expired)
            while !writer.events.push(e) { usleep(1000) }  // the test waits for the ring; the packet path never does
        }
        writer.stop()
        let files = MappingLogWriter.files(settings)
        #expect(files == [dir + "/sub/mapping.log.2", dir + "/sub/mapping.log.1", dir + "/sub/mapping.log"])
        var lines = 0
        for f in files {
            let text = String(decoding: FileManager.default.contents(atPath: f) ?? Data(), as: UTF8.self)
            #expect(text.utf8.count <= 1 << 20, "\(f)")
            lines += text.split(separator: "\n").count
            #expect(text.split(separator: "\n").allSatisfy { MappingLogFormat.parse($0) != nil })
        }
        let c = writer.counters
        #expect(c.linesWritten == 45_000 && c.writeFailures == 0 && c.rotations >= 3)
        #expect(lines < 45_000 && lines > 20_000, "three files of at most 1 MiB hold only the newest lines")
        #expect(!FileManager.default.fileExists(atPath: dir + "/sub/mapping.log.3"))
    }
}
