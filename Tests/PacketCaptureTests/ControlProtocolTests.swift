// The control socket's line protocol, option parsing, and a real socket round trip (server thread + ctl's
// client), without a running daemon.
import Foundation
import NAT64Translator
import PacketTestSupport
import PacketCapture
import Testing

@testable import nat64d

@Suite struct ControlProtocolTests {
    @Test func wordsRoundTripThroughQuoting() throws {
        let words = ["capture", "start", "--filter", "host 198.51.100.10 and tcp port 80", "--dir", "/tmp/a \"b\"\\c", ""]
        let line = try ControlProtocol.requestLine(words).get()
        #expect(line == "capture start --filter \"host 198.51.100.10 and tcp port 80\" --dir \"/tmp/a \\\"b\\\"\\\\c\" \"\"\n")
        #expect(try ControlProtocol.words(String(line.dropLast())).get() == words)
        #expect(throws: ControlError.self) { try ControlProtocol.words("capture start --filter \"tcp").get() }
        #expect(throws: ControlError.self) { try ControlProtocol.requestLine(["a\nb"]).get() }
    }

    @Test func responsesEndWithOneStatusLine() {
        #expect(ControlProtocol.response(.success(["a 1", "b 2"])) == "a 1\nb 2\nOK\n")
        #expect(ControlProtocol.response(.failure(ControlError("no"))) == "ERROR no\n")
        #expect(ControlProtocol.parseResponse("a 1\nOK\n") == .success(["a 1"]))
        #expect(ControlProtocol.parseResponse("ERROR capture is not running\n") == .failure(ControlError("capture is not running")))
        #expect(ControlProtocol.parseResponse("") == .failure(ControlError("nat64d closed the connection without answering")))
        if case .success = ControlProtocol.parseResponse("a 1\nb") { Issue.record("a cut-off answer must be an error") }
    }

    @Test func captureStartOptionsOverrideTheConfiguredDefaults() throws {
        let defaults = CaptureSettings(directory: "/var/lib/nat64d/capture")
        let s = try ControlCommands.captureSettings(
            ["--dir", "/tmp/c", "--filter", "icmp", "--max-size", "2", "--max-files", "3"], defaults: defaults).get()
        #expect(s == CaptureSettings(directory: "/tmp/c", filter: "icmp", maxFileBytes: 2 << 20, maxFiles: 3))
        #expect(try ControlCommands.captureSettings([], defaults: defaults).get() == defaults)
        for bad in [["--dir", "rel"], ["--max-size", "0"], ["--max-files", "x"], ["--filter"], ["--bogus", "1"]] {
            #expect(throws: ControlError.self, "\(bad)") { try ControlCommands.captureSettings(bad, defaults: defaults).get() }
        }
    }

    @Test func serverAndClientOverARealSocket() throws {
        let dir = ScratchDirectory()
        let path = dir.file("sub/control.sock")
        let server = try ControlServer(path: path)
        try server.start { words in
            words == ["fail"] ? .failure(ControlError("asked to fail")) : .success(["echo " + words.joined(separator: "|")])
        }
        defer { server.stop() }
        var info = stat()
        #expect(stat(path, &info) == 0 && info.st_mode & 0o777 == 0o600, "socket mode 0600")
        let line = try ControlProtocol.requestLine(["capture", "start", "--filter", "tcp port 80"]).get()
        let answer = try CtlCommand.exchange(line, socket: path).flatMap(ControlProtocol.parseResponse).get()
        #expect(answer == ["echo capture|start|--filter|tcp port 80"])
        let failed = CtlCommand.exchange("fail\n", socket: path).flatMap(ControlProtocol.parseResponse)
        #expect(failed == .failure(ControlError("asked to fail")))
        // A second server on a live socket is refused; a stale file is replaced.
        let error = #expect(throws: SocketError.self) { _ = try ControlServer(path: path) }
        #expect(error?.message.contains("another process") == true)
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
