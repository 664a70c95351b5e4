// Offline replay: every packet of a capture file goes through the daemon's own packet loop
// (`ForwardingEngine`, the same batch dispatch and housekeeping the daemon runs on its TUN queues), with the
// clock taken from the file's timestamps, so mappings are made, used and expire, and held SYNs are answered,
// as they would have been live. Deterministic: the same input, configuration and seed give the same bytes.
import NAT64Translator
import PacketCapture

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
    /// Packets the gateway sent on its own timer, not in answer to a record (S6 ICMPv4 3/3 for a SYN held 6 s).
    public var generated = 0

    /// `N packets: N translated, N dropped, N icmp-error, N skipped`.
    public var description: String {
        "\(packets) packets: \(translated) translated, \(dropped) dropped, \(icmpErrors) icmp-error, \(skipped) skipped"
    }
}

/// Replays capture files through the daemon's packet loop.
public enum Replay {
    /// How often the daemon runs housekeeping; replay advances its clock in the same steps.
    public static let housekeepingInterval: Nanoseconds = ForwardingEngine.housekeepingInterval

    /// Replays `input` into `output` (and `drops`).
    ///
    /// - Parameters:
    ///   - configuration: the translator's configuration; its `seed` fixes ports and IPv4 identifications.
    ///   - input: a pcap/pcapng file of raw IP, Ethernet, Linux cooked (SLL/SLL2) or BSD loopback frames.
    ///   - output: the pcap file (LINKTYPE_RAW) to create with the translated packets, the ICMP errors and the
    ///     packets housekeeping generates, in the order the daemon would send them.
    ///   - drops: an optional pcap file for dropped packets, with a `.reasons` sidecar (see `CaptureFile`).
    ///   - each: called once per input record, in order.
    /// - Returns: the totals.
    /// - Throws: `PcapError` naming the file and call for an unreadable, truncated or unsupported input, or an
    ///   output that cannot be written. Output written before the error stays on disk.
    public static func run(
        configuration: TranslatorConfiguration, input: String, output: String, drops: String? = nil,
        each: (ReplayRecord) -> Void = { _ in }
    ) throws(PcapError) -> ReplaySummary {
        var device = try CapturePacketDevice(input: input, output: output)
        let tap = ReplayTap(drops: try drops.map { path throws(PcapError) in
            try CaptureFile(path: path, recordsReasons: true, reasonsNumbering: "input packet number")
        })
        // One record per batch: each packet is translated at its own timestamp.
        var engine = ForwardingEngine(translator: Translator(configuration: configuration), batchSize: 1)
        var clock = ReplayClock(capacity: configuration.maxSessions)
        var summary = ReplaySummary()

        while let timestamp = try device.peekTimestamp() {
            summary.packets += 1
            let t = timestamp.nanoseconds
            while let tick = clock.nextTick(upTo: t) {
                device.outputTime = PcapTimestamp(nanoseconds: tick)
                engine.housekeeping(&device, tap: tap, now: tick)
            }
            let now = clock.settle(at: t)
            device.outputTime = timestamp
            tap.begin(timestamp, number: summary.packets)
            // The capture device never throws DeviceError: its read errors surface from peekTimestamp.
            let read = (try? engine.forwardBatch(&device, tap: tap, now: now)) ?? 0
            let outcome: ReplayOutcome
            if read == 0 {
                outcome = .skipped(device.lastSkip ?? "not read")
            } else {
                outcome = tap.outcome
            }
            switch outcome {
            case .translated: summary.translated += 1
            case .dropped: summary.dropped += 1
            case .icmpError: summary.icmpErrors += 1
            case .skipped: summary.skipped += 1
            }
            each(ReplayRecord(number: summary.packets, timestamp: timestamp, outcome: outcome))
        }
        device.close()
        tap.drops?.close()
        for file in [device.output, tap.drops].compactMap({ $0 }) {
            if let failure = file.failure {
                throw PcapError(.writeFailed, subject: file.path, call: "pcap_dump", message: failure)
            }
        }
        summary.counters = engine.translator.counters
        summary.sessions = engine.translator.table.count
        summary.generated = Int(engine.stats.generatedErrors)
        return summary
    }
}

/// The replay tap: remembers each record's verdict and writes dropped packets (as read, before translation)
/// to the drops file with their reason, numbered in the sidecar as the input file (and `--report`) numbers them.
final class ReplayTap: PacketTap {
    let drops: CaptureFile?
    private(set) var outcome: ReplayOutcome = .skipped("not read")
    private var timestamp = PcapTimestamp(seconds: 0)
    private var number = 0
    private var input: [UInt8] = []

    init(drops: CaptureFile?) { self.drops = drops }

    /// Starts a new record.
    func begin(_ timestamp: PcapTimestamp, number: Int) {
        self.timestamp = timestamp
        self.number = number
        outcome = .skipped("not read")
    }

    func stash(_ packet: UnsafeRawBufferPointer) {
        input.removeAll(keepingCapacity: true)
        input.append(contentsOf: packet)
    }

