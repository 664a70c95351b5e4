#!/usr/bin/env bash
# End-to-end test of port forwards by translation (`translator.forward`, static BIB entries, conformance S13) in
# network namespaces: IPv4-only clients reach services on an IPv6-only host through ports of a pool4 address,
# translated (not proxied), so the host sees each client's own IPv4 address under the NAT64 prefix. Must run as
# root. About 30 s.
#
#   NAT64D=/path/to/nat64d scripts/netns-forward-test.sh
#   NAT64D_FAST_PATH=1 scripts/netns-forward-test.sh    # the same with [fast-path] on both of the gateway's links
#   scripts/netns-forward-test.sh                        # swift build (debug) first
#
# Knobs: NAT64D_LOG_LEVEL=debug, NETNS_KEEP_WORKDIR=1, NAT64D_FAST_PATH=1.
#
# Topology (documentation addresses only; nothing routes out of the namespaces):
#
#   client (IPv4 only)             gateway (nat64d, napt)                backend (IPv6 only)
#   198.51.100.7/24  <---------->  198.51.100.1/24  veth-client
#   192.0.2.0/24 via .1            2001:db8:a::1/64 veth-backend <---->  2001:db8:a::10/64, default via ::1
#                                  TUN: 2001:db8:64::/96, pool4 192.0.2.1 sshd :22, iperf3 :5201, a small python
#                                                                        server: TCP :8080 :8081, UDP :5353 :5354
# Forwards: tcp 192.0.2.1:2222 -> :22, tcp :5201 -> :5201, udp :5353 -> :5353, tcp :8080 -> :8080; the reload
# check drops :8080 and adds tcp :8081 -> :8081. The backend's python server answers each TCP connection and UDP
# datagram with the peer address it saw (TCP: "tcp PORT PEER", UDP: "udp PEER PEERPORT PAYLOAD").
#
# Checks: ssh (a key made here) runs a command on the backend through POOL4:2222; the backend sees the client
# as 2001:db8:64::c633:6407 ($SSH_CLIENT, sshd's log, the python server); 3 s of iperf3 through a TCP forward;
# UDP through a forward from three source ports, each answered with its own address and port; `ctl bib --json`
# lists every forward active with its sessions; pool4 ports without a forward (TCP :22, where the backend
# listens, and UDP :5354) reach nothing; a reload that removes one forward and adds another (the new one
# answers, the removed one takes no new connection, an ssh session across the reload is undisturbed). With
# NAT64D_FAST_PATH=1 also: the program is loaded and carried most of the iperf3 bytes.
#
# Prints `PASS name` / `FAIL name: detail` per check, then `N passed, N failed` as the last line; exits
# non-zero if anything failed. Everything is torn down on any exit.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/netns-lib.sh
source "$SCRIPT_DIR/netns-lib.sh"
CMD_TIMEOUT=30 # s, cap on any one command (read by netns-checks.sh)
# shellcheck source=scripts/netns-checks.sh
source "$SCRIPT_DIR/netns-checks.sh"
netns_checks_on_abort() {
    netns_show_log nat64d 60
    netns_show_log backend 20
}

PY=/usr/bin/python3 # Debian's python3
netns_preflight netns-forward-test ssh /usr/sbin/sshd ssh-keygen iperf3
[[ -x $PY ]] || { echo "netns-forward-test: $PY not found" >&2; exit 1; }
netns_resolve_nat64d netns-forward-test

NS_BACKEND="n64fb-$NETNS_ID"
CLIENT4=198.51.100.7
CLIENT_SYNTH6=2001:db8:64::c633:6407 # 2001:db8:64::198.51.100.7: the client as the backend sees it
B6=2001:db8:a::10
B6_GW=2001:db8:a::1
POOL4=$POOL4_ADDR # 192.0.2.1
IPERF_SECONDS=3
# The gateway's links, as netns_nat64d_config_head names them in [fast-path] (NAT64D_FAST_PATH=1), and its own
# IPv6 address ([gateway] ipv6) on this topology.
IF_GW_CLIENT=veth-client
IF_GW_SERVER=veth-backend
GW_ADDR6=$B6_GW

