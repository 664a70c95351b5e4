#!/usr/bin/env bash
# The whole test suite: deps, build (with tests), unit tests, then the
# end-to-end namespace test against the debug binary. Run as root (CI does).
# Exits non-zero on any failure; the netns test's `N passed, N failed` line is
# the last line printed.
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
NAT64D=$nat64d_bin bash scripts/netns-test.sh || netns_rc=$?

((unit_rc == 0 && netns_rc == 0))
