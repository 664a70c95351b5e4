#!/usr/bin/env bash
# Install the system packages needed to build nat64d and run the netns tests,
# demo and benchmarks. Idempotent: installs only what is missing and runs
# `apt-get update` at most once, and only if something is missing.
#
# Package postinst scripts must not leave nginx/knot running system-wide: while
# installing we put a policy-rc.d in place (unless one exists already) that
# forbids service starts. Our tests start their own instances in namespaces.
set -euo pipefail

PACKAGES=(
    libpcap-dev libnl-3-dev libnl-route-3-dev iproute2
    nginx-light knot knot-dnsutils dnsutils curl iperf3 tcpdump
    traceroute iputils-ping python3-scapy procps tayga tshark util-linux systemd
    ndisc6 openssh-server openssl haproxy sniproxy wrk
    jq
    binutils
    liburing-dev
)

log() { printf 'install-deps: %s\n' "$*" >&2; }

is_installed() {
    local status
    status=$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null) || return 1
    [[ $status == installed ]]
}

missing=()
for pkg in "${PACKAGES[@]}"; do
    is_installed "$pkg" || missing+=("$pkg")
done

if ((${#missing[@]} == 0)); then
    log "all ${#PACKAGES[@]} packages already installed"
    exit 0
fi

if ((EUID != 0)); then
    log "missing packages: ${missing[*]}; run as root to install them"
    exit 1
fi

log "installing: ${missing[*]}"

# PIDs of daemons running before the install: those are the system's and we
# leave them alone. Anything that appears during the install we stop.
daemon_pids() { ps -eo pid=,comm= | awk '$2 ~ /^(nginx|knotd|tayga)$/ { print $1 }' | sort; }
before_pids=$(daemon_pids)

POLICY=/usr/sbin/policy-rc.d
own_policy=0
cleanup() {
    if ((own_policy)); then rm -f "$POLICY"; fi
}
trap cleanup EXIT
if [[ ! -e $POLICY ]]; then
    printf '#!/bin/sh\n# temporary, installed by nat64d scripts/install-deps.sh\nexit 101\n' >"$POLICY"
    chmod 0755 "$POLICY"
    own_policy=1
fi

export DEBIAN_FRONTEND=noninteractive
apt_opts=(-q -y -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
apt-get -qq update >/dev/null
apt-get "${apt_opts[@]}" install --no-install-recommends "${missing[@]}" >/dev/null

# Stop daemons started by postinst despite the policy (by PID, new ones only).
after_pids=$(daemon_pids)
new_pids=$(comm -13 <(printf '%s\n' "$before_pids") <(printf '%s\n' "$after_pids") | grep . || true)
if [[ -n $new_pids ]]; then
    log "stopping daemons started by package scripts: $(tr '\n' ' ' <<<"$new_pids")"
    # shellcheck disable=SC2086 # word splitting of the PID list is intended
    kill -TERM $new_pids 2>/dev/null || true
    for _ in $(seq 1 50); do
        alive=0
        for pid in $new_pids; do kill -0 "$pid" 2>/dev/null && alive=1; done
        ((alive)) || break
        sleep 0.1
    done
    # shellcheck disable=SC2086
    kill -KILL $new_pids 2>/dev/null || true
fi

still_missing=()
for pkg in "${missing[@]}"; do
    is_installed "$pkg" || still_missing+=("$pkg")
done
if ((${#still_missing[@]})); then
    log "failed to install: ${still_missing[*]}"
    exit 1
fi
log "done"
