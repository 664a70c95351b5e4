#!/usr/bin/env bash
# End-to-end test of nat64d's inbound proxy ([proxy], Sources/InboundProxy) in network namespaces: IPv4-only
# clients reach two IPv6-only hosts through one shared IPv4 address. Must run as root.
#
#   NAT64D=/path/to/nat64d bash scripts/netns-proxy-test.sh   # use this binary
#   bash scripts/netns-proxy-test.sh                          # swift build (debug) first
#
# Topology (documentation addresses only; nothing routes out of the namespaces):
#
#   client (IPv4 only)        gateway (nat64d, the proxy)                backend A / backend B (IPv6 only)
#   198.51.100.2/24  <---->   198.51.100.1/24 (the shared address)
#                             2001:db8:a::1/64  <------------------->   2001:db8:a::10  nginx :443 :80, sshd :22
#                             2001:db8:b::1/64  <------------------->   2001:db8:b::10  nginx :443 :80
#
# nginx serves TLS with certificates this script makes with openssl, behind `listen ... proxy_protocol`, and
# logs `$proxy_protocol_addr`. Checks: HTTPS by SNI to site-a (PROXY v2) and site-b (v1, wildcard too) on the
# one IPv4 address, with the client's IPv4 address in each access log; plain HTTP by Host (X-Forwarded-For,
# PROXY v1); an unknown name refused and counted; ssh through a port forward to sshd on backend A, and 16 MiB
# each way through it with equal SHA-256 hashes, spliced (splice(2), counted in ctl); backend A
# killed and its traffic on the shared route moved to B within the health interval; 2,000 clients that never
# finish a ClientHello do not stop a normal request, and are cut at the handshake timeout. Counters come from
# `nat64d ctl proxy --json` and `ctl stats`. With NAT64D_PROXY_OFFLOAD=1 ([proxy] offload, Offload.swift) the
# same checks run with connections handed to the kernel, plus a 32 MiB HTTPS download the kernel carries, the
# same with 16 MiB up through ssh under 1 % loss both ways, and the offload counters.
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
netns_checks_on_abort() { netns_show_log nat64d 60; }

netns_preflight netns-proxy-test nginx openssl curl ssh /usr/sbin/sshd python3
netns_resolve_nat64d netns-proxy-test

NS_A="n64pa-$NETNS_ID"
NS_B="n64pb-$NETNS_ID"
SHARED4=$GW_ADDR4 # 198.51.100.1: the one IPv4 address every site is reached on
CLIENT4=198.51.100.2
A6=2001:db8:a::10
B6=2001:db8:b::10
SLOW_CLIENTS=${SLOW_CLIENTS:-2000}
HANDSHAKE_MS=3000
HEALTH_MS=1000

# ------------------------------------------------------------------ setup

netns_init_workdir
D=$NETNS_WORKDIR
CONTROL_SOCKET=$D/control.sock
netns_log "namespaces: client=$NS_CLIENT gateway=$NS_GW backends=$NS_A,$NS_B workdir=$D"
for ns in "$NS_CLIENT" "$NS_GW" "$NS_A" "$NS_B"; do netns_add "$ns"; done
ip netns exec "$NS_CLIENT" sysctl -q -w net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
ip -n "$NS_CLIENT" link add veth-gw type veth peer name veth-client netns "$NS_GW"
ip -n "$NS_A" link add veth-gw type veth peer name veth-a netns "$NS_GW"
ip -n "$NS_B" link add veth-gw type veth peer name veth-b netns "$NS_GW"
ip -n "$NS_CLIENT" addr add "$CLIENT4/24" dev veth-gw
ip -n "$NS_GW" addr add "$SHARED4/24" dev veth-client
ip -n "$NS_GW" addr add 2001:db8:a::1/64 dev veth-a nodad
ip -n "$NS_GW" addr add 2001:db8:b::1/64 dev veth-b nodad
ip -n "$NS_A" addr add "$A6/64" dev veth-gw nodad
ip -n "$NS_B" addr add "$B6/64" dev veth-gw nodad
for pair in "$NS_CLIENT veth-gw" "$NS_GW veth-client" "$NS_GW veth-a" "$NS_GW veth-b" "$NS_A veth-gw" "$NS_B veth-gw"; do
    read -r ns dev <<<"$pair"
    ip -n "$ns" link set "$dev" up
