// Hand-made wire bytes for the tests, written without the code under test: labels as length + bytes,
// big-endian integers, and literal arrays in the tests themselves.
import NAT64Translator

enum Bytes {
    /// Uncompressed wire form of a dotted name (no escapes).
    static func name(_ text: String) -> [UInt8] {
        var out: [UInt8] = []
        for label in text.split(separator: ".") {
            out.append(UInt8(label.utf8.count))
            out += Array(label.utf8)
        }
        return out + [0]
    }

    static func u16(_ v: UInt16) -> [UInt8] { [UInt8(v >> 8), UInt8(v & 0xFF)] }
    static func u32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)] }

    /// A 12-byte header.
    static func header(id: UInt16, flags: UInt16, qd: UInt16 = 1, an: UInt16 = 0, ns: UInt16 = 0, ar: UInt16 = 0) -> [UInt8] {
        u16(id) + u16(flags) + u16(qd) + u16(an) + u16(ns) + u16(ar)
    }

    /// A question, class IN.
    static func question(_ name: String, type: UInt16) -> [UInt8] { self.name(name) + u16(type) + u16(1) }

    /// A record whose owner is the name at offset 12 (pointer C0 0C), class IN.
    static func recordAtQName(type: UInt16, ttl: UInt32, rdata: [UInt8]) -> [UInt8] {
        [0xC0, 0x0C] + u16(type) + u16(1) + u32(ttl) + u16(UInt16(rdata.count)) + rdata
    }

    /// A record with an explicit uncompressed owner, class IN.
    static func record(_ owner: String, type: UInt16, ttl: UInt32, rdata: [UInt8]) -> [UInt8] {
        name(owner) + u16(type) + u16(1) + u32(ttl) + u16(UInt16(rdata.count)) + rdata
    }

    /// SOA RDATA with uncompressed names.
    static func soaRData(minimum: UInt32) -> [UInt8] {
        name("ns.example.com") + name("hostmaster.example.com") + u32(2024010101) + u32(7200) + u32(3600)
            + u32(1_209_600) + u32(minimum)
    }

    /// An EDNS OPT record (root owner) with the given payload size and DO bit.
    static func opt(size: UInt16, dnssecOK: Bool = false) -> [UInt8] {
        [0] + u16(41) + u16(size) + u32(dnssecOK ? 0x8000 : 0) + u16(0)
    }

    static let typeA: UInt16 = 1
    static let typeCNAME: UInt16 = 5
    static let typeSOA: UInt16 = 6
    static let typeAAAA: UInt16 = 28
    static let typeMX: UInt16 = 15
}

/// Deterministic pseudo-random numbers (SplitMix64), so fuzz-style tests fail reproducibly.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
