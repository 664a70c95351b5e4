// One capture stream on disk: a pcap file that rotates by size, keeping a bounded number of older files, and
// for drop streams a `.reasons` sidecar naming the drop reason of each record.
//
// Naming, for a stream whose current file is `DIR/in6.pcap` and max-files N:
//   in6.pcap      the file being written (newest)
//   in6.1.pcap    the previous one … in6.<N-1>.pcap the oldest kept; older files are deleted.
// A drop stream `drops.pcap` has `drops.reasons` (and `drops.1.reasons`…) beside it, rotated together: one
// line per record, `<packet number> <reason>`, numbered from 1 as tcpdump -# and Wireshark number packets.
//
// A write failure (disk full, I/O error) never throws or stops the caller: the stream closes, remembers the
// error text, and counts every later packet it could not store in `errors`. Files written so far stay intact
// (the last record may be torn; tcpdump then reports a truncated file after printing the good records).
import NAT64Translator
#if canImport(Glibc)
import Glibc
#endif

/// A text file written through stdio; owns the `FILE` and closes it in `deinit`.
struct TextFile: ~Copyable {
    private let file: UnsafeMutablePointer<FILE>
    let path: String

    init(path: String, permissions: mode_t) throws(PcapError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, permissions)
        guard fd >= 0 else { throw PcapError(.openFailed, subject: path, call: "open", message: errnoText()) }
        guard let file = fdopen(fd, "w") else {
            let message = errnoText()
            close(fd)
            throw PcapError(.openFailed, subject: path, call: "fdopen", message: message)
        }
        self.file = file
        self.path = path
    }

    deinit { fclose(file) }

    mutating func write(_ text: String) { fputs(text, file) }

    /// Flushes; false when this or an earlier write failed (the error flag is then cleared).
    mutating func flush() -> Bool {
        let ok = fflush(file) == 0 && ferror(file) == 0
        clearerr(file)
        return ok
    }
}

/// A size-rotated pcap stream with an optional drop-reason sidecar. Used by one thread at a time.
public final class CaptureFile {
    /// The file currently written.
    public let path: String
    /// Rotate before a record would make the current file larger than this (`Int.max`: never).
    public let maxBytes: Int
    /// Files kept, the current one included (at least 1).
    public let maxFiles: Int
    /// Whether records carry a drop reason, written to the `.reasons` sidecar.
    public let recordsReasons: Bool
    /// What the sidecar's numbers count: "packet number" (the record in this file, by default) or, for replay,
    /// "input packet number" (the record of the replayed file, as `replay --report` numbers it).
    public let reasonsNumbering: String
    private let permissions: mode_t
    private let snapLength: Int
    private var writer: PcapWriter?
    private var reasons: TextFile?
    /// Packets stored, over all rotations.
    public private(set) var packets: UInt64 = 0
    /// Bytes in closed files plus the current one.
    public private(set) var bytes: UInt64 = 0
    /// Packets that could not be stored, plus failed flushes.
    public private(set) var errors: UInt64 = 0
    /// How many times the stream rotated.
    public private(set) var rotations = 0
    /// The first failure that closed the stream, as `PATH: CALL: MESSAGE`; nil while healthy.
    public private(set) var failure: String?

    /// Opens the stream's first file (and sidecar).
    ///
    /// - Parameters:
    ///   - path: the current file's path, normally ending in `.pcap`.
    ///   - maxBytes: size at which to rotate; `Int.max` for none.
    ///   - maxFiles: files kept, the current one included.
    ///   - recordsReasons: write a `.reasons` sidecar.
    ///   - reasonsNumbering: what the sidecar's numbers count (its header says so).
    ///   - permissions: mode of created files.
    ///   - snapLength: most bytes stored per packet.
    /// - Throws: `PcapError.openFailed` when the first file cannot be created.
    public init(path: String, maxBytes: Int = .max, maxFiles: Int = 1, recordsReasons: Bool = false,
                reasonsNumbering: String = "packet number", permissions: mode_t = 0o644,
                snapLength: Int = 262_144) throws(PcapError) {
        self.reasonsNumbering = reasonsNumbering
        self.path = path
        self.maxBytes = max(maxBytes, PcapWriter.fileHeaderSize + PcapWriter.recordHeaderSize + 1)
        self.maxFiles = max(1, maxFiles)
        self.recordsReasons = recordsReasons
        self.permissions = permissions
        self.snapLength = snapLength
        try open()
    }

