// Per-tenant outbound policy: rules matched on the IPv6 source prefix that deny or rate-limit new
// flows, so one tenant cannot get the shared pool4 addresses blocklisted for everyone (the usual case: mail
// sent straight to TCP port 25). Checked only where a new session is made (RFC 6146 §3.5.1/§3.5.2 state
// creation), never for established flows; time comes from the caller; every bucket is preallocated.
//
// Every rule whose prefix holds the source and whose protocol and ports match the new flow applies: a `deny`
// rule refuses it (ICMPv6 Destination Unreachable, code 1 "administratively prohibited", back to the host);
// a `limit` rule allows at most `perSecond` new flows per IPv6 host in each second of the clock and drops the
// rest. A refusal is counted under the rule that refused.

/// One outbound policy rule.
public struct OutboundRule: Sendable, Equatable {
    public enum Action: Sendable, Equatable {
        /// Refuse new flows, answering ICMPv6 1/1.
        case deny
        /// At most this many new flows per host per second.
        case limit(perSecond: Int)
    }

    /// IPv6 sources the rule applies to.
    public var source: IPv6Prefix
    /// 6, 17, 1 (ICMP); nil = any protocol.
    public var proto: UInt8?
    /// Destination ports; nil = any (always nil for ICMP).
    public var ports: ClosedRange<UInt16>?
    public var action: Action

    public init(source: IPv6Prefix, proto: UInt8? = nil, ports: ClosedRange<UInt16>? = nil, action: Action) {
        self.source = source
        self.proto = proto
        self.ports = ports
        self.action = action
    }

    @inlinable func matches(_ address: IPv6Address, proto p: UInt8, port: UInt16) -> Bool {
        guard source.contains(address) else { return false }
        if let proto, proto != p { return false }
        if let ports, !ports.contains(port) { return false }
        return true
    }
}

/// The rules and their per-host buckets (preallocated: `hostCapacity` × limit rules).
@usableFromInline
final class OutboundPolicyState: @unchecked Sendable {
    // @unchecked: mutated only by the thread holding the owning table's lock.
    struct Window {
        var second: Int64
        var count: Int
    }

    let rules: [OutboundRule]
    /// For each rule, its bucket column, or -1 for deny rules.
    let column: [Int]
    let columns: Int
    let windows: UnsafeMutablePointer<Window>
    /// Refusals per rule.
    let refused: UnsafeMutablePointer<UInt64>

    init(rules: [OutboundRule], hostCapacity: Int) {
        self.rules = rules
        var column: [Int] = []
        var n = 0
        for r in rules {
            if case .limit = r.action {
                column.append(n)
                n += 1
            } else {
                column.append(-1)
            }
        }
        self.column = column
        columns = n
        windows = .allocate(capacity: max(1, hostCapacity * n))
        windows.initialize(repeating: Window(second: .min, count: 0), count: max(1, hostCapacity * n))
        refused = .allocate(capacity: max(1, rules.count))
        refused.initialize(repeating: 0, count: max(1, rules.count))
    }

    deinit {
        windows.deallocate()
        refused.deallocate()
    }

    /// A new host slot starts with fresh budgets.
    func reset(host h: UInt32) {
        for c in 0..<columns { windows[Int(h) * columns + c] = Window(second: .min, count: 0) }
    }

    /// The check for a new flow of host slot `h`: nil to allow, else the refusal.
    func check(host h: UInt32, address: IPv6Address, proto: UInt8, port: UInt16, now: Nanoseconds) -> DropReason? {
        let second = now / 1_000_000_000
        for i in rules.indices where rules[i].matches(address, proto: proto, port: port) {
            switch rules[i].action {
            case .deny:
                refused[i] &+= 1
                return .policyDenied
            case .limit(let perSecond):
                let w = Int(h) * columns + column[i]
                if windows[w].second != second { windows[w] = Window(second: second, count: 0) }
                if windows[w].count >= perSecond {
                    refused[i] &+= 1
                    return .policyRateLimited
                }
            }
        }
        // Only a flow every rule let through uses up budget.
        for i in rules.indices where column[i] >= 0 && rules[i].matches(address, proto: proto, port: port) {
            windows[Int(h) * columns + column[i]].count += 1
        }
        return nil
    }
}

extension BindingTable {
    /// True when port blocks or policy rules are on (their counters are worth reading).
    public var hasAbuseCounters: Bool { portBlocks != nil || policy != nil }

    /// Refusals per outbound policy rule, in rule order (empty without rules).
    public var policyRefusals: [UInt64] {
        guard let policy else { return [] }
        return (0..<policy.rules.count).map { policy.refused[$0] }
    }
}
