#!/usr/bin/env bash
# Throughput / latency benchmark: nat64d vs TAYGA (the userspace translator to
# beat), in the namespace topology of scripts/netns-lib.sh. Not part of the
# test suite. Must run as root.
#
#   scripts/bench-throughput.sh                        # deps, release build, both
#   NAT64D=/path/to/nat64d scripts/bench-throughput.sh # use this binary (no build)
#   scripts/bench-throughput.sh --only tayga           # TAYGA only (no build)
#   scripts/bench-throughput.sh --markdown docs/performance.md
#
# Options:
#   --only nat64d|tayga  benchmark one translator only
#   --markdown FILE      append a markdown section (environment + table) to FILE
#   --tcp-time S         TCP test length per direction (default 10)
#   --udp-time S         UDP test length (default 5)
#   --udp-rate R         UDP offered rate, iperf3 -b syntax (default 1G)
#   --udp-len N          UDP payload bytes (default 1400)
#   --no-deps            do not run scripts/install-deps.sh
#   -h, --help
#
# For each translator a fresh topology is built (so no neighbour, conntrack or
# socket state carries over), iperf3 -s runs in the server namespace bound to
# 198.51.100.10, and the IPv6-only client measures, towards the server's
# synthesized address 2001:db8:64::c633:640a:
#   TCP single stream upload and download (-R) after a 1 s warm-up (-O 1),
#   UDP at a fixed offered rate (delivered packets/s and loss), ping -6 RTT.
# Every client command is bounded by `timeout`; after the build the whole run
# takes about 2 x (2 x tcp-time + udp-time + ~10 s), i.e. ~70 s by default.
# If nat64d does not build or start, its row says why and TAYGA is still
# measured; the exit status is then 1.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/.." && pwd)
# shellcheck source=scripts/netns-lib.sh
source "$SCRIPT_DIR/netns-lib.sh"

PY=/usr/bin/python3
[[ -x $PY ]] || PY=python3

ONLY=
MARKDOWN=
TCP_TIME=10
UDP_TIME=5
UDP_RATE=1G
UDP_LEN=1400
PING_COUNT=20
PING_INTERVAL=0.05
INSTALL_DEPS=1
IPERF_PORT=5201
STARTUP_TIMEOUT=15 # s, nat64d readiness

COMMAND_LINE=$(printf '%q ' "$0" "$@")
COMMAND_LINE=${COMMAND_LINE% }
[[ -n ${NAT64D:-} ]] && COMMAND_LINE="NAT64D=$(printf '%q' "$NAT64D") $COMMAND_LINE"

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }
die() {
    printf 'bench-throughput: %s\n' "$*" >&2
    exit 2
}
log() { printf '[bench] %s\n' "$*" >&2; }

# in_range VALUE MIN MAX: VALUE is a decimal integer within [MIN, MAX].
in_range() { [[ $1 =~ ^[1-9][0-9]*$ ]] && (($1 >= $2 && $1 <= $3)); }

while (($#)); do
    case $1 in
    --only)
        [[ ${2:-} == nat64d || ${2:-} == nat64d-offload || ${2:-} == tayga ]] ||
            die "--only takes nat64d, nat64d-offload or tayga"
        ONLY=$2
        shift 2
        ;;
    --markdown)
        [[ -n ${2:-} ]] || die "--markdown needs a file"
        MARKDOWN=$2
        shift 2
        ;;
    --tcp-time)
        in_range "${2:-}" 1 60 || die "--tcp-time takes 1..60"
        TCP_TIME=$2
        shift 2
        ;;
    --udp-time)
        in_range "${2:-}" 1 60 || die "--udp-time takes 1..60"
        UDP_TIME=$2
        shift 2
        ;;
    --udp-rate)
        [[ ${2:-} =~ ^[0-9]+(\.[0-9]+)?[KMG]?$ ]] || die "--udp-rate takes e.g. 500M, 1G"
        UDP_RATE=$2
        shift 2
        ;;
    --udp-len)
        in_range "${2:-}" 64 1400 || die "--udp-len takes 64..1400"
        UDP_LEN=$2
        shift 2
        ;;
    --no-deps)
        INSTALL_DEPS=0
        shift
        ;;
    -h | --help)
        usage
        exit 0
        ;;
    *) die "unknown argument '$1' (see --help)" ;;
    esac
done

if ((EUID != 0)); then die "must run as root (creates network namespaces)"; fi
if ! command -v swift >/dev/null && [[ -x /opt/swift/usr/bin/swift ]]; then
    PATH=/opt/swift/usr/bin:$PATH
