// F2 / F3 in the stateful modes: a 1:1 host (static map, pool assignment, EAM entry) has exactly one IPv4
// address and keeps its ports, so packets that carry no session key (other protocols, ICMP errors whose
// session is gone) still have a translation. NAPT hosts have none.

extension BindingTable {
    /// The IPv4 address of the 1:1 host `address`, or nil (NAPT host, or not a 1:1 host). Creates nothing.
    public func oneToOneAddress(for address: IPv6Address) -> IPv4Address? {
        if let h = findHost(address), hosts[Int(h)].kind != HostKind.napt.rawValue {
            return IPv4Address(hosts[Int(h)].outside4)
        }
        return configuration.longestEAM(forIPv6: address)?.map(address)
    }

    /// The IPv6 host owning the 1:1 IPv4 address `address`, or nil. Creates nothing.
    public func oneToOneHost(for address: IPv4Address) -> IPv6Address? {
        if address.value != 0, let h = findHost(outside4: address.value) { return hosts[Int(h)].address }
        return configuration.longestEAM(forIPv4: address)?.map(address)
    }
}
