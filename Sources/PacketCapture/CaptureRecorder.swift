// Live capture for the daemon's packet thread: what entered the translator, what left it, and what it dropped
// and why, each side in its own file, with an optional BPF filter and size-based rotation.
//
// Files in the capture directory (each rotates as CaptureFile describes):
//   in6.pcap    IPv6 packets received from the IPv6 side (read from the TUN), dropped ones included
//   out4.pcap   IPv4 packets sent towards the IPv4 side (translations, and ICMPv4 errors the gateway generates)
//   in4.pcap    IPv4 packets received from the IPv4 side, dropped ones included
//   out6.pcap   IPv6 packets sent towards the IPv6 side (translations, and ICMPv6 errors)
//   drops.pcap  every packet the translator did not translate, as received, with drops.reasons beside it
// All are LINKTYPE_RAW, written by libpcap; tcpdump, tshark and Wireshark read them (also while open: the
// daemon flushes once a second and when capture stops).
//
// The filter keeps a packet together with its translation: a received packet and what the gateway sent for
// it (translation or ICMP error) are both stored when either one matches. So `host 198.51.100.10` (an IPv4
// address) also keeps the IPv6 packets of that flow, whose destination is the address embedded in the prefix.
import NAT64Translator
#if canImport(Glibc)
import Glibc
#endif

/// What to capture and where; the `[capture]` config section and `capture start` options resolve to this.
public struct CaptureSettings: Sendable, Equatable {
    /// Directory for the files (created, mode 0700, when missing).
    public var directory: String
    /// A pcap-filter(7) expression; empty keeps every packet.
    public var filter: String
    /// Rotate a file when it would grow beyond this many bytes.
    public var maxFileBytes: Int
    /// Files kept per stream, the current one included.
    public var maxFiles: Int

    /// Creates settings.
    ///
    /// - Parameters:
    ///   - directory: where to write.
    ///   - filter: the BPF expression, or empty.
    ///   - maxFileBytes: the rotation size.
    ///   - maxFiles: files kept per stream.
    public init(directory: String, filter: String = "", maxFileBytes: Int = 64 << 20, maxFiles: Int = 10) {
        self.directory = directory
        self.filter = filter
        self.maxFileBytes = maxFileBytes
        self.maxFiles = maxFiles
    }
}

/// Counters of one capture stream, for `capture status`.
public struct CaptureStreamStatus: Sendable, Equatable {
    /// The stream's current file.
    public var path: String
    /// Packets stored.
    public var packets: UInt64
    /// Bytes written, over all rotations.
    public var bytes: UInt64
    /// Packets not stored because of write errors, plus failed flushes.
    public var errors: UInt64
    /// Rotations so far.
    public var rotations: Int
    /// Why the stream stopped writing, if it did.
    public var failure: String?
}

/// A snapshot of a running capture.
public struct CaptureStatus: Sendable, Equatable {
    /// The settings it runs with.
    public var settings: CaptureSettings
    /// When it started.
    public var started: PcapTimestamp
    /// in6, out4, in4, out6, drops.
    public var streams: [CaptureStreamStatus]
    /// Packets (with their translations) the filter left out.
    public var filteredOut: UInt64
}

/// The live capture of one packet thread. Owned by one thread at a time: built and checked on the control
/// thread, handed to the packet thread, handed back to be closed.
///
/// Per packet, the packet thread calls `stash(_:)` before translating and `record(_:output:)` after.
public final class CaptureRecorder: @unchecked Sendable {
    // @unchecked: confined to one thread at a time (see above); the hand-over goes through a lock.
    /// The settings it was started with.
    public let settings: CaptureSettings
    /// When it started.
    public let started: PcapTimestamp
    private let filter: PacketFilter?
    private let in6: CaptureFile
    private let out4: CaptureFile
    private let in4: CaptureFile
    private let out6: CaptureFile
    private let drops: CaptureFile
    private let scratch: UnsafeMutableRawPointer
    private let scratchCapacity = 65_536 + 512
    private var stashedCount = 0
    private var stashedTime = PcapTimestamp(seconds: 0)
    private var filteredOut: UInt64 = 0

