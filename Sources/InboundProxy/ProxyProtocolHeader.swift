// The PROXY protocol header the proxy sends to a backend before the client's bytes, so the backend (nginx
// `listen ... proxy_protocol`, Apache mod_remoteip, HAProxy `accept-proxy`) sees the client's real address.
// Specification: HAProxy's "The PROXY protocol", versions 1 and 2 (doc/proxy-protocol.txt).
//
// Rules (IP-P*, tested in ProxyProtocolTests against the specification's byte layouts):
//   IP-P1  v1 is one US-ASCII line: "PROXY TCP4|TCP6 SRC DST SPORT DPORT\r\n" (§2.1), addresses in canonical
//          text (IPv6 compressed, RFC 5952), at most 107 bytes.
//   IP-P2  v1 with addresses of two families (cannot happen on one socket) is "PROXY UNKNOWN\r\n" (§2.1).
//   IP-P3  v2 is the 12-byte signature, 0x21 (version 2, PROXY), 0x11 (TCP/IPv4) or 0x21 (TCP/IPv6), the
//          length, then source and destination address, source and destination port, network order (§2.2).
//   IP-P4  v2 carries the name the route was chosen by (SNI or Host) as PP2_TYPE_AUTHORITY (0x02) (§2.2.1),
//          and for a TLS listener PP2_TYPE_SSL (0x20) with client = PP2_CLIENT_SSL and a non-zero verify
//          (the proxy checked no client certificate) and no sub-TLVs: the negotiated version and cipher are
//          not seen by a proxy that does not terminate TLS (§2.2.5).
//   IP-P5  an IPv4-mapped IPv6 address (::ffff:a.b.c.d, from a dual-stack socket) is sent as IPv4.

import NAT64Translator

/// An IPv4 or IPv6 address.
public enum IPAddress: Hashable, Sendable, CustomStringConvertible {
    case v4(IPv4Address)
    case v6(IPv6Address)

    /// IP-P5: the IPv4 address inside ::ffff:0:0/96, else self.
    public var unmapped: IPAddress {
        if case .v6(let a) = self, a.high == 0, a.low >> 32 == 0xFFFF {
            return .v4(IPv4Address(UInt32(truncatingIfNeeded: a.low)))
        }
        return self
    }

    public var description: String {
        switch self {
        case .v4(let a): a.description
        case .v6(let a): a.description
        }
    }
}

/// An address and TCP port.
public struct IPEndpoint: Hashable, Sendable, CustomStringConvertible {
    public var address: IPAddress
    public var port: UInt16

    public init(_ address: IPAddress, _ port: UInt16) {
        self.address = address
        self.port = port
    }

    /// `192.0.2.1:443` or `[2001:db8::1]:443`.
    public var description: String {
        switch address {
        case .v4(let a): "\(a):\(port)"
        case .v6(let a): "[\(a)]:\(port)"
        }
    }
}

/// Which PROXY protocol header a route sends.
public enum ProxyProtocolVersion: String, Sendable, CaseIterable {
    case none, v1, v2
}

/// Encoders for PROXY protocol headers.
public enum ProxyProtocolHeader {
    /// The v2 signature (§2.2).
    public static let v2Signature: [UInt8] = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A]
    /// PP2_TYPE_AUTHORITY (§2.2.1).
    public static let typeAuthority: UInt8 = 0x02
    /// PP2_TYPE_SSL (§2.2.5).
    public static let typeSSL: UInt8 = 0x20

    /// The header of `version` for a connection from `source` to `destination` (the proxy's listening address).
    public static func encode(_ version: ProxyProtocolVersion, source: IPEndpoint, destination: IPEndpoint,
                              authority: String?, tls: Bool = false) -> [UInt8] {
        switch version {
        case .none: []
        case .v1: v1(source: source, destination: destination)
        case .v2: v2(source: source, destination: destination, authority: authority, tls: tls)
        }
    }

    /// IP-P1, IP-P2.
    public static func v1(source: IPEndpoint, destination: IPEndpoint) -> [UInt8] {
        let line: String
        switch (source.address.unmapped, destination.address.unmapped) {
        case (.v4(let s), .v4(let d)): line = "PROXY TCP4 \(s) \(d) \(source.port) \(destination.port)\r\n"
        case (.v6(let s), .v6(let d)): line = "PROXY TCP6 \(s) \(d) \(source.port) \(destination.port)\r\n"
        default: line = "PROXY UNKNOWN\r\n"
        }
        return Array(line.utf8)
    }

    /// IP-P3, IP-P4. Families that differ give AF_UNSPEC with no address block (§2.2).
    public static func v2(source: IPEndpoint, destination: IPEndpoint, authority: String?, tls: Bool = false) -> [UInt8] {
        var addresses: [UInt8] = []
        let family: UInt8
        switch (source.address.unmapped, destination.address.unmapped) {
        case (.v4(let s), .v4(let d)):
            family = 0x11
            for a in [s, d] { addresses += withUnsafeBytes(of: a.value.bigEndian, Array.init) }
        case (.v6(let s), .v6(let d)):
            family = 0x21
            addresses = s.byteArray + d.byteArray
        default:
            family = 0x00
        }
        if family != 0 {
            addresses += withUnsafeBytes(of: source.port.bigEndian, Array.init)
            addresses += withUnsafeBytes(of: destination.port.bigEndian, Array.init)
        }
        if let authority, !authority.isEmpty, authority.utf8.count <= 255 {
            let value = Array(authority.utf8)
            addresses += [typeAuthority, 0, UInt8(value.count)] + value
        }
        if tls {
            // client = PP2_CLIENT_SSL (0x01); verify = 1: no client certificate was verified.
            addresses += [typeSSL, 0, 5, 0x01, 0, 0, 0, 1]
        }
        return v2Signature + [0x21, family, UInt8(addresses.count >> 8), UInt8(addresses.count & 0xFF)] + addresses
    }
}
