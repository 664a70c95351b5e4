// PacketTestSupport: an independent packet builder for tests (shared by the translator and capture tests): builds whole packets byte by byte and computes every checksum
// from scratch with a plain byte loop, sharing no code with the translator under test.
import NAT64Translator

/// RFC 1071 checksum over bytes, written as plainly as possible.
public func referenceChecksum(_ bytes: [UInt8]) -> UInt16 {
    var sum: UInt32 = 0
    var i = 0
    while i < bytes.count {
        let hi = UInt32(bytes[i])
        let lo = i + 1 < bytes.count ? UInt32(bytes[i + 1]) : 0
        sum += hi << 8 | lo
        i += 2
    }
    while sum > 0xFFFF { sum = (sum & 0xFFFF) + (sum >> 16) }
    return ~UInt16(sum)
}

public func be16(_ v: UInt16) -> [UInt8] { [UInt8(v >> 8), UInt8(v & 0xFF)] }
public func be32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)] }
public func v4bytes(_ a: IPv4Address) -> [UInt8] { be32(a.value) }

public enum L4 {
    case udp(src: UInt16, dst: UInt16, payload: [UInt8])
    case tcp(src: UInt16, dst: UInt16, flags: UInt8, payload: [UInt8])
    case echo(request: Bool, id: UInt16, seq: UInt16, payload: [UInt8])

    public var proto4: UInt8 {
        switch self { case .udp: 17; case .tcp: 6; case .echo: 1 }
    }
    public var proto6: UInt8 {
        switch self { case .udp: 17; case .tcp: 6; case .echo: 58 }
    }

    /// The L4 bytes with the checksum field zero, and the checksum offset.
    public func bytes(v6: Bool) -> ([UInt8], Int) {
        switch self {
        case .udp(let s, let d, let p):
            return (be16(s) + be16(d) + be16(UInt16(8 + p.count)) + [0, 0] + p, 6)
        case .tcp(let s, let d, let flags, let p):
            return (be16(s) + be16(d) + be32(1000) + be32(0) + [0x50, flags] + be16(65535) + [0, 0] + [0, 0] + p, 16)
        case .echo(let request, let id, let seq, let p):
            let type: UInt8 = v6 ? (request ? 128 : 129) : (request ? 8 : 0)
            return ([type, 0, 0, 0] + be16(id) + be16(seq) + p, 2)
        }
    }
}

/// Builds an IPv6 packet with a correct L4 checksum (unless `corruptChecksum`).
public func buildIPv6(src: IPv6Address, dst: IPv6Address, hopLimit: UInt8 = 64, trafficClass: UInt8 = 0,
               l4: L4, corruptChecksum: Bool = false, udpZeroChecksum: Bool = false) -> [UInt8] {
    var (body, csumAt) = l4.bytes(v6: true)
    let pseudo = src.byteArray + dst.byteArray + be32(UInt32(body.count)) + [0, 0, 0, l4.proto6]
    var c = referenceChecksum(pseudo + body)
    if case .udp = l4, c == 0 { c = 0xFFFF }
    if corruptChecksum { c ^= 0x1234 }
    if udpZeroChecksum { c = 0 }
    body[csumAt] = UInt8(c >> 8)
    body[csumAt + 1] = UInt8(c & 0xFF)
    let header: [UInt8] = [0x60 | trafficClass >> 4, trafficClass << 4, 0, 0] + be16(UInt16(body.count))
        + [l4.proto6, hopLimit] + src.byteArray + dst.byteArray
    return header + body
}

/// Builds an IPv4 packet with correct header and L4 checksums.
public func buildIPv4(src: IPv4Address, dst: IPv4Address, ttl: UInt8 = 64, tos: UInt8 = 0, id: UInt16 = 0x1234,
               flags: UInt16 = 0, options: [UInt8] = [], l4: L4, udpZeroChecksum: Bool = false,
               corruptChecksum: Bool = false) -> [UInt8] {
    var (body, csumAt) = l4.bytes(v6: false)
    var c: UInt16
    if case .echo = l4 {
        c = referenceChecksum(body)
    } else {
        let pseudo = v4bytes(src) + v4bytes(dst) + [0, l4.proto4] + be16(UInt16(body.count))
        c = referenceChecksum(pseudo + body)
        if case .udp = l4, c == 0 { c = 0xFFFF }
    }
    if udpZeroChecksum { c = 0 }
    if corruptChecksum { c ^= 0x1234 }
    body[csumAt] = UInt8(c >> 8)
    body[csumAt + 1] = UInt8(c & 0xFF)
    let ihl = (20 + options.count) / 4
    var header: [UInt8] = [UInt8(0x40 | ihl), tos] + be16(UInt16(20 + options.count + body.count)) + be16(id)
        + be16(flags) + [ttl, l4.proto4, 0, 0] + v4bytes(src) + v4bytes(dst) + options
    let hc = referenceChecksum(header)
    header[10] = UInt8(hc >> 8)
    header[11] = UInt8(hc & 0xFF)
    return header + body
}

