// Domain names (RFC 1035 §2.3.4, §3.1, §4.1.4) and their compressed wire form. Rule N5 of docs/dns64.md: the
// parser refuses compression loops, forward pointers, names over 255 bytes, labels over 63 and truncated input.

/// A fully qualified domain name as a list of labels (the root label is implied).
///
/// Equality and hashing ignore ASCII case (RFC 4343); `labels` keeps the case as received, so a reply can
/// echo the client's spelling.
public struct DNSName: Hashable, Sendable, CustomStringConvertible {
    /// The labels from left to right, each 1–63 bytes, without the trailing root label.
    public let labels: [[UInt8]]

    /// The root name `.`.
    public static let root = DNSName(unchecked: [])

    /// Longest label (RFC 1035 §2.3.4).
    public static let maxLabelLength = 63
    /// Longest name in wire form, length bytes and the root label included (RFC 1035 §2.3.4).
    public static let maxWireLength = 255

    init(unchecked labels: [[UInt8]]) { self.labels = labels }

    /// Creates a name from labels, checking the limits.
    /// - Parameter labels: the labels, left to right, without the root label.
    /// - Throws: `DNSWireError.Code.invalidName` for an empty label, a label over 63 or a name over 255 bytes.
    public init(labels: [[UInt8]]) throws(DNSWireError) {
        var length = 1
        for label in labels {
            guard !label.isEmpty, label.count <= DNSName.maxLabelLength else {
                throw DNSWireError(.invalidName, "label of \(label.count) bytes")
            }
            length += 1 + label.count
        }
        guard length <= DNSName.maxWireLength else {
            throw DNSWireError(.invalidName, "name of \(length) bytes in wire form")
        }
        self.labels = labels
    }

    /// Parses dotted text (`www.example.com`, trailing dot optional, `.` alone for the root). No escapes.
    /// - Returns: nil when a label is empty or a limit is broken.
    public init?(_ text: String) {
        if text == "." {
            self = .root
            return
        }
        var body = Substring(text)
        if body.hasSuffix(".") { body = body.dropLast() }
        let pieces = body.split(separator: ".", omittingEmptySubsequences: false).map { Array($0.utf8) }
        guard let name = try? DNSName(labels: pieces) else { return nil }
        self = name
    }

    /// Length in uncompressed wire form, including the root label.
    public var wireLength: Int { labels.reduce(1) { $0 + 1 + $1.count } }

    /// Dotted text with a trailing dot; bytes outside printable ASCII, dots and backslashes are escaped
    /// as `\DDD` (RFC 1035 §5.1).
    public var description: String {
        if labels.isEmpty { return "." }
        var out = ""
        for label in labels {
            for byte in label {
                if byte > 0x20 && byte < 0x7F && byte != UInt8(ascii: ".") && byte != UInt8(ascii: "\\") {
                    out.unicodeScalars.append(Unicode.Scalar(byte))
                } else {
                    let digits = String(byte)
                    out += "\\" + String(repeating: "0", count: 3 - digits.count) + digits
                }
            }
            out += "."
        }
        return out
    }

    public static func == (lhs: DNSName, rhs: DNSName) -> Bool {
        guard lhs.labels.count == rhs.labels.count else { return false }
        for (a, b) in zip(lhs.labels, rhs.labels) {
            guard a.count == b.count else { return false }
            for (x, y) in zip(a, b) where DNSName.lower(x) != DNSName.lower(y) { return false }
        }
        return true
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(DNSName.suffixKey(labels[...]))
    }

    @inline(__always) static func lower(_ byte: UInt8) -> UInt8 {
        byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte
    }

    /// The lower-cased wire form of a run of labels: the key for compression and hashing.
    static func suffixKey(_ labels: ArraySlice<[UInt8]>) -> [UInt8] {
        var key: [UInt8] = []
        for label in labels {
            key.append(UInt8(label.count))
            for byte in label { key.append(lower(byte)) }
        }
        return key
    }

    // MARK: - Parsing

    /// Reads a name that starts at `start` in `message`, following compression pointers.
    ///
    /// Every pointer must point strictly before the start of the label run that contains it, so offsets only
    /// decrease and the walk ends after at most `message.count` steps: this refuses loops and forward pointers
    /// alike (RFC 1035 §4.1.4 only ever points back to a prior occurrence).
    /// - Parameters:
    ///   - message: the whole message (pointers are offsets from its first byte).
    ///   - start: where the name begins.
    /// - Returns: the name and the offset just after it in the original position (after the first pointer).
    /// - Throws: `DNSWireError` with `.truncated`, `.compressionLoop`, `.forwardPointer`, `.labelTooLong`
    ///   or `.nameTooLong`.
    static func parse(_ message: [UInt8], at start: Int) throws(DNSWireError) -> (DNSName, end: Int) {
        var labels: [[UInt8]] = []
        var position = start
        var runStart = start
        var end: Int? = nil
        var wireLength = 1
        while true {
            guard position >= 0, position < message.count else {
                throw DNSWireError(.truncated, "name at \(start) runs past the end of the message")
            }
            let length = message[position]
            switch length & 0xC0 {
            case 0x00:
                if length == 0 {
                    return (DNSName(unchecked: labels), end ?? position + 1)
                }
                let labelEnd = position + 1 + Int(length)
                guard labelEnd <= message.count else {
                    throw DNSWireError(.truncated, "label at \(position) of \(length) bytes runs past the end")
                }
                wireLength += 1 + Int(length)
                guard wireLength <= maxWireLength else {
                    throw DNSWireError(.nameTooLong, "name at \(start) exceeds 255 bytes")
                }
                labels.append(Array(message[(position + 1)..<labelEnd]))
                position = labelEnd
            case 0xC0:
                guard position + 1 < message.count else {
                    throw DNSWireError(.truncated, "pointer at \(position) cut off")
                }
                let target = Int(length & 0x3F) << 8 | Int(message[position + 1])
                if target >= position {
                    throw DNSWireError(.forwardPointer, "pointer at \(position) to \(target)")
                }
                if target >= runStart {
                    throw DNSWireError(.compressionLoop, "pointer at \(position) back into its own name (\(target))")
                }
                if end == nil { end = position + 2 }
                runStart = target
                position = target
            default:
                throw DNSWireError(
                    .labelTooLong, "label length byte 0x\(String(length, radix: 16)) at \(position) (over 63)")
            }
        }
    }
}
