#!/usr/bin/env bash
# End-to-end test of nat64d in network namespaces (see scripts/netns-lib.sh
# for the topology). Must run as root.
#
#   NAT64D=/path/to/nat64d scripts/netns-test.sh   # use this binary
#   scripts/netns-test.sh                          # swift build (debug) first
#   NETNS_TRANSLATOR=tayga scripts/netns-test.sh   # TAYGA stand-in: only the
#                                                  # translator-agnostic checks
#
# Prints one line per check (`PASS name` / `FAIL name: detail`), then exactly
# `N passed, N failed` as the last line; exits non-zero if anything failed.
# Everything is torn down on any exit (including failures and Ctrl-C).
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/.." && pwd)
# shellcheck source=scripts/netns-lib.sh
source "$SCRIPT_DIR/netns-lib.sh"

MODE=${NETNS_TRANSLATOR:-nat64d}
STARTUP_TIMEOUT=10  # s, nat64d TUN + DNS64 readiness
SHUTDOWN_TIMEOUT=10 # s, nat64d exit after SIGTERM
CMD_TIMEOUT=30      # s, hard cap on any single client command

CONTROL_SOCKET= # nat64d's control socket (in the workdir)
NETNS_CHECKS_NO_ALIVE_NOTE=sigterm-shutdown
# shellcheck source=scripts/netns-checks.sh
source "$SCRIPT_DIR/netns-checks.sh"
netns_checks_on_abort() {
    if ((FAILED > 0)) && [[ -n $NETNS_WORKDIR ]]; then netns_show_log "$MODE"; fi
}

# ------------------------------------------------------------------- checks

dig_gw() { client dig +time=2 +tries=2 "@$GW_ADDR6" "$@"; }

# Answer-section records of TYPE as "owner rdata" lines.
answers_of_type() {
    awk -v t="$2" '!/^;/ && NF >= 5 && $4 == t { print $1, $5 }' <<<"$1"
}

check_dns64_synth() {
    local out
    out=$(dig_gw +noall +answer v4only.demo.test AAAA 2>&1) || { DETAIL="dig failed: $(oneline "$out")"; return 1; }
    if answers_of_type "$out" AAAA | grep -qx "v4only.demo.test. $SERVER_SYNTH6"; then return 0; fi
    DETAIL="expected AAAA $SERVER_SYNTH6, got: $(oneline "$out")"
    return 1
}

check_dns64_real_aaaa() {
    local out aaaa
    out=$(dig_gw +noall +answer dual.demo.test AAAA 2>&1) || { DETAIL="dig failed: $(oneline "$out")"; return 1; }
    aaaa=$(answers_of_type "$out" AAAA | awk '{ print $2 }')
    if grep -qx '2001:db8:5::10' <<<"$aaaa" && ! grep -q '^2001:db8:64:' <<<"$aaaa"; then return 0; fi
    DETAIL="expected only the real AAAA 2001:db8:5::10, got: $(oneline "$out")"
    return 1
}

check_dns64_cname() {
    local out
    out=$(dig_gw +noall +answer alias.demo.test AAAA 2>&1) || { DETAIL="dig failed: $(oneline "$out")"; return 1; }
    if answers_of_type "$out" CNAME | grep -qx 'alias.demo.test. v4only.demo.test.' &&
        answers_of_type "$out" AAAA | grep -qx "v4only.demo.test. $SERVER_SYNTH6"; then
        return 0
    fi
    DETAIL="expected CNAME alias->v4only and AAAA $SERVER_SYNTH6, got: $(oneline "$out")"
    return 1
}

check_ping() {
    local out
    if out=$(client ping -6 -n -c 3 -W 2 -w 10 2001:db8:64::198.51.100.10 2>&1); then return 0; fi
    DETAIL="$(oneline "$(grep -E 'transmitted|rror|unreachable' <<<"$out" || printf '%s' "$out")")"
    return 1
}

