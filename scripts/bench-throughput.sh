#!/usr/bin/env bash
# Forwarding benchmark: nat64d against native IPv6 forwarding (the ceiling) and TAYGA (the userspace translator
# to beat), in the namespace topology of scripts/netns-lib.sh, in one alternating run. Not part of the test
# suite (benchmarks are never timed tests). Must run as root.
#
#   scripts/bench-throughput.sh                         # deps, release build, every variant, 1 round
#   scripts/bench-throughput.sh --rounds 3              # 3 alternating rounds, medians reported
#   NAT64D=/path/to/nat64d scripts/bench-throughput.sh  # use this binary (no build)
#   scripts/bench-throughput.sh --variants "native nat64d tayga" --markdown docs/performance.md
#
# Options:
#   --variants "V ..."  among: native, nat64d (TUN offload, --queues queues), nat64d-1q (offload, one queue),
#                       nat64d-nooffload (one queue, no offload), tayga, and nat64d-uring / nat64d-1q-uring
#                       (as nat64d / nat64d-1q with tun.io = "uring"; the others run tun.io = "syscalls"),
#                       nat64d-fastpath (as nat64d, with [fast-path] on both of the gateway's links).
#                       Default: native nat64d nat64d-1q tayga
#   --rounds N          alternating rounds (default 1); each figure is the median over the rounds
#   --time S            length of each throughput test (default 8)
#   --queues N          tun.queues for the nat64d variant (default: the number of CPUs)
#   --fixed-rate PPS    offered rate of the CPU-per-packet test (default 50000)
#   --tests "T ..."     among: tcp1 tcp8 udp64 cpu gso conn (default: all); the others report n/a
#   --markdown FILE     append the report (environment, table, ratios) to FILE
#   --no-deps           do not run scripts/install-deps.sh
#   -h, --help
#
# Each variant gets a fresh topology. "native": the server gets an IPv6 address and the gateway forwards IPv6
# in the kernel; the others translate to the IPv4-only server's address. Measured from the IPv6-only client:
#   tcp1       iperf3, one TCP stream client→server, Gbit/s (first second omitted)
#   tcp8       iperf3 -P 8, eight TCP streams, Gbit/s
#   udp64      iperf3 -u -l 64 -b 0: 64-byte UDP datagrams offered as fast as the client can, delivered kpps
#   gso        UDP_SEGMENT sender (1400-byte segments in 56 KB super-packets), delivered Gbit/s
#   cpu        64-byte UDP at --fixed-rate: the translator process's user+system CPU / packets delivered, µs;
#              for nat64d-fastpath also the program's own run time per packet ("program µs/pkt", from the
#              kernel's BPF statistics, switched on for the test), which runs in softirq, charged to no process
#              (native: n/a, the kernel's softirq time is not a process)
#   conn       wrk -H "Connection: close" against nginx: new TCP connections (requests) per second, and the
#              99th percentile of a request's latency (wrk times a request from its write, so the connect
#              is not in it)
# For nat64d variants the report also lists what `ctl stats --json` counted over each round's tests: drops by
# reason and sessions evicted (a benchmark that drops packets measures retransmissions).
# Every client command is bounded by `timeout`. A round takes about variants × (5 × time + 20) seconds.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/.." && pwd)
# shellcheck source=scripts/netns-lib.sh
source "$SCRIPT_DIR/netns-lib.sh"

PY=/usr/bin/python3
[[ -x $PY ]] || PY=python3

VARIANTS="native nat64d nat64d-1q tayga"
ROUNDS=1
TIME=8
QUEUES=$(nproc)
FIXED_RATE=50000
TESTS="tcp1 tcp8 udp64 cpu gso conn"
MARKDOWN=
INSTALL_DEPS=1
IPERF_PORT=5201
GSO_PORT=7010
HTTP_PORT=8080
STARTUP_TIMEOUT=15
SERVER_NATIVE6=2001:db8:2::10
GW_NATIVE6=2001:db8:2::1
GSO_TOOL=$REPO_ROOT/tests/netns/offload/udp-gso.py