FWD_SSH="tcp $POOL4:2222 [$B6]:22"
FWD_IPERF="tcp $POOL4:5201 [$B6]:5201"
FWD_UDP="udp $POOL4:5353 [$B6]:5353"
FWD_OLD="tcp $POOL4:8080 [$B6]:8080" # removed by the reload
FWD_NEW="tcp $POOL4:8081 [$B6]:8081" # added by the reload

backend() { in_ns "$NS_BACKEND" "$@"; }

# ------------------------------------------------------------------ setup

netns_init_workdir
D=$NETNS_WORKDIR
CONTROL_SOCKET=$D/control.sock
netns_log "namespaces: client=$NS_CLIENT gateway=$NS_GW backend=$NS_BACKEND workdir=$D"
for ns in "$NS_CLIENT" "$NS_GW" "$NS_BACKEND"; do netns_add "$ns"; done
ip netns exec "$NS_CLIENT" sysctl -q -w net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
ip -n "$NS_CLIENT" link add veth-gw type veth peer name "$IF_GW_CLIENT" netns "$NS_GW"
ip -n "$NS_BACKEND" link add veth-gw type veth peer name "$IF_GW_SERVER" netns "$NS_GW"
in_gw sysctl -q -w net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 \
    net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
ip -n "$NS_CLIENT" addr add "$CLIENT4/24" dev veth-gw
ip -n "$NS_GW" addr add "$GW_ADDR4/24" dev "$IF_GW_CLIENT"
ip -n "$NS_GW" addr add "$B6_GW/64" dev "$IF_GW_SERVER" nodad
ip -n "$NS_BACKEND" addr add "$B6/64" dev veth-gw nodad
for pair in "$NS_CLIENT veth-gw" "$NS_GW $IF_GW_CLIENT" "$NS_GW $IF_GW_SERVER" "$NS_BACKEND veth-gw"; do
    read -r ns dev <<<"$pair"
    ip -n "$ns" link set "$dev" up
done
# The client reaches pool4 through the gateway; the backend's replies (to the NAT64 prefix) take its default
# route, the gateway. Neither the gateway nor anything else has a route out.
ip -n "$NS_CLIENT" route add "$POOL4_NET" via "$GW_ADDR4" dev veth-gw
ip -n "$NS_BACKEND" -6 route add default via "$B6_GW" dev veth-gw
for ns in "$NS_GW" "$NS_BACKEND"; do netns_wait_dad "$ns"; done

# sshd on the backend, with a host key and a client key made here.
SSH_MARKER="hello over ssh from the IPv6-only backend ($NETNS_ID)"
netns_start_sshd "$NS_BACKEND" "$B6" "$D/ssh" "$SSH_MARKER"
netns_start_bg "$NS_BACKEND" iperf3-server iperf3 -s -B "$B6" -p 5201

# The backend's answering server: each TCP connection and each UDP datagram is answered with the peer it saw.
cat >"$D/backend.py" <<'EOF'
import socket, sys, threading
addr = sys.argv[1]
def tcp(port):
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    s.listen(64)
    while True:
        c, peer = s.accept()
        try:
            c.sendall(f"tcp {port} {peer[0]}\n".encode())
        finally:
            c.close()
def udp(port):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.bind((addr, port))
    while True:
        data, peer = s.recvfrom(2048)
        s.sendto(f"udp {peer[0]} {peer[1]} ".encode() + data, peer)
threads = [threading.Thread(target=tcp, args=(p,), daemon=True) for p in (8080, 8081)]
threads += [threading.Thread(target=udp, args=(p,), daemon=True) for p in (5353, 5354)]
for t in threads: t.start()
print("ready", flush=True)
for t in threads: t.join()
EOF
netns_start_bg "$NS_BACKEND" backend "$PY" -u "$D/backend.py" "$B6"

# A TCP client: prints the first line the server sends, or fails (status 1) within TIMEOUT seconds.
cat >"$D/tcpline.py" <<'EOF'
import socket, sys
host, port, timeout = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
try:
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.settimeout(timeout)
        print(s.makefile().readline().strip())
