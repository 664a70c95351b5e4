#!/usr/bin/env bash
# What the mapping log costs: nat64d with [mapping-log] off, then on with detail "session" (one
# line per session made, the most expensive setting), alternating in one run, on a load made only of new
# sessions: the IPv6 client sends one UDP datagram to each of COUNT distinct destination ports, so every
# datagram makes a session (and, logged, two lines: ses-add and later nothing, since nothing expires during the
# run). Not a test; must run as root; traffic stays in the namespaces of scripts/netns-lib.sh.
#
#   NAT64D=$PWD/.build/release/nat64d scripts/bench-mapping-log.sh [ROUNDS] [COUNT]   # default 3 50000
#
# For each run: a fresh nat64d, the sender's time, and from `ctl stats --json` the datagrams translated,
# the mapping log lines written and the events lost to a full ring. Prints one line per run and the ratio of
# the medians (sessions per second, on / off).
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/netns-lib.sh
source "$SCRIPT_DIR/netns-lib.sh"
trap netns_teardown EXIT
ROUNDS=${1:-3}
COUNT=${2:-50000}
: "${NAT64D:?set NAT64D to a nat64d binary}"
PY=/usr/bin/python3

netns_setup >/dev/null
netns_start_servers >/dev/null

write_config() { # NAME LOG(on|off)
    cat >"$NETNS_WORKDIR/$1.toml" <<EOF
[tun]
name = "$NAT64D_TUN"
[translator]
prefix = "$NAT64_PREFIX"
pool4 = ["$POOL4_ADDR"]
max-sessions = 200000
max-sessions-per-host = 200000
[gateway]
ipv4 = "$GW_ADDR4"
ipv6 = "$GW_ADDR6"
[dns64]
listen = ["[$GW_ADDR6]:53"]
upstream = ["$SERVER_ADDR4:53"]
allow = ["2001:db8:1::/64"]
[control]
socket = "$NETNS_WORKDIR/$1.sock"
[mapping-log]
enabled = $([[ $2 == on ]] && echo true || echo false)
path = "$NETNS_WORKDIR/$1-log/mapping.log"
detail = "session"
EOF
}

run_once() { # NAME LOG
    local name=$1 t0 t1 json
    write_config "$name" "$2"
    netns_start_translator "$name" "$NAT64D" run --config "$NETNS_WORKDIR/$name.toml"
    NAT64D_PID=$NETNS_TRANSLATOR_PID
    netns_wait_nat64d 10 >/dev/null 2>&1
    t0=$EPOCHREALTIME
    in_client timeout 60 "$PY" -c "
import socket
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.bind(('$CLIENT_ADDR6', 40000))
for p in range(10000, 10000 + $COUNT):
    s.sendto(b'x', ('$SERVER_SYNTH6', p))
"
    t1=$EPOCHREALTIME
    sleep 1
    json=$(timeout 10 "$NAT64D" ctl --socket "$NETNS_WORKDIR/$name.sock" stats --json)
    netns_stop_pid "$NAT64D_PID" 10
    jq -r --arg n "$name" --arg t "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')" '
        [$n, $t, .["translated-6to4"], (.abuse["mapping-log"]["lines-written"] // 0),
         (.abuse["mapping-log"]["events-dropped"] // 0)] | @tsv' <<<"$json"
}

echo "uptime: $(uptime)"
printf 'run\tsend-seconds\ttranslated\tlog-lines\tevents-lost\n'
results=()
for ((r = 1; r <= ROUNDS; r++)); do
    results+=("$(run_once "off-$r" off)")
    results+=("$(run_once "on-$r" on)")
done
printf '%s\n' "${results[@]}"
printf '%s\n' "${results[@]}" | awk -F'\t' '
    { rate = $3 / $2; if ($1 ~ /^off/) off[++n] = rate; else on[++m] = rate }
    function median(a, k,   i, j, t) { for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
        return (k % 2) ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2 }
    END { mo = median(off, n); mn = median(on, m)
          printf "median new sessions/s: log off %.0f, log on %.0f, on/off %.2f\n", mo, mn, mn / mo }'
