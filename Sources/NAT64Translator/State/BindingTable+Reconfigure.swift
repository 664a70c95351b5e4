// A reload (`nat64d ctl reload`, SIGHUP) changes session lifetimes and the per-host limit of a running table:
// sessions that exist keep their mapping and their port, and take the new lifetime the next time a packet
// refreshes them; new sessions start with it. Sizes fixed at allocation (capacity, hosts, held SYNs) cannot
// change here.

extension BindingTable {
    /// The most sessions one IPv6 host may have (S9); a reload may change it (`reconfigure`).
    public var sessionsPerHost: Int { meta.pointee.sessionsPerHost }

    /// Applies new lifetimes and a new per-host limit. Call with `lock` held when several translators share
    /// the table (as `Translator.reconfigure` does).
    public func reconfigure(timeouts: SessionTimeouts, sessionsPerHost: Int, portsPerHost: Int? = nil) {
        meta.pointee.timeouts = timeouts
        meta.pointee.sessionsPerHost = max(1, sessionsPerHost)
        if let portsPerHost { meta.pointee.portsPerHost = min(65_535, max(1, portsPerHost)) }
    }

    /// Pool4 ports one NAPT host may hold (S11); a reload may change it (`reconfigure`).
    public var portsPerHost: Int { meta.pointee.portsPerHost }
}

extension BindingTable {
    /// E4: sets the cap on generated ICMP errors per second for all translators sharing this table; the
    /// tokens already in the bucket stay (up to the new cap) and refill from the last refill on. Call with
    /// `lock` held when shared.
    public func setGeneratedErrorCap(perSecond: Int) {
        let old = meta.pointee.generatedErrors
        meta.pointee.generatedErrors = TotalErrorBucket(perSecond: perSecond)
        meta.pointee.generatedErrors.tokens = min(old.tokens, Int64(max(0, perSecond)))
        meta.pointee.generatedErrors.refilled = old.refilled  // refills continue from the last one
    }

    /// The cap on generated ICMP errors per second (E4).
    public var generatedErrorCap: Int { meta.pointee.generatedErrors.perSecond }

    /// E4: takes a token for one generated ICMP error (called with `lock` held, from the packet path).
    @usableFromInline
    func allowGeneratedError(now: Nanoseconds) -> Bool { meta.pointee.generatedErrors.allow(now: now) }
}
