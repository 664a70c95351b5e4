#!/usr/bin/env bash
# End-to-end RFC 7915 conformance checks of nat64d in network namespaces
# (issue 3): traceroute across the translator, Path MTU discovery through an
# IPv4 link of MTU 1400, fragmented UDP both ways, IPv4 source routes.
# Must run as root.
#
#   NAT64D=/path/to/nat64d scripts/netns-conformance-test.sh
#   scripts/netns-conformance-test.sh        # swift build (debug) first
#
# Knobs (environment, optional): NAT64D_LOG_LEVEL=debug (nat64d's log level),
# NETNS_KEEP_WORKDIR=1 (keep configs, logs, captures), CONF_CAPTURE=1 (tcpdump
# in the gateway on the TUN and both veths into $workdir/*.pcap; implies
# NETNS_KEEP_WORKDIR=1), CONF_GW_ACCEPT_LOCAL=1 (diagnosis only: once nat64d
# is up, set net.ipv4.conf.<TUN>.accept_local=1 in the gateway, so that IPv4
# packets nat64d writes to its TUN from an address the gateway owns, such as
# gateway.ipv4, are not dropped by the kernel as martian sources).
#
# Topology: scripts/netns-lib.sh (client, gateway with nat64d, server) plus
# two IPv4 routers and a far IPv4-only host behind the gateway:
#
#   client --- gateway [nat64d]  veth-r1 --- r1 ==MTU 1400== r2 --- far
#              203.0.113.1/30      .2/30   .5/30   .6/30  .9/30   .10/30
#
#   far: nginx :80 (1 MiB file, PUT /upload/), UDP echo :7007
#   client reaches far at 2001:db8:64::203.0.113.10 (RFC 6052 /96).
#
# Only documentation ranges; no route leaves the namespaces. Prints one line
# per check (`PASS name` / `FAIL name: detail`), then exactly
# `N passed, N failed` as the last line; exits non-zero if anything failed.
# Everything is torn down on any exit (including failures and Ctrl-C).
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/.." && pwd)
# shellcheck source=scripts/netns-lib.sh
source "$SCRIPT_DIR/netns-lib.sh"

CONF_FIXTURES=$REPO_ROOT/tests/netns/conformance
PY=/usr/bin/python3 # Debian's python3 (python3-scapy); not pyenv's
STARTUP_TIMEOUT=10  # s, nat64d TUN + DNS64 readiness
CMD_TIMEOUT=30      # s, hard cap on any single command in a namespace

if [[ ${CONF_CAPTURE:-0} == 1 ]]; then NETNS_KEEP_WORKDIR=1; fi

# Extra namespaces (created with netns_add, so netns_teardown removes them).
NS_R1="n64r1-$NETNS_ID"
NS_R2="n64r2-$NETNS_ID"
NS_FAR="n64f-$NETNS_ID"

GW_R1_ADDR4=203.0.113.1 # gateway, /30 to r1
R1_GW_ADDR4=203.0.113.2
R1_R2_ADDR4=203.0.113.5 # /30, MTU 1400
R2_R1_ADDR4=203.0.113.6
R2_FAR_ADDR4=203.0.113.9 # /30
FAR_ADDR4=203.0.113.10
FAR_NET4=203.0.113.0/24
R1R2_MTU=1400
ECHO_PORT=7007
UDP_SIZE=3000

# The far side as the client sees it (RFC 6052 /96 under 2001:db8:64::/96).
synth6() {
    local a b c d
    IFS=. read -r a b c d <<<"$1"
    printf '2001:db8:64::%x:%x' $((a * 256 + b)) $((c * 256 + d))
}
FAR_SYNTH6=$(synth6 "$FAR_ADDR4")
R1_SYNTH6=$(synth6 "$R1_GW_ADDR4")
R2_SYNTH6=$(synth6 "$R2_R1_ADDR4")

# shellcheck source=scripts/netns-checks.sh
source "$SCRIPT_DIR/netns-checks.sh"
netns_checks_on_abort() { report_nat64d; }

