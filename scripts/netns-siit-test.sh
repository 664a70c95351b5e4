#!/usr/bin/env bash
# End-to-end checks of stateless translation (translator.mode = "siit") in network namespaces, with
# real tools. Must run as root.
#
#   NAT64D=/path/to/nat64d scripts/netns-siit-test.sh
#   scripts/netns-siit-test.sh        # swift build (debug) first
#
# Knobs (environment, optional): NAT64D_LOG_LEVEL=debug, NETNS_KEEP_WORKDIR=1 (keep configs and logs),
# SIIT_PARTS=1 or 2 (run only part 1 or part 2).
#
# Part 1, SIIT-DC (RFC 7755): an IPv4-only client reaches an IPv6-only server through an EAM entry.
#
#   v4 client (n64sc-ID)          SIIT gateway (n64sg-ID) [nat64d mode siit]      v6 server (n64ss-ID)
#   198.51.100.20/24  <------->   198.51.100.1/24   TUN siit  2001:db8:2::fe/64 <----> 2001:db8:2::5/64
#   default via .1                prefix 2001:db8:64::/96, eam 2001:db8:2::/124         nginx [::5]:80,
#                                 <-> 203.0.113.0/28; gateway 192.0.2.1 and             UDP echo, raw GRE
#                                 2001:db8:64::192.0.2.1; rfc6791-pool4 192.0.2.128/28
#                                 TUN ... 2001:db8:3::fe/64 <----> v6 host (n64sh-ID) 2001:db8:3::6/64, UDP echo
#                                 eam 2001:db8:3::/124 <-> 203.0.113.16/28
#
#   The client fetches http://203.0.113.5/ (nginx logs 2001:db8:64::198.51.100.20, the client's own address
#   under the prefix), pings both ways, traceroutes both ways (the translator's hop and an RFC 6791 hop show),
#   exchanges UDP, and GRE packets (protocol 47 over raw sockets; the kernel needs no GRE module) pass both
#   ways; both ping the translator's own addresses. The IPv6 server reaches the second IPv6 host through the
#   prefix form of that host's EAM address (EAM hairpinning). Counters come from nat64d's /metrics.
#
# Part 2, 464XLAT (RFC 6877): the topology of scripts/netns-lib.sh. The IPv6-only client runs nat64d in siit
# mode as its CLAT (map 2001:db8:c::2 <-> 192.0.0.2, IPv4 default route into the TUN "clat"); the gateway
# runs nat64d in napt mode as the PLAT (pool4 192.0.2.1); `curl http://198.51.100.10/` (an IPv4 literal)
# from the client reaches the IPv4-only server through both.
#
# Only documentation ranges (and 192.0.0.0/29, RFC 7335, for the CLAT); no route leaves the namespaces.
# Prints one line per check (`PASS name` / `FAIL name: detail`), then exactly `N passed, N failed` as the last
# line; exits non-zero if anything failed. Everything is torn down on any exit (including Ctrl-C).
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/.." && pwd)
# shellcheck source=scripts/netns-lib.sh
source "$SCRIPT_DIR/netns-lib.sh"

PY=/usr/bin/python3 # Debian's python3; not pyenv's
PEER=$REPO_ROOT/tests/netns/siit/siit-peer.py
STARTUP_TIMEOUT=10
METRICS_PORT=9164