except OSError as e:
    print(f"no connection: {e}")
    sys.exit(1)
EOF
# A UDP client: from each source port given, sends "ping-PORT" to HOST:PORT and prints each answer (or "none").
cat >"$D/udpask.py" <<'EOF'
import socket, sys
host, port, timeout = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
for sport in map(int, sys.argv[4:]):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("0.0.0.0", sport))
        s.settimeout(timeout)
        s.sendto(f"ping-{sport}".encode(), (host, port))
        try:
            print(s.recvfrom(2048)[0].decode())
        except socket.timeout:
            print("none")
EOF

# write_config FORWARD...: the nat64d config with these forwards in [translator].
write_config() {
    local list="" f
    for f in "$@"; do list+="${list:+, }\"$f\""; done
    {
        echo "# generated by scripts/netns-forward-test.sh"
        netns_nat64d_config_head | sed "s/^\[translator\]$/[translator]\nforward = [${list//\//\\/}]/"
        cat <<EOF

[control]
socket = "$CONTROL_SOCKET"

[log]
level = "${NAT64D_LOG_LEVEL:-info}"
EOF
    } >"$D/nat64d.toml.new"
    mv "$D/nat64d.toml.new" "$D/nat64d.toml"
}
write_config "$FWD_SSH" "$FWD_IPERF" "$FWD_UDP" "$FWD_OLD"
if ! out=$("$NAT64D" check-config "$D/nat64d.toml" 2>&1); then
    netns_log "check-config refused the forwards (is translator.forward in this nat64d build?): $(oneline "$out")"
    exit 1
fi
netns_start_translator nat64d "$NAT64D" run --config "$D/nat64d.toml"
NAT64D_PID=$NETNS_TRANSLATOR_PID

ctl() { timeout -k 2 "$CMD_TIMEOUT" "$NAT64D" ctl --socket "$CONTROL_SOCKET" "$@"; }
# forwards: `ctl bib --json`'s "forwards", one line each: PROTOCOL OUTSIDE INSIDE ACTIVE SESSIONS (sorted).
forwards() {
    ctl bib --json | "$PY" -c '
import json, sys
for f in sorted(json.load(sys.stdin)["forwards"], key=lambda f: (f["protocol"], f["outside"])):
    print(f["protocol"], f["outside"], f["inside"], str(f["active"]).lower(), f["sessions"])'
}
# all_active N: ctl bib lists N forwards, all active.
all_active() {
    local out
    out=$(forwards) || return 1
    [[ $(grep -c ' true [0-9]*$' <<<"$out") == "$1" && $(wc -l <<<"$out") == "$1" ]]
}
# metric SERIES: one value of `ctl stats --json`'s "metrics" (the /metrics series), 0 when absent.
metric() {
    ctl stats --json | "$PY" -c 'import json, sys; print(json.load(sys.stdin)["metrics"].get(sys.argv[1], 0))' "$1"
}

netns_wait_until 15 all_active 4 || {
    netns_log "the forwards are not active after 15 s: $(oneline "$(forwards 2>&1)")"
    exit 1
}
netns_wait_until 10 backend bash -c "exec 3<>/dev/tcp/$B6/22" || netns_log "sshd not up yet"
netns_wait_until 10 grep -q ready "$D/backend.log" || netns_log "the backend's python server not up yet"
netns_wait_until 10 backend bash -c "exec 3<>/dev/tcp/$B6/5201" || netns_log "iperf3 not up yet"
netns_log "nat64d up with 4 forwards on $POOL4${NAT64D_FAST_PATH:+ (fast path on)}"

ssh_fwd() { # ssh to the backend through POOL4:2222, running "$@" there
    client ssh -i "$D/ssh/client_key" -p 2222 -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
        -o BatchMode=yes -o ConnectTimeout=5 -o LogLevel=ERROR "root@$POOL4" "$@"
}
tcpline() { client "$PY" "$D/tcpline.py" "$POOL4" "$1" "${2:-3}"; } # PORT [TIMEOUT]: via the pool4 address

