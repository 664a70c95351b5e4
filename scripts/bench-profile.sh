#!/usr/bin/env bash
# Where the gateway's CPU goes per 64-byte UDP packet: `perf record` (software clock, call graphs) of the
# translator process while the client offers 64-byte UDP as fast as it can, in the topology of
# scripts/netns-lib.sh; then the samples grouped into user-space translation, system call entry and exit, the
# TUN driver, io_uring, the kernel's IP forwarding and veth transmit (run in the writer's context: a TUN
# write hands the packet to the stack on the writing thread), memory copies, and the rest. Not a test; a
# companion of scripts/bench-throughput.sh. Must run as root; needs linux-perf.
#
#   NAT64D=/path/to/nat64d scripts/bench-profile.sh                      # nat64d, tun.io = "syscalls"
#   NAT64D=... scripts/bench-profile.sh --variant nat64d-uring            # tun.io = "uring"
#   scripts/bench-profile.sh --variant tayga --time 8 --queues 1
#   NAT64D=... scripts/bench-profile.sh --load tcp8 --queues 2           # iperf3 -P 8 over TCP instead
#
# Options: --variant nat64d|nat64d-uring|tayga (default nat64d), --load udp64|tcp1|tcp8|gso (default udp64:
# 64-byte UDP as fast as the client can; tcp1, tcp8: one or 8 parallel TCP flows; gso: UDP_SEGMENT super-packets
# of 1400-byte datagrams from tests/netns/offload/udp-gso.py; all but udp64 are reported per MiB delivered),
# --time S (default 8), --queues N (default 1), --keep DIR (keep perf.data and the full report there).
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/netns-lib.sh
source "$SCRIPT_DIR/netns-lib.sh"

VARIANT=nat64d
LOAD_KIND=udp64
TIME=8
QUEUES=1
KEEP=
IPERF_PORT=5201
die() { printf 'bench-profile: %s\n' "$*" >&2; exit 2; }
while (($#)); do
    case $1 in
    --variant) [[ ${2:-} =~ ^(nat64d|nat64d-uring|tayga)$ ]] || die "--variant: nat64d, nat64d-uring or tayga"; VARIANT=$2; shift 2 ;;
    --load) [[ ${2:-} =~ ^(udp64|tcp1|tcp8|gso)$ ]] || die "--load: udp64, tcp1, tcp8 or gso"; LOAD_KIND=$2; shift 2 ;;
    --time) [[ ${2:-} =~ ^[0-9]+$ ]] && (($2 >= 3 && $2 <= 60)) || die "--time takes 3..60"; TIME=$2; shift 2 ;;
    --queues) [[ ${2:-} =~ ^[0-9]+$ ]] && (($2 >= 1 && $2 <= 256)) || die "--queues takes 1..256"; QUEUES=$2; shift 2 ;;
    --keep) [[ -n ${2:-} ]] || die "--keep needs a directory"; KEEP=$2; shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) die "unknown argument '$1'" ;;
    esac
done
((EUID == 0)) || die "must run as root"
command -v perf >/dev/null || die "perf not found (Debian: linux-perf)"
[[ $VARIANT == tayga || -n ${NAT64D:-} ]] || die "set NAT64D to the nat64d binary (a release build)"

OUT=$(mktemp -d "${TMPDIR:-/tmp}/nat64d-profile.XXXXXX")
trap 'set +e; netns_teardown; [[ -n $KEEP ]] && { mkdir -p "$KEEP"; cp -a "$OUT"/. "$KEEP"/; }; rm -rf "$OUT"' EXIT

netns_setup
case $VARIANT in
tayga) netns_start_tayga; PID=$TAYGA_PID ;;
*)
    export NAT64D_TUN_QUEUES=$QUEUES NAT64D_TUN_OFFLOAD=true NAT64D_TUN_IO=syscalls
    [[ $VARIANT == nat64d-uring ]] && NAT64D_TUN_IO=uring
    netns_start_nat64d "$NAT64D"
    netns_wait_nat64d 15 || { netns_show_log nat64d 40; die "nat64d did not start"; }
    PID=$NAT64D_PID
    ;;
esac
netns_start_bg "$NS_SERVER" iperf3-server iperf3 -s -p "$IPERF_PORT" --idle-timeout 60
netns_wait_until 5 in_server bash -c "ss -Hlun 'sport = :$IPERF_PORT' | grep -q . || ss -Hltn 'sport = :$IPERF_PORT' | grep -q ."
timeout 10 ip netns exec "$NS_CLIENT" ping -6 -n -c 2 -W 2 "$SERVER_SYNTH6" >/dev/null || die "no ping reply through $VARIANT"

LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
LOAD_ARGS=(-u -l 64 -b 0)
[[ $LOAD_KIND == tcp1 ]] && LOAD_ARGS=(-P 1)
[[ $LOAD_KIND == tcp8 ]] && LOAD_ARGS=(-P 8)
GSO_TOOL=$SCRIPT_DIR/../tests/netns/offload/udp-gso.py
GSO_PORT=7010
if [[ $LOAD_KIND == gso ]]; then
    in_server python3 "$GSO_TOOL" sink "$GSO_PORT" $((TIME + 8)) >"$OUT/gso.sink" 2>&1 &
    SINK=$!
    for _ in $(seq 50); do grep -q ready "$OUT/gso.sink" 2>/dev/null && break; sleep 0.1; done
    timeout --foreground -k 2 $((TIME + 20)) ip netns exec "$NS_CLIENT" \
        python3 "$GSO_TOOL" blast "$SERVER_SYNTH6" "$GSO_PORT" $((TIME + 2)) >"$OUT/gso.sent" 2>&1 &