# Stop nat64d with SIGTERM so its log ends with the drop counters, then show
# the log (only when something failed).
report_nat64d() {
    if [[ -n $NAT64D_PID ]]; then
        netns_stop_pid "$NAT64D_PID" 10
    fi
    if ((FAILED > 0)) && [[ -n $NETNS_WORKDIR ]]; then
        netns_show_log nat64d 80
        if [[ ${NETNS_KEEP_WORKDIR:-0} == 1 ]]; then
            netns_log "logs and captures kept in $NETNS_WORKDIR"
        fi
    fi
}

# --------------------------------------------------------------- helpers

# snmp_counter NS NAME: a counter from /proc/net/snmp6 (Ip6*, Icmp6*) or
# /proc/net/snmp (Ip*, Icmp*, Udp*), read inside NS; 0 if absent.
snmp_counter() {
    local ns=$1 name=$2 v
    if [[ $name == Ip6* || $name == Icmp6* || $name == Udp6* ]]; then
        v=$(ip netns exec "$ns" cat /proc/net/snmp6 | awk -v n="$name" '$1 == n { print $2 }')
    else
        v=$(ip netns exec "$ns" cat /proc/net/snmp | awk -v n="$name" '
            { grp = $1; sub(/:$/, "", grp) }
            seen[$1]++ == 0 { for (i = 2; i <= NF; i++) col[grp, i] = grp $i; next }
            { for (i = 2; i <= NF; i++) if (col[grp, i] == n) print $i }')
    fi
    printf '%s' "${v:-0}"
}

# sysctls of an IPv4 router namespace: forward, no rp_filter, accept source
# routes (so an LSRR probe reaches the translator), no ICMP rate limit
# (traceroute's parallel probes must all be answered).
router_sysctls() {
    ip netns exec "$1" sysctl -q -w net.ipv4.ip_forward=1 \
        net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 \
        net.ipv4.conf.all.accept_source_route=1 net.ipv4.conf.default.accept_source_route=1 \
        net.ipv4.icmp_ratelimit=0
}

# veth_pair NS_A IF_A ADDR_A/LEN NS_B IF_B ADDR_B/LEN [MTU]
veth_pair() {
    local nsa=$1 ifa=$2 addra=$3 nsb=$4 ifb=$5 addrb=$6 mtu=${7:-1500}
    ip -n "$nsa" link add "$ifa" mtu "$mtu" type veth peer name "$ifb" mtu "$mtu" netns "$nsb"
    ip -n "$nsa" addr add "$addra" dev "$ifa"
    ip -n "$nsb" addr add "$addrb" dev "$ifb"
    ip -n "$nsa" link set "$ifa" up
    ip -n "$nsb" link set "$ifb" up
}

# The IPv4 routers and the far host behind the gateway.
setup_far_side() {
    local ns
    for ns in "$NS_R1" "$NS_R2" "$NS_FAR"; do netns_add "$ns"; done
    # Before the veths exist, so their per-device values inherit "default".
    for ns in "$NS_GW" "$NS_R1" "$NS_R2"; do router_sysctls "$ns"; done
    ip netns exec "$NS_FAR" sysctl -q -w net.ipv4.icmp_ratelimit=0 \
        net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
    # The gateway's kernel answers traceroute's first hop: no ICMPv6 rate limit either.
    in_gw sysctl -q -w net.ipv6.icmp.ratelimit=0

    veth_pair "$NS_GW" veth-r1 "$GW_R1_ADDR4/30" "$NS_R1" veth-gw "$R1_GW_ADDR4/30"
    veth_pair "$NS_R1" veth-r2 "$R1_R2_ADDR4/30" "$NS_R2" veth-r1 "$R2_R1_ADDR4/30" "$R1R2_MTU"
    veth_pair "$NS_R2" veth-far "$R2_FAR_ADDR4/30" "$NS_FAR" veth-r2 "$FAR_ADDR4/30"

    # Gateway: the far networks via r1. Routers and far host: the pool4 and
    # the gateway's own networks back toward the gateway.
    ip -n "$NS_GW" route add "$FAR_NET4" via "$R1_GW_ADDR4" dev veth-r1
    local net
    for net in "$POOL4_NET" 198.51.100.0/24; do
        ip -n "$NS_R1" route add "$net" via "$GW_R1_ADDR4" dev veth-gw
        ip -n "$NS_R2" route add "$net" via "$R1_R2_ADDR4" dev veth-r1
        ip -n "$NS_FAR" route add "$net" via "$R2_FAR_ADDR4" dev veth-r2
    done
    ip -n "$NS_R1" route add 203.0.113.8/30 via "$R2_R1_ADDR4" dev veth-r2
    ip -n "$NS_R2" route add 203.0.113.0/30 via "$R1_R2_ADDR4" dev veth-r1
    ip -n "$NS_FAR" route add "$FAR_NET4" via "$R2_FAR_ADDR4" dev veth-r2
}

# nginx on the far host: a 1 MiB file to download, PUT /upload/ to upload.
start_far_servers() {
    local d=$NETNS_WORKDIR/far
    mkdir -p "$d/www/upload" "$d/tmp"
    head -c 1048576 /dev/urandom >"$d/www/big.bin"
    head -c 1048576 /dev/urandom >"$NETNS_WORKDIR/up.bin"
    {
        echo "# generated by scripts/netns-conformance-test.sh"
        netns_nginx_head "$d" 64
    } >"$d/nginx.conf"
    cat >>"$d/nginx.conf" <<EOF
    access_log $d/access.log;
    default_type application/octet-stream;
    server {
        listen $FAR_ADDR4:80 default_server;
        server_name _;
        root $d/www;
        location /upload/ {
            dav_methods PUT;
            client_max_body_size 4m;
        }
    }
}
EOF
    in_ns "$NS_FAR" nginx -t -q -e "$d/error.log" -p "$d" -c "$d/nginx.conf"
    netns_start_bg "$NS_FAR" far-nginx nginx -e "$d/error.log" -p "$d" -c "$d/nginx.conf"
    netns_start_bg "$NS_FAR" udp-echo "$PY" "$CONF_FIXTURES/udp-echo.py" server "$FAR_ADDR4" "$ECHO_PORT" 5 120
    if ! netns_wait_until 10 in_ns "$NS_FAR" curl -fsS --max-time 1 -o /dev/null "http://$FAR_ADDR4/big.bin"; then
        netns_log "nginx did not come up in $NS_FAR"
        netns_show_log far-nginx
        cat "$d/error.log" >&2 2>/dev/null || true
        return 1
    fi
    if ! netns_wait_until 5 grep -q listening "$NETNS_WORKDIR/udp-echo.log"; then
        netns_log "UDP echo server did not start in $NS_FAR"
        netns_show_log udp-echo
        return 1
    fi
    # Sanity: plain IPv4 routing from the gateway to the far host works.
    if ! in_gw ping -n -q -c 1 -W 2 "$FAR_ADDR4" >/dev/null; then
        netns_log "gateway cannot reach $FAR_ADDR4 over IPv4 (topology broken)"
        return 1
    fi
}

