#!/usr/bin/env bash
# DNS64 benchmark: dnsperf from the client namespace against nat64d's DNS64 and against BIND 9 (`named` with
# its `dns64` statement), both in the gateway namespace, both forwarding to the same knotd in the server
# namespace, which serves a zone of N A-only names (default 20 000). Same query file (every name, AAAA) for
# both; for each server a cold pass (empty cache: every query is synthesized from upstream answers) and then a
# warm pass (the same names again, answered from the cache). Must run as root. Topology: scripts/netns-lib.sh.
#
#   NAT64D=/path/to/nat64d bash scripts/bench-dns.sh   # else: swift build -c release first
#   BENCH_MODES="pinned shared" BENCH_REPS=3 BENCH_NAMES=20000 BENCH_WARM_PASSES=3 BENCH_CLIENTS=8 \
#       BENCH_OUTSTANDING=200 bash scripts/bench-dns.sh
#
# Prints one line per run and the ratios nat64d/BIND; with BENCH_WRITE_DOC=1, also rewrites the "DNS64"
# section of docs/performance.md (other sections are kept). Exits non-zero if a run failed or lost queries
# beyond 1 %. Everything is torn down on any exit.
#
# BENCH_MODES=scaling: per-core scaling instead. Six servers take turns, BENCH_ROUNDS rounds in alternating
# order, each started afresh and warmed with one dnsperf pass: nat64d with udp-sockets 1 and 2, BIND with
# `named -n 1` and `-n 2`, Unbound (module-config "dns64 iterator", forwarding to the same knotd) with
# num-threads 1 and 2. For each: warm capacity (kxdpgun, as below) and the p50/p99 latency of cached answers
# with dnsperf limited to half that capacity (-Q). Prints a markdown table. BENCH_NAT64D_B=/path/to/nat64d adds
# a second nat64d build to the turns (e.g. before and after a change). BENCH_SCALING_PIN=1 pins each server's
# threads to CPU 1 and the load generators to CPU 0 (use with the 1-thread servers: BENCH_SCALING_SERVERS).
# BENCH_LATENCY_ALSO="10000 30000" measures the cached latency at those rates too. BENCH_LATENCY_PROBE=1 also
# measures it with the half-capacity load from kxdpgun and a light dnsperf stream sampling the latency beside it.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/.." && pwd)
# shellcheck source=scripts/netns-lib.sh
source "$SCRIPT_DIR/netns-lib.sh"

NAMES=${BENCH_NAMES:-20000}
WARM_PASSES=${BENCH_WARM_PASSES:-3}
CLIENTS=${BENCH_CLIENTS:-8}
OUTSTANDING=${BENCH_OUTSTANDING:-200}
TIME_LIMIT=${BENCH_TIME_LIMIT:-120} # s, cap on any one dnsperf run
BIND_ADDR6=2001:db8:1::53           # named listens here, nat64d on $GW_ADDR6
# BENCH_MODES (default "pinned shared"): "pinned" runs the server under test on CPU 1 only (one thread:
# udp-sockets 1, named -n 1) and dnsperf on CPU 0, so a run measures what one core of the server can do;
# "shared" leaves both unpinned (udp-sockets 2, named -n 2), so they share every CPU with dnsperf and knotd.
MODES=${BENCH_MODES:-pinned shared}
set_mode() {
    MODE=$1
    if [[ $MODE == pinned ]]; then
        SERVER_PIN=(taskset -c 1)
        CLIENT_PIN=(taskset -c 0)
        CLIENT_CPU_SPEC=0
        BIND_THREADS=1
        UDP_SOCKETS=1
    else
        SERVER_PIN=()
        CLIENT_PIN=()
        CLIENT_CPU_SPEC=
        BIND_THREADS=2
        UDP_SOCKETS=2
    fi
    sed -i "s/^udp-sockets = .*/udp-sockets = $UDP_SOCKETS/" "$d/nat64d.toml"
}
ZONE=bench.test

trap netns_teardown EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if ((EUID != 0)); then
    echo "bench-dns: must run as root" >&2
    exit 1
