# shellcheck shell=bash
# shellcheck disable=SC2034 # constants and state are used by the sourcing scripts
# Network-namespace topology shared by scripts/netns-test.sh, scripts/demo.sh
# and the benchmarks. Source it from a bash script running as root:
#
#   source scripts/netns-lib.sh
#   trap netns_teardown EXIT
#   netns_setup                 # namespaces, veths, addresses, routes
#   netns_start_servers         # nginx + knotd in the server namespace
#   netns_start_nat64d "$BIN"   # or: netns_start_tayga
#   ...
#
#   client ns (IPv6 only)          gateway ns (translator)             server ns (IPv4 only)
#   veth-gw                        veth-client          veth-server     veth-gw
#   2001:db8:1::2/64  <------->    2001:db8:1::1/64     198.51.100.1/24 <-----> 198.51.100.10/24
#   2001:db8:9::2/128              TUN (translator):                    nginx :80, knotd :53
#   default via 2001:db8:1::1        2001:db8:64::/96, 192.0.2.x        192.0.2.0/24 via 198.51.100.1
#
# Nothing routes out of the namespaces: the gateway has no uplink and no
# default route, and the root namespace is never touched. Only documentation
# address ranges are used. Everything started here is tracked by PID and
# removed again by netns_teardown, which is idempotent and safe after a
# partial setup.
#
# Knobs (environment, optional):
#   NETNS_ID            suffix for namespace names (default: PID of the shell)
#   NETNS_KEEP_WORKDIR  1 = keep the temp dir (configs, logs) after teardown
#   NETNS_FIXTURES      directory with demo.test.zone and index.html
#                       (default: tests/netns next to this script's parent)

NETNS_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
NETNS_REPO_ROOT=$(cd "$NETNS_LIB_DIR/.." && pwd)
: "${NETNS_FIXTURES:=$NETNS_REPO_ROOT/tests/netns}"
: "${NETNS_ID:=$$}"

NS_CLIENT="n64c-$NETNS_ID"
NS_GW="n64g-$NETNS_ID"
NS_SERVER="n64s-$NETNS_ID"

# Addresses (documentation ranges only).
CLIENT_ADDR6=2001:db8:1::2
CLIENT_OUTSIDE_ADDR6=2001:db8:9::2 # source outside the DNS64 allow list
CLIENT_OUTSIDE_NET6=2001:db8:9::/64
GW_ADDR6=2001:db8:1::1
GW_ADDR4=198.51.100.1
SERVER_ADDR4=198.51.100.10
NAT64_PREFIX=2001:db8:64::/96
POOL4_NET=192.0.2.0/24
POOL4_ADDR=192.0.2.1
SERVER_SYNTH6=2001:db8:64::c633:640a # 2001:db8:64::198.51.100.10 (RFC 6052 /96)
DEMO_ZONE=demo.test.
PAGE_MARKER="hello from the IPv4-only server"

# Interface names (inside the namespaces, so they never collide across runs).
IF_CLIENT=veth-gw
IF_GW_CLIENT=veth-client
IF_GW_SERVER=veth-server
IF_SERVER=veth-gw
NAT64D_TUN=nat64
TAYGA_TUN=tayga

# State.
NETNS_WORKDIR=${NETNS_WORKDIR:-}
NETNS_CREATED=()      # namespaces this shell created
NETNS_PIDS=()         # background processes this shell started
NETNS_OWN_ETC_NETNS=0 # 1 if we created /etc/netns/$NS_CLIENT
NETNS_LAST_PID=
NETNS_TRANSLATOR_PID=
NAT64D_PID=

netns_log() { printf '[netns] %s\n' "$*" >&2; }

in_client() { ip netns exec "$NS_CLIENT" "$@"; }
in_gw() { ip netns exec "$NS_GW" "$@"; }
in_server() { ip netns exec "$NS_SERVER" "$@"; }

# netns_wait_until TIMEOUT_S CMD...: poll CMD every 0.2 s until it succeeds.
netns_wait_until() {
    local timeout=$1 i
    shift
    for ((i = 0; i < timeout * 5; i++)); do
        if "$@" >/dev/null 2>&1; then return 0; fi
        sleep 0.2
    done
    "$@" >/dev/null 2>&1
}

