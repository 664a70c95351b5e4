// Questions and resource records (RFC 1035 §4.1.2, §4.1.3, §3.3, §3.4; RFC 3596 §2; RFC 6891 §6.1;
// RFC 3597 §5 for unknown types).
import NAT64Translator

/// One entry of the question section.
public struct DNSQuestion: Hashable, Sendable, CustomStringConvertible {
    /// QNAME.
    public var name: DNSName
    /// QTYPE.
    public var type: DNSRecordType
    /// QCLASS.
    public var qclass: DNSClass

    /// Creates a question (class IN unless given).
    public init(name: DNSName, type: DNSRecordType, qclass: DNSClass = .in) {
        self.name = name
        self.type = type
        self.qclass = qclass
    }

    /// Smallest question in wire form: root name, type, class.
    static let minimumLength = 5

    init(reading reader: inout DNSReader) throws(DNSWireError) {
        name = try reader.readName()
        type = DNSRecordType(rawValue: try reader.readUInt16("QTYPE"))
        qclass = DNSClass(rawValue: try reader.readUInt16("QCLASS"))
    }

    func emit(into writer: inout DNSWriter) {
        writer.writeName(name)
        writer.write(type.rawValue)
        writer.write(qclass.rawValue)
    }

    public var description: String { "\(name) \(qclass) \(type)" }
}

/// The SOA RDATA (RFC 1035 §3.3.13). `minimum` is the negative-caching TTL bound (RFC 2308 §4).
public struct SOAData: Hashable, Sendable {
    /// Primary name server.
    public var mname: DNSName
    /// Mailbox of the person responsible, as a name.
    public var rname: DNSName
    /// Zone serial number.
    public var serial: UInt32
    /// Secondary refresh interval (s).
    public var refresh: UInt32
    /// Secondary retry interval (s).
    public var retry: UInt32
    /// Secondary expiry (s).
    public var expire: UInt32
    /// Upper bound of the negative-caching TTL (s; RFC 2308 §4, rule D5).
    public var minimum: UInt32

    /// Creates SOA RDATA from its seven fields.
    public init(
        mname: DNSName, rname: DNSName, serial: UInt32, refresh: UInt32, retry: UInt32, expire: UInt32,
        minimum: UInt32
    ) {
        self.mname = mname
        self.rname = rname
        self.serial = serial
        self.refresh = refresh
        self.retry = retry
        self.expire = expire
        self.minimum = minimum
    }
}

/// RDATA, decoded for the types DNS64 works with and kept as bytes for everything else.
public enum DNSRData: Hashable, Sendable {
    /// A (class IN): 4 bytes.
    case a(IPv4Address)
    /// AAAA (class IN): 16 bytes.
    case aaaa(IPv6Address)
    /// A single domain name: NS, CNAME, PTR or DNAME.
    case name(DNSName)
    /// MX: preference and exchange.
    case mx(preference: UInt16, exchange: DNSName)
    /// SOA.
    case soa(SOAData)
    /// Any other type (RFC 3597 §5), OPT included: the bytes as received.
    case opaque([UInt8])
}

/// One resource record.
public struct DNSResourceRecord: Hashable, Sendable {
    /// Owner name.
    public var name: DNSName
    /// TYPE.
    public var type: DNSRecordType
    /// CLASS; for OPT the requestor's UDP payload size (RFC 6891 §6.1.2).
    public var rrClass: DNSClass
    /// TTL in seconds as on the wire; for OPT the extended RCODE, version and flags (RFC 6891 §6.1.3).
    public var ttl: UInt32
    /// RDATA, decoded where the type is known.
    public var rdata: DNSRData

    /// Creates a record. `rdata` must suit `type` (the `a`, `aaaa`, `cname`, `soa` helpers make sure).
    public init(name: DNSName, type: DNSRecordType, rrClass: DNSClass = .in, ttl: UInt32, rdata: DNSRData) {
        self.name = name
        self.type = type
        self.rrClass = rrClass
        self.ttl = ttl
        self.rdata = rdata
    }

    /// An IN A record.
    public static func a(_ name: DNSName, ttl: UInt32, _ address: IPv4Address) -> DNSResourceRecord {
        DNSResourceRecord(name: name, type: .a, ttl: ttl, rdata: .a(address))
    }

    /// An IN AAAA record.
    public static func aaaa(_ name: DNSName, ttl: UInt32, _ address: IPv6Address) -> DNSResourceRecord {
        DNSResourceRecord(name: name, type: .aaaa, ttl: ttl, rdata: .aaaa(address))
    }

    /// An IN CNAME record.
    public static func cname(_ name: DNSName, ttl: UInt32, target: DNSName) -> DNSResourceRecord {
        DNSResourceRecord(name: name, type: .cname, ttl: ttl, rdata: .name(target))
    }

    /// An IN SOA record.
    public static func soa(_ name: DNSName, ttl: UInt32, _ soa: SOAData) -> DNSResourceRecord {
        DNSResourceRecord(name: name, type: .soa, ttl: ttl, rdata: .soa(soa))
    }

    /// The TTL as a duration: values with the top bit set count as zero (RFC 2181 §8).
    public var effectiveTTL: UInt32 { ttl > UInt32(Int32.max) ? 0 : ttl }

    /// Smallest record in wire form: root name, type, class, TTL, RDLENGTH.
    static let minimumLength = 11