# ------------------------------------------------------------------ checks

check_ssh() {
    local out
    out=$(ssh_fwd cat "$D/ssh/marker" 2>&1) || { DETAIL="ssh: $(oneline "$out")"; return 1; }
    [[ $out == "$SSH_MARKER" ]] || { DETAIL="output: $(oneline "$out")"; return 1; }
}

# The backend sees the client's own IPv4 address under the NAT64 prefix: in the ssh session's environment, in
# sshd's log and as the peer of a plain TCP connection, with the client's source port kept.
check_client_address() {
    local out
    # shellcheck disable=SC2016 # $SSH_CLIENT is the backend's
    out=$(ssh_fwd 'echo $SSH_CLIENT' 2>&1) || { DETAIL="ssh: $(oneline "$out")"; return 1; }
    [[ $out == "$CLIENT_SYNTH6 "*" 22" ]] || { DETAIL="SSH_CLIENT on the backend: $(oneline "$out"), want $CLIENT_SYNTH6 PORT 22"; return 1; }
    grep -q "Accepted publickey for root from $CLIENT_SYNTH6 port " "$D/sshd.log" ||
        { DETAIL="sshd's log: $(oneline "$(grep -i accepted "$D/sshd.log" | tail -2)")"; return 1; }
    out=$(tcpline 8080 2>&1) || { DETAIL="TCP to $POOL4:8080: $(oneline "$out")"; return 1; }
    [[ $out == "tcp 8080 $CLIENT_SYNTH6" ]] || { DETAIL="the backend's server saw: $(oneline "$out")"; return 1; }
}

