// What a reload (`nat64d ctl reload`, SIGHUP) does with a new, valid file: which changed keys take effect at
// once, which need a restart (their running value is kept, and the daemon names them in one log line), and
// the configuration that runs afterwards. Pure: the daemon applies the plan.

import NAT64Translator

extension GatewayConfiguration {
    /// The outcome of comparing the running configuration with a new file.
    public struct ReloadPlan: Sendable, Equatable {
        /// Changed keys whose new value takes effect now, e.g. `translator.udp-timeout`, in schema order.
        public var live: [String]
        /// Changed keys that only a restart applies; the running value stays, e.g. `tun.name`.
        public var kept: [String]
        /// What runs after the reload: the new file, with the running value of every key in `kept`.
        public var effective: GatewayConfiguration

        /// True when the file differs from what runs.
        public var changed: Bool { !live.isEmpty || !kept.isEmpty }
    }

    /// One key (or a group of keys written together) and whether a running daemon can change it.
    struct ReloadField {
        var key: String
        var live: Bool
        var differs: (GatewayConfiguration, GatewayConfiguration) -> Bool
        /// Copies the running value into the effective configuration.
        var keep: (inout GatewayConfiguration, GatewayConfiguration) -> Void
        /// The key's value (`nat64d ctl config`, Configuration+Show.swift).
        var value: (GatewayConfiguration) -> Any = { _ in () }

        static func field<T: Equatable>(
            _ key: String, _ path: WritableKeyPath<GatewayConfiguration, T>, live: Bool
        ) -> ReloadField {
            ReloadField(key: key, live: live, differs: { $0[keyPath: path] != $1[keyPath: path] },
                        keep: { $0[keyPath: path] = $1[keyPath: path] }, value: { $0[keyPath: path] })
        }
    }

