// The control plane without a daemon: the JSON request/reply round trip, and the NIO server on a real Unix
// socket in a temporary directory: concurrent clients, the idle timeout, the connection cap, the request size
// bound and malformed requests, each counted. Time is never measured: each test waits for a behaviour.
import Foundation
import GatewayConfig
import Glibc
import NIOCore
import Synchronization
import Testing

@testable import nat64d

/// A fresh directory under /tmp, removed at the end.
final class SocketDirectory {
    let path: String
    init() {
        var template = Array("/tmp/nat64d-ctl-XXXXXX".utf8CString)
        path = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
    }
    deinit { _ = try? FileManager.default.removeItem(atPath: path) }
    var socket: String { path + "/sub/control.sock" }
}

@Suite struct ControlProtocolTests {
    @Test func requestsRoundTripAsOneJSONLine() throws {
        var request = ControlRequest(.captureStart, json: true)
        request.capture = .init(dir: "/tmp/a \"b\"\\c", filter: "host 198.51.100.10 and tcp port 80", maxSizeMB: 2,
                                maxFiles: 3)
        request.sessions = .init(proto: "tcp", ipv6: "2001:db8::/64", ipv4: "198.51.100.1", port: 80, limit: 5)
        request.who = .init(address: "192.0.2.1", port: 40312, at: "2026-12-01T14:03")
        request.flush = true
        let line = try ControlProtocol.line(request)
        #expect(line.last == UInt8(ascii: "\n"))
        #expect(line.dropLast().contains(UInt8(ascii: "\n")) == false, "one line, whatever the arguments hold")
        #expect(try ControlProtocol.decode(ControlRequest.self, from: line) == request)
        // Every command by its wire name; `json` may be left out.
        for command in ControlRequest.Command.allCases {
            let decoded = try ControlProtocol.decode(
                ControlRequest.self, from: Array("{\"command\":\"\(command.rawValue)\"}".utf8))
            #expect(decoded == ControlRequest(command))
        }
        #expect(throws: DecodingError.self) {
            try ControlProtocol.decode(ControlRequest.self, from: Array("{\"command\":\"stat\"}".utf8))
        }
    }

    @Test func repliesKeepSixtyFourBitCountersExact() throws {
        struct Counters: Encodable { var big: UInt64; var negative: Int; var name: String; var nested: [String: [Int]] }
        let reply = ControlReply.json(Counters(big: UInt64.max - 1, negative: -3, name: "a\nb", nested: ["x": [1, 2]]))
        let decoded = try ControlProtocol.decode(ControlReply.self, from: ControlProtocol.line(reply))
        #expect(decoded == reply)
        #expect(decoded.result?["big"] == .uint(UInt64.max - 1))
        #expect(decoded.result?["negative"] == .int(-3))
        #expect(decoded.result?["nested"]?["x"] == .array([.int(1), .int(2)]))
        #expect(ControlReply(.failure(ControlError("no"))) == ControlReply(error: "no"))
        #expect(ControlReply(.success(["a 1"])) == ControlReply(lines: ["a 1"]))
    }
}

@Suite struct ControlServerTests {
    /// A server answering `stats` with lines and every other command with an error.
    func server(_ dir: SocketDirectory, _ limits: ControlServer.Limits = .init()) throws -> ControlServer {
        let server = try ControlServer(path: dir.socket, limits: limits)
        server.start { request in
            request.command == .stats ? .text(["json \(request.json)"]) : .failure(ControlError("asked \(request.command)"))
        }
        return server
    }

    /// Sends raw bytes on a new connection and reads until the server closes it.
    func raw(_ bytes: String, to path: String) throws -> String {
        let c = try SocketFD.connect(to: path)
        c.setTimeouts(seconds: 60)  // a safety net for a broken server, not a measurement
        let sent = c.writeAll(bytes)
        #expect(sent)
        return c.readAll(limit: 1 << 20)
    }

