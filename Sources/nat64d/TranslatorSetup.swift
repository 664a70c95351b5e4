// The translator's configuration from the config file: one place for the daemon and for `replay`, so replay
// translates exactly as the daemon would with the same file.
import GatewayConfig
import NAT64Translator

extension TranslatorConfiguration {
    /// The translator configuration `configuration` describes.
    ///
    /// - Parameters:
    ///   - configuration: the validated config file.
    ///   - seed: seeds port and IPv4 identification choice (the daemon uses the clock; replay a fixed value).
    init(_ configuration: GatewayConfiguration, seed: UInt64) {
        let t = configuration.translator
        self.init(
            prefix: t.prefix, pool4: t.pool4Addresses, gatewayIPv4: configuration.gateway.ipv4,
            gatewayIPv6: configuration.gateway.ipv6,
            timeouts: SessionTimeouts(udpSeconds: t.udpTimeout, tcpSeconds: t.tcpEstablishedTimeout,
                                      icmpSeconds: t.icmpTimeout, tcpTransitorySeconds: t.tcpTransitoryTimeout),
            maxSessions: t.maxSessions, seed: seed, state: t.stateConfiguration)
        let x = configuration.translation
        ipv4MTU = x.ipv4MTU
        ipv6MTU = x.ipv6MTU
        minimumIPv6MTU = x.minimumIPv6MTU
        icmpErrorsPerSecond = x.icmpErrorRate
        icmpErrorsTotalPerSecond = x.icmpErrorRateTotal
        addressPolicy = AddressPolicy(strictWellKnownPrefix: x.strictWellKnownPrefix)
        rfc6791Source = x.rfc6791Source
        stateless = t.stateless  // F14 options, RFC 6791 pools (E1, F7)
    }
}