done
for ns in "$NS_GW" "$NS_A" "$NS_B"; do netns_wait_dad "$ns"; done
# The kernel's route lookups for spliced segments need forwarding on, as on any gateway. The client's link is
# narrower than the backends' (1400 against 1500 bytes), so that spliced segments fit it only because the
# backend connection announces the client's MSS (IP-O5).
if [[ -n ${NAT64D_PROXY_OFFLOAD:-} ]]; then
    ip netns exec "$NS_GW" sysctl -q -w net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
    ip -n "$NS_CLIENT" link set veth-gw mtu 1400
    ip -n "$NS_GW" link set veth-client mtu 1400
fi

# Certificates: one per backend; pool.example is on both (the shared route).
openssl_cert() { # NAME SAN
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
        -keyout "$D/$1.key" -out "$D/$1.crt" -subj "/CN=$1" -addext "subjectAltName=$2" 2>/dev/null
}
openssl_cert site-a "DNS:site-a.example,DNS:pool.example"
openssl_cert site-b "DNS:site-b.example,DNS:*.site-b.example,DNS:pool.example"
cat "$D/site-a.crt" "$D/site-b.crt" >"$D/ca.pem"

# nginx_config NAME ADDR6 GW6 HTTP_LISTEN_EXTRA HTTP_BODY
nginx_config() {
    local n=$1 addr=$2 gw=$3 http_extra=$4 http_body=$5 d=$D/nginx-$1
    mkdir -p "$d"
    {
        echo "# generated by scripts/netns-proxy-test.sh"
        netns_nginx_head "$d" 512
    } >"$d/nginx.conf"
    cat >>"$d/nginx.conf" <<EOF
    log_format pp '\$proxy_protocol_addr \$remote_addr \$ssl_server_name "\$request" xff=\$http_x_forwarded_for';
    access_log $d/access.log pp;
    default_type text/plain;
    set_real_ip_from $gw;
    server {
        listen [$addr]:443 ssl proxy_protocol;
        ssl_certificate $D/site-$n.crt;
        ssl_certificate_key $D/site-$n.key;
        real_ip_header proxy_protocol;
        location / { return 200 "backend-$n \$remote_addr\n"; }
        location = /big.bin { root $D; }
    }
    server {
        listen [$addr]:80 $http_extra;
        location / { return 200 "$http_body\n"; }
    }
}
EOF
}
nginx_config a "$A6" 2001:db8:a::1 "" "backend-a http xff=\$http_x_forwarded_for"
nginx_config b "$B6" 2001:db8:b::1 "proxy_protocol" "backend-b http pp=\$proxy_protocol_addr"
start_nginx() { # NAME NS
    local d=$D/nginx-$1
    ip netns exec "$2" nginx -t -q -e "$d/error.log" -p "$d" -c "$d/nginx.conf"
    netns_start_bg "$2" "nginx-$1" nginx -e "$d/error.log" -p "$d" -c "$d/nginx.conf"
}
start_nginx a "$NS_A"
NGINX_A_PID=$NETNS_LAST_PID
start_nginx b "$NS_B"

# sshd on backend A, with a host key and a client key made here.
SSH_MARKER="hello over ssh from backend A ($NETNS_ID)"
netns_start_sshd "$NS_A" "$A6" "$D/ssh" "$SSH_MARKER"

