#!/usr/bin/env bash
# End-to-end test of nat64d's router advertisements ([ra.IFNAME], RFC 4861/8106/8781) in network namespaces
# (topology: scripts/netns-lib.sh). The client forgets its static default route and takes what nat64d
# announces on the gateway's client-side interface: accept_ra=2, forwarding off at first. Checked with real
# client tools: the kernel's default route via the gateway's link-local address and its SLAAC address,
# rdisc6 (ndisc6) for the RA header, MTU, prefix, RDNSS and DNSSL, tshark for the PREF64 option (rdisc6 1.0.5
# does not decode it). A client script learns the NAT64 prefix from PREF64 and reaches the IPv4-only server
# through a CLAT made of TAYGA on the client (an IPv4 literal), and by the IPv6 address it synthesizes from
# the learned prefix. Malformed Router Solicitations (scapy) are counted and ignored; a burst of valid ones
# is rate-limited (RFC 4861 §6.2.6); stopping nat64d withdraws the default route. Counters come from
# `nat64d ctl stats --json`, `nat64d ctl ra --json` and /metrics. Must run as root.
#
#   NAT64D=/path/to/nat64d bash scripts/netns-ra-test.sh   # use this binary
#   bash scripts/netns-ra-test.sh                          # swift build (debug) first
#
# Check names carry the rule IDs of docs/router-advertisements.md. Prints `PASS name` / `FAIL name: detail`
# per check, then `N passed, N failed` as the last line.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/netns-lib.sh
source "$SCRIPT_DIR/netns-lib.sh"
CMD_TIMEOUT=30
NETNS_CHECKS_NO_ALIVE_NOTE=RA14-stop-withdraws-default-route
# shellcheck source=scripts/netns-checks.sh
source "$SCRIPT_DIR/netns-checks.sh"
netns_checks_on_abort() { netns_show_log nat64d 40; }

netns_preflight netns-ra-test rdisc6 tcpdump tshark tayga curl /usr/bin/python3
netns_resolve_nat64d netns-ra-test

RA_IF=$IF_GW_CLIENT           # the gateway's client-side interface: [ra.veth-client]
MAX_INTERVAL=10               # s, so unsolicited advertisements come often
ROUTER_LIFETIME=30            # 3 × max-interval
PREF64_LIFETIME=601           # announced as 608 (rounded up to a multiple of 8 s, RFC 8781 §4.1)
SLAAC_PREFIX=2001:db8:1::/64
CLAT_ADDR4=192.0.0.1          # the client's IPv4 address behind its CLAT (RFC 7335)
CLAT_TAYGA4=192.0.0.2
CLAT_ADDR6=2001:db8:1::c1a7   # the CLAT's IPv6 address on the link (proxy NDP)
METRICS_PORT=9164

ctl() { timeout -k 2 "$CMD_TIMEOUT" "$NAT64D" ctl --socket "$CONTROL_SOCKET" "$@"; }

# json_get JSON PYTHON-EXPRESSION: evaluates the expression on the parsed JSON `j`; prints the result.
json_get() { /usr/bin/python3 -c 'import json, sys; j = json.loads(sys.argv[1]); print(eval(sys.argv[2]))' "$1" "$2"; }

# ra_counter NAME: one RA counter of the interface from `ctl stats --json` (empty if unavailable).
ra_counter() {
    local out
    out=$(ctl stats --json 2>/dev/null) || return 0
    json_get "$out" "j.get('ra', {}).get('$RA_IF', {}).get('$1', '')" 2>/dev/null || true
}

