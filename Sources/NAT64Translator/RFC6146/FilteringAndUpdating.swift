// RFC 6146 §3.5 "Filtering and Updating Binding and Session Information", the step between determining the
// incoming tuple and computing the outgoing one. The RFC 7915 translation code calls exactly one function here
// per packet and direction; everything about state (S1–S6, S9, S10) is decided in the table, and this file
// turns the table's answer into the translator's verdict (ICMP errors included).

/// Continue translating with a value, or stop with a verdict.
public enum StateStep<Value: Sendable>: Sendable {
    case proceed(Value)
    case stop(Verdict)
}

extension Translator {
    /// RFC 6146 §3.5.1/§3.5.2 for an IPv6-side packet: the pool4 source endpoint to translate to.
    ///
    /// Reads the ports (or ICMP identifier) and TCP flags from `l4`, which the caller has length-checked for
    /// the protocol's minimum header. A new flow that finds no free pool4 port is answered with ICMPv6
    /// Destination Unreachable, Address Unreachable (type 1, code 3; S3); other refusals are counted drops.
    ///
    /// - Parameters:
    ///   - packet: the IPv6 packet (quoted in an ICMPv6 error).
    ///   - reply: receives the ICMPv6 error, if any.
    ///   - source: the IPv6 source address.
    ///   - destination4: the IPv4 address extracted from the destination (RFC 6052).
    ///   - proto: the IPv4 protocol number (6, 17, or 1 for ICMPv6 echo).
    ///   - l4: the transport header.
    ///   - now: the current time.
    @inlinable
    mutating func filterAndUpdateOutbound(_ packet: borrowing PacketBuffer, reply: inout PacketBuffer,
                                          source: IPv6Address, destination4: IPv4Address, proto: UInt8,
                                          l4: UnsafeMutableRawPointer, now: Nanoseconds) -> StateStep<Endpoint4> {
        let (port, remotePort, flags) = RFC6146Field.flow(l4, proto: proto, localIsSource: true)
        switch table.outbound(source: source, port: port, remote: destination4, remotePort: remotePort, proto: proto,
                              flags: flags, now: now) {
        case .mapped(let outside):
            return .proceed(outside)
        case .refused(.poolExhausted):
            // S3: RFC 6146 §3.5.1.1 / §3.5.2.2 — no port: ICMPv6 Destination Unreachable, Address Unreachable.
            return .stop(generateICMPv6Error(for: packet, into: &reply, type: 1, code: 3, parameter: 0,
                                             reason: .poolExhausted, now: now))
        case .refused(.policyDenied):
            // An outbound policy deny rule — ICMPv6 Destination Unreachable, administratively
            // prohibited (RFC 4443 §3.1 code 1), so the host's application fails at once.
            return .stop(generateICMPv6Error(for: packet, into: &reply, type: 1, code: 1, parameter: 0,
                                             reason: .policyDenied, now: now))
        case .refused(let reason):
            return .stop(.drop(reason))
        }
    }

    /// RFC 6146 §3.5.1/§3.5.2 for an IPv4-side packet addressed to a pool4 (or 1:1) address: the IPv6
    /// endpoint to translate to. A TCP SYN with no mapping, or one the filtering refuses, is held for
    /// TCP_INCOMING_SYN (S6; `heldSYNError(now:into:)` answers it with ICMPv4 3/3 if no IPv6 SYN comes).
    ///
    /// - Parameters:
    ///   - packet: the IPv4 packet (held for S6).
    ///   - source4: the IPv4 source (the remote host).
    ///   - destination4: the pool4 destination.
    ///   - proto: 6, 17 or 1.
    ///   - l4: the transport header, length-checked by the caller.
    ///   - now: the current time.
    @inlinable
    mutating func filterAndUpdateInbound(_ packet: borrowing PacketBuffer, source4: IPv4Address,
                                         destination4: IPv4Address, proto: UInt8, l4: UnsafeMutableRawPointer,
                                         now: Nanoseconds) -> StateStep<Endpoint6> {
        let (port, remotePort, flags) = RFC6146Field.flow(l4, proto: proto, localIsSource: false)
        switch table.inbound(destination: destination4, port: port, remote: source4, remotePort: remotePort,
                             proto: proto, flags: flags, now: now) {
        case .mapped(let inside):
            return .proceed(inside)
        case .refused(let reason):
            return .stop(.drop(reason))
        case .holdSYN:
            let key = HeldSYNKey(outside4: destination4.value, port: port, remote4: source4.value, remotePort: remotePort)
            let held = table.heldSYNs.hold(UnsafeRawBufferPointer(packet.packet), key: key,
                                           source: IPv6Address(high: 0, low: UInt64(source4.value)), now: now)
            switch held {
            case .held, .duplicate, .evicted: return .stop(.drop(.synHeld))  // this store never evicts
            case .full, .sourceLimit, .tooLarge: return .stop(.drop(.heldPacketLimit))
            }
        }
    }
}

/// Header fields the state step reads beyond `L4Field`.
@usableFromInline
enum RFC6146Field {
    /// The TCP flags byte (RFC 9293 §3.1: CWR ECE URG ACK PSH RST SYN FIN).
    @usableFromInline static let tcpFlags = 13

    /// RFC 6146 §3.4 incoming tuple: our side's port (or ICMP query identifier), the peer's port (0 for ICMP,
    /// whose identifier names both ends), and the TCP flags.
    /// - Parameter localIsSource: true for IPv6→IPv4 (the IPv6 host is the source), false for IPv4→IPv6.
    @inlinable @inline(__always)
    static func flow(_ l4: UnsafeMutableRawPointer, proto: UInt8, localIsSource: Bool) -> (UInt16, UInt16, TCPFlags) {
        if proto == IPProtocolNumber.icmp { return (l4.be16(L4Field.icmpIdentifier), 0, []) }
        let source = l4.be16(L4Field.sourcePort)
        let destination = l4.be16(L4Field.destinationPort)
        let flags = proto == IPProtocolNumber.tcp ? TCPFlags(rawValue: l4.u8(tcpFlags)) : []
        return localIsSource ? (source, destination, flags) : (destination, source, flags)
    }
}
