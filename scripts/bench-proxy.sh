#!/usr/bin/env bash
# Benchmark of the inbound proxy ([proxy]) against HAProxy (mode tcp, req.ssl_sni routing) and sniproxy, in
# one alternating run, in network namespaces. Not part of the test suite. Must run as root.
#
#   NAT64D=/path/to/release/nat64d scripts/bench-proxy.sh [--rounds N] [--time S] [--markdown FILE]
#       [--only tls|bulk] [--profile FILE]
#
# --only runs one of the two workloads. --profile FILE samples nat64d with `perf record -e cpu-clock -g`
# (a software clock: this machine's VM exposes no hardware counters) during its first HTTPS round and writes
# FILE (read it with `perf report -i FILE --no-children`).
#
# Topology: an IPv4-only client namespace (198.51.100.2, 192.0.2.0/24 via the gateway), the gateway
# (198.51.100.1, where every proxy listens on its own ports) and one IPv6-only backend (2001:db8:a::10, default
# route via the gateway for the forwards' replies) running nginx (TLS, ECDSA P-256,
# `listen ... proxy_protocol`, a 13-byte answer) and iperf3 -s. Each round measures, in turn:
#   new HTTPS connections/s: wrk -t1 -c32 -H "Connection: close" to https://site-a.example/ through each proxy
#     (SNI passthrough; every proxy sends a PROXY header: nat64d v2, HAProxy v2, sniproxy v1), and through the
#     third nat64d below with [proxy] offload on (`offload`: its short connections stay under offload-after);
#   bulk Gbit/s, one TCP stream: iperf3 -t S through each TCP forward (nat64d's relay, spliced, HAProxy, a small C
#     relay with splice(2) through a pipe, Benchmarks/SpliceRelay), and directly from the gateway to the
#     backend over IPv6 (the ceiling: the same path without a proxy hop), and `routed`: from an IPv6 client
#     namespace through the gateway's kernel IPv6 forwarding (a direct IPv6 connection over the same two hops);
#   bulk through a port forward by translation (`translator.forward`, S13: no proxy, the client's packets are
#     translated to the backend's iperf3 -s): `forward` to 192.0.2.1:5201 on nat64d's pool4 (the TUN),
#     `forward-fastpath` to 192.0.2.2:5201 on a second nat64d (its own TUN, prefix 2001:db8:46::/96) with
#     [fast-path] on the gateway's two links, started for its measurement and stopped after it, so the tc
#     program is attached during no other variant. The report gives the share of the upload's bytes the
#     program carried (its 4to6 bytes, IPv6 headers included, over iperf3's bytes sent);
#   bulk through the proxy with its connections handed to the kernel ([proxy] offload): `offload` to
#     198.51.100.1:35201 on a third nat64d (its own TUN, prefix 2001:db8:47::/96, the fast path on both links),
#     started for its measurement and stopped after it, with the share of the upload the kernel carried.
# Medians over the rounds are reported with ratios to HAProxy (and to direct and routed for bulk); for bulk also
# the machine's busy CPU time per GB sent (all cores, stolen time excluded: steadier than Gbit/s on a shared
# host). `uptime` and the share of CPU time stolen by the hypervisor are recorded: the machine may be shared
# with other work, which makes absolute numbers noisy. For HTTPS,
# each proxy's CPU time per connection is reported too (its process's user + system time during its wrk run,
# from /proc/PID/stat, divided by the connections wrk made): less sensitive to other work on the machine than
# the rate, though kernel work of the network stack is counted to whichever process the CPU was running.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/.." && pwd)
# shellcheck source=scripts/netns-lib.sh
source "$SCRIPT_DIR/netns-lib.sh"

ROUNDS=3
TIME=5
MARKDOWN=
ONLY=
PROFILE=
COMMAND_LINE="$0 $*"
while (($#)); do
    case $1 in
    --rounds) ROUNDS=$2; shift 2 ;;
    --time) TIME=$2; shift 2 ;;
    --markdown) MARKDOWN=$2; shift 2 ;;
    --only) ONLY=$2; shift 2 ;;
    --profile) PROFILE=$2; shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "bench-proxy: unknown option $1" >&2; exit 2 ;;
    esac