    @Test func answersOverARealSocketWithMode0600() throws {
        let dir = SocketDirectory()
        let server = try server(dir)
        defer { server.stop() }
        var info = stat()
        #expect(stat(dir.socket, &info) == 0 && info.st_mode & 0o777 == 0o600, "socket mode 0600")
        let reply = try CtlClient.exchange(ControlRequest(.stats, json: true), socket: dir.socket).get()
        #expect(reply == ControlReply(lines: ["json true"]))
        #expect(try CtlClient.exchange(ControlRequest(.bib), socket: dir.socket).get() == ControlReply(error: "asked bib"))
        // A second server on a live socket is refused.
        let error = #expect(throws: SocketError.self) { _ = try ControlServer(path: dir.socket) }
        #expect(error?.message.contains("another process") == true)
    }

    @Test func aStaleSocketFileIsReplacedAndRemovedOnStop() throws {
        let dir = SocketDirectory()
        try server(dir).stop()
        #expect(!fileExists(dir.socket), "stop removes the socket file")
        // A socket file nobody listens on (a daemon that died) is taken over.
        let stale = try SocketFD.unixStream(path: dir.socket)
        _ = try SocketFD.withAddress(dir.socket) { bind(stale.fd, $0, $1) }
        #expect(fileExists(dir.socket))
        let server = try server(dir)
        defer { server.stop() }
        #expect(try CtlClient.exchange(ControlRequest(.stats), socket: dir.socket).get().lines == ["json false"])
    }