# True while PID exists and is not a zombie (kill -0 succeeds on zombies).
netns_pid_alive() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    [[ ${stat%% *} != Z ]]
}

netns_init_workdir() {
    if [[ -z $NETNS_WORKDIR ]]; then
        NETNS_WORKDIR=$(mktemp -d "${TMPDIR:-/tmp}/nat64d-netns.XXXXXX")
    fi
}

# ---------------------------------------------------------------- topology

netns_add() {
    ip netns add "$1"
    NETNS_CREATED+=("$1")
    ip -n "$1" link set lo up
    # No DAD in these namespaces: addresses are usable immediately.
    ip netns exec "$1" sysctl -q -w net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
    ip netns exec "$1" sysctl -q -w net.ipv6.conf.all.accept_ra=0 net.ipv6.conf.default.accept_ra=0
}

# Wait (bounded) until no IPv6 address in namespace $1 is tentative.
netns_wait_dad() {
    local ns=$1
    # shellcheck disable=SC2016 # expanded by the inner bash
    netns_wait_until 5 bash -c '[[ -z $(ip -n "$1" -6 addr show tentative) ]]' _ "$ns" || {
        netns_log "DAD still tentative in $ns:"
        ip -n "$ns" -6 addr show tentative >&2
        return 1
    }
}

netns_setup() {
    netns_init_workdir
    netns_log "namespaces: client=$NS_CLIENT gateway=$NS_GW server=$NS_SERVER workdir=$NETNS_WORKDIR"
    local ns
    for ns in "$NS_CLIENT" "$NS_GW" "$NS_SERVER"; do netns_add "$ns"; done

    # veth pairs are created directly inside the namespaces.
    ip -n "$NS_CLIENT" link add "$IF_CLIENT" type veth peer name "$IF_GW_CLIENT" netns "$NS_GW"
    ip -n "$NS_SERVER" link add "$IF_SERVER" type veth peer name "$IF_GW_SERVER" netns "$NS_GW"

    # client: IPv6 only.
    ip -n "$NS_CLIENT" addr add "$CLIENT_ADDR6/64" dev "$IF_CLIENT" nodad
    ip -n "$NS_CLIENT" addr add "$CLIENT_OUTSIDE_ADDR6/128" dev "$IF_CLIENT" nodad
    ip -n "$NS_CLIENT" link set "$IF_CLIENT" up
    ip -n "$NS_CLIENT" -6 route add default via "$GW_ADDR6" dev "$IF_CLIENT"

    # gateway: forwarding, no uplink, no default route.
    in_gw sysctl -q -w net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 \
        net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
    ip -n "$NS_GW" addr add "$GW_ADDR6/64" dev "$IF_GW_CLIENT" nodad
    ip -n "$NS_GW" addr add "$GW_ADDR4/24" dev "$IF_GW_SERVER"
    ip -n "$NS_GW" link set "$IF_GW_CLIENT" up
    ip -n "$NS_GW" link set "$IF_GW_SERVER" up
    ip -n "$NS_GW" -6 route add "$CLIENT_OUTSIDE_NET6" via "$CLIENT_ADDR6" dev "$IF_GW_CLIENT"

    # server: IPv4 only; return route to the translator's pool4.
    ip -n "$NS_SERVER" addr add "$SERVER_ADDR4/24" dev "$IF_SERVER"
    ip -n "$NS_SERVER" link set "$IF_SERVER" up
    ip -n "$NS_SERVER" route add "$POOL4_NET" via "$GW_ADDR4" dev "$IF_SERVER"

    # The client resolves through the DNS64 on the gateway
    # (ip netns exec bind-mounts /etc/netns/<ns>/* over /etc/*).
    if [[ ! -e /etc/netns/$NS_CLIENT ]]; then
        mkdir -p "/etc/netns/$NS_CLIENT"
        NETNS_OWN_ETC_NETNS=1
        printf 'nameserver %s\noptions timeout:2 attempts:2\n' "$GW_ADDR6" >"/etc/netns/$NS_CLIENT/resolv.conf"
    fi

    for ns in "$NS_CLIENT" "$NS_GW" "$NS_SERVER"; do netns_wait_dad "$ns"; done
}

