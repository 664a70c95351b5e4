#!/usr/bin/env bash
# The whole test suite: deps, build (with tests), unit tests, then every end-to-end namespace test against
# the debug binary. Run as root (CI does). Exits non-zero on any failure. Each part prints its own result;
# the last line is the total over all of them: `total: N passed, N failed` (unit tests + netns checks).
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$SCRIPT_DIR/.."
if ! command -v swift >/dev/null && [[ -x /opt/swift/usr/bin/swift ]]; then
    PATH=/opt/swift/usr/bin:$PATH
fi

# The suites after the unit tests, in order; each prints `N passed, N failed` as its last line. An entry is
# [VAR=value ...] SCRIPT [ARGUMENTS ...]: the main suite runs with TUN offload and two queues (the netns
# default), again without offload on a single queue, and again with the in-kernel fast path on (the port
# forward suite too), and the proxy suite twice more with its connections handed to the kernel ([proxy]
# offload): each as soon as it is routed, and each once it has moved 64 KiB;
# the fuzz replay runs the fuzz targets' seeds and past finds (scripts/fuzz.sh) without fuzzing.
NETNS_SUITES=(
    "scripts/fuzz.sh --replay"
    scripts/netns-test.sh
    "NAT64D_TUN_OFFLOAD=false NAT64D_TUN_QUEUES=1 scripts/netns-test.sh"
    "NAT64D_FAST_PATH=1 scripts/netns-test.sh"
    scripts/netns-fastpath-test.sh
    scripts/netns-conformance-test.sh
    scripts/netns-state-test.sh
    scripts/netns-siit-test.sh
    scripts/netns-dns-test.sh
    scripts/netns-hostile-test.sh
    scripts/privilege-test.sh
    scripts/netns-proxy-test.sh
    "NAT64D_PROXY_OFFLOAD=1 scripts/netns-proxy-test.sh"
    "NAT64D_PROXY_OFFLOAD=1 NAT64D_PROXY_OFFLOAD_AFTER=65536 scripts/netns-proxy-test.sh"
    scripts/netns-forward-test.sh
    "NAT64D_FAST_PATH=1 scripts/netns-forward-test.sh"
    scripts/netns-ra-test.sh
    scripts/netns-abuse-test.sh
    scripts/netns-ops-test.sh
    scripts/package-test.sh
)

step() { printf '\n=== %s\n' "$*"; }
LOGDIR=$(mktemp -d "${TMPDIR:-/tmp}/nat64d-test.XXXXXX")
trap 'rm -rf "$LOGDIR"' EXIT

total_passed=0
total_failed=0
overall_rc=0

step "install dependencies"
bash scripts/install-deps.sh

step "the fast path's eBPF program matches its source (scripts/build-bpf.py --check)"
python3 scripts/build-bpf.py --check

step "swift build --build-tests"
swift build --build-tests

step "swift test"
unit_rc=0
swift test 2>&1 | tee "$LOGDIR/unit.log" || unit_rc=$?
# Swift Testing's summary: "Test run with N tests in M suites passed|failed ..."; a failed test ends with
# "✘ Test ... failed after ...", once (each failed expectation in it is a "✘ Test ... recorded an issue" line).
unit_total=$(sed -n 's/.*Test run with \([0-9][0-9]*\) tests\{0,1\} in .*/\1/p' "$LOGDIR/unit.log" | tail -n 1)
unit_failed=$(grep '^✘ Test .* failed after ' "$LOGDIR/unit.log" | grep -vc '^✘ Test run with ' || true)
if [[ -z $unit_total ]]; then
    unit_total=0
    unit_failed=$((unit_failed > 0 ? unit_failed : 1)) # no summary at all: count the run as a failure
fi
if ((unit_rc != 0 && unit_failed == 0)); then unit_failed=1; fi
total_passed=$((total_passed + unit_total - (unit_failed < unit_total ? unit_failed : unit_total)))
total_failed=$((total_failed + unit_failed))
if ((unit_rc != 0)); then
    overall_rc=1
    echo "swift test FAILED (status $unit_rc); running the netns tests anyway, overall result: failure"
fi

nat64d_bin="$(swift build --show-bin-path)/nat64d"
for suite in "${NETNS_SUITES[@]}"; do
    step "$suite"
    read -r -a words <<<"$suite"
    rc=0
    settings=()
    while [[ ${words[0]} == *=* ]]; do
        settings+=("${words[0]}")
        words=("${words[@]:1}")
    done
    env NAT64D="$nat64d_bin" "${settings[@]}" bash "${words[@]}" 2>&1 | tee "$LOGDIR/suite.log" || rc=$?
    summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$LOGDIR/suite.log" | tail -n 1 || true)
    if [[ $summary =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
        total_passed=$((total_passed + BASH_REMATCH[1]))
        total_failed=$((total_failed + BASH_REMATCH[2]))
        if ((rc != 0 && BASH_REMATCH[2] == 0)); then total_failed=$((total_failed + 1)); fi
    else
        total_failed=$((total_failed + 1)) # the suite died before its summary
    fi
    if ((rc != 0)); then overall_rc=1; fi
done

printf '\n'
printf 'total: %d passed, %d failed\n' "$total_passed" "$total_failed"
exit "$overall_rc"
