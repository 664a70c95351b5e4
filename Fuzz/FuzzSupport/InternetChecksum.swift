// Byte-level checksum helpers for the harnesses (independent of the code under test): the RFC 1071 sum, the
// IPv4 header checksum fix-up that lets mutated IPv4 headers reach the translator, and an L4 checksum check.

/// The RFC 1071 sum of `count` bytes at `p` added to `initial` (not folded).
public func internetSum(_ p: UnsafeRawPointer, count: Int, initial: UInt64 = 0) -> UInt64 {
    var sum = initial
    var i = 0
    while i + 1 < count {
        sum &+= UInt64(p.load(fromByteOffset: i, as: UInt8.self)) << 8 | UInt64(p.load(fromByteOffset: i + 1, as: UInt8.self))
        i += 2
    }
    if i < count { sum &+= UInt64(p.load(fromByteOffset: i, as: UInt8.self)) << 8 }
    return sum
}

/// Folds a sum to 16 bits.
public func internetFold(_ sum: UInt64) -> UInt16 {
    var s = sum
    while s > 0xFFFF { s = (s & 0xFFFF) &+ (s >> 16) }
    return UInt16(s)
}

/// When `p` holds an IPv4 header that fits in `count` bytes, writes its correct header checksum (mutated
/// headers would otherwise nearly all stop at the checksum check and never reach the translation code).
public func fixIPv4HeaderChecksum(_ p: UnsafeMutableRawPointer, count: Int) {
    guard count >= 20, p.load(as: UInt8.self) >> 4 == 4 else { return }
    let ihl = Int(p.load(as: UInt8.self) & 0x0F) * 4
    guard ihl >= 20, ihl <= count else { return }
    p.storeBytes(of: 0, toByteOffset: 10, as: UInt16.self)
    let c = ~internetFold(internetSum(UnsafeRawPointer(p), count: ihl))
    p.storeBytes(of: c.bigEndian, toByteOffset: 10, as: UInt16.self)
}