# ------------------------------------------------------- background processes

# netns_start_bg NS NAME CMD...: run CMD inside NS in the background, stdout
# and stderr to $NETNS_WORKDIR/NAME.log. Sets NETNS_LAST_PID. `ip netns exec`
# execs CMD, so the PID is CMD's own PID.
netns_start_bg() {
    local ns=$1 name=$2
    shift 2
    netns_init_workdir
    ip netns exec "$ns" "$@" >"$NETNS_WORKDIR/$name.log" 2>&1 </dev/null &
    NETNS_LAST_PID=$!
    NETNS_PIDS+=("$NETNS_LAST_PID")
    printf '%s %s\n' "$NETNS_LAST_PID" "$name" >>"$NETNS_WORKDIR/pids"
}

# netns_stop_pid PID [TIMEOUT_S]: TERM, wait up to TIMEOUT_S (default 5),
# then KILL. Reaps PID if it is our child; sets NETNS_LAST_STATUS to its exit
# status (or 255 if unknown / had to be killed).
netns_stop_pid() {
    local pid=$1 timeout=${2:-5} i
    NETNS_LAST_STATUS=255
    if netns_pid_alive "$pid"; then
        kill -TERM "$pid" 2>/dev/null || true
        for ((i = 0; i < timeout * 10; i++)); do
            netns_pid_alive "$pid" || break
            sleep 0.1
        done
        if netns_pid_alive "$pid"; then
            netns_log "PID $pid did not exit within ${timeout}s after SIGTERM, sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    if wait "$pid" 2>/dev/null; then NETNS_LAST_STATUS=0; else NETNS_LAST_STATUS=$?; fi
}

# Print a log file from the workdir (for failure reports).
netns_show_log() {
    local name=$1 lines=${2:-200} f="$NETNS_WORKDIR/$1.log"
    [[ -f $f ]] || return 0
    printf -- '----- %s (last %s lines) -----\n' "$name.log" "$lines" >&2
    tail -n "$lines" "$f" >&2
    printf -- '----- end of %s.log -----\n' "$name" >&2
}

# ------------------------------------------------------------------ servers

# netns_start_sshd NS ADDR6 DIR MARKER: an sshd in NS on [ADDR6]:22 whose host key, a client key (DIR/client_key,
# authorised for root) and a file DIR/marker holding MARKER are made here; logs to the workdir (sshd.log).
# `ssh -i DIR/client_key ... cat DIR/marker` through whatever path is tested prints MARKER.
netns_start_sshd() {
    local ns=$1 addr=$2 dir=$3 marker=$4
    mkdir -p /run/sshd "$dir"
    ssh-keygen -q -t ed25519 -N '' -f "$dir/host_key"
    ssh-keygen -q -t ed25519 -N '' -f "$dir/client_key"
    cp "$dir/client_key.pub" "$dir/authorized_keys"
    printf '%s\n' "$marker" >"$dir/marker"
    cat >"$dir/sshd_config" <<EOF
# generated by scripts/netns-lib.sh (netns_start_sshd)
ListenAddress [$addr]:22
HostKey $dir/host_key
PidFile $dir/sshd.pid
AuthorizedKeysFile $dir/authorized_keys
StrictModes no
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
LogLevel INFO
EOF
    netns_start_bg "$ns" sshd /usr/sbin/sshd -D -e -f "$dir/sshd_config"
}

