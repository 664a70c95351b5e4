// nat64d's in-kernel fast path: a tc (tcx) ingress program that translates the data packets of flows the
// daemon has already admitted, so that an established TCP or UDP flow never crosses the TUN.
//
// The daemon stays the translator. It creates every session (the first packet of a flow always takes the TUN),
// then copies the session's two translations into the maps below; it deletes them when the session ends. This
// program only repeats, byte for byte, what the translator does to an ordinary data packet of such a session
// (RFC 7915 §4.1, §5.1, the rule IDs of docs/conformance.md beside each step). Anything else passes to the kernel
// unchanged and so reaches the TUN: TCP SYN, FIN and RST (the session's state machine, RFC 6146 §3.5.2, runs in
// the daemon), fragments, IPv4 options, IPv6 extension headers, a hop limit or TTL that ends here, packets too
// big for the other side, UDP without a checksum, a route that leads back into the TUN (hairpinning) or to a
// neighbour not yet resolved. Every packet the program carries stamps its map entry, so the daemon keeps the
// session alive (S4) by reading the stamps.
//
// Built by scripts/build-bpf.sh (clang -target bpf) into Sources/CFastPath/program.c; the daemon loads it
// itself (Sources/FastPath/BPFObject.swift), so no map is ever pinned and nothing outlives the daemon.
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include "../include/fastpath_shared.h"

#define SEC(name) __attribute__((section(name), used))
#define INLINE static __attribute__((always_inline)) inline

// Helper declarations: the helper's number, as the kernel's uapi header lists them.
static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *)BPF_FUNC_map_lookup_elem;
static long (*bpf_skb_store_bytes)(void *skb, __u32 offset, const void *from, __u32 len, __u64 flags) =
    (void *)BPF_FUNC_skb_store_bytes;
static long (*bpf_l4_csum_replace)(void *skb, __u32 offset, __u64 from, __u64 to, __u64 flags) =
    (void *)BPF_FUNC_l4_csum_replace;
static long (*bpf_skb_change_proto)(void *skb, __be16 proto, __u64 flags) = (void *)BPF_FUNC_skb_change_proto;
static __s64 (*bpf_csum_diff)(__be32 *from, __u32 from_size, __be32 *to, __u32 to_size, __u32 seed) =
    (void *)BPF_FUNC_csum_diff;
static long (*bpf_fib_lookup)(void *ctx, struct bpf_fib_lookup *params, int plen, __u32 flags) =
    (void *)BPF_FUNC_fib_lookup;
static long (*bpf_redirect)(__u32 ifindex, __u64 flags) = (void *)BPF_FUNC_redirect;
static __u64 (*bpf_ktime_get_ns)(void) = (void *)BPF_FUNC_ktime_get_ns;
static __u32 (*bpf_get_prandom_u32)(void) = (void *)BPF_FUNC_get_prandom_u32;
static long (*bpf_skb_pull_data)(void *skb, __u32 len) = (void *)BPF_FUNC_skb_pull_data;
static long (*bpf_skb_load_bytes)(const void *skb, __u32 offset, void *to, __u32 len) =
    (void *)BPF_FUNC_skb_load_bytes;
static long (*bpf_clone_redirect)(void *skb, __u32 ifindex, __u64 flags) = (void *)BPF_FUNC_clone_redirect;

// The maps: the daemon creates them and patches their descriptors into the loads that name these symbols.
char fp_out_map SEC("maps");    // hash: struct fp_key6 → struct fp_out
char fp_in_map SEC("maps");     // hash: struct fp_key4 → struct fp_in
char fp_config_map SEC("maps"); // array of one struct fp_config
char fp_stats_map SEC("maps");  // per-CPU array of __u64, indexed by enum fp_stat
char fp_splice4_map SEC("maps"); // hash: struct fp_key4 (client → proxy) → struct fp_splice
char fp_splice6_map SEC("maps"); // hash: struct fp_key6 (backend → proxy) → struct fp_splice
char fp_pair_map SEC("maps");    // array: slot → struct fp_splice_pair

#define ETH_LEN 14
#define IP4_LEN 20
#define IP6_LEN 40
#define PROTO_TCP 6
#define PROTO_UDP 17
#define ETH_P_IP_BE 0x0008    // htons(0x0800)
#define ETH_P_IPV6_BE 0xDD86  // htons(0x86DD)
#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_ACK 0x10
#define TCP_ECE 0x40
#define TCP_CWR 0x80
#define MISS (-2)                 // not a flow of this map: the caller tries the next
#define SPLICE_COPY_MARK 0x6e363464u  // a pending splice's copy for the proxy's own socket: let it through

INLINE __u16 be16(__u16 v) { return __builtin_bswap16(v); }
INLINE __u32 be32(__u32 v) { return __builtin_bswap32(v); }

INLINE void count(__u32 which, __u64 n) {
    __u64 *c = bpf_map_lookup_elem(&fp_stats_map, &which);
    if (c) *c += n;  // per-CPU: no other CPU writes this slot
}

INLINE int pass(void) {
    __u32 which = FP_STAT_PASSED;
    __u64 *c = bpf_map_lookup_elem(&fp_stats_map, &which);
    if (c) *c += 1;
    return TC_ACT_OK;
}

// Offset of the checksum field in the transport header.
INLINE __u32 csum_offset(__u8 proto) { return proto == PROTO_TCP ? 16 : 6; }

