// BPF filters compiled by libpcap's own compiler (pcap_compile against a DLT_RAW handle) and run with
// pcap_offline_filter, so an expression means exactly what it means to tcpdump on a raw-IP capture: `ip`,
// `ip6`, `host`, `port`, `icmp6`… match both IPv4 and IPv6 packets.
import CPcap
#if canImport(Glibc)
import Glibc
#endif

/// A compiled BPF filter for raw IP packets; owns the BPF program and frees it in `deinit`.
///
/// `~Copyable` and `Sendable`: it has one owner at a time, so it can be compiled on the control thread and
/// handed to the packet thread.
public struct PacketFilter: ~Copyable, @unchecked Sendable {
    private var program: bpf_program
    /// The expression as given.
    public let expression: String
    /// The snap length the program was compiled for.
    public let snapLength: Int

    /// Compiles `expression` for raw IP packets (LINKTYPE_RAW), optimised.
    ///
    /// - Parameters:
    ///   - expression: a pcap-filter(7) expression, e.g. `host 198.51.100.10 and tcp port 80`.
    ///   - snapLength: the longest packet the filter will see.
    /// - Throws: `PcapError.badFilter` with libpcap's message, e.g. `syntax error`.
    public init(_ expression: String, snapLength: Int = 65_535) throws(PcapError) {
        let subject = "filter \"\(expression)\""
        guard let pcap = pcap_open_dead(DLT_RAW, Int32(clamping: snapLength)) else {
            throw PcapError(.badFilter, subject: subject, call: "pcap_open_dead", message: "out of memory")
        }
        defer { pcap_close(pcap) }
        var program = bpf_program()
        guard pcap_compile(pcap, &program, expression, 1, PCAP_NETMASK_UNKNOWN) == 0 else {
            throw PcapError(.badFilter, subject: subject, call: "pcap_compile",
                            message: String(cString: pcap_geterr(pcap)))
        }
        self.program = program
        self.expression = expression
        self.snapLength = snapLength
    }

    deinit {
        var program = program
        pcap_freecode(&program)
    }

    /// Whether the filter accepts `packet` (a raw IP packet, no link header).
    ///
    /// - Parameter packet: the packet bytes.
    /// - Returns: true when the BPF program returns a non-zero snap length.
    public func matches(_ packet: UnsafeRawBufferPointer) -> Bool {
        guard let base = packet.baseAddress else { return false }
        var header = pcap_pkthdr()
        header.caplen = bpf_u_int32(min(packet.count, snapLength))
        header.len = bpf_u_int32(clamping: packet.count)
        return withUnsafePointer(to: program) { p in
            pcap_offline_filter(p, &header, base.assumingMemoryBound(to: u_char.self)) != 0
        }
    }

    /// Whether the filter accepts `packet` (tests).
    public func matches(_ packet: [UInt8]) -> Bool { packet.withUnsafeBytes { matches($0) } }

    /// Checks an expression without keeping the program (configuration validation).
    ///
    /// - Parameter expression: the expression.
    /// - Returns: libpcap's complaint, or nil when it compiles.
    public static func problem(with expression: String) -> String? {
        do {
            _ = try PacketFilter(expression)
            return nil
        } catch {
            return error.message
        }
    }
}