# netns_nginx_head DIR CONNECTIONS: the main section of an nginx.conf for a test instance that keeps its pid,
# error log and temporary files in DIR (foreground, as root, one worker), up to and including the opening
# `http {` with the temporary paths set inside it (it creates DIR/tmp for them). Every suite's nginx config
# starts with it.
netns_nginx_head() {
    local k
    mkdir -p "$1/tmp"
    printf 'daemon off;\nmaster_process on;\nworker_processes 1;\nuser root;\n'
    printf 'pid %s/nginx.pid;\nerror_log %s/error.log info;\nevents { worker_connections %s; }\nhttp {\n' "$1" "$1" "$2"
    for k in client_body proxy fastcgi uwsgi scgi; do printf '    %s_temp_path %s/tmp/%s;\n' "$k" "$1" "$k"; done
}

netns_write_server_configs() {
    local d=$NETNS_WORKDIR
    mkdir -p "$d/www" "$d/nginx" "$d/knot"
    cp "$NETNS_FIXTURES/index.html" "$d/www/index.html"
    cp "$NETNS_FIXTURES/demo.test.zone" "$d/knot/demo.test.zone"

    {
        echo "# generated by scripts/netns-lib.sh"
        netns_nginx_head "$d/nginx" 256
    } >"$d/nginx/nginx.conf"
    cat >>"$d/nginx/nginx.conf" <<EOF
    access_log $d/nginx/access.log;
    default_type text/html;
    server {
        listen $SERVER_ADDR4:80 default_server;
        server_name _;
        root $d/www;
        index index.html;
    }
}
EOF

    cat >"$d/knot/knot.conf" <<EOF
# generated by scripts/netns-lib.sh
server:
    rundir: "$d/knot"
    pidfile: "$d/knot/knot.pid"
    listen: $SERVER_ADDR4@53
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
log:
  - target: stderr
    any: info
database:
    storage: "$d/knot/db"
control:
    listen: "$d/knot/knot.sock"
template:
  - id: default
    storage: "$d/knot"
    file: "%s.zone"
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: none
zone:
  - domain: $DEMO_ZONE
EOF
}

netns_start_servers() {
    netns_write_server_configs
    local d=$NETNS_WORKDIR
    in_server nginx -t -q -e "$d/nginx/error.log" -p "$d/nginx" -c "$d/nginx/nginx.conf"
    netns_start_bg "$NS_SERVER" nginx nginx -e "$d/nginx/error.log" -p "$d/nginx" -c "$d/nginx/nginx.conf"
    NGINX_PID=$NETNS_LAST_PID
    netns_start_bg "$NS_SERVER" knotd knotd -c "$d/knot/knot.conf"
    KNOTD_PID=$NETNS_LAST_PID

    if ! netns_wait_until 10 in_server curl -fsS --max-time 1 "http://$SERVER_ADDR4/"; then
        netns_log "nginx did not come up in $NS_SERVER"
        netns_show_log nginx
        cat "$d/nginx/error.log" >&2 2>/dev/null || true
        return 1
    fi
    if ! netns_wait_until 10 netns_server_dns_ok; then
        netns_log "knotd did not come up in $NS_SERVER"
        netns_show_log knotd
        return 1
    fi
    netns_log "servers up: nginx pid $NGINX_PID, knotd pid $KNOTD_PID on $SERVER_ADDR4"
}

netns_server_dns_ok() {
    local out
    out=$(in_server dig +time=1 +tries=1 +short "@$SERVER_ADDR4" "v4only.$DEMO_ZONE" A) || return 1
    [[ $out == "$SERVER_ADDR4" ]]
}

# --------------------------------------------------------------- translators

# netns_start_translator NAME CMD...: run "the translator" in the gateway
# namespace (in the background, log in $NETNS_WORKDIR/NAME.log). Any
# translator works as long as it creates its TUN and routes for
# $NAT64_PREFIX and the pool4 itself (or the caller adds them, see tayga).
netns_start_translator() {
    local name=$1
    shift
    netns_start_bg "$NS_GW" "$name" "$@"
    NETNS_TRANSLATOR_PID=$NETNS_LAST_PID
}