start_captures() {
    local ifc
    for ifc in "$NAT64D_TUN" "$IF_GW_CLIENT" veth-r1; do
        netns_start_bg "$NS_GW" "tcpdump-$ifc" tcpdump -n -U -s 256 -i "$ifc" -w "$NETNS_WORKDIR/gw-$ifc.pcap"
    done
    sleep 1 # let tcpdump attach
}

# ------------------------------------------------------------------ checks

# traceroute_check MODE_ARGS...: sets DETAIL on failure.
traceroute_check() {
    local out hops addr line n=0 expected idx=0
    out=$(client traceroute -6 -n -q 3 -w 2 -m 10 "$@" "$FAR_SYNTH6" 2>&1) || {
        DETAIL="traceroute $*: $(oneline "$out")"
        return 1
    }
    # Hop lines: "N  addr  t ms  t ms ..." (first responding address per hop).
    hops=()
    while read -r line; do
        [[ $line =~ ^[0-9]+[[:space:]] ]] || continue
        n=$((n + 1))
        addr=$(awk '{ for (i = 2; i <= NF; i++) if ($i ~ /:/) { print $i; exit } }' <<<"$line")
        hops+=("${addr:-*}")
    done <<<"$out"
    local summary
    summary=$(IFS=' '; printf '%s' "${hops[*]}")
    if ((n == 0)); then DETAIL="no hops: $(oneline "$out")"; return 1; fi
    if [[ ${hops[n - 1]} != "$FAR_SYNTH6" ]]; then
        DETAIL="last hop ${hops[n - 1]} is not the destination $FAR_SYNTH6 (hops: $summary)"
        return 1
    fi
    if [[ " $summary " == *" * "* ]]; then
        DETAIL="a hop did not answer (hops: $summary)"
        return 1
    fi
    for expected in "$GW_ADDR6" "$R1_SYNTH6" "$R2_SYNTH6" "$FAR_SYNTH6"; do
        while ((idx < n)) && [[ ${hops[idx]} != "$expected" ]]; do idx=$((idx + 1)); done
        if ((idx == n)); then
            DETAIL="$expected missing or out of order (want gateway $GW_ADDR6, r1 $R1_SYNTH6, r2 $R2_SYNTH6, far $FAR_SYNTH6; hops: $summary)"
            return 1
        fi
    done
    TRACE_SUMMARY=$summary
    return 0
}

