// Checks of the Router Solicitations and Router Advertisements the sender's socket receives (RFC 4861 §6.1.1,
// §6.1.2). Anything that fails a check is dropped and counted by reason; nothing here trusts a length field.

import NAT64Translator

/// Why a received ND message was dropped.
public enum NDInputDrop: String, Sendable, CaseIterable, Hashable {
    /// The IPv6 hop limit was not 255: the message did not come from the link itself.
    case hopLimit = "hop-limit"
    /// ICMPv6 code other than 0.
    case code
    /// Shorter than the fixed part of the message (8 octets for RS, 16 for RA).
    case tooShort = "too-short"
    /// An option with length 0, or one running past the end of the message.
    case badOption = "bad-option"
    /// A solicitation from the unspecified address that carries a Source Link-Layer Address option.
    case unspecifiedSourceWithLinkLayerAddress = "unspecified-source-with-sllao"
    /// An advertisement whose source is not a link-local address.
    case sourceNotLinkLocal = "source-not-link-local"
    /// Neither a solicitation nor an advertisement (the socket filter normally stops these).
    case unexpectedType = "unexpected-type"
}

/// The outcome of checking one received message.
public enum NDInput: Sendable, Equatable {
    /// A valid Router Solicitation.
    case solicitation
    /// A valid Router Advertisement from another router on the link.
    case advertisement
    /// A message that failed a check.
    case dropped(NDInputDrop)

    /// ICMPv6 type 133 (RFC 4861 §4.1).
    public static let solicitationType: UInt8 = 133

    /// RA12, RA13: checks a received ICMPv6 message (the kernel has already verified its checksum).
    ///
    /// - Parameters:
    ///   - message: the ICMPv6 message, from its type byte on.
    ///   - source: the IPv6 source address.
    ///   - hopLimit: the IPv6 hop limit it arrived with (from IPV6_RECVHOPLIMIT), nil if the kernel gave none.
    /// - Returns: what it is, or why it was dropped.
    public static func classify(_ message: [UInt8], source: IPv6Address, hopLimit: Int?) -> NDInput {
        guard let type = message.first else { return .dropped(.tooShort) }
        let fixedLength: Int
        switch type {
        case solicitationType: fixedLength = 8
        case RouterAdvertisementMessage.icmpType: fixedLength = 16
        default: return .dropped(.unexpectedType)
        }
        guard hopLimit == 255 else { return .dropped(.hopLimit) }
        guard message.count >= 2, message[1] == 0 else {
            return message.count < 2 ? .dropped(.tooShort) : .dropped(.code)
        }
        guard message.count >= fixedLength else { return .dropped(.tooShort) }
        var hasLinkLayerAddress = false
        var offset = fixedLength
        while offset < message.count {
            guard offset + 2 <= message.count else { return .dropped(.badOption) }
            let length = Int(message[offset + 1]) * 8
            guard length > 0, offset + length <= message.count else { return .dropped(.badOption) }
            if message[offset] == NDOptionType.sourceLinkLayerAddress { hasLinkLayerAddress = true }
            offset += length
        }
        if type == solicitationType {
            if source == .unspecified && hasLinkLayerAddress { return .dropped(.unspecifiedSourceWithLinkLayerAddress) }
            return .solicitation
        }
        // RFC 4861 §6.1.2: advertisements come from link-local addresses (fe80::/10).
        guard source.byte(0) == 0xFE && source.byte(1) & 0xC0 == 0x80 else { return .dropped(.sourceNotLinkLocal) }
        return .advertisement
    }
}