# Part 1 namespaces and addresses.
NS_V4C="n64sc-$NETNS_ID"
NS_SIIT="n64sg-$NETNS_ID"
NS_V6S="n64ss-$NETNS_ID"
NS_V6H="n64sh-$NETNS_ID" # a second IPv6-only host, for EAM hairpinning (F4)
V4C_ADDR4=198.51.100.20
V4C_AS6=2001:db8:64::c633:6414 # 2001:db8:64::198.51.100.20 (RFC 6052 /96)
SIIT_GW4=198.51.100.1
SIIT_GW6=2001:db8:2::fe # outside the EAM entry: its ICMPv6 errors need an RFC 6791 source
V6S_ADDR6=2001:db8:2::5
V6S_EAM4=203.0.113.5 # 2001:db8:2::5 through eam 2001:db8:2::/124 <-> 203.0.113.0/28
SIIT_OWN4=192.0.2.1  # gateway.ipv4 of the SIIT translator (answers pings, sources its errors)
SIIT_OWN6=2001:db8:64::c000:201 # gateway.ipv6: 2001:db8:64::192.0.2.1, inside the prefix (TAYGA-style)
RFC6791_RE='192\.0\.2\.(12[89]|13[0-9]|14[0-3])' # an address of 192.0.2.128/28
UDP_PORT=7007
V6H_ADDR6=2001:db8:3::6
V6H_GW6=2001:db8:3::fe
V6H_EAM4=203.0.113.22 # 2001:db8:3::6 through eam 2001:db8:3::/124 <-> 203.0.113.16/28
V6H_EAM4_AS6=2001:db8:64::cb00:7116 # its prefix form, 2001:db8:64::203.0.113.22
SIIT_TUN=siit
SIIT_PID=

# Part 2: the CLAT in the client namespace of scripts/netns-lib.sh.
CLAT_TUN=clat
CLAT_NET6=2001:db8:c::/64
CLAT_ADDR6=2001:db8:c::2
CLAT_ADDR4=192.0.0.2
CLAT_PID=
PLAT_PID=

# shellcheck source=scripts/netns-checks.sh
source "$SCRIPT_DIR/netns-checks.sh"
netns_checks_on_abort() { report_translators; }

report_translators() {
    local pid
    for pid in "$SIIT_PID" "$CLAT_PID" "$PLAT_PID"; do
        [[ -n $pid ]] && netns_stop_pid "$pid" 10
    done
    if ((FAILED > 0)) && [[ -n $NETNS_WORKDIR ]]; then
        netns_show_log siit 60
        netns_show_log clat 60
        netns_show_log plat 60
    fi
}

# eventually FUNC: counters reach /metrics once a second, so try FUNC for up to 3 s.
eventually() {
    local i
    for ((i = 0; i < 6; i++)); do
        "$1" && return 0
        sleep 0.5
    done
    return 1
}

# nat64d's /metrics inside namespace $1.
metrics() { in_ns "$1" curl -sS --max-time 5 "http://[::1]:$METRICS_PORT/metrics"; }

# wait_translator NS TUN PID: the TUN exists and /metrics answers, while PID runs.
wait_translator() {
    local ns=$1 tun=$2 pid=$3 i
    for ((i = 0; i < STARTUP_TIMEOUT * 5; i++)); do
        netns_pid_alive "$pid" || { netns_log "nat64d in $ns exited during startup"; return 1; }
        if ip -n "$ns" link show dev "$tun" >/dev/null 2>&1 && metrics "$ns" >/dev/null 2>&1; then return 0; fi
        sleep 0.2
    done
    netns_log "nat64d in $ns not ready after ${STARTUP_TIMEOUT}s"
    return 1
}

# ------------------------------------------------------------ part 1: SIIT-DC