// The IPv4 header checksum over 20 bytes.
INLINE __u16 ipv4_checksum(void *header) {
    __s64 sum = bpf_csum_diff(0, 0, header, IP4_LEN, 0);
    __u32 s = (__u32)sum;
    s = (s & 0xffff) + (s >> 16);
    s = (s & 0xffff) + (s >> 16);
    return (__u16)~s;
}

// The translated packet leaves by the routed interface, to the neighbour the route lookup found; the flow's
// entry is stamped (the daemon refreshes the session from it) and counted. `stat` is the packets counter; the
// bytes counter follows it.
INLINE int forward(struct __sk_buff *skb, struct bpf_fib_lookup *route, __u16 ethertype, struct fp_use *use,
                   __u64 segments, __u64 bytes, __u32 stat) {
    __u8 eth[ETH_LEN];
    __builtin_memcpy(eth, route->dmac, 6);
    __builtin_memcpy(eth + 6, route->smac, 6);
    *(__u16 *)(eth + 12) = ethertype;
    if (bpf_skb_store_bytes(skb, 0, eth, ETH_LEN, 0) != 0) return TC_ACT_SHOT;
    use->last_seen = bpf_ktime_get_ns();
    __sync_fetch_and_add(&use->packets, segments);
    __sync_fetch_and_add(&use->bytes, bytes);
    count(stat, segments);
    count(stat + 1, bytes);
    return bpf_redirect(route->ifindex, 0);
}

// Whether the transport header agrees with the packet, as the translator requires (it drops and counts the
// rest): TCP's Data Offset at least 5 and within the packet (F16); UDP's Length equal to the payload, or for
// a GSO super-packet between 8 and the payload (F15). `l4` has at least 20 (TCP) or 8 (UDP) readable bytes.
INLINE int transport_sane(__u8 *l4, __u8 proto, __u32 payload, int gso) {
    if (proto == PROTO_TCP) {
        __u32 offset = (l4[12] >> 4) * 4;
        return offset >= 20 && offset <= payload;
    }
    __u32 length = be16(*(__u16 *)(l4 + 4));
    return gso ? (length >= 8 && length <= payload) : length == payload;
}

// Makes the first `length` bytes directly readable; pulls them into the linear part only when they are not
// already there (a pull makes a cloned skb private, a cost TCP's own clones should not pay for nothing).
INLINE int headers(struct __sk_buff *skb, __u32 length, void **data, void **end) {
    *data = (void *)(long)skb->data;
    *end = (void *)(long)skb->data_end;
    if (*data + length <= *end) return 1;
    if (skb->len < length || bpf_skb_pull_data(skb, length) != 0) return 0;
    *data = (void *)(long)skb->data;
    *end = (void *)(long)skb->data_end;
    return *data + length <= *end;
}

// An IPv6 packet of a known flow → IPv4 (RFC 7915 §5).
INLINE int six_to_four(struct __sk_buff *skb, struct fp_config *cfg) {
    void *data, *end;
    if (!headers(skb, ETH_LEN + IP6_LEN + 20, &data, &end) && !headers(skb, ETH_LEN + IP6_LEN + 8, &data, &end))
        return TC_ACT_OK;
    __u8 *ip = data + ETH_LEN;
    if ((void *)(ip + IP6_LEN + 8) > end) return TC_ACT_OK;
    __u8 proto = ip[6];
    if (proto != PROTO_TCP && proto != PROTO_UDP) return TC_ACT_OK;  // extension headers, ICMPv6: slow path
    __u8 *l4 = ip + IP6_LEN;
    struct fp_key6 key = {};
    __builtin_memcpy(key.src, ip + 8, 16);
    __builtin_memcpy(key.dst, ip + 24, 16);
    key.sport = *(__be16 *)l4;
    key.dport = *(__be16 *)(l4 + 2);
    key.proto = proto;
    struct fp_out *flow = bpf_map_lookup_elem(&fp_out_map, &key);
    if (!flow) return MISS;  // not offloaded: not counted, most traffic is not ours
    if (proto == PROTO_TCP) {
        if ((void *)(l4 + 20) > end) return pass();
        if (l4[13] & (TCP_SYN | TCP_FIN | TCP_RST)) return pass();  // S5: the daemon's state machine sees these
    } else if (*(__u16 *)(l4 + 6) == 0) {
        return pass();  // a zero UDP checksum is invalid in IPv6: the translator's verdict
    }
    __u8 hop = ip[7];
    if (hop <= 1) return pass();  // T6.2: Time Exceeded comes from the daemon
    __u32 first = be32(*(__u32 *)ip);
    __u8 class = (first >> 20) & 0xff;
    __u16 payload = be16(*(__u16 *)(ip + 4));
    __u32 total = (__u32)payload + IP4_LEN;
    if (payload == 0 || ETH_LEN + IP6_LEN + (__u32)payload != skb->len) return pass();  // jumbo, trailer
    int gso = skb->gso_size != 0;
    if (!transport_sane(l4, proto, payload, gso)) return pass();  // F15, F16: the translator drops and counts
    // T6.4: DF for unfragmented packets over 1260 bytes (a GSO packet's segments are all "over" it);
    // T6.5: one too big for the IPv4 link takes the slow path, which answers Packet Too Big.
    int df = gso || total > 1260;
    if (df && !gso && total > cfg->ipv4_mtu) return pass();

    struct bpf_fib_lookup route = {};
    route.family = 2;  // AF_INET
    route.l4_protocol = proto;
    route.sport = flow->sport4;
    route.dport = flow->dport4;
    route.tot_len = gso ? 0 : (__u16)total;
    route.ifindex = skb->ingress_ifindex;
    route.ipv4_src = flow->src4;
    route.ipv4_dst = flow->dst4;
    if (bpf_fib_lookup(skb, &route, sizeof(route), 0) != BPF_FIB_LKUP_RET_SUCCESS) return pass();
    if (route.ifindex == cfg->tun_ifindex) return pass();  // hairpinning: the daemon's (S7)

    __be32 old[8];
    __builtin_memcpy(old, ip + 8, 32);
    __be32 new[2] = {flow->src4, flow->dst4};
    __be16 oldPort = key.sport;
    __be16 newPort = flow->sport4;
    __u8 ttl = hop - 1;  // T6.2
    __u8 tos = cfg->class_mode ? cfg->class_value : class;  // T6.1
    __u64 segments = gso ? skb->gso_segs : 1;
    __u32 length = skb->len;

    // From here the packet changes; the pointers above are no longer valid.
    if (bpf_skb_change_proto(skb, ETH_P_IP_BE, 0) != 0) return pass();
    __u32 l4off = ETH_LEN + IP4_LEN;
    __u64 mangled = proto == PROTO_UDP ? BPF_F_MARK_MANGLED_0 : 0;
    __s64 diff = bpf_csum_diff(old, 32, new, 8, 0);  // T6.6: the pseudo-header's addresses change
    bpf_l4_csum_replace(skb, l4off + csum_offset(proto), 0, (__u32)diff, BPF_F_PSEUDO_HDR | mangled);
    if (oldPort != newPort) {  // S3: the pool4 port
        bpf_l4_csum_replace(skb, l4off + csum_offset(proto), oldPort, newPort, 2 | mangled);
        bpf_skb_store_bytes(skb, l4off, &newPort, 2, 0);
    }
    __u8 header[IP4_LEN] = {};
    header[0] = 0x45;
    header[1] = tos;
    *(__u16 *)(header + 2) = be16((__u16)total);
    *(__u16 *)(header + 4) = (__u16)bpf_get_prandom_u32();  // T6.4: a fresh Identification
    *(__u16 *)(header + 6) = df ? be16(0x4000) : 0;
    header[8] = ttl;
    header[9] = proto;
    __builtin_memcpy(header + 12, new, 8);
    *(__u16 *)(header + 10) = ipv4_checksum(header);
    if (bpf_skb_store_bytes(skb, ETH_LEN, header, IP4_LEN, BPF_F_RECOMPUTE_CSUM) != 0) return TC_ACT_SHOT;
    return forward(skb, &route, ETH_P_IP_BE, &flow->use, segments, length - ETH_LEN - 20, FP_STAT_OUT_PACKETS);
}

