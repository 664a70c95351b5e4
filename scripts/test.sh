#!/usr/bin/env bash
# The whole test suite: deps, build (with tests), unit tests, then the
# end-to-end namespace test against the debug binary. Run as root (CI does).
# Exits non-zero on any failure; the last line printed is `N passed, N failed`
# summing the netns test and the netns DNS64 test.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$SCRIPT_DIR/.."
if ! command -v swift >/dev/null && [[ -x /opt/swift/usr/bin/swift ]]; then
    PATH=/opt/swift/usr/bin:$PATH
fi

step() { printf '\n=== %s\n' "$*"; }

step "install dependencies"
bash scripts/install-deps.sh

step "swift build --build-tests"
swift build --build-tests

step "swift test"
unit_rc=0
swift test || unit_rc=$?
if ((unit_rc != 0)); then
    echo "swift test FAILED (status $unit_rc); running the netns test anyway, overall result: failure"
fi

step "netns end-to-end test"
nat64d_bin="$(swift build --show-bin-path)/nat64d"
netns_rc=0
netns_out=$(mktemp)
dns_out=$(mktemp)
trap 'rm -f "$netns_out" "$dns_out"' EXIT
NAT64D=$nat64d_bin bash scripts/netns-test.sh | tee "$netns_out" || netns_rc=$?

step "netns DNS64 test"
dns_rc=0
NAT64D=$nat64d_bin bash scripts/netns-dns-test.sh | tee "$dns_out" || dns_rc=$?

# One final `N passed, N failed` over both (a run that printed no summary counts as one failure).
total() { awk -v col="$1" '/^[0-9]+ passed, [0-9]+ failed$/ { n = $col } END { print (n == "" ? (col == 3) : n) }' "$2"; }
printf '%s passed, %s failed\n' $(($(total 1 "$netns_out") + $(total 1 "$dns_out"))) \
    $(($(total 3 "$netns_out") + $(total 3 "$dns_out")))
((unit_rc == 0 && netns_rc == 0 && dns_rc == 0))
