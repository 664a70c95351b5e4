#!/usr/bin/env bash
# End-to-end checks of the in-kernel fast path ([fast-path] interfaces) in network namespaces: the daemon's
# tc program carries established TCP and UDP flows between the gateway's two links without the TUN, and the
# daemon still owns every session. Must run as root. About 40 s.
#
#   NAT64D=/path/to/nat64d scripts/netns-fastpath-test.sh
#
# What is checked, each against what the client and the server saw (payload hashes, iperf3's own counts) and
# what `ctl stats --json` / `ctl sessions --json` report:
#   - a 96 MiB HTTP download through the gateway arrives intact, and the program, not the TUN, carried it
#     (all but its first 20 ms, before the daemon offloads a new session);
#   - the handshake and the close still took the TUN (the daemon's TCP state machine saw SYN and FIN);
#   - a UDP flow that only the program carries keeps its session alive: `expires-in-s` stays near
#     udp-timeout while the translator's own counters do not move;
#   - ICMP (ping) is never the program's: it takes the TUN;
#   - a UDP datagram whose Length lies, on a flow the program carries, is still dropped and counted by the
#     translator (F15);
#   - while a capture runs the program is off and the capture sees the flow's data packets; after it, the
#     program is on again;
#   - the program's TTL/hop limit, DF, traffic class and checksums, as the server and the client receive them.
#
# Only documentation ranges; no route leaves the namespaces. Prints one line per check, then exactly
# `N passed, N failed` as the last line; exits non-zero if anything failed. Everything is torn down on any exit.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/netns-lib.sh
source "$SCRIPT_DIR/netns-lib.sh"

PY=/usr/bin/python3
STARTUP_TIMEOUT=10
CMD_TIMEOUT=60
UDP_TIMEOUT=120     # translator.udp-timeout (the RFC 6146 minimum)
UDP_SECONDS=6       # length of the UDP flow that only the program carries
BIG_MIB=96          # size of the downloaded file
CONTROL_SOCKET=

# shellcheck source=scripts/netns-checks.sh
source "$SCRIPT_DIR/netns-checks.sh"
netns_checks_on_abort() {
    if ((FAILED > 0)) && [[ -n $NETNS_WORKDIR ]]; then netns_show_log nat64d 60; fi
}

netns_preflight netns-fastpath-test iperf3 curl tcpdump "$PY"

ctl() { timeout -k 2 "$CMD_TIMEOUT" "$NAT64D" ctl --socket "$CONTROL_SOCKET" "$@"; }

