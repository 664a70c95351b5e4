#!/usr/bin/env bash
# End-to-end RFC 6146 state checks of nat64d in network namespaces (issue 4):
# 50 IPv6 hosts share one pool4 address (S1, S3), a UDP session expires after
# udp-timeout (S4), an IPv4-initiated SYN without a mapping is held ~6 s and
# answered with ICMPv4 3/3 (S6), two IPv6 hosts reach each other through
# prefix::pool4 (hairpinning, S7), and a mode "pool" address assignment
# survives a daemon restart (S10). Must run as root.
#
#   NAT64D=/path/to/nat64d scripts/netns-state-test.sh
#   scripts/netns-state-test.sh        # swift build (debug) first
#
# Knobs (environment, optional): NAT64D_LOG_LEVEL=debug (nat64d's log level),
# NETNS_KEEP_WORKDIR=1 (keep configs, logs and the state directory).
#
# Topology: scripts/netns-lib.sh (client, gateway with nat64d, server), with
# extra addresses on the client's veth (all in 2001:db8:1::/64, no DAD):
#
#   2001:db8:1::100 - ::131   50 hosts, one TCP connection each
#   2001:db8:1::200, ::201    hairpin hosts A and B
#   2001:db8:1::300, ::301    mode "pool" hosts X and Y
#
# The server runs a UDP echo (tests/netns/state/udp-tool.py) next to nginx
# and knotd. nat64d runs twice: first in NAPT mode (pool4 192.0.2.1,
# udp-timeout 120, the RFC 6146 minimum), then in mode "pool" (pool4
# 192.0.2.16/30, state-dir in the workdir), which is stopped and started
# again. The UDP session whose expiry is checked is made first and checked
# last, after at least udp-timeout; the other NAPT checks run in between.
# About 2.5 minutes.
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

STATE_FIXTURES=$REPO_ROOT/tests/netns/state
PY=/usr/bin/python3 # Debian's python3 (python3-scapy); not pyenv's
STARTUP_TIMEOUT=10  # s, nat64d TUN + DNS64 readiness
SHUTDOWN_TIMEOUT=10 # s, nat64d exit after SIGTERM
CMD_TIMEOUT=30      # s, hard cap on any single command in a namespace

UDP_TIMEOUT=120          # s, translator.udp-timeout (RFC 6146 UDP_MIN)
UDP_ALIVE_AT=112         # s after the UDP exchange: the session must still be there
UDP_GONE_BY=$((UDP_TIMEOUT + 5)) # s after the exchange: it must be gone (housekeeping runs every second)
ECHO_PORT=7007           # UDP echo on the server
SYN_HOLD_MIN=5.5         # s, earliest acceptable ICMPv4 3/3 after the SYN (RFC 6146: 6 s)
SYN_HOLD_MAX=9           # s, latest

MANY_COUNT=50
MANY_HOSTS=()
for ((i = 0; i < MANY_COUNT; i++)); do MANY_HOSTS+=("$(printf '2001:db8:1::%x' $((0x100 + i)))"); done
EXPIRY_PORT=40100 # the UDP session that must expire: [CLIENT_ADDR6]:40100
HOST_A=2001:db8:1::200
HOST_A_PORT=40200
HOST_B=2001:db8:1::201
HOST_B_PORT=40201
HOST_X=2001:db8:1::300
HOST_X_PORT=40300
HOST_Y=2001:db8:1::301
HOST_Y_PORT=40301
POOL_MODE_NET=192.0.2.16/30
POOL_MODE_RE='192\.0\.2\.(1[6-9])' # an address of 192.0.2.16/30
POOL4_SYNTH6=2001:db8:64::c000:201 # 2001:db8:64::192.0.2.1 (RFC 6052 /96)

# shellcheck source=scripts/netns-checks.sh
source "$SCRIPT_DIR/netns-checks.sh"
netns_checks_on_abort() { report_nat64d; }
CONTROL_SOCKET=  # the running nat64d's control socket (in the workdir)
NAT64D_LOGS=()   # log names of every nat64d started, for failure reports

ctl() { timeout -k 2 "$CMD_TIMEOUT" "$NAT64D" ctl --socket "$CONTROL_SOCKET" "$@"; }

# stat_value NAME: one counter from `nat64d ctl stats --json` (empty if unavailable); drops.REASON is
# the "drops" object's REASON.
stat_value() {
    ctl stats --json 2>/dev/null | "$PY" -c '
import json, sys
j = json.loads(sys.stdin.read()); n = sys.argv[1]
print(j["drops"].get(n[6:], "") if n.startswith("drops.") else j.get(n, ""))' "$1" 2>/dev/null
}