done
((EUID == 0)) || { echo "bench-proxy: must run as root" >&2; exit 1; }
for tool in nginx openssl wrk iperf3 haproxy gcc python3; do
    command -v "$tool" >/dev/null || { echo "bench-proxy: $tool not found" >&2; exit 1; }
done
HAVE_SNIPROXY=0
command -v sniproxy >/dev/null && HAVE_SNIPROXY=1
if [[ -z ${NAT64D:-} ]]; then
    echo "bench-proxy: NAT64D not set, building release" >&2
    (cd "$REPO_ROOT" && swift build -c release --product nat64d) >&2
    NAT64D="$(cd "$REPO_ROOT" && swift build -c release --show-bin-path)/nat64d"
fi
log() { printf '[bench] %s\n' "$*" >&2; }

LOAD_BEFORE=$(uptime)
# The hypervisor's share of this VM's CPU time during the run (the `steal` column of /proc/stat): on a shared
# host it is what makes one round differ from the next.
read -r -a CPU_BEFORE </proc/stat
trap netns_teardown EXIT
NS_B="n64pa-$NETNS_ID"
SHARED4=$GW_ADDR4
A6=2001:db8:a::10
netns_init_workdir
D=$NETNS_WORKDIR
for ns in "$NS_CLIENT" "$NS_GW" "$NS_B"; do netns_add "$ns"; done
ip netns exec "$NS_CLIENT" sysctl -q -w net.ipv6.conf.all.disable_ipv6=1
ip -n "$NS_CLIENT" link add veth-gw type veth peer name veth-client netns "$NS_GW"
ip -n "$NS_B" link add veth-gw type veth peer name veth-a netns "$NS_GW"
ip -n "$NS_CLIENT" addr add 198.51.100.2/24 dev veth-gw
ip -n "$NS_GW" addr add "$SHARED4/24" dev veth-client
ip -n "$NS_GW" addr add 2001:db8:a::1/64 dev veth-a nodad
ip -n "$NS_B" addr add "$A6/64" dev veth-gw nodad
for pair in "$NS_CLIENT veth-gw" "$NS_GW veth-client" "$NS_GW veth-a" "$NS_B veth-gw"; do
    read -r ns dev <<<"$pair"
    ip -n "$ns" link set "$dev" up
done
# The forwards: the gateway forwards (to and from its TUNs), the client reaches pool4 through it and the backend
# answers the NAT64 prefixes through it.
ip netns exec "$NS_GW" sysctl -q -w net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 \
    net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
ip -n "$NS_CLIENT" route add "$POOL4_NET" via "$SHARED4" dev veth-gw
ip -n "$NS_B" -6 route add default via 2001:db8:a::1 dev veth-gw
# `routed`: an IPv6 client of its own (the IPv4-only client stays IPv4-only) whose connections to the backend
# the gateway's kernel forwards: a direct IPv6 connection over the same two hops as every proxied one.
NS_R6="n64pr-$NETNS_ID"
R6=2001:db8:c::2
netns_add "$NS_R6"
ip -n "$NS_R6" link add veth-gw type veth peer name veth-r6 netns "$NS_GW"
ip -n "$NS_R6" addr add "$R6/64" dev veth-gw nodad
ip -n "$NS_GW" addr add 2001:db8:c::1/64 dev veth-r6 nodad
ip -n "$NS_R6" link set veth-gw up
ip -n "$NS_GW" link set veth-r6 up
ip -n "$NS_R6" -6 route add default via 2001:db8:c::1 dev veth-gw
netns_wait_dad "$NS_B"
# wrk takes the SNI from the URL: the client resolves site-a.example to the shared address.
mkdir -p "/etc/netns/$NS_CLIENT"
NETNS_OWN_ETC_NETNS=1
printf '127.0.0.1 localhost\n%s site-a.example\n' "$SHARED4" >"/etc/netns/$NS_CLIENT/hosts"

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -keyout "$D/site.key" \
    -out "$D/site.crt" -subj /CN=site-a.example -addext subjectAltName=DNS:site-a.example 2>/dev/null