setup_siit_dc() {
    local ns
    for ns in "$NS_V4C" "$NS_SIIT" "$NS_V6S" "$NS_V6H"; do netns_add "$ns"; done
    ip -n "$NS_V4C" link add veth-gw type veth peer name veth-v4 netns "$NS_SIIT"
    ip -n "$NS_V6S" link add veth-gw type veth peer name veth-v6 netns "$NS_SIIT"
    ip -n "$NS_V6H" link add veth-gw type veth peer name veth-v6h netns "$NS_SIIT"
    ip netns exec "$NS_SIIT" sysctl -q -w net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 \
        net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 \
        net.ipv4.icmp_ratelimit=0 net.ipv6.icmp.ratelimit=0
    ip netns exec "$NS_V6S" sysctl -q -w net.ipv6.icmp.ratelimit=0
    ip netns exec "$NS_V4C" sysctl -q -w net.ipv4.icmp_ratelimit=0

    ip -n "$NS_V4C" addr add "$V4C_ADDR4/24" dev veth-gw
    ip -n "$NS_V4C" link set veth-gw up
    ip -n "$NS_V4C" route add default via "$SIIT_GW4" dev veth-gw

    ip -n "$NS_SIIT" addr add "$SIIT_GW4/24" dev veth-v4
    ip -n "$NS_SIIT" addr add "$SIIT_GW6/64" dev veth-v6 nodad
    ip -n "$NS_SIIT" link set veth-v4 up
    ip -n "$NS_SIIT" link set veth-v6 up

    ip -n "$NS_V6S" addr add "$V6S_ADDR6/64" dev veth-gw nodad
    ip -n "$NS_V6S" link set veth-gw up
    ip -n "$NS_V6S" -6 route add default via "$SIIT_GW6" dev veth-gw

    ip -n "$NS_SIIT" addr add "$V6H_GW6/64" dev veth-v6h nodad
    ip -n "$NS_SIIT" link set veth-v6h up
    ip -n "$NS_V6H" addr add "$V6H_ADDR6/64" dev veth-gw nodad
    ip -n "$NS_V6H" link set veth-gw up
    ip -n "$NS_V6H" -6 route add default via "$V6H_GW6" dev veth-gw
    for ns in "$NS_V4C" "$NS_SIIT" "$NS_V6S" "$NS_V6H"; do netns_wait_dad "$ns"; done
}

start_v6_server() {
    local d=$NETNS_WORKDIR/v6s
    mkdir -p "$d/www" "$d/tmp"
    cp "$NETNS_FIXTURES/index.html" "$d/www/index.html"
    {
        echo "# generated by scripts/netns-siit-test.sh"
        netns_nginx_head "$d" 64
    } >"$d/nginx.conf"
    cat >>"$d/nginx.conf" <<EOF
    access_log $d/access.log;
    default_type text/html;
    server {
        listen [$V6S_ADDR6]:80 default_server;
        server_name _;
        root $d/www;
    }
}
EOF
    in_ns "$NS_V6S" nginx -t -q -e "$d/error.log" -p "$d" -c "$d/nginx.conf"
    netns_start_bg "$NS_V6S" v6s-nginx nginx -e "$d/error.log" -p "$d" -c "$d/nginx.conf"
    netns_start_bg "$NS_V6S" udp-echo "$PY" "$PEER" udp-server "$V6S_ADDR6" "$UDP_PORT" 240
    netns_start_bg "$NS_V6S" raw-gre "$PY" "$PEER" raw-server 47 240
    netns_start_bg "$NS_V6H" hairpin-echo "$PY" "$PEER" udp-server "$V6H_ADDR6" "$UDP_PORT" 240
    netns_wait_until 10 in_ns "$NS_V6S" curl -fsS --max-time 1 -o /dev/null "http://[$V6S_ADDR6]/" &&
        netns_wait_until 5 grep -q listening "$NETNS_WORKDIR/udp-echo.log" &&
        netns_wait_until 5 grep -q listening "$NETNS_WORKDIR/raw-gre.log" &&
        netns_wait_until 5 grep -q listening "$NETNS_WORKDIR/hairpin-echo.log"
}

