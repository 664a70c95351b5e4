// Mapping events for the abuse trail (RFC 6888 §4 and RFC 7422 logging): the state table reports
// each BIB entry, session and port block it creates or deletes through `BindingTable.onMappingEvent`. The
// core only fills in a value and calls the hook on the packet thread; the daemon pushes it into an event ring
// and a writer thread formats and writes it (the mapping log, IPFIX). Nothing here does I/O.

/// One creation or deletion of a mapping, as the mapping log and IPFIX export record it.
public struct MappingEvent: Sendable, Equatable {
    /// What happened.
    public enum Kind: UInt8, Sendable, CaseIterable {
        case bibCreated = 1
        case bibDeleted
        case sessionCreated
        case sessionDeleted
        /// A port block (RFC 7422) was given to an IPv6 host.
        case blockAssigned
        /// A port block went back to the free blocks after its hold time.
        case blockReleased

        /// The word the mapping log writes.
        public var word: String {
            switch self {
            case .bibCreated: "bib-add"
            case .bibDeleted: "bib-del"
            case .sessionCreated: "ses-add"
            case .sessionDeleted: "ses-del"
            case .blockAssigned: "blk-add"
            case .blockReleased: "blk-del"
            }
        }

        public init?(word: some StringProtocol) {
            guard let k = Kind.allCases.first(where: { $0.word == word }) else { return nil }
            self = k
        }

        /// True for the deletions (the end of a holding).
        public var isDeletion: Bool { self == .bibDeleted || self == .sessionDeleted || self == .blockReleased }
    }

    /// Why a mapping ended.
    public enum Reason: UInt8, Sendable, CaseIterable {
        /// Not a deletion.
        case none = 0
        /// Its lifetime ran out (RFC 6146 §3.5.1, §4), TCP closes included.
        case expired
        /// Made for an inbound packet that the filtering or a limit then refused.
        case refused
        /// A port block's last mapping ended and its hold time passed.
        case idle
        /// A closing or half-open TCP session made room for a new flow in a full table (S9 early drop).
        case evicted

        public var word: String {
            switch self {
            case .none: "-"
            case .expired: "expired"
            case .refused: "refused"
            case .idle: "idle"
            case .evicted: "evicted"
            }
        }
    }

    public var kind: Kind
    /// Monotonic time of the event (the caller's clock, as passed to the table).
    public var time: Nanoseconds
    /// 6, 17 or 1 (ICMP); 0 for port blocks, which hold a port range for every protocol.
    public var proto: UInt8
    public var inside: IPv6Address
    public var insidePort: UInt16
    public var outside: IPv4Address
    /// The pool4 port, or the first port of a block.
    public var outsidePort: UInt16
    /// Ports in the block (block events); 1 otherwise.
    public var portCount: UInt16
    /// The IPv4 peer (session events only; 0.0.0.0 otherwise).
    public var remote: IPv4Address
    public var remotePort: UInt16
    public var reason: Reason

    public init(kind: Kind, time: Nanoseconds, proto: UInt8, inside: IPv6Address, insidePort: UInt16,
                outside: IPv4Address, outsidePort: UInt16, portCount: UInt16 = 1,
                remote: IPv4Address = IPv4Address(0), remotePort: UInt16 = 0, reason: Reason = .none) {
        self.kind = kind
        self.time = time
        self.proto = proto
        self.inside = inside
        self.insidePort = insidePort
        self.outside = outside
        self.outsidePort = outsidePort
        self.portCount = portCount
        self.remote = remote
        self.remotePort = remotePort
        self.reason = reason
    }

    /// The last port this event covers (the block's end for block events).
    public var lastPort: UInt16 { outsidePort &+ (portCount &- 1) }
}

/// Who holds (or held) a pool4 port: the live answer of `ctl who`.
public struct PortHolder: Sendable, Equatable {
    /// 6, 17, 1; 0 for a port block.
    public var proto: UInt8
    public var inside: IPv6Address
    /// The IPv6 port (0 for a block).
    public var insidePort: UInt16
    public var outside: IPv4Address
    /// The pool4 port, or the block's first port.
    public var outsidePort: UInt16
    public var portCount: UInt16
    /// Since when (monotonic), when known.
    public var since: Nanoseconds?
    /// True for a block in its hold time (no mapping left, not yet free).
    public var held: Bool
}
