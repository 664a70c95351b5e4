// The layout both sides of the in-kernel fast path agree on: the eBPF program (bpf/fastpath.bpf.c) reads these
// maps, the daemon (Sources/FastPath) fills them. Plain fixed-width fields, no pointers, so the same header
// compiles for the BPF target and the host.
#ifndef FASTPATH_SHARED_H
#define FASTPATH_SHARED_H

#include <linux/types.h>

/// What the program saw of a flow in one direction.
struct fp_use {
    __u64 last_seen;  // CLOCK_MONOTONIC ns of the last packet carried (bpf_ktime_get_ns)
    __u64 packets;    // segments (a GSO packet counts each segment it carries)
    __u64 bytes;      // translated bytes, IP header included
};

/// An IPv6-side flow, as its packets arrive from the IPv6 host (network byte order throughout).
struct fp_key6 {
    __u8 src[16];
    __u8 dst[16];
    __be16 sport;
    __be16 dport;
    __u8 proto;
    __u8 pad[3];
};

/// What an IPv6-side flow becomes on the IPv4 side, and what the program saw of it.
struct fp_out {
    __be32 src4;
    __be32 dst4;
    __be16 sport4;
    __be16 dport4;
    __u32 pad;
    struct fp_use use;
};

/// An IPv4-side flow, as its packets arrive from the IPv4 peer.
struct fp_key4 {
    __be32 src;
    __be32 dst;
    __be16 sport;
    __be16 dport;
    __u8 proto;
    __u8 pad[3];
};

/// What an IPv4-side flow becomes on the IPv6 side.
struct fp_in {
    __u8 src6[16];
    __u8 dst6[16];
    __be16 sport6;
    __be16 dport6;
    __u32 pad;
    struct fp_use use;
};

/// The one entry of the configuration map.
struct fp_config {
    __u32 enabled;          // 0: every packet goes the slow way (a capture is running, or the daemon stops)
    __u32 tun_ifindex;      // never redirect into the translator's own TUN (hairpinning stays in the slow path)
    __u16 ipv4_mtu;         // the translator's ipv4-mtu (T6.5)
    __u16 ipv6_mtu;         // its ipv6-mtu (T4.6)
    __u16 min_ipv6_mtu;     // its minimum IPv6 MTU (T4.4: bigger DF-clear packets need fragmenting)
    __u8 class_mode;        // 0: copy TOS / traffic class (T6.1, T4.1); 1: write `class_value`
    __u8 class_value;
};

/// Counters of the per-CPU statistics map, one index each.
enum fp_stat {
    FP_STAT_OUT_PACKETS = 0,  // IPv6 → IPv4 segments carried
    FP_STAT_OUT_BYTES,
    FP_STAT_IN_PACKETS,       // IPv4 → IPv6 segments carried
    FP_STAT_IN_BYTES,
    FP_STAT_PASSED,           // packets of a known flow handed to the slow path (flags, size, no route)
    FP_STAT_COUNT
};

#endif
