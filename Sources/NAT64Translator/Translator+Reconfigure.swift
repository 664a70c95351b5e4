// The parts of a running translator a reload may change: MTUs, the ICMP error rate, the address checks, the
// RFC 6791 source, session lifetimes and the per-host session limit. The prefix, pool4, gateway addresses,
// mode, maps and table sizes stay as they were (the daemon keeps them and says so). Never called per packet.

extension Translator {
    /// Takes the live-changeable settings of `new`; everything else in `new` is ignored.
    public mutating func reconfigure(_ new: TranslatorConfiguration) {
        var c = configuration
        c.ipv4MTU = new.ipv4MTU
        c.ipv6MTU = new.ipv6MTU
        c.minimumIPv6MTU = new.minimumIPv6MTU
        c.addressPolicy = new.addressPolicy
        c.rfc6791Source = new.rfc6791Source
        c.timeouts = new.timeouts
        c.state.limits.sessionsPerHost = new.state.limits.sessionsPerHost
        c.state.limits.portsPerHost = new.state.limits.portsPerHost
        if new.icmpErrorsPerSecond != c.icmpErrorsPerSecond {
            c.icmpErrorsPerSecond = new.icmpErrorsPerSecond
            rateLimiter = ErrorRateLimiter(perSecond: new.icmpErrorsPerSecond)
        }
        c.icmpErrorsTotalPerSecond = new.icmpErrorsTotalPerSecond
        configuration = c
        let table = self.table
        table.lock.withLock { table.reconfigure(timeouts: new.timeouts, sessionsPerHost: new.state.limits.sessionsPerHost,
                                                  portsPerHost: new.state.limits.portsPerHost)
            if table.generatedErrorCap != new.icmpErrorsTotalPerSecond {
                table.setGeneratedErrorCap(perSecond: new.icmpErrorsTotalPerSecond)
            }
        }
    }
}