// An IPv4 packet of a known flow → IPv6 (RFC 7915 §4).
INLINE int four_to_six(struct __sk_buff *skb, struct fp_config *cfg) {
    void *data, *end;
    if (!headers(skb, ETH_LEN + IP4_LEN + 20, &data, &end) && !headers(skb, ETH_LEN + IP4_LEN + 8, &data, &end))
        return TC_ACT_OK;
    __u8 *ip = data + ETH_LEN;
    if ((void *)(ip + IP4_LEN + 8) > end) return TC_ACT_OK;
    if (ip[0] != 0x45) return TC_ACT_OK;  // T4.3: options are the translator's to drop
    __u8 proto = ip[9];
    if (proto != PROTO_TCP && proto != PROTO_UDP) return TC_ACT_OK;
    __u8 *l4 = ip + IP4_LEN;
    struct fp_key4 key = {};
    key.src = *(__be32 *)(ip + 12);
    key.dst = *(__be32 *)(ip + 16);
    key.sport = *(__be16 *)l4;
    key.dport = *(__be16 *)(l4 + 2);
    key.proto = proto;
    struct fp_in *flow = bpf_map_lookup_elem(&fp_in_map, &key);
    if (!flow) return MISS;
    __u16 fragment = be16(*(__u16 *)(ip + 6));
    if (fragment & 0x3fff) return pass();  // T4.4: fragments (and their reassembly for ICMP) stay in the daemon
    int df = (fragment & 0x4000) != 0;
    if (proto == PROTO_TCP) {
        if ((void *)(l4 + 20) > end) return pass();
        if (l4[13] & (TCP_SYN | TCP_FIN | TCP_RST)) return pass();  // S5
    } else if (*(__u16 *)(l4 + 6) == 0) {
        return pass();  // T4.13: a zero UDP checksum is the translator's to compute or drop
    }
    __u8 ttl = ip[8];
    if (ttl <= 1) return pass();  // T4.2
    __u16 total = be16(*(__u16 *)(ip + 2));
    if (total <= IP4_LEN || ETH_LEN + (__u32)total != skb->len) return pass();
    __u32 l4len = total - IP4_LEN;
    int gso = skb->gso_size != 0;
    if (!transport_sane(l4, proto, l4len, gso)) return pass();  // F15, F16
    if (!gso) {
        if (!df && l4len + IP6_LEN > cfg->min_ipv6_mtu) return pass();  // T4.5: the daemon fragments it
        if (df && l4len + IP6_LEN > cfg->ipv6_mtu) return pass();        // T4.6: Fragmentation Needed
    }

    struct bpf_fib_lookup route = {};
    route.family = 10;  // AF_INET6
    route.l4_protocol = proto;
    route.sport = flow->sport6;
    route.dport = flow->dport6;
    route.tot_len = gso ? 0 : (__u16)(l4len + IP6_LEN);
    route.ifindex = skb->ingress_ifindex;
    __builtin_memcpy(route.ipv6_src, flow->src6, 16);
    __builtin_memcpy(route.ipv6_dst, flow->dst6, 16);
    if (bpf_fib_lookup(skb, &route, sizeof(route), 0) != BPF_FIB_LKUP_RET_SUCCESS) return pass();
    if (route.ifindex == cfg->tun_ifindex) return pass();

    __be32 old[2] = {key.src, key.dst};
    __be32 new[8];
    __builtin_memcpy(new, flow->src6, 32);
    __be16 oldPort = key.dport;
    __be16 newPort = flow->dport6;
    __u8 hop = ttl - 1;  // T4.2
    __u8 class = cfg->class_mode ? cfg->class_value : ip[1];  // T4.1
    __u64 segments = gso ? skb->gso_segs : 1;
    __u32 length = skb->len;

    if (bpf_skb_change_proto(skb, ETH_P_IPV6_BE, 0) != 0) return pass();
    __u32 l4off = ETH_LEN + IP6_LEN;
    __u64 mangled = proto == PROTO_UDP ? BPF_F_MARK_MANGLED_0 : 0;
    __s64 diff = bpf_csum_diff(old, 8, new, 32, 0);  // T4.9: the pseudo-header's addresses change
    bpf_l4_csum_replace(skb, l4off + csum_offset(proto), 0, (__u32)diff, BPF_F_PSEUDO_HDR | mangled);
    if (oldPort != newPort) {  // the IPv6 host's own port
        bpf_l4_csum_replace(skb, l4off + csum_offset(proto), oldPort, newPort, 2 | mangled);
        bpf_skb_store_bytes(skb, l4off + 2, &newPort, 2, 0);
    }
    __u8 header[IP6_LEN] = {};
    *(__u32 *)header = be32(0x60000000u | ((__u32)class << 20));
    *(__u16 *)(header + 4) = be16((__u16)l4len);
    header[6] = proto;
    header[7] = hop;
    __builtin_memcpy(header + 8, new, 32);
    if (bpf_skb_store_bytes(skb, ETH_LEN, header, IP6_LEN, BPF_F_RECOMPUTE_CSUM) != 0) return TC_ACT_SHOT;
    return forward(skb, &route, ETH_P_IPV6_BE, &flow->use, segments, length - ETH_LEN + 20, FP_STAT_IN_PACKETS);
}

