// Keys that defend the translator's tables and its ICMP errors under attack: the per-host pool4 port cap (S11,
// RFC 6888 REQ-4) and the total cap on generated ICMP errors (E4).

extension ConfigReader {
    /// The hardening keys of `[translator]`.
    static let hardeningTranslatorKeys = ["max-ports-per-host"]
    /// The hardening keys of `[translation]`.
    static let hardeningTranslationKeys = ["icmp-error-rate-total"]

    /// Reads `translator.max-ports-per-host` and `translation.icmp-error-rate-total`.
    mutating func readHardening(translator: Section, translation: Section) -> (portsPerHost: Int, errorsTotal: Int)? {
        let ports = integer(translator, "max-ports-per-host", default: GatewayConfiguration.Translator.defaultPortsPerHost, IntegerRule(
            range: 1...65535, unit: " ports", reason: " (RFC 6888 REQ-4: one host may not use up a pool4 address)"))
        let total = integer(translation, "icmp-error-rate-total", default: GatewayConfiguration.Translation().icmpErrorRateTotal,
                            IntegerRule(range: 0...1_000_000, unit: " errors per second"))
        guard let ports, let total else { return nil }
        return (ports, total)
    }
}