# siit_config NAME TUN GATEWAY4 GATEWAY6 TRANSLATOR-LINES...: a siit-mode nat64d config in $NETNS_WORKDIR/NAME.toml,
# with its control socket in the workdir and /metrics on the namespace's loopback.
siit_config() {
    local name=$1 tun=$2 gw4=$3 gw6=$4
    shift 4
    {
        printf '# generated by scripts/netns-siit-test.sh\n[tun]\nname = "%s"\nmtu = 1500\noffload = %s\n\n' \
            "$tun" "${NAT64D_TUN_OFFLOAD:-true}"
        printf '[translator]\nmode = "siit"\n'
        printf '%s\n' "$@"
        printf '\n[gateway]\nipv4 = "%s"\nipv6 = "%s"\n\n[log]\nlevel = "%s"\n\n' "$gw4" "$gw6" "${NAT64D_LOG_LEVEL:-info}"
        printf '[control]\nsocket = "%s"\n\n[metrics]\nlisten = "[::1]:%s"\n' "$NETNS_WORKDIR/$name.sock" "$METRICS_PORT"
    } >"$NETNS_WORKDIR/$name.toml"
}

start_siit() {
    siit_config siit "$SIIT_TUN" "$SIIT_OWN4" "$SIIT_OWN6" 'prefix = "2001:db8:64::/96"' \
        'eam = ["2001:db8:2::/124 203.0.113.0/28", "2001:db8:3::/124 203.0.113.16/28"]' 'rfc6791-pool4 = "192.0.2.128/28"'
    netns_start_bg "$NS_SIIT" siit "$NAT64D" run --config "$NETNS_WORKDIR/siit.toml"
    SIIT_PID=$NETNS_LAST_PID
    wait_translator "$NS_SIIT" "$SIIT_TUN" "$SIIT_PID" || return 1
    # The translator's own IPv4 address lives behind its TUN (nat64d routes the prefix and the EAM entries).
    ip -n "$NS_SIIT" route add "$SIIT_OWN4/32" dev "$SIIT_TUN" || return 1
}

check_http() {
    local out
    out=$(in_ns "$NS_V4C" curl -fsS --max-time 10 "http://$V6S_EAM4/" 2>&1) || {
        DETAIL="curl http://$V6S_EAM4/: $(oneline "$out")"
        return 1
    }
    [[ $out == *"$PAGE_MARKER"* ]] || { DETAIL="page without the marker: $(oneline "$out")"; return 1; }
}

# F1 / RFC 7755: the IPv6-only server sees the IPv4 client's own address, embedded under the prefix.
check_access_log() {
    local log=$NETNS_WORKDIR/v6s/access.log
    grep -q "^$V4C_AS6 " "$log" 2>/dev/null && return 0
    DETAIL="nginx access log lacks $V4C_AS6: $(oneline "$(cat "$log" 2>/dev/null)")"
    return 1
}

ping_check() {
    local ns=$1 target=$2 out
    out=$(in_ns "$ns" ping -n -c 3 -i 0.3 -W 3 "$target" 2>&1) || { DETAIL="ping $target: $(oneline "$out")"; return 1; }
    [[ $out == *"3 received"* ]] || { DETAIL="ping $target lost replies: $(oneline "$out")"; return 1; }
}
check_ping_4to6() { ping_check "$NS_V4C" "$V6S_EAM4"; }
check_ping_6to4() { ping_check "$NS_V6S" "$V4C_AS6"; }
check_ping_own4() { ping_check "$NS_V4C" "$SIIT_OWN4"; }
check_ping_own6() { ping_check "$NS_V6S" "$SIIT_OWN6"; }

# T4.2 / E2 / E1 from the IPv4 side: hop 1 the gateway's kernel, hop 2 the translator (TTL 1 on arrival:
# Time Exceeded from gateway.ipv4), hop 3 the gateway's kernel again as an IPv6 router, whose ICMPv6 error
# comes through from an RFC 6791 address, then the server itself (port unreachable, 1/4 -> 3/3).
check_traceroute_4to6() {
    local out
    out=$(in_ns "$NS_V4C" traceroute -n -q 1 -w 2 -m 6 "$V6S_EAM4" 2>&1) || { DETAIL="traceroute: $(oneline "$out")"; return 1; }
    local last
    last=$(tail -n 1 <<<"$out" | awk '{ print $2 }')
    if [[ $last != "$V6S_EAM4" ]] || ! grep -q " $SIIT_OWN4 " <<<"$out" || ! grep -Eq " $RFC6791_RE " <<<"$out"; then
        DETAIL="want hops via $SIIT_OWN4 and 192.0.2.128/28 ending at $V6S_EAM4: $(oneline "$out")"
        return 1
    fi
}