# nat64d with the proxy on the shared address (its TUN and translator run too; the proxy does not use them).
# NAT64D_PROXY_OFFLOAD=1: the proxy hands its connections to the in-kernel fast path ([proxy] offload), each
# as soon as it is routed, or once it has moved NAT64D_PROXY_OFFLOAD_AFTER bytes (offload-after).
OFFLOAD=${NAT64D_PROXY_OFFLOAD:-}
OFFLOAD_KEY=false
[[ -z $OFFLOAD ]] || OFFLOAD_KEY=true
{
    echo "# generated by scripts/netns-proxy-test.sh"
    NAT64D_FAST_PATH='' netns_nat64d_config_head
    if [[ -n $OFFLOAD ]]; then
        printf '\n[fast-path]\ninterfaces = ["veth-client", "veth-a", "veth-b"]\n'
    fi
    cat <<EOF

[control]
socket = "$CONTROL_SOCKET"

[proxy]
offload = $OFFLOAD_KEY
offload-after = ${NAT64D_PROXY_OFFLOAD_AFTER:-0}
max-connections = 5000
max-connections-per-client = 4000
handshake-timeout-ms = $HANDSHAKE_MS
down-time = 30
health-check-interval-ms = $HEALTH_MS

[proxy.listeners.https]
listen = ["$SHARED4:443"]
mode = "tls"
routes = ["site-a", "site-b", "pool"]

[proxy.listeners.http]
listen = ["$SHARED4:80"]
mode = "http"
routes = ["site-a-http", "site-b-http"]

[proxy.listeners.ssh-a]
listen = ["$SHARED4:2201"]
mode = "tcp"
route = "ssh-a"

[proxy.routes.site-a]
names = ["site-a.example"]
backends = ["[$A6]:443"]
proxy-protocol = "v2"

[proxy.routes.site-b]
names = ["site-b.example", "*.site-b.example"]
backends = ["[$B6]:443"]
proxy-protocol = "v1"

[proxy.routes.pool]
names = ["pool.example"]
backends = ["[$A6]:443", "[$B6]:443"]
proxy-protocol = "v2"

[proxy.routes.site-a-http]
names = ["site-a.example"]
backends = ["[$A6]:80"]
forwarded = true

[proxy.routes.site-b-http]
names = ["site-b.example"]
backends = ["[$B6]:80"]
proxy-protocol = "v1"

[proxy.routes.ssh-a]
backends = ["[$A6]:22"]
EOF
} >"$D/nat64d.toml"
"$NAT64D" check-config "$D/nat64d.toml" >/dev/null
# 2,000 held connections plus relays need more descriptors than the usual soft limit of 1024.
hard=$(ulimit -Hn)
if [[ $hard == unlimited ]] || ((hard > 65536)); then hard=65536; fi
ulimit -n "$hard"
netns_start_translator nat64d "$NAT64D" run --config "$D/nat64d.toml"
NAT64D_PID=$NETNS_TRANSLATOR_PID

ctl() { timeout 10 "$NAT64D" ctl --socket "$CONTROL_SOCKET" "$@"; }
# json EXPR: evaluates a Python expression over `ctl proxy --json` (bound to p); prints the result.
json() {
    ctl proxy --json | python3 -c 'import json,sys; p=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"
}
route_json() { json "[r for r in p['routes'] if r['name']=='$1'][0]$2"; }

up() { ip netns exec "$NS_CLIENT" curl -fsS --max-time 1 -o /dev/null "http://$SHARED4:80/" -H 'Host: site-a.example'; }
netns_wait_until 15 up || {
    netns_show_log nat64d 40
    netns_show_log nginx-a 20
    netns_log "the proxy did not answer on $SHARED4:80"
    exit 1
}
netns_wait_until 10 ip netns exec "$NS_A" bash -c "exec 3<>/dev/tcp/$A6/22" || netns_log "sshd not up yet"

https() { # NAME [curl options...]: GET https://NAME/ on the shared address, printing the body
    local name=$1
    shift
    client curl -fsS --max-time 5 --cacert "$D/ca.pem" --resolve "$name:443:$SHARED4" "$@" "https://$name/"
}
http() { # NAME: GET http://NAME/ on the shared address
    client curl -fsS --max-time 5 --resolve "$1:80:$SHARED4" "http://$1/"
}

# ------------------------------------------------------------------ checks

check_sni_site_a() {
    local out
    out=$(https site-a.example 2>&1) || { DETAIL="curl: $(oneline "$out")"; return 1; }
    [[ $out == "backend-a $CLIENT4" ]] || { DETAIL="answer: $(oneline "$out")"; return 1; }
    grep -q "^$CLIENT4 $CLIENT4 site-a.example \"GET / HTTP/1.1\"" "$D/nginx-a/access.log" || {
        DETAIL="backend A's access log has no line with the client's address: $(oneline "$(tail -3 "$D/nginx-a/access.log")")"
        return 1
    }
}

