// The cache-hit fast path of rule N4: the commonest query shape read straight from the datagram, so a cached
// answer goes back without building a `DNSMessage`. Only a strict subset is accepted (QR=0, opcode QUERY, one
// question with an uncompressed name, no answer or authority records, at most one EDNS version 0 OPT record and
// nothing after it); anything else returns nil and takes the full intake (D10, N5, BADVERS), which also decides
// every error reply. Reads are bounds-checked, so hostile input cannot trap.

/// The parts of a plain query that a cache lookup and a cached reply need.
struct PlainQuery {
    /// The client's ID.
    var id: UInt16
    /// RD, echoed.
    var recursionDesired: Bool
    /// CD (part of the cache key).
    var checkingDisabled: Bool
    /// DO, or nil when the query has no OPT record.
    var dnssecOK: Bool?
    /// The requestor's UDP payload size (0 without OPT).
    var udpPayloadSize: UInt16
    /// The question name in lower-cased wire form (the cache key's name).
    var key: [UInt8]
    /// End of the name in the datagram (12 + its wire length).
    var nameEnd: Int
    /// QTYPE.
    var type: UInt16
    /// QCLASS.
    var qclass: UInt16

    /// Reads `bytes`; nil unless it has exactly the plain shape above.
    init?(_ bytes: UnsafeRawBufferPointer) {
        var scratch: [UInt8] = []
        self.init(bytes, keyBuffer: &scratch)
    }

    /// Reads `bytes`, building `key` in `keyBuffer`'s storage: a caller that keeps the buffer and drops the
    /// query (and any key made from it) before the next call reuses one allocation for every query.
    init?(_ bytes: UnsafeRawBufferPointer, keyBuffer: inout [UInt8]) {
        let count = bytes.count
        guard count >= DNSHeader.length + DNSQuestion.minimumLength else { return nil }
        func u16(_ at: Int) -> UInt16 { UInt16(bytes[at]) << 8 | UInt16(bytes[at + 1]) }
        let flags = bytes[2]
        // QR=0 and OPCODE=0; QDCOUNT 1, ANCOUNT 0, NSCOUNT 0, ARCOUNT 0 or 1.
        guard flags & 0xF8 == 0, u16(4) == 1, u16(6) == 0, u16(8) == 0 else { return nil }
        let arcount = u16(10)
        guard arcount <= 1 else { return nil }
        var key: [UInt8] = []
        swap(&key, &keyBuffer)
        defer { keyBuffer = key }  // back to the caller, still shared with self.key on success
        key.removeAll(keepingCapacity: true)
        key.reserveCapacity(64)
        var at = DNSHeader.length
        while true {
            guard at < count else { return nil }
            let length = Int(bytes[at])
            if length == 0 { break }
            guard length <= DNSName.maxLabelLength, at + 1 + length < count else { return nil }
            key.append(UInt8(length))
            for i in (at + 1)...(at + length) { key.append(DNSName.lower(bytes[i])) }
            at += 1 + length
        }
        guard key.count + 1 <= DNSName.maxWireLength, at + 5 <= count else { return nil }
        nameEnd = at + 1
        type = u16(nameEnd)
        qclass = u16(nameEnd + 2)
        at = nameEnd + 4
        if arcount == 1 {
            // OPT: root owner, TYPE 41, CLASS = payload size, TTL = ext. RCODE, VERSION, DO + Z, RDLENGTH, RDATA.
            guard at + 11 <= count, bytes[at] == 0, u16(at + 1) == 41, bytes[at + 6] == 0 else { return nil }
            udpPayloadSize = u16(at + 3)
            dnssecOK = bytes[at + 7] & 0x80 != 0
            at += 11 + Int(u16(at + 9))
        } else {
            udpPayloadSize = 0
            dnssecOK = nil
        }
        guard at == count else { return nil }
        id = u16(0)
        recursionDesired = flags & 0x01 != 0
        checkingDisabled = bytes[3] & 0x10 != 0
        self.key = key
    }

    /// The largest UDP reply: 512 without EDNS, else the client's size within 512…1232 (RFC 6891 §6.2.5).
    var replySizeLimit: Int {
        guard dnssecOK != nil else { return 512 }
        return min(max(512, Int(udpPayloadSize)), Int(ClientQuery.advertisedPayloadSize))
    }
}
