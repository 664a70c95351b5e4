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

    /// Restores saved assignments into `table` and compacts the file; new assignments are journalled by a
    /// `PoolJournalWriter` from the packet threads' event ring, never on a packet thread.
    /// - Returns: how many assignments were restored.
    func restore(into table: BindingTable, now: Nanoseconds) throws -> Int {
        _ = mkdir(String(path[..<(path.lastIndex(of: "/") ?? path.endIndex)]), 0o755)
        let restored = table.restore(load(), now: now)
        try write(table.poolAssignments(), append: false)
        return restored
    }

    /// The saved assignments, oldest first; unreadable lines are skipped.
    func load() -> [PoolAssignment] {
        guard let file = fopen(path, "r") else { return [] }
        defer { fclose(file) }
        var byHost: [IPv6Address: Int] = [:]
        var out: [PoolAssignment?] = []
        var line: UnsafeMutablePointer<CChar>?
        var capacity = 0
        while getline(&line, &capacity, file) > 0, let line {
            let text = String(cString: line).split(whereSeparator: { $0 == " " || $0 == "\n" })
            guard text.count == 2, let v6 = IPv6Address(text[0]), let v4 = IPv4Address(text[1]) else { continue }
            if let old = byHost[v6] { out[old] = nil }
            // The same IPv4 address given to a later host: the later line wins.
            for i in out.indices where out[i]?.outside == v4 { out[i] = nil }
            byHost[v6] = out.count
            out.append(PoolAssignment(inside: v6, outside: v4, lastUsed: Nanoseconds(out.count)))
        }
        free(line)
        return out.compactMap { $0 }
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
        let t = try DedicatedThread { [self] in self.run() }
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
