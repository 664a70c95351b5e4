// The parts of a running translator a reload may change: MTUs, the ICMP error rate, the address checks, the
// RFC 6791 source, session lifetimes, the per-host session limit and the port forwards (S13). The prefix, pool4,
// gateway addresses, mode, maps and table sizes stay as they were (the daemon keeps them and says so). Never
// called per packet.

extension Translator {
    /// Takes the live-changeable settings of `new`; everything else in `new` is ignored.
    ///
    /// - Parameter now: the packet thread's clock (new port forwards are installed at this time).
    public mutating func reconfigure(_ new: TranslatorConfiguration, now: Nanoseconds = 0) {
        var c = configuration
        c.ipv4MTU = new.ipv4MTU
        c.ipv6MTU = new.ipv6MTU
        c.minimumIPv6MTU = new.minimumIPv6MTU
        c.addressPolicy = new.addressPolicy
        c.rfc6791Source = new.rfc6791Source
        c.timeouts = new.timeouts
        c.state.limits.sessionsPerHost = new.state.limits.sessionsPerHost
        c.state.limits.portsPerHost = new.state.limits.portsPerHost
        let forwardsChanged = c.state.mode == .napt && c.state.forwards != new.state.forwards
        c.state.forwards = new.state.forwards
        if new.icmpErrorsPerSecond != c.icmpErrorsPerSecond {
            c.icmpErrorsPerSecond = new.icmpErrorsPerSecond
            rateLimiter = ErrorRateLimiter(perSecond: new.icmpErrorsPerSecond)
        }
        c.icmpErrorsTotalPerSecond = new.icmpErrorsTotalPerSecond
        configuration = c
        let table = self.table
        table.lock.withLock { table.reconfigure(timeouts: new.timeouts, sessionsPerHost: new.state.limits.sessionsPerHost,
                                                  portsPerHost: new.state.limits.portsPerHost)
            if forwardsChanged { table.setForwards(new.state.forwards, now: now) }
            if table.generatedErrorCap != new.icmpErrorsTotalPerSecond {
                table.setGeneratedErrorCap(perSecond: new.icmpErrorsTotalPerSecond)
            }
        }
    }
}
