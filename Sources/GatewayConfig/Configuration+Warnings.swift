// Warnings: a valid file that still will not work as meant. `check-config` prints them after the errors and
// `run` logs them at start-up; neither refuses the file for them.
//
// - a DNS64 prefix that no translator prefix serves: synthesised AAAA records lead nowhere;
// - the well-known prefix 64:ff9b::/96 with a non-global pool4 or DNS64 upstream (RFC 6052 §3.1 keeps the
//   well-known prefix for global IPv4 addresses);
// - IPv6 or IPv4 forwarding switched off in the network namespace: packets never reach the TUN, or their
//   translations never leave it (read from /proc by the caller, so the check itself stays pure).

import NAT64Translator

/// A problem that does not stop nat64d but is very likely a mistake: the key it concerns and what to do.
public struct ConfigWarning: Sendable, Equatable, CustomStringConvertible {
    /// The key, e.g. `dns64.prefix`, or a sysctl name.
    public var key: String
    /// What is wrong and the fix.
    public var message: String

    public init(key: String, message: String) {
        self.key = key
        self.message = message
    }

    /// `warning: KEY: MESSAGE`.
    public var description: String { "warning: \(key): \(message)" }
}

/// The forwarding switches of the current network namespace (nil: could not be read).
public struct ForwardingSysctls: Sendable, Equatable {
    /// `net.ipv6.conf.all.forwarding`.
    public var ipv6: Bool?
    /// `net.ipv4.ip_forward`.
    public var ipv4: Bool?

    public init(ipv6: Bool?, ipv4: Bool?) {
        self.ipv6 = ipv6
        self.ipv4 = ipv4
    }

    /// Reads them from /proc/sys.
    public static func current() -> ForwardingSysctls {
        func read(_ path: String) -> Bool? {
            guard let bytes = try? ConfigFile.readAll(path: path) else { return nil }
            let text = String(decoding: bytes, as: UTF8.self).trimmingWhitespace
            return text.isEmpty ? nil : text != "0"
        }
        return ForwardingSysctls(ipv6: read("/proc/sys/net/ipv6/conf/all/forwarding"),
                                 ipv4: read("/proc/sys/net/ipv4/ip_forward"))
    }
}

extension String {
    fileprivate var trimmingWhitespace: String {
        String(unicodeScalars.filter { $0 != "\n" && $0 != " " && $0 != "\t" })
    }
}

extension GatewayConfiguration {
    /// Every warning for this configuration, given the namespace's forwarding switches.
    public func warnings(forwarding: ForwardingSysctls) -> [ConfigWarning] {
        var out: [ConfigWarning] = []
        let prefix = translator.prefix
        // With the translator off, the DNS64's prefixes lead to a NAT64 elsewhere: nothing to compare here.
        guard translator.enabled else { return out }
        if dns64.enabled {
            for p in dns64.prefixes where p != prefix {
                out.append(ConfigWarning(key: "dns64.prefix", message: "\(p) is not served by translator.prefix "
                    + "\(prefix): AAAA records synthesised under it reach no translator here; leave dns64.prefix out "
                    + "(it defaults to translator.prefix) or make it translator.prefix"))
            }
            for g in dns64.groups where g.synthesis {
                for p in g.prefixes where p != prefix && !dns64.prefixes.contains(p) {
                    out.append(ConfigWarning(key: "dns64.groups.\(g.name).prefix", message: "\(p) is not served by "
                        + "translator.prefix \(prefix); the group's synthesised AAAA records reach no translator here"))
                }
            }
        }
        if prefix.isWellKnown {
            for p in translator.pool4 where AddressPolicy.isNonGlobal(p.address) {
                out.append(ConfigWarning(key: "translator.pool4", message: "\(p) is not a global IPv4 address, but "
                    + "translator.prefix is the well-known prefix 64:ff9b::/96, which RFC 6052 §3.1 keeps for "
                    + "global addresses; use a network-specific prefix such as \"2001:db8:64::/96\" from your own "
                    + "space, or a global pool4"))
            }
            if dns64.enabled {
                for u in dns64.upstreams {
                    guard case .v4(let a) = u.host, AddressPolicy.isNonGlobal(a) else { continue }
                    out.append(ConfigWarning(key: "dns64.upstream", message: "\(a) is a non-global resolver with the "
                        + "well-known prefix 64:ff9b::/96: the names it answers with non-global A records get no "
                        + "synthesised AAAA (RFC 6052 §3.1); use a network-specific prefix if those names matter"))
                }
            }
        }
        // The fast path's route lookups (bpf_fib_lookup) fail on an interface without forwarding, so its flows,
        // and the proxy's spliced connections, would never be carried.
        let alsoFastPath = fastPath.enabled
            ? "; the in-kernel fast path" + (proxy.offload ? " and the proxy's offload" : "") + " need it too" : ""
        if forwarding.ipv6 == false {
            out.append(ConfigWarning(key: "net.ipv6.conf.all.forwarding", message: "IPv6 forwarding is off in this "
                + "network namespace, so packets of the IPv6 hosts never reach the TUN device\(alsoFastPath); run "
                + "sysctl -w net.ipv6.conf.all.forwarding=1 (and set it in /etc/sysctl.d)"))
        }
        if forwarding.ipv4 == false {
            out.append(ConfigWarning(key: "net.ipv4.ip_forward", message: "IPv4 forwarding is off in this network "
                + "namespace, so translated packets never leave the gateway\(alsoFastPath); run "
                + "sysctl -w net.ipv4.ip_forward=1 (and set it in /etc/sysctl.d)"))
        }
        return out
    }

    /// Every error in a configuration file (all of them, sorted by line), or the configuration and its warnings.
    ///
    /// - Parameters:
    ///   - path: the file.
    ///   - forwarding: the namespace's forwarding switches (`ForwardingSysctls.current()` in the daemon).
    ///   - directories: how the state directory is checked (Configuration+Environment.swift).
    public static func check(path: String, forwarding: ForwardingSysctls, directories: DirectoryProbe = .system)
        -> Result<(configuration: GatewayConfiguration, warnings: [ConfigWarning]), CheckFailure>
    {
        let bytes: [UInt8]
        do { bytes = try ConfigFile.readAll(path: path) } catch { return .failure(CheckFailure(errors: [error])) }
        switch decode(bytes: bytes, file: path) {
        case .valid(let c):
            if let root = try? TOMLParser.parse(bytes) {
                let errors = c.environmentErrors(root: root, file: path, probe: directories)
                if !errors.isEmpty { return .failure(CheckFailure(errors: errors)) }
            }
            return .success((c, c.warnings(forwarding: forwarding)))
        case .invalid(let errors): return .failure(CheckFailure(errors: errors))
        }
    }

    /// The errors of a file that is not a valid configuration, first line first.
    public struct CheckFailure: Error, Sendable, CustomStringConvertible {
        public var errors: [ConfigError]
        /// One `FILE:LINE: MESSAGE` line per error.
        public var description: String { errors.map(\.description).joined(separator: "\n") }
    }
}
