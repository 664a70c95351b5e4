// Keeps mode "pool" address assignments across restarts (conformance S10). The translator core does no I/O:
// it reports each new assignment through `BindingTable.onPoolAssignment`, and this file appends it to
// `<state-dir>/pool-assignments`, one "IPV6 IPV4" line per assignment, oldest first. At start the file is read
// (a later line for the same host or address wins), restored into the table in that order (so the least
// recently assigned is reused first), and rewritten compacted.
import Forwarding
import Logging
import NAT64Translator
import Synchronization
import TunDevice
#if canImport(Glibc)
import Glibc
#endif

/// The pool assignment journal in the state directory.
struct StatePersistence {
    let path: String

    init(directory: String) { path = directory + "/pool-assignments" }

    /// The most of the file that is read at start: the newest 16 MiB (about 300,000 lines; a compacted file for
    /// a /16 pool4 is under 4 MiB). A longer file is cut to its tail, so a garbage file costs bounded time and
    /// memory instead of seconds and hundreds of megabytes.
    static let maxLoadBytes = 16 << 20

    /// What `load` found in the file.
    struct Loaded: Equatable {
        /// The assignments to restore, oldest first.
        var assignments: [PoolAssignment] = []
        /// Lines that are not `IPV6 IPV4`, and the first of them (1-based, in the part read).
        var badLines = 0
        var firstBadLine: Int?
        /// Bytes skipped at the start because the file was longer than `maxLoadBytes`.
        var skippedBytes = 0
    }

    /// Restores saved assignments into `table` and compacts the file; new assignments are journalled by a
    /// `PoolJournalWriter` from the packet threads' event ring, never on a packet thread.
    ///
    /// - Parameters:
    ///   - table: the translator's table (pool mode).
    ///   - now: the current time.
    ///   - poolSize: the number of pool4 addresses; no more assignments than that are restored.
    ///   - logger: unreadable lines and a cut file are reported here, with the file and line.
    /// - Returns: how many assignments were restored.
    func restore(into table: BindingTable, now: Nanoseconds, poolSize: Int, logger: Logger) throws -> Int {
        _ = mkdir(String(path[..<(path.lastIndex(of: "/") ?? path.endIndex)]), 0o755)
        let loaded = load()
        if loaded.skippedBytes > 0 {
            logger.warning("state file too long: only its newest part was read", metadata: [
                "file": "\(path)", "skipped-bytes": "\(loaded.skippedBytes)", "read-bytes": "\(Self.maxLoadBytes)"])
        }
        if let line = loaded.firstBadLine {
            logger.warning("state file has unreadable lines; they were skipped", metadata: [
                "file": "\(path)", "first-line": "\(line)", "lines": "\(loaded.badLines)",
                "fix": "each line must be \"IPV6 IPV4\"; the file is rewritten without them now"])
        }
        let restored = table.restore(Array(loaded.assignments.suffix(max(0, poolSize))), now: now)
        try write(table.poolAssignments(), append: false)
        return restored
    }