# Seconds (with fractions) since the epoch.
now_s() { printf '%s' "$EPOCHREALTIME"; }
# sleep_until T: sleep until now_s >= T (T absolute, fractional seconds).
sleep_until() {
    local left
    left=$(awk -v t="$1" -v n="$(now_s)" 'BEGIN { d = t - n; printf "%.2f", (d > 0 ? d : 0) }')
    if [[ $left != 0.00 ]]; then sleep "$left"; fi
}

# Stop the running nat64d with SIGTERM (its log then ends with the drop
# counters); sets NETNS_LAST_STATUS.
stop_nat64d() {
    NETNS_LAST_STATUS=255
    if [[ -n $NAT64D_PID ]]; then
        netns_stop_pid "$NAT64D_PID" "$SHUTDOWN_TIMEOUT"
    fi
}

report_nat64d() {
    stop_nat64d
    if ((FAILED > 0)) && [[ -n $NETNS_WORKDIR ]]; then
        local name
        for name in "${NAT64D_LOGS[@]}"; do netns_show_log "$name" 60; done
        netns_show_log udp-echo 40
        if [[ ${NETNS_KEEP_WORKDIR:-0} == 1 ]]; then
            netns_log "logs kept in $NETNS_WORKDIR"
        fi
    fi
}

# --------------------------------------------------------------- nat64d

# write_config NAME MODE POOL4 [STATE_DIR]: $NETNS_WORKDIR/NAME.toml for this
# topology, with its own control socket in the workdir (the default /run path
# would collide with other runs).
write_config() {
    local name=$1 mode=$2 pool4=$3 state_dir=${4:-} f=$NETNS_WORKDIR/$1.toml
    cat >"$f" <<EOF
# generated by scripts/netns-state-test.sh
[tun]
name = "$NAT64D_TUN"
mtu = 1500

[translator]
prefix = "$NAT64_PREFIX"
pool4 = ["$pool4"]
mode = "$mode"
udp-timeout = $UDP_TIMEOUT
EOF
    if [[ -n $state_dir ]]; then printf 'state-dir = "%s"\n' "$state_dir" >>"$f"; fi
    cat >>"$f" <<EOF

[gateway]
ipv4 = "$GW_ADDR4"
ipv6 = "$GW_ADDR6"
EOF
    netns_nat64d_config_services >>"$f"
    cat >>"$f" <<EOF

[capture]
directory = "$NETNS_WORKDIR/capture-$name"

[control]
socket = "$NETNS_WORKDIR/$name.sock"
EOF
}

# start_nat64d LOGNAME CONFIGNAME: start nat64d with $NETNS_WORKDIR/CONFIGNAME.toml
# and wait until it is ready; on failure sets SKIP_REASON (and returns 1).
start_nat64d() {
    local log=$1 conf=$2 st
    NAT64D_LOGS+=("$log")
    CONTROL_SOCKET=$NETNS_WORKDIR/$conf.sock
    netns_start_translator "$log" "$NAT64D" run --config "$NETNS_WORKDIR/$conf.toml"
    NAT64D_PID=$NETNS_TRANSLATOR_PID
    netns_log "nat64d ($log) started, pid $NAT64D_PID, control socket $CONTROL_SOCKET"
    if netns_wait_nat64d "$STARTUP_TIMEOUT"; then return 0; fi
    if ! netns_pid_alive "$NAT64D_PID"; then
        if wait "$NAT64D_PID" 2>/dev/null; then st=0; else st=$?; fi
        SKIP_REASON="nat64d ($log) exited during startup with status $st"
        netns_show_log "$log" 40
        return 1
    fi
    # Still running but not ready: run the checks anyway for details.
    return 0
}

# ------------------------------------------------------------------ setup

add_client_addresses() {
    local a
    for a in "${MANY_HOSTS[@]}" "$HOST_A" "$HOST_B" "$HOST_X" "$HOST_Y"; do
        ip -n "$NS_CLIENT" addr add "$a/64" dev "$IF_CLIENT" nodad
    done
    netns_wait_dad "$NS_CLIENT"
}

start_udp_echo() {
    # Enough datagrams and time for the whole run; stopped by teardown.
    netns_start_bg "$NS_SERVER" udp-echo "$PY" "$STATE_FIXTURES/udp-tool.py" server "$SERVER_ADDR4" "$ECHO_PORT" 100 400
    if ! netns_wait_until 5 grep -q listening "$NETNS_WORKDIR/udp-echo.log"; then
        netns_log "UDP echo server did not start in $NS_SERVER"
        netns_show_log udp-echo
        return 1
    fi
}

