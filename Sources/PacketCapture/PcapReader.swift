// Reading pcap and pcapng files through libpcap (pcap_open_offline, pcap_next_ex). Every failure names the
// file and the call, and a truncated or garbage file is an error, never a crash.
import CPcap
#if canImport(Glibc)
import Glibc
#endif

/// One record read from a file.
public struct CapturedPacket: Sendable, Equatable {
    /// When it was captured.
    public var timestamp: PcapTimestamp
    /// The bytes stored in the file, link header included (at most the file's snap length).
    public var data: [UInt8]
    /// The packet's length on the wire; larger than `data.count` when the capture truncated it.
    public var originalLength: Int
}

/// An open capture file being read: owns the libpcap handle and closes it in `deinit`.
public struct PcapReader: ~Copyable {
    private let pcap: OpaquePointer
    /// The file being read.
    public let path: String
    /// The link type of every packet in the file (for pcapng, of the first interface).
    public let linkType: LinkType
    /// Records returned so far.
    public private(set) var packetsRead = 0

    /// Opens `path` (pcap or pcapng).
    ///
    /// - Parameter path: the file to read.
    /// - Throws: `PcapError.openFailed` when the file is missing, unreadable or not a capture file.
    public init(path: String) throws(PcapError) {
        var errorBuffer = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE) + 1)
        guard let pcap = pcap_open_offline(path, &errorBuffer) else {
            throw PcapError(.openFailed, subject: path, call: "pcap_open_offline",
                            message: String(decoding: errorBuffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) },
                                            as: UTF8.self))
        }
        self.pcap = pcap
        self.path = path
        linkType = LinkType(rawValue: pcap_datalink(pcap))
    }

    deinit { pcap_close(pcap) }

    /// Reads the next record.
    ///
    /// - Returns: the packet, or nil at the end of the file.
    /// - Throws: `PcapError.readFailed` for a truncated or corrupt record (libpcap's text names the problem).
    public mutating func next() throws(PcapError) -> CapturedPacket? {
        var header: UnsafeMutablePointer<pcap_pkthdr>?
        var data: UnsafePointer<u_char>?
        switch pcap_next_ex(pcap, &header, &data) {
        case 1:
            guard let header, let data else {
                throw PcapError(.readFailed, subject: path, call: "pcap_next_ex", message: "no packet data")
            }
            let h = header.pointee
            packetsRead += 1
            return CapturedPacket(
                timestamp: PcapTimestamp(seconds: Int64(h.ts.tv_sec), microseconds: Int64(h.ts.tv_usec)),
                data: Array(UnsafeBufferPointer(start: data, count: Int(h.caplen))),
                originalLength: Int(h.len))
        case PCAP_ERROR_BREAK:  // -2: end of file
            return nil
        default:
            throw PcapError(.readFailed, subject: path, call: "pcap_next_ex",
                            message: "packet \(packetsRead + 1): " + String(cString: pcap_geterr(pcap)))
        }
    }

    /// Reads every remaining record (tests and small files).
    ///
    /// - Returns: the packets in file order.
    /// - Throws: as `next()`.
    public mutating func readAll() throws(PcapError) -> [CapturedPacket] {
        var out: [CapturedPacket] = []
        while let p = try next() { out.append(p) }
        return out
    }
}
