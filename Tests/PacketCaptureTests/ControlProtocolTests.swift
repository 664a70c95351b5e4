// The control commands' capture options and session lines, without a running daemon (the protocol and the
// server: Tests/nat64dTests/ControlServerTests.swift).
import Foundation
import NAT64Translator
import PacketTestSupport
import PacketCapture
import Testing

@testable import nat64d

@Suite struct ControlProtocolTests {
    @Test func captureStartOptionsOverrideTheConfiguredDefaults() throws {
        let defaults = CaptureSettings(directory: "/var/lib/nat64d/capture")
        let s = try ControlCommands.captureSettings(
            .init(dir: "/tmp/c", filter: "icmp", maxSizeMB: 2, maxFiles: 3), defaults: defaults).get()
        #expect(s == CaptureSettings(directory: "/tmp/c", filter: "icmp", maxFileBytes: 2 << 20, maxFiles: 3))
        #expect(try ControlCommands.captureSettings(.init(), defaults: defaults).get() == defaults)
        for bad: ControlRequest.Capture in [.init(dir: "rel"), .init(maxSizeMB: 0), .init(maxFiles: 1001)] {
            #expect(throws: ControlError.self, "\(bad)") { try ControlCommands.captureSettings(bad, defaults: defaults).get() }
        }
    }

    @Test func sessionLinesNameBothSides() throws {
        var translator = Translator(configuration: translatorConfiguration())
        var packet = PacketBuffer()
        var reply = PacketBuffer(capacity: 4096)
        packet.load(buildIPv6(src: client, dst: server6, l4: .udp(src: 5000, dst: 53, payload: [])))
        #expect(translator.translate(&packet, reply: &reply, now: 1_000_000_000) == .translated)
        let port = Parsed(bytes: packet.bytes).srcPort
        let binding = try #require(translator.table.bindings.first)
        #expect(ControlCommands.describe(binding, now: 4_500_000_000) == "udp [2001:db8:1::2]:5000 192.0.2.1:\(port) idle=3s")
    }
}