fi

TRANSLATORS=(nat64d nat64d-offload tayga)
[[ -n $ONLY ]] && TRANSLATORS=("$ONLY")

# Results: one directory per translator under $RESULTS (survives the netns
# workdir, which is removed with each topology).
RESULTS=$(mktemp -d "${TMPDIR:-/tmp}/nat64d-bench.XXXXXX")
SERVER_PID=

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

# ---------------------------------------------------------------- preparation

if ((INSTALL_DEPS)); then
    bash "$SCRIPT_DIR/install-deps.sh"
fi
for tool in iperf3 ping ip; do
    command -v "$tool" >/dev/null || die "$tool not found (run scripts/install-deps.sh)"
done

# nat64d binary: $NAT64D, or a release build of this tree. A failed build is
# recorded as the reason nat64d was not measured; TAYGA still runs.
NAT64D_FAIL=
NAT64D_BIN=
if [[ " ${TRANSLATORS[*]} " == *" nat64d"* ]]; then
    if [[ -n ${NAT64D:-} ]]; then
        NAT64D_BIN=$NAT64D
    else
        log "building nat64d (swift build -c release --product nat64d)"
        if (cd "$REPO_ROOT" && swift build -c release --product nat64d) >"$RESULTS/build.log" 2>&1; then
            NAT64D_BIN="$(cd "$REPO_ROOT" && swift build -c release --show-bin-path)/nat64d"
        else
            NAT64D_FAIL="release build failed (swift build -c release --product nat64d)"
            log "$NAT64D_FAIL; last lines of the build log:"
            tail -n 20 "$RESULTS/build.log" >&2
        fi
    fi
    if [[ -z $NAT64D_FAIL && ! -x $NAT64D_BIN ]]; then
        NAT64D_FAIL="binary not found or not executable: $NAT64D_BIN"
    fi
fi

# ---------------------------------------------------------------- measurement

# Client command bounded in time (--foreground: Ctrl-C reaches it).
client_timeout() {
    local t=$1
    shift
    timeout --foreground -k 2 "$t" ip netns exec "$NS_CLIENT" "$@"
}

start_iperf_server() {
    # --idle-timeout: the server exits by itself if it is ever left behind;
    # normally it is stopped by PID when the translator's run ends.
    netns_start_bg "$NS_SERVER" iperf3-server \
        iperf3 -s -B "$SERVER_ADDR4" -p "$IPERF_PORT" --idle-timeout 60
    SERVER_PID=$NETNS_LAST_PID
    # shellcheck disable=SC2016 # expanded by the inner bash
    if ! netns_wait_until 5 in_server bash -c 'ss -Hltn "sport = :$1" | grep -q .' _ "$IPERF_PORT"; then
        netns_show_log iperf3-server
        return 1
    fi
}

stop_iperf_server() {
    [[ -n $SERVER_PID ]] || return 0
    netns_stop_pid "$SERVER_PID" 3
    SERVER_PID=
}

# run_iperf OUT.json TIMEOUT ARGS...: iperf3 client to the synthesized
# address; JSON (with an "error" key on failure) to OUT.json.
run_iperf() {
    local out=$1 t=$2 rc=0
    shift 2
    client_timeout "$t" iperf3 -6 -c "$SERVER_SYNTH6" -p "$IPERF_PORT" \
        --connect-timeout 3000 -J "$@" >"$out" 2>"$out.stderr" || rc=$?
    if ((rc == 124 || rc == 137)); then
        printf '{"error": "timed out after %ss"}\n' "$t" >"$out"
    elif [[ ! -s $out ]]; then
        printf '{"error": "iperf3 exited %s without output"}\n' "$rc" >"$out"
    fi
    # iperf3 serves one test at a time: give it a moment between tests.
    sleep 0.5
    return 0
}

measure() {
    local name=$1 dir=$RESULTS/$1
    log "$name: TCP upload, ${TCP_TIME}s"
    # -O 1: leave the first second (slow start) out of the result.
    run_iperf "$dir/tcp-up.json" $((TCP_TIME + 15)) -t "$TCP_TIME" -O 1
    log "$name: TCP download (-R), ${TCP_TIME}s"
    run_iperf "$dir/tcp-down.json" $((TCP_TIME + 15)) -t "$TCP_TIME" -O 1 -R --rcv-timeout 5000
    log "$name: UDP upload at $UDP_RATE, ${UDP_LEN}-byte payloads, ${UDP_TIME}s"
    run_iperf "$dir/udp.json" $((UDP_TIME + 15)) -u -b "$UDP_RATE" -l "$UDP_LEN" -t "$UDP_TIME"
    log "$name: ping -6 -c $PING_COUNT -i $PING_INTERVAL"
    client_timeout 15 ping -6 -n -q -c "$PING_COUNT" -i "$PING_INTERVAL" -W 2 "$SERVER_SYNTH6" \
        >"$dir/ping.txt" 2>&1 || true
}

