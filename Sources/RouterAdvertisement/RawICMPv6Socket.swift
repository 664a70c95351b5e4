// The sender's socket: raw ICMPv6 bound to one interface (SO_BINDTODEVICE), hop limit 255 both ways, member of
// ff02::2 (all-routers) to hear Router Solicitations, an ICMPv6 filter passing only RS and RA, the received hop
// limit delivered with each message. Advertisements go to ff02::1 on that interface; the kernel picks the
// interface's link-local address as source for that link-local destination (RFC 6724 rule 2) and fills in the
// ICMPv6 checksum. Opening it needs CAP_NET_RAW.

import NAT64Translator
#if canImport(Glibc)
import Glibc
#endif

/// A socket call that failed, with what the operator can do about it.
public struct RASocketError: Error, Sendable, CustomStringConvertible {
    public var interface: String
    public var call: String
    public var code: Int32
    public var description: String {
        var text = "ra.\(interface): \(call): \(String(cString: strerror(code))) (\(code))"
        if code == EPERM || code == EACCES {
            text += "; router advertisements need CAP_NET_RAW (a raw ICMPv6 socket): run nat64d as root, or as "
                + "contrib/systemd/nat64d.service does"
        } else if code == ENODEV || (call == "if_nametoindex") {
            text += "; there is no interface \(interface) in nat64d's network namespace: fix the [ra.\(interface)] "
                + "section's name, or create the interface first"
        }
        return text
    }
}

/// One received message.
public struct ReceivedND: Sendable {
    public var message: [UInt8]
    public var source: IPv6Address
    public var hopLimit: Int?
}

/// What the sender needs from a socket (a protocol so tests can use a socketpair instead).
public protocol NDTransport: AnyObject, Sendable {
    /// A descriptor that polls readable when `receive` has something.
    var descriptor: Int32 { get }
    /// The interface's link-layer address, if it has one.
    var linkLayerAddress: [UInt8]? { get }
    /// Sends one advertisement to all nodes on the link; false when the kernel refused it.
    func sendToAllNodes(_ message: [UInt8]) -> Bool
    /// The next received message, or nil when none is waiting.
    func receive() -> ReceivedND?
    /// Closes the socket.
    func close()
}

/// The raw ICMPv6 socket of one interface.
public final class RawICMPv6Socket: NDTransport, @unchecked Sendable {
    public let descriptor: Int32
    public let interface: String
    public let interfaceIndex: UInt32
    public let linkLayerAddress: [UInt8]?

    // Linux <netinet/in.h>, <netinet/icmp6.h> values the Glibc module does not export.
    private static let ipv6RecvHopLimit: Int32 = 51  // IPV6_RECVHOPLIMIT
    private static let ipv6HopLimit: Int32 = 52  // IPV6_HOPLIMIT (the control message type)
    private static let icmp6Filter: Int32 = 1  // ICMP6_FILTER

    /// Opens and configures the socket for `interface`.
    ///
    /// - Throws: `RASocketError` naming the call; EPERM says CAP_NET_RAW is needed.
    public init(interface: String) throws(RASocketError) {
        func failure(_ call: String, _ code: Int32 = errno) -> RASocketError {
            RASocketError(interface: interface, call: call, code: code)
        }
        let index = if_nametoindex(interface)
        guard index != 0 else { throw failure("if_nametoindex", ENODEV) }
        let fd = socket(AF_INET6, Int32(SOCK_RAW.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue),
                        Int32(IPPROTO_ICMPV6))
        guard fd >= 0 else { throw failure("socket(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6)") }
        func setBytes(_ level: Int32, _ option: Int32, _ bytes: [UInt8], _ name: String) throws(RASocketError) {
            if setsockopt(fd, level, option, bytes, socklen_t(bytes.count)) != 0 {
                let e = failure("setsockopt(\(name))")
                Glibc.close(fd)
                throw e
            }
        }
        func set(_ level: Int32, _ option: Int32, _ value: some BitwiseCopyable, _ name: String) throws(RASocketError) {
            try setBytes(level, option, withUnsafeBytes(of: value) { Array($0) }, name)
        }
        try setBytes(SOL_SOCKET, SO_BINDTODEVICE, Array(interface.utf8) + [0], "SO_BINDTODEVICE")
        let ipv6 = Int32(IPPROTO_IPV6)
        try set(ipv6, IPV6_MULTICAST_HOPS, Int32(255), "IPV6_MULTICAST_HOPS")
        try set(ipv6, IPV6_UNICAST_HOPS, Int32(255), "IPV6_UNICAST_HOPS")
        try set(ipv6, IPV6_MULTICAST_LOOP, Int32(0), "IPV6_MULTICAST_LOOP")
        try set(ipv6, IPV6_MULTICAST_IF, Int32(bitPattern: index), "IPV6_MULTICAST_IF")
        try set(ipv6, Self.ipv6RecvHopLimit, Int32(1), "IPV6_RECVHOPLIMIT")
        // Pass ICMPv6 types 133 (RS) and 134 (RA) only: a set bit blocks its type.
        var filter = [UInt32](repeating: 0xFFFF_FFFF, count: 8)
        for type in [NDInput.solicitationType, RouterAdvertisementMessage.icmpType] {
            filter[Int(type >> 5)] &= ~(UInt32(1) << UInt32(type & 31))
        }
        try setBytes(Int32(IPPROTO_ICMPV6), Self.icmp6Filter, filter.flatMap { v in withUnsafeBytes(of: v) { Array($0) } },
                     "ICMP6_FILTER")
        var group = ipv6_mreq()
        withUnsafeMutableBytes(of: &group.ipv6mr_multiaddr) { $0.copyBytes(from: Self.allRouters.byteArray) }
        group.ipv6mr_interface = index
        try setBytes(ipv6, IPV6_ADD_MEMBERSHIP, withUnsafeBytes(of: &group) { Array($0) }, "IPV6_ADD_MEMBERSHIP ff02::2")
        descriptor = fd
        self.interface = interface
        interfaceIndex = index
        linkLayerAddress = InterfaceAddresses.linkLayerAddress(of: interface)
    }