# capture_ra OUT [TRIGGER...]: the fields of the next router advertisement the client receives, tab-separated
# in OUT (source, hop limit, router lifetime, PREF64 prefix, PLC, scaled lifetime, RDNSS, RDNSS lifetime):
# tcpdump (quick to start) captures it, tshark decodes it. TRIGGER (a command, optional) runs once tcpdump
# listens.
capture_ra() {
    local out=$1 pid i
    shift
    ip netns exec "$NS_CLIENT" timeout 30 tcpdump -n -U -c 1 -i "$IF_CLIENT" -w "$out.pcap" \
        'icmp6 and ip6[40] == 134' 2>"$out.err" &
    pid=$!
    for ((i = 0; i < 100; i++)); do
        grep -q 'listening on' "$out.err" 2>/dev/null && break
        sleep 0.1
    done
    if (($# > 0)); then "$@" >/dev/null 2>&1 || true; fi
    wait "$pid" || true
    tshark -n -r "$out.pcap" -T fields -e ipv6.src -e ipv6.hlim -e icmpv6.nd.ra.router_lifetime \
        -e icmpv6.opt.pref64.prefix -e icmpv6.opt.pref64.plc -e icmpv6.opt.pref64.scaled_lifetime \
        -e icmpv6.opt.rdnss -e icmpv6.opt.rdnss.lifetime >"$out" 2>>"$out.err" || true
}

# ------------------------------------------------------------------ setup

netns_setup
netns_start_servers
CONTROL_SOCKET=$NETNS_WORKDIR/control.sock
w=$NETNS_WORKDIR

ip -n "$NS_CLIENT" -6 route del default
in_client sysctl -q -w net.ipv6.conf.all.forwarding=0 "net.ipv6.conf.$IF_CLIENT.accept_ra=2" \
    "net.ipv6.conf.$IF_CLIENT.accept_ra_defrtr=1" "net.ipv6.conf.$IF_CLIENT.accept_ra_pinfo=1" \
    "net.ipv6.conf.$IF_CLIENT.autoconf=1"
GW_LINK_LOCAL=$(ip -n "$NS_GW" -6 -o addr show dev "$RA_IF" scope link | awk '{ split($4, a, "/"); print a[1] }')

netns_write_nat64d_config info
cat >>"$w/nat64d.toml" <<EOF

[control]
socket = "$CONTROL_SOCKET"

[metrics]
listen = "[::1]:$METRICS_PORT"

[ra.$RA_IF]
max-interval = $MAX_INTERVAL
mtu = 1500
prefix-information = ["$SLAAC_PREFIX"]
dnssl = ["demo.test"]
pref64-lifetime = $PREF64_LIFETIME
EOF
netns_start_translator nat64d "$NAT64D" run --config "$w/nat64d.toml"
NAT64D_PID=$NETNS_TRANSLATOR_PID
if ! netns_wait_nat64d 20; then
    SKIP_REASON="nat64d did not come up"
    netns_show_log nat64d 20
fi

# ------------------------------------------------------------------ checks

client_default_route() { ip -n "$NS_CLIENT" -6 route show default; }

check_default_route() {
    local route
    netns_wait_until 15 bash -c "ip -n '$NS_CLIENT' -6 route show default | grep -q 'via $GW_LINK_LOCAL dev $IF_CLIENT proto ra'" || true
    route=$(client_default_route)
    grep -q "via $GW_LINK_LOCAL dev $IF_CLIENT proto ra" <<<"$route" && return 0
    DETAIL="client default route: '$(oneline "$route")', expected via $GW_LINK_LOCAL proto ra"
    return 1
}

check_slaac_address() {
    local addrs
    netns_wait_until 10 bash -c "ip -n '$NS_CLIENT' -6 -o addr show dev $IF_CLIENT scope global dynamic | grep -q 'inet6 2001:db8:1:'" || true
    addrs=$(ip -n "$NS_CLIENT" -6 -o addr show dev "$IF_CLIENT" scope global dynamic)
    grep -q "inet6 2001:db8:1:.*/64 .*dynamic" <<<"$addrs" && return 0
    DETAIL="no SLAAC address in $SLAAC_PREFIX: $(oneline "$(ip -n "$NS_CLIENT" -6 -o addr show dev "$IF_CLIENT")")"
    return 1
}

# rdisc6 sends a Router Solicitation and prints the advertisement it gets back.
check_rdisc6() {
    local out problems=()
    out=$(client rdisc6 -1 -w 3000 -r 3 "$IF_CLIENT" 2>&1) || { DETAIL="rdisc6: $(oneline "$out")"; return 1; }
    printf '%s\n' "$out" >"$w/rdisc6.txt"
    grep -Eq "^ *Hop limit *: *64 " <<<"$out" || problems+=("hop limit")
    grep -Eq "^ *Router lifetime *: *$ROUTER_LIFETIME \(" <<<"$out" || problems+=("router lifetime")
    grep -Eq "^ *Router preference *: *medium" <<<"$out" || problems+=("preference")
    grep -Eq "^ *MTU *: *1500 bytes" <<<"$out" || problems+=("MTU")
    grep -Eq "^ *Prefix *: *2001:db8:1::/64" <<<"$out" || problems+=("prefix")
    grep -Eq "^ *Recursive DNS server *: *2001:db8:1::1$" <<<"$out" || problems+=("RDNSS")
    grep -Eq "^ *DNS servers? lifetime *: *$ROUTER_LIFETIME \(" <<<"$out" || problems+=("RDNSS lifetime")
    grep -Eq "^ *DNS search list *: *demo\.test\.?" <<<"$out" || problems+=("DNSSL")
    grep -Eq "^ *from $GW_LINK_LOCAL" <<<"$out" || problems+=("source $GW_LINK_LOCAL")
    ((${#problems[@]} == 0)) && return 0
    DETAIL="rdisc6 shows wrong or missing: ${problems[*]}: $(oneline "$out")"
    return 1
}

# tshark decodes PREF64: prefix, PLC 0 (/96) and the scaled lifetime 76 (608 s); hop limit 255, link-local source.
check_pref64() {
    capture_ra "$w/ra.fields" client rdisc6 -1 -w 1000 -r 1 "$IF_CLIENT"
    local src hlim lifetime prefix plc scaled rdnss rdnss_lifetime
    IFS=$'\t' read -r src hlim lifetime prefix plc scaled rdnss rdnss_lifetime <"$w/ra.fields" || true
    if [[ $src == "$GW_LINK_LOCAL" && $hlim == 255 && $lifetime == "$ROUTER_LIFETIME" && $prefix == 2001:db8:64:: &&
        $((plc)) == 0 && $scaled == 76 && $rdnss == 2001:db8:1::1 && $rdnss_lifetime == "$ROUTER_LIFETIME" ]]; then
        return 0
    fi
    DETAIL="tshark: src=$src hlim=$hlim lifetime=$lifetime pref64=$prefix plc=$plc scaled=$scaled rdnss=$rdnss/$rdnss_lifetime; $(oneline "$(cat "$w/ra.fields.err")")"
    return 1
}

# The CLAT's side: learn the prefix from PREF64 (tshark's decoding of the next advertisement) as PREFIX/LEN.
learn_pref64() {
    capture_ra "$w/learn.fields" client rdisc6 -1 -w 1000 -r 1 "$IF_CLIENT"
    /usr/bin/python3 - "$w/learn.fields" <<'PY'
import ipaddress, sys
fields = open(sys.argv[1]).read().rstrip("\n").split("\t")
prefix, plc = fields[3], int(fields[4], 0)
length = [96, 64, 56, 48, 40, 32][plc]  # RFC 8781 §4 Prefix Length Code
print(ipaddress.IPv6Network(f"{prefix}/{length}"))
PY
}

# RFC 6052 §2.2 for a /96: the IPv4 address in the last 32 bits.
synthesize() {
    /usr/bin/python3 -c 'import ipaddress, sys
n = ipaddress.IPv6Network(sys.argv[1]); assert n.prefixlen == 96
print(ipaddress.IPv6Address(int(n.network_address) | int(ipaddress.IPv4Address(sys.argv[2]))))' "$1" "$2"
}

check_synthesized_from_pref64() {
    local prefix addr out
    prefix=$(learn_pref64 2>&1) || { DETAIL="learning PREF64: $(oneline "$prefix")"; return 1; }
    [[ $prefix == "$NAT64_PREFIX" ]] || { DETAIL="learned '$prefix', expected $NAT64_PREFIX"; return 1; }
    LEARNED_PREFIX=$prefix
    addr=$(synthesize "$prefix" "$SERVER_ADDR4")
    out=$(client curl -sS --max-time 10 -g "http://[$addr]/" 2>&1) || { DETAIL="curl [$addr]: $(oneline "$out")"; return 1; }
    grep -qF "$PAGE_MARKER" <<<"$out" && return 0
    DETAIL="page from [$addr] lacks '$PAGE_MARKER': $(oneline "$out")"
    return 1
}

# A CLAT on the client (TAYGA, stateless, RFC 6877 §6.1) built from the learned prefix: IPv4 applications talk
# to IPv4 literals. Like clatd: forwarding on (accept_ra=2 keeps the advertisements coming), proxy NDP for
# the CLAT's IPv6 address.
start_clat() {
    mkdir -p "$w/clat"
    cat >"$w/clat/tayga.conf" <<EOT
tun-device clat
ipv4-addr $CLAT_TAYGA4
prefix $LEARNED_PREFIX
map $CLAT_ADDR4 $CLAT_ADDR6
data-dir $w/clat
EOT
    in_client tayga --mktun -c "$w/clat/tayga.conf" >"$w/clat/mktun.log" 2>&1 || return 1
    in_client sysctl -q -w net.ipv6.conf.all.forwarding=1 "net.ipv6.conf.$IF_CLIENT.proxy_ndp=1" \
        net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
    ip -n "$NS_CLIENT" link set clat up
    ip -n "$NS_CLIENT" addr add "$CLAT_ADDR4/32" dev clat
    ip -n "$NS_CLIENT" route add default dev clat src "$CLAT_ADDR4"
    ip -n "$NS_CLIENT" -6 route add "$CLAT_ADDR6/128" dev clat
    ip -n "$NS_CLIENT" -6 neigh add proxy "$CLAT_ADDR6" dev "$IF_CLIENT"
    netns_start_bg "$NS_CLIENT" tayga-clat tayga -c "$w/clat/tayga.conf" --nodetach
    sleep 0.5
    netns_pid_alive "$NETNS_LAST_PID"
}

check_clat_ipv4_literal() {
    local out
    [[ -n ${LEARNED_PREFIX:-} ]] || { DETAIL="no prefix learned from PREF64"; return 1; }
    start_clat || { DETAIL="CLAT did not start: $(oneline "$(cat "$w/clat/mktun.log" "$w/tayga-clat.log" 2>/dev/null)")"; return 1; }
    out=$(client curl -sS --max-time 10 "http://$SERVER_ADDR4/" 2>&1) ||
        { DETAIL="curl http://$SERVER_ADDR4/ through the CLAT: $(oneline "$out")"; return 1; }
    grep -qF "$PAGE_MARKER" <<<"$out" || { DETAIL="page lacks '$PAGE_MARKER': $(oneline "$out")"; return 1; }
    # With forwarding on, accept_ra=2 still takes the advertisements: the default route stays.
    grep -q "via $GW_LINK_LOCAL" <<<"$(client_default_route)" || { DETAIL="default route lost with forwarding on"; return 1; }
}

check_ctl_ra_json() {
    local out problems
    out=$(ctl ra --json 2>&1) || { DETAIL="ctl ra --json: $(oneline "$out")"; return 1; }
    problems=$(json_get "$out" "[p for p, ok in [
        ('name', j['interfaces'][0]['name'] == '$RA_IF'),
        ('pref64', j['interfaces'][0]['pref64'] == '$NAT64_PREFIX'),
        ('pref64-lifetime', j['interfaces'][0]['pref64-lifetime'] == 608),
        ('rdnss', j['interfaces'][0]['rdnss'] == ['$GW_ADDR6']),
        ('router-lifetime', j['interfaces'][0]['router-lifetime'] == $ROUTER_LIFETIME),
        ('mtu', j['interfaces'][0]['mtu'] == 1500),
        ('prefix', [p['prefix'] for p in j['interfaces'][0]['prefix-information']] == ['$SLAAC_PREFIX']),
        ('sent', j['interfaces'][0]['counters']['sent'] >= 2)] if not ok]" 2>&1) ||
        { DETAIL="ctl ra --json: $(oneline "$problems") in $(oneline "$out")"; return 1; }
    [[ $problems == "[]" ]] && return 0
    DETAIL="ctl ra --json wrong: $problems in $(oneline "$out")"
    return 1
}

# send_solicitations malformed|burst: Router Solicitations from the client, by scapy on the link layer:
# four malformed ones (each fails one RFC 4861 §6.1.1 check), or ten valid ones at once.
send_solicitations() {
    in_ns "$NS_CLIENT" /usr/bin/python3 - "$IF_CLIENT" "$1" <<'PY'
import sys
from scapy.all import Ether, IPv6, ICMPv6ND_RS, ICMPv6NDOptSrcLLAddr, Raw, sendp, get_if_hwaddr, conf
conf.verb = 0
iface, mode = sys.argv[1], sys.argv[2]
mac = get_if_hwaddr(iface)
l2 = Ether(src=mac, dst="33:33:00:00:00:02")
ll = [l for l in open("/proc/net/if_inet6") if l.split()[5] == iface and l.startswith("fe80")][0].split()[0]
ll = ":".join(ll[i:i + 4] for i in range(0, 32, 4))
if mode == "burst":
    packets = [l2 / IPv6(src=ll, dst="ff02::2", hlim=255) / ICMPv6ND_RS() for _ in range(10)]
else:
    packets = [
        l2 / IPv6(src=ll, dst="ff02::2", hlim=64) / ICMPv6ND_RS(),                       # hop limit not 255
        l2 / IPv6(src=ll, dst="ff02::2", hlim=255) / ICMPv6ND_RS(code=1),                # code not 0
        l2 / IPv6(src=ll, dst="ff02::2", hlim=255) / ICMPv6ND_RS() / Raw(b"\x01\x00" + bytes(6)),  # option length 0
        l2 / IPv6(src="::", dst="ff02::2", hlim=255) / ICMPv6ND_RS() / ICMPv6NDOptSrcLLAddr(lladdr=mac),  # :: + SLLAO
    ]
sendp(packets, iface=iface)
PY
}

check_malformed_counted() {
    local before after reason b a problems=()
    declare -A before_by
    for reason in hop-limit code bad-option unspecified-source-with-sllao; do
        before_by[$reason]=$(ra_counter "malformed-dropped.$reason")
    done
    before=$(ra_counter solicitations)
    send_solicitations malformed >"$w/scapy.log" 2>&1 || { DETAIL="scapy: $(oneline "$(cat "$w/scapy.log")")"; return 1; }
    sleep 1
    for reason in hop-limit code bad-option unspecified-source-with-sllao; do
        b=${before_by[$reason]}
        a=$(ra_counter "malformed-dropped.$reason")
        [[ -n $b && -n $a && $a == $((b + 1)) ]] || problems+=("$reason $b -> $a")
    done
    after=$(ra_counter solicitations)
    [[ $after == "$before" ]] || problems+=("solicitations $before -> $after")
    ((${#problems[@]} == 0)) && return 0
    DETAIL="ctl stats --json: ${problems[*]}"
    return 1
}

# RFC 4861 §6.2.6: ten solicitations at once get one advertisement; the others are rate-limited.
check_burst_rate_limited() {
    local s0 a0 r0 s1 a1 r1
    s0=$(ra_counter solicitations) a0=$(ra_counter solicitations-answered) r0=$(ra_counter rate-limited)
    send_solicitations burst >"$w/burst.log" 2>&1 || { DETAIL="scapy: $(oneline "$(cat "$w/burst.log")")"; return 1; }
    sleep 1
    s1=$(ra_counter solicitations) a1=$(ra_counter solicitations-answered) r1=$(ra_counter rate-limited)
    if [[ -n $s0 && -n $s1 ]] && ((s1 - s0 == 10 && (a1 - a0) + (r1 - r0) == 10 && r1 - r0 >= 9)); then return 0; fi
    DETAIL="solicitations $s0 -> $s1, answered $a0 -> $a1, rate-limited $r0 -> $r1 (want +10, all but at most one rate-limited)"
    return 1
}

check_metrics() {
    local out
    out=$(in_ns "$NS_GW" curl -sS --max-time 5 "http://[::1]:$METRICS_PORT/metrics" 2>&1) ||
        { DETAIL="curl /metrics: $(oneline "$out")"; return 1; }
    grep -Eq "^nat64d_ra_sent_total\{interface=\"$RA_IF\"\} [1-9]" <<<"$out" &&
        grep -Eq "^nat64d_ra_malformed_dropped_total\{interface=\"$RA_IF\",reason=\"hop-limit\"\} [1-9]" <<<"$out" &&
        return 0
    DETAIL="/metrics lacks nat64d_ra_sent_total or the hop-limit drops: $(oneline "$(grep nat64d_ra_ <<<"$out")")"
    return 1
}

# SIGTERM: the final advertisement carries router lifetime 0 and PREF64/RDNSS lifetime 0; the client's
# default route goes at once (not after the 30 s lifetime).
check_stop_withdraws() {
    capture_ra "$w/final.fields" netns_stop_pid "$NAT64D_PID" 10
    local status=$NETNS_LAST_STATUS src hlim lifetime prefix plc scaled rdnss rdnss_lifetime route
    IFS=$'\t' read -r src hlim lifetime prefix plc scaled rdnss rdnss_lifetime <"$w/final.fields" || true
    route=$(client_default_route)
    if [[ $lifetime == 0 && $scaled == 0 && $rdnss_lifetime == 0 && $prefix == 2001:db8:64:: && -z $route ]]; then
        return 0
    fi
    DETAIL="exit $status; final RA: router lifetime '$lifetime', pref64 $prefix scaled '$scaled', rdnss lifetime '$rdnss_lifetime'; client default route '$(oneline "$route")'"
    return 1
}

check RA8-RA16-default-route-via-link-local check_default_route
check RA3-slaac-address check_slaac_address
check RA2-RA4-RA5-rdisc6-header-mtu-prefix-rdnss-dnssl check_rdisc6
check RA6-RA7-pref64-option-tshark check_pref64
check pref64-learned-synthesized-address check_synthesized_from_pref64
check clat-ipv4-literal-through-learned-prefix check_clat_ipv4_literal
check ctl-ra-json check_ctl_ra_json
check RA12-malformed-solicitations-counted check_malformed_counted
check RA11-solicitation-burst-rate-limited check_burst_rate_limited
check ra-metrics check_metrics
check RA14-stop-withdraws-default-route check_stop_withdraws
NAT64D_PID=

netns_checks_done
