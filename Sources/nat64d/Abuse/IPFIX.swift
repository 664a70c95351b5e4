// IPFIX export of NAT events: messages per RFC 7011 carrying the NAT64 events of RFC 8158, built by
// a pure encoder (`IPFIXEncoder`, unit-tested byte by byte) and sent over UDP by `IPFIXExporter` on the mapping
// log's writer thread. Over UDP the templates go in the first message and again every `template-interval`
// seconds (RFC 7011 §8.4).
//
// Template 256, a NAT64 session or BIB event (RFC 8158 §4.3, §4.5):
//   observationTimeMilliseconds(323) 8, natEvent(230) 1, protocolIdentifier(4) 1, sourceIPv6Address(27) 16,
//   sourceTransportPort(7) 2, postNATSourceIPv4Address(225) 4, postNAPTSourceTransportPort(227) 2,
//   postNATDestinationIPv4Address(226) 4, postNAPTDestinationTransportPort(228) 2           = 40 bytes
// Template 257, a port block allocation or release (RFC 8158 §4.7):
//   observationTimeMilliseconds(323) 8, natEvent(230) 1, sourceIPv6Address(27) 16, postNATSourceIPv4Address(225) 4,
//   portRangeStart(361) 2, portRangeEnd(362) 2, portRangeStepSize(363) 2, portRangeNumPorts(364) 2 = 37 bytes
import GatewayConfig
import NAT64Translator
#if canImport(Glibc)
import Glibc
#endif

/// RFC 8158 §3 (Table 2, the IANA natEvent registry; 1 and 2 are the historic create/delete) values used here.
enum NATEvent: UInt8 {
    case nat64SessionCreate = 6
    case nat64SessionDelete = 7
    case nat64BIBCreate = 10
    case nat64BIBDelete = 11
    case portBlockAllocation = 16
    case portBlockDeallocation = 17

    init(_ kind: MappingEvent.Kind) {
        switch kind {
        case .sessionCreated: self = .nat64SessionCreate
        case .sessionDeleted: self = .nat64SessionDelete
        case .bibCreated: self = .nat64BIBCreate
        case .bibDeleted: self = .nat64BIBDelete
        case .blockAssigned: self = .portBlockAllocation
        case .blockReleased: self = .portBlockDeallocation
        }
    }
}

/// Builds IPFIX messages (RFC 7011 §3). Pure: the caller passes the export time and the wall-clock offset.
struct IPFIXEncoder {
    static let sessionTemplate: UInt16 = 256
    static let blockTemplate: UInt16 = 257
    /// (information element ID, length) of each template, in record order.
    static let sessionFields: [(UInt16, UInt16)] = [(323, 8), (230, 1), (4, 1), (27, 16), (7, 2), (225, 4), (227, 2),
                                                    (226, 4), (228, 2)]
    static let blockFields: [(UInt16, UInt16)] = [(323, 8), (230, 1), (27, 16), (225, 4), (361, 2), (362, 2), (363, 2),
                                                  (364, 2)]
    /// Keeps each message within one unfragmented UDP datagram on a 1500-byte path.
    static let maxMessage = 1400

    let observationDomain: UInt32
    /// Whether session records carry the IPv4 peer (else 0.0.0.0:0, RFC 6888 §4).
    let destination: Bool
    /// Data records sent so far (RFC 7011 §3.1 Sequence Number).
    private(set) var sequence: UInt32 = 0

    init(observationDomain: UInt32, destination: Bool) {
        self.observationDomain = observationDomain
        self.destination = destination
    }

    /// The template set (set ID 2) with both templates.
    static var templateSet: [UInt8] {
        var b: [UInt8] = []
        for (id, fields) in [(sessionTemplate, sessionFields), (blockTemplate, blockFields)] {
            put16(&b, id)
            put16(&b, UInt16(fields.count))
            for (element, length) in fields {
                put16(&b, element)
                put16(&b, length)
            }
        }
        return header(setID: 2, body: b)
    }

    static func header(setID: UInt16, body: [UInt8]) -> [UInt8] {
        var b: [UInt8] = []
        put16(&b, setID)
        put16(&b, UInt16(4 + body.count))
        return b + body
    }

    static func put16(_ b: inout [UInt8], _ v: UInt16) { b += [UInt8(v >> 8), UInt8(truncatingIfNeeded: v)] }
    static func put32(_ b: inout [UInt8], _ v: UInt32) { put16(&b, UInt16(v >> 16)); put16(&b, UInt16(truncatingIfNeeded: v)) }
    static func put64(_ b: inout [UInt8], _ v: UInt64) { put32(&b, UInt32(v >> 32)); put32(&b, UInt32(truncatingIfNeeded: v)) }
    static func put6(_ b: inout [UInt8], _ a: IPv6Address) { put64(&b, a.high); put64(&b, a.low) }

    /// One data record of `e` (its template's layout), at wall-clock milliseconds `ms`.
    func record(_ e: MappingEvent, milliseconds ms: UInt64) -> (template: UInt16, bytes: [UInt8]) {
        var b: [UInt8] = []
        Self.put64(&b, ms)
        b.append(NATEvent(e.kind).rawValue)
        if e.kind == .blockAssigned || e.kind == .blockReleased {
            Self.put6(&b, e.inside)
            Self.put32(&b, e.outside.value)
            Self.put16(&b, e.outsidePort)
            Self.put16(&b, e.lastPort)
            Self.put16(&b, 1)
            Self.put16(&b, e.portCount)
            return (Self.blockTemplate, b)
        }
        b.append(e.proto)
        Self.put6(&b, e.inside)
        Self.put16(&b, e.insidePort)
        Self.put32(&b, e.outside.value)
        Self.put16(&b, e.outsidePort)
        let peer = destination && (e.kind == .sessionCreated || e.kind == .sessionDeleted)
        Self.put32(&b, peer ? e.remote.value : 0)
        Self.put16(&b, peer ? e.remotePort : 0)
        return (Self.sessionTemplate, b)
    }