# The [tun], [translator] and [gateway] sections of a nat64d config for this topology (to standard output);
# every suite's config starts with them.
netns_nat64d_config_head() {
    local io=  # tun.io when NAT64D_TUN_IO is set ("uring" or "syscalls"), else the default
    [[ -n ${NAT64D_TUN_IO:-} ]] && io="io = \"$NAT64D_TUN_IO\""
    cat <<EOF
[tun]
name = "$NAT64D_TUN"
mtu = 1500
offload = ${NAT64D_TUN_OFFLOAD:-true}
queues = ${NAT64D_TUN_QUEUES:-2}
$io

[translator]
prefix = "$NAT64_PREFIX"
pool4 = ["$POOL4_ADDR"]
${NAT64D_MAX_SESSIONS:+max-sessions = $NAT64D_MAX_SESSIONS}

[gateway]
ipv4 = "$GW_ADDR4"
ipv6 = "$GW_ADDR6"
EOF
    # NAT64D_FAST_PATH=1: the in-kernel fast path on both of the gateway's links.
    if [[ -n ${NAT64D_FAST_PATH:-} ]]; then
        printf '\n[fast-path]\ninterfaces = ["%s", "%s"]\n' "$IF_GW_CLIENT" "$IF_GW_SERVER"
    fi
}

# Write the nat64d config for this topology to $NETNS_WORKDIR/nat64d.toml.
netns_write_nat64d_config() {
    local level=${1:-info}
    netns_init_workdir
    {
        echo "# generated by scripts/netns-lib.sh"
        netns_nat64d_config_head
    } >"$NETNS_WORKDIR/nat64d.toml"
    netns_nat64d_config_services "$level" >>"$NETNS_WORKDIR/nat64d.toml"
}

# netns_nat64d_config_services [LEVEL]: the [dns64] and [log] sections that follow the head in every suite's
# nat64d config (to standard output): the DNS64 on the gateway, asking knotd in the server namespace.
netns_nat64d_config_services() {
    cat <<EOF

[dns64]
listen = ["[$GW_ADDR6]:53"]
upstream = ["$SERVER_ADDR4:53"]
allow = ["2001:db8:1::/64", "::1/128"]

[log]
level = "${1:-${NAT64D_LOG_LEVEL:-info}}"
EOF
}

# netns_start_nat64d BIN: write the config and start `BIN run --config ...`
# in the gateway namespace. nat64d creates and configures its TUN and routes
# itself. Sets NAT64D_PID. Use netns_wait_nat64d to wait for readiness.
netns_start_nat64d() {
    local bin=$1
    netns_write_nat64d_config "${NAT64D_LOG_LEVEL:-info}"
    netns_start_translator nat64d "$bin" run --config "$NETNS_WORKDIR/nat64d.toml"
    NAT64D_PID=$NETNS_TRANSLATOR_PID
    netns_log "nat64d started, pid $NAT64D_PID"
}

netns_tun_exists() { ip -n "$NS_GW" link show dev "$1" >/dev/null 2>&1; }

# Any DNS reply (whatever the rcode) from the DNS64 listener, asked from the client.
netns_dns64_answers() {
    in_client dig +time=1 +tries=1 "@$GW_ADDR6" "$DEMO_ZONE" SOA >/dev/null 2>&1
}

# netns_wait_nat64d [TIMEOUT_S]: wait until TUN $NAT64D_TUN exists in the
# gateway and the DNS64 port answers. Fails early if nat64d exits.
netns_wait_nat64d() {
    local timeout=${1:-10} i
    for ((i = 0; i < timeout * 5; i++)); do
        if ! netns_pid_alive "$NAT64D_PID"; then
            netns_log "nat64d (pid $NAT64D_PID) exited during startup"
            return 1
        fi
        if netns_tun_exists "$NAT64D_TUN" && netns_dns64_answers; then
            netns_log "nat64d ready (TUN $NAT64D_TUN up, DNS64 answering on [$GW_ADDR6]:53)"
            return 0
        fi
        sleep 0.2
    done
    netns_log "nat64d not ready after ${timeout}s (tun: $(netns_tun_exists "$NAT64D_TUN" && echo present || echo missing))"
    return 1
}