    /// Every key, in the order of the sample file. Live: what the packet threads, the DNS64, the capture, the
    /// logger and the router advertisements can take while running. Kept: what the TUN device, its routes, the
    /// preallocated state table, the listeners of the control socket and metrics were built from.
    static var reloadFields: [ReloadField] { [
        .field("tun.name", \.tun.name, live: false),
        .field("tun.mtu", \.tun.mtu, live: false),
        .field("tun.offload", \.tun.offload, live: false),
        .field("tun.queues", \.tun.queues, live: false),
        .field("tun.io", \.tun.io, live: false),
        .field("translator.enabled", \.translator.enabled, live: false),
        .field("translator.prefix", \.translator.prefix, live: false),
        .field("translator.pool4", \.translator.pool4, live: false),
        .field("translator.pool4", \.translator.pool4Ports, live: false),
        .field("translator.mode", \.translator.mode, live: false),
        .field("translator.filtering", \.translator.filtering, live: false),
        .field("translator.map", \.translator.staticMappings, live: false),
        .field("translator.eam", \.translator.eam, live: false),
        // Port forwards (S13) are BIB entries: the packet threads add and remove them in the running table.
        .field("translator.forward", \.translator.forwards, live: true),
        .field("translator.max-sessions", \.translator.maxSessions, live: false),
        .field("translator.max-held-syns", \.translator.maxHeldSYNs, live: false),
        .field("translator.state-dir", \.translator.stateDirectory, live: false),
        // Stateless options and the CLAT role shape the translator and the routes: a restart applies them.
        .field("translator.traffic-class", \.translator.stateless, live: false),
        .field("translator.udp-zero-checksum", \.translator.stateless, live: false),
        .field("translator.rfc6791-pool4", \.translator.stateless, live: false),
        .field("translator.rfc6791-pool6", \.translator.stateless, live: false),
        .field("translator.clat", \.translator.clat, live: false),
        // Port blocks and outbound rules live in the state table, built once.
        .field("translator.port-block-size", \.translator.portBlocks, live: false),
        .field("translator.port-blocks-per-host", \.translator.portBlocks, live: false),
        .field("translator.port-block-hold", \.translator.portBlocks, live: false),
        .field("policy", \.policy, live: false),
        // The mapping log and IPFIX writers are started once.
        .field("mapping-log", \.mappingLog, live: false),
        .field("ipfix", \.ipfix, live: false),
        .field("translator.udp-timeout", \.translator.udpTimeout, live: true),
        .field("translator.tcp-established-timeout", \.translator.tcpEstablishedTimeout, live: true),
        .field("translator.tcp-transitory-timeout", \.translator.tcpTransitoryTimeout, live: true),
        .field("translator.icmp-timeout", \.translator.icmpTimeout, live: true),
        .field("translator.max-sessions-per-host", \.translator.maxSessionsPerHost, live: true),
        .field("translator.max-ports-per-host", \.translator.maxPortsPerHost, live: true),
        .field("gateway.ipv4", \.gateway.ipv4, live: false),
        .field("gateway.ipv6", \.gateway.ipv6, live: false),
        .field("dns64.enabled", \.dns64.enabled, live: true),
        .field("dns64.listen", \.dns64.listen, live: true),
        .field("dns64.upstream", \.dns64.upstreams, live: true),
        .field("dns64.allow", \.dns64.allow, live: true),
        .field("dns64.prefix", \.dns64.prefixes, live: true),
        .field("dns64.timeout-ms", \.dns64.timeoutMilliseconds, live: true),
        .field("dns64.exclude", \.dns64.exclude, live: true),
        .field("dns64.mapped", \.dns64.mapped, live: true),
        .field("dns64.break-dnssec", \.dns64.breakDNSSEC, live: true),
        .field("dns64.synthesize-on-error", \.dns64.synthesizeOnError, live: true),
        .field("dns64.cache-size", \.dns64.cacheSize, live: true),
        .field("dns64.cache-min-ttl", \.dns64.cacheMinTTL, live: true),
        .field("dns64.cache-max-ttl", \.dns64.cacheMaxTTL, live: true),
        .field("dns64.cache-max-negative-ttl", \.dns64.cacheMaxNegativeTTL, live: true),
        .field("dns64.tcp-idle-timeout-ms", \.dns64.tcpIdleTimeoutMilliseconds, live: true),
        .field("dns64.tcp-connections-per-client", \.dns64.tcpConnectionsPerClient, live: true),
        .field("dns64.udp-sockets", \.dns64.udpSockets, live: false),
        .field("dns64.upstream-ports", \.dns64.upstreamPorts, live: true),
        .field("dns64.groups", \.dns64.groups, live: true),
        .field("dns64.rd0", \.dns64.rd0, live: true),
        .field("dns64.deadline-ms", \.dns64.deadlineMilliseconds, live: true),
        .field("log.level", \.log.level, live: true),
        .field("translation.ipv4-mtu", \.translation.ipv4MTU, live: true),
        .field("translation.ipv6-mtu", \.translation.ipv6MTU, live: true),
        .field("translation.min-ipv6-mtu", \.translation.minimumIPv6MTU, live: true),
        .field("translation.icmp-error-rate", \.translation.icmpErrorRate, live: true),
        .field("translation.icmp-error-rate-total", \.translation.icmpErrorRateTotal, live: true),
        .field("translation.strict-well-known-prefix", \.translation.strictWellKnownPrefix, live: true),
        .field("translation.rfc6791-source", \.translation.rfc6791Source, live: true),
        .field("capture.enabled", \.capture.enabled, live: true),
        .field("capture.directory", \.capture.directory, live: true),
        .field("capture.filter", \.capture.filter, live: true),
        .field("capture.max-size-mb", \.capture.maxSizeMB, live: true),
        .field("capture.max-files", \.capture.maxFiles, live: true),
        .field("control.socket", \.control.socket, live: false),
        .field("metrics.enabled", \.metrics.enabled, live: false),
        .field("metrics.listen", \.metrics.listen, live: false),
        .field("fast-path.interfaces", \.fastPath.interfaces, live: false),
        .field("fast-path.max-flows", \.fastPath.maxFlows, live: false),
        .field("ra", \.ra, live: true),
        // The inbound proxy's routes change live (new connections take them, established ones keep theirs);
        // its listeners, limits and timeouts were built once, and a restart applies them.
        .field("proxy.routes", \.proxy.routes, live: true),
        ReloadField(
            key: "proxy", live: false,
            differs: { a, b in
                var a = a.proxy, b = b.proxy
                a.routes = []
                b.routes = []
                return a != b
            },
            keep: { effective, running in
                let routes = effective.proxy.routes
                effective.proxy = running.proxy
                effective.proxy.routes = routes
            },
            value: { c in
                var p = c.proxy
                p.routes = []  // shown under proxy.routes
                return p
            }),
    ] }

    /// Compares the running configuration with a new, valid file.
    ///
    /// - Parameters:
    ///   - running: what the daemon runs now.
    ///   - file: the new file's configuration.
    /// - Returns: the changed keys, live and kept, and what runs afterwards.
    public static func reloadPlan(running: GatewayConfiguration, file: GatewayConfiguration) -> ReloadPlan {
        var effective = file
        var live: [String] = []
        var kept: [String] = []
        for field in reloadFields where field.differs(running, file) {
            if field.live {
                if !live.contains(field.key) { live.append(field.key) }
            } else {
                field.keep(&effective, running)
                if !kept.contains(field.key) { kept.append(field.key) }
            }
        }
        // The DNS64 prefix defaults to translator.prefix: a new prefix that waits for a restart must not reach
        // the synthesised answers before the translator serves it.
        if kept.contains("translator.prefix") && file.dns64.prefixes == [file.translator.prefix] {
            effective.dns64.prefixes = running.dns64.prefixes
            live.removeAll { $0 == "dns64.prefix" && running.dns64.prefixes == effective.dns64.prefixes }
        }
        return ReloadPlan(live: live, kept: kept, effective: effective)
    }
}