check_sni_site_b() {
    local out
    out=$(https site-b.example 2>&1) || { DETAIL="curl: $(oneline "$out")"; return 1; }
    [[ $out == "backend-b $CLIENT4" ]] || { DETAIL="answer: $(oneline "$out")"; return 1; }
    out=$(https www.site-b.example 2>&1) || { DETAIL="wildcard: curl: $(oneline "$out")"; return 1; }
    [[ $out == "backend-b $CLIENT4" ]] || { DETAIL="wildcard answer: $(oneline "$out")"; return 1; }
    grep -q "^$CLIENT4 $CLIENT4 www.site-b.example " "$D/nginx-b/access.log" || {
        DETAIL="backend B's access log: $(oneline "$(tail -3 "$D/nginx-b/access.log")")"
        return 1
    }
}

check_http_host() {
    local a b
    a=$(http site-a.example 2>&1) || { DETAIL="site-a: $(oneline "$a")"; return 1; }
    b=$(http site-b.example 2>&1) || { DETAIL="site-b: $(oneline "$b")"; return 1; }
    [[ $a == "backend-a http xff=$CLIENT4" && $b == "backend-b http pp=$CLIENT4" ]] || {
        DETAIL="answers: $(oneline "$a") / $(oneline "$b")"
        return 1
    }
}

check_unknown_name_refused() {
    local before after out
    before=$(json "p['counters']['refused.unknown-name']")
    if out=$(https unknown.example 2>&1); then
        DETAIL="an unknown name was answered: $(oneline "$out")"
        return 1
    fi
    after=$(json "p['counters']['refused.unknown-name']")
    ((after == before + 1)) || { DETAIL="refused.unknown-name went from $before to $after"; return 1; }
    if out=$(client curl -fsS --max-time 5 --resolve "nohost.example:80:$SHARED4" "http://nohost.example/" 2>&1); then
        DETAIL="an unknown Host was answered: $(oneline "$out")"
        return 1
    fi
}

check_ssh_forward() {
    local out
    out=$(client ssh -i "$D/ssh/client_key" -p 2201 -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
        -o BatchMode=yes -o ConnectTimeout=5 -o LogLevel=ERROR "root@$SHARED4" cat "$D/ssh/marker" 2>&1) || {
        DETAIL="ssh: $(oneline "$out")"
        return 1
    }
    [[ $out == "$SSH_MARKER" ]] || { DETAIL="output: $(oneline "$out")"; return 1; }
    [[ $(route_json ssh-a "['connections']") -ge 1 ]] || { DETAIL="route ssh-a counted no connection"; return 1; }
}

# 16 MiB each way through the SSH forward (ssh streams them inside its encrypted channel, so a lost,
# duplicated or reordered byte breaks the session or the hash): the proxy moves them with splice(2).
check_spliced_bulk() {
    local want down up before after spliced0 spliced1 kernel0
    head -c 16777216 /dev/urandom >"$D/bulk.bin"
    want=$(sha256sum <"$D/bulk.bin" | cut -d' ' -f1)
    before=$(route_json ssh-a "['bytes-to-client']")
    spliced0=$(json "p['counters']['spliced']")
    kernel0=$(metric "$SPLICED_TO_CLIENT")
    ssh_a() {
        client ssh -i "$D/ssh/client_key" -p 2201 -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
            -o BatchMode=yes -o ConnectTimeout=5 -o LogLevel=ERROR "root@$SHARED4" "$@"
    }
    down=$(ssh_a cat "$D/bulk.bin" | sha256sum | cut -d' ' -f1)
    up=$(ssh_a sha256sum <"$D/bulk.bin" | cut -d' ' -f1)
    [[ $down == "$want" ]] || { DETAIL="download hash $down, want $want"; return 1; }
    [[ $up == "$want" ]] || { DETAIL="upload hash $up, want $want"; return 1; }
    after=$(route_json ssh-a "['bytes-to-client']")
    spliced1=$(json "p['counters']['spliced']")
    if [[ -n $OFFLOAD ]]; then
        # Handed over (IP-O1, IP-O3): the kernel carried the rest after the relay's first bytes, most of them.
        local kernel1
        kernel1=$(metric "$SPLICED_TO_CLIENT")
        ((kernel1 - kernel0 >= 8388608)) || { DETAIL="the kernel carried $((kernel1 - kernel0)) bytes to the client"; return 1; }
        after=$((after + kernel1 - kernel0))
    fi
    ((after - before >= 16777216)) || { DETAIL="bytes-to-client grew by $((after - before))"; return 1; }
    ((spliced1 >= spliced0 + 2)) || { DETAIL="spliced went from $spliced0 to $spliced1"; return 1; }
    [[ $(json "p['counters']['splice-fallbacks']") == 0 ]] || { DETAIL="splice fallbacks counted"; return 1; }
}

