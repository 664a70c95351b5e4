// The mapping log's writer thread. The packet threads report mapping events through
// `BindingTable.onMappingEvent` into a bounded event ring (the translators share one table and only touch it
// under `table.lock`, which orders the producers, so one ring keeps its single-producer contract); this thread
// drains it every 100 ms, writes the lines (MappingLogFormat.swift) to the file, rotates it by size, and hands
// the same events to the IPFIX exporter. The packet path never opens or writes a file: a full ring loses the
// event and counts it; a failed write counts and is logged at most once a minute.
import Forwarding
import GatewayConfig
import Logging
import NAT64Translator
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Counters of the mapping log and the IPFIX export, for `ctl stats --json` and /metrics.
struct MappingLogCounters: Codable, Equatable, Sendable {
    var linesWritten: UInt64 = 0
    var eventsDropped: UInt64 = 0
    var writeFailures: UInt64 = 0
    var rotations: UInt64 = 0
    var ipfixMessages: UInt64 = 0
    var ipfixRecords: UInt64 = 0
    var ipfixSendFailures: UInt64 = 0

    enum CodingKeys: String, CodingKey {
        case linesWritten = "lines-written", eventsDropped = "events-dropped", writeFailures = "write-failures"
        case rotations, ipfixMessages = "ipfix-messages", ipfixRecords = "ipfix-records"
        case ipfixSendFailures = "ipfix-send-failures"
    }
}

final class MappingLogWriter: Sendable {
    /// Where the packet threads push events.
    let events = EventRing<MappingEvent>(minimumCapacity: 65_536)
    let settings: GatewayConfiguration.MappingLog
    private let logEnabled: Bool
    private let exporter: IPFIXExporter?
    private let logger: Logger
    private let stopRequested = Atomic<Bool>(false)
    private let thread: Mutex<DedicatedThread?> = Mutex(nil)
    private let state = Mutex(MappingLogCounters())

    /// - Parameters:
    ///   - settings: `[mapping-log]` (its `enabled` decides whether lines are written).
    ///   - exporter: the IPFIX sender, when `[ipfix]` is on.
    init(settings: GatewayConfiguration.MappingLog, exporter: IPFIXExporter?, logger: Logger) throws {
        self.settings = settings
        logEnabled = settings.enabled
        self.exporter = exporter
        self.logger = logger
        if settings.enabled {  // the directories of the path, as far as they are missing
            var prefix = ""
            for part in settings.path.split(separator: "/").dropLast() {
                prefix += "/" + part
                _ = mkdir(prefix, 0o750)
            }
        }
        let t = try DedicatedThread(name: "nat64d-maplog") { [self] in self.run() }
        thread.withLock { $0 = t }
    }

    /// The hook for `BindingTable.onMappingEvent`: keeps the events `detail` asks for and pushes them.
    static func hook(ring: EventRing<MappingEvent>, detail: GatewayConfiguration.MappingLog.Detail, blocks: Bool,
                     ipfix: Bool) -> @Sendable (MappingEvent) -> Void {
        let sessions = detail == .session || (ipfix && !blocks)
        let bibs = detail == .session || !blocks
        return { e in
            switch e.kind {
            case .sessionCreated, .sessionDeleted: if sessions { ring.push(e) }
            case .bibCreated, .bibDeleted: if bibs { ring.push(e) }
            case .blockAssigned, .blockReleased: ring.push(e)
            }
        }
    }

    var counters: MappingLogCounters {
        var c = state.withLock { $0 }
        c.eventsDropped = events.dropped
        return c
    }

