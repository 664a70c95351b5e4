// What happened to a packet, and why. `DropReason` is the single list behind the drop counters, the
// metrics labels, pcap drop notes and the control interface.

/// The outcome of translating one packet.
public enum Verdict: Equatable, Sendable {
    /// The packet was translated in place; write it out.
    case translated
    /// The packet was dropped for `reason`; nothing to send.
    case drop(DropReason)
    /// The packet was dropped for `reason` and an ICMP error was written into the reply buffer: send that.
    case icmpError(DropReason)
    /// The packet became `count` IPv6 fragments (T4.5); send `Translator.fragment(at:)` for 0..<count.
    case translatedFragments(Int)
}

/// Why a packet was not translated. Raw values are stable: they index the counter array and appear in dumps.
public enum DropReason: Int, CaseIterable, Sendable, CustomStringConvertible {
    /// Shorter than the headers it claims, or than a minimal header.
    case truncated = 0
    /// Not IPv4 or IPv6 (version nibble), or an impossible header field (IHL < 5, lengths).
    case badHeader
    /// IPv4 header checksum wrong.
    case badIPv4Checksum
    /// An upper-layer protocol the translator does not handle (T6.13 for NAPT).
    case unknownL4
    /// IPv6 extension headers the current translator does not handle yet.
    case extensionHeader
    /// ICMP/ICMPv6 type the translator does not translate (T4.7, T6.6).
    case unknownICMPType
    /// Hop limit / TTL would reach zero (T4.2, T6.2): an ICMP Time Exceeded is sent.
    case hopLimitExceeded
    /// IPv6 destination not under the NAT64 prefix, or with a bad u-octet/suffix (A1).
    case notInPrefix
    /// IPv4 destination is not a pool4 address.
    case notInPool
    /// IPv4 packet without a mapping (S6).
    case noState
    /// No free pool4 port for a new mapping (S3).
    case poolExhausted
    /// The session table is full (S9).
    case sessionLimit
    /// Source or destination may never be translated (A2, A3).
    case forbiddenAddress
    /// IPv6 UDP with checksum zero (invalid in IPv6, RFC 8200 §8.1).
    case zeroUDPChecksum
    /// Kernel-originated local traffic in the TUN (neighbour discovery, MLD): ignored quietly.
    case localTraffic
    /// The result would not fit an IPv4 packet (total length > 65535) or the buffer.
    case tooBig
    /// Routing header with Segments Left ≠ 0 (T6.3): Parameter Problem sent.
    case segmentsLeft
    /// An extension header after the Fragment header, or two Fragment headers (T6.4).
    case extensionAfterFragment
    /// Fragmented ICMP/ICMPv6 cannot be translated without reassembly (T6.11).
    case fragmentedICMP
    /// Fragmented IPv4 UDP with checksum zero (T4.13).
    case fragmentedZeroChecksum
    /// IPv4 packet with an unexpired source route option (T4.3): ICMPv4 3/5 sent.
    case sourceRoute
    /// ICMP error whose type, code or pointer has no counterpart (T4.8–T4.10, T6.7–T6.9).
    case untranslatableICMP
    /// ICMP error about an ICMP error, or an inner packet that cannot be translated (T4.11, T6.10).
    case untranslatableInner
    /// DF set and larger than the next-hop MTU (T4.6, T6.5): Packet Too Big / Fragmentation Needed sent.
    case packetTooBig
    /// A translator-generated ICMP error was suppressed by the per-destination rate limit (E3).
    case rateLimited

    // RFC 6146 state (State/, RFC6146/).
    /// A TCP packet other than a SYN with no session (RFC 6146 §3.5.2.2, CLOSED state).
    case synExpected
    /// Refused by address-dependent filtering (S2).
    case filtered
    /// The IPv6 host has its maximum number of sessions, or the host table is full (S9).
    case hostSessionLimit
    /// An IPv4 SYN without a mapping, held for simultaneous open (S6); not a loss yet.
    case synHeld
    /// No room to hold a packet (held SYNs, fragments) (S9).
    case heldPacketLimit
    /// A fragment of an ICMP message kept for reassembly (T6.11); not a loss.
    case fragmentHeld
    /// Overlapping or inconsistent fragments: the datagram was discarded (RFC 5722).
    case fragmentOverlap
    /// A new flow refused by an outbound policy `deny` rule; answered with ICMPv6 1/1.
    case policyDenied
    /// A new flow over an outbound policy `limit` rule's per-host budget.
    case policyRateLimited

    // Malformed input (RFC7915/MalformedInput.swift).
    /// UDP whose Length field disagrees with the packet (F15).
    case udpLengthMismatch
    /// TCP with a Data Offset below 5 words, or a header longer than the packet (F16).
    case tcpDataOffset
    /// A fragment whose offset and length end beyond 65,535 bytes (F17).
    case fragmentTooFar
    /// An IPv4-mapped IPv6 address (::ffff:0:0/96) as source or destination (F18).
    case mappedAddress
    /// The IPv6 host holds its maximum number of pool4 ports (S11 per-host port cap).
    case hostPortLimit
    /// A held fragment (or a datagram under reassembly) of the source holding the most was dropped to make
    /// room for another source's (S12); counted once per fragment or datagram lost.
    case fragmentEvicted
    /// ICMPv4 (protocol 1) carried in IPv6, or ICMPv6 (58) in IPv4 (F19).
    case wrongFamilyICMP

