// Offline replay: every packet of a capture file goes through the same translator core as the daemon
// (`Translator.translate(_:reply:now:)`), with the clock taken from the file's timestamps, so mappings are
// made, used and expire as they would have live. Deterministic: the same input, configuration and seed give
// the same output bytes.
import NAT64Translator

/// What replay did with one input record.
public enum ReplayOutcome: Equatable, Sendable, CustomStringConvertible {
    /// Translated; the result is in the output file.
    case translated
    /// Dropped for the reason; the packet is in the drops file.
    case dropped(DropReason)
    /// Dropped for the reason and an ICMP error sent; the error is in the output file, the packet in drops.
    case icmpError(DropReason)
    /// Not given to the translator: the record holds no IP packet (ARP…) or one too large for the buffer.
    case skipped(String)

    /// `translated`, `drop REASON`, `icmp-error REASON` or `skipped WHY`.
    public var description: String {
        switch self {
        case .translated: "translated"
        case .dropped(let reason): "drop \(reason)"
        case .icmpError(let reason): "icmp-error \(reason)"
        case .skipped(let why): "skipped \(why)"
        }
    }
}

/// One line of a replay report.
public struct ReplayRecord: Equatable, Sendable, CustomStringConvertible {
    /// The record's number in the input file, from 1 (as tcpdump -# numbers them).
    public var number: Int
    /// Its timestamp.
    public var timestamp: PcapTimestamp
    /// What became of it.
    public var outcome: ReplayOutcome

    /// `NUMBER OUTCOME`, e.g. `3 drop no-state`.
    public var description: String { "\(number) \(outcome)" }
}

/// Totals of a replay run.
public struct ReplaySummary: Equatable, Sendable, CustomStringConvertible {
    /// Records read.
    public var packets = 0
    /// Packets translated.
    public var translated = 0
    /// Packets dropped without an ICMP error.
    public var dropped = 0
    /// Packets dropped with an ICMP error sent.
    public var icmpErrors = 0
    /// Records not given to the translator.
    public var skipped = 0
    /// The translator's counters at the end (every `DropReason`).
    public var counters = TranslatorCounters()
    /// Mappings alive at the end.
    public var sessions = 0

    /// `N packets: N translated, N dropped, N icmp-error, N skipped`.
    public var description: String {
        "\(packets) packets: \(translated) translated, \(dropped) dropped, \(icmpErrors) icmp-error, \(skipped) skipped"
    }
}

/// Replays capture files through a translator.
public enum Replay {
    /// How often the daemon expires idle mappings; replay advances its clock in the same steps.
    public static let housekeepingInterval: Nanoseconds = 1_000_000_000