mkdir -p "$D/nginx"
cat >"$D/nginx/nginx.conf" <<EOF
daemon off;
worker_processes 1;
user root;
pid $D/nginx/nginx.pid;
error_log $D/nginx/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $D/nginx/body;
    proxy_temp_path $D/nginx/proxy;
    fastcgi_temp_path $D/nginx/fastcgi;
    uwsgi_temp_path $D/nginx/uwsgi;
    scgi_temp_path $D/nginx/scgi;
    server {
        listen [$A6]:443 ssl proxy_protocol backlog=4096;
        ssl_certificate $D/site.crt;
        ssl_certificate_key $D/site.key;
        location / { return 200 "hello, world\n"; }
    }
}
EOF
netns_start_bg "$NS_B" nginx nginx -p "$D/nginx" -c "$D/nginx/nginx.conf"
netns_start_bg "$NS_B" iperf3 iperf3 -s -B "$A6" -p 5201

ulimit -n 20000 2>/dev/null || true
# The gateway's own IPv6 address on this topology ([gateway] ipv6), and its link to the backend ([fast-path]).
GW_ADDR6=2001:db8:a::1
IF_GW_SERVER=veth-a
FWD_POOL4=$POOL4_ADDR # 192.0.2.1: forward on the proxy's nat64d (no fast path)
FWD_FP_POOL4=192.0.2.2 # on the second nat64d, with the fast path
FWD_FP_SOCKET=$D/forward-fastpath.sock
# with_forward FORWARD: a config from standard input with FORWARD as translator.forward (only when bulk runs).
with_forward() {
    if [[ $ONLY == tls ]]; then cat; else sed "s/^\[translator\]$/[translator]\nforward = [\"$1\"]/"; fi
}
# proxy_section TLS_PORT BULK_PORT [EXTRA_KEY...]: the [proxy] section of a nat64d here: HTTPS by SNI on TLS_PORT
# to the backend's nginx (PROXY v2), a TCP forward on BULK_PORT to its iperf3 -s.
proxy_section() {
    local tls=$1 bulk=$2
    shift 2
    printf '[proxy]\n'
    printf '%s\n' "$@"
    cat <<EOF
max-connections = 20000
max-connections-per-client = 20000

[proxy.listeners.tls]
listen = ["$SHARED4:$tls"]
mode = "tls"
routes = ["site"]

[proxy.listeners.bulk]
listen = ["$SHARED4:$bulk"]
mode = "tcp"
route = "iperf"

[proxy.routes.site]
names = ["site-a.example"]
backends = ["[$A6]:443"]
proxy-protocol = "v2"

[proxy.routes.iperf]
backends = ["[$A6]:5201"]
EOF
}
cat >"$D/nat64d.toml" <<EOF
$(NAT64D_FAST_PATH='' netns_nat64d_config_head | with_forward "tcp $FWD_POOL4:5201 [$A6]:5201")

[control]
socket = "$D/control.sock"

$(proxy_section 443 5201)
EOF
netns_start_bg "$NS_GW" nat64d "$NAT64D" run --config "$D/nat64d.toml"
NAT64D_PID=$NETNS_LAST_PID
declare -A PIDS=([nat64d]=$NAT64D_PID)

# The second nat64d, for forward-fastpath: its own TUN, prefix, pool4 address and control socket, the fast path
# on both of the gateway's links. Started per measurement (start_forward_fastpath), stopped after it.
NAT64D_TUN=nat64fp NAT64_PREFIX=2001:db8:46::/96 POOL4_ADDR=$FWD_FP_POOL4 NAT64D_FAST_PATH=1 \
    netns_nat64d_config_head | with_forward "tcp $FWD_FP_POOL4:5201 [$A6]:5201" >"$D/nat64d-fastpath.toml"