// ---------------------------------------------------------------------------------------------------------------
// Spliced proxy connections (Sources/InboundProxy, "offload"): the proxy has accepted an IPv4 client's TCP
// connection, chosen the backend by SNI or Host, opened its own IPv6 connection to it and written the PROXY
// header and the client's first bytes. From then on both connections carry the same byte stream, each byte at
// a fixed place in each sequence space, so a segment of one can be rewritten into a segment of the other: the
// addresses and ports, the sequence and acknowledgment numbers and SACK edges by constant offsets, the window
// rescaled from the sender's scale to the one the receiver applies, timestamps moved onto the clock the
// receiver has seen (the offset is learned from each direction's first carried segment). While the splice is
// PENDING a copy of each segment still reaches the proxy's socket, which finishes sending what it owed (its
// acknowledgments come in those copies); once the daemon has seen that, it closes its sockets without a word
// (TCP_REPAIR) and the connection lives here only.

// Byte access into the 60-byte TCP header copy (offsets masked so the verifier sees them in bounds).
INLINE __u32 get32(__u8 *b, __u32 off) {
    off &= 63;
    if (off > 56) return 0;
    return ((__u32)b[off] << 24) | ((__u32)b[off + 1] << 16) | ((__u32)b[off + 2] << 8) | b[off + 3];
}
INLINE void put32(__u8 *b, __u32 off, __u32 v) {
    off &= 63;
    if (off > 56) return;
    b[off] = v >> 24;
    b[off + 1] = v >> 16;
    b[off + 2] = v >> 8;
    b[off + 3] = v;
}

// The offset a direction's TSvals move by: learned from its first carried segment so that the mapped values
// continue the clock of the proxy socket the receiver knew (bit 32 marks it learned; the first writer wins).
INLINE __u32 ts_delta(struct fp_splice_pair *pair, __u32 dir, __u32 tsval, __u32 offset) {
    __u64 *slot = &pair->ts[dir & 1];
    __u64 v = *slot;
    if (v >> 32) return (__u32)v;
    __u32 now = (__u32)(bpf_ktime_get_ns() / 1000000) + offset;
    __u64 want = (1ULL << 32) | (__u32)(now - tsval);
    __u64 old = __sync_val_compare_and_swap(slot, 0, want);
    return old ? (__u32)old : (__u32)want;
}

