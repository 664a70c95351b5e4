// The one start-up line that tells an operator what runs: version, mode, prefix, pool4 with its ports, the
// DNS64, the packet path, the control socket and metrics.
import GatewayConfig
import Logging

enum StartupSummary {
    /// `ADDRESS/LEN (N ports)` for each pool4 entry: addresses × usable ports.
    static func pool4(_ t: GatewayConfiguration.Translator) -> String {
        t.pool4.enumerated().map { i, p in
            let ports = i < t.pool4Ports.count ? t.pool4Ports[i] : 1...65535
            let addresses = 1 << (32 - p.length)
            return "\(p) (\(addresses * ports.count) ports)"
        }.joined(separator: ", ")
    }

    /// The summary's fields.
    static func metadata(_ c: GatewayConfiguration, configPath: String, queues: Int, offload: Bool,
                         udpOffload: Bool, controlSocket: String) -> Logger.Metadata {
        var m: Logger.Metadata = [
            "version": "\(nat64dVersion)", "config": "\(configPath)", "mode": "\(c.translator.mode.rawValue)",
            "prefix": "\(c.translator.prefix)", "pool4": "\(pool4(c.translator))",
            "offload": "\(offload)", "udp-offload": "\(udpOffload)", "queues": "\(queues)",
            "control": "\(controlSocket)",
            "metrics": "\(c.metrics.enabled ? "http://\(describe(c.metrics.listen))/metrics" : "off")",
        ]
        if !c.translator.forwards.isEmpty { m["forwards"] = "\(c.translator.forwards.count)" }
        if c.dns64.enabled {
            m["dns64-listen"] = "\(c.dns64.listen.map(describe).joined(separator: ","))"
            m["dns64-prefix"] = "\(c.dns64.prefixes.map(\.description).joined(separator: ","))"
            m["dns64-upstreams"] = "\(c.dns64.upstreams.map(describe).joined(separator: ","))"
        } else {
            m["dns64"] = "off"
        }
        return m
    }
}