    public var description: String {
        switch self {
        case .truncated: "truncated"
        case .badHeader: "bad-header"
        case .badIPv4Checksum: "bad-ipv4-checksum"
        case .unknownL4: "unknown-l4"
        case .extensionHeader: "extension-header"
        case .unknownICMPType: "unknown-icmp-type"
        case .hopLimitExceeded: "hop-limit-exceeded"
        case .notInPrefix: "not-in-prefix"
        case .notInPool: "not-in-pool4"
        case .noState: "no-state"
        case .poolExhausted: "pool4-exhausted"
        case .sessionLimit: "session-limit"
        case .forbiddenAddress: "forbidden-address"
        case .zeroUDPChecksum: "zero-udp-checksum"
        case .localTraffic: "local-traffic"
        case .tooBig: "too-big"
        case .segmentsLeft: "segments-left"
        case .extensionAfterFragment: "extension-after-fragment"
        case .fragmentedICMP: "fragmented-icmp"
        case .fragmentedZeroChecksum: "fragmented-zero-checksum"
        case .sourceRoute: "source-route"
        case .untranslatableICMP: "untranslatable-icmp"
        case .untranslatableInner: "untranslatable-inner"
        case .packetTooBig: "packet-too-big"
        case .rateLimited: "rate-limited"
        case .synExpected: "tcp-syn-expected"
        case .filtered: "filtered"
        case .hostSessionLimit: "host-session-limit"
        case .synHeld: "syn-held"
        case .heldPacketLimit: "held-packet-limit"
        case .fragmentHeld: "fragment-held"
        case .fragmentOverlap: "fragment-overlap"
        case .policyDenied: "policy-denied"
        case .policyRateLimited: "policy-rate-limited"
        case .udpLengthMismatch: "udp-length-mismatch"
        case .tcpDataOffset: "tcp-bad-data-offset"
        case .fragmentTooFar: "fragment-past-65535"
        case .mappedAddress: "ipv4-mapped-address"
        case .hostPortLimit: "host-port-limit"
        case .fragmentEvicted: "fragment-evicted"
        case .wrongFamilyICMP: "wrong-family-icmp"
        }
    }
}

/// Per-translator counters. Plain integers: each packet thread owns its translator and its counters; the
/// daemon sums snapshots.
///
/// The drop counters are inline storage, not an `Array`: a snapshot copies them by value, so the next drop
/// after a snapshot does not trigger a copy-on-write allocation on the packet path.
public struct TranslatorCounters: Sendable, Equatable {
    public var translated6to4: UInt64 = 0
    public var translated4to6: UInt64 = 0
    public var icmpErrorsSent: UInt64 = 0
    /// Packets between two IPv6 hosts through a pool4 address (S7), also counted in both directions.
    public var hairpinned: UInt64 = 0
    /// Translator-generated ICMP errors suppressed by the E3 rate limit (the packet is counted under its
    /// own drop reason as well).
    public var icmpErrorsRateLimited: UInt64 = 0
    /// ICMP errors translated from one side to the other (T4.8–T4.12, T6.7–T6.10).
    public var icmpErrorsTranslated: UInt64 = 0
    /// IPv6 fragments emitted by T4.5 fragmentation.
    public var fragmentsEmitted: UInt64 = 0
    /// Echo requests to the translator's own addresses answered in `siit` mode.
    public var echoRepliesSent: UInt64 = 0
    /// Room for every `DropReason` (a test checks the list fits).
    public static let dropCapacity = 64
    /// Indexed by `DropReason.rawValue`.
    @usableFromInline var dropCounts = InlineArray<64, UInt64>(repeating: 0)

    public init() {}

    @inlinable public mutating func count(_ reason: DropReason) { dropCounts[reason.rawValue] &+= 1 }
    public func drops(_ reason: DropReason) -> UInt64 { dropCounts[reason.rawValue] }
    /// Every drop counter, indexed by `DropReason.rawValue` (allocates: control side only).
    public var drops: [UInt64] { DropReason.allCases.map { dropCounts[$0.rawValue] } }
    /// All drops added up.
    public var dropsTotal: UInt64 { DropReason.allCases.reduce(0) { $0 &+ dropCounts[$1.rawValue] } }

    /// Adds another snapshot into this one.
    public mutating func add(_ other: TranslatorCounters) {
        translated6to4 &+= other.translated6to4
        translated4to6 &+= other.translated4to6
        icmpErrorsSent &+= other.icmpErrorsSent
        hairpinned &+= other.hairpinned
        icmpErrorsRateLimited &+= other.icmpErrorsRateLimited
        icmpErrorsTranslated &+= other.icmpErrorsTranslated
        fragmentsEmitted &+= other.fragmentsEmitted
        echoRepliesSent &+= other.echoRepliesSent
        for i in 0..<Self.dropCapacity { dropCounts[i] &+= other.dropCounts[i] }
    }

    public static func == (a: TranslatorCounters, b: TranslatorCounters) -> Bool {
        guard a.translated6to4 == b.translated6to4, a.translated4to6 == b.translated4to6,
              a.icmpErrorsSent == b.icmpErrorsSent, a.hairpinned == b.hairpinned,
              a.icmpErrorsRateLimited == b.icmpErrorsRateLimited, a.icmpErrorsTranslated == b.icmpErrorsTranslated,
              a.fragmentsEmitted == b.fragmentsEmitted, a.echoRepliesSent == b.echoRepliesSent
        else { return false }
        for i in 0..<dropCapacity where a.dropCounts[i] != b.dropCounts[i] { return false }
        return true
    }
}
