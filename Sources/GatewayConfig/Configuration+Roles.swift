// Partial roles: `translator.enabled = false` runs the DNS64 alone (no TUN device, no CAP_NET_ADMIN), and a file
// without `[dns64]` runs the translator alone. With the translator off, `pool4` and `[gateway]` may be left
// out; `translator.prefix` stays required, since the DNS64 synthesises under it unless `dns64.prefix` says
// otherwise (the NAT64 answering those addresses then runs elsewhere).

import NAT64Translator

extension ConfigReader {
    /// `[translator]` with `enabled = false`: the prefix is read, pool4 is optional.
    mutating func readDisabledTranslator(
        _ s: Section
    ) -> (config: GatewayConfiguration.Translator, prefixLine: Int, pool4: [Located<IPv4Prefix>])? {
        guard var translator = readTranslator(s, requirePool4: false) else { return nil }
        translator.config.enabled = false
        return translator
    }

    /// `[gateway]` while the translator is off: optional, since nothing generates ICMP errors.
    mutating func readDisabledGateway(
        _ s: Section
    ) -> (config: GatewayConfiguration.Gateway, ipv4Line: Int, ipv6Line: Int)? {
        if s["ipv4"] != nil || s["ipv6"] != nil { return readGateway(s) }
        return (.init(ipv4: IPv4Address(0, 0, 0, 0), ipv6: .unspecified), 0, 0)
    }
}
