// A light walk over a message in wire form (RFC 1035 §4.1): where each record's TTL and RDATA sit, without
// decompressing names. The cache (rule N4) uses it to age TTLs in place and to drop the OPT record. Every step is
// bounds-checked through `DNSReader`, like the full parser.

/// Positions of the parts of a message that the cache rewrites.
struct DNSRecordWalk: Sendable {
    /// One record's position and the fields the cache needs.
    struct Record: Sendable {
        /// 0 answer, 1 authority, 2 additional.
        var section: Int
        /// Offset of the owner name (the record's first byte).
        var start: Int
        /// TYPE.
        var type: DNSRecordType
        /// TTL as on the wire.
        var ttl: UInt32
        /// Offset of the 4-byte TTL field.
        var ttlOffset: Int
        /// Offset of the RDATA.
        var rdataStart: Int
        /// Offset just after the RDATA (the end of the record).
        var end: Int
    }

    /// End of the question section (the first record starts here).
    var questionEnd: Int
    /// End of the first question's name (12 + its wire length; the first name is never compressed).
    var firstNameEnd: Int
    /// Every record, in message order.
    var records: [Record]

    /// Walks `bytes`.
    /// - Throws: `DNSWireError` when a count, name or length runs past the message (rule N5).
    init(_ bytes: [UInt8]) throws(DNSWireError) {
        guard bytes.count >= DNSHeader.length else {
            throw DNSWireError(.truncated, "message of \(bytes.count) bytes has no complete header")
        }
        func count(_ field: Range<Int>) -> Int { Int(bytes[field.lowerBound]) << 8 | Int(bytes[field.lowerBound + 1]) }
        var reader = DNSReader(bytes, offset: DNSHeader.length)
        let qd = count(DNSHeader.Field.qdcount)
        firstNameEnd = DNSHeader.length
        for i in 0..<qd {
            try reader.skipName()
            if i == 0 { firstNameEnd = reader.offset }
            try reader.need(4, "QTYPE/QCLASS")
            reader.offset += 4
        }
        questionEnd = reader.offset
        records = []
        let counts = [count(DNSHeader.Field.ancount), count(DNSHeader.Field.nscount), count(DNSHeader.Field.arcount)]
        for (section, n) in counts.enumerated() {
            for _ in 0..<n {
                let start = reader.offset
                try reader.skipName()
                let type = DNSRecordType(rawValue: try reader.readUInt16("TYPE"))
                _ = try reader.readUInt16("CLASS")
                let ttlOffset = reader.offset
                let ttl = try reader.readUInt32("TTL")
                let length = Int(try reader.readUInt16("RDLENGTH"))
                try reader.need(length, "RDATA")
                let rdataStart = reader.offset
                reader.offset += length
                records.append(
                    Record(
                        section: section, start: start, type: type, ttl: ttl, ttlOffset: ttlOffset,
                        rdataStart: rdataStart, end: reader.offset))
            }
        }
        guard reader.remaining == 0 else {
            throw DNSWireError(.trailingBytes, "\(reader.remaining) bytes after the last record")
        }
    }
}

extension DNSReader {
    /// Moves past a possibly compressed name without following pointers (the full parser checks them).
    mutating func skipName() throws(DNSWireError) {
        var labels = 0
        while true {
            let length = try readUInt8("name")
            switch length & 0xC0 {
            case 0x00:
                if length == 0 { return }
                try need(Int(length), "label")
                offset += Int(length)
                labels += 1
                guard labels <= 127 else { throw DNSWireError(.nameTooLong, "name with over 127 labels") }
            case 0xC0:
                _ = try readUInt8("pointer")
                return
            default:
                throw DNSWireError(.labelTooLong, "label length byte 0x\(String(length, radix: 16))")
            }
        }
    }
}