COMMAND_LINE=$(printf '%q ' "$0" "$@")
COMMAND_LINE=${COMMAND_LINE% }
[[ -n ${NAT64D:-} ]] && COMMAND_LINE="NAT64D=$(printf '%q' "$NAT64D") $COMMAND_LINE"

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }
die() {
    printf 'bench-throughput: %s\n' "$*" >&2
    exit 2
}
log() { printf '[bench] %s\n' "$*" >&2; }
in_range() { [[ $1 =~ ^[1-9][0-9]*$ ]] && (($1 >= $2 && $1 <= $3)); }

while (($#)); do
    case $1 in
    --variants)
        for v in ${2:-}; do
            [[ $v =~ ^(native|nat64d|nat64d-1q|nat64d-nooffload|nat64d-uring|nat64d-1q-uring|nat64d-fastpath|tayga)$ ]] ||
                die "unknown variant '$v'"
        done
        [[ -n ${2:-} ]] || die "--variants needs a list"
        VARIANTS=$2
        shift 2
        ;;
    --rounds) in_range "${2:-}" 1 20 || die "--rounds takes 1..20"; ROUNDS=$2; shift 2 ;;
    --time) in_range "${2:-}" 2 60 || die "--time takes 2..60"; TIME=$2; shift 2 ;;
    --queues) in_range "${2:-}" 1 256 || die "--queues takes 1..256"; QUEUES=$2; shift 2 ;;
    --fixed-rate) in_range "${2:-}" 1000 2000000 || die "--fixed-rate takes 1000..2000000"; FIXED_RATE=$2; shift 2 ;;
    --tests)
        for t in ${2:-}; do [[ $t =~ ^(tcp1|tcp8|udp64|cpu|gso|conn)$ ]] || die "unknown test '$t'"; done
        [[ -n ${2:-} ]] || die "--tests needs a list"
        TESTS=$2
        shift 2
        ;;
    --markdown) [[ -n ${2:-} ]] || die "--markdown needs a file"; MARKDOWN=$2; shift 2 ;;
    --no-deps) INSTALL_DEPS=0; shift ;;
    -h | --help) usage; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
    esac
done

if ((EUID != 0)); then die "must run as root (creates network namespaces)"; fi
if ! command -v swift >/dev/null && [[ -x /opt/swift/usr/bin/swift ]]; then PATH=/opt/swift/usr/bin:$PATH; fi

RESULTS=$(mktemp -d "${TMPDIR:-/tmp}/nat64d-bench.XXXXXX")
bench_exit() {
    local rc=$?
    set +e
    trap - INT TERM
    netns_teardown
    if [[ ${BENCH_KEEP_RESULTS:-0} == 1 ]]; then log "keeping results in $RESULTS"; else rm -rf "$RESULTS"; fi
    exit "$rc"
}
trap bench_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if ((INSTALL_DEPS)); then bash "$SCRIPT_DIR/install-deps.sh"; fi
for tool in iperf3 wrk nginx ip; do command -v "$tool" >/dev/null || die "$tool not found (run scripts/install-deps.sh)"; done

NAT64D_BIN=${NAT64D:-}
if [[ -z $NAT64D_BIN && $VARIANTS == *nat64d* ]]; then
    log "building nat64d (swift build -c release --product nat64d)"
    (cd "$REPO_ROOT" && swift build -c release --product nat64d) >"$RESULTS/build.log" 2>&1 ||
        { tail -n 20 "$RESULTS/build.log" >&2; die "release build failed"; }
    NAT64D_BIN="$(cd "$REPO_ROOT" && swift build -c release --show-bin-path)/nat64d"
fi

# ---------------------------------------------------------------- topology per variant

client_timeout() {
    local t=$1
    shift
    timeout --foreground -k 2 "$t" ip netns exec "$NS_CLIENT" "$@"
}

# The native variant: the server gets an IPv6 address and the gateway forwards IPv6 to it in the kernel.
add_native_ipv6() {
    ip -n "$NS_GW" addr add "$GW_NATIVE6/64" dev "$IF_GW_SERVER" nodad
    ip -n "$NS_SERVER" addr add "$SERVER_NATIVE6/64" dev "$IF_SERVER" nodad
    ip -n "$NS_SERVER" -6 route add 2001:db8:1::/64 via "$GW_NATIVE6" dev "$IF_SERVER"
}