    @Test func aServerDroppedWithoutStopRemovesItsSocketFile() throws {
        let dir = SocketDirectory()
        do {
            let dropped = try server(dir)
            withExtendedLifetime(dropped) { #expect(fileExists(dir.socket)) }
        }
        #expect(!fileExists(dir.socket), "a start-up that fails after binding leaves no socket behind")
    }

    @Test func twoIdleClientsDoNotBlockAThird() throws {
        let dir = SocketDirectory()
        let server = try server(dir)
        defer { server.stop() }
        let idle1 = try SocketFD.connect(to: dir.socket)
        let idle2 = try SocketFD.connect(to: dir.socket)
        let sent = idle1.writeAll("{\"comm")
        #expect(sent, "half a request, then nothing")
        let reply = try CtlClient.exchange(ControlRequest(.stats), socket: dir.socket).get()
        #expect(reply.lines == ["json false"])
        #expect(idle2.fd >= 0 && server.counters.open.load(ordering: .relaxed) >= 2, "the idle two are still open")
    }

    @Test func aCommandThatWaitsDoesNotHoldTheEventLoop() throws {
        let dir = SocketDirectory()
        let server = try ControlServer(path: dir.socket)
        defer { server.stop() }
        let entered = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        server.start { request in
            guard request.command == .reload else { return .text(["quick"]) }
            entered.signal()
            release.wait()  // a command waiting on a packet thread's mailbox or the reloader
            return .text(["slow"])
        }
        let slow = Mutex<ControlReply?>(nil)
        let done = DispatchSemaphore(value: 0)
        let path = dir.socket
        Thread.detachNewThread {
            let reply = try? CtlClient.exchange(ControlRequest(.reload), socket: path).get()
            slow.withLock { $0 = reply }
            done.signal()
        }
        #expect(entered.wait(timeout: .now() + 60) == .success, "the slow command started")
        // While it waits, the event loop still accepts and answers.
        #expect(try CtlClient.exchange(ControlRequest(.stats), socket: dir.socket).get().lines == ["quick"])
        release.signal()
        #expect(done.wait(timeout: .now() + 60) == .success)
        #expect(slow.withLock { $0 }?.lines == ["slow"])
    }

    @Test func anIdleConnectionIsClosedAndCounted() throws {
        let dir = SocketDirectory()
        var limits = ControlServer.Limits()
        limits.idleTimeout = .milliseconds(20)
        let server = try server(dir, limits)
        defer { server.stop() }
        let idle = try SocketFD.connect(to: dir.socket)
        idle.setTimeouts(seconds: 60)
        #expect(idle.readAll(limit: 1024) == "", "the server closes without an answer")
        #expect(server.counters.timedOut.load(ordering: .relaxed) == 1)
    }

    @Test func connectionsOverTheCapAreRefusedAndCounted() throws {
        let dir = SocketDirectory()
        var limits = ControlServer.Limits()
        limits.maxConnections = 2
        let server = try server(dir, limits)
        defer { server.stop() }
        let idle1 = try SocketFD.connect(to: dir.socket)
        let idle2 = try SocketFD.connect(to: dir.socket)
        let reply = try CtlClient.exchange(ControlRequest(.stats), socket: dir.socket).get()
        #expect(reply.error?.contains("too many control connections") == true)
        #expect(server.counters.refused.load(ordering: .relaxed) == 1)
        #expect(idle1.fd != idle2.fd)
    }

    @Test func anOversizedOrMalformedRequestIsAnsweredWithAnError() throws {
        let dir = SocketDirectory()
        var limits = ControlServer.Limits()
        limits.maxRequestLength = 100
        let server = try server(dir, limits)
        defer { server.stop() }
        let long = try ControlProtocol.decode(ControlReply.self, from: Array(raw(String(repeating: "x", count: 500), to: dir.socket).utf8))
        #expect(long.error == "the request is longer than 100 bytes")
        #expect(server.counters.oversized.load(ordering: .relaxed) == 1)
        let bad = try ControlProtocol.decode(ControlReply.self, from: Array(raw("stats --json\n", to: dir.socket).utf8))
        #expect(bad.error?.contains("not a control request in JSON") == true)
        #expect(server.counters.malformed.load(ordering: .relaxed) == 1)
        // A request by hand, as `socat` would send it.
        let byHand = try raw("{\"command\":\"stats\",\"json\":true}\n", to: dir.socket)
        #expect(byHand == "{\"lines\":[\"json true\"]}\n")
    }
}

/// A small configuration with a translator and a DNS64 (udp-timeout 120).
func sampleConfiguration() throws -> GatewayConfiguration {
    try GatewayConfiguration.parse("""
        [translator]
        prefix = "2001:db8:64::/96"
        pool4 = ["192.0.2.0/30"]
        udp-timeout = 120
        [gateway]
        ipv4 = "198.51.100.1"
        ipv6 = "2001:db8:1::1"
        [dns64]
        listen = ["[2001:db8:1::1]:53"]
        upstream = ["198.51.100.10:53"]
        """, file: "t.toml")
}

@Suite struct ConfigReportTests {
    @Test func everyKeyWithItsEffectiveValue() throws {
        let c = try sampleConfiguration()
        let reply = ConfigReport.reply(c, json: true)
        let settings = try #require(reply.result?["settings"])
        #expect(settings["translator.udp-timeout"] == .int(120))
        #expect(settings["translator.prefix"] == .string("2001:db8:64::/96"))
        #expect(settings["tun.name"] == .string(c.tun.name), "a default is filled in")
        #expect(settings["dns64.prefix"] == .array([.string("2001:db8:64::/96")]))
        #expect(settings["dns64.upstream"] == .array([.string("198.51.100.10:53")]))
        #expect(settings["dns64.listen"] == .array([.string("[2001:db8:1::1]:53")]))
        for (key, _) in c.effectiveValues { #expect(settings[key] != nil, "\(key)") }
        #expect(settings["translator.udp-zero-checksum"] == .string("compute"), "one member of a grouped key")
        #expect(settings["translator.port-blocks-per-host"] == .int(Int64(c.translator.portBlocks.perHost)))
        #expect(settings["mapping-log"]?["max-size-mb"] != nil, "members spelled as the file spells keys")
        #expect(ConfigReport.kebab("maxSizeMB") == "max-size-mb" && ConfigReport.kebab("rfc6791Pool4") == "rfc6791-pool4")
        let text = try #require(ConfigReport.reply(c, json: false).lines)
        #expect(text.first == "[tun]")
        #expect(text.contains("udp-timeout = 120"))
        #expect(text.contains("[translator]"))
    }
}