IPERF_BYTES=0
check_iperf() {
    local out bps
    out=$(client iperf3 -c "$POOL4" -p 5201 -t "$IPERF_SECONDS" -J 2>&1) || { DETAIL="iperf3: $(oneline "$out")"; return 1; }
    read -r IPERF_BYTES bps < <("$PY" -c '
import json, sys
e = json.loads(sys.argv[1])["end"]["sum_received"]
print(int(e["bytes"]), int(e["bits_per_second"]))' "$out" 2>/dev/null) || { DETAIL="iperf3 JSON: $(oneline "$out")"; return 1; }
    netns_log "iperf3 through $FWD_IPERF: $((bps / 1000000)) Mbit/s, $IPERF_BYTES bytes"
    ((IPERF_BYTES > 1000000 && bps > 0)) || { DETAIL="iperf3 received $IPERF_BYTES bytes at $bps bit/s"; return 1; }
}

FP_IN_BYTES='nat64d_fastpath_bytes_total{direction="4to6"}'
FP_BEFORE=0
check_fastpath_loaded() {
    local out
    out=$(metric nat64d_fastpath_enabled 2>&1) || { DETAIL="ctl stats: $(oneline "$out")"; return 1; }
    [[ $out == 1 ]] || { DETAIL="nat64d_fastpath_enabled is $out, expected 1"; return 1; }
    FP_BEFORE=$(metric "$FP_IN_BYTES")
}
# After check_iperf: the program carried most of the upload (client to backend is IPv4 to IPv6): all but the
# flow's first 20 ms and its control connection.
check_fastpath_carried() {
    local after
    after=$(metric "$FP_IN_BYTES") || { DETAIL="ctl stats failed"; return 1; }
    netns_log "fast path carried $((after - FP_BEFORE)) bytes 4to6 of iperf3's $IPERF_BYTES"
    ((IPERF_BYTES > 0 && (after - FP_BEFORE) * 2 >= IPERF_BYTES)) ||
        { DETAIL="the program carried $((after - FP_BEFORE)) bytes 4to6 of iperf3's $IPERF_BYTES"; return 1; }
}

UDP_PORTS=(41001 41002 41003)
check_udp() {
    local out want="" p
    for p in "${UDP_PORTS[@]}"; do want+="udp $CLIENT_SYNTH6 $p ping-$p"$'\n'; done
    out=$(client "$PY" "$D/udpask.py" "$POOL4" 5353 2 "${UDP_PORTS[@]}" 2>&1) || { DETAIL="udpask: $(oneline "$out")"; return 1; }
    [[ $out == "${want%$'\n'}" ]] || { DETAIL="answers: $(oneline "$out")"; return 1; }
}

# Every forward listed and active; sessions: the UDP one has exactly the three from check_udp, :8080 the one
# connection of check_client_address, iperf3 its two (control and data), ssh at least one.
check_bib_json() {
    local out want line
    out=$(forwards 2>&1) || { DETAIL="ctl bib --json: $(oneline "$out")"; return 1; }
    line=$(grep -F "tcp $POOL4:2222 [$B6]:22 true " <<<"$out" || true)
    [[ ${line##* } =~ ^[1-9][0-9]*$ ]] || { DETAIL="ssh forward not active with sessions: $(oneline "$out")"; return 1; }
    want="tcp $POOL4:5201 [$B6]:5201 true 2
tcp $POOL4:8080 [$B6]:8080 true 1
udp $POOL4:5353 [$B6]:5353 true ${#UDP_PORTS[@]}"
    [[ $(grep -v ':2222 ' <<<"$out") == "$want" ]] || { DETAIL="forwards: $(oneline "$out"); want also: $(oneline "$want")"; return 1; }
    # The same on /metrics (through ctl stats --json): 4 active, none waiting.
    local active waiting
    active=$(metric 'nat64d_forwards{state="active"}') && waiting=$(metric 'nat64d_forwards{state="waiting"}') ||
        { DETAIL="ctl stats --json failed"; return 1; }
    [[ $active == 4 && $waiting == 0 ]] || { DETAIL="nat64d_forwards: active $active, waiting $waiting (want 4, 0)"; return 1; }
}

# Pool4 ports without a forward reach nothing: TCP :22 (the backend's sshd listens on 22, reached as :2222) and
# UDP :5354 (the backend's server answers on 5354, which no forward names). Bounded: 3 s and 2 s.
check_unforwarded() {
    local out t0 t1
    out=$(client timeout 3 bash -c "exec 3<>/dev/tcp/$POOL4/2222; head -c 4 <&3" 2>&1) ||
        { DETAIL="control: no banner through $POOL4:2222: $(oneline "$out")"; return 1; }
    [[ $out == SSH- ]] || { DETAIL="control: $POOL4:2222 sent $(oneline "$out")"; return 1; }
    t0=$(date +%s%N)
    if out=$(client timeout 3 bash -c "exec 3<>/dev/tcp/$POOL4/22; head -c 4 <&3" 2>&1); then
        DETAIL="$POOL4:22 (no forward) answered: $(oneline "$out")"
        return 1
    fi
    t1=$(date +%s%N)
    (((t1 - t0) / 1000000 < 5000)) || { DETAIL="the refused connection took $(((t1 - t0) / 1000000)) ms"; return 1; }
    out=$(client "$PY" "$D/udpask.py" "$POOL4" 5354 2 41010 2>&1) || { DETAIL="udpask: $(oneline "$out")"; return 1; }
    [[ $out == none ]] || { DETAIL="UDP $POOL4:5354 (no forward) answered: $(oneline "$out")"; return 1; }
}

# A reload drops tcp :8080 and adds tcp :8081 while an ssh session runs through :2222.
RELOADED=0
check_reload() {
    local out pid
    ssh_fwd "sleep 3; cat $D/ssh/marker" >"$D/ssh-during-reload.out" 2>&1 &
    pid=$!
    sleep 1
    write_config "$FWD_SSH" "$FWD_IPERF" "$FWD_UDP" "$FWD_NEW"
    out=$(ctl reload --json 2>&1) || { DETAIL="ctl reload: $(oneline "$out")"; kill "$pid" 2>/dev/null; return 1; }
    RELOADED=1
    "$PY" -c 'import json, sys; o = json.loads(sys.argv[1]); sys.exit(0 if o["changed"] and not any("forward" in k for k in o["kept"]) else 1)' "$out" ||
        { DETAIL="reload outcome (forward must be live): $(oneline "$out")"; kill "$pid" 2>/dev/null; return 1; }
    netns_wait_until 5 all_active 4 || { DETAIL="after the reload: $(oneline "$(forwards 2>&1)")"; kill "$pid" 2>/dev/null; return 1; }
    out=$(forwards 2>&1)
    [[ $out == *"tcp $POOL4:8081 [$B6]:8081 true"* && $out != *":8080 "* ]] ||
        { DETAIL="forwards after the reload: $(oneline "$out")"; kill "$pid" 2>/dev/null; return 1; }
    if wait "$pid"; then :; else
        DETAIL="the ssh session across the reload: status $?, $(oneline "$(cat "$D/ssh-during-reload.out")")"
        return 1
    fi
    [[ $(cat "$D/ssh-during-reload.out") == "$SSH_MARKER" ]] ||
        { DETAIL="the ssh session across the reload: $(oneline "$(cat "$D/ssh-during-reload.out")")"; return 1; }
}

check_reload_added() {
    local out
    ((RELOADED)) || { DETAIL="no reload"; return 1; }
    out=$(tcpline 8081 2>&1) || { DETAIL="TCP to $POOL4:8081: $(oneline "$out")"; return 1; }
    [[ $out == "tcp 8081 $CLIENT_SYNTH6" ]] || { DETAIL="the backend's server saw: $(oneline "$out")"; return 1; }
    out=$(forwards 2>&1)
    [[ $out == *"tcp $POOL4:8081 [$B6]:8081 true 1"* ]] || { DETAIL="forwards: $(oneline "$out")"; return 1; }
    ADDED_OK=1
}

# The removed forward had one (closed) connection before the reload; a new connection after it must not reach
# the backend, also while that old session may still be in the table (tcp-transitory-timeout). Only meaningful
# when the added forward answered just before (the same path, the same backend server).
ADDED_OK=0
check_reload_removed() {
    local out t0 t1
    ((RELOADED && ADDED_OK)) || { DETAIL="the reload or its added forward failed: nothing to compare with"; return 1; }
    t0=$(date +%s%N)
    if out=$(tcpline 8080 3 2>&1); then
        DETAIL="$POOL4:8080 still answered after its forward was removed: $(oneline "$out"); ctl bib: $(oneline "$(ctl bib 2>&1 | grep ':8080' | head -3)")"
        return 1
    fi
    t1=$(date +%s%N)
    (((t1 - t0) / 1000000 < 5000)) || { DETAIL="the refused connection took $(((t1 - t0) / 1000000)) ms"; return 1; }
}

if [[ -n ${NAT64D_FAST_PATH:-} ]]; then check "fast path: the program is loaded" check_fastpath_loaded; fi
check "ssh through tcp $POOL4:2222 runs a command on the IPv6-only backend" check_ssh
check "the backend sees the client as $CLIENT_SYNTH6 (SSH_CLIENT, sshd log, TCP peer)" check_client_address
check "iperf3 ${IPERF_SECONDS} s through tcp $POOL4:5201" check_iperf
if [[ -n ${NAT64D_FAST_PATH:-} ]]; then check "fast path: the program carried most of the iperf3 upload" check_fastpath_carried; fi
check "UDP through udp $POOL4:5353 from three source ports, each answered" check_udp
check "ctl bib --json and /metrics: every forward active, with its sessions" check_bib_json
check "pool4 ports without a forward reach nothing (TCP :22, UDP :5354)" check_unforwarded
check "reload: forwards replaced live, an ssh session across it undisturbed" check_reload
check "reload: the added forward ($FWD_NEW) answers" check_reload_added
check "reload: the removed forward ($FWD_OLD) takes no new connection" check_reload_removed
check "ssh through the forward after the reload" check_ssh
if ! netns_pid_alive "$NAT64D_PID"; then fail "nat64d still running" "it exited"; else pass "nat64d still running"; fi

if ((FAILED > 0)); then
    netns_show_log nat64d 60
    netns_show_log sshd 20
    netns_show_log backend 20
fi
netns_checks_done
