// RFC 6146 §3.5.2.2: the TCP session state machine (conformance S5), as a pure function per event.
//
// The table keeps one state byte per TCP session and calls `onIPv6(_:flags:)` / `onIPv4(_:flags:)` for every
// packet of the session and `onExpiry` when its lifetime runs out. Each returns the next state and which
// lifetime to arm; the table does the bookkeeping. UDP and ICMP sessions never use this (they are always
// "established" with their own timeout, S4).

/// The states of RFC 6146 §3.5.2.2 (S5). Raw values are stored in each session entry.
public enum TCPState: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    /// No session (a lookup miss); never stored.
    case closed = 0
    /// An IPv4 SYN was translated towards the IPv6 side; waiting for the IPv6 SYN.
    case v4Init
    /// An IPv6 SYN was translated towards the IPv4 side; waiting for the IPv4 SYN.
    case v6Init
    /// Both SYNs seen: data flows.
    case established
    /// The IPv4 side sent a FIN.
    case v4FinReceived
    /// The IPv6 side sent a FIN.
    case v6FinReceived
    /// Both sides sent a FIN: the session lives out TCP_TRANS.
    case v4FinV6FinReceived
    /// An RST was seen, or an established session idled out: the session lives out TCP_TRANS unless traffic
    /// other than an RST resumes it.
    case transitory

    public var description: String {
        switch self {
        case .closed: "CLOSED"
        case .v4Init: "V4 INIT"
        case .v6Init: "V6 INIT"
        case .established: "ESTABLISHED"
        case .v4FinReceived: "V4 FIN RCV"
        case .v6FinReceived: "V6 FIN RCV"
        case .v4FinV6FinReceived: "V4 FIN + V6 FIN RCV"
        case .transitory: "TRANS"
        }
    }
}

/// TCP header flags the state machine looks at (RFC 9293 §3.1).
public struct TCPFlags: OptionSet, Sendable {
    public let rawValue: UInt8
    @inlinable public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let fin = TCPFlags(rawValue: 0x01)
    public static let syn = TCPFlags(rawValue: 0x02)
    public static let rst = TCPFlags(rawValue: 0x04)
    public static let ack = TCPFlags(rawValue: 0x10)
}

/// Which lifetime a transition arms (RFC 6146 §4 names).
public enum TCPLifetime: UInt8, Sendable {
    /// Keep the current deadline.
    case unchanged
    /// TCP_EST (default 2 h 4 min).
    case established
    /// TCP_TRANS (default 4 min).
    case transitory
    /// TCP_INCOMING_SYN (6 s): an IPv4-initiated session waiting for the IPv6 side.
    case incomingSYN
}

/// RFC 6146 §3.5.2.2 transitions (S5). Pure: no state of its own.
public enum TCPStateMachine {
    /// What to do after an event.
    public struct Step: Equatable, Sendable {
        public var state: TCPState
        public var lifetime: TCPLifetime
        @inlinable public init(_ state: TCPState, _ lifetime: TCPLifetime) {
            self.state = state
            self.lifetime = lifetime
        }
    }

    /// A packet from the IPv6 side of the session.
    @inlinable
    public static func onIPv6(_ state: TCPState, flags: TCPFlags) -> Step {
        switch state {
        case .closed:
            // A session is only created by a SYN; the caller checks that before creating one.
            return Step(.v6Init, .transitory)
        case .v4Init:
            // Simultaneous open or the answer to an IPv4 SYN: the connection is up.
            return flags.contains(.syn) ? Step(.established, .established) : Step(.v4Init, .unchanged)
        case .v6Init:
            // A retransmitted IPv6 SYN re-arms TCP_TRANS; anything else leaves the state alone.
            return flags.contains(.syn) ? Step(.v6Init, .transitory) : Step(.v6Init, .unchanged)
        case .established:
            if flags.contains(.rst) { return Step(.transitory, .transitory) }
            if flags.contains(.fin) { return Step(.v6FinReceived, .established) }
            return Step(.established, .established)
        case .v4FinReceived:
            if flags.contains(.fin) { return Step(.v4FinV6FinReceived, .transitory) }
            return Step(.v4FinReceived, .established)
        case .v6FinReceived:
            return Step(.v6FinReceived, .established)
        case .v4FinV6FinReceived:
            return Step(.v4FinV6FinReceived, .unchanged)
        case .transitory:
            return flags.contains(.rst) ? Step(.transitory, .unchanged) : Step(.established, .established)
        }
    }

    /// A packet from the IPv4 side of the session.
    @inlinable
    public static func onIPv4(_ state: TCPState, flags: TCPFlags) -> Step {
        switch state {
        case .closed:
            return Step(.v4Init, .incomingSYN)
        case .v4Init:
            return Step(.v4Init, .unchanged)
        case .v6Init:
            return flags.contains(.syn) ? Step(.established, .established) : Step(.v6Init, .unchanged)
        case .established:
            if flags.contains(.rst) { return Step(.transitory, .transitory) }
            if flags.contains(.fin) { return Step(.v4FinReceived, .established) }
            return Step(.established, .established)
        case .v4FinReceived:
            return Step(.v4FinReceived, .established)
        case .v6FinReceived:
            if flags.contains(.fin) { return Step(.v4FinV6FinReceived, .transitory) }
            return Step(.v6FinReceived, .established)
        case .v4FinV6FinReceived:
            return Step(.v4FinV6FinReceived, .unchanged)
        case .transitory:
            return flags.contains(.rst) ? Step(.transitory, .unchanged) : Step(.established, .established)
        }
    }

    /// The session's lifetime ran out. RFC 6146 §3.5.2.2: an idle ESTABLISHED session is not cut at once (the
    /// RFC allows a probe; this core cannot send one) but moves to TRANS for TCP_TRANS, so a live connection
    /// that speaks again recovers. Every other state is deleted.
    /// - Returns: the step to take, or nil to delete the session.
    @inlinable
    public static func onExpiry(_ state: TCPState) -> Step? {
        state == .established ? Step(.transitory, .transitory) : nil
    }
}