# T6.2 / F7-style translation from the IPv6 side: the translator's hop is gateway.ipv6, the gateway's kernel
# as an IPv4 router shows under the prefix (2001:db8:64::198.51.100.1), then the client.
check_traceroute_6to4() {
    local out last
    out=$(in_ns "$NS_V6S" traceroute -6 -n -q 1 -w 2 -m 6 "$V4C_AS6" 2>&1) || { DETAIL="traceroute -6: $(oneline "$out")"; return 1; }
    last=$(tail -n 1 <<<"$out" | awk '{ print $2 }')
    if [[ $last != "$V4C_AS6" ]] || ! grep -q " $SIIT_OWN6 " <<<"$out" || ! grep -q " 2001:db8:64::c633:6401 " <<<"$out"; then
        DETAIL="want hops via $SIIT_OWN6 and 2001:db8:64::c633:6401 ending at $V4C_AS6: $(oneline "$out")"
        return 1
    fi
}

check_udp() {
    local out
    out=$(in_ns "$NS_V4C" "$PY" "$PEER" udp-client "$V6S_EAM4" "$UDP_PORT" 2>&1) || { DETAIL="$(oneline "$out")"; return 1; }
    grep -q "^got [0-9]* $V4C_AS6\$" "$NETNS_WORKDIR/udp-echo.log" || {
        DETAIL="the server did not see $V4C_AS6: $(oneline "$(cat "$NETNS_WORKDIR/udp-echo.log")")"
        return 1
    }
}

# F2: protocol 47 passes both ways, payload untouched.
check_gre() {
    local out
    out=$(in_ns "$NS_V4C" "$PY" "$PEER" raw-client "$V6S_EAM4" 47 2>&1) || { DETAIL="$(oneline "$out")"; return 1; }
    grep -q "^got 47 [0-9]* $V4C_AS6 00000800" "$NETNS_WORKDIR/raw-gre.log" || {
        DETAIL="the server's raw socket did not see GRE from $V4C_AS6: $(oneline "$(cat "$NETNS_WORKDIR/raw-gre.log")")"
        return 1
    }
}

# F4: the server sends to the prefix form of the second host's EAM address; nat64d translates 6→4, sees an EAM
# address and translates back 4→6, so the host gets the datagram from the server's own IPv6 address (its EAM
# form maps back to it) and answers it natively.
check_eam_hairpin() {
    local out
    out=$(in_ns "$NS_V6S" "$PY" "$PEER" udp-client "$V6H_EAM4_AS6" "$UDP_PORT" 2>&1) || { DETAIL="$(oneline "$out")"; return 1; }
    grep -q "^got [0-9]* $V6S_ADDR6\$" "$NETNS_WORKDIR/hairpin-echo.log" || {
        DETAIL="the second host did not see $V6S_ADDR6: $(oneline "$(cat "$NETNS_WORKDIR/hairpin-echo.log")")"
        return 1
    }
}

# F1: no state; both directions counted; ICMP errors translated; pings to its own addresses answered.
check_siit_metrics() {
    local out
    out=$(metrics "$NS_SIIT" 2>&1) || { DETAIL="/metrics: $(oneline "$out")"; return 1; }
    if ! grep -Eq '^nat64d_translated_packets_total\{direction="6to4"\} [1-9]' <<<"$out" ||
        ! grep -Eq '^nat64d_translated_packets_total\{direction="4to6"\} [1-9]' <<<"$out" ||
        ! grep -Eq '^nat64d_icmp_errors_translated_total [1-9]' <<<"$out" ||
        ! grep -Eq '^nat64d_hairpinned_packets_total [1-9]' <<<"$out" ||
        ! grep -Eq '^nat64d_sessions 0(\.0)?$' <<<"$out"; then
        DETAIL="want translations both ways, translated ICMP errors, hairpinned packets and 0 sessions: $(oneline "$(grep -E '^nat64d_(translated|icmp|hairpinned|sessions)' <<<"$out")")"
        return 1
    fi
}