# metric SERIES: one value of `ctl stats --json`'s "metrics" (the /metrics series), 0 when absent.
metric() {
    ctl stats --json | python3 -c '
import json, sys
print(json.load(sys.stdin)["metrics"].get(sys.argv[1], 0))' "$1"
}
SPLICED_TO_CLIENT='nat64d_fastpath_splice_bytes_total{direction="to-client"}'
SPLICE_COMPLETED='nat64d_fastpath_splice_events_total{event="completed"}'

# NAT64D_PROXY_OFFLOAD=1 (IP-O1–IP-O3): a 32 MiB HTTPS download by SNI with PROXY v2, handed to the kernel once
# the ClientHello is relayed (or once offload-after bytes have moved). The bytes must arrive whole (SHA-256), backend A must log the client's own address,
# and the kernel, not the relay, must have carried them: its splice counters grow by the file, the route's relay
# counter by far less, and the proxy counts the connection offloaded.
check_offloaded_https_bulk() {
    local want got before_k after_k before_r after_r off0 off1 done0 done1
    head -c 33554432 /dev/urandom >"$D/big.bin"
    want=$(sha256sum <"$D/big.bin" | cut -d' ' -f1)
    before_k=$(metric "$SPLICED_TO_CLIENT")
    before_r=$(route_json site-a "['bytes-to-client']")
    off0=$(json "p['counters']['offloaded']")
    done0=$(metric "$SPLICE_COMPLETED")
    got=$(client curl -fsS --max-time 60 --cacert "$D/ca.pem" --resolve "site-a.example:443:$SHARED4" \
        "https://site-a.example/big.bin" | sha256sum | cut -d' ' -f1)
    [[ $got == "$want" ]] || { DETAIL="download hash $got, want $want"; return 1; }
    grep -q "^$CLIENT4 $CLIENT4 site-a.example \"GET /big.bin HTTP/1.1\"" "$D/nginx-a/access.log" || {
        DETAIL="backend A's access log has no line for /big.bin from the client: $(oneline "$(tail -2 "$D/nginx-a/access.log")")"
        return 1
    }
    after_k=$(metric "$SPLICED_TO_CLIENT")
    after_r=$(route_json site-a "['bytes-to-client']")
    off1=$(json "p['counters']['offloaded']")
    done1=$(metric "$SPLICE_COMPLETED")
    ((off1 >= off0 + 1 && done1 >= done0 + 1)) ||
        { DETAIL="offloaded went from $off0 to $off1, completed splices from $done0 to $done1"; return 1; }
    # The relay moves the first bytes (offload-after, and while the hand-over is pending), the kernel the rest.
    ((after_k - before_k >= 31457280)) || { DETAIL="the kernel carried $((after_k - before_k)) bytes to the client"; return 1; }
    ((after_r - before_r < 4194304)) || { DETAIL="the relay moved $((after_r - before_r)) bytes to the client"; return 1; }
}

