#!/usr/bin/env bash
# Demo: an IPv6-only client fetches a page from an IPv4-only server through
# nat64d (DNS64 + NAT64), all inside throwaway network namespaces.
# Run as root:  scripts/demo.sh
#   NAT64D=/path/to/nat64d scripts/demo.sh   # skip deps + build, use this binary
# Exits non-zero if the fetch fails. Everything is torn down on exit.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/.." && pwd)
# shellcheck source=scripts/netns-lib.sh
source "$SCRIPT_DIR/netns-lib.sh"

if ((EUID != 0)); then
    echo "demo: must run as root (creates network namespaces)" >&2
    exit 1
fi
if ! command -v swift >/dev/null && [[ -x /opt/swift/usr/bin/swift ]]; then
    PATH=/opt/swift/usr/bin:$PATH
fi

if [[ -t 1 ]]; then
    heading() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
else
    heading() { printf '\n== %s\n' "$*"; }
fi

if [[ -z ${NAT64D:-} ]]; then
    heading "installing dependencies"
    bash "$SCRIPT_DIR/install-deps.sh"
    heading "building nat64d (swift build)"
    (cd "$REPO_ROOT" && swift build)
    NAT64D="$(cd "$REPO_ROOT" && swift build --show-bin-path)/nat64d"
fi

demo_exit() {
    local rc=$?
    set +e
    if ((rc != 0)) && [[ -n $NETNS_WORKDIR ]]; then netns_show_log nat64d 50; fi
    netns_teardown
    if ((rc == 0)); then heading "done: the IPv6-only client reached the IPv4-only server"; else
        printf '\ndemo FAILED (status %s)\n' "$rc" >&2
    fi
    exit "$rc"
}
trap demo_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

heading "setting up namespaces: client (IPv6 only) -- gateway (nat64d) -- server (IPv4 only)"
netns_setup
netns_start_servers
netns_start_nat64d "$NAT64D"
netns_wait_nat64d 10

heading "client addresses (no IPv4 except loopback)"
ip -n "$NS_CLIENT" -brief addr show

heading "dig AAAA v4only.demo.test @$GW_ADDR6   (the name only has an A record: $SERVER_ADDR4)"
in_client dig +time=2 +tries=2 +noall +answer "@$GW_ADDR6" v4only.demo.test AAAA

heading "curl http://v4only.demo.test/   (from the IPv6-only client, resolved through the DNS64)"
page=$(in_client curl -sS --max-time 10 -w '\n[HTTP %{http_code} from %{remote_ip} port %{remote_port}]\n' http://v4only.demo.test/)
printf '%s\n' "$page"
grep -qF "$PAGE_MARKER" <<<"$page"
