// Builders for TLS ClientHello bytes (RFC 8446 §4.1.2) used by the parser and server tests.

/// A ClientHello handshake message (type 1, 3-byte length) with the given extensions.
func clientHelloMessage(serverName: String?, otherExtensions: [(UInt16, [UInt8])] = [], padding: Int = 0) -> [UInt8] {
    var body: [UInt8] = [0x03, 0x03] + [UInt8](repeating: 0xAB, count: 32)  // legacy_version, random
    body += [32] + [UInt8](repeating: 0x11, count: 32)  // session id
    body += [0x00, 0x04, 0x13, 0x01, 0x13, 0x02]  // two cipher suites
    body += [0x01, 0x00]  // null compression
    var extensions: [UInt8] = []
    func add(_ type: UInt16, _ data: [UInt8]) {
        extensions += be16(Int(type)) + be16(data.count) + data
    }
    for (type, data) in otherExtensions { add(type, data) }
    if let serverName {
        let name = Array(serverName.utf8)
        let entry: [UInt8] = [0x00] + be16(name.count) + name
        add(0, be16(entry.count) + entry)
    }
    if padding > 0 { add(21, [UInt8](repeating: 0, count: padding)) }  // RFC 7685 padding
    body += be16(extensions.count) + extensions
    return [0x01] + be24(body.count) + body
}

/// `message` cut into TLS handshake records of at most `recordSize` bytes of payload each.
func records(_ message: [UInt8], recordSize: Int = 16_384) -> [UInt8] {
    var out: [UInt8] = []
    var rest = message[...]
    while !rest.isEmpty {
        let part = rest.prefix(recordSize)
        rest = rest.dropFirst(part.count)
        out += [0x16, 0x03, 0x01] + be16(part.count) + part
    }
    return out
}

func be16(_ n: Int) -> [UInt8] { [UInt8(n >> 8 & 0xFF), UInt8(n & 0xFF)] }
func be24(_ n: Int) -> [UInt8] { [UInt8(n >> 16 & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n & 0xFF)] }