check_traceroute_udp() { traceroute_check; }
check_traceroute_icmp() { traceroute_check -I; }

check_tcp_download() {
    local out f=$NETNS_WORKDIR/down.bin
    out=$(client curl -sS --max-time 25 -o "$f" -w '%{http_code} %{size_download}' "http://[$FAR_SYNTH6]/big.bin" 2>&1) || {
        DETAIL="curl: $(oneline "$out")"
        return 1
    }
    if [[ $out != "200 1048576" ]] || ! cmp -s "$f" "$NETNS_WORKDIR/far/www/big.bin"; then
        DETAIL="expected HTTP 200 and the same 1048576 bytes, got '$out', content $(cmp -s "$f" "$NETNS_WORKDIR/far/www/big.bin" && echo equal || echo differs)"
        return 1
    fi
}

check_tcp_upload() {
    local out f=$NETNS_WORKDIR/far/www/upload/up.bin
    out=$(client curl -sS --max-time 25 -T "$NETNS_WORKDIR/up.bin" -o /dev/null -w '%{http_code} %{size_upload}' \
        "http://[$FAR_SYNTH6]/upload/up.bin" 2>&1) || {
        DETAIL="curl -T: $(oneline "$out")"
        return 1
    }
    if [[ $out != 20[14]" 1048576" ]] || ! cmp -s "$f" "$NETNS_WORKDIR/up.bin"; then
        DETAIL="expected HTTP 201/204 and the same 1048576 bytes on the far host, got '$out', stored $(stat -c %s "$f" 2>/dev/null || echo none) bytes"
        return 1
    fi
}

# Cached path MTU toward the far host in the client namespace (empty if none).
client_route_mtu() {
    ip -n "$NS_CLIENT" -6 route get "$FAR_SYNTH6" 2>/dev/null | awk '{ for (i = 1; i < NF; i++) if ($i == "mtu") { print $(i + 1); exit } }'
}

check_ptb_reached_client() {
    local ptb mtu
    ptb=$(snmp_counter "$NS_CLIENT" Icmp6InPktTooBigs)
    mtu=$(client_route_mtu)
    if ((ptb > 0)) && [[ -n $mtu ]] && ((mtu < 1500)); then return 0; fi
    DETAIL="Icmp6InPktTooBigs=$ptb, cached route mtu '${mtu:-none}' (want a PTB and mtu < 1500; r1 Ip ForwDatagrams=$(snmp_counter "$NS_R1" IpForwDatagrams) IcmpOutDestUnreachs=$(snmp_counter "$NS_R1" IcmpOutDestUnreachs))"
    return 1
}

# T4.9: Fragmentation Needed (MTU 1400) -> Packet Too Big MTU 1400 + 20.
check_ptb_mtu_value() {
    local mtu want=$((R1R2_MTU + 20))
    mtu=$(client_route_mtu)
    if [[ $mtu == "$want" ]]; then return 0; fi
    DETAIL="client's cached path MTU is '${mtu:-none}', want $want (IPv4 MTU $R1R2_MTU + 20, T4.9)"
    return 1
}

UDP_BEFORE=()
check_udp_fragmented_echo() {
    local out
    UDP_BEFORE=("$(snmp_counter "$NS_CLIENT" Ip6FragCreates)" "$(snmp_counter "$NS_FAR" IpReasmOKs)"
        "$(snmp_counter "$NS_CLIENT" Ip6ReasmOKs)")
    out=$(client "$PY" "$CONF_FIXTURES/udp-echo.py" client "$FAR_SYNTH6" "$ECHO_PORT" "$UDP_SIZE" 3 3 2>&1) || {
        DETAIL="$(oneline "$out"); server log: $(oneline "$(cat "$NETNS_WORKDIR/udp-echo.log" 2>/dev/null)")"
        return 1
    }
    UDP_CLIENT_OUT=$out
}

