// The translator core: one packet in, the same buffer rewritten (or an ICMP error in `reply`), a verdict out.
// Dispatches on the IP version; the direction files hold the RFC 7915 rules.

/// A stateful NAT64 translator (RFC 6146 with RFC 7915 header translation).
///
/// Not thread-safe by design: each packet thread owns one translator (state is sharded, never shared
/// between threads); the daemon reads `counters` snapshots from the owning thread.
public struct Translator: Sendable {
    public let configuration: TranslatorConfiguration
    public var table: BindingTable
    public var counters = TranslatorCounters()
    @usableFromInline var random: SplitMix64
    /// Sorted pool4 addresses for the inbound membership test.
    @usableFromInline let poolSet: Set<IPv4Address>

    public init(configuration: TranslatorConfiguration) {
        self.configuration = configuration
        table = BindingTable(
            pool: configuration.pool4, capacity: configuration.maxSessions, timeouts: configuration.timeouts,
            seed: configuration.seed, configuration: configuration.state)
        random = SplitMix64(seed: configuration.seed ^ 0x5151_5151_5151_5151)
        poolSet = Set(configuration.pool4 + configuration.state.oneToOneIPv4Addresses)
    }

    /// Translates the packet in `packet` in place.
    ///
    /// - Parameters:
    ///   - packet: the packet as read from the TUN, with `PacketBuffer.headroom` free bytes in front.
    ///   - reply: a scratch buffer; holds the ICMP error to send when the verdict is `.icmpError`.
    ///   - now: monotonic time in nanoseconds (drives mapping timeouts).
    /// - Returns: what to do with the packet. Every drop is counted in `counters`.
    public mutating func translate(_ packet: inout PacketBuffer, reply: inout PacketBuffer, now: Nanoseconds) -> Verdict {
        let verdict: Verdict
        if packet.count < 1 {
            verdict = .drop(.truncated)
        } else {
            switch (packet.base + packet.start).u8(0) >> 4 {
            case 6:
                let translated = translate6to4(&packet, reply: &reply, now: now)
                verdict = hairpinIfNeeded(translated, &packet, reply: &reply, now: now)  // S7, RFC6146/Hairpinning.swift
            case 4: verdict = translate4to6(&packet, reply: &reply, now: now)
            default: verdict = .drop(.badHeader)
            }
        }
        switch verdict {
        case .translated: break
        case .drop(let reason): counters.count(reason)
        case .icmpError(let reason):
            counters.count(reason)
            counters.icmpErrorsSent &+= 1
        }
        return verdict
    }

    /// Expires idle mappings; call from a timer, not per packet.
    public mutating func expire(now: Nanoseconds, budget: Int = 4096) -> Int {
        table.expire(now: now, budget: budget)
    }
}