# NAT64D_PROXY_OFFLOAD=1 under loss: 1 % of the packets leaving the client and backend A are dropped
# (scripts/tools/tcx-drop.c at their links' egress), so spliced connections see retransmissions, SACK blocks
# and reordered timestamps both ways. A 32 MiB HTTPS download and 16 MiB up through the ssh forward arrive
# whole, and the kernel carried them.
check_offload_under_loss() {
    local want got up k0 k1 b0 b1 cc_bin drop_c drop_a
    cc_bin=$(command -v cc || command -v gcc || echo /opt/swift/usr/bin/clang)
    "$cc_bin" -O2 -o "$D/tcx-drop" "$SCRIPT_DIR/tools/tcx-drop.c" 2>"$D/tcx-drop.build" ||
        { DETAIL="cannot build tcx-drop: $(oneline "$(cat "$D/tcx-drop.build")")"; return 1; }
    netns_start_bg "$NS_CLIENT" drop-client "$D/tcx-drop" veth-gw 10
    drop_c=$NETNS_LAST_PID
    netns_start_bg "$NS_A" drop-a "$D/tcx-drop" veth-gw 10
    drop_a=$NETNS_LAST_PID
    sleep 0.5
    want=$(sha256sum <"$D/big.bin" | cut -d' ' -f1)
    k0=$(metric "$SPLICED_TO_CLIENT")
    b0=$(metric 'nat64d_fastpath_splice_bytes_total{direction="to-backend"}')
    got=$(client curl -fsS --max-time 90 --cacert "$D/ca.pem" --resolve "site-a.example:443:$SHARED4" \
        "https://site-a.example/big.bin" | sha256sum | cut -d' ' -f1)
    up=$(client ssh -i "$D/ssh/client_key" -p 2201 -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
        -o BatchMode=yes -o ConnectTimeout=10 -o LogLevel=ERROR "root@$SHARED4" sha256sum <"$D/bulk.bin" | cut -d' ' -f1)
    k1=$(metric "$SPLICED_TO_CLIENT")
    b1=$(metric 'nat64d_fastpath_splice_bytes_total{direction="to-backend"}')
    netns_stop_pid "$drop_c" 2
    netns_stop_pid "$drop_a" 2
    grep -q 'dropping 10 per mille' "$NETNS_WORKDIR/drop-client.log" ||
        { DETAIL="tcx-drop did not attach: $(oneline "$(cat "$NETNS_WORKDIR/drop-client.log")")"; return 1; }
    [[ $got == "$want" ]] || { DETAIL="download hash $got, want $want"; return 1; }
    [[ $up == "$(sha256sum <"$D/bulk.bin" | cut -d' ' -f1)" ]] || { DETAIL="upload hash $up"; return 1; }
    ((k1 - k0 >= 25165824 && b1 - b0 >= 8388608)) ||
        { DETAIL="the kernel carried $((k1 - k0)) bytes to the client, $((b1 - b0)) to the backend"; return 1; }
}

# After the offloaded connections: none left pending, none abandoned, nothing dropped by the program.
check_offload_counters() {
    local pending abandoned dropped
    pending=$(metric 'nat64d_fastpath_splices{state="pending"}')
    abandoned=$(json "p['counters']['offload-abandoned']")
    dropped=$(metric 'nat64d_fastpath_splice_dropped_total')
    [[ $pending == 0 && $abandoned == 0 && $dropped == 0 ]] ||
        { DETAIL="pending $pending, abandoned $abandoned, dropped $dropped"; return 1; }
}

check_ctl_counts() {
    local n up
    n=$(route_json site-a "['connections']")
    up=$(route_json site-a "['backends'][0]['up']")
    [[ $n -ge 1 && $up == True ]] || { DETAIL="site-a connections=$n up=$up"; return 1; }
    (($(json "p['counters']['relayed']") >= 1)) || { DETAIL="ctl proxy --json counts nothing relayed"; return 1; }
}

check_balancing() {
    local i out seen=""
    for i in 1 2 3 4; do
        out=$(https pool.example 2>&1) || { DETAIL="curl: $(oneline "$out")"; return 1; }
        seen+="${out%% *} "
    done
    [[ $seen == *backend-a* && $seen == *backend-b* ]] || { DETAIL="round-robin reached only: $seen"; return 1; }
}