# The server saw the whole datagram (same length and digest as sent), and it
# travelled fragmented (client fragmented, far host reassembled).
check_udp_server_whole() {
    local sent_sha got
    sent_sha=$(awk '/^sent/ { print $3 }' <<<"${UDP_CLIENT_OUT:-}")
    got=$(grep -m1 '^got ' "$NETNS_WORKDIR/udp-echo.log" 2>/dev/null || true)
    local frag=$(($(snmp_counter "$NS_CLIENT" Ip6FragCreates) - ${UDP_BEFORE[0]:-0}))
    local reasm=$(($(snmp_counter "$NS_FAR" IpReasmOKs) - ${UDP_BEFORE[1]:-0}))
    if [[ -n $sent_sha && $got == "got $UDP_SIZE $sent_sha "* ]] && ((frag > 0 && reasm > 0)); then return 0; fi
    DETAIL="server log '${got:-nothing}', sent sha '${sent_sha:-?}'; client Ip6FragCreates +$frag, far IpReasmOKs +$reasm"
    return 1
}

check_udp_reply_whole() {
    local reasm=$(($(snmp_counter "$NS_CLIENT" Ip6ReasmOKs) - ${UDP_BEFORE[2]:-0}))
    if [[ ${UDP_CLIENT_OUT:-} =~ ^sent\ $UDP_SIZE\ ([0-9a-f]+)\ got\ $UDP_SIZE\ ([0-9a-f]+)$ ]] &&
        [[ ${BASH_REMATCH[1]} == "${BASH_REMATCH[2]}" ]] && ((reasm > 0)); then
        return 0
    fi
    DETAIL="client: '$(oneline "${UDP_CLIENT_OUT:-no echo}")', client Ip6ReasmOKs +$reasm"
    return 1
}