check_siit_metrics_eventually() { eventually check_siit_metrics; }

# ------------------------------------------------------------ part 2: 464XLAT

start_plat() {
    {
        echo "# generated by scripts/netns-siit-test.sh: the PLAT"
        netns_nat64d_config_head
        cat <<EOF

[log]
level = "${NAT64D_LOG_LEVEL:-info}"

[control]
socket = "$NETNS_WORKDIR/plat.sock"

[metrics]
listen = "[::1]:$METRICS_PORT"
EOF
    } >"$NETNS_WORKDIR/plat.toml"
    netns_start_bg "$NS_GW" plat "$NAT64D" run --config "$NETNS_WORKDIR/plat.toml"
    PLAT_PID=$NETNS_LAST_PID
    wait_translator "$NS_GW" "$NAT64D_TUN" "$PLAT_PID" || return 1
    # The CLAT's IPv6 network is behind the client.
    ip -n "$NS_GW" -6 route add "$CLAT_NET6" via "$CLIENT_ADDR6" dev "$IF_GW_CLIENT" || return 1
}

start_clat() {
    siit_config clat "$CLAT_TUN" 192.0.0.1 2001:db8:c::1 "prefix = \"$NAT64_PREFIX\"" \
        "map = [\"$CLAT_ADDR6 $CLAT_ADDR4\"]" "clat = true"
    # The client forwards between its TUN and its uplink.
    in_ns "$NS_CLIENT" sysctl -q -w net.ipv6.conf.all.forwarding=1 net.ipv4.conf.all.rp_filter=0 \
        net.ipv4.conf.default.rp_filter=0
    netns_start_bg "$NS_CLIENT" clat "$NAT64D" run --config "$NETNS_WORKDIR/clat.toml"
    CLAT_PID=$NETNS_LAST_PID
    wait_translator "$NS_CLIENT" "$CLAT_TUN" "$CLAT_PID" || return 1
    # clat = true: nat64d routed the CLAT's IPv6 address into its TUN and left the prefix to the uplink.
    if ip -n "$NS_CLIENT" -6 route show "$NAT64_PREFIX" | grep -q "dev $CLAT_TUN" ||
        ! ip -n "$NS_CLIENT" -6 route show "$CLAT_ADDR6" | grep -q "dev $CLAT_TUN"; then
        netns_log "CLAT routes wrong: $(ip -n "$NS_CLIENT" -6 route | tr '\n' ';')"
        return 1
    fi
    # IPv4-only software: its address on the TUN, the IPv4 default route into it.
    ip -n "$NS_CLIENT" addr add "$CLAT_ADDR4/32" dev "$CLAT_TUN" || return 1
    ip -n "$NS_CLIENT" route add default dev "$CLAT_TUN" src "$CLAT_ADDR4" || return 1
}

check_xlat_curl() {
    local out
    out=$(client curl -fsS --max-time 10 "http://$SERVER_ADDR4/" 2>&1) || {
        DETAIL="curl http://$SERVER_ADDR4/: $(oneline "$out"); client routes: $(oneline "$(ip -n "$NS_CLIENT" route; ip -n "$NS_CLIENT" -6 route; ip -n "$NS_CLIENT" addr show dev "$CLAT_TUN")")"
        return 1
    }
    [[ $out == *"$PAGE_MARKER"* ]] || { DETAIL="page without the marker: $(oneline "$out")"; return 1; }
}