    func record(_ verdict: Verdict, output: UnsafeRawBufferPointer) {
        switch verdict {
        case .translated, .translatedFragments:
            outcome = .translated
        case .icmpError(let reason):
            outcome = .icmpError(reason)
            input.withUnsafeBytes { drops?.write($0, timestamp: timestamp, reason: reason, number: number) }
        case .drop(let reason):
            outcome = .dropped(reason)
            input.withUnsafeBytes { drops?.write($0, timestamp: timestamp, reason: reason, number: number) }
        }
    }

    func recordAdditional(output: UnsafeRawBufferPointer) {}
    func recordGenerated(_ output: UnsafeRawBufferPointer) {}
    func flush() {}
}

/// A capture file as a `PacketDevice`: reads one record per batch (replay translates each at its own
/// timestamp) and writes what the engine sends to the output file, stamped with `outputTime`.
struct CapturePacketDevice: PacketDevice, ~Copyable {
    private var reader: PcapReader
    let output: CaptureFile
    private var lookahead: CapturedPacket?
    /// The timestamp written on outputs: the current record's, or the housekeeping tick's.
    var outputTime = PcapTimestamp(seconds: 0)
    /// Why the last record was not read (not an IP packet, too large).
    private(set) var lastSkip: String?
    private(set) var counters = DeviceCounters()

    init(input: String, output: String) throws(PcapError) {
        let reader = try PcapReader(path: input)
        guard reader.linkType.isSupported else {
            throw PcapError(.unsupportedLinkType, subject: input, call: "pcap_datalink",
                            message: "link type \(reader.linkType) is not supported; use raw IP, Ethernet or "
                                + "Linux cooked captures (tcpdump -i any)")
        }
        let output = try CaptureFile(path: output)
        self.reader = reader
        self.output = output
    }

    var name: String { reader.path }

    /// Reads the next record (if not read yet) and returns its timestamp; nil at the end of the file.
    mutating func peekTimestamp() throws(PcapError) -> PcapTimestamp? {
        if lookahead == nil { lookahead = try reader.next() }
        return lookahead?.timestamp
    }

    mutating func readBatch(into batch: inout PacketBatch) throws(DeviceError) -> Int {
        lastSkip = nil
        batch.count = 0
        guard let record = lookahead else { return 0 }
        lookahead = nil
        switch reader.linkType.payload(of: record.data) {
        case .notIP(let why):
            lastSkip = why
            return 0
        case .ip(let offset):
            let fits = batch.withSlot(0) { packet -> Bool in
                let ip = record.data.withUnsafeBytes { UnsafeRawBufferPointer(rebasing: $0[min(offset, $0.count)...]) }
                guard ip.count <= packet.capacity - PacketBuffer.headroom else { return false }
                packet.load(ip)
                return true
            }
            guard fits else {
                lastSkip = "packet of \(record.data.count - offset) bytes is larger than the translator's buffer"
                return 0
            }
            batch.count = 1
            return 1
        }
    }

    mutating func write(_ packet: UnsafeRawBufferPointer, offload: OffloadInfo) {
        output.write(packet, timestamp: outputTime)
    }

    func waitReadable(timeoutMilliseconds: Int32, wakeDescriptor: Int32) -> DeviceWait { lookahead == nil ? .timedOut : .readable }

    func close() { output.close() }
}

/// The replay clock: file timestamps made monotonic, with the daemon's once-a-second housekeeping replayed
/// between packets.
struct ReplayClock {
    private var now: Nanoseconds?
    private var nextHousekeeping: Nanoseconds = 0
    /// Ticks after which one pass of `expire` has certainly visited every slot (the engine's budget is 4096).
    private let fullSweep: Int
    private var ticksThisGap = 0

    init(capacity: Int) { fullSweep = capacity / ForwardingEngine.expiryBudget + 2 }

    /// The next housekeeping tick at or before `timestamp` that still has to run, or nil when none is due (then
    /// call `settle`). After a long gap the table has been swept completely after `fullSweep` ticks, so the rest
    /// is skipped up to the last tick before `timestamp` (held SYNs and fragments are due by then anyway).
    mutating func nextTick(upTo timestamp: Nanoseconds) -> Nanoseconds? {
        guard let current = now else { return nil }
        let t = max(current, timestamp)
        guard nextHousekeeping <= t else {
            ticksThisGap = 0
            return nil
        }
        if ticksThisGap >= fullSweep {
            let missed = (t - nextHousekeeping) / Replay.housekeepingInterval
            nextHousekeeping += missed * Replay.housekeepingInterval
        }
        let tick = nextHousekeeping
        nextHousekeeping += Replay.housekeepingInterval
        ticksThisGap += 1
        return tick
    }

    /// Runs `tick` for every housekeeping tick up to `timestamp`, then settles there (see `nextTick`, `settle`).
    mutating func advance(to timestamp: Nanoseconds, tick: (Nanoseconds) -> Void) -> Nanoseconds {
        while let t = nextTick(upTo: timestamp) { tick(t) }
        return settle(at: timestamp)
    }

    /// Moves the clock to `timestamp` (never backwards: merged or reordered files keep time still) and returns
    /// the time to translate at.
    mutating func settle(at timestamp: Nanoseconds) -> Nanoseconds {
        ticksThisGap = 0
        guard let current = now else {
            now = timestamp
            nextHousekeeping = timestamp &+ Replay.housekeepingInterval
            return timestamp
        }
        let t = max(current, timestamp)
        now = t
        return t
    }
}
