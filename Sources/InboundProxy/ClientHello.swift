// The server name of a TLS ClientHello (RFC 8446 §4.1.2, server_name extension RFC 6066 §3), read without
// terminating TLS: the proxy only looks at the first handshake message to pick a route, then replays the bytes.
//
// Rules (IP-T*, tested in ClientHelloTests):
//   IP-T1  records are TLSPlaintext (RFC 8446 §5.1): type 22 (handshake), legacy version 3.x, length 1...2^14;
//          anything else is refused as not TLS or malformed.
//   IP-T2  the ClientHello may span several records and arrive in any number of TCP segments: records are
//          joined until the handshake message is whole ("need more" until then).
//   IP-T3  the message is bounded (`maxBytes`, default 16 KiB): a larger one is refused as too large, counted.
//   IP-T4  no extensions or no server_name: "no server name" (the listener's default route or a refusal).
//   IP-T6  at most 64 records before the message is whole (real clients use one or two): more is refused as
//          malformed, and a reader need not parse again before `bytesWanted` bytes are there, so a client that
//          drips bytes costs work in proportion to its records, not to the square of its bytes.
//   IP-T5  a host_name must be a DNS name in ASCII (letters, digits, `-`, `_`, `.`), 1...253 bytes; it is
//          lower-cased and a trailing dot removed (RFC 6066 §3: no trailing dot; compared case-insensitively).

/// What the first bytes of a TLS connection say about its server name.
public enum ClientHelloResult: Equatable, Sendable {
    /// The ClientHello is not complete yet.
    case needMore
    /// The ClientHello names this server (lower case, no trailing dot).
    case serverName(String)
    /// A complete ClientHello without a server_name extension.
    case noServerName
    /// The bytes are not a TLS ClientHello, or break its syntax.
    case invalid(String)
    /// The ClientHello is longer than the limit.
    case tooLarge
}

/// Reads the SNI from the start of a TLS stream.
public enum ClientHello {
    /// Default bound on the handshake message, its 4-byte header included (IP-T3).
    public static let defaultMaxBytes = 16_384
    /// Most records a ClientHello may span (IP-T6).
    public static let maxRecords = 64

    /// IP-T6: the buffer length at which `parse` may next answer something other than `.needMore` (the end
    /// of the record under way, or of the next record header); walks record headers only.
    public static func bytesWanted<C: RandomAccessCollection>(_ bytes: C) -> Int
        where C.Element == UInt8, C.Index == Int
    {
        var offset = bytes.startIndex
        for _ in 0...maxRecords {
            guard bytes.endIndex - offset >= 5 else { return offset - bytes.startIndex + 5 }
            let end = offset + 5 + (Int(bytes[offset + 3]) << 8 | Int(bytes[offset + 4]))
            if end > bytes.endIndex { return end - bytes.startIndex }
            offset = end
        }
        return bytes.count  // past the record limit: parse now, which refuses
    }

    /// Parses as much of `bytes` as is there.
    ///
    /// - Parameters:
    ///   - bytes: everything the client sent so far, from its first byte.
    ///   - maxBytes: the largest handshake message accepted (IP-T3).
    /// - Returns: the verdict; `.needMore` until the first handshake message is complete.
    public static func parse<C: RandomAccessCollection>(_ bytes: C, maxBytes: Int = defaultMaxBytes)
        -> ClientHelloResult where C.Element == UInt8, C.Index == Int
    {
        var handshake: [UInt8] = []
        var offset = bytes.startIndex
        for record in 0... {
            guard record < maxRecords else { return .invalid("ClientHello spread over more than \(maxRecords) records") }
            guard bytes.endIndex - offset >= 5 else { return .needMore }
            // IP-T1: a handshake record of TLS 1.x.
            guard bytes[offset] == 22 else { return .invalid("not a TLS handshake record") }
            guard bytes[offset + 1] == 3 else { return .invalid("not TLS (record version \(bytes[offset + 1]).x)") }
            let length = Int(bytes[offset + 3]) << 8 | Int(bytes[offset + 4])
            guard length > 0, length <= 16_384 else { return .invalid("record length \(length) outside 1...16384") }
            let body = offset + 5
            let available = min(length, bytes.endIndex - body)
            handshake.append(contentsOf: bytes[body..<(body + available)])
            // IP-T3: refuse early once the announced message is over the limit.
            if handshake.count >= 4 {
                guard handshake[0] == 1 else { return .invalid("first handshake message is not a ClientHello") }
                let messageLength = Int(handshake[1]) << 16 | Int(handshake[2]) << 8 | Int(handshake[3])
                if messageLength + 4 > maxBytes { return .tooLarge }
                if handshake.count >= messageLength + 4 {
                    return parseBody(handshake[4..<(4 + messageLength)])
                }
            }
            guard available == length else { return .needMore }
            offset = body + length  // IP-T2: the message goes on in the next record.
        }
        return .needMore
    }

