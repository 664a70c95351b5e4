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

/// A proxied TCP connection spliced in the kernel, one direction: a packet that arrives with the key (struct
/// fp_key4 from the IPv4 client, struct fp_key6 from the IPv6 backend) leaves as a packet of the other
/// connection. Sequence numbers move by constant offsets (the proxy relays every byte once, in order, so a byte
/// has one place in each connection's sequence space), windows are rescaled, timestamps move to the clock
/// the receiver knows (the pair's learned offsets).
struct fp_splice {
    __u8 src6[16];      // client → backend: the proxy's IPv6 address of the backend connection
    __u8 dst6[16];      // client → backend: the backend
    __be32 src4;        // backend → client: the proxy's IPv4 address the client connected to
    __be32 dst4;        // backend → client: the client
    __be16 sport;       // the new source port
    __be16 dport;       // the new destination port
    __u32 seq_delta;    // added to the sequence number
    __u32 ack_delta;    // added to the acknowledgment number and to SACK edges
    __u32 ts_offset;    // the receiver-side socket's timestamp offset: its TSval = monotonic ms + ts_offset
    __u8 ws_in;         // the sender's window scale (window field << ws_in = bytes)
    __u8 ws_out;        // the scale the receiver applies (bytes >> ws_out = window field)
    __u8 dir;           // 0: client → backend, 1: backend → client (index into the pair's arrays)
    __u8 pending;       // 1: the proxy's socket still gets a copy of each segment (it finishes what it owes)
    __u8 egress;        // 1: the key is a proxy socket's own segments leaving (the egress program's entry):
                        //    while pending, its pure ACKs are dropped and its acknowledgment number is held
                        //    at `ack_ceiling`, so it never acknowledges a segment only the other end got
    __u8 pad[3];
    __u32 ack_ceiling;  // egress entries: the most the socket may acknowledge while pending
    __u32 sent;         // egress entries: how far the socket has sent (written by the egress program, which
                        // only raises it; the daemon starts it at the socket's write_seq): a copy for the
                        // socket acknowledges at most this, since the socket drops a segment acknowledging
                        // data it never sent, and the peer acknowledges what the program carried to it too
    __u32 slot;         // the pair's index in fp_pair_map
};

/// What both directions of a spliced connection share (an array slot the daemon hands out). Only the program
/// writes it while the splice lives (the daemon zeroes it before and after), so nothing it learned is lost.
struct fp_splice_pair {
    __u64 ts[2];        // per direction: bit 32 set once learned; low 32 bits added to the sender's TSvals
    __u32 closing;      // FP_SPLICE_* bits, as seen
    __u32 pad;
    struct fp_use use[2];
};

/// What the program saw of a spliced connection's end. TAKEN: a SYN on its addresses (a new connection):
/// from then on its segments go to the stack, and the daemon removes the entries.
enum { FP_SPLICE_FIN_CLIENT = 1, FP_SPLICE_FIN_BACKEND = 2, FP_SPLICE_RST = 4, FP_SPLICE_TAKEN = 8 };

/// Counters of the per-CPU statistics map, one index each.
enum fp_stat {
    FP_STAT_OUT_PACKETS = 0,  // IPv6 → IPv4 segments carried
    FP_STAT_OUT_BYTES,
    FP_STAT_IN_PACKETS,       // IPv4 → IPv6 segments carried
    FP_STAT_IN_BYTES,
    FP_STAT_PASSED,           // packets of a known flow handed to the slow path (flags, size, no route)
    FP_STAT_SPLICE_C2B_PACKETS,  // spliced proxy connections: client → backend segments carried
    FP_STAT_SPLICE_C2B_BYTES,
    FP_STAT_SPLICE_B2C_PACKETS,  // backend → client
    FP_STAT_SPLICE_B2C_BYTES,
    FP_STAT_SPLICE_DROPPED,      // segments of a spliced connection that could not be carried (too big, no route)
    FP_STAT_COUNT
};

#endif