    /// ff02::1, all nodes.
    public static let allNodes = IPv6Address(high: 0xFF02_0000_0000_0000, low: 1)
    /// ff02::2, all routers.
    public static let allRouters = IPv6Address(high: 0xFF02_0000_0000_0000, low: 2)

    public func sendToAllNodes(_ message: [UInt8]) -> Bool {
        var to = sockaddr_in6()
        to.sin6_family = sa_family_t(AF_INET6)
        withUnsafeMutableBytes(of: &to.sin6_addr) { $0.copyBytes(from: Self.allNodes.byteArray) }
        to.sin6_scope_id = interfaceIndex
        let n = message.withUnsafeBytes { bytes in
            withUnsafePointer(to: &to) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(descriptor, bytes.baseAddress, bytes.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in6>.size))
                }
            }
        }
        return n == message.count
    }

    public func receive() -> ReceivedND? {
        var buffer = [UInt8](repeating: 0, count: 1500)
        var control = [UInt8](repeating: 0, count: 128)
        var from = sockaddr_in6()
        let (n, controlLength): (Int, Int) = buffer.withUnsafeMutableBytes { data in
            control.withUnsafeMutableBytes { cmsg in
                withUnsafeMutablePointer(to: &from) { fromPointer in
                    var iov = iovec(iov_base: data.baseAddress, iov_len: data.count)
                    return withUnsafeMutablePointer(to: &iov) { iovPointer in
                        var header = msghdr()
                        header.msg_name = UnsafeMutableRawPointer(fromPointer)
                        header.msg_namelen = socklen_t(MemoryLayout<sockaddr_in6>.size)
                        header.msg_iov = iovPointer
                        header.msg_iovlen = 1
                        header.msg_control = cmsg.baseAddress
                        header.msg_controllen = cmsg.count
                        let n = recvmsg(descriptor, &header, Int32(MSG_DONTWAIT))
                        return (n, Int(header.msg_controllen))
                    }
                }
            }
        }
        guard n >= 0 else { return nil }
        let source = withUnsafeBytes(of: from.sin6_addr) { IPv6Address(bytes: Array($0)) }
        return ReceivedND(message: Array(buffer[..<n]), source: source,
                          hopLimit: Self.hopLimit(control: Array(control[..<min(controlLength, control.count)])))
    }

    /// The IPV6_HOPLIMIT control message's value, from Linux's cmsghdr layout (size_t length, int level,
    /// int type, data aligned to 8).
    static func hopLimit(control: [UInt8]) -> Int? {
        var offset = 0
        func load32(_ at: Int) -> Int32 {
            control[at..<at + 4].withUnsafeBytes { $0.loadUnaligned(as: Int32.self) }
        }
        while offset + 16 <= control.count {
            let length = control[offset..<offset + 8].withUnsafeBytes { Int($0.loadUnaligned(as: UInt64.self)) }
            guard length >= 16, offset + length <= control.count else { return nil }
            if load32(offset + 8) == Int32(IPPROTO_IPV6), load32(offset + 12) == ipv6HopLimit, length >= 20 {
                return Int(load32(offset + 16))
            }
            offset += (length + 7) & ~7
        }
        return nil
    }

    public func close() { Glibc.close(descriptor) }
}

/// Addresses of local interfaces, through getifaddrs(3).
public enum InterfaceAddresses {
    /// The IPv6 prefixes configured on `interface` (address and prefix length).
    public static func ipv6Prefixes(of interface: String) -> [IPv6Prefix] {
        var out: [IPv6Prefix] = []
        walk { name, address in
            guard name == interface, let a = address?.pointee, a.ifa_addr?.pointee.sa_family == sa_family_t(AF_INET6),
                  let mask = a.ifa_netmask
            else { return }
            let addr = a.ifa_addr!.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) {
                withUnsafeBytes(of: $0.pointee.sin6_addr) { IPv6Address(bytes: Array($0)) }
            }
            let length = mask.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) {
                withUnsafeBytes(of: $0.pointee.sin6_addr) { $0.reduce(0) { $0 + $1.nonzeroBitCount } }
            }
            out.append(IPv6Prefix(addr, length: length))
        }
        return out
    }

    /// The link-layer (MAC) address of `interface`, from its AF_PACKET entry; nil if it has none (e.g. a TUN).
    public static func linkLayerAddress(of interface: String) -> [UInt8]? {
        var out: [UInt8]?
        walk { name, address in
            guard name == interface, let sa = address?.pointee.ifa_addr, sa.pointee.sa_family == sa_family_t(AF_PACKET)
            else { return }
            // struct sockaddr_ll: family(2) protocol(2) ifindex(4) hatype(2) pkttype(1) halen(1) addr[8].
            let raw = UnsafeRawPointer(sa)
            let length = Int(raw.load(fromByteOffset: 11, as: UInt8.self))
            guard (1...8).contains(length) else { return }
            let mac = (0..<length).map { raw.load(fromByteOffset: 12 + $0, as: UInt8.self) }
            if mac.contains(where: { $0 != 0 }) { out = mac }
        }
        return out
    }

    private static func walk(_ body: (String, UnsafeMutablePointer<ifaddrs>?) -> Void) {
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0 else { return }
        defer { freeifaddrs(list) }
        var p = list
        while let entry = p {
            body(String(cString: entry.pointee.ifa_name), entry)
            p = entry.pointee.ifa_next
        }
    }
}
