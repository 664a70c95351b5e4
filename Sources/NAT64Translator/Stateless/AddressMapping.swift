// Stateless address translation (conformance F1, F2, F3): RFC 7757 EAM first (longest match), then the
// RFC 6052 prefix, in both directions and for both addresses of a packet (RFC 7915 §1.3 lets the prefix serve
// either side). `siit` mode uses nothing else; the stateful modes use the same idea for their 1:1 hosts.
// The translator answers echo requests to its own addresses in `siit` mode (a TAYGA-style setup pings it).

extension Translator {
    /// True in `siit` mode (F1).
    @inlinable var isStateless: Bool { configuration.state.mode == .siit }

    /// F1: the IPv4 form of `address`: an EAM entry, else the RFC 6052 prefix (A1 well formed, A2/A3 allowed).
    @inlinable
    func statelessIPv4(for address: IPv6Address) -> IPv4Address? {
        if let v4 = eamTable.map(address) { return v4 }  // A3: an explicit entry is allowed by configuration
        guard case .success(let v4) = configuration.prefix.extract(address),
              configuration.addressPolicy.allows(v4, under: configuration.prefix)
        else { return nil }
        return v4
    }

    /// F1: the IPv6 form of `address`: an EAM entry, else embedded under the prefix (A2/A3 allowed).
    @inlinable
    func statelessIPv6(for address: IPv4Address) -> IPv6Address? {
        if let v6 = eamTable.map(address) { return v6 }
        guard configuration.addressPolicy.allows(address, under: configuration.prefix) else { return nil }
        return configuration.prefix.embed(address)
    }

    /// F2 / F3: the IPv4 address an IPv6 host keeps 1:1 (siit mapping, or a stateful mode's 1:1 host).
    @inlinable
    func oneToOneIPv4(for address: IPv6Address) -> IPv4Address? {
        isStateless ? statelessIPv4(for: address) : table.oneToOneAddress(for: address)
    }

    /// F2 / F3: the IPv6 host behind a 1:1 IPv4 address (siit mapping, or a stateful mode's 1:1 host).
    @inlinable
    func oneToOneIPv6(for address: IPv4Address) -> IPv6Address? {
        isStateless ? statelessIPv6(for: address) : table.oneToOneHost(for: address)
    }

    /// An ICMPv6 echo request to the translator's own IPv6 address: answered in place (`siit` mode).
    @usableFromInline
    mutating func answerEcho6(_ packet: inout PacketBuffer, layout: IPv6Layout) -> Verdict {
        let ip = packet.base + packet.start
        let icmp = ip + layout.upperOffset
        guard layout.proto == IPProtocolNumber.icmpv6, layout.fragment == nil,
              packet.count - layout.upperOffset >= L4Field.icmpHeaderLength,
              icmp.u8(L4Field.icmpType) == 128, icmp.u8(L4Field.icmpCode) == 0
        else { return .drop(.localTraffic) }
        let source = ip.ipv6(IPv6Field.source)
        ip.setIPv6(IPv6Field.source, ip.ipv6(IPv6Field.destination))
        ip.setIPv6(IPv6Field.destination, source)
        ip.setU8(IPv6Field.hopLimit, 64)
        icmp.setU8(L4Field.icmpType, 129)  // the pseudo-header sum is unchanged by the swap
        icmp.setBE16(L4Field.icmpChecksum, InternetChecksum.adjust(icmp.be16(L4Field.icmpChecksum),
                                                                   removing: 128 << 8, adding: 129 << 8))
        counters.echoRepliesSent &+= 1
        return .translated
    }

    /// An ICMP echo request to the translator's own IPv4 address: answered in place (`siit` mode).
    @usableFromInline
    mutating func answerEcho4(_ packet: inout PacketBuffer, headerLength: Int) -> Verdict {
        let ip = packet.base + packet.start
        let icmp = ip + headerLength
        guard ip.u8(IPv4Field.proto) == IPProtocolNumber.icmp,
              packet.count - headerLength >= L4Field.icmpHeaderLength,
              ip.be16(IPv4Field.flagsFragmentOffset) & (IPv4Field.moreFragments | IPv4Field.offsetMask) == 0,
              icmp.u8(L4Field.icmpType) == 8, icmp.u8(L4Field.icmpCode) == 0
        else { return .drop(.localTraffic) }
        let source = ip.be32(IPv4Field.source)
        ip.setBE32(IPv4Field.source, ip.be32(IPv4Field.destination))
        ip.setBE32(IPv4Field.destination, source)
        ip.setU8(IPv4Field.ttl, 64)
        ip.setBE16(IPv4Field.checksum, 0)
        ip.setBE16(IPv4Field.checksum, InternetChecksum.finish(InternetChecksum.sum(UnsafeRawPointer(ip), count: headerLength)))
        icmp.setU8(L4Field.icmpType, 0)
        icmp.setBE16(L4Field.icmpChecksum, InternetChecksum.adjust(icmp.be16(L4Field.icmpChecksum),
                                                                   removing: 8 << 8, adding: 0))
        counters.echoRepliesSent &+= 1
        return .translated
    }
}