# The mapping of a UDP/TCP endpoint in `ctl sessions --json`: prints "ADDR4 PORT IDLE" of the first session
# of PROTO [ADDR6]:PORT (nothing if there is none).
session_of() {
    local proto=$1 addr6=$2 port=$3
    ctl sessions --json --proto "$proto" --ipv6 "$addr6" --port "$port" 2>/dev/null | "$PY" -c '
import json, sys
for s in json.loads(sys.stdin.read())["sessions"]:
    if s["ipv6-port"] == int(sys.argv[1]):
        print(s["ipv4"], s["ipv4-port"], s["idle-s"]); break' "$port" 2>/dev/null
}

# Every session from `ctl sessions --json` as "PROTO [ADDR6]:PORT ADDR4:PORT" lines (PROTO given: only those).
session_lines() {
    ctl sessions --json --limit 1000000 ${1:+--proto "$1"} 2>/dev/null | "$PY" -c '
import json, sys
for s in json.loads(sys.stdin.read())["sessions"]:
    print("%s [%s]:%d %s:%d" % (s["proto"], s["ipv6"], s["ipv6-port"], s["ipv4"], s["ipv4-port"]))'
}

# Where the server's UDP echo saw datagrams from: "ADDR:PORT" lines.
echo_peers() { sed -n 's/^got [0-9]* \([0-9.]*:[0-9]*\)$/\1/p' "$NETNS_WORKDIR/udp-echo.log" 2>/dev/null; }

# udp_echo SRC6 SPORT: one echo through the translator; prints the tool's output.
udp_echo() {
    client "$PY" "$STATE_FIXTURES/udp-tool.py" echo "$1" "$2" "$SERVER_SYNTH6" "$ECHO_PORT" 2 3 2>&1
}

# ------------------------------------------------------- checks: NAPT mode

# S4: the session whose expiry is checked at the end. Made first.
EXPIRY_T0=
EXPIRY_MAPPING=
check_udp_session_created() {
    local out m addr port
    out=$(udp_echo "$CLIENT_ADDR6" "$EXPIRY_PORT") || { DETAIL="echo: $(oneline "$out")"; return 1; }
    EXPIRY_T0=$(now_s)
    m=$(session_of udp "$CLIENT_ADDR6" "$EXPIRY_PORT")
    if [[ -z $m ]]; then
        DETAIL="ctl sessions lacks udp [$CLIENT_ADDR6]:$EXPIRY_PORT: $(oneline "$(session_lines)")"
        return 1
    fi
    read -r addr port _ <<<"$m"
    EXPIRY_MAPPING="$addr:$port"
    if [[ $addr != "$POOL4_ADDR" ]]; then
        DETAIL="mapped to $EXPIRY_MAPPING, not to pool4 $POOL4_ADDR"
        return 1
    fi
    if ! echo_peers | grep -qx "$EXPIRY_MAPPING"; then
        DETAIL="ctl sessions says $EXPIRY_MAPPING but the server saw: $(oneline "$(echo_peers)")"
        return 1
    fi
    netns_log "UDP session [$CLIENT_ADDR6]:$EXPIRY_PORT -> $EXPIRY_MAPPING made; expiry checked at +${UDP_GONE_BY}s"
}