check_failover() {
    local i out seen="" t0 t1 up
    netns_stop_pid "$NGINX_A_PID" 5
    t0=$(date +%s%N)
    # Every request right after the kill must be served (a failed connect moves on to backend B).
    for i in 1 2 3 4 5 6; do
        out=$(https pool.example 2>&1) || { DETAIL="request $i after the kill failed: $(oneline "$out")"; return 1; }
        seen+="${out%% *} "
    done
    [[ $seen != *backend-a* ]] || { DETAIL="backend-a answered after it was killed: $seen"; return 1; }
    # Backend A is marked down within the health interval (a failed connect or the active check).
    for ((i = 0; i < 20; i++)); do
        up=$(route_json pool "['backends'][0]['up']")
        [[ $up == False ]] && break
        sleep 0.1
    done
    t1=$(date +%s%N)
    [[ $up == False ]] || { DETAIL="backend A still up in ctl proxy after 2 s"; return 1; }
    (((t1 - t0) / 1000000 <= HEALTH_MS + 2000)) || { DETAIL="marked down after $(((t1 - t0) / 1000000)) ms"; return 1; }
    out=$(https site-a.example 2>&1) && { DETAIL="site-a (only backend A) still answered: $out"; return 1; }
    return 0
}

SLOW_SCRIPT=$D/slow-clients.py
cat >"$SLOW_SCRIPT" <<'EOF'
# N connections that send the first 8 bytes of a ClientHello and nothing more; waits (bounded) until the
# proxy closes them, then prints "closed K of N".
import resource, selectors, socket, sys, time
n, host, port, ready, limit = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4], float(sys.argv[5])
resource.setrlimit(resource.RLIMIT_NOFILE, (n + 64, n + 64))
partial = bytes([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01])  # record of 512 bytes, ClientHello of 256
sel = selectors.DefaultSelector()
for _ in range(n):
    s = socket.create_connection((host, port), timeout=5)
    s.sendall(partial)
    s.setblocking(False)
    sel.register(s, selectors.EVENT_READ)
open(ready, "w").write("ready\n")
closed, deadline = 0, time.time() + limit
while closed < n and time.time() < deadline:
    for key, _ in sel.select(timeout=0.5):
        try:
            data = key.fileobj.recv(64)
        except OSError:
            data = b""
        if not data:
            sel.unregister(key.fileobj)
            key.fileobj.close()
            closed += 1
print(f"closed {closed} of {n}", flush=True)
EOF