# metric SERIES: one value of `ctl stats --json`'s "metrics" (the /metrics series), 0 when absent.
metric() {
    ctl stats --json | "$PY" -c '
import json, sys
print(json.load(sys.stdin)["metrics"].get(sys.argv[1], 0))' "$1"
}
# stats_counter NAME: a top-level `ctl stats --json` counter.
stats_counter() { ctl stats --json | "$PY" -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

FP_OUT='nat64d_fastpath_packets_total{direction="6to4"}'
FP_IN='nat64d_fastpath_packets_total{direction="4to6"}'
FP_IN_BYTES='nat64d_fastpath_bytes_total{direction="4to6"}'

start() {
    CONTROL_SOCKET=$NETNS_WORKDIR/control.sock
    NAT64D_FAST_PATH=1 netns_write_nat64d_config info
    cat >>"$NETNS_WORKDIR/nat64d.toml" <<EOF

[capture]
directory = "$NETNS_WORKDIR/capture"

[control]
socket = "$CONTROL_SOCKET"
EOF
    sed -i "s/^\[translator\]$/[translator]\nudp-timeout = $UDP_TIMEOUT/" "$NETNS_WORKDIR/nat64d.toml"
    netns_start_translator nat64d "$NAT64D" run --config "$NETNS_WORKDIR/nat64d.toml"
    NAT64D_PID=$NETNS_TRANSLATOR_PID
}

# ------------------------------------------------------------------------------------------------ checks

check_program_loaded() {
    local out
    out=$(metric nat64d_fastpath_enabled 2>&1) || { DETAIL="ctl stats: $(oneline "$out")"; return 1; }
    [[ $out == 1 ]] || { DETAIL="nat64d_fastpath_enabled is $out, expected 1"; return 1; }
}

check_tcp_download() {
    local file=$NETNS_WORKDIR/www/big.bin want got before_in before_bytes after_in after_bytes tun_before tun_after
    head -c $((BIG_MIB << 20)) /dev/urandom >"$file"
    want=$(sha256sum "$file" | cut -d' ' -f1)
    before_in=$(metric "$FP_IN")
    before_bytes=$(metric "$FP_IN_BYTES")
    tun_before=$(stats_counter translated-4to6)
    # At 50 MB/s the download lasts about two seconds, so its first moments are a small part of it: the daemon
    # offloads a session once it is 20 ms old (FastPath.offloadAfter), and by then TCP's first burst may have
    # filled the client's receive buffer (a few MB) before curl's rate limit bites.
    got=$(client sh -c "curl -sS --max-time 30 --limit-rate 50M 'http://[$SERVER_SYNTH6]/big.bin' | sha256sum" 2>&1) ||
        { DETAIL="curl: $(oneline "$got")"; return 1; }
    got=${got%% *}
    [[ $got == "$want" ]] || { DETAIL="sha256 $got, the server's file has $want"; return 1; }
    after_in=$(metric "$FP_IN")
    after_bytes=$(metric "$FP_IN_BYTES")
    tun_after=$(stats_counter translated-4to6)
    netns_log "download: program carried $((after_in - before_in)) segments, $((after_bytes - before_bytes)) bytes; TUN 4to6 +$((tun_after - tun_before)) packets"
    # All but the first moments of the flow: at least 85 % of the bytes.
    if ((after_bytes - before_bytes < (BIG_MIB << 20) * 85 / 100)); then
        DETAIL="the program carried $((after_bytes - before_bytes)) bytes of a $BIG_MIB MiB download"
        return 1
    fi
    # The TUN still saw the flow's first and last packets (SYN-ACK, FIN), but not its data: with offload a
    # super-packet is one read, so allow a generous margin and still rule out "everything went both ways".
    if ((tun_after - tun_before > 200)); then
        DETAIL="the TUN translated $((tun_after - tun_before)) IPv4 packets of a flow the program carried"
        return 1
    fi
}

# The flow's SYN and FIN took the TUN: the daemon's session for it left ESTABLISHED (FIN seen both ways).
check_tcp_close_seen() {
    local out
    out=$(ctl sessions --json | "$PY" -c '
import json, sys
rows = [s for s in json.load(sys.stdin)["sessions"] if s.get("proto") == "tcp" and s.get("remote-port") == 80]
states = sorted({s.get("tcp-state") for s in rows})
print(" ".join(str(x) for x in states))
sys.exit(0 if rows and all(s.get("tcp-state") != "established" for s in rows) else 1)' 2>&1) ||
        { DETAIL="TCP sessions to port 80 after the download: $(oneline "$out")"; return 1; }
}

check_udp_kept_alive() {
    local out pid expires before_tun after_tun before_fp after_fp
    netns_start_bg "$NS_SERVER" iperf3-server iperf3 -s -1 -B "$SERVER_ADDR4" -p 5301
    sleep 0.5
    before_tun=$(stats_counter translated-6to4)
    before_fp=$(metric "$FP_OUT")
    # 2,000 datagrams a second for UDP_SECONDS; the first takes the TUN and makes the session.
    out=$(client iperf3 -u -c "$SERVER_SYNTH6" -p 5301 -b 16M -l 1000 -t "$UDP_SECONDS" --cport 41000 --json 2>&1) ||
        { DETAIL="iperf3: $(oneline "$out")"; return 1; }
    after_tun=$(stats_counter translated-6to4)
    after_fp=$(metric "$FP_OUT")
    expires=$(ctl sessions --json | "$PY" -c '
import json, sys
rows = [s for s in json.load(sys.stdin)["sessions"] if s.get("ipv6-port") == 41000 and s.get("remote-port") == 5301]
print(rows[0]["expires-in-s"] if rows else -1)')
    netns_log "UDP: program +$((after_fp - before_fp)) packets, TUN 6to4 +$((after_tun - before_tun)); session expires in ${expires}s"
    if ((after_fp - before_fp < UDP_SECONDS * 1500)); then
        DETAIL="the program carried $((after_fp - before_fp)) of ~$((UDP_SECONDS * 2000)) datagrams"
        return 1
    fi
    # Without the stamps the session would expire UDP_TIMEOUT after the packets the TUN saw (its first ones),
    # so UDP_SECONDS later it would show at most UDP_TIMEOUT - UDP_SECONDS.
    if ((expires < UDP_TIMEOUT - 3)); then
        DETAIL="the session expires in ${expires}s after a ${UDP_SECONDS}s flow the program carried; udp-timeout is $UDP_TIMEOUT"
        return 1
    fi
    if ((after_tun - before_tun > 200)); then
        DETAIL="the TUN translated $((after_tun - before_tun)) packets of the UDP flow"
        return 1
    fi
    out=$(metric nat64d_fastpath_refreshes_total)
    ((out > 0)) || { DETAIL="nat64d_fastpath_refreshes_total is $out"; return 1; }
}

# A malformed packet on an offloaded flow is still the translator's to drop and count (F15): a UDP flow is
# offloaded, its next packets go through the program, then one whose Length lies reaches the TUN and is
# counted as udp-length-mismatch, while the program's count does not move.
check_malformed_on_offloaded_flow() {
    local out
    out=$(client timeout 20 "$PY" - "$SERVER_SYNTH6" "$CLIENT_ADDR6" "$CONTROL_SOCKET" "$NAT64D" <<'PY' 2>&1
import json, logging, subprocess, sys, time
logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
from scapy.all import IPv6, UDP, Raw, send, conf
conf.verb = 0
dst, src, sock, nat64d = sys.argv[1:5]
def stats():
    # The control socket is a file: reachable from the client's namespace too.
    return json.loads(subprocess.run([nat64d, "ctl", "--socket", sock, "stats", "--json"], capture_output=True,
                                     check=True, text=True).stdout)
def carried(s): return s["metrics"].get('nat64d_fastpath_packets_total{direction="6to4"}', 0)
def lies(s): return s["drops"].get("udp-length-mismatch", 0)
flow = lambda payload, **kw: IPv6(src=src, dst=dst) / UDP(sport=46000, dport=9, **kw) / Raw(payload)
send(flow(b"first"))           # makes the session through the TUN
time.sleep(0.3)                # older than the 20 ms the daemon waits before it offloads
before = stats()
send([flow(b"steady %d" % i) for i in range(5)])
time.sleep(0.2)
middle = stats()
send(flow(b"short", len=200))  # Length 200 on a 13-byte datagram
time.sleep(0.3)
after = stats()
print("carried %d then %d; udp-length-mismatch %d then %d" % (carried(middle) - carried(before),
      carried(after) - carried(middle), lies(middle) - lies(before), lies(after) - lies(middle)))
ok = carried(middle) - carried(before) >= 5 and carried(after) == carried(middle) and lies(after) - lies(middle) == 1
sys.exit(0 if ok else 1)
PY
    ) && { netns_log "malformed on an offloaded flow: $out"; return 0; }
    DETAIL=$(oneline "$out")
    return 1
}

check_ping_takes_tun() {
    local before after out
    before=$(stats_counter translated-6to4)
    out=$(client ping -6 -n -c 3 -i 0.2 -W 2 "$SERVER_SYNTH6" 2>&1) || { DETAIL="ping: $(oneline "$out")"; return 1; }
    after=$(stats_counter translated-6to4)
    ((after - before >= 3)) || { DETAIL="the translator saw $((after - before)) of 3 echo requests"; return 1; }
}

# Header fields as the two ends receive them. Every segment of the flow either took the TUN (its first
# moments, SYN and FIN: TTL and hop limit 61, lowered by the kernel into the TUN, the translator and the
# kernel out of it) or the program, which repeats the translator's rules as one router hop: at the server,
# the client's segments (ACKs, all small) arrive with TTL 63 from the client's hop limit 64 (T6.2) and DF
# clear (T6.4: 1260 bytes or less); at the client, the server's arrive with hop limit 63 (T4.2). Any other
# value, or none from the program, fails. The TCP checksums were right if the download completed at all.
check_headers() {
    local at_server=$NETNS_WORKDIR/server.pcap at_client=$NETNS_WORKDIR/client.pcap p1 p2 out out2 ttl hlim i
    # --immediate-mode: without it tcpdump waits for a full ring block (or a second) before it writes, and the
    # SIGTERM below would end it with the packets still in the ring.
    netns_start_bg "$NS_SERVER" iperf3-headers iperf3 -s -1 -B "$SERVER_ADDR4" -p 5302
    ip netns exec "$NS_SERVER" tcpdump --immediate-mode -U -i "$IF_SERVER" -n -s 128 -w "$at_server" -c 20000 \
        "tcp dst port 5302" 2>"$NETNS_WORKDIR/tcpdump-server.err" &
    p1=$!
    ip netns exec "$NS_CLIENT" tcpdump --immediate-mode -U -i "$IF_CLIENT" -n -s 128 -w "$at_client" -c 20000 \
        "tcp src port 5302" 2>"$NETNS_WORKDIR/tcpdump-client.err" &
    p2=$!
    for i in $(seq 50); do
        grep -q listening "$NETNS_WORKDIR/tcpdump-server.err" && grep -q listening "$NETNS_WORKDIR/tcpdump-client.err" && break
        sleep 0.1
    done
    # Two seconds of data from the server, paced by iperf3 at 40 Mbit/s, and the client's ACKs: steady both ways
    # long after the session is offloaded.
    out=$(client iperf3 -c "$SERVER_SYNTH6" -p 5302 -R -t 2 -b 40M 2>&1) ||
        { DETAIL="iperf3: $(oneline "$out")"; kill "$p1" "$p2" 2>/dev/null; return 1; }
    sleep 0.3
    kill "$p1" "$p2" 2>/dev/null || true
    wait "$p1" "$p2" 2>/dev/null || true
    # "TTL FLAGS" of each client segment at the server; the hop limit of each server segment at the client.
    ttl=$(tcpdump -r "$at_server" -n -v 2>/dev/null |
        sed -n 's/.*ttl \([0-9]*\),.*flags \(\[[^]]*\]\).*/\1 \2/p' | sort | uniq -c | tr -s ' \n' '  ')
    hlim=$(tcpdump -r "$at_client" -n -v 2>/dev/null | grep -oE "hlim [0-9]+" | sort | uniq -c |
        tr -s ' \n' '  ')
    netns_log "headers: client's segments at the server (count ttl flags): $ttl; server's at the client: $hlim"
    out=$("$PY" -c '
import re, sys
ttl = re.findall(r"(\d+) (\d+) (\[[^]]*\])", sys.argv[1])
hlim = re.findall(r"(\d+) hlim (\d+)", sys.argv[2])
problems = []
if not any(t == "63" for _, t, _ in ttl): problems.append("no client segment with TTL 63 (the program) at the server")
problems += ["%s client segments with TTL %s, flags %s" % x for x in ttl if x[1] not in ("61", "63") or (x[1] == "63" and x[2] != "[none]")]
if not any(h == "63" for _, h in hlim): problems.append("no server segment with hop limit 63 (the program) at the client")
problems += ["%s server segments with hop limit %s" % x for x in hlim if x[1] not in ("61", "63")]
print("; ".join(problems)); sys.exit(1 if problems else 0)' "$ttl" "$hlim" 2>&1) && return 0
    out2=$(ctl stats --json | "$PY" -c '
import json, sys
m = json.load(sys.stdin)["metrics"]
print(" ".join("%s=%s" % (k[len("nat64d_fastpath_"):], v) for k, v in sorted(m.items()) if k.startswith("nat64d_fastpath_")))')
    DETAIL="$out ($out2)"
    return 1
}

check_capture_turns_program_off() {
    local out on off pcaps
    out=$(ctl capture start --json 2>&1) || { DETAIL="capture start: $(oneline "$out")"; return 1; }
    off=$(metric nat64d_fastpath_enabled)
    client curl -sS --max-time 20 -o /dev/null "http://[$SERVER_SYNTH6]/big.bin" || true
    out=$(ctl capture stop --json 2>&1) || { DETAIL="capture stop: $(oneline "$out")"; return 1; }
    sleep 0.3
    on=$(metric nat64d_fastpath_enabled)
    [[ $off == 0 && $on == 1 ]] || { DETAIL="nat64d_fastpath_enabled was $off during the capture and $on after"; return 1; }
    # The capture holds the download's data (the TUN saw all of it; with offload a record is a super-packet,
    # so count bytes, not records).
    pcaps=$(find "$NETNS_WORKDIR/capture" -name '*.pcap*' | head -n 4)
    [[ -n $pcaps ]] || { DETAIL="no capture file"; return 1; }
    out=$(for f in $pcaps; do tcpdump -r "$f" -n "tcp src port 80" 2>/dev/null; done |
        awk '{ for (i = 1; i < NF; i++) if ($i == "length") { n += $(i + 1); break } } END { print n + 0 }')
    ((out >= (BIG_MIB << 20) * 9 / 10)) ||
        { DETAIL="the capture holds $out bytes of TCP payload from a $BIG_MIB MiB download"; return 1; }
}

# ------------------------------------------------------------------------------------------------ run

netns_setup
netns_start_servers
if [[ ! -x ${NAT64D:-} ]]; then
    SKIP_REASON="nat64d binary not found or not executable: ${NAT64D:-}"
else
    start
    netns_wait_nat64d "$STARTUP_TIMEOUT" || SKIP_REASON="nat64d did not start (log above)"
    if [[ -n $SKIP_REASON ]]; then netns_show_log nat64d 40; fi
fi
check fastpath-program-loaded check_program_loaded
check fastpath-tcp-download-hash check_tcp_download
check fastpath-tcp-close-seen-by-daemon check_tcp_close_seen
check fastpath-udp-session-kept-alive check_udp_kept_alive
check fastpath-icmp-takes-tun check_ping_takes_tun
check fastpath-malformed-left-to-translator check_malformed_on_offloaded_flow
check fastpath-headers-at-server check_headers
check fastpath-off-while-capturing check_capture_turns_program_off
netns_checks_done