fi
missing=()
for tool in knotd named dnsperf dig kxdpgun unbound; do command -v "$tool" >/dev/null || missing+=("$tool"); done
if ((${#missing[@]})); then
    echo "bench-dns: installing bind9 dnsperf (missing: ${missing[*]})" >&2
    DEBIAN_FRONTEND=noninteractive apt-get -qq -y install --no-install-recommends bind9 dnsperf knot knot-dnsutils \
        dnsutils unbound >/dev/null
fi
if [[ -z ${NAT64D:-} ]]; then
    PATH=/opt/swift/usr/bin:$PATH
    (cd "$REPO_ROOT" && swift build -c release --product nat64d >&2)
    NAT64D="$(cd "$REPO_ROOT" && swift build -c release --show-bin-path)/nat64d"
fi

netns_setup
ip -n "$NS_GW" addr add "$BIND_ADDR6/64" dev "$IF_GW_CLIENT" nodad
d=$NETNS_WORKDIR

# ------------------------------------------------------------------ upstream: knotd with N A-only names

mkdir -p "$d/knot/db" "$d/named"
{
    printf '$ORIGIN %s.\n$TTL 3600\n' "$ZONE"
    printf '@ 3600 IN SOA ns.%s. hostmaster.%s. 1 3600 900 604800 3600\n@ 3600 IN NS ns\nns IN A %s\n' \
        "$ZONE" "$ZONE" "$SERVER_ADDR4"
    awk -v n="$NAMES" 'BEGIN { for (i = 0; i < n; i++) printf "h%d IN A 198.51.100.%d\n", i, 1 + i % 250 }'
} >"$d/knot/$ZONE.zone"
awk -v n="$NAMES" -v z="$ZONE" 'BEGIN { for (i = 0; i < n; i++) printf "h%d.%s AAAA\n", i, z }' >"$d/queries.txt"
cat >"$d/knot/knot.conf" <<EOF
server:
    rundir: "$d/knot"
    listen: $SERVER_ADDR4@53
    udp-workers: 2
    tcp-workers: 1
    background-workers: 1
log:
  - target: stderr
    any: warning
database:
    storage: "$d/knot/db"
template:
  - id: default
    storage: "$d/knot"
    file: "%s.zone"
    zonefile-sync: -1
    journal-content: none
zone:
  - domain: $ZONE.
EOF
netns_start_bg "$NS_SERVER" knotd knotd -c "$d/knot/knot.conf"
netns_wait_until 20 bash -c "[[ \$(ip netns exec $NS_SERVER dig +time=1 +tries=1 +short @$SERVER_ADDR4 h$((NAMES - 1)).$ZONE A) == 198.* ]]" || {
    netns_show_log knotd
    exit 1
}

# ------------------------------------------------------------------ the two DNS64 servers

netns_nat64d_config_head >"$d/nat64d.toml"
cat >>"$d/nat64d.toml" <<EOF
[dns64]
listen = ["[$GW_ADDR6]:53"]
upstream = ["$SERVER_ADDR4:53"]
allow = ["2001:db8:1::/64"]
prefix = "$NAT64_PREFIX"
cache-size = $((NAMES * 2))
udp-sockets = 1
[log]
level = "warning"
EOF
cat >"$d/named/named.conf" <<EOF
options {
    directory "$d/named";
    pid-file "$d/named/named.pid";
    listen-on { none; };
    listen-on-v6 { $BIND_ADDR6; };
    recursion yes;
    allow-query { any; };
    allow-recursion { any; };
    forwarders { $SERVER_ADDR4; };
    forward only;
    dnssec-validation no;
    querylog no;
    max-cache-size 512m;
    dns64 $NAT64_PREFIX { clients { any; }; };
};
EOF

# ns.bench.test is not in the query file, so this warms no cache entry the runs use.
ready() { [[ $(in_client dig +time=1 +tries=1 +short "@$1" "ns.$ZONE" A | head -1) == "$SERVER_ADDR4" ]]; }
# start_server nat64d|bind: start it with an empty cache, wait until it answers, check its synthesis.
start_server() {
    local address
    if [[ $1 == nat64d ]]; then
        netns_start_translator nat64d "${SERVER_PIN[@]}" "$NAT64D" run --config "$d/nat64d.toml"
        SERVER_PID=$NETNS_TRANSLATOR_PID
        address=$GW_ADDR6
    else
        netns_start_bg "$NS_GW" named "${SERVER_PIN[@]}" named -g -n "$BIND_THREADS" -c "$d/named/named.conf"
        SERVER_PID=$NETNS_LAST_PID
        address=$BIND_ADDR6
    fi
    check_started "$1" "$address" "$([[ $1 == nat64d ]] && echo nat64d || echo named)"
}
# check_started NAME ADDRESS LOG: wait until the server answers, then check its synthesis; exit on failure.
check_started() {
    netns_wait_until 20 ready "$2" || {
        netns_show_log "$3"
        exit 1
    }
    local got
    got=$(in_client dig +time=2 +tries=1 +short "@$2" "ns.$ZONE" AAAA)
    [[ $got == 2001:db8:64::c633:640a ]] || {
        echo "bench-dns: $1 answered '$got' for ns.$ZONE AAAA" >&2
        exit 1
    }
}
server_address() { [[ $1 == nat64d ]] && echo "$GW_ADDR6" || echo "$BIND_ADDR6"; }

# ------------------------------------------------------------------ runs

DNSPERF_CMD="dnsperf -s SERVER -d queries.txt -c $CLIENTS -q $OUTSTANDING -T 1 -t 5 -l $TIME_LIMIT -n PASSES"
declare -A QPS LAT LOST CPU SYS BUSY CLIENT_CPU
RUN_LOG=$d/runs.log
: >"$RUN_LOG"
status=0
# CPU seconds (user + system) a process has used so far.
cpu_seconds() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.3f", ($14 + $15) / hz }' "/proc/$1/stat"; }
sys_seconds() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.3f", $15 / hz }' "/proc/$1/stat"; }
# Busy share (%) of each CPU between two /proc/stat snapshots: "cpu0=NN cpu1=NN" (steal counts as not busy).
cpu_snapshot() { grep '^cpu[0-9]' /proc/stat; }
cpu_busy() { # BEFORE AFTER
    awk 'NR == FNR { for (i = 2; i <= 11; i++) a[$1, i] = $i; next }
        { busy = 0; total = 0
          for (i = 2; i <= 11; i++) { d = $i - a[$1, i]; total += d; if (i != 5 && i != 6 && i != 9) busy += d }
          printf "%s%s=%d%%", (n++ ? " " : ""), $1, (total > 0 ? 100 * busy / total : 0) }' <(echo "$1") <(echo "$2")
}
# run LABEL SERVER PASSES PID
run() {
    local label=$1 server=$2 passes=$3 pid=$4 out cpu0 sys0 stat0
    cpu0=$(cpu_seconds "$pid")
    sys0=$(sys_seconds "$pid")
    stat0=$(cpu_snapshot)
    out=$(timeout -k 5 $((TIME_LIMIT + 30)) ip netns exec "$NS_CLIENT" "${CLIENT_PIN[@]}" \
        /usr/bin/time -f 'dnsperf-cpu %U %S' dnsperf -s "$server" -d "$d/queries.txt" \
        -c "$CLIENTS" -q "$OUTSTANDING" -T 1 -t 5 -l "$TIME_LIMIT" -n "$passes" 2>&1) || true
    BUSY[$label]=$(cpu_busy "$stat0" "$(cpu_snapshot)")
    CLIENT_CPU[$label]=$(awk '/^dnsperf-cpu / { c = $2 + $3 } /Queries completed:/ { n = $3 }
        END { printf "%.1f", (n > 0 ? c * 1e6 / n : 0) }' <<<"$out")
    QPS[$label]=$(awk '/Queries per second:/ { printf "%.0f", $4 }' <<<"$out")
    LAT[$label]=$(awk '/Average Latency \(s\):/ { printf "%.3f", $4 * 1000 }' <<<"$out")
    LOST[$label]=$(awk '/Queries lost:/ { print $3 }' <<<"$out")
    local sent completed
    sent=$(awk '/Queries sent:/ { print $3 }' <<<"$out")
    completed=$(awk '/Queries completed:/ { print $3 }' <<<"$out")
    CPU[$label]=$(awk -v a="$cpu0" -v b="$(cpu_seconds "$pid")" -v n="${completed:-0}" \
        'BEGIN { printf "%.1f", (n > 0 ? (b - a) * 1e6 / n : 0) }')
    SYS[$label]=$(awk -v a="$sys0" -v b="$(sys_seconds "$pid")" -v n="${completed:-0}" \
        'BEGIN { printf "%.1f", (n > 0 ? (b - a) * 1e6 / n : 0) }')
    if [[ -z ${QPS[$label]} || -z $sent ]] || ((LOST[$label] * 100 > sent)); then
        echo "bench-dns: $label failed or lost over 1 %:" >&2
        echo "$out" >&2
        status=1
    fi
    printf '%-14s %10s qps  %8s ms avg latency  %6s us server CPU/query (%s us system)  %s lost of %s  dnsperf %s us/query  busy: %s\n' \
        "$label" "${QPS[$label]:-?}" "${LAT[$label]:-?}" "${CPU[$label]}" "${SYS[$label]}" "${LOST[$label]:-?}" "${sent:-?}" \
        "${CLIENT_CPU[$label]}" "${BUSY[$label]}" | tee -a "$RUN_LOG"
}

# capacity LABEL SERVER PID: what the server answers, warm, when offered more than one core can take. dnsperf
# keeps a window of queries outstanding and costs about as much CPU per query as the server, so on 2 cores it
# saturates its own core first (see `busy`); kxdpgun (Knot's AF_XDP generator) sends at a fixed rate for a
# fraction of that cost, so the answered rate is the server's limit.
CAPACITY_QPS=${BENCH_CAPACITY_QPS:-250000}
CAPACITY_SECONDS=${BENCH_CAPACITY_SECONDS:-5} # at least 3
capacity() {
    local label=$1 server=$2 pid=$3 out cpu0 cpu1 stat0 stat1 answered offered gun
    # CPU use is sampled over the middle of the burst (kxdpgun takes a moment to set up its AF_XDP socket).
    timeout -k 5 $((CAPACITY_SECONDS + 20)) ip netns exec "$NS_CLIENT" kxdpgun -t "$CAPACITY_SECONDS" \
        -Q "$CAPACITY_QPS" -F "${CLIENT_CPU_SPEC:-0}" -i "$d/queries.txt" "$server" >"$d/kxdpgun.out" 2>&1 &
    gun=$!
    sleep 1.5
    cpu0=$(cpu_seconds "$pid")
    stat0=$(cpu_snapshot)
    local perf_pid=
    if [[ ${BENCH_PERF:-} == capacity ]]; then
        perf record -F 999 -g -p "$pid" -o "$d/perf.capacity.data" >/dev/null 2>&1 &
        perf_pid=$!
    fi
    sleep $((CAPACITY_SECONDS - 2))
    cpu1=$(cpu_seconds "$pid")
    stat1=$(cpu_snapshot)
    if [[ -n $perf_pid ]]; then
        kill -INT "$perf_pid"
        wait "$perf_pid" || true
        echo "--- profile of $label (perf, the sampled middle of the burst)" >&2
        { perf report -i "$d/perf.capacity.data" --stdio --no-children -g none --sort dso,symbol \
            --percent-limit 0.5 2>/dev/null || true; } | { grep -v "^$\|^#" || true; } | cut -c1-200 |
            head -"${BENCH_PERF_LINES:-60}" >&2
    fi
    wait "$gun" || true
    out=$(cat "$d/kxdpgun.out")
    BUSY[$label]=$(cpu_busy "$stat0" "$stat1")
    QPS[$label]=$(awk '/^total replies:/ { gsub(/\(/, "", $4); printf "%.0f", $4 }' <<<"$out")
    offered=$(awk '/^total queries:/ { gsub(/\(/, "", $4); printf "%.0f", $4 }' <<<"$out")
    # Server CPU per answer over the sampled middle, at the burst's average answer rate.
    CPU[$label]=$(awk -v a="$cpu0" -v b="$cpu1" -v q="${QPS[$label]:-0}" -v t=$((CAPACITY_SECONDS - 2)) \
        'BEGIN { printf "%.1f", (q > 0 ? (b - a) * 1e6 / (q * t) : 0) }')
    if [[ -z ${QPS[$label]} || -z $offered ]]; then
        echo "bench-dns: $label: kxdpgun failed:" >&2
        echo "$out" >&2
        status=1
    fi
    printf '%-14s %10s qps answered of %s offered  %6s us server CPU/query  busy: %s\n' "$label" \
        "${QPS[$label]:-?}" "${offered:-?}" "${CPU[$label]}" "${BUSY[$label]}" | tee -a "$RUN_LOG"
}

# BENCH_PERF=cold|warm: profile nat64d during that run (perf record, report to stderr); BENCH_PERF=capacity:
# profile every server during the sampled middle of each capacity burst; BENCH_STRACE=cold|warm:
# count the system calls of both servers during that run (strace -c).
profile() {
    if [[ ${BENCH_STRACE:-} == "$1" ]]; then
        strace -c -f -p "$SERVER_PID" -o "$d/strace.$2" 2>/dev/null &
        STRACE_PID=$!
        sleep 0.5
    fi
    if [[ ${BENCH_PERF:-} == "$1" && $2 == nat64d ]]; then
        perf record -F 499 -g -p "$SERVER_PID" -o "$d/perf.data" >/dev/null 2>&1 &
        PERF_PID=$!
    fi
}
report() {
    if [[ ${BENCH_STRACE:-} == "$1" ]]; then
        kill -INT "$STRACE_PID"
        wait "$STRACE_PID" || true
        echo "--- system calls of $2 during the $1 run" >&2
        head -25 "$d/strace.$2" >&2
    fi
    if [[ ${BENCH_PERF:-} == "$1" && $2 == nat64d ]]; then
        kill -INT "$PERF_PID"
        wait "$PERF_PID" || true
        perf report -i "$d/perf.data" --stdio "$([[ -n ${BENCH_PERF_CHILDREN:-} ]] && echo --children || echo --no-children)" -g none --sort dso,symbol --percent-limit 0.8 2>/dev/null | grep -v "^$\|^#" | cut -c1-220 | head -${BENCH_PERF_LINES:-60} >&2
    fi
}
# Each repetition restarts both servers (empty caches); the order alternates to cancel drift in the load
# of a shared machine. The tables report the median of each figure.
REPS=${BENCH_REPS:-3}
ROUNDS=${BENCH_ROUNDS:-2}
median() { # median KEY-PREFIX ARRAY-NAME
    local -n values=$2
    local i
    local key
    for key in "${!values[@]}"; do if [[ $key == "$1"-* ]]; then echo "${values[$key]:-0}"; fi; done | sort -g |
        awk '{ v[NR] = $1 } END { print (NR ? (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) : 0) }'
}
ratio() { awk -v a="${QPS[$1]:-0}" -v b="${QPS[$2]:-0}" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
declare -A COLD_RATIO WARM_RATIO CAPACITY_RATIO

# ------------------------------------------------------------------ per-core scaling (BENCH_MODES=scaling)

UNBOUND_ADDR6=2001:db8:1::54
if [[ " $MODES " == *" scaling "* ]]; then
    ip -n "$NS_GW" addr add "$UNBOUND_ADDR6/64" dev "$IF_GW_CLIENT" nodad
    mkdir -p "$d/unbound"
fi
# BENCH_LATENCY_PROBE=1: a namespace of its own for the latency probe, on a second link to the gateway, because
# kxdpgun's XDP program takes every packet arriving on the client's link (dnsperf beside it gets no answer).
# Its address is inside the client network, so every server's allow list takes it; routes are host routes.
PROBE_ADDR6=2001:db8:1::77
if [[ " $MODES " == *" scaling "* && ${BENCH_LATENCY_PROBE:-} == 1 ]]; then
    NS_PROBE="n64p-$NETNS_ID"
    netns_add "$NS_PROBE"
    ip -n "$NS_PROBE" link add veth-probe type veth peer name veth-probe-gw netns "$NS_GW"
    ip -n "$NS_PROBE" addr add "$PROBE_ADDR6/128" dev veth-probe nodad
    ip -n "$NS_PROBE" link set veth-probe up
    ip -n "$NS_GW" addr add fe80::1/64 dev veth-probe-gw nodad
    ip -n "$NS_GW" link set veth-probe-gw up
    ip -n "$NS_GW" -6 route add "$PROBE_ADDR6/128" dev veth-probe-gw
    for a in "$GW_ADDR6" "$BIND_ADDR6" "$UNBOUND_ADDR6"; do
        ip -n "$NS_PROBE" -6 route add "$a/128" via fe80::1 dev veth-probe
    done
    netns_wait_dad "$NS_PROBE"
fi
# start_scaling SERVER-THREADS: nat64d-N, bind-N or unbound-N, unpinned, empty cache; sets SERVER_PID, ADDRESS.
start_scaling() {
    local kind=${1%-*} threads=${1##*-}
    case $kind in
    nat64d | nat64d.b)
        sed -i "s/^udp-sockets = .*/udp-sockets = $threads/" "$d/nat64d.toml"
        netns_start_translator "$kind" "$([[ $kind == nat64d ]] && echo "$NAT64D" || echo "$NAT64D_B")" run \
            --config "$d/nat64d.toml"
        SERVER_PID=$NETNS_TRANSLATOR_PID
        ADDRESS=$GW_ADDR6
        ;;
    bind)
        netns_start_bg "$NS_GW" named named -g -n "$threads" -c "$d/named/named.conf"
        SERVER_PID=$NETNS_LAST_PID
        ADDRESS=$BIND_ADDR6
        ;;
    unbound)
        cat >"$d/unbound/unbound.conf" <<EOF
server:
    username: ""
    chroot: ""
    directory: "$d/unbound"
    pidfile: "$d/unbound/unbound.pid"
    use-syslog: no
    verbosity: 0
    interface: $UNBOUND_ADDR6
    port: 53
    num-threads: $threads
    so-reuseport: yes
    access-control: 2001:db8:1::/64 allow
    do-not-query-localhost: no
    local-zone: "test." nodefault
    module-config: "dns64 iterator"
    dns64-prefix: $NAT64_PREFIX
    msg-cache-size: 128m
    rrset-cache-size: 256m
    outgoing-range: 4096
    num-queries-per-thread: 4096
    minimal-responses: yes
forward-zone:
    name: "."
    forward-addr: $SERVER_ADDR4
EOF
        netns_start_bg "$NS_GW" unbound unbound -d -c "$d/unbound/unbound.conf"
        SERVER_PID=$NETNS_LAST_PID
        ADDRESS=$UNBOUND_ADDR6
        ;;
    esac
    check_started "$1" "$ADDRESS" "$kind"
    # BENCH_SCALING_PIN=1: every thread of the server on CPU 1, dnsperf and kxdpgun on CPU 0, so the latency
    # of an answer is the server's and not the wait for a CPU that the load generator holds.
    if [[ ${BENCH_SCALING_PIN:-} == 1 ]]; then
        taskset -a -p -c 1 "$SERVER_PID" >/dev/null
    fi
}
# latency LABEL SERVER RATE: dnsperf at RATE qps for BENCH_LATENCY_SECONDS over the warm cache, with every
# query's latency (-v); records p50 and p99 in ms and the rate reached.
LATENCY_SECONDS=${BENCH_LATENCY_SECONDS:-4}
latency() {
    local label=$1 server=$2 rate=$3
    local pin=()
    [[ ${BENCH_SCALING_PIN:-} == 1 ]] && pin=(taskset -c 0)
    timeout -k 5 $((LATENCY_SECONDS + 30)) ip netns exec "${LATENCY_NS:-$NS_CLIENT}" "${pin[@]}" dnsperf -s "$server" -d "$d/queries.txt" \
        -c "$CLIENTS" -q "$OUTSTANDING" -Q "$rate" -T 1 -t 5 -l "$LATENCY_SECONDS" -v >"$d/latency.out" 2>&1 || true
    # "> RCODE QUERY SECONDS" per answered query ("> T"/"> I": timed out, interrupted), sorted for percentiles.
    awk '/^> / && $2 != "T" && $2 != "I" { printf "%.3f\n", $NF * 1000 }' "$d/latency.out" | sort -g >"$d/latency.ms"
    local n
    n=$(wc -l <"$d/latency.ms")
    P50[$label]="?"
    P99[$label]="?"
    if ((n > 0)); then
        P50[$label]=$(sed -n "$((n / 2 + 1))p" "$d/latency.ms")
        P99[$label]=$(sed -n "$(((n * 99 + 99) / 100))p" "$d/latency.ms")
    fi
    RATE[$label]=$(awk '/Queries per second:/ { printf "%.0f", $4 }' "$d/latency.out")
    local p90="?" p999="?"
    if ((n > 0)); then
        p90=$(sed -n "$(((n * 90 + 99) / 100))p" "$d/latency.ms")
        p999=$(sed -n "$(((n * 999 + 999) / 1000))p" "$d/latency.ms")
    fi
    printf '%-30s p50 %s ms  p90 %s ms  p99 %s ms  p99.9 %s ms at %s qps (asked %s)\n' "$label" "${P50[$label]}" \
        "$p90" "${P99[$label]}" "$p999" "${RATE[$label]}" "$rate" | tee -a "$RUN_LOG"
}
# probe LABEL SERVER RATE: the same latency, but the load is kxdpgun's (RATE qps of cached queries) and the
# latency is sampled by a light dnsperf stream beside it (BENCH_PROBE_QPS, default 2000), so the figure is
# the server's and not dnsperf's own queueing: at half of nat64d's capacity dnsperf is itself near its limit.
probe() {
    local label=$1 server=$2 rate=$3 gun
    timeout -k 5 $((LATENCY_SECONDS + 25)) ip netns exec "$NS_CLIENT" kxdpgun -t $((LATENCY_SECONDS + 3)) \
        -Q "$rate" -F "${CLIENT_CPU_SPEC:-0}" -i "$d/queries.txt" "$server" >"$d/kxdpgun-probe.out" 2>&1 &
    gun=$!
    sleep 1.5
    LATENCY_NS=$NS_PROBE latency "$label" "$server" "${BENCH_PROBE_QPS:-2000}"
    wait "$gun" || true
    LOAD[$label]=$(awk '/^total replies:/ { gsub(/\(/, "", $4); printf "%.0f", $4 }' "$d/kxdpgun-probe.out")
    echo "  (under kxdpgun load: ${LOAD[$label]:-?} answers/s of $rate asked)" | tee -a "$RUN_LOG"
}
if [[ " $MODES " == *" scaling "* ]]; then
    declare -A P50 P99 RATE LOAD
    read -r -a SCALING_SERVERS <<<"${BENCH_SCALING_SERVERS:-nat64d-1 bind-1 unbound-1 nat64d-2 bind-2 unbound-2}"
    # BENCH_NAT64D_B=/path/to/another/nat64d: that build takes turns too (as nat64d.b), for A/B comparisons.
    NAT64D_B=${BENCH_NAT64D_B:-}
    [[ -n $NAT64D_B ]] && SCALING_SERVERS+=(nat64d.b-1 nat64d.b-2)
    CLIENT_CPU_SPEC=0
    for ((round = 1; round <= ROUNDS; round++)); do
        order=("${SCALING_SERVERS[@]}")
        # Every other round in reverse, so drift in the machine's load hits every server alike.
        if ((round % 2 == 0)); then
            order=()
            for ((i = ${#SCALING_SERVERS[@]} - 1; i >= 0; i--)); do order+=("${SCALING_SERVERS[i]}"); done
        fi
        for server in "${order[@]}"; do
            start_scaling "$server"
            run "scaling-$server-fill-$round" "$ADDRESS" 1 "$SERVER_PID"
            capacity "scaling-$server-capacity-$round" "$ADDRESS" "$SERVER_PID"
            half=$((${QPS[scaling-$server-capacity-$round]:-2000} / 2))
            latency "scaling-$server-latency-$round" "$ADDRESS" "$half"
            # BENCH_LATENCY_ALSO="R ...": the latency again at these fixed rates (qps), to tell a tail that
            # grows with the load from one that does not.
            for r in ${BENCH_LATENCY_ALSO:-}; do latency "scaling-$server-fixed-$r-$round" "$ADDRESS" "$r"; done
            # BENCH_LATENCY_PROBE=1: the latency at half capacity again, load and measurement apart (see probe).
            [[ ${BENCH_LATENCY_PROBE:-} == 1 ]] && probe "scaling-$server-probe-$round" "$ADDRESS" "$half"
            netns_stop_pid "$SERVER_PID" 10
        done
    done
    echo
    echo "| server | threads | cold fill (dnsperf) | warm capacity (median) | CPU/answer | cached latency p50 / p99 at half capacity | rate reached |"
    echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
    for server in "${SCALING_SERVERS[@]}"; do
        key=scaling-$server
        printf '| %s | %s | %s qps | %s qps | %s µs | %s / %s ms | %s qps |\n' "${server%-*}" "${server##*-}" \
            "$(median "$key-fill" QPS)" "$(median "$key-capacity" QPS)" "$(median "$key-capacity" CPU)" \
            "$(median "$key-latency" P50)" "$(median "$key-latency" P99)" "$(median "$key-latency" RATE)"
    done
    if [[ ${BENCH_LATENCY_PROBE:-} == 1 ]]; then
        echo
        echo "| server | threads | kxdpgun load (answers/s) | probe p50 / p99 (${BENCH_PROBE_QPS:-2000} qps beside it) |"
        echo "| --- | ---: | ---: | ---: |"
        for server in "${SCALING_SERVERS[@]}"; do
            key=scaling-$server-probe
            printf '| %s | %s | %s | %s / %s ms |\n' "${server%-*}" "${server##*-}" "$(median "$key" LOAD)" \
                "$(median "$key" P50)" "$(median "$key" P99)"
        done
        echo
    fi
    for n in 1 2; do
        nq=$(median "scaling-nat64d-$n-capacity" QPS)
        printf 'ratio with %s thread(s): nat64d/BIND %s, nat64d/Unbound %s\n' "$n" \
            "$(awk -v a="$nq" -v b="$(median "scaling-bind-$n-capacity" QPS)" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')" \
            "$(awk -v a="$nq" -v b="$(median "scaling-unbound-$n-capacity" QPS)" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')"
    done
    echo "nat64d 2 sockets / 1 socket: $(awk -v a="$(median scaling-nat64d-2-capacity QPS)" -v b="$(median scaling-nat64d-1-capacity QPS)" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')"
    MODES=${MODES//scaling/}
fi

for mode in $MODES; do
    set_mode "$mode"
    for ((rep = 1; rep <= REPS; rep++)); do
        order=(nat64d bind)
        ((rep % 2 == 0)) && order=(bind nat64d)
        # Cold: each server from an empty cache. Both then stay up, warm, and take turns (ROUNDS times) at
        # the warm dnsperf run and the capacity burst, so drift in the machine's load hits both alike.
        declare -A PIDS=()
        for server in "${order[@]}"; do
            start_server "$server"
            PIDS[$server]=$SERVER_PID
            [[ $rep == 1 ]] && profile cold "$server"
            run "$mode-$server-cold-$rep" "$(server_address "$server")" 1 "$SERVER_PID"
            [[ $rep == 1 ]] && report cold "$server"
        done
        for ((round = 1; round <= ROUNDS; round++)); do
            for server in "${order[@]}"; do
                SERVER_PID=${PIDS[$server]}
                [[ $rep == 1 && $round == 1 ]] && profile warm "$server"
                run "$mode-$server-warm-$rep.$round" "$(server_address "$server")" "$WARM_PASSES" "$SERVER_PID"
                [[ $rep == 1 && $round == 1 ]] && report warm "$server"
                capacity "$mode-$server-capacity-$rep.$round" "$(server_address "$server")" "$SERVER_PID"
            done
        done
        for server in "${order[@]}"; do netns_stop_pid "${PIDS[$server]}" 10; done
    done
    for kind in nat64d-cold nat64d-warm nat64d-capacity bind-cold bind-warm bind-capacity; do
        key=$mode-$kind
        QPS[$key]=$(median "$key" QPS)
        LAT[$key]=$(median "$key" LAT)
        CPU[$key]=$(median "$key" CPU)
        printf 'median %-19s %8s qps  %8s ms avg latency  %6s us server CPU/query\n' "$key" "${QPS[$key]}" \
            "${LAT[$key]}" "${CPU[$key]}"
    done
    COLD_RATIO[$mode]=$(ratio "$mode-nat64d-cold" "$mode-bind-cold")
    WARM_RATIO[$mode]=$(ratio "$mode-nat64d-warm" "$mode-bind-warm")
    CAPACITY_RATIO[$mode]=$(ratio "$mode-nat64d-capacity" "$mode-bind-capacity")
    printf 'ratio nat64d/BIND (%s): cold %s (goal >= 1.00), warm %s (goal >= 1.50), warm capacity %s\n' "$mode" \
        "${COLD_RATIO[$mode]}" "${WARM_RATIO[$mode]}" "${CAPACITY_RATIO[$mode]}"
done

goal() { awk -v r="$1" -v g="$2" 'BEGIN { print (r >= g ? "met (" r ")" : "not met (" r ")") }'; }
if [[ ${BENCH_WRITE_DOC:-0} == 1 ]]; then
    doc=$REPO_ROOT/docs/performance.md
    mkdir -p "$(dirname "$doc")"
    [[ -f $doc ]] || printf '# nat64d performance\n' >"$doc"
    section=$(mktemp)
    {
        cat <<EOF
## DNS64

Measured by \`scripts/bench-dns.sh\` on $(date -u +%Y-%m-%d), $(nproc) vCPUs shared with other work
($(uname -r), $(named -v | sed 's/ <id:.*//'), dnsperf $(dnsperf -h 2>&1 | sed -n 's/^Version //p' | head -1 || true),
kxdpgun from knot-dnsutils $(dpkg-query -W -f '${Version}' knot-dnsutils 2>/dev/null || echo '?')).
nat64d's DNS64 (release build) and BIND 9 (\`named\` with \`dns64 $NAT64_PREFIX\`, \`forward only\` to the same
upstream) both sit in the gateway namespace and forward to knotd, which serves $NAMES A-only names. The query
file asks AAAA for each name once.

- **cold**: dnsperf, one pass from an empty cache (every answer costs an AAAA query, an A query and a
  synthesis);
- **warm**: dnsperf, the file $WARM_PASSES times more, all from the cache;
- **capacity**: kxdpgun offers ${CAPACITY_QPS} qps of the same file for ${CAPACITY_SECONDS} s at the warm
  cache; the table gives what the server answered.

Each of $REPS repetitions starts both servers afresh for their cold runs (alternating which goes first). Both
then stay up and take turns, $ROUNDS rounds each, at the warm run and the capacity burst. The tables give
medians over all of them. dnsperf and kxdpgun run in the client namespace (SERVER is 2001:db8:1::1 for nat64d,
2001:db8:1::53 for BIND; PASSES is 1 cold, $WARM_PASSES warm):

    $DNSPERF_CMD
    kxdpgun -t $CAPACITY_SECONDS -Q $CAPACITY_QPS -F 0 -i queries.txt SERVER

CPU/query is the server process's user + system CPU time divided by the queries answered (for capacity,
sampled over the middle of the burst). System time includes the kernel's veth and UDP work, for the
upstream side too.

**Why capacity.** dnsperf waits for answers (a window of $((CLIENTS * OUTSTANDING)) queries) and spends about
as much CPU per query as either server (its figure is printed per run). On 2 cores it saturates its own core
first, so its warm figure measures dnsperf as much as the server. kxdpgun sends from an AF_XDP socket at a fixed
rate for a fraction of that cost, so the rate a server answers is its own limit.
EOF
        for mode in $MODES; do
            if [[ $mode == pinned ]]; then
                printf '\n### Pinned: one core per server\n\nEach server on CPU 1 only (`taskset -c 1`; nat64d `udp-sockets = 1`, `named -n 1`), the load\ngenerator on CPU 0, knotd unpinned: what one core of each server can do.\n'
            else
                printf '\n### Shared: no pinning\n\nnat64d `udp-sockets = 2`, `named -n 2`. dnsperf, the server, knotd and the kernel share both vCPUs, so a\nrun measures how the scheduler splits the vCPUs between dnsperf and the server as much as the server itself.\n'
            fi
            cat <<EOF

| run | nat64d qps | nat64d avg latency | nat64d CPU/query | BIND qps | BIND avg latency | BIND CPU/query | nat64d / BIND qps |
| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
| cold (1 pass) | ${QPS[$mode-nat64d-cold]} | ${LAT[$mode-nat64d-cold]} ms | ${CPU[$mode-nat64d-cold]} µs | ${QPS[$mode-bind-cold]} | ${LAT[$mode-bind-cold]} ms | ${CPU[$mode-bind-cold]} µs | ${COLD_RATIO[$mode]} |
| warm, dnsperf ($WARM_PASSES passes) | ${QPS[$mode-nat64d-warm]} | ${LAT[$mode-nat64d-warm]} ms | ${CPU[$mode-nat64d-warm]} µs | ${QPS[$mode-bind-warm]} | ${LAT[$mode-bind-warm]} ms | ${CPU[$mode-bind-warm]} µs | ${WARM_RATIO[$mode]} |
| warm capacity, kxdpgun | ${QPS[$mode-nat64d-capacity]} | — | ${CPU[$mode-nat64d-capacity]} µs | ${QPS[$mode-bind-capacity]} | — | ${CPU[$mode-bind-capacity]} µs | ${CAPACITY_RATIO[$mode]} |

Goals: cold ≥ 1.0× BIND: $(goal "${COLD_RATIO[$mode]}" 1.0); warm ≥ 1.5× BIND: capacity $(goal "${CAPACITY_RATIO[$mode]}" 1.5), dnsperf $(goal "${WARM_RATIO[$mode]}" 1.5).
EOF
        done
        printf '\nThe runs behind the medians, as the script printed them:\n\n```\n'
        cat "$RUN_LOG"
        printf '```\n\nOther work on this shared machine moves single runs by up to ±30 %%. Reproduce with\n`sudo BENCH_WRITE_DOC=1 bash scripts/bench-dns.sh` (BENCH_MODES, BENCH_REPS, BENCH_ROUNDS, BENCH_NAMES to vary).\n'
    } >"$section"
    # Replace the "## DNS64" section (up to the next "## " heading), or append it.
    awk -v f="$section" '
        BEGIN { while ((getline line < f) > 0) new = new line "\n" }
        /^## / { if (skip) skip = 0 }
        /^## DNS64$/ { printf "%s", new; skip = 1; done = 1; next }
        !skip { print }
        END { if (!done) printf "\n%s", new }' "$doc" >"$doc.new"
    mv "$doc.new" "$doc"
    rm -f "$section"
    echo "bench-dns: wrote the DNS64 section of $doc" >&2
fi
exit "$status"
