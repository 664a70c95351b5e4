// Kernel network configuration through libnl-3 (rtnetlink): link state and MTU, addresses and routes.
// Every netlink message nat64d sends is built by libnl; the daemon never runs `ip`.
import CNetlink
#if canImport(Glibc)
import Glibc
#endif

/// An rtnetlink socket (libnl `nl_sock`). Owns the handle; `deinit` frees it.
public struct NetlinkSocket: ~Copyable {
    private let sock: OpaquePointer

    /// Allocates and connects a NETLINK_ROUTE socket.
    public init() throws(SystemError) {
        guard let s = nl_socket_alloc() else {
            throw SystemError(code: ENOMEM, call: "nl_socket_alloc")
        }
        let r = nl_connect(s, NETLINK_ROUTE)
        if r < 0 {
            nl_socket_free(s)
            throw NetlinkSocket.error(r, "nl_connect(NETLINK_ROUTE)")
        }
        sock = s
    }

    deinit { nl_socket_free(sock) }

    static func error(_ code: Int32, _ call: String) -> SystemError {
        SystemError(code: -code, call: call, detail: String(cString: nl_geterror(code)))
    }

    /// The interface index of `name`.
    public func interfaceIndex(_ name: String) throws(SystemError) -> Int32 {
        var link: OpaquePointer?
        let r = rtnl_link_get_kernel(sock, 0, name, &link)
        guard r >= 0, let link else { throw NetlinkSocket.error(r, "rtnl_link_get_kernel(\(name))") }
        defer { rtnl_link_put(link) }
        return rtnl_link_get_ifindex(link)
    }

    /// Sets the link up and its MTU (RTM_NEWLINK / RTM_SETLINK), and lets it accept packets whose source is
    /// one of the box's own addresses (IPv4 devconf accept_local): the translator's own ICMPv4 errors come
    /// from the gateway's address (conformance E2), and without it the kernel drops them as martians.
    public func setLinkUp(_ name: String, mtu: Int) throws(SystemError) {
        var link: OpaquePointer?
        let r = rtnl_link_get_kernel(sock, 0, name, &link)
        guard r >= 0, let link else { throw NetlinkSocket.error(r, "rtnl_link_get_kernel(\(name))") }
        defer { rtnl_link_put(link) }
        guard let change = rtnl_link_alloc() else { throw SystemError(code: ENOMEM, call: "rtnl_link_alloc") }
        defer { rtnl_link_put(change) }
        rtnl_link_set_flags(change, UInt32(IFF_UP))
        rtnl_link_set_mtu(change, UInt32(mtu))
        let a = rtnl_link_inet_set_conf(change, UInt32(IPV4_DEVCONF_ACCEPT_LOCAL), 1)
        if a < 0 { throw NetlinkSocket.error(a, "rtnl_link_inet_set_conf(\(name), accept_local)") }
        let c = rtnl_link_change(sock, link, change, 0)
        if c < 0 { throw NetlinkSocket.error(c, "rtnl_link_change(\(name), up, mtu \(mtu))") }
    }

    /// Adds a route for `destination` (CIDR text, either family) through interface `ifindex` (RTM_NEWROUTE).
    public func addRoute(_ destination: String, interfaceIndex ifindex: Int32) throws(SystemError) {
        let family = destination.contains(":") ? AF_INET6 : AF_INET
        var addr: OpaquePointer?
        let p = nl_addr_parse(destination, family, &addr)
        guard p >= 0, let addr else { throw NetlinkSocket.error(p, "nl_addr_parse(\(destination))") }
        defer { nl_addr_put(addr) }
        guard let route = rtnl_route_alloc() else { throw SystemError(code: ENOMEM, call: "rtnl_route_alloc") }
        defer { rtnl_route_put(route) }
        guard let nexthop = rtnl_route_nh_alloc() else { throw SystemError(code: ENOMEM, call: "rtnl_route_nh_alloc") }
        rtnl_route_nh_set_ifindex(nexthop, ifindex)
        rtnl_route_add_nexthop(route, nexthop)  // the route owns the nexthop now
        _ = rtnl_route_set_family(route, UInt8(family))
        _ = rtnl_route_set_dst(route, addr)
        rtnl_route_set_table(route, UInt32(RT_TABLE_MAIN.rawValue))
        rtnl_route_set_scope(route, UInt8(RT_SCOPE_LINK.rawValue))
        _ = rtnl_route_set_protocol(route, UInt8(RTPROT_STATIC))
        _ = rtnl_route_set_type(route, UInt8(RTN_UNICAST))
        let r = rtnl_route_add(sock, route, NLM_F_CREATE | NLM_F_EXCL)
        if r < 0 { throw NetlinkSocket.error(r, "rtnl_route_add(\(destination))") }
    }
}