// Rewrites the TCP header copy `tcp` (hlen bytes, options included) for the other connection.
INLINE void splice_tcp(__u8 *tcp, __u32 hlen, struct fp_splice *s, struct fp_splice_pair *pair) {
    __u8 flags = tcp[13];
    *(__be16 *)tcp = s->sport;
    *(__be16 *)(tcp + 2) = s->dport;
    put32(tcp, 4, get32(tcp, 4) + s->seq_delta);
    if (flags & TCP_ACK) put32(tcp, 8, get32(tcp, 8) + s->ack_delta);
    tcp[13] = flags & ~(TCP_ECE | TCP_CWR);  // ECN was negotiated (or not) per connection: none end to end
    __u32 window = ((__u32)tcp[14] << 8 | tcp[15]) << (s->ws_in & 15);
    __u32 out = s->ws_out & 15;
    window = (window + (1u << out) - 1) >> out;
    if (window > 65535) window = 65535;
    tcp[14] = window >> 8;
    tcp[15] = window;
    // Find the timestamps and SACK options first (a small loop the verifier can follow), then rewrite them.
    __u32 i = 20, ts_at = 0, sack_at = 0, sack_len = 0;
    for (int n = 0; n < 40; n++) {
        if (i >= hlen || i >= 59) break;
        __u8 kind = tcp[i & 63];
        if (kind == 0) break;
        if (kind == 1) {
            i = (i + 1) & 63;  // masked: every path reaches the loop head with i in [0, 63], so the
            continue;          // verifier's states there merge instead of multiplying
        }
        __u8 len = tcp[(i + 1) & 63];
        if (len < 2 || i + len > hlen) break;
        if (kind == 8 && len == 10) ts_at = i;
        if (kind == 5) {
            sack_at = i;
            sack_len = len;
        }
        i = (i + len) & 63;
    }
    if (ts_at) {  // timestamps: TSval onto the receiver's clock, TSecr back onto the sender's
        __u32 tsval = get32(tcp, ts_at + 2);
        put32(tcp, ts_at + 2, tsval + ts_delta(pair, s->dir, tsval, s->ts_offset));
        __u64 other = pair->ts[(s->dir ^ 1) & 1];
        __u32 tsecr = get32(tcp, ts_at + 6);
        put32(tcp, ts_at + 6, (other >> 32) && tsecr ? tsecr - (__u32)other : 0);
    }
    if (sack_at) {  // SACK edges are acknowledgment numbers (at most 4 blocks, 8 edges)
        __u32 edges = (sack_len - 2) / 4;
        for (__u32 e = 0; e < 8; e++) {
            if (e >= edges) break;
            __u32 at = sack_at + 2 + e * 4;
            put32(tcp, at, get32(tcp, at) + s->ack_delta);
        }
    }
}

// The pair of the splice entry an arriving segment found (`s`, maybe NULL), or NULL when the segment is not
// one to carry: no entry, a proxy socket's own entry (egress), or a connection whose addresses a SYN took.
INLINE struct fp_splice_pair *splice_pair(struct fp_splice *s) {
    if (!s || s->egress) return 0;
    __u32 slot = s->slot;
    struct fp_splice_pair *pair = bpf_map_lookup_elem(&fp_pair_map, &slot);
    return pair && !(pair->closing & FP_SPLICE_TAKEN) ? pair : 0;
}

// Whether a spliced connection's segment may be carried, and what its flags say about the connection's end.
// Returns 0 to carry it, or the verdict for the packet.
INLINE int splice_flags(__u8 flags, struct fp_splice *s, struct fp_splice_pair *pair) {
    if (flags & TCP_SYN) {  // a new connection on the same addresses: the old one is over
        __sync_fetch_and_or(&pair->closing, FP_SPLICE_TAKEN);
        return TC_ACT_OK;
    }
    if (flags & TCP_RST) __sync_fetch_and_or(&pair->closing, FP_SPLICE_RST);
    if (flags & TCP_FIN) __sync_fetch_and_or(&pair->closing, s->dir ? FP_SPLICE_FIN_BACKEND : FP_SPLICE_FIN_CLIENT);
    return 0;
}

// A segment that cannot be carried: while pending the proxy's socket still takes it; after that, dropped (the
// sender sends it again) and counted.
INLINE int splice_cannot(struct fp_splice *s) {
    if (s->pending) return pass();
    count(FP_STAT_SPLICE_DROPPED, 1);
    return TC_ACT_SHOT;
}

// While pending, the proxy's socket gets a copy of the segment as it arrived, but for its acknowledgment: the
// peer acknowledges what the program carried to it too, which the socket never sent, and a socket drops a
// segment that acknowledges unsent data (ACKs included). So the copy acknowledges at most what the socket has
// sent (its egress entry, `hold`, keeps count); the original's acknowledgment is put back for the carried
// segment. The checksum moves with it; the total the packet sums to does not, so a received checksum stays
// right.
INLINE void splice_copy(struct __sk_buff *skb, struct fp_splice *s, struct fp_splice *hold, __u32 l4off,
                        __u8 *old) {
    if (!s->pending) return;
    __be32 ack = *(__be32 *)(old + 8);
    __u32 sent = hold ? hold->sent : 0;
    __be32 ceiling = be32(sent);
    int clamp = hold && (old[13] & TCP_ACK) && (__s32)(be32(ack) - sent) > 0;
    if (clamp) {
        bpf_l4_csum_replace(skb, l4off + 16, ack, ceiling, 4);
        bpf_skb_store_bytes(skb, l4off + 8, &ceiling, 4, 0);
    }
    skb->mark = SPLICE_COPY_MARK;
    bpf_clone_redirect(skb, skb->ifindex, BPF_F_INGRESS);
    skb->mark = 0;
    if (clamp) {
        bpf_l4_csum_replace(skb, l4off + 16, ceiling, ack, 4);
        bpf_skb_store_bytes(skb, l4off + 8, &ack, 4, 0);
    }
}