    /// Compiles the filter, creates the directory and opens every file.
    ///
    /// - Parameter settings: what to capture and where.
    /// - Throws: `PcapError` for a bad filter, or naming the directory or file that could not be created.
    public init(settings: CaptureSettings) throws(PcapError) {
        self.settings = settings
        filter = settings.filter.isEmpty ? nil : try PacketFilter(settings.filter)
        try Self.makeDirectory(settings.directory)
        func stream(_ name: String, reasons: Bool = false) throws(PcapError) -> CaptureFile {
            try CaptureFile(path: settings.directory + "/" + name + ".pcap", maxBytes: settings.maxFileBytes,
                            maxFiles: settings.maxFiles, recordsReasons: reasons, permissions: 0o600)
        }
        in6 = try stream("in6")
        out4 = try stream("out4")
        in4 = try stream("in4")
        out6 = try stream("out6")
        drops = try stream("drops", reasons: true)
        scratch = UnsafeMutableRawPointer.allocate(byteCount: scratchCapacity, alignment: 16)
        started = .now()
    }

    deinit { scratch.deallocate() }

    /// `mkdir -p` with mode 0700 for the directories it creates.
    static func makeDirectory(_ path: String) throws(PcapError) {
        var prefix = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/") {
            prefix += "/" + part
            if mkdir(prefix, 0o700) != 0 && errno != EEXIST {
                throw PcapError(.openFailed, subject: prefix, call: "mkdir", message: errnoText())
            }
        }
        var info = stat()
        guard stat(path, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else {
            throw PcapError(.openFailed, subject: path, call: "stat", message: "not a directory")
        }
    }

    /// Remembers the received packet and its arrival time; call before translating it (translation rewrites
    /// the buffer in place).
    ///
    /// - Parameter packet: the packet as read.
    /// Whether the last `record` kept its packet (so `recordAdditional` follows it).
    private var lastKept = false

    public func stash(_ packet: UnsafeRawBufferPointer) {
        stashedCount = min(packet.count, scratchCapacity)
        if let base = packet.baseAddress, stashedCount > 0 { scratch.copyMemory(from: base, byteCount: stashedCount) }
        stashedTime = .now()
    }

    /// Stores the stashed packet and what became of it, if it or its output passes the filter.
    ///
    /// - Parameters:
    ///   - verdict: the translator's verdict.
    ///   - output: the translated packet (`.translated`), the ICMP error (`.icmpError`), or empty (`.drop`).
    public func record(_ verdict: Verdict, output: UnsafeRawBufferPointer) {
        let input = UnsafeRawBufferPointer(start: scratch, count: stashedCount)
        if filter?.matches(input) == false, output.isEmpty || filter?.matches(output) == false {
            filteredOut &+= 1
            lastKept = false
            return
        }
        lastKept = true
        switch input.first.map({ $0 >> 4 }) {
        case 6: in6.write(input, timestamp: stashedTime)
        case 4: in4.write(input, timestamp: stashedTime)
        default: break
        }
        switch verdict {
        case .translated, .translatedFragments: break
        case .drop(let reason), .icmpError(let reason): drops.write(input, timestamp: stashedTime, reason: reason)
        }
        writeOutput(output)
    }

    /// Stores one more output of the last recorded packet (the second and later IPv6 fragments of a
    /// `.translatedFragments` verdict), kept or filtered out together with the first.
    public func recordAdditional(output: UnsafeRawBufferPointer) {
        if lastKept { writeOutput(output) }
    }

    /// Stores a packet the translator generated on its own (an ICMP error sent from the timer, such as the
    /// S6 answer to a held SYN), subject to the filter.
    public func recordGenerated(_ output: UnsafeRawBufferPointer) {
        if filter?.matches(output) == false { filteredOut &+= 1; return }
        stashedTime = .now()
        writeOutput(output)
    }

    private func writeOutput(_ output: UnsafeRawBufferPointer) {
        switch output.first.map({ $0 >> 4 }) {
        case 6: out6.write(output, timestamp: stashedTime)
        case 4: out4.write(output, timestamp: stashedTime)
        default: break
        }
    }

    /// Pushes buffered records to disk (the packet thread calls this once a second).
    public func flush() {
        for s in [in6, out4, in4, out6, drops] { s.flush() }
    }

    /// Flushes and closes every file.
    public func close() {
        for s in [in6, out4, in4, out6, drops] { s.close() }
    }

    /// Counters for `capture status`.
    public var status: CaptureStatus {
        CaptureStatus(
            settings: settings, started: started,
            streams: [in6, out4, in4, out6, drops].map {
                CaptureStreamStatus(path: $0.path, packets: $0.packets, bytes: $0.bytes, errors: $0.errors,
                                    rotations: $0.rotations, failure: $0.failure)
            },
            filteredOut: filteredOut)
    }
}