check_xlat_ping() { ping_check "$NS_CLIENT" "$SERVER_ADDR4"; }

# Both translators carried the flow: the CLAT both ways without state, the PLAT with sessions.
check_xlat_metrics() {
    local clat plat
    clat=$(metrics "$NS_CLIENT" 2>&1) || { DETAIL="CLAT /metrics: $(oneline "$clat")"; return 1; }
    plat=$(metrics "$NS_GW" 2>&1) || { DETAIL="PLAT /metrics: $(oneline "$plat")"; return 1; }
    if ! grep -Eq '^nat64d_translated_packets_total\{direction="4to6"\} [1-9]' <<<"$clat" ||
        ! grep -Eq '^nat64d_translated_packets_total\{direction="6to4"\} [1-9]' <<<"$clat" ||
        ! grep -Eq '^nat64d_sessions 0(\.0)?$' <<<"$clat"; then
        DETAIL="CLAT counters: $(oneline "$(grep -E '^nat64d_(translated|sessions)' <<<"$clat")")"
        return 1
    fi
    if ! grep -Eq '^nat64d_translated_packets_total\{direction="6to4"\} [1-9]' <<<"$plat" ||
        ! grep -Eq '^nat64d_sessions [1-9]' <<<"$plat"; then
        DETAIL="PLAT counters: $(oneline "$(grep -E '^nat64d_(translated|sessions)' <<<"$plat")")"
        return 1
    fi
}

check_xlat_metrics_eventually() { eventually check_xlat_metrics; }

# -------------------------------------------------------------------- main

netns_preflight netns-siit-test curl nginx traceroute ping "$PY"
netns_resolve_nat64d netns-siit-test
netns_init_workdir

if [[ ! -x $NAT64D ]]; then
    SKIP_REASON="nat64d binary not found or not executable: $NAT64D"
fi

# Part 1 (SIIT_PARTS=2 skips it, SIIT_PARTS=1 skips part 2).
if [[ ${SIIT_PARTS:-12} == *1* ]]; then
setup_siit_dc
start_v6_server || SKIP_REASON="the IPv6 server's nginx, UDP echo or raw socket did not start"
[[ -n $SKIP_REASON ]] || start_siit || SKIP_REASON="nat64d (siit) did not start"
check siitdc-http-ipv4-client-to-ipv6-nginx check_http
check siitdc-access-log-shows-client-ipv4-under-prefix check_access_log
check siitdc-ping-ipv4-to-ipv6 check_ping_4to6
check siitdc-ping-ipv6-to-ipv4 check_ping_6to4
check siitdc-traceroute-ipv4-to-ipv6 check_traceroute_4to6
check siitdc-traceroute-ipv6-to-ipv4 check_traceroute_6to4
check siitdc-udp-exchange check_udp
check siitdc-gre-protocol-47-both-ways check_gre
check siitdc-ping-translator-ipv4 check_ping_own4
check siitdc-ping-translator-ipv6 check_ping_own6
check siitdc-eam-hairpin-ipv6-to-ipv6 check_eam_hairpin
check siitdc-metrics-stateless check_siit_metrics_eventually
fi

# Part 2.
if [[ ${SIIT_PARTS:-12} == *2* ]]; then
netns_setup
netns_start_servers || SKIP_REASON="nginx or knotd did not start in the server namespace"
[[ -n $SKIP_REASON ]] || start_plat || SKIP_REASON="nat64d (PLAT, napt) did not start"
[[ -n $SKIP_REASON ]] || start_clat || SKIP_REASON="nat64d (CLAT, siit) did not start"
check xlat-curl-ipv4-literal-through-clat-and-plat check_xlat_curl
check xlat-ping-ipv4-literal check_xlat_ping
check xlat-metrics-clat-stateless-plat-sessions check_xlat_metrics_eventually
fi

report_translators
netns_checks_done