check_slow_clients() {
    local ready=$D/slow.ready before after out t0 t1 pid i
    before=$(json "p['counters']['refused.handshake-timeout']")
    rm -f "$ready"
    netns_start_bg "$NS_CLIENT" slow-clients timeout 60 python3 "$SLOW_SCRIPT" "$SLOW_CLIENTS" "$SHARED4" 443 "$ready" 30
    pid=$NETNS_LAST_PID
    for ((i = 0; i < 300; i++)); do
        [[ -e $ready ]] && break
        netns_pid_alive "$pid" || break
        sleep 0.1
    done
    [[ -e $ready ]] || { DETAIL="slow clients did not all connect: $(oneline "$(cat "$D/slow-clients.log")")"; return 1; }
    # While they hold their connections, a normal request is served.
    t0=$(date +%s%N)
    out=$(https site-b.example 2>&1) || { DETAIL="request during the slow clients failed: $(oneline "$out")"; return 1; }
    t1=$(date +%s%N)
    [[ $out == "backend-b $CLIENT4" ]] || { DETAIL="answer: $(oneline "$out")"; return 1; }
    netns_log "normal request with $SLOW_CLIENTS slow clients held: $(((t1 - t0) / 1000000)) ms"
    for ((i = 0; i < 400; i++)); do
        netns_pid_alive "$pid" || break
        sleep 0.1
    done
    netns_stop_pid "$pid" 2
    out=$(cat "$D/slow-clients.log")
    [[ $out == "closed $SLOW_CLIENTS of $SLOW_CLIENTS" ]] || { DETAIL="slow clients: $(oneline "$out")"; return 1; }
    after=$(json "p['counters']['refused.handshake-timeout']")
    ((after - before >= SLOW_CLIENTS)) || { DETAIL="refused.handshake-timeout rose by $((after - before))"; return 1; }
    # Offloaded connections keep their place until the kernel's splice ends (IP-O3): those of the checks
    # before have closed, and end within the linger (5 s, looked at once a second).
    local active carried=0
    for ((i = 0; i < 100 && ${#OFFLOAD} > 0; i++)); do
        carried=$(metric 'nat64d_fastpath_splices{state="carried"}')
        ((carried == 0)) && break
        sleep 0.1
    done
    active=$(json "p['counters']['active']")
    ((active <= 5)) || { DETAIL="connections still open after the cut: $active (spliced in the kernel: $carried)"; return 1; }
}

# A reload adds a name to a route while an ssh session runs through the proxy: the new name is routed at once,
# the established session finishes undisturbed, and `ctl reload --json` lists proxy.routes as changed.
check_reload_routes() {
    local out pid status
    if out=$(http extra.example 2>&1); then DETAIL="extra.example answered before the reload: $(oneline "$out")"; return 1; fi
    client ssh -i "$D/ssh/client_key" -p 2201 -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
        -o BatchMode=yes -o ConnectTimeout=5 -o LogLevel=ERROR "root@$SHARED4" "sleep 3; cat $D/ssh/marker" \
        >"$D/ssh-during-reload.out" 2>&1 &
    pid=$!
    sleep 1
    sed -i 's/^names = \["site-a.example"\]$/names = ["site-a.example", "extra.example"]/' "$D/nat64d.toml"
    out=$(ctl reload --json 2>&1) || { DETAIL="ctl reload: $(oneline "$out")"; kill "$pid" 2>/dev/null; return 1; }
    python3 -c 'import json,sys; o=json.loads(sys.argv[1]); sys.exit(0 if "proxy.routes" in o["changed"] and not o["kept"] else 1)' "$out" ||
        { DETAIL="reload outcome: $(oneline "$out")"; kill "$pid" 2>/dev/null; return 1; }
    out=$(http extra.example 2>&1) || { DETAIL="extra.example after the reload: $(oneline "$out")"; kill "$pid" 2>/dev/null; return 1; }
    [[ $out == "backend-a http xff=$CLIENT4" ]] || { DETAIL="extra.example answer: $(oneline "$out")"; kill "$pid" 2>/dev/null; return 1; }
    if wait "$pid"; then status=0; else status=$?; fi
    ((status == 0)) && [[ $(cat "$D/ssh-during-reload.out") == "$SSH_MARKER" ]] ||
        { DETAIL="the ssh session across the reload: status $status, $(oneline "$(cat "$D/ssh-during-reload.out")")"; return 1; }
}

check "tls: site-a by SNI, PROXY v2, client address in the access log" check_sni_site_a
check "tls: site-b and *.site-b by SNI, PROXY v1" check_sni_site_b
check "http: routed by Host (X-Forwarded-For, PROXY v1)" check_http_host
check "unknown name refused and counted" check_unknown_name_refused
check "ssh through a port forward" check_ssh_forward
check "ctl proxy --json and ctl stats count connections" check_ctl_counts
check "reload: a new name routed at once, an ssh session across it undisturbed" check_reload_routes
check "16 MiB each way through the SSH forward, spliced, hashes equal" check_spliced_bulk
if [[ -n $OFFLOAD ]]; then
    check "offload: 32 MiB over HTTPS carried by the kernel, hash equal, client address logged" check_offloaded_https_bulk
    check "offload: 1 % loss both ways, 32 MiB down and 16 MiB up intact, carried by the kernel" check_offload_under_loss
    check "offload: nothing pending, abandoned or dropped" check_offload_counters
fi
check "round-robin over two backends" check_balancing
check "backend killed: traffic moves to the other within the health interval" check_failover
check "$SLOW_CLIENTS slow ClientHellos do not stop a normal request, and are cut" check_slow_clients
if ! netns_pid_alive "$NAT64D_PID"; then fail "nat64d still running" "it exited"; else pass "nat64d still running"; fi

netns_checks_done
