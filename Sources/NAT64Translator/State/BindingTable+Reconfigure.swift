// A reload (`nat64d ctl reload`, SIGHUP) changes session lifetimes and the per-host limit of a running table:
// sessions that exist keep their mapping and their port, and take the new lifetime the next time a packet
// refreshes them; new sessions start with it. Sizes fixed at allocation (capacity, hosts, held SYNs) cannot
// change here.

extension BindingTable {
    /// The most sessions one IPv6 host may have (S9); a reload may change it (`reconfigure`).
    public var sessionsPerHost: Int { meta.pointee.sessionsPerHost }

    /// Applies new lifetimes and a new per-host limit. Call with `lock` held when several translators share
    /// the table (as `Translator.reconfigure` does).
    public func reconfigure(timeouts: SessionTimeouts, sessionsPerHost: Int) {
        meta.pointee.timeouts = timeouts
        meta.pointee.sessionsPerHost = max(1, sessionsPerHost)
    }
}