# nginx for the connection-rate test, on port 8080 of every address (IPv4 and IPv6) of the server namespace.
start_bench_nginx() {
    local d=$NETNS_WORKDIR/bench-nginx
    mkdir -p "$d"
    cat >"$d/nginx.conf" <<EOF
worker_processes 1;
pid $d/nginx.pid;
error_log $d/error.log;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $d; proxy_temp_path $d; fastcgi_temp_path $d; uwsgi_temp_path $d; scgi_temp_path $d;
    server {
        listen $HTTP_PORT reuseport;
        listen [::]:$HTTP_PORT reuseport;
        location / { return 200 "ok\n"; }
    }
}
EOF
    netns_start_bg "$NS_SERVER" bench-nginx nginx -c "$d/nginx.conf" -g 'daemon off;'
    netns_wait_until 5 in_server bash -c "ss -Hltn 'sport = :$HTTP_PORT' | grep -q ." || return 1
}

TRANSLATOR_PID=
start_variant() {
    local v=$1
    TRANSLATOR_PID=
    case $v in
    native) add_native_ipv6 ;;
    tayga)
        netns_start_tayga || return 1
        TRANSLATOR_PID=$TAYGA_PID
        ;;
    nat64d | nat64d-1q | nat64d-nooffload | nat64d-uring | nat64d-1q-uring | nat64d-fastpath)
        NAT64D_TUN_OFFLOAD=true
        NAT64D_FAST_PATH=
        [[ $v == nat64d-fastpath ]] && NAT64D_FAST_PATH=1
        NAT64D_TUN_QUEUES=$QUEUES
        NAT64D_TUN_IO=syscalls
        [[ $v == nat64d-1q* ]] && NAT64D_TUN_QUEUES=1
        [[ $v == nat64d-nooffload ]] && { NAT64D_TUN_OFFLOAD=false; NAT64D_TUN_QUEUES=1; }
        [[ $v == *-uring ]] && NAT64D_TUN_IO=uring
        export NAT64D_TUN_OFFLOAD NAT64D_TUN_QUEUES NAT64D_TUN_IO NAT64D_FAST_PATH
        netns_start_nat64d "$NAT64D_BIN"
        netns_wait_nat64d "$STARTUP_TIMEOUT" || { netns_show_log nat64d 40; return 1; }
        TRANSLATOR_PID=$NAT64D_PID
        ;;
    esac
}

target_of() { if [[ $1 == native ]]; then printf '%s' "$SERVER_NATIVE6"; else printf '%s' "$SERVER_SYNTH6"; fi; }