    private func realtimeNanoseconds() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }

    private func run() {
        var fd: Int32 = -1
        var size = 0
        var lastLogged: Nanoseconds = .min
        var reportedDrops: UInt64 = 0
        var batch: [MappingEvent] = []
        var text: [UInt8] = []
        let maxBytes = settings.maxSizeMB << 20
        while true {
            let stopping = stopRequested.load(ordering: .acquiring)
            batch.removeAll(keepingCapacity: true)
            events.drain { batch.append($0) }
            let now = monotonicNanoseconds()
            // Monotonic event times become wall-clock times with the offset measured now.
            let offset = realtimeNanoseconds() - now
            if !batch.isEmpty, logEnabled {
                text.removeAll(keepingCapacity: true)
                var lines = 0
                for e in batch where !(e.kind == .sessionCreated || e.kind == .sessionDeleted) || settings.detail == .session {
                    let line = MappingLogFormat.line(e, wall: e.time + offset, destination: settings.destination)
                    if fd < 0 { fd = openLog(&size) }
                    // Rotate before a line would take the file past max-size-mb.
                    if size + text.count + line.utf8.count > maxBytes && size + text.count > 0 {
                        flush(&fd, &size, &text, &lines, now: now, lastLogged: &lastLogged)
                        if fd >= 0 { close(fd) }
                        rotate()
                        state.withLock { $0.rotations &+= 1 }
                        fd = openLog(&size)
                    }
                    text += line.utf8
                    lines += 1
                }
                flush(&fd, &size, &text, &lines, now: now, lastLogged: &lastLogged)
            }
            if let exporter {
                let sent = exporter.export(batch, wallOffset: offset, now: now)
                state.withLock {
                    $0.ipfixMessages &+= sent.messages
                    $0.ipfixRecords &+= sent.records
                    $0.ipfixSendFailures &+= sent.failures
                }
            }
            let dropped = events.dropped
            if dropped != reportedDrops, lastLogged == .min || now - lastLogged > 60_000_000_000 {
                lastLogged = now
                logger.warning("mapping events lost: the event ring was full", metadata: [
                    "lost-since-last-report": "\(dropped - reportedDrops)",
                    "fix": "the disk is too slow for this rate; use detail = \"bib\" or port blocks"])
                reportedDrops = dropped
            }
            if stopping {
                if fd >= 0 { close(fd) }
                return
            }
            usleep(100_000)
        }
    }

    private func openLog(_ size: inout Int) -> Int32 {
        let fd = open(settings.path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o640)
        var st = stat()
        size = fd >= 0 && fstat(fd, &st) == 0 ? Int(st.st_size) : 0
        return fd
    }

    /// Writes `text` (`lines` lines) to the log; a failure is counted and logged at most once a minute.
    private func flush(_ fd: inout Int32, _ size: inout Int, _ text: inout [UInt8], _ lines: inout Int,
                       now: Nanoseconds, lastLogged: inout Nanoseconds) {
        guard !text.isEmpty else { return }
        let n = fd >= 0 ? text.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) } : -1
        if n == text.count {
            size += n
            state.withLock { $0.linesWritten &+= UInt64(lines) }
        } else {
            let error = fd >= 0 ? errno : ENOENT
            state.withLock { $0.writeFailures &+= 1 }
            if fd >= 0 { close(fd); fd = -1 }
            if lastLogged == .min || now - lastLogged > 60_000_000_000 {
                lastLogged = now
                logger.error("mapping log not written", metadata: [
                    "path": "\(settings.path)", "errno": "\(error)", "lost": "\(lines)",
                    "fix": "make the directory of [mapping-log] path writable by nat64d, or free disk space"])
            }
        }
        text.removeAll(keepingCapacity: true)
        lines = 0
    }

    /// PATH → PATH.1 → … → PATH.(max-files − 1); the oldest goes.
    private func rotate() {
        let n = settings.maxFiles
        guard n > 1 else {
            unlink(settings.path)
            return
        }
        unlink("\(settings.path).\(n - 1)")
        for i in stride(from: n - 2, through: 1, by: -1) { rename("\(settings.path).\(i)", "\(settings.path).\(i + 1)") }
        rename(settings.path, "\(settings.path).1")
    }

    /// The files to read for `ctl who`, oldest first.
    static func files(_ settings: GatewayConfiguration.MappingLog) -> [String] {
        (1..<max(1, settings.maxFiles)).reversed().map { "\(settings.path).\($0)" } + [settings.path]
    }

    /// Writes what is left and stops the thread.
    func stop() {
        stopRequested.store(true, ordering: .releasing)
        thread.withLock { t in
            t?.join()
            t = nil
        }
    }
}