    /// Messages carrying `events` (the templates first when `templates`), each at most `maxMessage` bytes.
    ///
    /// - Parameters:
    ///   - wallOffset: wall-clock minus monotonic nanoseconds, to date each event.
    ///   - exportSeconds: the message header's Export Time (seconds since the epoch).
    mutating func messages(_ events: [MappingEvent], wallOffset: Int64, exportSeconds: UInt32,
                           templates: Bool) -> [[UInt8]] {
        var out: [[UInt8]] = []
        var sets: [UInt8] = templates ? Self.templateSet : []
        var setTemplate: UInt16 = 0
        var setBody: [UInt8] = []
        var recordsInMessage: UInt32 = 0
        func closeSet() {
            if !setBody.isEmpty { sets += Self.header(setID: setTemplate, body: setBody) }
            setBody = []
        }
        func closeMessage() {
            closeSet()
            guard !sets.isEmpty else { return }
            var m: [UInt8] = []
            Self.put16(&m, 10)  // RFC 7011 §3.1: version 10
            Self.put16(&m, UInt16(16 + sets.count))
            Self.put32(&m, exportSeconds)
            Self.put32(&m, sequence)
            Self.put32(&m, observationDomain)
            out.append(m + sets)
            sequence &+= recordsInMessage
            recordsInMessage = 0
            sets = []
        }
        for e in events {
            let wall = e.time + wallOffset
            let r = record(e, milliseconds: UInt64(max(0, wall / 1_000_000)))
            if 16 + sets.count + 4 + setBody.count + r.bytes.count > Self.maxMessage { closeMessage() }
            if r.template != setTemplate { closeSet(); setTemplate = r.template }
            setBody += r.bytes
            recordsInMessage += 1
        }
        closeMessage()
        return out
    }
}

/// Sends the encoder's messages to the `[ipfix]` collectors over UDP (writer thread only).
final class IPFIXExporter: @unchecked Sendable {
    // @unchecked: used only by the mapping log writer thread after construction.
    private var encoder: IPFIXEncoder
    private let sockets: [(fd: Int32, address: sockaddr_storage, length: socklen_t)]
    private let templateInterval: Nanoseconds
    private var lastTemplates: Nanoseconds = .min

    init(settings: GatewayConfiguration.IPFIX, destination: Bool) {
        encoder = IPFIXEncoder(observationDomain: UInt32(truncatingIfNeeded: settings.observationDomain),
                               destination: destination)
        templateInterval = Nanoseconds(settings.templateInterval) * 1_000_000_000
        sockets = settings.collectors.compactMap { c in
            var storage = sockaddr_storage()
            var length: socklen_t
            let family: Int32
            switch c.host {
            case .v4(let a):
                var sin = sockaddr_in()
                sin.sin_family = sa_family_t(AF_INET)
                sin.sin_port = in_port_t(UInt16(c.port).bigEndian)
                sin.sin_addr = in_addr(s_addr: a.value.bigEndian)
                withUnsafeBytes(of: sin) { src in withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: src) } }
                length = socklen_t(MemoryLayout<sockaddr_in>.size)
                family = AF_INET
            case .v6(let a):
                var sin6 = sockaddr_in6()
                sin6.sin6_family = sa_family_t(AF_INET6)
                sin6.sin6_port = in_port_t(UInt16(c.port).bigEndian)
                var bytes: [UInt8] = []
                IPFIXEncoder.put6(&bytes, a)
                withUnsafeMutableBytes(of: &sin6.sin6_addr) { $0.copyBytes(from: bytes) }
                withUnsafeBytes(of: sin6) { src in withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: src) } }
                length = socklen_t(MemoryLayout<sockaddr_in6>.size)
                family = AF_INET6
            }
            let fd = socket(family, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            return fd >= 0 ? (fd, storage, length) : nil
        }
    }

    deinit { for s in sockets { close(s.fd) } }

    /// Sends `events` (and the templates when due); returns messages and records sent and failed sends.
    func export(_ events: [MappingEvent], wallOffset: Int64, now: Nanoseconds)
        -> (messages: UInt64, records: UInt64, failures: UInt64)
    {
        let templates = lastTemplates == .min || now - lastTemplates >= templateInterval
        guard !events.isEmpty || templates else { return (0, 0, 0) }
        if templates { lastTemplates = now }
        let seconds = UInt32(truncatingIfNeeded: (now + wallOffset) / 1_000_000_000)
        let messages = encoder.messages(events, wallOffset: wallOffset, exportSeconds: seconds, templates: templates)
        var sent: UInt64 = 0
        var failures: UInt64 = 0
        for m in messages {
            for var s in sockets {
                let n = m.withUnsafeBytes { buf in
                    withUnsafePointer(to: &s.address) {
                        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(s.fd, buf.baseAddress, buf.count, 0, $0, s.length) }
                    }
                }
                if n == m.count { sent += 1 } else { failures += 1 }
            }
        }
        return (sent, UInt64(events.count), failures)
    }
}