    /// Replays `input` into `output` (and `drops`).
    ///
    /// - Parameters:
    ///   - configuration: the translator's configuration; its `seed` fixes ports and IPv4 identifications.
    ///   - input: a pcap/pcapng file of raw IP, Ethernet, Linux cooked (SLL/SLL2) or BSD loopback frames.
    ///   - output: the pcap file (LINKTYPE_RAW) to create with the translated packets and ICMP errors, in order.
    ///   - drops: an optional pcap file for dropped packets, with a `.reasons` sidecar (see `CaptureFile`).
    ///   - each: called once per input record, in order.
    /// - Returns: the totals.
    /// - Throws: `PcapError` naming the file and call for an unreadable, truncated or unsupported input, or an
    ///   output that cannot be written. Output written before the error stays on disk.
    public static func run(
        configuration: TranslatorConfiguration, input: String, output: String, drops: String? = nil,
        each: (ReplayRecord) -> Void = { _ in }
    ) throws(PcapError) -> ReplaySummary {
        var reader = try PcapReader(path: input)
        guard reader.linkType.isSupported else {
            throw PcapError(.unsupportedLinkType, subject: input, call: "pcap_datalink",
                            message: "link type \(reader.linkType) is not supported; use raw IP, Ethernet or "
                                + "Linux cooked captures (tcpdump -i any)")
        }
        let out = try CaptureFile(path: output)
        let dropFile = try drops.map { path throws(PcapError) in try CaptureFile(path: path, recordsReasons: true) }
        var translator = Translator(configuration: configuration)
        var packet = PacketBuffer()
        var reply = PacketBuffer(capacity: PacketBuffer.headroom + 2048)
        var clock = ReplayClock(capacity: configuration.maxSessions)
        var summary = ReplaySummary()

        while let record = try reader.next() {
            summary.packets += 1
            let outcome: ReplayOutcome
            switch reader.linkType.payload(of: record.data) {
            case .notIP(let why):
                outcome = .skipped(why)
            case .ip(let offset):
                let ip = Array(record.data[min(offset, record.data.count)...])
                if ip.count > packet.capacity - PacketBuffer.headroom {
                    outcome = .skipped("packet of \(ip.count) bytes is larger than the translator's buffer")
                    break
                }
                let now = clock.advance(to: record.timestamp.nanoseconds) { translator.expire(now: $0) }
                packet.load(ip)
                let verdict = translator.translate(&packet, reply: &reply, now: now)
                switch verdict {
                case .translated:
                    out.write(UnsafeRawBufferPointer(packet.packet), timestamp: record.timestamp)
                    outcome = .translated
                case .translatedFragments(let count):
                    for i in 0..<count { out.write(translator.fragment(at: i), timestamp: record.timestamp) }
                    outcome = .translated
                case .icmpError(let reason):
                    out.write(UnsafeRawBufferPointer(reply.packet), timestamp: record.timestamp)
                    ip.withUnsafeBytes { dropFile?.write($0, timestamp: record.timestamp, reason: reason) }
                    outcome = .icmpError(reason)
                case .drop(let reason):
                    ip.withUnsafeBytes { dropFile?.write($0, timestamp: record.timestamp, reason: reason) }
                    outcome = .dropped(reason)
                }
            }
            switch outcome {
            case .translated: summary.translated += 1
            case .dropped: summary.dropped += 1
            case .icmpError: summary.icmpErrors += 1
            case .skipped: summary.skipped += 1
            }
            each(ReplayRecord(number: summary.packets, timestamp: record.timestamp, outcome: outcome))
        }
        out.close()
        dropFile?.close()
        for file in [out, dropFile].compactMap({ $0 }) {
            if let failure = file.failure {
                throw PcapError(.writeFailed, subject: file.path, call: "pcap_dump", message: failure)
            }
        }
        summary.counters = translator.counters
        summary.sessions = translator.table.count
        return summary
    }
}

/// The replay clock: file timestamps made monotonic, with the daemon's once-a-second housekeeping replayed
/// between packets.
struct ReplayClock {
    private var now: Nanoseconds?
    private var nextHousekeeping: Nanoseconds = 0
    /// Calls after which one pass of `expire` has certainly visited every slot (the daemon's budget is 4096).
    private let fullSweep: Int

    init(capacity: Int) { fullSweep = capacity / 4096 + 2 }

    /// Moves the clock to `timestamp` (never backwards: merged or reordered files keep time still), running
    /// `expire` for each housekeeping tick passed, as the daemon would, at most `fullSweep` times per gap.
    mutating func advance(to timestamp: Nanoseconds, expire: (Nanoseconds) -> Int) -> Nanoseconds {
        guard let current = now else {
            now = timestamp
            nextHousekeeping = timestamp &+ Replay.housekeepingInterval
            return timestamp
        }
        let t = max(current, timestamp)
        var ticks = 0
        while nextHousekeeping <= t {
            if ticks < fullSweep {
                _ = expire(nextHousekeeping)
                ticks += 1
                nextHousekeeping += Replay.housekeepingInterval
            } else {
                // A long gap: the table has been swept completely; skip to the last tick before `t`.
                let missed = (t - nextHousekeeping) / Replay.housekeepingInterval
                nextHousekeeping += missed * Replay.housekeepingInterval
                _ = expire(nextHousekeeping)
                nextHousekeeping += Replay.housekeepingInterval
            }
        }
        now = t
        return t
    }
}