// Reads the TCP header (`hlen` bytes at `off`) into `old`, rewrites a copy of it into `tcp` and, while the
// splice is pending, gives the proxy's socket its copy of the segment. Returns the header's length, or 0 when
// it cannot be read.
INLINE __u32 splice_header(struct __sk_buff *skb, __u32 off, __u32 hlen, struct fp_splice *s,
                           struct fp_splice *hold, struct fp_splice_pair *pair, __u8 *old, __u8 *tcp) {
    hlen &= 60;
    asm volatile("" : "+r"(hlen));  // so that the bound checked next is the one the verifier sees
    if (hlen < 20 || bpf_skb_load_bytes(skb, off, old, hlen) != 0) return 0;
    __builtin_memcpy(tcp, old, 60);
    splice_tcp(tcp, hlen, s, pair);
    splice_copy(skb, s, hold, off, old);
    return hlen;
}

// Writes the rewritten TCP header and mends its checksum: `pseudo` for the addresses of the pseudo-header,
// the difference of the two header copies for the rest. 0, or the helper's error.
INLINE long splice_store(struct __sk_buff *skb, __u32 l4off, __u32 hlen, __u8 *old, __u8 *tcp, __s64 pseudo) {
    hlen &= 60;
    asm volatile("" : "+r"(hlen));
    if (hlen < 20) return -1;
    long r = bpf_skb_store_bytes(skb, l4off, tcp, hlen, BPF_F_RECOMPUTE_CSUM);
    if (r != 0) return r;
    bpf_l4_csum_replace(skb, l4off + 16, 0, (__u32)pseudo, BPF_F_PSEUDO_HDR);
    __s64 fields = bpf_csum_diff((__be32 *)old, 60, (__be32 *)tcp, 60, 0);
    bpf_l4_csum_replace(skb, l4off + 16, 0, (__u32)fields, 0);
    return 0;
}

// Client (IPv4) → proxy, spliced: leaves as the proxy's IPv6 segment to the backend.
INLINE int splice_four_to_six(struct __sk_buff *skb, struct fp_config *cfg) {
    void *data, *end;
    if (!headers(skb, ETH_LEN + IP4_LEN + 20, &data, &end)) return TC_ACT_OK;
    __u8 *ip = data + ETH_LEN;
    if ((void *)(ip + IP4_LEN + 20) > end) return TC_ACT_OK;
    if (ip[0] != 0x45 || ip[9] != PROTO_TCP) return TC_ACT_OK;
    __u8 *l4 = ip + IP4_LEN;
    struct fp_key4 key = {};
    key.src = *(__be32 *)(ip + 12);
    key.dst = *(__be32 *)(ip + 16);
    key.sport = *(__be16 *)l4;
    key.dport = *(__be16 *)(l4 + 2);
    key.proto = PROTO_TCP;
    struct fp_splice *s = bpf_map_lookup_elem(&fp_splice4_map, &key);
    struct fp_splice_pair *pair = splice_pair(s);
    if (!pair) return TC_ACT_OK;
    int verdict = splice_flags(l4[13], s, pair);
    if (verdict) return verdict;
    __u16 fragment = be16(*(__u16 *)(ip + 6));
    __u16 total = be16(*(__u16 *)(ip + 2));
    if ((fragment & 0x3fff) || total <= IP4_LEN || ETH_LEN + (__u32)total != skb->len) return splice_cannot(s);
    __u32 l4len = total - IP4_LEN;
    __u32 hlen = (l4[12] >> 4) * 4;
    int gso = skb->gso_size != 0;
    if (hlen < 20 || hlen > l4len) return splice_cannot(s);  // a segment too big for the route fails the lookup

    struct bpf_fib_lookup route = {};
    route.family = 10;  // AF_INET6
    route.l4_protocol = PROTO_TCP;
    route.sport = s->sport;
    route.dport = s->dport;
    route.tot_len = gso ? 0 : (__u16)(l4len + IP6_LEN);
    route.ifindex = skb->ingress_ifindex;
    __builtin_memcpy(route.ipv6_src, s->src6, 16);
    __builtin_memcpy(route.ipv6_dst, s->dst6, 16);
    if (bpf_fib_lookup(skb, &route, sizeof(route), 0) != BPF_FIB_LKUP_RET_SUCCESS) return splice_cannot(s);
    if (route.ifindex == cfg->tun_ifindex) return splice_cannot(s);

    struct fp_splice *hold = 0;
    if (s->pending) {  // the front socket's own entry, for its copy
        struct fp_key4 back = {};
        back.src = key.dst;
        back.dst = key.src;
        back.sport = key.dport;
        back.dport = key.sport;
        back.proto = PROTO_TCP;
        hold = bpf_map_lookup_elem(&fp_splice4_map, &back);
    }
    __u8 old[60] = {}, tcp[60] = {};
    hlen = splice_header(skb, ETH_LEN + IP4_LEN, hlen, s, hold, pair, old, tcp);
    if (!hlen) return splice_cannot(s);

    __be32 oldAddresses[2] = {key.src, key.dst};
    __be32 newAddresses[8];
    __builtin_memcpy(newAddresses, s->src6, 32);
    __u64 segments = gso ? skb->gso_segs : 1;
    __u32 length = skb->len;
    if (bpf_skb_change_proto(skb, ETH_P_IPV6_BE, 0) != 0) return splice_cannot(s);
    __u32 l4off = ETH_LEN + IP6_LEN;
    __u8 header[IP6_LEN] = {};
    *(__u32 *)header = be32(0x60000000u);  // traffic class 0: the proxy's own connection's
    *(__u16 *)(header + 4) = be16((__u16)l4len);
    header[6] = PROTO_TCP;
    header[7] = 64;  // a segment the proxy sends: its own hop limit
    __builtin_memcpy(header + 8, newAddresses, 32);
    if (bpf_skb_store_bytes(skb, ETH_LEN, header, IP6_LEN, BPF_F_RECOMPUTE_CSUM) != 0) return TC_ACT_SHOT;
    if (splice_store(skb, l4off, hlen, old, tcp, bpf_csum_diff(oldAddresses, 8, newAddresses, 32, 0)) != 0)
        return TC_ACT_SHOT;
    return forward(skb, &route, ETH_P_IPV6_BE, &pair->use[0], segments, length - ETH_LEN + 20,
                   FP_STAT_SPLICE_C2B_PACKETS);
}

