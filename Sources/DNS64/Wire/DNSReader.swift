// A bounds-checked cursor over a whole DNS message. Every read checks first and throws `.truncated`, so no
// parser built on it can trap on hostile input. Names need the whole message (compression pointers are
// offsets from its start), which is why the reader keeps all bytes rather than a slice.

/// Reads big-endian fields from a DNS message, never past its end.
struct DNSReader {
    /// The whole message.
    let bytes: [UInt8]
    /// Where the next read starts.
    var offset: Int

    init(_ bytes: [UInt8], offset: Int = 0) {
        self.bytes = bytes
        self.offset = offset
    }

    /// Bytes left after `offset`.
    var remaining: Int { bytes.count - offset }

    /// Throws unless `count` more bytes are available.
    func need(_ count: Int, _ what: @autoclosure () -> String) throws(DNSWireError) {
        guard count >= 0, count <= remaining else {
            throw DNSWireError(.truncated, "\(what()) needs \(count) bytes at offset \(offset), \(remaining) left")
        }
    }

    mutating func readUInt8(_ what: @autoclosure () -> String) throws(DNSWireError) -> UInt8 {
        try need(1, what())
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func readUInt16(_ what: @autoclosure () -> String) throws(DNSWireError) -> UInt16 {
        try need(2, what())
        defer { offset += 2 }
        return UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
    }

    mutating func readUInt32(_ what: @autoclosure () -> String) throws(DNSWireError) -> UInt32 {
        try need(4, what())
        defer { offset += 4 }
        return UInt32(bytes[offset]) << 24 | UInt32(bytes[offset + 1]) << 16 | UInt32(bytes[offset + 2]) << 8
            | UInt32(bytes[offset + 3])
    }

    mutating func readBytes(_ count: Int, _ what: @autoclosure () -> String) throws(DNSWireError) -> [UInt8] {
        try need(count, what())
        defer { offset += count }
        return Array(bytes[offset..<(offset + count)])
    }

    /// Reads a possibly compressed name at `offset` and moves past it (RFC 1035 §4.1.4).
    mutating func readName() throws(DNSWireError) -> DNSName {
        let (name, end) = try DNSName.parse(bytes, at: offset)
        offset = end
        return name
    }
}

/// Appends big-endian fields; the emit side of `DNSReader`.
struct DNSWriter {
    private(set) var bytes: [UInt8] = []
    /// Offsets of names already written, keyed by their lower-cased wire form (for compression).
    private var names: [[UInt8]: Int] = [:]
    /// Whether `writeName(_:compress:)` may use pointers at all.
    let compression: Bool

    init(compression: Bool = true, capacity: Int = 512) {
        self.compression = compression
        bytes.reserveCapacity(capacity)
    }

    var count: Int { bytes.count }

    mutating func write(_ v: UInt8) { bytes.append(v) }

    mutating func write(_ v: UInt16) {
        bytes.append(UInt8(v >> 8))
        bytes.append(UInt8(truncatingIfNeeded: v))
    }

    mutating func write(_ v: UInt32) {
        write(UInt16(v >> 16))
        write(UInt16(truncatingIfNeeded: v))
    }

    mutating func write(_ v: [UInt8]) { bytes.append(contentsOf: v) }

    /// Overwrites a 16-bit field written earlier (RDLENGTH once the RDATA is known).
    mutating func patch(_ v: UInt16, at position: Int) {
        bytes[position] = UInt8(v >> 8)
        bytes[position + 1] = UInt8(truncatingIfNeeded: v)
    }

    /// Writes `name`, pointing at an earlier copy of its longest known suffix when `compress` is set.
    /// Pointers only ever go back (RFC 1035 §4.1.4) and only to offsets below 0x4000.
    mutating func writeName(_ name: DNSName, compress: Bool = true) {
        let labels = name.labels
        for i in labels.indices {
            let key = DNSName.suffixKey(labels[i...])
            if compression && compress, let target = names[key] {
                write(UInt16(0xC000) | UInt16(target))
                return
            }
            if compression && count < 0x4000 && names[key] == nil { names[key] = count }
            write(UInt8(labels[i].count))
            write(labels[i])
        }
        write(UInt8(0))
    }
}