check_http_by_name() {
    local out
    out=$(client curl -sS --max-time 10 http://v4only.demo.test/ 2>&1) || { DETAIL="curl: $(oneline "$out")"; return 1; }
    if grep -qF "$PAGE_MARKER" <<<"$out"; then return 0; fi
    DETAIL="page lacks '$PAGE_MARKER': $(oneline "$out")"
    return 1
}

check_http_by_address() {
    local out
    out=$(client curl -sS --max-time 10 "http://[$SERVER_SYNTH6]/" 2>&1) || { DETAIL="curl: $(oneline "$out")"; return 1; }
    if grep -qF "$PAGE_MARKER" <<<"$out"; then return 0; fi
    DETAIL="page lacks '$PAGE_MARKER': $(oneline "$out")"
    return 1
}

check_udp_through() {
    local out
    out=$(client dig +notcp +ignore +time=2 +tries=2 +short @2001:db8:64::198.51.100.10 v4only.demo.test A 2>&1) ||
        { DETAIL="dig: $(oneline "$out")"; return 1; }
    if [[ $out == "$SERVER_ADDR4" ]]; then return 0; fi
    DETAIL="expected $SERVER_ADDR4 from knot, got: $(oneline "$out")"
    return 1
}

# UDP GSO (UDP_SEGMENT) from the client through the translator: with USO on the TUN the gateway reads and
# writes each 56 KB super-packet once (tun-udp-super-packets > 0); without offload the kernel segments first.
# Either way every datagram reaches the IPv4 server intact: the payload hashes must match.
check_udp_gso() {
    local tool=$NETNS_FIXTURES/offload/udp-gso.py out=$NETNS_WORKDIR/udp-gso.out count=1500 sent got pid i stats
    in_server python3 "$tool" recv 7009 "$count" 15 >"$out" 2>&1 &
    pid=$!
    for i in $(seq 50); do grep -q ready "$out" 2>/dev/null && break; sleep 0.1; done
    sent=$(client python3 "$tool" send "$SERVER_SYNTH6" 7009 "$count" 2>&1) || { DETAIL="sender: $(oneline "$sent")"; kill "$pid" 2>/dev/null; return 1; }
    wait "$pid" || true
    got=$(tail -n 1 "$out")
    if [[ $got != "$count $sent" ]]; then
        DETAIL="receiver got '$(oneline "$got")', sender sent $count datagrams with hash $sent"
        return 1
    fi
    stats=$(ctl stats --json 2>&1) || { DETAIL="ctl stats --json: $(oneline "$stats")"; return 1; }
    out=$(python3 -c '
import json, sys
s = json.loads(sys.stdin.read()); offload = sys.argv[1] == "true"
import platform
kernel = tuple(int(x) for x in platform.release().split("-")[0].split(".")[:2])
if offload and kernel >= (6, 2) and not s["tun-udp-offload"]:
    sys.exit("the kernel (%s) has TUN_F_USO4/USO6 but nat64d did not enable them" % platform.release())
if offload and s["tun-udp-offload"] and s["tun-udp-super-packets"] == 0:
    sys.exit("USO is on but no UDP super-packet was read")
if not offload and s["tun-udp-super-packets"] != 0:
    sys.exit("UDP super-packets read with offload off")
print("udp-offload=%s super-packets=%d" % (s["tun-udp-offload"], s["tun-udp-super-packets"]))' \
        "${NAT64D_TUN_OFFLOAD:-true}" <<<"$stats" 2>&1) || { DETAIL=$(oneline "$out"); return 1; }
}

check_acl_refused() {
    local out
    out=$(dig_gw -b "$CLIENT_OUTSIDE_ADDR6" v4only.demo.test AAAA 2>&1) || { DETAIL="dig: $(oneline "$out")"; return 1; }
    if grep -q 'status: REFUSED' <<<"$out"; then return 0; fi
    DETAIL="expected status REFUSED for source $CLIENT_OUTSIDE_ADDR6, got: $(oneline "$(grep -m1 'status:' <<<"$out" || printf '%s' "$out")")"
    return 1
}

check_server_dns_direct() {
    if netns_server_dns_ok; then return 0; fi
    DETAIL="knotd in $NS_SERVER did not answer v4only.demo.test A"
    return 1
}

# ------------------------------------------------- capture and control socket

# The client's source address: the kernel may pick either of its addresses.
CLIENT_ADDR6_RE='2001:db8:[19]::2'

ctl() { timeout -k 2 "$CMD_TIMEOUT" "$NAT64D" ctl --socket "$CONTROL_SOCKET" "$@"; }

# tcpdump_read FILE [ARGS...]: the packets of FILE, one line each (-nn: no name lookups).
tcpdump_read() {
    local f=$1
    shift
    tcpdump -nn -r "$f" "$@" 2>/dev/null
}

# Start nat64d with the topology's config plus a control socket and capture directory in the workdir, so
# parallel runs never share /run/nat64d/control.sock.
start_nat64d_with_control() {
    netns_write_nat64d_config "${NAT64D_LOG_LEVEL:-info}"
    printf '\n[capture]\ndirectory = "%s"\n\n[control]\nsocket = "%s"\n\n[metrics]\nlisten = "[::1]:%s"\n' \
        "$NETNS_WORKDIR/capture" "$CONTROL_SOCKET" "$METRICS_PORT" >>"$NETNS_WORKDIR/nat64d.toml"
    netns_start_translator nat64d "$NAT64D" run --config "$NETNS_WORKDIR/nat64d.toml"
    NAT64D_PID=$NETNS_TRANSLATOR_PID
    netns_log "nat64d started, pid $NAT64D_PID, control socket $CONTROL_SOCKET"
}

# The Prometheus endpoint on the gateway's loopback: the same counters as `ctl stats`, in the text format.
METRICS_PORT=9164
check_metrics() {
    local out
    out=$(in_ns "$NS_GW" curl -sS --max-time 5 "http://[::1]:$METRICS_PORT/metrics" 2>&1) ||
        { DETAIL="curl /metrics: $(oneline "$out")"; return 1; }
    if ! grep -Eq '^nat64d_translated_packets_total\{direction="6to4"\} [1-9]' <<<"$out" ||
        ! grep -Eq '^nat64d_dns64_queries_total [1-9]' <<<"$out" ||
        ! grep -Eq '^nat64d_dns64_synthesized_total [1-9]' <<<"$out" ||
        ! grep -q '^# TYPE nat64d_dropped_packets_total counter' <<<"$out" ||
        ! grep -Eq '^nat64d_dropped_packets_total\{reason="no-state"\} [0-9]+' <<<"$out"; then
        DETAIL="/metrics lacks translated 6to4 > 0, DNS64 queries and syntheses > 0 or the drop counters: $(oneline "$out")"
        return 1
    fi
    out=$(in_ns "$NS_GW" curl -sS --max-time 5 -o /dev/null -w '%{http_code}' "http://[::1]:$METRICS_PORT/" 2>&1)
    [[ $out == 404 ]] || { DETAIL="GET / answered $out, expected 404"; return 1; }
}

check_control_socket() {
    local mode out
    mode=$(stat -c %a "$CONTROL_SOCKET" 2>&1) || { DETAIL="no control socket: $mode"; return 1; }
    [[ $mode == 600 ]] || { DETAIL="control socket mode $mode, expected 600"; return 1; }
    out=$(ctl stats --json 2>&1) || { DETAIL="ctl stats --json: $(oneline "$out")"; return 1; }
    if ! python3 -c '
import json, sys
j = json.loads(sys.stdin.read())
sys.exit(0 if j["translated-6to4"] > 0 and "no-state" in j["drops"] and j["capture"] is False else 1)' <<<"$out"; then
        DETAIL="ctl stats --json lacks translated-6to4 > 0, drops.no-state or capture false: $(oneline "$out")"
        return 1
    fi
    out=$(client curl -sS --max-time 10 -o /dev/null "http://[$SERVER_SYNTH6]/" 2>&1 && ctl sessions --json --proto tcp 2>&1) ||
        { DETAIL="curl + ctl sessions --json: $(oneline "$out")"; return 1; }
    if ! python3 -c '
import json, re, sys
ok = any(re.fullmatch(sys.argv[1], s["ipv6"]) and s["ipv4"] == sys.argv[2] and s["idle-s"] >= 0
         for s in json.loads(sys.stdin.read())["sessions"])
sys.exit(0 if ok else 1)' "$CLIENT_ADDR6_RE" "$POOL4_ADDR" <<<"$out"; then
        DETAIL="ctl sessions --json lacks the client's tcp mapping: $(oneline "$out")"
        return 1
    fi
    out=$(ctl capture bogus 2>&1) && { DETAIL="'ctl capture bogus' succeeded: $(oneline "$out")"; return 1; }
    if [[ $(wc -l <<<"$out") -ne 1 || $out != "nat64d ctl: capture needs start, stop or status"* ]]; then
        DETAIL="expected a one-line error for 'ctl capture bogus', got: $(oneline "$out")"
        return 1
    fi
}

# With tun.queues > 1 every packet thread carries traffic: many new flows (each TCP connection a new source
# port, so a new flow hash) spread over the queues; `ctl stats --json` counts packets per queue.
check_queues() {
    local out i
    for i in $(seq 16); do
        client curl -sS --max-time 5 -o /dev/null "http://[$SERVER_SYNTH6]/" >/dev/null 2>&1 || true
    done
    out=$(ctl stats --json 2>&1) || { DETAIL="ctl stats --json: $(oneline "$out")"; return 1; }
    out=$(python3 -c '
import json, sys
want = int(sys.argv[1]); s = json.loads(sys.stdin.read()); q = s["queues"]
if len(q) != want: sys.exit("%d queues reported, expected %d" % (len(q), want))
idle = [x["queue"] for x in q if x["packets"] == 0]
if idle: sys.exit("queues without packets: %s (%s)" % (idle, [x["packets"] for x in q]))
if sum(x["packets"] for x in q) < s["translated-6to4"]: sys.exit("per-queue packets do not add up")
print(" ".join(str(x["packets"]) for x in q))' "${NAT64D_TUN_QUEUES:-2}" <<<"$out" 2>&1) ||
        { DETAIL=$(oneline "$out"); return 1; }
}

# Capture an HTTP exchange and read it back with tcpdump: both sides, both directions.
check_capture_http() {
    local dir=$NETNS_WORKDIR/capture-http out problems=() f
    out=$(ctl capture start --dir "$dir" 2>&1) || { DETAIL="capture start: $(oneline "$out")"; return 1; }
    out=$(client curl -sS --max-time 10 "http://[$SERVER_SYNTH6]/" 2>&1) || problems+=("curl: $(oneline "$out")")
    out=$(ctl capture stop 2>&1) || { DETAIL="capture stop: $(oneline "$out")"; return 1; }
    declare -A want=(
        [in6]="$CLIENT_ADDR6_RE\.[0-9]+ > $SERVER_SYNTH6\.80:"
        [out4]="$POOL4_ADDR\.[0-9]+ > $SERVER_ADDR4\.80:"
        [in4]="$SERVER_ADDR4\.80 > $POOL4_ADDR\.[0-9]+:"
        [out6]="$SERVER_SYNTH6\.80 > $CLIENT_ADDR6_RE\.[0-9]+:"
    )
    for f in in6 out4 in4 out6; do
        out=$(tcpdump_read "$dir/$f.pcap") || { problems+=("tcpdump -r $f.pcap failed"); continue; }
        grep -Eq "${want[$f]}" <<<"$out" || problems+=("$f.pcap lacks '${want[$f]}' ($(wc -l <<<"$out") lines)")
    done
    tcpdump_read "$dir/out4.pcap" -A | grep -q 'GET / HTTP/1.1' || problems+=("out4.pcap lacks the HTTP request")
    tcpdump_read "$dir/out6.pcap" -A | grep -qF "$PAGE_MARKER" || problems+=("out6.pcap lacks the page")
    # tshark reads every file too (the drop file included), and counts the same packets as tcpdump.
    for f in in6 out4 in4 out6 drops; do
        [[ -e $dir/$f.pcap ]] || continue
        local n_tshark n_tcpdump
        n_tshark=$(timeout 20 tshark -r "$dir/$f.pcap" 2>/dev/null | wc -l) || { problems+=("tshark -r $f.pcap failed"); continue; }
        n_tcpdump=$(tcpdump_read "$dir/$f.pcap" | wc -l)
        ((n_tshark == n_tcpdump)) || problems+=("$f.pcap: tshark saw $n_tshark packets, tcpdump $n_tcpdump")
    done
    ((${#problems[@]} == 0)) && return 0
    DETAIL=$(IFS=';'; printf '%s' "${problems[*]}")
    return 1
}

# With filter "icmp or icmp6", a curl and a ping leave only ICMP in the files.
check_capture_filter() {
    local dir=$NETNS_WORKDIR/capture-icmp out all
    out=$(ctl capture start --dir "$dir" --filter "icmp or icmp6" 2>&1) ||
        { DETAIL="capture start: $(oneline "$out")"; return 1; }
    client curl -sS --max-time 10 -o /dev/null "http://[$SERVER_SYNTH6]/" >/dev/null 2>&1
    client ping -6 -n -c 2 -i 0.2 -W 2 "$SERVER_SYNTH6" >/dev/null 2>&1
    out=$(ctl capture status --json 2>&1) || { DETAIL="capture status: $(oneline "$out")"; return 1; }
    [[ $(python3 -c 'import json, sys; d = json.load(sys.stdin); print(d["capture"], d["filter"])' <<<"$out") == "True icmp or icmp6" ]] ||
        { DETAIL="capture status --json lacks the filter: $(oneline "$out")"; return 1; }
    out=$(ctl capture stop 2>&1) || { DETAIL="capture stop: $(oneline "$out")"; return 1; }
    all=$(for f in in6 out4 in4 out6 drops; do tcpdump_read "$dir/$f.pcap"; done)
    if ! grep -q 'ICMP6, echo request' <<<"$all" || ! grep -q 'ICMP echo request' <<<"$all"; then
        DETAIL="no ICMP echo on both sides: $(oneline "$all")"
        return 1
    fi
    if grep -v 'ICMP' <<<"$all" | grep -q .; then
        DETAIL="non-ICMP packets captured: $(oneline "$(grep -v ICMP <<<"$all" | head -3)")"
        return 1
    fi
}

check_sigterm() {
    local pid=$NAT64D_PID i status problems=()
    if ! netns_pid_alive "$pid"; then
        if wait "$pid" 2>/dev/null; then status=0; else status=$?; fi
        DETAIL="nat64d was no longer running before SIGTERM (exit status $status)"
        return 1
    fi
    kill -TERM "$pid"
    for ((i = 0; i < SHUTDOWN_TIMEOUT * 10; i++)); do
        netns_pid_alive "$pid" || break
        sleep 0.1
    done
    if netns_pid_alive "$pid"; then
        problems+=("still running ${SHUTDOWN_TIMEOUT}s after SIGTERM (killed)")
        kill -KILL "$pid" 2>/dev/null || true
    fi
    if wait "$pid" 2>/dev/null; then status=0; else status=$?; fi
    ((status == 0)) || problems+=("exit status $status")
    if netns_tun_exists "$NAT64D_TUN"; then problems+=("TUN $NAT64D_TUN still exists in $NS_GW"); fi
    if [[ -n $CONTROL_SOCKET && -e $CONTROL_SOCKET ]]; then problems+=("control socket $CONTROL_SOCKET still exists"); fi
    if [[ -e /proc/$pid ]]; then problems+=("process $pid still present"); fi
    if ((${#problems[@]} == 0)); then return 0; fi
    DETAIL=$(IFS=';'; printf '%s' "${problems[*]}")
    return 1
}

# -------------------------------------------------------------------- main

if ((EUID != 0)); then
    echo "netns-test: must run as root" >&2
    exit 1
fi

case $MODE in
nat64d)
    if [[ -z ${NAT64D:-} ]]; then
        echo "netns-test: NAT64D not set, running swift build (debug)" >&2
        (cd "$REPO_ROOT" && swift build) >&2
        NAT64D="$(cd "$REPO_ROOT" && swift build --show-bin-path)/nat64d"
    fi
    ;;
tayga) ;;
*)
    echo "netns-test: unknown NETNS_TRANSLATOR '$MODE' (nat64d|tayga)" >&2
    exit 1
    ;;
esac

netns_setup
netns_start_servers

if [[ $MODE == tayga ]]; then
    netns_start_tayga
    check server-dns-direct check_server_dns_direct
    check ping-synthesized check_ping
    check http-by-address check_http_by_address
    check udp-through-translator check_udp_through
else
    if [[ ! -x $NAT64D ]]; then
        SKIP_REASON="nat64d binary not found or not executable: $NAT64D"
    else
        CONTROL_SOCKET=$NETNS_WORKDIR/control.sock
        start_nat64d_with_control
        if ! netns_wait_nat64d "$STARTUP_TIMEOUT"; then
            if ! netns_pid_alive "$NAT64D_PID"; then
                if wait "$NAT64D_PID" 2>/dev/null; then st=0; else st=$?; fi
                SKIP_REASON="nat64d exited during startup with status $st"
            fi
            # Still running but not ready: run the checks anyway for details.
        fi
    fi
    check dns64-synthesized-aaaa check_dns64_synth
    check dns64-real-aaaa check_dns64_real_aaaa
    check dns64-cname-chain check_dns64_cname
    check ping-synthesized check_ping
    check http-by-name check_http_by_name
    check udp-through-translator check_udp_through
    check dns64-acl-refused check_acl_refused
    check control-socket-stats-sessions check_control_socket
    check packets-on-every-queue check_queues
    check udp-gso-transfer-hash check_udp_gso
    check prometheus-metrics check_metrics
    check capture-http-both-sides check_capture_http
    check capture-filter-icmp-only check_capture_filter
    check sigterm-shutdown check_sigterm
fi

# Tear down before the summary so the summary is the last line printed.
if ((FAILED > 0)); then netns_show_log "$MODE"; fi
netns_checks_done