else
    timeout --foreground -k 2 $((TIME + 20)) ip netns exec "$NS_CLIENT" \
        iperf3 -6 -c "$SERVER_SYNTH6" -p "$IPERF_PORT" "${LOAD_ARGS[@]}" -t $((TIME + 2)) -J >"$OUT/iperf.json" 2>&1 &
fi
CLIENT=$!
sleep 1
C0=$(awk '{ print $14 + $15 }' "/proc/$PID/stat")
perf record -q -e cpu-clock -F 1999 -g -p "$PID" -o "$OUT/perf.data" -- sleep "$TIME" 2>"$OUT/perf-record.log"
C1=$(awk '{ print $14 + $15 }' "/proc/$PID/stat")
printf '%s %s %s\n' "$C0" "$C1" "$LOAD" >"$OUT/cpu.ticks"
wait "$CLIENT" || true
[[ $LOAD_KIND == gso ]] && { wait "$SINK" || true; }
perf report -i "$OUT/perf.data" --no-children --sort dso,sym --stdio --percent-limit 0 -g none 2>/dev/null \
    >"$OUT/report.txt"

python3 - "$OUT" "$VARIANT" "$TIME" "$LOAD" "$C0" "$C1" "$(getconf CLK_TCK)" "$LOAD_KIND" <<'PY'
import json, re, sys
out, variant, secs, load, c0, c1, hz = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], *map(int, sys.argv[5:8])
load_kind = sys.argv[8]
end = {} if load_kind == "gso" else json.load(open(out + "/iperf.json")).get("end", {})
if load_kind == "gso":  # "DATAGRAMS BYTES SECONDS" from the sink
    n, nbytes, span = open(out + "/gso.sink").read().split()[-3:]
    delivered = int(nbytes) / 1048576 / max(float(span), 1e-9)
    unit, rate = "MiB", "%.0f MiB/s (%.2f Gbit/s) delivered" % (delivered, delivered * 8 * 1.048576 / 1000)
elif load_kind in ("tcp1", "tcp8"):  # units: MiB delivered to the server
    s = end.get("sum_received", {})
    delivered = s.get("bytes", 0) / 1048576 / max(s.get("seconds", 1), 1e-9)
    unit, rate = "MiB", "%.0f MiB/s (%.2f Gbit/s) delivered" % (delivered, delivered * 8 * 1.048576 / 1000)
else:
    s = end.get("sum", {})
    delivered = (s.get("packets", 0) - s.get("lost_packets", 0)) / max(s.get("seconds", 1), 1e-9)
    unit, rate = "packet", "%.0f packets/s delivered" % delivered
cpu = (c1 - c0) / hz / secs  # cores busy during the sample window
groups = [  # first match wins
    ("syscall entry/exit", r"entry_SYSCALL|do_syscall|syscall_exit|__x64_sys|ksys_|syscall_return|exit_to_user|"
                           r"fpregs|__fdget|fput|vfs_read|vfs_write|do_iter|rw_verify|import_iovec|__import_iovec|"
                           r"security_file|rcu_note_context|__rseq|rseq_"),
    ("poll / wake-ups", r"poll|schedule|__schedule|finish_task|pick_next|dequeue|enqueue|hrtimer|eventfd|try_to_wake|"
                        r"update_curr|update_load|psi_|switch_|native_sched|timer|tick_"),
    ("io_uring", r"io_uring|^io_|__io_"),
    ("locks, interrupts re-enabled", r"_raw_spin|queued_spin|spin_lock|spin_unlock"),
    ("TUN driver", r"tun_"),
    ("copies", r"copy_user|_copy_from|_copy_to|copy_page|memcpy|memmove|rep_movs|clear_user|copyin|copyout"),
    ("skb alloc/free", r"skb|kmem_cache|kmalloc|kfree|__alloc|slab|page_frag|__build_skb|napi_alloc|build_skb"),
    ("IP forwarding + veth", r"ip_|ip6_|ipv6_|ipv4|udp|fib|neigh|dev_|netif|__netif|veth|net_rx|do_softirq|"
                             r"__local_bh|nf_|__dev_queue|sch_|qdisc|eth_|validate_xmit|packet_rcv|skb_|"
                             r"dst_|rt6|icmp|inet_|csum|process_backlog|__napi|napi_|gro|handle_softirqs|sock_"),
]
user = {}
kernel = {}
total = 0.0
for line in open(out + "/report.txt"):
    m = re.match(r"\s*([\d.]+)%\s+(\S+)\s+\[(.)\]\s+(.*)", line)
    if not m:
        continue
    pct, dso, kind, sym = float(m.group(1)), m.group(2), m.group(3), m.group(4).strip()
    total += pct
    if kind == "k":
        g = next((name for name, rx in groups if re.search(rx, sym)), "other kernel")
        kernel[g] = kernel.get(g, 0) + pct
    else:
        g = "translator (%s)" % dso if dso.startswith(("nat64d", "tayga")) else "user libraries (%s)" % dso
        user[g] = user.get(g, 0) + pct
us_per_packet = cpu * 1e6 / delivered if delivered else float("nan")
print("variant %s, %s, load %s, %d s, %s, %.2f cores busy, %.2f µs CPU per %s"
      % (variant, load_kind, load, secs, rate, cpu, us_per_packet, unit))
print("| where | share of samples | µs per %s |" % unit)
print("|---|---:|---:|")
for name, pct in sorted(list(user.items()) + list(kernel.items()), key=lambda x: -x[1]):
    if pct >= 0.5:
        print("| %s | %.1f%% | %.2f |" % (name, pct, pct / max(total, 1e-9) * us_per_packet))
PY
printf '\nTop symbols:\n'
grep -E '^\s+[0-9.]+%' "$OUT/report.txt" | head -n 25