printf '\n[control]\nsocket = "%s"\n' "$FWD_FP_SOCKET" >>"$D/nat64d-fastpath.toml"
[[ $ONLY == tls ]] || "$NAT64D" check-config "$D/nat64d-fastpath.toml" >/dev/null
fwd_ctl() { timeout 10 "$NAT64D" ctl --socket "$1" "${@:2}"; }
forwards_active() { # SOCKET: every forward of that instance is installed
    fwd_ctl "$1" bib --json | python3 -c 'import json,sys; f=json.load(sys.stdin)["forwards"]; sys.exit(0 if f and all(x["active"] for x in f) else 1)'
}
fp_metric() { # SERIES of the fast path instance's `ctl stats --json` metrics, 0 when absent
    fwd_ctl "$FWD_FP_SOCKET" stats --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["metrics"].get(sys.argv[1], 0))' "$1"
}
FP_PID=
start_forward_fastpath() {
    netns_start_bg "$NS_GW" nat64d-fastpath "$NAT64D" run --config "$D/nat64d-fastpath.toml"
    FP_PID=$NETNS_LAST_PID
    netns_wait_until 20 forwards_active "$FWD_FP_SOCKET" || { log "forward-fastpath: nat64d not ready"; netns_show_log nat64d-fastpath 20; return 1; }
    [[ $(fp_metric nat64d_fastpath_enabled) == 1 ]] || log "forward-fastpath: WARNING: the fast path is not enabled"
}
stop_forward_fastpath() {
    [[ -n $FP_PID ]] && netns_stop_pid "$FP_PID" 10
    FP_PID=
}

# The third nat64d, for `offload`: the proxy with [proxy] offload (connections handed to the kernel once routed)
# on its own port of the shared address, the fast path on both links, its own TUN, prefix and control socket.
# Started per measurement too, so its tc programs are attached during no other variant.
OFF_SOCKET=$D/offload.sock
NAT64D_TUN=nat64po NAT64_PREFIX=2001:db8:47::/96 POOL4_ADDR=192.0.2.3 NAT64D_FAST_PATH=1 \
    netns_nat64d_config_head >"$D/nat64d-offload.toml"
cat >>"$D/nat64d-offload.toml" <<EOF

[control]
socket = "$OFF_SOCKET"

$(proxy_section 3443 35201 "offload = true")
EOF
[[ $ONLY == tls ]] || "$NAT64D" check-config "$D/nat64d-offload.toml" >/dev/null
off_metric() { # SERIES of the offload instance's `ctl stats --json` metrics, 0 when absent
    fwd_ctl "$OFF_SOCKET" stats --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["metrics"].get(sys.argv[1], 0))' "$1"
}
OFF_PID=
start_offload() {
    netns_start_bg "$NS_GW" nat64d-offload "$NAT64D" run --config "$D/nat64d-offload.toml"
    OFF_PID=$NETNS_LAST_PID
    netns_wait_until 20 fwd_ctl "$OFF_SOCKET" proxy --json >/dev/null || { log "offload: nat64d not ready"; netns_show_log nat64d-offload 20; return 1; }
}
stop_offload() {
    [[ -n $OFF_PID ]] && netns_stop_pid "$OFF_PID" 10
    OFF_PID=
}

cat >"$D/haproxy.cfg" <<EOF
global
    maxconn 8000
defaults
    mode tcp
    timeout connect 3s
    timeout client 60s
    timeout server 60s
frontend tls
    bind $SHARED4:1443
    tcp-request inspect-delay 5s
    tcp-request content accept if { req.ssl_hello_type 1 }
    use_backend site if { req.ssl_sni -i site-a.example }
backend site
    server a [$A6]:443 send-proxy-v2
frontend bulk
    bind $SHARED4:15201
    default_backend iperf
backend iperf
    server a [$A6]:5201
EOF
netns_start_bg "$NS_GW" haproxy haproxy -db -f "$D/haproxy.cfg"
PIDS[haproxy]=$NETNS_LAST_PID

if ((HAVE_SNIPROXY)); then
    cat >"$D/sniproxy.conf" <<EOF
user root
pidfile $D/sniproxy.pid
error_log {
    filename $D/sniproxy-error.log
    priority notice
}
listener $SHARED4:2443 {
    protocol tls
    table site
}
table site {
    site-a.example [$A6]:443 proxy_protocol
}
EOF
    netns_start_bg "$NS_GW" sniproxy sniproxy -f -c "$D/sniproxy.conf"
    PIDS[sniproxy]=$NETNS_LAST_PID