/// Reads a packet for assertions (independent of the translator's accessors).
public struct Parsed {
    public let bytes: [UInt8]
    public init(bytes: [UInt8]) { self.bytes = bytes }
    public var version: Int { Int(bytes[0] >> 4) }
    public func u16(_ o: Int) -> UInt16 { UInt16(bytes[o]) << 8 | UInt16(bytes[o + 1]) }
    public func u32(_ o: Int) -> UInt32 { UInt32(u16(o)) << 16 | UInt32(u16(o + 2)) }
    public var l4Offset: Int { version == 4 ? Int(bytes[0] & 0xF) * 4 : 40 }
    public var l4: [UInt8] { Array(bytes[l4Offset...]) }
    public var proto: UInt8 { version == 4 ? bytes[9] : bytes[6] }
    public var src6: IPv6Address { IPv6Address(bytes: Array(bytes[8..<24])) }
    public var dst6: IPv6Address { IPv6Address(bytes: Array(bytes[24..<40])) }
    public var src4: IPv4Address { IPv4Address(u32(12)) }
    public var dst4: IPv4Address { IPv4Address(u32(16)) }
    public var srcPort: UInt16 { u16(l4Offset) }
    public var dstPort: UInt16 { u16(l4Offset + 2) }

    /// True when the L4 checksum verifies from scratch (pseudo-header included where the protocol has one).
    public var l4ChecksumValid: Bool {
        let body = l4
        if version == 4 {
            if proto == 1 { return referenceChecksum(body) == 0 }
            let pseudo = Array(bytes[12..<20]) + [0, proto] + be16(UInt16(body.count))
            return referenceChecksum(pseudo + body) == 0
        }
        let pseudo = Array(bytes[8..<40]) + be32(UInt32(body.count)) + [0, 0, 0, proto]
        return referenceChecksum(pseudo + body) == 0
    }

    public var ipv4HeaderChecksumValid: Bool { referenceChecksum(Array(bytes[0..<l4Offset])) == 0 }
}

// MARK: - Raw builders for conformance tests

/// An IPv6 packet with arbitrary extension headers: `chain` is a list of (header type, header bytes without
/// the next-header byte); the payload follows with `upperProto`.
public func buildIPv6Raw(src: IPv6Address, dst: IPv6Address, hopLimit: UInt8 = 64, trafficClass: UInt8 = 0,
                  chain: [(UInt8, [UInt8])] = [], upperProto: UInt8, payload: [UInt8]) -> [UInt8] {
    var body: [UInt8] = []
    for (i, (_, bytes)) in chain.enumerated() {
        let next = i + 1 < chain.count ? chain[i + 1].0 : upperProto
        body += [next] + bytes
    }
    body += payload
    let first = chain.first?.0 ?? upperProto
    return [0x60 | trafficClass >> 4, trafficClass << 4, 0, 0] + be16(UInt16(body.count)) + [first, hopLimit]
        + src.byteArray + dst.byteArray + body
}

/// Fragment header bytes (without next header): reserved, offset|M, identification.
public func fragmentHeader(offset: Int, more: Bool, id: UInt32) -> [UInt8] {
    [0] + be16(UInt16(offset) | (more ? 1 : 0)) + be32(id)
}

/// An IPv4 packet with the given protocol, flags word and payload; header checksum correct.
public func buildIPv4Raw(src: IPv4Address, dst: IPv4Address, ttl: UInt8 = 64, tos: UInt8 = 0, id: UInt16 = 0x4242,
                  flags: UInt16 = 0, options: [UInt8] = [], proto: UInt8, payload: [UInt8],
                  totalLengthOverride: Int? = nil) -> [UInt8] {
    let ihl = (20 + options.count) / 4
    var header: [UInt8] = [UInt8(0x40 | ihl), tos] + be16(UInt16(totalLengthOverride ?? (20 + options.count + payload.count)))
        + be16(id) + be16(flags) + [ttl, proto, 0, 0] + v4bytes(src) + v4bytes(dst) + options
    let hc = referenceChecksum(header)
    header[10] = UInt8(hc >> 8)
    header[11] = UInt8(hc & 0xFF)
    return header + payload
}

/// ICMPv4 message bytes with a correct checksum.
public func icmp4(type: UInt8, code: UInt8, rest: UInt32, body: [UInt8]) -> [UInt8] {
    var m = [type, code, 0, 0] + be32(rest) + body
    let c = referenceChecksum(m)
    m[2] = UInt8(c >> 8)
    m[3] = UInt8(c & 0xFF)
    return m
}

/// ICMPv6 message bytes with a correct checksum for the given addresses.
public func icmp6(src: IPv6Address, dst: IPv6Address, type: UInt8, code: UInt8, rest: UInt32, body: [UInt8]) -> [UInt8] {
    var m = [type, code, 0, 0] + be32(rest) + body
    let pseudo = src.byteArray + dst.byteArray + be32(UInt32(m.count)) + [0, 0, 0, 58]
    let c = referenceChecksum(pseudo + m)
    m[2] = UInt8(c >> 8)
    m[3] = UInt8(c & 0xFF)
    return m
}