start_translator() {
    local name=$1 st
    case $name in
    tayga)
        netns_start_tayga || {
            printf 'tayga did not start (see log above)\n' >"$RESULTS/$name/failed"
            return 1
        }
        ;;
    nat64d | nat64d-offload)
        # nat64d-offload: the same binary with TUN checksum/segmentation offload (tun.offload = true).
        if [[ $name == nat64d-offload ]]; then NAT64D_TUN_OFFLOAD=true; else NAT64D_TUN_OFFLOAD=false; fi
        if [[ -n $NAT64D_FAIL ]]; then
            printf '%s\n' "$NAT64D_FAIL" >"$RESULTS/$name/failed"
            return 1
        fi
        netns_start_nat64d "$NAT64D_BIN" # log level: $NAT64D_LOG_LEVEL (default info)
        if ! netns_wait_nat64d "$STARTUP_TIMEOUT"; then
            netns_show_log nat64d 40
            if netns_pid_alive "$NAT64D_PID"; then
                printf 'not ready after %ss (TUN %s + DNS64 on [%s]:53)\n' \
                    "$STARTUP_TIMEOUT" "$NAT64D_TUN" "$GW_ADDR6" >"$RESULTS/$name/failed"
            else
                if wait "$NAT64D_PID" 2>/dev/null; then st=0; else st=$?; fi
                printf 'exited during startup with status %s\n' "$st" >"$RESULTS/$name/failed"
            fi
            return 1
        fi
        ;;
    esac
}

# Check the path end to end before measuring: one ping through the translator.
path_ok() {
    client_timeout 10 ping -6 -n -c 1 -W 2 "$SERVER_SYNTH6" >/dev/null 2>&1 ||
        client_timeout 10 ping -6 -n -c 2 -W 2 "$SERVER_SYNTH6" >/dev/null 2>&1
}

bench_one() {
    local name=$1
    mkdir -p "$RESULTS/$name"
    log "=== $name"
    netns_setup
    netns_start_servers
    if start_translator "$name"; then
        if ! path_ok; then
            printf 'no ping reply from %s through %s\n' "$SERVER_SYNTH6" "$name" >"$RESULTS/$name/failed"
        elif ! start_iperf_server; then
            printf 'iperf3 server did not start\n' >"$RESULTS/$name/failed"
        else
            measure "$name"
        fi
        if [[ $name == nat64d* ]] && ! netns_pid_alive "$NAT64D_PID"; then
            printf 'nat64d exited during the benchmark\n' >>"$RESULTS/$name/died"
            netns_show_log nat64d 40
        fi
    fi
    if [[ -f $RESULTS/$name/failed ]]; then
        log "$name: NOT MEASURED: $(cat "$RESULTS/$name/failed")"
    fi
    stop_iperf_server
    netns_teardown
}

# The benchmark shares the CPUs with everything else on the host: record the
# load so that noisy runs can be recognised.
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
for t in "${TRANSLATORS[@]}"; do bench_one "$t"; done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# ------------------------------------------------------------------- report

# git_describe DIR: short commit of the work tree containing DIR, "+dirty"
# if it has uncommitted changes.
git_describe() {
    local c
    c=$(git -C "$1" rev-parse --short HEAD 2>/dev/null) || return 1
    if [[ -n $(git -C "$1" status --porcelain --untracked-files=no 2>/dev/null) ]]; then c+=" +dirty"; fi
    printf '%s' "$c"
}

# Where the nat64d binary came from: its work tree's commit and its mtime
# (the binary may be older than the tree's HEAD).
binary_provenance() {
    local bin=$1 dir top
    [[ -n $bin && -f $bin ]] || { printf 'n/a'; return 0; }
    dir=$(dirname "$(readlink -f "$bin")")
    top=$(git -C "$dir" rev-parse --show-toplevel 2>/dev/null) || top=
    if [[ -n $top ]]; then
        printf 'work tree %s at %s, ' "$top" "$(git_describe "$top")"
    fi
    printf 'binary built %s' "$(date -u -r "$bin" '+%Y-%m-%d %H:%M:%S UTC')"
}