fi

gcc -O2 -pthread -o "$D/splice_relay" "$REPO_ROOT/Benchmarks/SpliceRelay/splice_relay.c"
netns_start_bg "$NS_GW" splice "$D/splice_relay" "$SHARED4" 25201 "$A6" 5201

ready() { ip netns exec "$NS_CLIENT" curl -ksS --max-time 2 -o /dev/null --resolve "site-a.example:$1:$SHARED4" "https://site-a.example:$1/"; }
for port in 443 1443 $( ((HAVE_SNIPROXY)) && echo 2443); do
    netns_wait_until 20 ready "$port" || { log "proxy on port $port not answering"; netns_show_log nat64d 20; exit 1; }
done
if [[ $ONLY != tls ]]; then
    netns_wait_until 20 forwards_active "$D/control.sock" || { log "nat64d's forward is not active"; netns_show_log nat64d 20; exit 1; }
fi

wrk_rate() { # PORT -> requests/s
    ip netns exec "$NS_CLIENT" timeout $((TIME + 15)) wrk -t1 -c32 -d"${TIME}s" -H "Connection: close" \
        "https://site-a.example:$1/" 2>&1 | awk '/Requests\/sec/ { print $2 }'
}
cpu_ticks() { # PID -> user + system clock ticks of the process (all its threads)
    awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0
}
iperf_gbit() { # NS ADDR PORT -> "Gbit/s bytes-sent cpu-ms-per-GB" (one retry: iperf3 -s takes one test at a time and may still be busy)
    local g
    sleep 1
    g=$(iperf_once "$@")
    if [[ $g == "0 0 0" ]]; then
        sleep 2
        g=$(iperf_once "$@")
    fi
    echo "$g"
}
busy_ticks() { # the machine's busy CPU time so far, in clock ticks: user, nice, system, irq, softirq (not idle,
    # iowait or steal, so a busy hypervisor does not inflate it)
    awk '/^cpu / { print $2 + $3 + $4 + $7 + $8; exit }' /proc/stat
}
TICKS_PER_SECOND=$(getconf CLK_TCK)
iperf_once() { # bytes sent (every interval's, the omitted first second's too), and the whole machine's busy CPU
    # time per GB sent during the transfer (both iperf3 ends, the gateway's kernel and any proxy process)
    local t0 out
    t0=$(busy_ticks)
    out=$(ip netns exec "$1" timeout $((TIME + 15)) iperf3 -J -c "$2" -p "$3" -t "$TIME" -O 1 2>/dev/null |
        python3 -c 'import json,sys; d=json.load(sys.stdin); print("%.2f %d" % (d["end"]["sum_received"]["bits_per_second"] / 1e9, sum(i["sum"]["bytes"] for i in d["intervals"])))') ||
        out="0 0"
    awk -v o="$out" -v t=$(($(busy_ticks) - t0)) -v hz="$TICKS_PER_SECOND" 'BEGIN {
        split(o, f, " "); printf "%s %s %.0f\n", f[1], f[2], (f[2] > 0 ? 1000 * t / hz / (f[2] / 1e9) : 0) }'
}

declare -A RESULTS
TLS_NAMES=(nat64d haproxy offload)
TLS_PORTS=(443 1443 3443)
if ((HAVE_SNIPROXY)); then TLS_NAMES+=(sniproxy); TLS_PORTS+=(2443); fi
BULK_NAMES=(nat64d haproxy splice direct routed forward forward-fastpath offload)
BULK_TARGETS=("$NS_CLIENT $SHARED4 5201" "$NS_CLIENT $SHARED4 15201" "$NS_CLIENT $SHARED4 25201" "$NS_GW $A6 5201"
    "$NS_R6 $A6 5201" "$NS_CLIENT $FWD_POOL4 5201" "$NS_CLIENT $FWD_FP_POOL4 5201" "$NS_CLIENT $SHARED4 35201")
