// CNetlink: libnl-3 (core + route) for link, address and route configuration of the TUN device.
// The daemon configures the kernel only through these calls; it never runs `ip`.
#include <netlink/netlink.h>
#include <netlink/socket.h>
#include <netlink/errno.h>
#include <netlink/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/inet.h>
#include <linux/ip.h>
#include <netlink/route/addr.h>
#include <netlink/route/route.h>
#include <netlink/route/nexthop.h>
