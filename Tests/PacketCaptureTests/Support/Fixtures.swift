// Shared fixtures: addresses, a scratch directory per test, pcap files built from byte arrays, and a runner
// for external programs (tcpdump, the nat64d binary).
import Foundation
import NAT64Translator
import PacketCapture
import Testing

let client = IPv6Address("2001:db8:1::2")!
let server4 = IPv4Address("198.51.100.10")!
let pool = IPv4Address("192.0.2.1")!
let prefix = NAT64Prefix("2001:db8:64::/96")!
let server6 = prefix.embed(server4)
let gateway4 = IPv4Address("198.51.100.1")!
let gateway6 = IPv6Address("2001:db8:1::1")!

/// The translator configuration the replay tests use (the netns topology's addresses).
func translatorConfiguration(seed: UInt64 = 7) -> TranslatorConfiguration {
    TranslatorConfiguration(prefix: prefix, pool4: [pool], gatewayIPv4: gateway4, gatewayIPv6: gateway6,
                            maxSessions: 1024, seed: seed)
}

/// A fresh directory under /tmp, removed when the value is deinitialised.
final class ScratchDirectory {
    let path: String

    init() {
        var template = Array("/tmp/nat64d-pcap-test.XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(made != nil, "mkdtemp failed")
        path = String(cString: template)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    func file(_ name: String) -> String { path + "/" + name }
}

/// Timestamp `seconds` after a fixed base time (2024-01-01), for readable golden values.
func ts(_ seconds: Double) -> PcapTimestamp {
    let whole = Int64(seconds.rounded(.down))
    return PcapTimestamp(seconds: 1_704_067_200 + whole, microseconds: Int64(((seconds - Double(whole)) * 1e6).rounded()))
}

/// Writes `packets` (raw IP unless `linkType` says otherwise) to a new pcap file.
func writePcap(_ path: String, _ packets: [(PcapTimestamp, [UInt8])], linkType: LinkType = .raw) throws {
    var writer = try PcapWriter(path: path, linkType: linkType)
    for (t, p) in packets { writer.write(p, timestamp: t) }
    let flushed = writer.flush()
    #expect(flushed)
}

/// Every record of a pcap file.
func readPcap(_ path: String) throws -> [CapturedPacket] {
    var reader = try PcapReader(path: path)
    return try reader.readAll()
}

/// The bytes of a file.
func fileBytes(_ path: String) -> [UInt8] {
    FileManager.default.contents(atPath: path).map { [UInt8]($0) } ?? []
}

/// Output and status of a finished process.
struct ProcessResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// Runs `executable` with `arguments`, waiting for it; nil when it cannot be started.
func runProcess(_ executable: String, _ arguments: [String]) -> ProcessResult? {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    do { try process.run() } catch { return nil }
    // Read before waiting, so a chatty child cannot fill the pipe and block.
    let stdout = out.fileHandleForReading.readDataToEndOfFile()
    let stderr = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return ProcessResult(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                         stderr: String(decoding: stderr, as: UTF8.self))
}

/// The first of the usual tcpdump locations that exists.
let tcpdumpPath: String? = ["/usr/bin/tcpdump", "/usr/sbin/tcpdump"].first { FileManager.default.isExecutableFile(atPath: $0) }

/// The nat64d binary built beside this test bundle (same build directory), or a description of where it was
/// looked for.
let nat64dBinary: String = {
    let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? "/proc/self/exe"
    var dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
    for _ in 0..<3 {  // the test binary sits in the build directory, or inside a bundle in it
        let candidate = dir.appendingPathComponent("nat64d").path
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        dir = dir.deletingLastPathComponent()
    }
    return "nat64d (not found near \(exe))"
}()