    /// The sidecar of a drop stream: `X.pcap` → `X.reasons`, any other name → `NAME.reasons`.
    ///
    /// - Parameter pcapPath: the pcap file's path.
    /// - Returns: the path of its reasons file.
    public static func reasonsPath(for pcapPath: String) -> String {
        stem(pcapPath) + ".reasons"
    }

    /// The path of the `k`-th older file (k ≥ 1): `X.pcap` → `X.k.pcap`.
    public func rotatedPath(_ k: Int) -> String {
        path.hasSuffix(".pcap") ? Self.stem(path) + ".\(k).pcap" : path + ".\(k)"
    }

    private func rotatedReasonsPath(_ k: Int) -> String { Self.stem(path) + ".\(k).reasons" }

    private static func stem(_ path: String) -> String {
        path.hasSuffix(".pcap") ? String(path.dropLast(5)) : path
    }

    private func open() throws(PcapError) {
        writer = try PcapWriter(path: path, snapLength: snapLength, permissions: permissions)
        bytes += UInt64(PcapWriter.fileHeaderSize)
        if recordsReasons {
            do {
                var sidecar = try TextFile(path: Self.reasonsPath(for: path), permissions: permissions)
                sidecar.write("# drop reasons for \(Self.basename(path)): <\(reasonsNumbering)> <reason>\n")
                reasons = consume sidecar
            } catch {
                writer = nil
                throw error
            }
        }
    }

    private static func basename(_ path: String) -> String {
        path.split(separator: "/").last.map(String.init) ?? path
    }

    /// Stores one packet, rotating first when it would overflow `maxBytes`.
    ///
    /// - Parameters:
    ///   - packet: the raw IP packet.
    ///   - timestamp: its capture time.
    ///   - reason: the drop reason, recorded in the sidecar when `recordsReasons`.
    ///   - number: the number the sidecar gives the packet; nil: its number in this stream.
    public func write(_ packet: UnsafeRawBufferPointer, timestamp: PcapTimestamp, reason: DropReason? = nil,
                      number: Int? = nil) {
        guard let size = writer?.sizeAfter(packetOfLength: packet.count) else {
            errors &+= 1
            return
        }
        if size > maxBytes, let written = writer?.packetsWritten, written > 0 {
            rotate()
            guard writer != nil else {
                errors &+= 1
                return
            }
        }
        writer!.write(packet, timestamp: timestamp)
        bytes &+= UInt64(PcapWriter.recordHeaderSize + min(packet.count, snapLength))
        packets &+= 1
        if recordsReasons, let written = writer?.packetsWritten {
            reasons?.write("\(number ?? written) \(reason?.description ?? "-")\n")
        }
    }

    /// Pushes buffered data to the kernel; on failure closes the stream and records why.
    public func flush() {
        guard writer != nil else { return }
        var ok = writer!.flush()
        if reasons != nil { ok = reasons!.flush() && ok }
        if !ok {
            errors &+= 1
            fail(PcapError(.writeFailed, subject: path, call: "pcap_dump_flush", message: errnoText()))
        }
    }

    /// Flushes and closes the current file; later writes count as errors.
    public func close() {
        flush()
        writer = nil
        reasons = nil
    }

    private func fail(_ error: PcapError) {
        if failure == nil { failure = error.description }
        writer = nil
        reasons = nil
    }

    /// Closes the current file, shifts `X.k.pcap` to `X.(k+1).pcap` (deleting the oldest) and opens a new one.
    private func rotate() {
        close()
        if failure != nil { return }
        rotations += 1
        if maxFiles > 1 {
            unlink(rotatedPath(maxFiles - 1))
            if recordsReasons { unlink(rotatedReasonsPath(maxFiles - 1)) }
            for k in stride(from: maxFiles - 2, through: 1, by: -1) {
                rename(rotatedPath(k), rotatedPath(k + 1))
                if recordsReasons { rename(rotatedReasonsPath(k), rotatedReasonsPath(k + 1)) }
            }
            rename(path, rotatedPath(1))
            if recordsReasons { rename(Self.reasonsPath(for: path), rotatedReasonsPath(1)) }
        }
        do {
            try open()
        } catch {
            fail(error)
        }
    }
}