    /// The ClientHello body (after the handshake header).
    static func parseBody(_ b: ArraySlice<UInt8>) -> ClientHelloResult {
        var r = Reader(bytes: b)
        guard r.skip(2 + 32),  // legacy_version, random
              let sessionID = r.uint8(), sessionID <= 32, r.skip(Int(sessionID)),
              let suites = r.uint16(), suites >= 2, suites % 2 == 0, r.skip(Int(suites)),
              let compression = r.uint8(), compression >= 1, r.skip(Int(compression))
        else { return .invalid("truncated ClientHello") }
        if r.remaining == 0 { return .noServerName }  // IP-T4: no extensions at all
        guard let extensionsLength = r.uint16(), Int(extensionsLength) == r.remaining else {
            return .invalid("extensions length does not match the message")
        }
        while r.remaining > 0 {
            guard let type = r.uint16(), let length = r.uint16(), let data = r.take(Int(length)) else {
                return .invalid("truncated extension")
            }
            if type == 0 { return serverName(data) }
        }
        return .noServerName
    }

    /// The server_name extension's data (RFC 6066 §3): a list of (type, name); the host_name entry counts.
    static func serverName(_ data: ArraySlice<UInt8>) -> ClientHelloResult {
        var r = Reader(bytes: data)
        guard let listLength = r.uint16(), Int(listLength) == r.remaining, listLength > 0 else {
            return .invalid("server_name list length does not match the extension")
        }
        while r.remaining > 0 {
            guard let type = r.uint8(), let length = r.uint16(), let name = r.take(Int(length)) else {
                return .invalid("truncated server_name entry")
            }
            if type == 0 {
                guard let text = hostName(name) else { return .invalid("server name is not a DNS host name") }
                return .serverName(text)
            }
        }
        return .noServerName
    }

    /// IP-T5: a DNS host name in ASCII, lower-cased, without a trailing dot; nil if it is not one.
    static func hostName<C: Collection>(_ bytes: C) -> String? where C.Element == UInt8 {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        for c in bytes {
            switch c {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): out.append(c | 0x20)
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."):
                out.append(c)
            default: return nil
            }
        }
        if out.last == UInt8(ascii: ".") { out.removeLast() }
        guard (1...253).contains(out.count), out.first != UInt8(ascii: "."),
              !zip(out, out.dropFirst()).contains(where: { $0 == UInt8(ascii: ".") && $1 == UInt8(ascii: ".") })
        else { return nil }
        return String(decoding: out, as: UTF8.self)
    }
}

/// A bounds-checked cursor over bytes.
struct Reader {
    var bytes: ArraySlice<UInt8>
    var remaining: Int { bytes.count }

    mutating func uint8() -> UInt8? {
        guard let b = bytes.first else { return nil }
        bytes = bytes.dropFirst()
        return b
    }

    mutating func uint16() -> UInt16? {
        guard bytes.count >= 2 else { return nil }
        let v = UInt16(bytes[bytes.startIndex]) << 8 | UInt16(bytes[bytes.startIndex + 1])
        bytes = bytes.dropFirst(2)
        return v
    }

    mutating func skip(_ n: Int) -> Bool { take(n) != nil }

    mutating func take(_ n: Int) -> ArraySlice<UInt8>? {
        guard n >= 0, bytes.count >= n else { return nil }
        let out = bytes.prefix(n)
        bytes = bytes.dropFirst(n)
        return out
    }
}