[[ $ONLY == bulk ]] && TLS_NAMES=()
[[ $ONLY == tls ]] && BULK_NAMES=()
for ((round = 1; round <= ROUNDS; round++)); do
    for i in "${!TLS_NAMES[@]}"; do
        if [[ ${TLS_NAMES[i]} == offload ]]; then
            start_offload || { stop_offload; RESULTS[tls-offload]+="0 "; RESULTS[cpu-offload]+="0 "; continue; }
            PIDS[offload]=$OFF_PID
        fi
        PERF_PID=
        if [[ -n $PROFILE && $round == 1 && ${TLS_NAMES[i]} == nat64d ]]; then
            perf record -q -e cpu-clock -g -p "$NAT64D_PID" -o "$PROFILE" -- sleep "$TIME" >/dev/null 2>&1 &
            PERF_PID=$!
        fi
        t0=$(cpu_ticks "${PIDS[${TLS_NAMES[i]}]}")
        r=$(wrk_rate "${TLS_PORTS[i]}")
        t1=$(cpu_ticks "${PIDS[${TLS_NAMES[i]}]}")
        [[ -n $PERF_PID ]] && wait "$PERF_PID"
        RESULTS[tls-${TLS_NAMES[i]}]+="${r:-0} "
        RESULTS[cpu-${TLS_NAMES[i]}]+="$(awk -v d=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" -v r="${r:-0}" -v t="$TIME" \
            'BEGIN { printf "%.0f", (r > 0 ? d * 1e6 / hz / (r * t) : 0) }') "
        log "round $round: new HTTPS connections/s via ${TLS_NAMES[i]}: ${r:-0}"
        [[ ${TLS_NAMES[i]} == offload ]] && stop_offload
    done
    for i in "${!BULK_NAMES[@]}"; do
        read -r ns addr port <<<"${BULK_TARGETS[i]}"
        if [[ ${BULK_NAMES[i]} == forward-fastpath ]]; then
            start_forward_fastpath || { stop_forward_fastpath; RESULTS[bulk-forward-fastpath]+="0 "; continue; }
            fp0=$(fp_metric 'nat64d_fastpath_bytes_total{direction="4to6"}' || echo 0)
        fi
        if [[ ${BULK_NAMES[i]} == offload ]]; then
            start_offload || { stop_offload; RESULTS[bulk-offload]+="0 "; continue; }
            of0=$(off_metric 'nat64d_fastpath_splice_bytes_total{direction="to-backend"}' || echo 0)
        fi
        read -r g bytes cpu <<<"$(iperf_gbit "$ns" "$addr" "$port")"
        RESULTS[bulk-${BULK_NAMES[i]}]+="$g "
        RESULTS[gbcpu-${BULK_NAMES[i]}]+="$cpu "
        log "round $round: bulk Gbit/s via ${BULK_NAMES[i]}: $g (machine CPU $cpu ms per GB)"
        if [[ ${BULK_NAMES[i]} == forward-fastpath ]]; then
            fp1=$(fp_metric 'nat64d_fastpath_bytes_total{direction="4to6"}' || echo 0)
            [[ $fp0 =~ ^[0-9]+$ && $fp1 =~ ^[0-9]+$ ]] || fp0=0 fp1=0
            share=$(awk -v a=$((fp1 - fp0)) -v b="$bytes" 'BEGIN { printf "%.0f", (b > 0 ? 100 * a / b : 0) }')
            RESULTS[fp-share]+="$share "
            log "round $round: forward-fastpath: the program carried $(((fp1 - fp0) >> 20)) MiB 4to6 of iperf3's $((bytes >> 20)) MiB ($share %)"
            stop_forward_fastpath
        fi
        if [[ ${BULK_NAMES[i]} == offload ]]; then
            of1=$(off_metric 'nat64d_fastpath_splice_bytes_total{direction="to-backend"}' || echo 0)
            [[ $of0 =~ ^[0-9]+$ && $of1 =~ ^[0-9]+$ ]] || of0=0 of1=0
            share=$(awk -v a=$((of1 - of0)) -v b="$bytes" 'BEGIN { printf "%.0f", (b > 0 ? 100 * a / b : 0) }')
            RESULTS[off-share]+="$share "
            log "round $round: offload: the kernel carried $(((of1 - of0) >> 20)) MiB to the backend of iperf3's $((bytes >> 20)) MiB ($share %)"
            stop_offload
        fi
    done
