// Address, prefix and endpoint text as the config file writes it, with a specific Problem for each way it can be
// wrong. NAT64Translator's initialisers only say "nil"; these say why, and what to write instead.

import NAT64Translator

/// Parsers for the address forms the schema uses. Each returns the value, or a `Problem` that reads after the text.
enum AddressText {
    /// A dotted-quad IPv4 address.
    static func ipv4Address(_ text: String) -> Result<IPv4Address, Problem> {
        if let address = IPv4Address(text) { return .success(address) }
        if text.contains("/") { return .failure(Problem("is a prefix; write a single address, e.g. \"198.51.100.1\"")) }
        return .failure(Problem("is not an IPv4 address; write four decimal numbers, e.g. \"198.51.100.1\""))
    }

    /// An IPv6 address in RFC 4291 text form.
    static func ipv6Address(_ text: String) -> Result<IPv6Address, Problem> {
        if let address = IPv6Address(text) { return .success(address) }
        if text.contains("/") { return .failure(Problem("is a prefix; write a single address, e.g. \"2001:db8:1::1\"")) }
        return .failure(Problem("is not an IPv6 address; write e.g. \"2001:db8:1::1\""))
    }

    /// `a.b.c.d/len`, or a bare address meaning /32.
    static func ipv4Prefix(_ text: String) -> Result<IPv4Prefix, Problem> {
        prefix(text, family: "IPv4", maximum: 32, example: "\"192.0.2.0/24\" or \"192.0.2.1\"",
               address: { IPv4Address($0) }, make: { IPv4Prefix($0, length: $1) }, base: \.address)
    }

    /// `addr/len`, or a bare address meaning /128.
    static func ipv6Prefix(_ text: String) -> Result<IPv6Prefix, Problem> {
        prefix(text, family: "IPv6", maximum: 128, example: "\"2001:db8:1::/64\"",
               address: { IPv6Address($0) }, make: { IPv6Prefix($0, length: $1) }, base: \.address)
    }

    /// The shared steps of the two prefix parsers: address, length, then no host bits after the length.
    private static func prefix<Address: Equatable, Prefix: CustomStringConvertible>(
        _ text: String, family: String, maximum: Int, example: String,
        address parseAddress: (Substring) -> Address?, make: (Address, Int) -> Prefix, base: (Prefix) -> Address
    ) -> Result<Prefix, Problem> {
        let (addressText, lengthText) = split(text)
        guard let address = parseAddress(addressText) else {
            return .failure(Problem("is not an \(family) address or prefix; write e.g. \(example)"))
        }
        guard let length = prefixLength(lengthText, maximum: maximum) else {
            return .failure(Problem("has an invalid length; write a number from 0 to \(maximum) after `/`"))
        }
        let prefix = make(address, length)
        guard base(prefix) == address else {
            return .failure(Problem("has bits set after /\(length); did you mean \"\(prefix)\"?"))
        }
        return .success(prefix)
    }

    /// A NAT64 prefix: an IPv6 prefix with an explicit RFC 6052 length and a zero u-octet.
    static func nat64Prefix(_ text: String) -> Result<NAT64Prefix, Problem> {
        guard text.contains("/") else {
            return .failure(Problem("has no length; write it as a prefix, e.g. \"64:ff9b::/96\""))
        }
        let prefix: IPv6Prefix
        switch ipv6Prefix(text) {
        case .success(let p): prefix = p
        case .failure(let problem): return .failure(problem)
        }
        guard NAT64Prefix.permittedLengths.contains(prefix.length) else {
            return .failure(Problem("has length \(prefix.length); use one of /32, /40, /48, /56, /64, /96 (RFC 6052)"))
        }
        guard let nat64 = NAT64Prefix(prefix) else {
            return .failure(Problem("has non-zero bits 64–71; RFC 6052 §2.2 reserves them (the u-octet) and they "
                + "must be zero, so choose a prefix such as \"64:ff9b::/96\" or \"2001:db8:64::/96\""))
        }
        return .success(nat64)
    }

    /// A client network: an IPv4 or IPv6 prefix (a bare address means a single host).
    static func clientNetwork(_ text: String) -> Result<GatewayConfiguration.ClientNetwork, Problem> {
        text.contains(":") ? ipv6Prefix(text).map { .v6($0) } : ipv4Prefix(text).map { .v4($0) }
    }

    /// `a.b.c.d[:port]` or `[v6][:port]`; the port defaults to `defaultPort`.
    static func endpoint(_ text: String, defaultPort: Int = 53) -> Result<GatewayConfiguration.Endpoint, Problem> {
        let host: GatewayConfiguration.Endpoint.Host
        var portText: Substring?
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else {
                return .failure(Problem("has `[` without `]`; write e.g. \"[2001:db8::1]:53\""))
            }
            let inside = text[text.index(after: text.startIndex)..<close]
            guard let v6 = IPv6Address(inside) else {
                return .failure(Problem("has `\(inside)` in brackets, which is not an IPv6 address; write e.g. \"[2001:db8::1]:53\""))
            }
            host = .v6(v6)
            let rest = text[text.index(after: close)...]
            if !rest.isEmpty {
                guard rest.first == ":" else {
                    return .failure(Problem("has text after `]`; write the port after a colon, e.g. \"[\(v6)]:53\""))
                }
                portText = rest.dropFirst()
            }
        } else if text.filter({ $0 == ":" }).count >= 2 {
            let fix = IPv6Address(text).map { "\"[\($0)]:\(defaultPort)\"" } ?? "\"[2001:db8::1]:53\""
            return .failure(Problem("looks like an IPv6 address without brackets; write it as \(fix)"))
        } else {
            let parts = text.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            guard let v4 = IPv4Address(parts[0]) else {
                return .failure(Problem("is not an IP address and port; host names are not allowed, write e.g. "
                    + "\"198.51.100.10:53\" or \"[2001:db8::53]:53\""))
            }
            host = .v4(v4)
            portText = parts.count == 2 ? parts[1] : nil
        }
        guard let portText else { return .success(.init(host: host, port: defaultPort)) }
        guard portText.allSatisfy({ $0.isASCII && $0.isNumber }), portText.count <= 5,
              let port = Int(portText), (1...65535).contains(port)
        else {
            return .failure(Problem("has port `\(portText)`; use a port from 1 to 65535, or leave it out for \(defaultPort)"))
        }
        return .success(.init(host: host, port: port))
    }

    /// Splits `addr/len` into its parts; `len` is nil when there is no slash.
    private static func split(_ text: String) -> (Substring, Substring?) {
        guard let slash = text.firstIndex(of: "/") else { return (text[...], nil) }
        return (text[..<slash], text[text.index(after: slash)...])
    }

    /// The length after `/` (decimal digits only, at most `maximum`); `maximum` when there is no slash.
    private static func prefixLength(_ text: Substring?, maximum: Int) -> Int? {
        guard let text else { return maximum }
        guard !text.isEmpty, text.count <= 3, text.allSatisfy({ $0.isASCII && $0.isNumber }),
              let n = Int(text), n <= maximum
        else { return nil }
        return n
    }
}
