// The IPv4 source for a later IPv6 fragment (RFC 7915 §5.1 with RFC 6146 §3.5): it carries no ports, so no
// session can be looked up; the host's outside address keeps it with its datagram. A 1:1 host (pool, static
// map, EAM) has exactly one address; a NAPT host uses its first-choice pool4 address, the one
// `allocatePort(for:port:proto:)` tries first and keeps while it has ports there.

extension BindingTable {
    /// The IPv4 address later fragments from `address` are sent from, or nil for a 1:1 mode host not yet known.
    public func outsideAddress(for address: IPv6Address) -> IPv4Address? {
        if let h = findHost(address), hosts[Int(h)].kind != HostKind.napt.rawValue {
            return IPv4Address(hosts[Int(h)].outside4)
        }
        guard configuration.mode == .napt, !pool.isEmpty else { return nil }
        return pool[Int(hostHash(address) % UInt32(pool.count))].address
    }

    /// The mapping of an IPv6-side flow, without creating or refreshing it (inner packets of ICMP errors,
    /// T6.10 / RFC 6146 §3.5.3).
    public func peekOutbound(_ inside: Endpoint6) -> Endpoint4? { bibOutside(for: inside) }

    /// The mapping for an IPv4-side endpoint, without refreshing it (inner packets of ICMP errors, T4.11).
    public func peekInbound(_ outside: Endpoint4) -> Endpoint6? { bibInside(for: outside) }
}