git_commit=$(git_describe "$REPO_ROOT" || echo unknown)
{
    printf 'date\t%s\n' "$(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    printf 'command\t%s\n' "$COMMAND_LINE"
    printf 'git commit\t%s\n' "$git_commit"
    printf 'cpu\t%s (%s CPUs)\n' "$(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -n1)" "$(nproc)"
    printf 'kernel\t%s\n' "$(uname -r)"
    printf 'load average\t%s before, %s after (1/5/15 min)\n' "$LOAD_BEFORE" "$LOAD_AFTER"
    printf 'iperf3\t%s\n' "$(iperf3 --version 2>/dev/null | head -n1)"
    if [[ " ${TRANSLATORS[*]} " == *" nat64d"* ]]; then
        printf 'nat64d binary\t%s\n' "${NAT64D_BIN:-none}"
        printf 'nat64d source\t%s\n' "$(binary_provenance "$NAT64D_BIN")"
    fi
    if [[ " ${TRANSLATORS[*]} " == *" tayga "* ]]; then
        printf 'tayga\t%s\n' "$(dpkg-query -W -f='${Version}' tayga 2>/dev/null || echo unknown)"
    fi
    printf 'tests\tTCP 1 stream %ss up + %ss down (-R), first second omitted (-O 1); UDP up %s offered, %s-byte payloads, %ss; ping -6 -c %s -i %s\n' \
        "$TCP_TIME" "$TCP_TIME" "$UDP_RATE" "$UDP_LEN" "$UDP_TIME" "$PING_COUNT" "$PING_INTERVAL"
} >"$RESULTS/meta.tsv"

report_args=(--results "$RESULTS" --meta "$RESULTS/meta.tsv" --udp-len "$UDP_LEN")
for t in "${TRANSLATORS[@]}"; do report_args+=(--translator "$t"); done

cat >"$RESULTS/report.py" <<'PYEOF'
import argparse, json, os, re, sys

ap = argparse.ArgumentParser()
ap.add_argument("--results")
ap.add_argument("--meta")
ap.add_argument("--translator", action="append", default=[])
ap.add_argument("--format", choices=["text", "markdown"])
ap.add_argument("--udp-len", type=int)
a = ap.parse_args()

def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        try:
            lines = [l.strip() for l in open(path + ".stderr") if l.strip()]
        except OSError:
            lines = []
        return {"error": lines[-1] if lines else "unreadable result (%s)" % e.__class__.__name__}

def tcp(path):
    d = load(path)
    if "error" in d:
        return None, d["error"]
    end = d.get("end", {})
    recv = end.get("sum_received", {})
    bps = recv.get("bits_per_second")
    if bps is None:
        return None, "no sum_received"
    retr = end.get("sum_sent", {}).get("retransmits")
    return bps / 1e9, "retr %s" % retr if retr is not None else ""

def udp(path):
    # Delivered = what the server received (sum_received); sent = what the
    # client managed to send, which can be below the offered rate when the
    # client shares the CPUs with the translator.
    d = load(path)
    if "error" in d:
        return None, None, None, d["error"]
    end = d.get("end", {})
    sent, recv = end.get("sum_sent", {}), end.get("sum_received", {})
    pkts, lost, secs = recv.get("packets"), recv.get("lost_packets"), recv.get("seconds")
    if not pkts or lost is None or not secs:
        return None, None, None, "no UDP summary"
    sent_pps = sent["packets"] / sent["seconds"] if sent.get("packets") and sent.get("seconds") else None
    return (pkts - lost) / secs / 1e6, 100.0 * lost / pkts, sent_pps and sent_pps / 1e6, ""

def ping(path):
    try:
        txt = open(path).read()
    except OSError:
        return None, None, "no output"
    m = re.search(r"= ([\d.]+)/([\d.]+)/([\d.]+)/([\d.]+) ms", txt)
    loss = re.search(r"([\d.]+)% packet loss", txt)
    if not m:
        return None, None, (txt.strip().splitlines() or ["no reply"])[-1]
    return float(m.group(2)), float(m.group(4)), ("%s%% loss" % loss.group(1)) if loss and float(loss.group(1)) else ""

