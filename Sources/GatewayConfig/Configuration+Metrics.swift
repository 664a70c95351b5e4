// The `[metrics]` section: the Prometheus scrape endpoint (HTTP GET /metrics), served by the daemon.

import NAT64Translator

extension GatewayConfiguration {
    /// `[metrics]`: where Prometheus scrapes the counters `nat64d ctl stats` shows. Off unless the section
    /// exists; plain HTTP, so keep it on loopback or a management network.
    public struct Metrics: Sendable, Equatable {
        /// Whether to serve `/metrics`. Default: true when the `[metrics]` section exists, false when it does not.
        public var enabled = false
        /// Address and port of the HTTP listener (key `listen`). Default `[::1]:9164`.
        public var listen = Endpoint(host: .v6(.loopback), port: Defaults.metricsPort)

        /// The defaults: off, `[::1]:9164`.
        public init() {}
    }
}

extension Defaults {
    static let metricsPort = 9164
}

extension ConfigReader {
    // MARK: [metrics]

    mutating func readMetrics(_ s: Section) -> GatewayConfiguration.Metrics? {
        var metrics = GatewayConfiguration.Metrics()
        guard let enabled = boolean(s, "enabled", default: s.table != nil) else { return nil }
        metrics.enabled = enabled
        if let text = string(s, "listen", example: "\"[::1]:\(Defaults.metricsPort)\"") {
            let listen = convert(text, label: s.path("listen")) {
                AddressText.endpoint($0, defaultPort: Defaults.metricsPort)
            }
            guard let listen else { return nil }
            metrics.listen = listen
        }
        return metrics
    }
}
