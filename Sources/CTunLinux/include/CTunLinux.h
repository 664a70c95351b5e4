// CTunLinux: the TUN ioctl request numbers and the virtio-net header layout.
//
// Why this shim exists: TUNSETIFF and friends are function-like macros (_IOW(...)), which Swift does not
// import. Each one is wrapped in a static inline function, prefixed CTunLinux_, as SwiftNIO's CNIOLinux does.
#ifndef CTUNLINUX_H
#define CTUNLINUX_H

#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/eventfd.h>

static inline unsigned long CTunLinux_TUNSETIFF(void) { return TUNSETIFF; }
static inline unsigned long CTunLinux_TUNSETPERSIST(void) { return TUNSETPERSIST; }
static inline unsigned long CTunLinux_TUNSETOFFLOAD(void) { return TUNSETOFFLOAD; }
static inline unsigned long CTunLinux_TUNSETVNETHDRSZ(void) { return TUNSETVNETHDRSZ; }
static inline unsigned long CTunLinux_TUNGETIFF(void) { return TUNGETIFF; }

static inline unsigned int CTunLinux_TUN_F_CSUM(void) { return TUN_F_CSUM; }
static inline unsigned int CTunLinux_TUN_F_TSO4(void) { return TUN_F_TSO4; }
static inline unsigned int CTunLinux_TUN_F_TSO6(void) { return TUN_F_TSO6; }
// UDP segmentation offload (Linux >= 6.2). Debian 12's uapi headers (6.1) predate it: the values are the
// kernel's (include/uapi/linux/if_tun.h), and an older kernel refuses them with EINVAL.
#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20
#endif
#ifndef TUN_F_USO6
#define TUN_F_USO6 0x40
#endif
static inline unsigned int CTunLinux_TUN_F_USO4(void) { return TUN_F_USO4; }
static inline unsigned int CTunLinux_TUN_F_USO6(void) { return TUN_F_USO6; }

// eventfd(2) flags: glibc's sys/eventfd.h is not part of Swift's Glibc module, so they come through here.
static inline int CTunLinux_eventfd(void) { return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC); }

static inline short CTunLinux_IFF_TUN(void) { return IFF_TUN; }
static inline short CTunLinux_IFF_NO_PI(void) { return IFF_NO_PI; }
static inline short CTunLinux_IFF_MULTI_QUEUE(void) { return IFF_MULTI_QUEUE; }
static inline short CTunLinux_IFF_VNET_HDR(void) { return IFF_VNET_HDR; }

/// Fills an ifreq with a name and TUN flags; returns 0, or -1 when the name does not fit IFNAMSIZ.
static inline int CTunLinux_fillIfreq(struct ifreq *ifr, const char *name, short flags) {
    __builtin_memset(ifr, 0, sizeof(*ifr));
    size_t n = __builtin_strlen(name);
    if (n >= IFNAMSIZ) return -1;
    __builtin_memcpy(ifr->ifr_name, name, n);
    ifr->ifr_flags = flags;
    return 0;
}

/// Copies the kernel-chosen interface name out of an ifreq (buffer must hold IFNAMSIZ bytes).
static inline void CTunLinux_ifreqName(const struct ifreq *ifr, char *out) {
    __builtin_memcpy(out, ifr->ifr_name, IFNAMSIZ);
    out[IFNAMSIZ - 1] = 0;
}

static inline unsigned long CTunLinux_sizeofIfreq(void) { return sizeof(struct ifreq); }

#endif