done
LOAD_AFTER=$(uptime)
read -r -a CPU_AFTER </proc/stat
STEAL=$(awk -v a="${CPU_BEFORE[*]}" -v b="${CPU_AFTER[*]}" 'BEGIN {
    n = split(a, x, " "); split(b, y, " "); t = 0
    for (i = 2; i <= n; i++) t += y[i] - x[i]  # field 1 is "cpu"
    printf "%.1f", (t > 0 ? 100 * (y[9] - x[9]) / t : 0) }')

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
bulk_table() { # KEY TITLE: one bulk table (median, each round, ratios to HAProxy, direct, routed) of RESULTS[KEY-name]
    local h dd rr m n
    echo "| $2 | each round | vs HAProxy | vs direct | vs routed |"
    echo "| --- | --- | --- | --- | --- | --- |"
    h=$(median <<<"${RESULTS[$1-haproxy]}")
    dd=$(median <<<"${RESULTS[$1-direct]}")
    rr=$(median <<<"${RESULTS[$1-routed]:-0}")
    for n in "${BULK_NAMES[@]}"; do
        m=$(median <<<"${RESULTS[$1-$n]}")
        echo "| $n | $m | ${RESULTS[$1-$n]% } | $(ratio "$m" "$h") | $(ratio "$m" "$dd") | $(ratio "$m" "$rr") |"
    done
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
tls_table() { # KEY TITLE: one HTTPS table (median, each round, ratio to HAProxy) of RESULTS[KEY-name]
    local h m n
    echo "| $2 | median | each round | vs HAProxy |"
    echo "| --- | --- | --- | --- |"
    h=$(median <<<"${RESULTS[$1-haproxy]}")
    for n in "${TLS_NAMES[@]}"; do
        m=$(median <<<"${RESULTS[$1-$n]}")
        echo "| $n | $m | ${RESULTS[$1-$n]% } | $(awk -v a="$m" -v b="$h" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }') |"
    done
    echo
}
{
    echo "### Run $(date -u '+%Y-%m-%d %H:%M:%S UTC'): inbound proxy (nat64d $(cd "$REPO_ROOT" && git rev-parse --short HEAD))"
    echo
    echo "Command: \`$COMMAND_LINE\` (NAT64D: a release build). $ROUNDS alternating rounds of ${TIME} s each; medians."
    echo "Load before: \`${LOAD_BEFORE## }\`; after: \`${LOAD_AFTER## }\`. CPU time stolen by the hypervisor during the run: $STEAL %."
    echo
    if ((${#TLS_NAMES[@]})); then
        tls_table tls "new HTTPS connections/s (wrk -c32, Connection: close)"
        tls_table cpu "proxy CPU per new HTTPS connection (user + system, µs)"
    fi
    if ((${#BULK_NAMES[@]})); then
        bulk_table bulk "bulk, one TCP stream (iperf3) | Gbit/s median"
        echo
        bulk_table gbcpu "bulk: the machine's busy CPU time per GB sent (ms) | median"
        echo
        echo "direct: iperf3 from the gateway itself to the backend (one hop); routed: from an IPv6 client through the"
        echo "gateway's kernel forwarding (the two hops every proxied or translated stream takes). CPU per GB counts"
        echo "every core's user, system and interrupt time (both iperf3 ends, the kernel, the proxy), not time stolen"
        echo "by the hypervisor: on a 2-core machine that runs both ends it is the cost that caps throughput."

        if [[ -n ${RESULTS[fp-share]:-} ]]; then
            echo
            echo "forward-fastpath: share of the upload's bytes the tc program carried, each round: ${RESULTS[fp-share]% } (%; its byte count includes IPv6 headers)."
            echo "offload: share of the upload's bytes the kernel carried (spliced), each round: ${RESULTS[off-share]:-} (%; its byte count includes IPv6 headers)."
        fi
    fi
} | tee "$D/result.md"
if [[ -n $MARKDOWN ]]; then
    { echo; cat "$D/result.md"; } >>"$MARKDOWN"
fi