# process_cpu PID: user+system clock ticks of the process (all threads).
process_cpu() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
# bpf_program_time PID: "run_time_ns run_cnt" of the BPF programs PID holds (its fdinfo; the kernel counts
# them while kernel.bpf_stats_enabled = 1). The fast path's program runs in softirq, charged to no process.
bpf_program_time() {
    local f
    for f in /proc/"$1"/fdinfo/*; do
        grep -q '^prog_type:' "$f" 2>/dev/null || continue
        awk '$1 == "run_time_ns:" { t = $2 } $1 == "run_cnt:" { n = $2 } END { printf "%d %d\n", t, n }' "$f"
        return
    done
    echo "0 0"
}

# ---------------------------------------------------------------- measurements

iperf() {
    local out=$1 target=$2
    shift 2
    client_timeout $((TIME + 20)) iperf3 -6 -c "$target" -p "$IPERF_PORT" --connect-timeout 3000 -J "$@" \
        >"$out" 2>"$out.stderr" || true
    sleep 0.5
}

wants() { [[ " $TESTS " == *" $1 "* ]]; }

measure() {
    local v=$1 round=$2 dir=$RESULTS/$1/$2 target c0 c1 rate_bits pid stats_before
    mkdir -p "$dir"
    target=$(target_of "$v")
    if wants tcp1; then
        log "$v round $round: TCP 1 stream"
        iperf "$dir/tcp1.json" "$target" -t "$TIME" -O 1
    fi
    if wants tcp8; then
        log "$v round $round: TCP 8 streams"
        iperf "$dir/tcp8.json" "$target" -t "$TIME" -O 1 -P 8
    fi
    if wants udp64; then
        log "$v round $round: UDP 64-byte, unlimited"
        iperf "$dir/udp64.json" "$target" -u -l 64 -b 0 -t "$TIME"
    fi
    if wants cpu; then
        log "$v round $round: UDP 64-byte at $FIXED_RATE pps (CPU per packet)"
        rate_bits=$((FIXED_RATE * 64 * 8))
        c0=0
        [[ -n $TRANSLATOR_PID ]] && c0=$(process_cpu "$TRANSLATOR_PID")
        if [[ $v == nat64d-fastpath ]]; then
            stats_before=$(sysctl -n kernel.bpf_stats_enabled)
            sysctl -q -w kernel.bpf_stats_enabled=1
            bpf_program_time "$TRANSLATOR_PID" >"$dir/bpf.before"
        fi
        iperf "$dir/cpu.json" "$target" -u -l 64 -b "$rate_bits" -t "$TIME"
        if [[ $v == nat64d-fastpath ]]; then
            bpf_program_time "$TRANSLATOR_PID" >"$dir/bpf.after"
            sysctl -q -w kernel.bpf_stats_enabled="$stats_before"
        fi
        c1=0
        [[ -n $TRANSLATOR_PID ]] && c1=$(process_cpu "$TRANSLATOR_PID")
        printf '%s %s %s\n' "$c0" "$c1" "$(getconf CLK_TCK)" >"$dir/cpu.ticks"
    fi
    if wants gso; then
        log "$v round $round: UDP GSO bulk"
        in_server python3 "$GSO_TOOL" sink "$GSO_PORT" $((TIME + 5)) >"$dir/gso.sink" 2>&1 &
        pid=$!
        for _ in $(seq 50); do grep -q ready "$dir/gso.sink" 2>/dev/null && break; sleep 0.1; done
        client_timeout $((TIME + 10)) python3 "$GSO_TOOL" blast "$target" "$GSO_PORT" "$TIME" >"$dir/gso.sent" 2>&1 || true
        wait "$pid" || true
    fi
    if wants conn; then
        log "$v round $round: new connections (wrk, Connection: close)"
        client_timeout $((TIME + 15)) wrk -t 2 -c 32 -d "${TIME}s" --latency -H "Connection: close" \
            "http://[$target]:$HTTP_PORT/" >"$dir/wrk.txt" 2>&1 || true
    fi
    # The translator's own account of the round (drops by reason, evictions): kept for the report.
    if [[ $v == nat64d* ]]; then
        timeout -k 2 10 "$NAT64D_BIN" ctl --socket "/run/nat64d/$NAT64D_TUN.sock" stats --json \
            >"$dir/ctl-stats.json" 2>/dev/null || true
    fi
}

bench_variant() {
    local v=$1 round=$2
    log "=== $v (round $round)"
    netns_setup
    mkdir -p "$RESULTS/$v/$round"
    if ! start_variant "$v"; then
        printf 'did not start\n' >"$RESULTS/$v/$round/failed"
    elif ! start_bench_nginx; then
        printf 'nginx did not start\n' >"$RESULTS/$v/$round/failed"
    else
        netns_start_bg "$NS_SERVER" iperf3-server iperf3 -s -p "$IPERF_PORT" --idle-timeout 120
        netns_wait_until 5 in_server bash -c "ss -Hltn 'sport = :$IPERF_PORT' | grep -q ." || true
        if client_timeout 10 ping -6 -n -c 2 -W 2 "$(target_of "$v")" >/dev/null 2>&1; then
            measure "$v" "$round"
        else
            printf 'no ping reply through %s\n' "$v" >"$RESULTS/$v/$round/failed"
        fi
    fi
    netns_teardown
}

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
UPTIME_BEFORE=$(uptime)
for ((round = 1; round <= ROUNDS; round++)); do
    for v in $VARIANTS; do bench_variant "$v" "$round"; done
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# ------------------------------------------------------------------- report

{
    printf 'date\t%s\n' "$(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    printf 'command\t%s\n' "$COMMAND_LINE"
    printf 'git commit\t%s\n' "$(git -C "$REPO_ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
    printf 'cpu\t%s (%s CPUs)\n' "$(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -n1)" "$(nproc)"
    printf 'kernel\t%s\n' "$(uname -r)"
    printf 'load\t%s before (%s), %s after (1/5/15 min)\n' "$LOAD_BEFORE" "$UPTIME_BEFORE" "$LOAD_AFTER"
    printf 'nat64d\t%s, tun.queues %s for the nat64d variant\n' "${NAT64D_BIN:-none}" "$QUEUES"
    printf 'tayga\t%s\n' "$(dpkg-query -W -f='${Version}' tayga 2>/dev/null || echo unknown)"
    printf 'rounds\t%s alternating rounds of %s s tests; figures are medians\n' "$ROUNDS" "$TIME"
} >"$RESULTS/meta.tsv"

"$PY" - "$RESULTS" "$VARIANTS" "$ROUNDS" "$FIXED_RATE" "${MARKDOWN:+markdown}" >"$RESULTS/report.txt" <<'PYEOF'
import json, os, re, statistics, sys
results, variants, rounds, fixed_rate, fmt = sys.argv[1], sys.argv[2].split(), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]

def js(path):
    try:
        return json.load(open(path))
    except (OSError, ValueError):
        return {}

def tcp(d, name):
    e = js(os.path.join(d, name)).get("end", {})
    b = e.get("sum_received", {}).get("bits_per_second")
    return b / 1e9 if b else None

def udp_kpps(d, name):
    s = js(os.path.join(d, name)).get("end", {}).get("sum", {})
    p, lost, secs = s.get("packets"), s.get("lost_packets"), s.get("seconds")
    return (p - lost) / secs / 1e3 if p and secs and lost is not None else None

def cpu_us(d):
    try:
        c0, c1, hz = (int(x) for x in open(os.path.join(d, "cpu.ticks")).read().split())
    except (OSError, ValueError):
        return None
    s = js(os.path.join(d, "cpu.json")).get("end", {}).get("sum", {})
    p, lost = s.get("packets"), s.get("lost_packets")
    if not p or lost is None or c1 <= c0:
        return None
    return (c1 - c0) / hz / (p - lost) * 1e6

def program_us(d):
    """The fast path's program: its own run time per run (kernel.bpf_stats_enabled), µs."""
    try:
        t0, n0 = (int(x) for x in open(os.path.join(d, "bpf.before")).read().split())
        t1, n1 = (int(x) for x in open(os.path.join(d, "bpf.after")).read().split())
    except (OSError, ValueError):
        return None
    return (t1 - t0) / (n1 - n0) / 1e3 if n1 > n0 else None

def gso(d):
    try:
        n, total, secs = open(os.path.join(d, "gso.sink")).read().split()[-3:]
        return int(total) * 8 / float(secs) / 1e9 if float(secs) > 0 else None
    except (OSError, ValueError):
        return None

def conn(d):
    try:
        m = re.search(r"Requests/sec:\s+([\d.]+)", open(os.path.join(d, "wrk.txt")).read())
        return float(m.group(1)) if m else None
    except OSError:
        return None

def conn_p99(d):
    """wrk --latency: the 99th percentile of a request, in ms."""
    try:
        m = re.search(r"^\s*99%\s+([\d.]+)(us|ms|s)\s*$", open(os.path.join(d, "wrk.txt")).read(), re.M)
    except OSError:
        return None
    return float(m.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[m.group(2)] if m else None

metrics = [("tcp1", "TCP 1 flow Gbit/s", lambda d: tcp(d, "tcp1.json"), True),
           ("tcp8", "TCP 8 flows Gbit/s", lambda d: tcp(d, "tcp8.json"), True),
           ("udp64", "UDP 64 B kpps", lambda d: udp_kpps(d, "udp64.json"), True),
           ("gso", "UDP GSO Gbit/s", gso, True),
           ("cpu", "CPU µs/pkt @%dk pps" % (fixed_rate // 1000), cpu_us, False),
           ("prog", "program µs/pkt", program_us, False),
           ("conn", "TCP conn/s", conn, True),
           ("connp99", "conn p99 ms", conn_p99, False)]
table = {}
for v in variants:
    row = {}
    for key, _, f, _ in metrics:
        vals = [x for x in (f(os.path.join(results, v, str(r))) for r in range(1, rounds + 1)
                            if not os.path.exists(os.path.join(results, v, str(r), "failed"))) if x is not None]
        row[key] = statistics.median(vals) if vals else None
    table[v] = row

def cell(x):
    return "n/a" if x is None else ("%.2f" % x if x < 100 else "%.0f" % x)

cols = ["variant"] + [m[1] for m in metrics]
rows = [[v] + [cell(table[v][m[0]]) for m in metrics] for v in variants]
for a, b in [("nat64d", "native"), ("nat64d", "tayga"), ("nat64d-1q", "native"), ("nat64d", "nat64d-1q"),
             ("nat64d-fastpath", "native"), ("nat64d-fastpath", "tayga"), ("nat64d-fastpath", "nat64d"),
             ("nat64d-uring", "native"), ("nat64d-uring", "tayga"), ("nat64d-uring", "nat64d"),
             ("nat64d-1q-uring", "nat64d-1q")]:
    if a in table and b in table:
        r = []
        for key, _, _, _ in metrics:
            x, y = table[a][key], table[b][key]
            r.append("%.2fx" % (x / y) if x is not None and y else "n/a")
        rows.append(["%s / %s" % (a, b)] + r)
def drops(v, r):
    """Non-zero drop and eviction counters of a nat64d round, from ctl stats --json."""
    d = js(os.path.join(results, v, str(r), "ctl-stats.json"))
    if not d:
        return None
    items = {k: n for k, n in d.get("drops", {}).items() if n}
    items.update({"evicted " + k: n for k, n in d.get("sessions-evicted", {}).items() if n})
    if d.get("sessions-evicted-transitory"):
        items["evicted transitory tcp"] = d["sessions-evicted-transitory"]
    return ", ".join("%s %d" % kv for kv in sorted(items.items())) or "none"
counted = [(v, r, drops(v, r)) for v in variants if v.startswith("nat64d") for r in range(1, rounds + 1)]
counted = [c for c in counted if c[2] is not None]
meta = [l.rstrip("\n").split("\t", 1) for l in open(os.path.join(results, "meta.tsv"))]
if fmt == "markdown":
    print("## Forwarding %s\n" % dict(meta)["date"])
    for k, v in meta:
        print("- %s: %s" % (k, "`%s`" % v if k == "command" else v))
    print("\n| " + " | ".join(cols) + " |")
    print("|" + "|".join(["---"] + ["---:"] * (len(cols) - 1)) + "|")
    for r in rows:
        print("| " + " | ".join(r) + " |")
    print("\nRatios: higher is better, except CPU µs per packet and conn p99 ms (lower is better).\n")
    for v, r, text in counted:
        print("- %s round %d, drops and evictions (`ctl stats`): %s" % (v, r, text))
    if counted:
        print()
else:
    for k, v in meta:
        print("%-11s %s" % (k + ":", v))
    w = [max(len(r[i]) for r in [cols] + rows) for i in range(len(cols))]
    for r in [cols] + rows:
        print("  ".join(c.ljust(w[i]) if i == 0 else c.rjust(w[i]) for i, c in enumerate(r)))
    for v, r, text in counted:
        print("%s round %d, drops and evictions (ctl stats): %s" % (v, r, text))
PYEOF
cat "$RESULTS/report.txt"
if [[ -n $MARKDOWN ]]; then
    mkdir -p "$(dirname "$MARKDOWN")"
    { [[ -s $MARKDOWN ]] && printf '\n'; cat "$RESULTS/report.txt"; } >>"$MARKDOWN"
    log "appended the results to $MARKDOWN"
fi