# S1, S3: 50 IPv6 hosts, one TCP connection each, all open at once.
MANY_OK=() # "SRC6 LOCAL_PORT" of each connection that got the page
check_many_tcp_connect() {
    local log=$NETNS_WORKDIR/tcp-many.log line
    netns_start_bg "$NS_CLIENT" tcp-many timeout -k 2 60 "$PY" "$STATE_FIXTURES/tcp-many.py" \
        "$SERVER_SYNTH6" 80 "$PAGE_MARKER" 20 30 "${MANY_HOSTS[@]}"
    TCP_MANY_PID=$NETNS_LAST_PID
    if ! netns_wait_until 25 grep -q '^ready ' "$log"; then
        DETAIL="no result within 25 s: $(oneline "$(cat "$log" 2>/dev/null)")"
        return 1
    fi
    MANY_OK=()
    while read -r line; do
        [[ $line == ok\ * ]] && MANY_OK+=("${line#ok }")
    done <"$log"
    if ((${#MANY_OK[@]} == MANY_COUNT)); then return 0; fi
    DETAIL="$(grep '^ready ' "$log") connections got the page; failures: $(oneline "$(grep '^fail ' "$log")")"
    return 1
}

# While the 50 connections are open: 50 TCP sessions from 50 distinct IPv6
# hosts (the exact source address and port of each connection), all on
# 192.0.2.1, each on its own pool4 port.
check_many_tcp_sessions() {
    local sessions conn src port m problems=() outside_ports=()
    sessions=$(session_lines tcp) || { DETAIL="ctl sessions --json: $(oneline "$sessions")"; return 1; }
    if ((${#MANY_OK[@]} == 0)); then DETAIL="no connection to look for"; return 1; fi
    for conn in "${MANY_OK[@]}"; do
        read -r src port <<<"$conn"
        m=$(awk -v k="[$src]:$port" '$1 == "tcp" && $2 == k { print $3; exit }' <<<"$sessions")
        if [[ -z $m ]]; then
            problems+=("no tcp session for [$src]:$port")
        elif [[ ${m%:*} != "$POOL4_ADDR" ]]; then
            problems+=("[$src]:$port mapped to $m")
        else
            outside_ports+=("${m##*:}")
        fi
    done
    local distinct_ports distinct_hosts
    distinct_ports=$(printf '%s\n' "${outside_ports[@]}" | sort -u | grep -c . || true)
    distinct_hosts=$(printf '%s\n' "${MANY_OK[@]}" | awk '{ print $1 }' | sort -u | grep -c . || true)
    ((distinct_hosts == MANY_COUNT)) || problems+=("$distinct_hosts distinct IPv6 sources, want $MANY_COUNT")
    ((distinct_ports == ${#MANY_OK[@]})) || problems+=("$distinct_ports distinct pool4 ports for ${#MANY_OK[@]} sessions")
    if ((${#problems[@]} == 0)); then
        netns_log "$MANY_COUNT TCP sessions from $distinct_hosts IPv6 hosts on $POOL4_ADDR, $distinct_ports distinct ports"
        return 0
    fi
    DETAIL="$(oneline "$(IFS=';'; printf '%s' "${problems[*]:0:5}")") ($(grep -c '^tcp ' <<<"$sessions" || true) tcp sessions listed)"
    return 1
}

# S6: an IPv4 SYN to a pool4 port without a mapping: held ~6 s, then ICMPv4
# 3/3 (port unreachable) from gateway.ipv4 quoting the SYN.
SYN_OUT=
SYN_STATS_BEFORE=()
SYN_DPORT=
check_syn_icmp() {
    local used p out
    used=$(session_lines | awk '{ n = split($3, o, ":"); print o[2] }')
    SYN_DPORT=
    for p in 47011 47012 47013 47014 47015; do
        if ! grep -qx "$p" <<<"$used"; then SYN_DPORT=$p; break; fi
    done
    [[ -n $SYN_DPORT ]] || { DETAIL="no unmapped pool4 port among the candidates"; return 1; }
    SYN_STATS_BEFORE=("$(stat_value drops.syn-held)" "$(stat_value icmp-errors-sent)")
    out=$(server "$PY" "$STATE_FIXTURES/syn-probe.py" "$IF_SERVER" "$SERVER_ADDR4" "$POOL4_ADDR" 41234 "$SYN_DPORT" 12 2>&1) || {
        DETAIL="no ICMPv4 within 12 s: $(oneline "$out")"
        return 1
    }
    SYN_OUT=$(grep -m1 '^icmp ' <<<"$out" || printf '%s' "$out")
    if [[ $SYN_OUT == "icmp 3/3 from $GW_ADDR4 inner-dst $POOL4_ADDR:$SYN_DPORT after "* ]]; then return 0; fi
    DETAIL="want ICMPv4 3/3 from $GW_ADDR4 about $POOL4_ADDR:$SYN_DPORT, got: $(oneline "$SYN_OUT")"
    return 1
}

check_syn_hold_time() {
    local t=${SYN_OUT##* after }
    if [[ $SYN_OUT == icmp\ * && $t =~ ^[0-9.]+$ ]] &&
        awk -v t="$t" -v lo="$SYN_HOLD_MIN" -v hi="$SYN_HOLD_MAX" 'BEGIN { exit !(t >= lo && t <= hi) }'; then
        netns_log "ICMPv4 3/3 arrived ${t}s after the SYN"
        return 0
    fi
    DETAIL="ICMPv4 ${t:-?}s after the SYN, want ${SYN_HOLD_MIN}-${SYN_HOLD_MAX}s (held 6 s): $(oneline "${SYN_OUT:-no ICMP}")"
    return 1
}

check_syn_counted() {
    local held errors
    held=$(stat_value drops.syn-held)
    errors=$(stat_value icmp-errors-sent)
    if [[ -n $held && -n $errors && -n ${SYN_STATS_BEFORE[0]:-} && -n ${SYN_STATS_BEFORE[1]:-} ]] &&
        ((held > SYN_STATS_BEFORE[0] && errors > SYN_STATS_BEFORE[1])); then
        return 0
    fi
    DETAIL="drops.syn-held ${SYN_STATS_BEFORE[0]:-?} -> ${held:-?}, icmp-errors-sent ${SYN_STATS_BEFORE[1]:-?} -> ${errors:-?} (want both to grow)"
    return 1
}

# S7: hairpinning. A gets a mapping by sending to the server; B sends to
# prefix::192.0.2.1 at A's pool4 port; A answers the source it sees.
A_MAPPED_PORT=
check_hairpin_mapping() {
    local out m addr
    out=$(udp_echo "$HOST_A" "$HOST_A_PORT") || { DETAIL="echo from A: $(oneline "$out")"; return 1; }
    m=$(session_of udp "$HOST_A" "$HOST_A_PORT")
    read -r addr A_MAPPED_PORT _ <<<"$m"
    if [[ $addr == "$POOL4_ADDR" && $A_MAPPED_PORT =~ ^[0-9]+$ ]]; then return 0; fi
    A_MAPPED_PORT=
    DETAIL="ctl sessions lacks udp [$HOST_A]:$HOST_A_PORT on $POOL4_ADDR: $(oneline "$(session_lines udp)")"
    return 1
}

HAIRPIN_OUT=
HAIRPIN_PCAP=
check_hairpin_b_to_a() {
    local m b_port tcpdump_pid=
    [[ -n $A_MAPPED_PORT ]] || { DETAIL="A has no mapping"; return 1; }
    # Watch the TUN meanwhile: the IPv6 packets to prefix::pool4 enter nat64d
    # there; an IPv4 packet from pool4 to pool4 would mean the hairpin went out
    # through the gateway's kernel instead of being translated 6->4->6 inside.
    HAIRPIN_PCAP=$NETNS_WORKDIR/hairpin-tun.pcap
    # --immediate-mode: otherwise the packets wait in the capture ring for its
    # block timeout and a SIGTERM soon after loses them. Filtered when read.
    netns_start_bg "$NS_GW" tcpdump-hairpin tcpdump -n -U --immediate-mode -i "$NAT64D_TUN" -w "$HAIRPIN_PCAP"
    tcpdump_pid=$NETNS_LAST_PID
    if ! netns_wait_until 5 grep -q 'listening on' "$NETNS_WORKDIR/tcpdump-hairpin.log"; then
        netns_log "tcpdump on $NAT64D_TUN did not start: $(oneline "$(cat "$NETNS_WORKDIR/tcpdump-hairpin.log")")"
    fi
    HAIRPIN_OUT=$(client "$PY" "$STATE_FIXTURES/udp-tool.py" hairpin "$HOST_A" "$HOST_A_PORT" \
        "$HOST_B" "$HOST_B_PORT" "$POOL4_SYNTH6" "$A_MAPPED_PORT" 3 2>&1) || true
    sleep 0.5
    netns_stop_pid "$tcpdump_pid" 3
    # A must see B as prefix::192.0.2.1 at B's own pool4 port.
    m=$(session_of udp "$HOST_B" "$HOST_B_PORT")
    b_port=$(awk '{ print $2 }' <<<"$m")
    if [[ -z $m || ${m%% *} != "$POOL4_ADDR" ]]; then
        DETAIL="ctl sessions lacks B's mapping udp [$HOST_B]:$HOST_B_PORT on $POOL4_ADDR; tool: $(oneline "$HAIRPIN_OUT")"
        return 1
    fi
    if grep -q "^a-got from $POOL4_SYNTH6 $b_port hairpin B->A\$" <<<"$HAIRPIN_OUT"; then return 0; fi
    DETAIL="want A to receive from $POOL4_SYNTH6 port $b_port (B's mapping): $(oneline "$HAIRPIN_OUT")"
    return 1
}

check_hairpin_a_to_b() {
    [[ -n $A_MAPPED_PORT ]] || { DETAIL="A has no mapping"; return 1; }
    if grep -q "^b-got from $POOL4_SYNTH6 $A_MAPPED_PORT hairpin A->B\$" <<<"$HAIRPIN_OUT"; then return 0; fi
    DETAIL="want B to receive A's answer from $POOL4_SYNTH6 port $A_MAPPED_PORT: $(oneline "$HAIRPIN_OUT")"
    return 1
}

# S7 says "internally": on the TUN, the two IPv6 datagrams to prefix::pool4
# and no IPv4 datagram from pool4 to pool4.
check_hairpin_internal() {
    local v6 v4
    [[ -n $HAIRPIN_PCAP && -f $HAIRPIN_PCAP ]] || { DETAIL="no capture of the TUN"; return 1; }
    v6=$(tcpdump -nn -r "$HAIRPIN_PCAP" "ip6 and dst host $POOL4_SYNTH6" 2>/dev/null | grep -c . || true)
    v4=$(tcpdump -nn -r "$HAIRPIN_PCAP" "ip and src host $POOL4_ADDR and dst host $POOL4_ADDR" 2>/dev/null |
        grep -c . || true)
    if ((v6 >= 2 && v4 == 0)); then return 0; fi
    DETAIL="on $NAT64D_TUN: $v6 IPv6 datagrams to $POOL4_SYNTH6 (want >= 2), $v4 IPv4 datagrams $POOL4_ADDR -> $POOL4_ADDR (want 0)"
    return 1
}

# S4: the UDP session made first is still there shortly before udp-timeout...
EXPIRY_SESSIONS_BEFORE=
check_udp_alive_before_timeout() {
    local m idle
    [[ -n $EXPIRY_T0 ]] || { DETAIL="no UDP session was made"; return 1; }
    sleep_until "$(awk -v t="$EXPIRY_T0" -v d="$UDP_ALIVE_AT" 'BEGIN { printf "%.3f", t + d }')"
    EXPIRY_SESSIONS_BEFORE=$(stat_value sessions)
    m=$(session_of udp "$CLIENT_ADDR6" "$EXPIRY_PORT")
    if [[ -z $m ]]; then
        DETAIL="udp [$CLIENT_ADDR6]:$EXPIRY_PORT already gone ${UDP_ALIVE_AT}s after its last packet (udp-timeout $UDP_TIMEOUT)"
        return 1
    fi
    idle=${m##* }
    if [[ ${m% *} == "${EXPIRY_MAPPING/:/ }" ]] && ((idle >= UDP_ALIVE_AT - 5)); then return 0; fi
    DETAIL="want $EXPIRY_MAPPING idle >= $((UDP_ALIVE_AT - 5))s, ctl sessions says '$m'"
    return 1
}

# ... and gone (from `ctl sessions` and the `ctl stats` count) after it.
check_udp_expired() {
    local deadline m t after
    [[ -n $EXPIRY_T0 ]] || { DETAIL="no UDP session was made"; return 1; }
    sleep_until "$(awk -v t="$EXPIRY_T0" -v d="$UDP_TIMEOUT" 'BEGIN { printf "%.3f", t + d }')"
    deadline=$(awk -v t="$EXPIRY_T0" -v d="$UDP_GONE_BY" 'BEGIN { printf "%.3f", t + d }')
    while true; do
        m=$(session_of udp "$CLIENT_ADDR6" "$EXPIRY_PORT")
        t=$(awk -v n="$(now_s)" -v t="$EXPIRY_T0" 'BEGIN { printf "%.1f", n - t }')
        [[ -z $m ]] && break
        if awk -v n="$(now_s)" -v d="$deadline" 'BEGIN { exit !(n >= d) }'; then break; fi
        sleep 0.5
    done
    if [[ -n $m ]]; then
        DETAIL="udp [$CLIENT_ADDR6]:$EXPIRY_PORT still listed ${t}s after its last packet ('$m', udp-timeout $UDP_TIMEOUT)"
        return 1
    fi
    after=$(stat_value sessions)
    netns_log "UDP session gone ${t}s after its last packet; ctl stats sessions $EXPIRY_SESSIONS_BEFORE -> $after"
    if [[ -n $EXPIRY_SESSIONS_BEFORE && -n $after ]] && ((after < EXPIRY_SESSIONS_BEFORE)); then return 0; fi
    DETAIL="gone from ctl sessions after ${t}s, but ctl stats sessions went ${EXPIRY_SESSIONS_BEFORE:-?} -> ${after:-?}"
    return 1
}

# The expired mapping no longer lets IPv4 in: a datagram from the server to
# its old pool4 port is dropped as no-state.
check_udp_expired_drops_inbound() {
    local before after i out
    [[ -n $EXPIRY_MAPPING ]] || { DETAIL="no UDP session was made"; return 1; }
    before=$(stat_value drops.no-state)
    out=$(server "$PY" "$STATE_FIXTURES/udp-tool.py" send4 "$SERVER_ADDR4" 7008 "${EXPIRY_MAPPING%:*}" "${EXPIRY_MAPPING##*:}" 2>&1) ||
        { DETAIL="send4: $(oneline "$out")"; return 1; }
    for ((i = 0; i < 10; i++)); do
        after=$(stat_value drops.no-state)
        [[ -n $before && -n $after ]] && ((after > before)) && return 0
        sleep 0.2
    done
    DETAIL="drops.no-state ${before:-?} -> ${after:-?} after a datagram to $EXPIRY_MAPPING (want +1)"
    return 1
}

# ------------------------------------------------------- checks: mode pool

POOL_STATE_DIR=
POOL_X= # X's pool address before the restart
POOL_Y=

# pool_mapping HOST PORT: sets POOL_MAPPED to the host's pool address after an
# echo from it (ports are not rewritten in mode pool); on failure sets DETAIL.
POOL_MAPPED=
pool_mapping() {
    local host=$1 port=$2 out m addr oport
    POOL_MAPPED=
    out=$(udp_echo "$host" "$port") || { DETAIL="echo from [$host]:$port: $(oneline "$out")"; return 1; }
    m=$(session_of udp "$host" "$port")
    read -r addr oport _ <<<"$m"
    if [[ ! $addr =~ ^${POOL_MODE_RE}$ ]]; then
        DETAIL="udp [$host]:$port not on an address of $POOL_MODE_NET: '$m'"
        return 1
    fi
    if [[ $oport != "$port" ]]; then
        DETAIL="udp [$host]:$port mapped to $addr:$oport: the port was rewritten (mode pool keeps ports, S10)"
        return 1
    fi
    if ! echo_peers | grep -qx "$addr:$port"; then
        DETAIL="ctl sessions says $addr:$port but the server saw: $(oneline "$(echo_peers | tail -n 5)")"
        return 1
    fi
    POOL_MAPPED=$addr
}

check_pool_distinct() {
    pool_mapping "$HOST_X" "$HOST_X_PORT" || return 1
    POOL_X=$POOL_MAPPED
    pool_mapping "$HOST_Y" "$HOST_Y_PORT" || return 1
    POOL_Y=$POOL_MAPPED
    netns_log "mode pool: X $HOST_X -> $POOL_X, Y $HOST_Y -> $POOL_Y"
    if [[ $POOL_X != "$POOL_Y" ]]; then return 0; fi
    DETAIL="X and Y share $POOL_X"
    return 1
}

check_pool_state_file() {
    # The journal is written by a writer thread off the packet path (within ~100 ms of the assignment).
    local f=$POOL_STATE_DIR/pool-assignments content i
    for i in $(seq 20); do
        content=$(cat "$f" 2>&1) || { DETAIL="cannot read $f: $(oneline "$content")"; return 1; }
        if grep -qx "$HOST_X $POOL_X" <<<"$content" && grep -qx "$HOST_Y $POOL_Y" <<<"$content"; then return 0; fi
        sleep 0.1
    done
    DETAIL="$f lacks '$HOST_X $POOL_X' or '$HOST_Y $POOL_Y': $(oneline "$content")"
    return 1
}

check_pool_restart() {
    stop_nat64d
    if ((NETNS_LAST_STATUS != 0)); then
        DETAIL="nat64d exited with status $NETNS_LAST_STATUS after SIGTERM"
        return 1
    fi
    start_nat64d nat64d-pool-2 pool || { DETAIL=$SKIP_REASON; return 1; }
    if ! grep -qi 'restor' "$NETNS_WORKDIR/nat64d-pool-2.log"; then
        netns_log "(the restarted nat64d's log does not mention restored assignments)"
    fi
}

# Y first: without the saved assignments Y would now get the first free
# address, X's, so this tells persistence apart from a deterministic choice.
check_pool_survives_restart() {
    local x y
    [[ -n $POOL_X && -n $POOL_Y ]] || { DETAIL="no assignments from before the restart"; return 1; }
    pool_mapping "$HOST_Y" "$HOST_Y_PORT" || return 1
    y=$POOL_MAPPED
    pool_mapping "$HOST_X" "$HOST_X_PORT" || return 1
    x=$POOL_MAPPED
    if [[ $x == "$POOL_X" && $y == "$POOL_Y" ]]; then return 0; fi
    DETAIL="before the restart X $POOL_X, Y $POOL_Y; after (Y first) X $x, Y $y"
    return 1
}

# A 99 MB garbage state file (the saved lines at its end): nat64d reads only the newest 16 MiB, in bounded
# time and memory, skips the garbage, keeps the assignments and rewrites the file compacted.
check_pool_garbage_state_file() {
    local f=$POOL_STATE_DIR/pool-assignments saved t0 t1 hwm size x y
    saved=$(cat "$f") || { DETAIL="cannot read $f"; return 1; }
    stop_nat64d
    head -c 99000000 /dev/urandom | tr -d '\n' | fold -w 200 >"$f.new"
    printf '\n%s\n' "$saved" >>"$f.new"
    mv "$f.new" "$f"
    t0=$(date +%s%N)
    start_nat64d nat64d-pool-3 pool || { DETAIL=$SKIP_REASON; return 1; }
    t1=$(date +%s%N)
    hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$NAT64D_PID/status")
    size=$(stat -c %s "$f")
    netns_log "garbage state file: ready in $(((t1 - t0) / 1000000)) ms, peak RSS ${hwm} kB, file now $size bytes"
    ((size < 4096)) || { DETAIL="the state file was not rewritten compacted: $size bytes"; return 1; }
    ((hwm < 200000)) || { DETAIL="peak RSS $hwm kB loading a 99 MB state file"; return 1; }
    pool_mapping "$HOST_Y" "$HOST_Y_PORT" || return 1
    y=$POOL_MAPPED
    pool_mapping "$HOST_X" "$HOST_X_PORT" || return 1
    x=$POOL_MAPPED
    [[ $x == "$POOL_X" && $y == "$POOL_Y" ]] ||
        { DETAIL="assignments lost: before X $POOL_X, Y $POOL_Y; after X $x, Y $y"; return 1; }
}

# check-config refuses a state-dir that is not a writable directory, naming the key's line.
check_config_unwritable_state_dir() {
    local conf=$NETNS_WORKDIR/bad-state.toml out status line
    write_config bad-state pool "$POOL_MODE_NET" "$NETNS_WORKDIR/bad-state.toml"
    line=$(grep -n '^state-dir' "$conf" | cut -d: -f1)
    if out=$("$NAT64D" check-config "$conf" 2>&1); then status=0; else status=$?; fi
    ((status == 2)) || { DETAIL="check-config exit status $status, expected 2: $(oneline "$out")"; return 1; }
    grep -q "^$conf:$line: translator.state-dir .* exists and is not a directory" <<<"$out" ||
        { DETAIL="no error on line $line: $(oneline "$out")"; return 1; }
}

# -------------------------------------------------------------------- main

netns_preflight netns-state-test nginx knotd tcpdump "$PY"
netns_resolve_nat64d netns-state-test

netns_setup
add_client_addresses
netns_start_servers
start_udp_echo
TCP_MANY_PID=

if [[ ! -x $NAT64D ]]; then
    SKIP_REASON="nat64d binary not found or not executable: $NAT64D"
else
    write_config napt napt "$POOL4_ADDR"
    start_nat64d nat64d-napt napt || true
fi

# NAPT mode. The UDP session made first is checked last, after udp-timeout.
check udp-session-created check_udp_session_created
check tcp-50-hosts-one-pool4-connect check_many_tcp_connect
check tcp-50-sessions-distinct-hosts-one-pool4 check_many_tcp_sessions
if [[ -n $TCP_MANY_PID ]]; then netns_stop_pid "$TCP_MANY_PID" 3; fi
SYN_OUT=
check ipv4-syn-unmapped-icmpv4-3-3 check_syn_icmp
check ipv4-syn-held-about-6s check_syn_hold_time
check ipv4-syn-held-counted check_syn_counted
check hairpin-udp-a-mapping check_hairpin_mapping
check hairpin-udp-b-to-a check_hairpin_b_to_a
check hairpin-udp-a-to-b check_hairpin_a_to_b
check hairpin-inside-translator check_hairpin_internal
if [[ -n $EXPIRY_T0 ]]; then
    netns_log "waiting for the UDP session to reach udp-timeout ($UDP_TIMEOUT s)"
fi
check udp-session-alive-before-timeout check_udp_alive_before_timeout
check udp-session-expired-after-timeout check_udp_expired
check udp-expired-mapping-drops-ipv4 check_udp_expired_drops_inbound

# Mode pool, restarted with the same config and state-dir.
if [[ -z $SKIP_REASON ]]; then
    stop_nat64d
    POOL_STATE_DIR=$NETNS_WORKDIR/state
    write_config pool pool "$POOL_MODE_NET" "$POOL_STATE_DIR"
    start_nat64d nat64d-pool-1 pool || true
fi
check pool-mode-distinct-addresses check_pool_distinct
check pool-mode-state-file check_pool_state_file
check pool-mode-restart check_pool_restart
check pool-mode-mapping-survives-restart check_pool_survives_restart
check pool-mode-garbage-state-file-bounded check_pool_garbage_state_file
check check-config-unwritable-state-dir check_config_unwritable_state_dir

# nat64d's logs (with their drop counters, logged on SIGTERM) when something
# failed; tear down before the summary so the summary is the last line.
report_nat64d
netns_checks_done