// Backend (IPv6) → proxy, spliced: leaves as the proxy's IPv4 segment to the client.
INLINE int splice_six_to_four(struct __sk_buff *skb, struct fp_config *cfg) {
    void *data, *end;
    if (!headers(skb, ETH_LEN + IP6_LEN + 20, &data, &end)) return TC_ACT_OK;
    __u8 *ip = data + ETH_LEN;
    if ((void *)(ip + IP6_LEN + 20) > end) return TC_ACT_OK;
    if (ip[6] != PROTO_TCP) return TC_ACT_OK;
    __u8 *l4 = ip + IP6_LEN;
    struct fp_key6 key = {};
    __builtin_memcpy(key.src, ip + 8, 16);
    __builtin_memcpy(key.dst, ip + 24, 16);
    key.sport = *(__be16 *)l4;
    key.dport = *(__be16 *)(l4 + 2);
    key.proto = PROTO_TCP;
    struct fp_splice *s = bpf_map_lookup_elem(&fp_splice6_map, &key);
    struct fp_splice_pair *pair = splice_pair(s);
    if (!pair) return TC_ACT_OK;
    int verdict = splice_flags(l4[13], s, pair);
    if (verdict) return verdict;
    __u16 payload = be16(*(__u16 *)(ip + 4));
    if (payload == 0 || ETH_LEN + IP6_LEN + (__u32)payload != skb->len) return splice_cannot(s);
    __u32 hlen = (l4[12] >> 4) * 4;
    int gso = skb->gso_size != 0;
    __u32 total = (__u32)payload + IP4_LEN;
    if (hlen < 20 || hlen > payload) return splice_cannot(s);  // a segment too big for the route fails the lookup

    struct bpf_fib_lookup route = {};
    route.family = 2;  // AF_INET
    route.l4_protocol = PROTO_TCP;
    route.sport = s->sport;
    route.dport = s->dport;
    route.tot_len = gso ? 0 : (__u16)total;
    route.ifindex = skb->ingress_ifindex;
    route.ipv4_src = s->src4;
    route.ipv4_dst = s->dst4;
    if (bpf_fib_lookup(skb, &route, sizeof(route), 0) != BPF_FIB_LKUP_RET_SUCCESS) return splice_cannot(s);
    if (route.ifindex == cfg->tun_ifindex) return splice_cannot(s);

    struct fp_splice *hold = 0;
    if (s->pending) {  // the backend socket's own entry, for its copy
        struct fp_key6 back = {};
        __builtin_memcpy(back.src, key.dst, 16);
        __builtin_memcpy(back.dst, key.src, 16);
        back.sport = key.dport;
        back.dport = key.sport;
        back.proto = PROTO_TCP;
        hold = bpf_map_lookup_elem(&fp_splice6_map, &back);
    }
    __u8 old[60] = {}, tcp[60] = {};
    hlen = splice_header(skb, ETH_LEN + IP6_LEN, hlen, s, hold, pair, old, tcp);
    if (!hlen) return splice_cannot(s);

    __be32 oldAddresses[8];
    __builtin_memcpy(oldAddresses, key.src, 32);
    __be32 newAddresses[2] = {s->src4, s->dst4};
    __u64 segments = gso ? skb->gso_segs : 1;
    __u32 length = skb->len;
    if (bpf_skb_change_proto(skb, ETH_P_IP_BE, 0) != 0) return splice_cannot(s);
    __u32 l4off = ETH_LEN + IP4_LEN;
    __u8 header[IP4_LEN] = {};
    header[0] = 0x45;
    *(__u16 *)(header + 2) = be16((__u16)total);
    *(__u16 *)(header + 4) = (__u16)bpf_get_prandom_u32();
    *(__u16 *)(header + 6) = be16(0x4000);  // DF: TCP does its own path MTU discovery
    header[8] = 64;
    header[9] = PROTO_TCP;
    __builtin_memcpy(header + 12, newAddresses, 8);
    *(__u16 *)(header + 10) = ipv4_checksum(header);
    if (bpf_skb_store_bytes(skb, ETH_LEN, header, IP4_LEN, BPF_F_RECOMPUTE_CSUM) != 0) return TC_ACT_SHOT;
    if (splice_store(skb, l4off, hlen, old, tcp, bpf_csum_diff(oldAddresses, 32, newAddresses, 8, 0)) != 0)
        return TC_ACT_SHOT;
    return forward(skb, &route, ETH_P_IP_BE, &pair->use[1], segments, length - ETH_LEN - 20,
                   FP_STAT_SPLICE_B2C_PACKETS);
}