# Martian-source drops (in_martian_src summed over CPUs; the kernel keeps one
# set of these counters for all namespaces, so this is a hint, not a proof).
martian_src() {
    local n=0 f
    while read -r -a f; do
        [[ ${f[7]:-} =~ ^[0-9a-f]+$ ]] && n=$((n + 16#${f[7]}))
    done </proc/net/stat/rt_cache
    printf '%s' "$n"
}

# ipv4_probe_check WANT MODE ARGS...: an IPv4 probe from the far host to the
# pool4 address (tests/netns/conformance/ipv4-probe.py) must get back an ICMPv4
# message WANT ("TYPE/CODE from ADDR").
ipv4_probe_check() {
    local want=$1 out
    shift
    out=$(in_ns "$NS_FAR" "$PY" "$CONF_FIXTURES/ipv4-probe.py" veth-r2 "$FAR_ADDR4" "$POOL4_ADDR" 5 "$@" 2>&1) || {
        DETAIL="want ICMPv4 $want, got: $(oneline "$out") (gateway IpForwDatagrams=$(snmp_counter "$NS_GW" IpForwDatagrams) IpInHdrErrors=$(snmp_counter "$NS_GW" IpInHdrErrors); kernel in_martian_src, all namespaces: $(martian_src))"
        return 1
    }
    out=$(grep -m1 '^icmp ' <<<"$out" || printf '%s' "$out")
    if [[ $out == "icmp $want "* ]]; then return 0; fi
    DETAIL="want ICMPv4 $want, got: $(oneline "$out")"
    return 1
}

# T4.3 / E2: an unexpired LSRR option toward the pool4 address -> ICMPv4 3/5
# from gateway.ipv4. No mapping needed: options are checked before the lookup.
# T6.11 / stateful reassembly: a 3000-byte ping is fragmented by the client, reassembled and translated by
# nat64d, fragmented again on the IPv4 path; the reply comes back fragmented and is reassembled the same way.
check_ping_large() {
    local out
    out=$(client ping -6 -n -c 3 -i 0.3 -W 3 -s 3000 "$FAR_SYNTH6" 2>&1) || {
        DETAIL="ping -s 3000 failed: $(oneline "$out")"
        return 1
    }
    [[ $out == *"3 received"* ]] || {
        DETAIL="not every reply came back: $(oneline "$out")"
        return 1
    }
}

check_lsrr() { ipv4_probe_check "3/5 from $GW_ADDR4" lsrr "$SERVER_ADDR4"; }

# T4.2 / E2: TTL 4 from the far host is 1 when it reaches the translator
# (r2, r1 and the gateway's kernel each take one) -> ICMPv4 11/0 from
# gateway.ipv4. Also checked before the mapping lookup.
check_ttl_expiry() { ipv4_probe_check "11/0 from $GW_ADDR4" ttl 4; }

# F12: TTL 5 leaves hop limit 1 after the translator, so the gateway's kernel
# (an IPv6 router without an IPv4 address) answers ICMPv6 Time Exceeded; the
# error is about a NAPT session, so the translator turns it into ICMPv4 11/0
# from that session's pool4 address (RFC 6146 §3.6; the RFC 6791 source is
# for stateless translation, see scripts/netns-siit-test.sh). Follows the
# mapping the UDP echo test created (the server logged the pool4 port it saw).
check_rfc6791_time_exceeded() {
    local port
    port=$(sed -n "s/^got .* $POOL4_ADDR:\([0-9]*\)\$/\1/p" "$NETNS_WORKDIR/udp-echo.log" 2>/dev/null | head -n 1)
    if [[ -z $port ]]; then
        DETAIL="no UDP mapping to follow (the UDP echo server saw no datagram from $POOL4_ADDR)"
        return 1
    fi
    ipv4_probe_check "11/0 from $POOL4_ADDR" ttl 5 "$ECHO_PORT" "$port"
}

# -------------------------------------------------------------------- main

netns_preflight netns-conformance-test traceroute curl nginx tcpdump "$PY"
netns_resolve_nat64d netns-conformance-test

netns_setup
setup_far_side
netns_start_servers
start_far_servers

if [[ ! -x $NAT64D ]]; then
    SKIP_REASON="nat64d binary not found or not executable: $NAT64D"
else
    netns_start_nat64d "$NAT64D"
    if ! netns_wait_nat64d "$STARTUP_TIMEOUT"; then
        if ! netns_pid_alive "$NAT64D_PID"; then
            if wait "$NAT64D_PID" 2>/dev/null; then st=0; else st=$?; fi
            SKIP_REASON="nat64d exited during startup with status $st"
        fi
        # Still running but not ready: run the checks anyway for details.
    fi
fi
if [[ ${CONF_GW_ACCEPT_LOCAL:-0} == 1 ]] && netns_tun_exists "$NAT64D_TUN"; then
    in_gw sysctl -q -w "net.ipv4.conf.$NAT64D_TUN.accept_local=1"
fi
if [[ ${CONF_CAPTURE:-0} == 1 ]]; then start_captures; fi

TRACE_SUMMARY=
check traceroute-udp check_traceroute_udp
[[ -n $TRACE_SUMMARY ]] && netns_log "traceroute -6 hops: $TRACE_SUMMARY"
TRACE_SUMMARY=
check traceroute-icmp check_traceroute_icmp
[[ -n $TRACE_SUMMARY ]] && netns_log "traceroute -6 -I hops: $TRACE_SUMMARY"
# Upload first: after the download the far host has learnt the 1400 path MTU
# from r2 (plain IPv4 PMTUD) and advertises a small MSS, so the client never
# sends a packet big enough to need a Packet Too Big.
check tcp-upload-1m-mtu1400 check_tcp_upload
check packet-too-big-reached-client check_ptb_reached_client
check packet-too-big-mtu-1420 check_ptb_mtu_value
check tcp-download-1m-mtu1400 check_tcp_download
UDP_CLIENT_OUT=
check udp-3000-fragmented-echo check_udp_fragmented_echo
check udp-3000-arrives-whole-at-ipv4-server check_udp_server_whole
check udp-3000-reply-arrives-whole-at-client check_udp_reply_whole
check ping-3000-fragmented-icmp check_ping_large
check lsrr-icmpv4-3-5 check_lsrr
check ipv4-ttl-expiry-icmpv4-11-0 check_ttl_expiry
check session-source-time-exceeded check_rfc6791_time_exceeded

# nat64d's log (with its drop counters, logged on SIGTERM) when something
# failed; tear down before the summary so the summary is the last line.
report_nat64d
netns_checks_done
