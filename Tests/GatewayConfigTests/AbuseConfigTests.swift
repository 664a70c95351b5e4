// Abuse-trail keys: translator port blocks, [mapping-log], [ipfix], [policy]: defaults, values, errors with lines.
import NAT64Translator
import Testing

@testable import GatewayConfig

/// The minimal config with port block keys in [translator] (line 4 on) and `extra` appended after it.
private func withBlocks(_ keys: String, plus extra: String = "") -> String {
    """
    [translator]
    prefix = "64:ff9b::/96"
    pool4 = ["192.0.2.1"]
    \(keys)

    [gateway]
    ipv4 = "198.51.100.1"
    ipv6 = "2001:db8:1::1"
    \(extra)
    """
}

@Suite struct AbuseConfigTests {
    @Test func offByDefault() throws {
        let config = try GatewayConfiguration.parse(minimalConfig, file: "test.toml")
        #expect(config.translator.portBlocks.size == 0)
        #expect(config.translator.stateConfiguration.portBlocks.size == 0)
        #expect(!config.mappingLog.enabled && config.mappingLog.detail == .bib && !config.mappingLog.destination)
        #expect(!config.ipfix.enabled && config.policy.rules.isEmpty)
    }

    @Test func everyKeyIsRead() throws {
        let config = try GatewayConfiguration.parse(withBlocks("""
            port-block-size = 128
            port-blocks-per-host = 2
            port-block-hold = 30
            """, plus: """
            [mapping-log]
            enabled = true
            path = "/tmp/m.log"
            detail = "session"
            max-size-mb = 2
            max-files = 3
            destination = true
            [ipfix]
            enabled = true
            collectors = ["198.51.100.7", "[2001:db8::7]:9995"]
            template-interval = 10
            observation-domain = 42
            [policy]
            rules = ["2001:db8::/32 deny tcp/25", "2001:db8:1::/48 limit udp/1000-2000 5", "::/0 limit any 100"]
            """), file: "test.toml")
        #expect(config.translator.portBlocks == PortBlockSettings(size: 128, perHost: 2, holdSeconds: 30))
        #expect(config.translator.stateConfiguration.portBlocks.size == 128)
        #expect(config.mappingLog.path == "/tmp/m.log" && config.mappingLog.detail == .session)
        #expect(config.mappingLog.maxSizeMB == 2 && config.mappingLog.maxFiles == 3 && config.mappingLog.destination)
        #expect(config.ipfix.collectors.map(\.port) == [4739, 9995] && config.ipfix.templateInterval == 10)
        #expect(config.ipfix.observationDomain == 42)
        #expect(config.translator.stateConfiguration.outboundRules == [
            OutboundRule(source: IPv6Prefix("2001:db8::/32")!, proto: 6, ports: 25...25, action: .deny),
            OutboundRule(source: IPv6Prefix("2001:db8:1::/48")!, proto: 17, ports: 1000...2000, action: .limit(perSecond: 5)),
            OutboundRule(source: IPv6Prefix("::/0")!, action: .limit(perSecond: 100)),
        ])
        #expect(config.policy.ruleTexts.count == 3)
    }

    @Test func badValuesNameTheLineAndTheFix() {
        expectConfigError(withBlocks("port-block-size = 40000"), line: 4, mentioning: ["port-block-size", "32768"])
        expectConfigError(minimal(plus: "[policy]\nrules = [\"2001:db8::/32 deny smtp/25\"]"), line: 9,
                          mentioning: ["policy.rules", "smtp", "tcp, udp, icmp or any"])
        expectConfigError(minimal(plus: "[policy]\nrules = [\"2001:db8::/32 limit tcp/25\"]"), line: 9,
                          mentioning: ["policy.rules", "limit"])
        expectConfigError(minimal(plus: "[ipfix]\nenabled = true"), line: 8, mentioning: ["collector", "enabled = false"])
        expectConfigError(minimal(plus: "[mapping-log]\ndetail = \"all\""), line: 9, mentioning: ["bib, session"])
        expectConfigError(minimal(plus: "[mapping-log]\npath = \"m.log\""), line: 9, mentioning: ["absolute path"])
    }
}