    init(reading reader: inout DNSReader) throws(DNSWireError) {
        name = try reader.readName()
        type = DNSRecordType(rawValue: try reader.readUInt16("TYPE"))
        rrClass = DNSClass(rawValue: try reader.readUInt16("CLASS"))
        ttl = try reader.readUInt32("TTL")
        let length = Int(try reader.readUInt16("RDLENGTH"))
        try reader.need(length, "RDATA of \(type)")
        let end = reader.offset + length
        rdata = try DNSResourceRecord.readRData(&reader, type: type, rrClass: rrClass, length: length)
        guard reader.offset == end else {
            throw DNSWireError(.badRData, "\(type) RDATA at \(end - length): \(length) bytes, content ends at \(reader.offset)")
        }
    }

    private static func readRData(
        _ reader: inout DNSReader, type: DNSRecordType, rrClass: DNSClass, length: Int
    ) throws(DNSWireError) -> DNSRData {
        let start = reader.offset
        func badLength() -> DNSWireError {
            DNSWireError(.badRData, "\(type) RDATA at \(start) of \(length) bytes")
        }
        switch type {
        case .a where rrClass == .in:
            guard length == 4 else { throw badLength() }
            return .a(IPv4Address(try reader.readUInt32("A")))
        case .aaaa where rrClass == .in:
            guard length == 16 else { throw badLength() }
            return .aaaa(IPv6Address(bytes: try reader.readBytes(16, "AAAA")))
        case .ns, .cname, .ptr, .dname:
            return .name(try readContainedName(&reader, end: start + length))
        case .mx:
            let preference = try reader.readUInt16("MX preference")
            return .mx(preference: preference, exchange: try readContainedName(&reader, end: start + length))
        case .soa:
            let mname = try readContainedName(&reader, end: start + length)
            let rname = try readContainedName(&reader, end: start + length)
            guard start + length - reader.offset == 20 else { throw badLength() }
            return .soa(
                SOAData(
                    mname: mname, rname: rname, serial: try reader.readUInt32("SOA serial"),
                    refresh: try reader.readUInt32("SOA refresh"), retry: try reader.readUInt32("SOA retry"),
                    expire: try reader.readUInt32("SOA expire"), minimum: try reader.readUInt32("SOA minimum")))
        default:
            return .opaque(try reader.readBytes(length, "RDATA"))
        }
    }

    /// A name inside RDATA must end inside the RDATA (its pointers may point anywhere earlier).
    private static func readContainedName(_ reader: inout DNSReader, end: Int) throws(DNSWireError) -> DNSName {
        let name = try reader.readName()
        guard reader.offset <= end else {
            throw DNSWireError(.badRData, "name in RDATA runs past RDLENGTH (ends \(reader.offset), limit \(end))")
        }
        return name
    }

    func emit(into writer: inout DNSWriter) {
        writer.writeName(name)
        writer.write(type.rawValue)
        writer.write(rrClass.rawValue)
        writer.write(ttl)
        let lengthAt = writer.count
        writer.write(UInt16(0))
        let start = writer.count
        switch rdata {
        case .a(let v4):
            writer.write(v4.value)
        case .aaaa(let v6):
            writer.write(v6.byteArray)
        case .name(let target):
            // RFC 3597 §4: only the RFC 1035 types may be compressed; DNAME targets never are (RFC 6672 §2.5).
            writer.writeName(target, compress: type != .dname)
        case .mx(let preference, let exchange):
            writer.write(preference)
            writer.writeName(exchange)
        case .soa(let soa):
            writer.writeName(soa.mname)
            writer.writeName(soa.rname)
            for field in [soa.serial, soa.refresh, soa.retry, soa.expire, soa.minimum] { writer.write(field) }
        case .opaque(let bytes):
            writer.write(bytes)
        }
        writer.patch(UInt16(writer.count - start), at: lengthAt)
    }
}

/// The EDNS(0) values carried by an OPT pseudo-record (RFC 6891 §6.1.2, §6.1.3).
public struct EDNSInfo: Hashable, Sendable {
    /// Requestor's UDP payload size (values below 512 count as 512, RFC 6891 §6.2.5).
    public var udpPayloadSize: UInt16
    /// Upper 8 bits of the extended RCODE.
    public var extendedRcode: UInt8
    /// EDNS version (0 is the only one defined).
    public var version: UInt8
    /// DO: the requestor wants DNSSEC records (RFC 3225).
    public var dnssecOK: Bool
    /// The options, as bytes.
    public var options: [UInt8]

    /// Creates EDNS values (defaults: extended RCODE 0, version 0, DO clear, no options).
    public init(
        udpPayloadSize: UInt16, extendedRcode: UInt8 = 0, version: UInt8 = 0, dnssecOK: Bool = false,
        options: [UInt8] = []
    ) {
        self.udpPayloadSize = udpPayloadSize
        self.extendedRcode = extendedRcode
        self.version = version
        self.dnssecOK = dnssecOK
        self.options = options
    }

    /// Reads the EDNS values from an OPT record; nil for any other record.
    public init?(_ record: DNSResourceRecord) {
        guard record.type == .opt else { return nil }
        udpPayloadSize = record.rrClass.rawValue
        extendedRcode = UInt8(truncatingIfNeeded: record.ttl >> 24)
        version = UInt8(truncatingIfNeeded: record.ttl >> 16)
        dnssecOK = record.ttl & 0x8000 != 0
        if case .opaque(let bytes) = record.rdata { options = bytes } else { options = [] }
    }

    /// The OPT pseudo-record carrying these values (owner: the root).
    public var record: DNSResourceRecord {
        let ttl = UInt32(extendedRcode) << 24 | UInt32(version) << 16 | (dnssecOK ? 0x8000 : 0)
        return DNSResourceRecord(
            name: .root, type: .opt, rrClass: DNSClass(rawValue: udpPayloadSize), ttl: ttl, rdata: .opaque(options))
    }
}