rows = {}
notes = []
for t in a.translator:
    d = os.path.join(a.results, t)
    failed = os.path.join(d, "failed")
    if os.path.exists(failed):
        rows[t] = None
        notes.append("%s: not measured: %s" % (t, open(failed).read().strip()))
        continue
    up, upn = tcp(os.path.join(d, "tcp-up.json"))
    down, downn = tcp(os.path.join(d, "tcp-down.json"))
    mpps, loss, sent, udpn = udp(os.path.join(d, "udp.json"))
    avg, mdev, pingn = ping(os.path.join(d, "ping.txt"))
    rows[t] = dict(up=up, down=down, mpps=mpps, loss=loss, sent=sent, avg=avg, mdev=mdev)
    for label, n in (("TCP up", upn), ("TCP down", downn), ("UDP", udpn), ("ping", pingn)):
        if n:
            notes.append("%s %s: %s" % (t, label, n))
    if sent is not None:
        notes.append("%s UDP: the client sent %.3f Mpps (%.2f Gbit/s of payload)" % (t, sent, sent * 1e6 * a.udp_len * 8 / 1e9))
    if os.path.exists(os.path.join(d, "died")):
        notes.append("%s: the daemon exited during the benchmark" % t)

def f(v, fmt):
    return "n/a" if v is None else fmt % v

cols = ["translator", "TCP up Gbit/s", "TCP down Gbit/s", "UDP Mpps delivered", "UDP loss %", "ping avg ms (mdev)"]
table = []
for t in a.translator:
    r = rows[t]
    if r is None:
        table.append([t, "FAILED", "", "", "", ""])
        continue
    p = "n/a" if r["avg"] is None else "%.3f (%.3f)" % (r["avg"], r["mdev"])
    table.append([t, f(r["up"], "%.2f"), f(r["down"], "%.2f"), f(r["mpps"], "%.3f"), f(r["loss"], "%.2f"), p])

t_ = rows.get("tayga")
for variant in ("nat64d", "nat64d-offload"):
    n = rows.get(variant)
    if not (n and t_):
        continue
    def ratio(k):
        if n[k] is None or t_[k] is None or t_[k] == 0:
            return "n/a"
        return "%.2fx" % (n[k] / t_[k])
    table.append([variant + "/tayga", ratio("up"), ratio("down"), ratio("mpps"), ratio("loss"), ratio("avg")])

meta = [line.rstrip("\n").split("\t", 1) for line in open(a.meta) if "\t" in line]

if a.format == "text":
    for k, v in meta:
        print("%-14s %s" % (k + ":", v))
    print()
    w = [max(len(str(row[i])) for row in [cols] + table) for i in range(len(cols))]
    line = lambda row: "  ".join(str(c).ljust(w[i]) if i == 0 else str(c).rjust(w[i]) for i, c in enumerate(row))
    print(line(cols))
    print("  ".join("-" * x for x in w))
    for row in table:
        print(line(row))
    if n and t_:
        print("(ratios: higher is better for TCP and UDP Mpps, lower is better for loss and ping)")
    for note in notes:
        print("note: " + note)
else:
    date = dict(meta).get("date", "")
    print("## Throughput %s: %s\n" % (date, " vs ".join(a.translator)))
    for k, v in meta:
        print("- %s: `%s`" % (k, v) if k in ("command", "git commit", "nat64d binary") else "- %s: %s" % (k, v))
    print()
    print("| " + " | ".join(cols) + " |")
    print("|" + "|".join(["---"] + ["---:"] * (len(cols) - 1)) + "|")
    for row in table:
        print("| " + " | ".join(str(c) for c in row) + " |")
    if n and t_:
        print("\nRatios: higher is better for TCP and UDP Mpps, lower is better for loss and ping.")
    if notes:
        print()
        for note in notes:
            print("- " + note)
    print()
PYEOF

printf '\n'
"$PY" "$RESULTS/report.py" "${report_args[@]}" --format text

if [[ -n $MARKDOWN ]]; then
    "$PY" "$RESULTS/report.py" "${report_args[@]}" --format markdown >"$RESULTS/report.md"
    mkdir -p "$(dirname "$MARKDOWN")"
    if [[ -s $MARKDOWN ]]; then printf '\n' >>"$MARKDOWN"; fi
    cat "$RESULTS/report.md" >>"$MARKDOWN"
    log "appended the results to $MARKDOWN"
fi

# Exit 1 if a requested translator could not be measured.
for t in "${TRANSLATORS[@]}"; do
    [[ ! -f $RESULTS/$t/failed ]] || exit 1
done
