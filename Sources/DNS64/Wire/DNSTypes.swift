// Open wire numbers (RFC 1035 §3.2, §4.1.1; RFC 6895 registries). Each is a RawRepresentable struct so an
// unknown value is still representable (RFC 3597) and switch statements name only what they handle.

/// An RR TYPE or QTYPE (RFC 6895 §3.1).
public struct DNSRecordType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// IPv4 host address (RFC 1035 §3.4.1).
    public static let a = DNSRecordType(rawValue: 1)
    /// Authoritative name server (RFC 1035 §3.3.11).
    public static let ns = DNSRecordType(rawValue: 2)
    /// Canonical name (RFC 1035 §3.3.1).
    public static let cname = DNSRecordType(rawValue: 5)
    /// Start of authority (RFC 1035 §3.3.13).
    public static let soa = DNSRecordType(rawValue: 6)
    /// Domain name pointer (RFC 1035 §3.3.12).
    public static let ptr = DNSRecordType(rawValue: 12)
    /// Mail exchange (RFC 1035 §3.3.9).
    public static let mx = DNSRecordType(rawValue: 15)
    /// IPv6 host address (RFC 3596 §2.1).
    public static let aaaa = DNSRecordType(rawValue: 28)
    /// Delegation name (RFC 6672 §2.1).
    public static let dname = DNSRecordType(rawValue: 39)
    /// EDNS(0) pseudo-record (RFC 6891 §6.1.1).
    public static let opt = DNSRecordType(rawValue: 41)
    /// DNSSEC signature (RFC 4034 §3).
    public static let rrsig = DNSRecordType(rawValue: 46)
    /// Any type (RFC 1035 §3.2.3, RFC 8482).
    public static let any = DNSRecordType(rawValue: 255)

    public var description: String {
        switch self {
        case .a: "A"
        case .ns: "NS"
        case .cname: "CNAME"
        case .soa: "SOA"
        case .ptr: "PTR"
        case .mx: "MX"
        case .aaaa: "AAAA"
        case .dname: "DNAME"
        case .opt: "OPT"
        case .rrsig: "RRSIG"
        case .any: "ANY"
        default: "TYPE\(rawValue)"
        }
    }
}

/// An RR CLASS (RFC 1035 §3.2.4). For OPT records this field holds the UDP payload size instead.
public struct DNSClass: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// The Internet class.
    public static let `in` = DNSClass(rawValue: 1)
    /// Chaos (RFC 1035 §3.2.4).
    public static let chaos = DNSClass(rawValue: 3)
    /// Any class (RFC 1035 §3.2.5).
    public static let any = DNSClass(rawValue: 255)

    public var description: String { self == .in ? "IN" : "CLASS\(rawValue)" }
}

/// The 4-bit OPCODE of the header (RFC 1035 §4.1.1, RFC 6895 §2.2).
public struct DNSOpcode: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue & 0x0F }

    /// A standard query; the only opcode this forwarder serves (others get NOTIMP, rule N5).
    public static let query = DNSOpcode(rawValue: 0)
    /// Server status (RFC 1035).
    public static let status = DNSOpcode(rawValue: 2)
    /// Zone change notification (RFC 1996).
    public static let notify = DNSOpcode(rawValue: 4)
    /// Dynamic update (RFC 2136).
    public static let update = DNSOpcode(rawValue: 5)
}

/// The 4-bit RCODE of the header (RFC 1035 §4.1.1, RFC 6895 §2.3).
public struct DNSRcode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue & 0x0F }

    /// No error.
    public static let noError = DNSRcode(rawValue: 0)
    /// The query could not be parsed.
    public static let formErr = DNSRcode(rawValue: 1)
    /// The server could not get an answer (upstream failure or timeout).
    public static let servFail = DNSRcode(rawValue: 2)
    /// The name does not exist.
    public static let nxDomain = DNSRcode(rawValue: 3)
    /// The opcode is not supported.
    public static let notImp = DNSRcode(rawValue: 4)
    /// Policy refusal (clients outside the allow list, rule D10).
    public static let refused = DNSRcode(rawValue: 5)

    public var description: String {
        switch rawValue {
        case 0: "NOERROR"
        case 1: "FORMERR"
        case 2: "SERVFAIL"
        case 3: "NXDOMAIN"
        case 4: "NOTIMP"
        case 5: "REFUSED"
        default: "RCODE\(rawValue)"
        }
    }
}
