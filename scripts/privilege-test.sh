#!/usr/bin/env bash
# nat64d without root, as contrib/systemd/nat64d.service runs it: user nobody with CAP_NET_ADMIN,
# CAP_NET_BIND_SERVICE and CAP_NET_RAW only (setpriv sets the same ambient and bounding sets the unit's
# AmbientCapabilities and CapabilityBoundingSet do), in the netns topology of scripts/netns-lib.sh. Checks that
# the unit file passes systemd-analyze, that the unprivileged gateway does the whole job (TUN and routes
# through netlink, DNS64 on port 53, router advertisements on a raw ICMPv6 socket, translation, control
# socket, metrics, clean SIGTERM), and that without CAP_NET_ADMIN, or without CAP_NET_RAW when [ra.IFNAME] is
# configured, it refuses to start with a clear error and leaves nothing behind. Must run as root.
#
#   NAT64D=/path/to/nat64d bash scripts/privilege-test.sh    # else: swift build (debug) first
#
# /dev/net/tun is 0666 on Debian; where it is not (some sandboxes), nat64d runs in a private mount namespace
# on a 0666 copy of the device node, so the host is left untouched. Prints `PASS name` / `FAIL name: detail`
# per check, then `N passed, N failed` as the last line.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/.." && pwd)
# shellcheck source=scripts/netns-lib.sh
source "$SCRIPT_DIR/netns-lib.sh"
# shellcheck source=scripts/netns-checks.sh
source "$SCRIPT_DIR/netns-checks.sh"
netns_checks_on_abort() { netns_show_log nat64d 40; }
NETNS_CHECKS_NO_ALIVE_NOTE=sigterm-clean-exit

netns_preflight privilege-test setpriv unshare systemd-analyze dig curl
netns_resolve_nat64d privilege-test

CAPS=net_admin,net_bind_service,net_raw
# CAP_NET_ADMIN is bit 12, CAP_NET_BIND_SERVICE bit 10, CAP_NET_RAW bit 13.
EXPECTED_CAPEFF=0000000000003400

netns_setup
netns_start_servers
w=$NETNS_WORKDIR
chmod 755 "$w"
install -m 755 "$NAT64D" "$w/nat64d" # a copy nobody can execute, whatever the build tree's modes
install -d -m 700 -o nobody -g nogroup "$w/run"
CONTROL_SOCKET=$w/run/control.sock
METRICS_PORT=9164

# start_unprivileged NAME CAPS: nat64d as nobody with exactly CAPS, in the gateway namespace.
start_unprivileged() {
    local name=$1 caps=$2
    netns_start_bg "$NS_GW" "$name" unshare --mount --propagation private sh -c '
        if [ "$(stat -c %a /dev/net/tun)" != 666 ]; then
            mknod -m 666 "$1/$3.tun" c 10 200 && mount --bind "$1/$3.tun" /dev/net/tun
        fi
        exec setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps="$2" --ambient-caps="$2" \
            --bounding-set="$2" "$1/nat64d" run --config "$1/$3.toml"
    ' sh "$w" "-all$(printf ',+%s' ${caps//,/ })" "$name"
}

# ------------------------------------------------------------------------------------------- checks

check_unit_file() {
    local out
    sed "s#/usr/local/bin/nat64d#$w/nat64d#g" "$REPO_ROOT/contrib/systemd/nat64d.service" >"$w/nat64d.service"
    out=$(systemd-analyze verify "$w/nat64d.service" 2>&1) || { DETAIL="$(oneline "$out")"; return 1; }
    [[ -z $out ]] || { DETAIL="systemd-analyze warns: $(oneline "$out")"; return 1; }
}

check_identity() {
    local status uid capeff
    status=$(cat "/proc/$NAT64D_PID/status" 2>&1) || { DETAIL="no process $NAT64D_PID"; return 1; }
    uid=$(awk '/^Uid:/ { print $2 }' <<<"$status")
    capeff=$(awk '/^CapEff:/ { print $2 }' <<<"$status")
    [[ $uid == "$(id -u nobody)" && $capeff == "$EXPECTED_CAPEFF" ]] && return 0
    DETAIL="uid $uid capeff $capeff, expected uid $(id -u nobody) capeff $EXPECTED_CAPEFF"
    return 1
}

check_fetch_by_name() {
    local out
    out=$(client curl -sS --max-time 10 "http://v4only.demo.test/" 2>&1) || { DETAIL="curl: $(oneline "$out")"; return 1; }
    grep -qF "$PAGE_MARKER" <<<"$out" || { DETAIL="page lacks '$PAGE_MARKER': $(oneline "$out")"; return 1; }
}

