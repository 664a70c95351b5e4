// Writing pcap files, entirely through libpcap: pcap_open_dead gives the link type and snap length, the
// dumper writes the file header and each record. We open the FILE ourselves (pcap_dump_fopen) only to choose
// the file mode and give stdio a large buffer, so the packet thread makes one write(2) per buffer, not per packet.
import CPcap
#if canImport(Glibc)
import Glibc
#endif

/// The link types nat64d reads and writes (libpcap `DLT_*` values, as `pcap_datalink` returns them).
///
/// An open set: any other value read from a file is kept as is and named by its number.
public struct LinkType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The libpcap `DLT_*` value.
    public var rawValue: Int32
    /// Wraps a `DLT_*` value.
    public init(rawValue: Int32) { self.rawValue = rawValue }

    /// Raw IP, no link header (`DLT_RAW`, LINKTYPE_RAW 101 in files): what a TUN device carries.
    public static let raw = LinkType(rawValue: DLT_RAW)
    /// Raw IPv4 (`DLT_IPV4`, 228).
    public static let ipv4 = LinkType(rawValue: 228)
    /// Raw IPv6 (`DLT_IPV6`, 229).
    public static let ipv6 = LinkType(rawValue: 229)
    /// Ethernet (`DLT_EN10MB`, 1).
    public static let ethernet = LinkType(rawValue: 1)
    /// Linux cooked capture v1 (`DLT_LINUX_SLL`, 113): `tcpdump -i any` before libpcap 1.10.
    public static let linuxSLL = LinkType(rawValue: 113)
    /// Linux cooked capture v2 (`DLT_LINUX_SLL2`, 276): `tcpdump -i any` with libpcap 1.10 and later.
    public static let linuxSLL2 = LinkType(rawValue: 276)
    /// BSD loopback (`DLT_NULL`, 0): a 4-byte address family in the capturing host's byte order.
    public static let null = LinkType(rawValue: 0)

    /// libpcap's name for the link type (`RAW`, `EN10MB`, `LINUX_SLL2`…) or `DLT <n>`.
    public var description: String {
        if let name = pcap_datalink_val_to_name(rawValue) { return String(cString: name) }
        return "DLT \(rawValue)"
    }
}

/// An open pcap file being written: owns the libpcap handle and dumper, and closes both in `deinit`.
///
/// Writes are buffered (`bufferSize` bytes of stdio buffer); call `flush()` to push them to the kernel and to
/// learn whether anything failed since the last flush. `write` never throws and never blocks on anything but
/// the file itself: a full disk shows up as `flush()` returning false.
public struct PcapWriter: ~Copyable {
    private let pcap: OpaquePointer
    private let dumper: OpaquePointer
    private let buffer: UnsafeMutableRawPointer
    /// The file being written.
    public let path: String
    /// Longest part of a packet that is stored (longer packets are truncated; the record keeps their length).
    public let snapLength: Int
    /// Bytes handed to libpcap so far, file header included: the size the file will have once flushed.
    public private(set) var bytesWritten: Int
    /// Records written so far.
    public private(set) var packetsWritten: Int

    /// Size of the pcap file header (`struct pcap_file_header`).
    public static let fileHeaderSize = 24
    /// Size of each record header in the file (`struct pcap_sf_pkthdr`).
    public static let recordHeaderSize = 16

    /// Creates (or truncates) `path` and writes the pcap file header.
    ///
    /// - Parameters:
    ///   - path: the file to create.
    ///   - linkType: the link type of every packet written (default raw IP, as read from a TUN).
    ///   - snapLength: the most bytes kept per packet.
    ///   - permissions: mode for a newly created file (default 0644; live capture uses 0600).
    ///   - bufferSize: stdio buffer size in bytes.
    /// - Throws: `PcapError.openFailed` naming the path and the failing call.
    public init(path: String, linkType: LinkType = .raw, snapLength: Int = 65_535, permissions: mode_t = 0o644,
                bufferSize: Int = 256 * 1024) throws(PcapError) {
        guard let pcap = pcap_open_dead(linkType.rawValue, Int32(clamping: snapLength)) else {
            throw PcapError(.openFailed, subject: path, call: "pcap_open_dead", message: "out of memory")
        }
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, permissions)
        guard fd >= 0 else {
            let message = errnoText()
            pcap_close(pcap)
            throw PcapError(.openFailed, subject: path, call: "open", message: message)
        }
        guard let file = fdopen(fd, "wb") else {
            let message = errnoText()
            close(fd)
            pcap_close(pcap)
            throw PcapError(.openFailed, subject: path, call: "fdopen", message: message)
        }
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: max(bufferSize, 4096), alignment: 16)
        setvbuf(file, buffer.assumingMemoryBound(to: CChar.self), _IOFBF, max(bufferSize, 4096))
        guard let dumper = pcap_dump_fopen(pcap, file) else {
            let message = String(cString: pcap_geterr(pcap))
            fclose(file)
            buffer.deallocate()
            pcap_close(pcap)
            throw PcapError(.openFailed, subject: path, call: "pcap_dump_fopen", message: message)
        }
        self.pcap = pcap
        self.dumper = dumper
        self.buffer = buffer
        self.path = path
        self.snapLength = snapLength
        bytesWritten = Self.fileHeaderSize
        packetsWritten = 0
    }

    deinit {
        pcap_dump_close(dumper)  // flushes and fcloses the FILE, which still uses `buffer`
        buffer.deallocate()
        pcap_close(pcap)
    }

    /// The file size after writing a packet of `length` bytes (for rotation decisions).
    public func sizeAfter(packetOfLength length: Int) -> Int {
        bytesWritten + Self.recordHeaderSize + min(length, snapLength)
    }

    /// Appends one record.
    ///
    /// - Parameters:
    ///   - packet: the packet bytes (stored up to `snapLength`; the record keeps the full length).
    ///   - timestamp: the record's timestamp.
    public mutating func write(_ packet: UnsafeRawBufferPointer, timestamp: PcapTimestamp) {
        let captured = min(packet.count, snapLength)
        var header = pcap_pkthdr()
        header.ts.tv_sec = Int(timestamp.seconds)
        header.ts.tv_usec = Int(timestamp.microseconds)
        header.caplen = bpf_u_int32(captured)
        header.len = bpf_u_int32(clamping: packet.count)
        // An empty packet still needs a valid pointer for libpcap's fwrite of zero bytes.
        let base = packet.baseAddress ?? UnsafeRawPointer(buffer)
        pcap_dump(UnsafeMutablePointer<u_char>(dumper), &header, base.assumingMemoryBound(to: u_char.self))
        bytesWritten += Self.recordHeaderSize + captured
        packetsWritten += 1
    }

    /// Appends one record from an array (tests, replay).
    public mutating func write(_ packet: [UInt8], timestamp: PcapTimestamp) {
        packet.withUnsafeBytes { write($0, timestamp: timestamp) }
    }

    /// Pushes buffered records to the kernel.
    ///
    /// - Returns: false when this flush or any write since the previous flush failed (the stream's error flag
    ///   was set, e.g. ENOSPC); the flag is then cleared, so each failure is reported once.
    @discardableResult
    public mutating func flush() -> Bool {
        let flushed = pcap_dump_flush(dumper) == 0
        let file = pcap_dump_file(dumper)
        let clean = file.map { ferror($0) == 0 } ?? true
        if let file, !clean { clearerr(file) }
        return flushed && clean
    }
}