# TAYGA mode (benchmarks / validating the topology without nat64d). TAYGA
# does not configure its TUN, so we create it (--mktun), bring it up and add
# the routes for the prefix and the dynamic pool ourselves.
netns_write_tayga_config() {
    netns_init_workdir
    mkdir -p "$NETNS_WORKDIR/tayga"
    cat >"$NETNS_WORKDIR/tayga/tayga.conf" <<EOF
# generated by scripts/netns-lib.sh
tun-device $TAYGA_TUN
ipv4-addr 192.0.2.254
prefix $NAT64_PREFIX
dynamic-pool $POOL4_NET
data-dir $NETNS_WORKDIR/tayga
EOF
}

netns_start_tayga() {
    netns_write_tayga_config
    local conf=$NETNS_WORKDIR/tayga/tayga.conf
    in_gw tayga --mktun -c "$conf" >"$NETNS_WORKDIR/tayga-mktun.log" 2>&1 || {
        cat "$NETNS_WORKDIR/tayga-mktun.log" >&2
        return 1
    }
    ip -n "$NS_GW" link set "$TAYGA_TUN" up
    ip -n "$NS_GW" route add "$POOL4_NET" dev "$TAYGA_TUN"
    ip -n "$NS_GW" -6 route add "$NAT64_PREFIX" dev "$TAYGA_TUN"
    netns_start_translator tayga tayga -c "$conf" --nodetach
    TAYGA_PID=$NETNS_TRANSLATOR_PID
    # TAYGA has no readiness signal; give it a moment and check it stayed up.
    sleep 0.5
    if ! netns_pid_alive "$TAYGA_PID"; then
        netns_log "tayga exited during startup"
        netns_show_log tayga
        return 1
    fi
    netns_log "tayga started, pid $TAYGA_PID (TUN $TAYGA_TUN)"
}

# ------------------------------------------------------------------ teardown

# Idempotent; safe after a partial setup and when called twice.
netns_teardown() {
    local - # restore shell options on return
    set +e
    local i pid ns pids

    # Tracked processes, newest first (translator before servers).
    for ((i = ${#NETNS_PIDS[@]} - 1; i >= 0; i--)); do
        pid=${NETNS_PIDS[i]}
        netns_stop_pid "$pid" 5
    done
    NETNS_PIDS=()

    # Anything else still running inside our namespaces was started by us
    # indirectly (nginx workers, a hung client tool): TERM, then KILL, by PID.
    for ns in "${NETNS_CREATED[@]}"; do
        pids=$(ip netns pids "$ns" 2>/dev/null)
        [[ -n $pids ]] || continue
        netns_log "killing leftover processes in $ns: $(tr '\n' ' ' <<<"$pids")"
        # shellcheck disable=SC2086 # list of PIDs
        kill -TERM $pids 2>/dev/null
        for ((i = 0; i < 30; i++)); do
            [[ -z $(ip netns pids "$ns" 2>/dev/null) ]] && break
            sleep 0.1
        done
        pids=$(ip netns pids "$ns" 2>/dev/null)
        # shellcheck disable=SC2086
        [[ -n $pids ]] && kill -KILL $pids 2>/dev/null
    done

    for ns in "${NETNS_CREATED[@]}"; do
        # TUN devices go away with the namespace; delete explicitly anyway
        # (tayga --mktun makes a persistent one).
        ip -n "$ns" link del "$TAYGA_TUN" 2>/dev/null
        ip -n "$ns" link del "$NAT64D_TUN" 2>/dev/null
        ip netns del "$ns" 2>/dev/null
    done
    NETNS_CREATED=()

    if ((NETNS_OWN_ETC_NETNS)); then
        rm -rf "/etc/netns/${NS_CLIENT:?}"
        NETNS_OWN_ETC_NETNS=0
    fi

    if [[ -n $NETNS_WORKDIR && -d $NETNS_WORKDIR ]]; then
        if [[ ${NETNS_KEEP_WORKDIR:-0} == 1 ]]; then
            netns_log "keeping workdir $NETNS_WORKDIR"
        else
            rm -rf "$NETNS_WORKDIR"
        fi
    fi
    NETNS_WORKDIR=
    return 0
}