    /// Reads the saved assignments (at most the newest `maxLoadBytes` of the file).
    func load() -> Loaded {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return Loaded() }
        defer { close(fd) }
        var info = stat()
        let size = fstat(fd, &info) == 0 ? Int(info.st_size) : 0
        let skip = max(0, size - Self.maxLoadBytes)
        if skip > 0 { lseek(fd, off_t(skip), SEEK_SET) }
        var bytes = [UInt8](repeating: 0, count: min(size, Self.maxLoadBytes))
        var filled = 0
        while filled < bytes.count {
            let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress! + filled, $0.count - filled) }
            if n <= 0 { break }
            filled += n
        }
        var body = bytes[..<filled]
        if skip > 0, let newline = body.firstIndex(of: UInt8(ascii: "\n")) {
            body = body[(newline + 1)...]  // the first line read is cut in the middle
        }
        var loaded = Self.parse(body)
        loaded.skippedBytes = skip
        return loaded
    }

    /// The assignments in journal text, oldest first: a later line for the same host or the same IPv4
    /// address replaces the earlier one. Linear in the text.
    static func parse(_ text: ArraySlice<UInt8>) -> Loaded {
        var loaded = Loaded()
        var byHost: [IPv6Address: Int] = [:]
        var byAddress: [IPv4Address: Int] = [:]
        var out: [PoolAssignment?] = []
        var lineNumber = 0
        for line in text.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            lineNumber += 1
            if line.isEmpty { continue }
            let fields = line.split(separator: UInt8(ascii: " "))
            guard fields.count == 2, fields[0].count <= 45, fields[1].count <= 15,
                  let v6 = IPv6Address(String(decoding: fields[0], as: UTF8.self)),
                  let v4 = IPv4Address(String(decoding: fields[1], as: UTF8.self))
            else {
                loaded.badLines += 1
                if loaded.firstBadLine == nil { loaded.firstBadLine = lineNumber }
                continue
            }
            if let old = byHost[v6] { out[old] = nil }
            if let old = byAddress[v4] { out[old] = nil }
            byHost[v6] = out.count
            byAddress[v4] = out.count
            out.append(PoolAssignment(inside: v6, outside: v4, lastUsed: Nanoseconds(out.count)))
        }
        loaded.assignments = out.compactMap { $0 }
        return loaded
    }

    func write(_ assignments: [PoolAssignment], append: Bool) throws {
        let flags = O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC)
        let fd = open(path, flags, 0o644)
        guard fd >= 0 else { throw SystemError(code: errno, call: "open \(path)") }
        defer { close(fd) }
        var bytes = Array(assignments.map { "\($0.inside) \($0.outside)\n" }.joined().utf8)
        let n = bytes.withUnsafeMutableBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        guard n == bytes.count else { throw SystemError(code: errno, call: "write \(path)") }
    }
}

/// Appends the pool assignments the packet threads report (through a bounded event ring) to the journal, on a
/// thread of its own: the packet path never opens or writes a file. A full ring or a failed write loses the
/// assignment for the next restart only; both are counted, and a failed write is logged once per minute.
final class PoolJournalWriter: Sendable {
    /// Where packet threads push new assignments.
    let events = EventRing<PoolAssignment>(minimumCapacity: 4096)
    private let persistence: StatePersistence
    private let logger: Logger
    private let stopRequested = Atomic<Bool>(false)
    private let thread: Mutex<DedicatedThread?> = Mutex(nil)
    /// Assignments written, and writes that failed.
    let written = Atomic<UInt64>(0)
    let writeFailures = Atomic<UInt64>(0)

    init(persistence: StatePersistence, logger: Logger) throws {
        self.persistence = persistence
        self.logger = logger
        let t = try DedicatedThread(name: "nat64d-persist") { [self] in self.run() }
        thread.withLock { $0 = t }
    }

    private func run() {
        var lastLogged: Nanoseconds = .min
        var batch: [PoolAssignment] = []
        while true {
            let stopping = stopRequested.load(ordering: .acquiring)
            batch.removeAll(keepingCapacity: true)
            events.drain { batch.append($0) }
            if !batch.isEmpty {
                do {
                    try persistence.write(batch, append: true)
                    written.wrappingAdd(UInt64(batch.count), ordering: .relaxed)
                } catch {
                    writeFailures.wrappingAdd(1, ordering: .relaxed)
                    let now = monotonicNanoseconds()
                    if lastLogged == .min || now - lastLogged > 60_000_000_000 {
                        lastLogged = now
                        logger.error("pool assignments not saved", metadata: [
                            "error": "\(error)", "lost": "\(batch.count)",
                            "fix": "make the state directory writable by nat64d"])
                    }
                }
            }
            if stopping { return }
            usleep(100_000)
        }
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