check_control_and_metrics() {
    local out
    out=$(timeout -k 2 "$CMD_TIMEOUT" "$NAT64D" ctl --socket "$CONTROL_SOCKET" stats --json 2>&1) ||
        { DETAIL="ctl stats --json as root: $(oneline "$out")"; return 1; }
    python3 -c 'import json, sys; j = json.loads(sys.stdin.read()); sys.exit(0 if j["translated-6to4"] > 0 else 1)' \
        <<<"$out" || { DETAIL="ctl stats --json: $(oneline "$out")"; return 1; }
    python3 -c 'import json, sys; j = json.loads(sys.stdin.read()); sys.exit(0 if j["ra"][sys.argv[1]]["sent"] > 0 else 1)' \
        "$IF_GW_CLIENT" <<<"$out" || { DETAIL="no router advertisement sent: $(oneline "$out")"; return 1; }
    out=$(in_ns "$NS_GW" curl -sS --max-time 5 "http://[::1]:$METRICS_PORT/metrics" 2>&1) ||
        { DETAIL="curl /metrics: $(oneline "$out")"; return 1; }
    grep -Eq '^nat64d_dns64_synthesized_total [1-9]' <<<"$out" || { DETAIL="/metrics: $(oneline "$out")"; return 1; }
}

check_sigterm() {
    netns_stop_pid "$NAT64D_PID" 10
    local problems=()
    ((NETNS_LAST_STATUS == 0)) || problems+=("exit status $NETNS_LAST_STATUS")
    if netns_tun_exists "$NAT64D_TUN"; then problems+=("TUN $NAT64D_TUN still there"); fi
    [[ ! -e $CONTROL_SOCKET ]] || problems+=("control socket still there")
    ((${#problems[@]} == 0)) && return 0
    DETAIL=$(IFS=';'; printf '%s' "${problems[*]}")
    return 1
}

# refused NAME CAPS PATTERN: nat64d as nobody with CAPS and config NAME.toml must exit non-zero within 10 s,
# its log matching PATTERN, and leave no TUN behind.
refused() {
    local name=$1 caps=$2 pattern=$3 pid i
    start_unprivileged "$name" "$caps"
    pid=$NETNS_LAST_PID
    for ((i = 0; i < 100; i++)); do
        netns_pid_alive "$pid" || break
        sleep 0.1
    done
    if netns_pid_alive "$pid"; then
        netns_stop_pid "$pid" 5
        DETAIL="still running after 10 s with only $caps"
        return 1
    fi
    local status=0
    wait "$pid" 2>/dev/null || status=$?
    local log
    log=$(cat "$w/$name.log")
    if ((status == 0)) || ! grep -q "$pattern" <<<"$log"; then
        DETAIL="status $status, log: $(oneline "$log")"
        return 1
    fi
    if netns_tun_exists "$NAT64D_TUN"; then DETAIL="TUN $NAT64D_TUN left behind"; return 1; fi
}

# TUNSETIFF (creating the device) needs CAP_NET_ADMIN: the kernel says EPERM; nat64d names the call and what
# it needs.
check_refused_without_net_admin() {
    refused nat64d-nocap net_bind_service "^nat64d: .*Operation not permitted.*needs CAP_NET_ADMIN"
}

# The raw ICMPv6 socket of [ra.IFNAME] needs CAP_NET_RAW.
check_refused_without_net_raw() {
    refused nat64d-noraw net_admin,net_bind_service "^nat64d: ra.$IF_GW_CLIENT: socket.*Operation not permitted.*need CAP_NET_RAW"
}

# ------------------------------------------------------------------------------------------- main

check unit-file-verifies check_unit_file

netns_write_nat64d_config info
cp "$w/nat64d.toml" "$w/nat64d-base.toml"
printf '\n[control]\nsocket = "%s"\n\n[metrics]\nlisten = "[::1]:%s"\n\n[ra.%s]\n' "$CONTROL_SOCKET" \
    "$METRICS_PORT" "$IF_GW_CLIENT" >>"$w/nat64d.toml"
chmod 644 "$w/nat64d.toml"
start_unprivileged nat64d "$CAPS"
NAT64D_PID=$NETNS_LAST_PID
if ! netns_wait_nat64d 20; then
    SKIP_REASON="nat64d (unprivileged) did not come up"
    netns_show_log nat64d 20
fi
check runs-as-nobody-with-three-capabilities check_identity
check fetch-by-name-through-unprivileged-gateway check_fetch_by_name
check control-socket-and-metrics check_control_and_metrics
check sigterm-clean-exit check_sigterm
NAT64D_PID=
SKIP_REASON=

{ cat "$w/nat64d-base.toml"; printf '\n[control]\nsocket = "%s/run/nocap.sock"\n' "$w"; } >"$w/nat64d-nocap.toml"
chmod 644 "$w/nat64d-nocap.toml"
check refused-without-net-admin check_refused_without_net_admin
{ cat "$w/nat64d-base.toml"; printf '\n[control]\nsocket = "%s/run/noraw.sock"\n\n[ra.%s]\n' "$w" "$IF_GW_CLIENT"; } \
    >"$w/nat64d-noraw.toml"
chmod 644 "$w/nat64d-noraw.toml"
check refused-without-net-raw check_refused_without_net_raw

netns_checks_done