SEC("tc")
int nat64d_fastpath(struct __sk_buff *skb) {
    __u32 zero = 0;
    struct fp_config *cfg = bpf_map_lookup_elem(&fp_config_map, &zero);
    if (!cfg) return TC_ACT_OK;
    // Only frames for this host, without a VLAN tag the kernel took off (the redirect would keep it): the
    // rest is not a routed packet of ours. A pending splice's copy for the proxy's socket passes.
    if (skb->pkt_type != 0 || skb->vlan_present || skb->mark == SPLICE_COPY_MARK) return TC_ACT_OK;
    // Translation stops while a capture runs (the capture must see those packets on the TUN); spliced
    // connections cannot stop: the proxy's sockets are gone.
    if (skb->protocol == ETH_P_IPV6_BE) {
        int verdict = cfg->enabled ? six_to_four(skb, cfg) : MISS;
        return verdict == MISS ? splice_six_to_four(skb, cfg) : verdict;
    }
    if (skb->protocol == ETH_P_IP_BE) {
        int verdict = cfg->enabled ? four_to_six(skb, cfg) : MISS;
        return verdict == MISS ? splice_four_to_six(skb, cfg) : verdict;
    }
    return TC_ACT_OK;
}

// A pending splice's proxy socket sends: it still owes the bytes that reached it before the splice began, but
// whatever it received since came as a copy of a segment the program also carried to the other end, which may
// yet be lost on the way. Acknowledging such a byte would make its sender forget it, so the socket's
// acknowledgment number is held at what it had received when the splice began (the other end acknowledges the
// rest itself), and only its data leaves: its pure ACKs, and any FIN or reset (the connection's end belongs to
// the client and the backend now; a reset may also be the stack's answer to a late copy once the socket is
// closed) are dropped. A SYN on the same addresses is a new connection: the entry stops holding.
INLINE int splice_hold(struct __sk_buff *skb, __u32 l4off, __u8 *l4, void *end, struct fp_splice *s, __u32 payload) {
    if (!s->egress || !s->pending) return TC_ACT_OK;
    if (skb->ingress_ifindex != 0) return TC_ACT_OK;  // a carried segment (it came in somewhere), not the socket's
    if ((void *)(l4 + 20) > end) return TC_ACT_OK;
    __u8 flags = l4[13];
    if (flags & TCP_SYN) {
        s->pending = 0;
        return TC_ACT_OK;
    }
    __u32 hlen = (l4[12] >> 4) * 4;
    if ((flags & (TCP_RST | TCP_FIN)) || payload <= hlen) return TC_ACT_SHOT;
    __u32 end_seq = be32(*(__u32 *)(l4 + 4)) + (payload - hlen);
    if ((__s32)(end_seq - s->sent) > 0) s->sent = end_seq;  // one socket, one CPU at a time: a plain write
    __be32 ack = *(__be32 *)(l4 + 8);
    __be32 ceiling = be32(s->ack_ceiling);
    if ((flags & TCP_ACK) && (__s32)(be32(ack) - s->ack_ceiling) > 0) {
        bpf_l4_csum_replace(skb, l4off + 16, ack, ceiling, 4);
        bpf_skb_store_bytes(skb, l4off + 8, &ceiling, 4, 0);
    }
    return TC_ACT_OK;
}

SEC("tc/egress")
int nat64d_fastpath_egress(struct __sk_buff *skb) {
    void *data, *end;
    if (skb->protocol == ETH_P_IPV6_BE) {
        if (!headers(skb, ETH_LEN + IP6_LEN + 20, &data, &end)) return TC_ACT_OK;
        __u8 *ip = data + ETH_LEN;
        if ((void *)(ip + IP6_LEN + 20) > end || ip[6] != PROTO_TCP) return TC_ACT_OK;
        __u8 *l4 = ip + IP6_LEN;
        struct fp_key6 key = {};
        __builtin_memcpy(key.src, ip + 8, 16);
        __builtin_memcpy(key.dst, ip + 24, 16);
        key.sport = *(__be16 *)l4;
        key.dport = *(__be16 *)(l4 + 2);
        key.proto = PROTO_TCP;
        struct fp_splice *s = bpf_map_lookup_elem(&fp_splice6_map, &key);
        if (!s) return TC_ACT_OK;
        return splice_hold(skb, ETH_LEN + IP6_LEN, l4, end, s, be16(*(__u16 *)(ip + 4)));
    }
    if (skb->protocol == ETH_P_IP_BE) {
        if (!headers(skb, ETH_LEN + IP4_LEN + 20, &data, &end)) return TC_ACT_OK;
        __u8 *ip = data + ETH_LEN;
        if ((void *)(ip + IP4_LEN + 20) > end || ip[0] != 0x45 || ip[9] != PROTO_TCP) return TC_ACT_OK;
        __u8 *l4 = ip + IP4_LEN;
        struct fp_key4 key = {};
        key.src = *(__be32 *)(ip + 12);
        key.dst = *(__be32 *)(ip + 16);
        key.sport = *(__be16 *)l4;
        key.dport = *(__be16 *)(l4 + 2);
        key.proto = PROTO_TCP;
        struct fp_splice *s = bpf_map_lookup_elem(&fp_splice4_map, &key);
        if (!s) return TC_ACT_OK;
        __u16 total = be16(*(__u16 *)(ip + 2));
        return splice_hold(skb, ETH_LEN + IP4_LEN, l4, end, s, total > IP4_LEN ? total - IP4_LEN : 0);
    }
    return TC_ACT_OK;
}

char _license[] SEC("license") = "GPL";
